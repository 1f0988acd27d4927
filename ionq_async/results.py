"""Pure helpers for results: probabilities to counts, sampling, bitstrings, marginals.

IonQ keys a result by the basis-state integer, with **qubit 0 the least significant bit**.
In every bitstring this module writes, qubit 0 is therefore the **rightmost** character
(as in Qiskit): key 2 on two qubits is ``"10"`` (qubit 1 = 1, qubit 0 = 0).
"""

from __future__ import annotations

import heapq
import math
import numbers
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

import numpy as np
import numpy.typing as npt
from attrs import frozen

from . import _display, tables
from ._plot import plot_results
from .exceptions import InvalidRequestError, ResponseError
from .models import Job
from .readout import Readout

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "PROBABILITY_SUM_TOLERANCE",
    "Result",
    "bitstring",
    "counts_from_probabilities",
    "job_width",
    "marginal",
    "parse_probabilities",
    "read_probabilities",
    "sample_counts",
    "to_bitstrings",
    "validate_probabilities",
]

T = TypeVar("T")
Number = TypeVar("Number", int, float)

PROBABILITY_SUM_TOLERANCE = 1e-5
"""How far from 1 the probabilities may sum before they are rejected.

Wide enough for answers written with rounded values: three states of ``0.333333`` (six
decimals) sum to 1 - 1e-6, which a tolerance of 1e-6 refused; values rounded to 8
decimals stay inside it up to thousands of states, and float error (counts / shots, or a
state vector's squares: about 1e-16 a state) is far below it. cirq-ionq renormalizes
within the same 1e-5. Narrow enough that a distribution that lost a state seen once in
100,000 shots, or half its weight, is refused rather than renormalized into a wrong one.
"""

_TIE_DECIMALS = 9
_MAX_EXACT_SHOTS = 2**53
_EXCERPT_CHARS = 24
"""How much of a bad key or value a message quotes (a hostile one may be megabytes)."""


def parse_probabilities(raw: Mapping[str, Any], *, job_id: str | None = None) -> dict[int, float]:
    """Read the wire form ``{"<decimal state>": p}`` into ``{state: p}``; ResponseError if bad.

    Keys are basis-state integers with qubit 0 the least significant bit (the rightmost
    character of the bitstring). Integer values such as ``1`` are accepted. Only the form
    is checked here (decimal keys, finite non-negative numbers, no state twice); what the
    distribution must add up to is :func:`validate_probabilities`'s business. A message
    starts with ``results of job ...:`` when ``job_id`` is given.
    """
    if type(raw) is dict or isinstance(raw, Mapping):
        plain = _parse_plain(raw)
        if plain is not None:
            return plain[0]
    return _parse_carefully(raw, job_id)


def _parse_carefully(raw: Mapping[str, Any], job_id: str | None) -> dict[int, float]:
    """:func:`parse_probabilities` one entry at a time, naming the first bad one."""
    where = _where(job_id)
    if not isinstance(raw, Mapping):
        raise ResponseError(
            f"{where}probabilities must be a JSON object, got {type(raw).__name__}", body=raw
        )
    out: dict[int, float] = {}
    for key, value in raw.items():
        state = _parse_state(key, where, raw)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ResponseError(
                f"{where}probability of state {_excerpt(key)} is not a number: {_excerpt(value)}",
                body=raw,
            )
        try:
            number = float(value)
        except OverflowError as error:
            raise ResponseError(
                f"{where}probability of state {_excerpt(key)} is not a finite number "
                "(an integer too large for a float)",
                body=raw,
            ) from error
        if math.isnan(number) or math.isinf(number) or number < 0:
            raise ResponseError(
                f"{where}probability of state {_excerpt(key)} must be finite and non-negative, "
                f"got {value!r}",
                body=raw,
            )
        if state in out:
            raise ResponseError(
                f"{where}state {_state_text(state)} appears twice (key {_excerpt(key)})", body=raw
            )
        out[state] = number
    return out


def _parse_plain(raw: Mapping[str, Any]) -> tuple[dict[int, float], float] | None:
    """An answer with nothing wrong in it, read in a few C-level passes, and the sum of its
    values in its order; None otherwise.

    None sends the answer to the careful path, which decides (and words) every problem:
    this one only has to be sure an answer is plainly valid, and to read it as the careful
    path would. The values stay the answer's own floats (an array and back cost more than
    these checks at any size); NumPy reads the keys only from 256 states, below which its
    start-up cost per call outweighs its speed.
    """
    if not raw or set(map(type, raw)) != {str}:
        return None
    value_types = set(map(type, raw.values()))
    if value_types == {float}:
        values: Iterable[float] = raw.values()
    elif value_types <= {float, int}:
        try:
            values = list(map(float, raw.values()))
        except OverflowError:  # an integer too large for a float
            return None
    else:
        return None
    # A NaN or an infinity makes the sum NaN or infinite; finite non-negative values
    # too large to sum are left to the careful path (which accepts them).
    total = sum(values)
    if not (math.isfinite(total) and min(values) >= 0):
        return None
    out: dict[int, float] | None = None
    if len(raw) <= len(_SMALL_STATES):
        try:
            out = dict(zip(map(_SMALL_STATES.__getitem__, raw), values, strict=True))
        except KeyError:
            out = None  # a state past the table, or a key written otherwise
    if out is None:
        joined = "".join(raw)
        # ASCII digits only (int() would also take signs, spaces, underscores and
        # non-ASCII digits), no key empty; one past int()'s limit raises ValueError.
        if not (joined.isascii() and joined.isdigit() and all(raw)):
            return None
        states = _states_in_bulk(raw) if len(raw) >= _BULK_KEYS else None
        try:
            out = dict(zip(map(int, raw) if states is None else states, values, strict=True))
        except ValueError:
            return None
    if len(out) != len(raw):
        return None  # some state is written twice
    return out, total


def _states_in_bulk(raw: Mapping[str, Any]) -> list[int] | None:
    """Non-empty ASCII decimal keys as ints, read by NumPy at once; None (int() reads them)
    unless every state is below 10**18 and written without leading zeros.

    NumPy reads a state past int64 as the largest int64: the limit refuses it. The digits
    of the states read and the commas between them must make up the whole text, so each
    state is exactly its key, whatever else NumPy's reader would accept.
    """
    text = ",".join(raw)
    try:
        states = np.fromstring(text, dtype=np.int64, sep=",")
    except ValueError:  # pragma: no cover - the keys were checked to be digits
        return None
    if len(states) != len(raw) or states.max() >= _BULK_LIMIT:
        return None
    # How many of 10, 100, ..., 10**18 each state reaches: its digits less one.
    digits = int(np.searchsorted(_POWERS_OF_TEN, states, side="right").sum()) + len(states)
    if digits + len(states) - 1 != len(text):
        return None
    states_list: list[int] = states.tolist()
    return states_list


_BULK_KEYS: Final = 256
"""From this many states, keys are read by NumPy (half the time of int() at 4,096 states;
its start-up cost is paid back from about 200)."""
_BULK_LIMIT: Final = 10**18
_POWERS_OF_TEN: Final = 10 ** np.arange(1, 19, dtype=np.int64)

_SMALL_STATES: Final = {str(state): state for state in range(1024)}
"""The keys of small circuits' states, looked up rather than read by int(), which took a
third of the time of reading a packed sweep's 16-state child."""


def _parse_state(key: object, where: str, raw: Mapping[str, Any]) -> int:
    """The basis state a wire key names; ResponseError for anything else."""
    if isinstance(key, int) and not isinstance(key, bool) and key >= 0:
        return key
    if isinstance(key, str) and key.isascii() and key.isdigit():
        try:
            return int(key)
        except ValueError as error:
            # Past the interpreter's limit on digits (4,300 by default) int() refuses.
            raise ResponseError(
                f"{where}probability key {_excerpt(key)} has {len(key):,} digits: "
                "too long to be a basis state",
                body=raw,
            ) from error
    raise ResponseError(
        f"{where}probability key {_excerpt(key)} is not a non-negative decimal integer",
        body=raw,
    )


def read_probabilities(
    raw: Mapping[str, Any], *, num_qubits: int | None = None, job_id: str | None = None
) -> dict[int, float]:
    """:func:`parse_probabilities`, then :func:`validate_probabilities`: the same values and
    the same errors, without checking twice what reading a plain answer already checked."""
    plain = _parse_plain(raw) if type(raw) is dict or isinstance(raw, Mapping) else None
    if plain is None:
        probabilities = _parse_carefully(raw, job_id)
    else:
        # Reading it checked the types, signs and finiteness validate_probabilities would,
        # and summed the values in the order it would.
        probabilities, total = plain
        if _total_is_plainly_valid(total, len(probabilities)) and (
            num_qubits is None
            or (
                type(num_qubits) is int and num_qubits >= 1 and not max(probabilities) >> num_qubits
            )
        ):
            return probabilities
    validate_probabilities(probabilities, num_qubits=num_qubits, job_id=job_id)
    return probabilities


def job_width(job: Job) -> int | None:
    """The job's width as its answer gives it (``stats.qubits``), None if not given."""
    qubits = job.stats.qubits if job.stats is not None else None
    if qubits is not None and qubits < 1:
        raise ResponseError(
            f"job {job.id} reports {qubits} qubits; a job has at least one", body=job.stats
        )
    return qubits


def validate_probabilities(
    probabilities: Mapping[int, float],
    *,
    num_qubits: int | None = None,
    job_id: str | None = None,
) -> None:
    """Check a distribution as it arrives; ResponseError naming the job and the problem.

    The rules: at least one state; every key a non-negative integer, below
    ``2**num_qubits`` when the width is known; every value a real number, finite and not
    negative; the values summing to 1 within :data:`PROBABILITY_SUM_TOLERANCE`. The
    message starts with ``results of job ...:`` when ``job_id`` is given. A
    ``num_qubits`` below 1 is the caller's mistake (InvalidRequestError).
    """
    if num_qubits is not None and type(num_qubits) is not int:
        if (
            isinstance(num_qubits, bool)
            or not isinstance(num_qubits, numbers.Integral)
            or num_qubits < 1
        ):
            raise InvalidRequestError(f"num_qubits must be a positive integer, got {num_qubits!r}")
        num_qubits = int(num_qubits)
    elif num_qubits is not None and num_qubits < 1:
        raise InvalidRequestError(f"num_qubits must be a positive integer, got {num_qubits!r}")
    if type(probabilities) is dict and _plainly_valid(probabilities, num_qubits):
        return
    problem = _distribution_problem(probabilities, num_qubits)
    if problem is not None:
        raise ResponseError(_where(job_id) + problem, body=probabilities)


def _plainly_valid(probabilities: dict[Any, Any], num_qubits: int | None) -> bool:
    """Whether a distribution is sure to pass every check, in a few C-level passes.

    False leaves the decision, and its words, to :func:`_distribution_problem`, so this
    may be cautious, never lenient. The sum is the one place where it could be: the
    careful check sums the sorted values with NumPy, this sums them in the mapping's
    order, and two float sums of n non-negative numbers differ by at most about
    ``2 * n * 2**-53`` times the total, so a total within ``n * 2**-50`` of the tolerance's
    edge is left to the careful check.
    """
    if set(map(type, probabilities)) != {int} or set(map(type, probabilities.values())) != {float}:
        return False  # also an empty distribution (no types at all)
    if not _total_is_plainly_valid(sum(probabilities.values()), len(probabilities)):
        return False  # also a NaN or an infinite value
    if not min(probabilities.values()) >= 0 or min(probabilities) < 0:
        return False
    return num_qubits is None or not max(probabilities) >> num_qubits


def _total_is_plainly_valid(total: float, count: int) -> bool:
    """Whether ``count`` values summing to ``total`` in some order sum to 1 within the
    tolerance whatever the order (a margin of ``count * 2**-50``: see _plainly_valid)."""
    # Not "> edge": a NaN total (a NaN value, or infinities of both signs) must fail too.
    return abs(total - 1.0) <= PROBABILITY_SUM_TOLERANCE - count * 2.0**-50


def _distribution_problem(probabilities: Mapping[int, float], num_qubits: int | None) -> str | None:
    """The first thing wrong with a distribution, or None."""
    if not isinstance(probabilities, Mapping):
        return f"expected a mapping of states to probabilities, got {type(probabilities).__name__}"
    if not probabilities:
        return "no probabilities given (an empty distribution sums to 0, not 1)"
    keys: list[Any] = list(probabilities.keys())
    values: list[Any] = list(probabilities.values())
    if not set(map(type, keys)) <= {int}:
        for key in keys:
            if isinstance(key, bool) or not isinstance(key, numbers.Integral):
                return f"state {_excerpt(key)} is not an integer"
        keys = [int(key) for key in keys]  # NumPy integers
    if not set(map(type, values)) <= {float, int}:
        for key, value in zip(keys, values, strict=True):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                return f"probability of state {_state_text(key)} is not a number: {_excerpt(value)}"
    try:
        array = np.array(values, dtype=np.float64)
    except OverflowError:
        for key, value in zip(keys, values, strict=True):
            if isinstance(value, int) and abs(value) > _MAX_FLOAT_INT:
                return f"probability of state {_state_text(key)} is not a finite number"
        raise  # pragma: no cover - only integers past the float range overflow
    if not (np.isfinite(array).all() and array.min() >= 0):
        return _bad_value_problem(keys, array)
    lowest = min(keys)
    if lowest < 0:
        return f"state {_state_text(lowest)} is negative"
    if num_qubits is not None:
        widest = max(keys)
        if widest >> num_qubits:
            return (
                f"state {_state_text(widest)} does not fit in {num_qubits} qubits "
                f"(states must be below 2**{num_qubits})"
            )
    # Summing the sorted values makes the total independent of the mapping's order.
    return _sum_problem(float(np.sort(array).sum()))


_MAX_FLOAT_INT = int(np.finfo(np.float64).max)


def _sum_problem(total: float) -> str | None:
    if abs(total - 1.0) > PROBABILITY_SUM_TOLERANCE:
        return f"probabilities sum to {total:.12g}, not 1 (tolerance {PROBABILITY_SUM_TOLERANCE:g})"
    return None


def _bad_value_problem(
    keys: Sequence[int] | npt.NDArray[np.int64], values: npt.NDArray[np.float64]
) -> str:
    """The lowest state with a NaN probability, else a negative one, else an infinite one."""
    for is_bad, problem in (
        (np.isnan(values), "is NaN"),
        (values < 0, "is negative"),
        (np.isinf(values), "is infinite"),
    ):
        bad = np.flatnonzero(is_bad).tolist()
        if bad:
            first = min(bad, key=lambda index: keys[index])
            value = float(values[first])
            shown = f": {value!r}" if problem == "is negative" else ""
            return f"probability of state {_state_text(int(keys[first]))} {problem}{shown}"
    raise AssertionError("unreachable: some value is NaN, negative or infinite")  # pragma: no cover


def _where(job_id: str | None) -> str:
    return "" if job_id is None else f"results of job {job_id}: "


def _excerpt(value: object) -> str:
    """``repr(value)``, cut short: a hostile key or value must not fill a log line."""
    if isinstance(value, str) and len(value) > _EXCERPT_CHARS:
        return repr(value[:_EXCERPT_CHARS]) + f"... ({len(value):,} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"<an integer of {value.bit_length():,} bits>"
    text = reprlib.repr(value)
    return text if len(text) <= 3 * _EXCERPT_CHARS else text[: 3 * _EXCERPT_CHARS] + "..."


def _state_text(state: int) -> str:
    """A state as a number, or by its width when it is too long to print."""
    if state.bit_length() <= 64:
        return str(state)
    return f"<an integer of {state.bit_length():,} bits>"


def _arrays(
    probabilities: Mapping[int, float],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Keys and normalized values, checked: InvalidRequestError naming the problem."""
    if not probabilities:
        raise InvalidRequestError("no probabilities given (the sum is 0, not 1)")
    count = len(probabilities)
    try:
        keys = np.fromiter(probabilities.keys(), dtype=np.int64, count=count)
        values = np.fromiter(probabilities.values(), dtype=np.float64, count=count)
    except (TypeError, ValueError, OverflowError) as error:
        raise InvalidRequestError(
            f"probabilities must map integer states to numbers ({error})"
        ) from None
    if keys.min() < 0:
        raise InvalidRequestError(f"state {int(keys.min())} is negative")
    if not (np.isfinite(values).all() and values.min() >= 0):
        raise InvalidRequestError(_bad_value_problem(keys, values))
    # Summing the sorted values makes the total, and so every count, independent of the
    # mapping's order.
    total = float(np.sort(values).sum())
    problem = _sum_problem(total)
    if problem is not None:
        raise InvalidRequestError(problem)
    return keys, values / total


def _check_shots(shots: object) -> int:
    # NumPy integers count as integers here as in Client.submit (numbers.Integral).
    if not isinstance(shots, numbers.Integral) or isinstance(shots, bool):
        raise InvalidRequestError(f"shots must be an integer, got {shots!r}")
    shots = int(shots)
    if shots < 1:
        raise InvalidRequestError(f"shots must be at least 1, got {shots}")
    return shots


def counts_from_probabilities(
    probabilities: Mapping[int, float], shots: int | np.integer[Any]
) -> dict[int, int]:
    """Counts that sum exactly to ``shots``, by largest remainder; deterministic.

    Each state first gets ⌊p·shots⌋; the shots left over go one each to the states with
    the largest fractional parts, ties (equal to 9 decimal places) broken by ascending
    state. Every count is within 1 of p·shots, and the answer does not depend on the
    mapping's order. States with zero counts are left out. Keys are basis-state integers
    with qubit 0 the least significant bit (rightmost in a bitstring). Probabilities may
    be integers and may sum to anything within 1e-6 of 1 (they are renormalized);
    negative, NaN or infinite values, a sum further from 1, ``shots < 1`` or
    ``shots > 2**53`` raise InvalidRequestError (a ValueError). A state of probability 0
    never gets a count.
    """
    shots = _check_shots(shots)
    if shots > _MAX_EXACT_SHOTS:
        raise InvalidRequestError(
            f"shots must be at most 2**53 for exact counts (float64), got {shots}"
        )
    keys, values = _arrays(probabilities)
    if values.min() == 0.0:
        # A state of probability 0 never gets a shot, whatever the leftovers.
        positive = values > 0.0
        keys, values = keys[positive], values[positive]
    exact = values * shots
    floors = np.floor(exact)
    # Fractions in units of 10^-9, so that fractions equal to 9 decimals are ties: exact
    # ties such as 1/6 and 2/3 of 62 shots (both x.333...) differ in their last float bits.
    # A product a hair below a whole number (0.29 * 100 is 28.999999999999996) has the
    # largest fraction there is, 10^9 units, so it always gets one of the leftover shots.
    fractions = np.rint((exact - floors) * 10.0**_TIE_DECIMALS)
    counts = floors.astype(np.int64)
    leftover = shots - int(counts.sum())
    size = len(keys)
    if leftover < 0:
        # Float error at huge shot counts (products a hair above a whole number) can push
        # the floors past shots: take the excess back from the smallest remainders.
        can_give = np.where(counts > 0, -fractions, -np.inf)
        counts -= _largest_remainders(keys, can_give, -leftover)
        leftover = 0
    if leftover >= size:
        # Only possible through rounding error; give every state its share first.
        counts += leftover // size
        leftover %= size
    if leftover:
        counts += _largest_remainders(keys, fractions, leftover)
    nonzero = counts > 0
    return dict(zip(keys[nonzero].tolist(), counts[nonzero].tolist(), strict=True))


def _largest_remainders(
    keys: npt.NDArray[np.int64], fractions: npt.NDArray[np.float64], leftover: int
) -> npt.NDArray[np.int64]:
    """1 for the ``leftover`` largest fractions (ties by ascending key), else 0."""
    # Partitioning finds the threshold in linear time; only the states tied at the
    # threshold need sorting by key, which is what makes 2^20 states fast.
    threshold = np.partition(fractions, len(fractions) - leftover)[len(fractions) - leftover]
    above = fractions > threshold
    extra: npt.NDArray[np.int64] = above.astype(np.int64)
    remaining = leftover - int(above.sum())
    tied = np.flatnonzero(fractions == threshold)
    chosen = tied[np.argsort(keys[tied])[:remaining]]
    extra[chosen] = 1
    return extra


def sample_counts(
    probabilities: Mapping[int, float], shots: int, *, seed: int | None = None
) -> dict[int, int]:
    """Counts drawn by multinomial sampling; the same seed gives the same counts.

    The counts sum to ``shots``; zero counts are left out. States are ordered by
    ascending key before sampling, so the mapping's order does not matter. Keys are
    basis-state integers with qubit 0 the least significant bit (rightmost in a
    bitstring). The same checks as :func:`counts_from_probabilities` apply.
    """
    shots = _check_shots(shots)
    keys, values = _arrays(probabilities)
    if not (keys[1:] > keys[:-1]).all():
        order = np.argsort(keys)  # keys are unique, so any sort is stable enough
        keys, values = keys[order], values[order]
    counts = np.random.default_rng(seed).multinomial(shots, values)
    nonzero = counts > 0
    return dict(zip(keys[nonzero].tolist(), counts[nonzero].tolist(), strict=True))


def bitstring(key: int, num_qubits: int) -> str:
    """The basis state ``key`` as ``num_qubits`` bits, qubit 0 rightmost: (2, 2) -> "10"."""
    if num_qubits < 1:
        raise InvalidRequestError(f"num_qubits must be at least 1, got {num_qubits}")
    if key < 0 or key >> num_qubits:
        raise InvalidRequestError(f"state {key} does not fit in {num_qubits} qubits")
    return format(key, f"0{num_qubits}b")


def to_bitstrings(mapping: Mapping[int, T], num_qubits: int) -> dict[str, T]:
    """The same mapping keyed by bitstrings of ``num_qubits`` bits, qubit 0 rightmost.

    ``{2: 0.5}`` on two qubits becomes ``{"10": 0.5}``. A key that needs more than
    ``num_qubits`` bits raises InvalidRequestError (a ValueError).
    """
    if num_qubits < 1:
        raise InvalidRequestError(f"num_qubits must be at least 1, got {num_qubits}")
    if mapping:
        widest = max(mapping)
        lowest = min(mapping)
        if lowest < 0 or widest >> num_qubits:
            bad = lowest if lowest < 0 else widest
            raise InvalidRequestError(f"state {bad} does not fit in {num_qubits} qubits")
    spec = f"0{num_qubits}b"
    return {format(key, spec): value for key, value in mapping.items()}


def marginal(mapping: Mapping[int, Number], qubits: Sequence[int]) -> dict[int, Number]:
    """Sum probabilities or counts over every qubit not in ``qubits``.

    Bit i of each result key is qubit ``qubits[i]`` of the original key, so bit 0 (the
    rightmost character of its bitstring) is ``qubits[0]``. Integer counts stay integers.
    ``marginal({0b10: 5, 0b11: 3}, [1])`` is ``{1: 8}``.
    """
    selected = list(qubits)
    if not selected:
        raise InvalidRequestError("choose at least one qubit to keep")
    for qubit in selected:
        if not isinstance(qubit, int) or isinstance(qubit, bool) or qubit < 0:
            raise InvalidRequestError(f"qubit indices must be non-negative integers, got {qubit!r}")
    if len(set(selected)) != len(selected):
        raise InvalidRequestError(f"qubits repeat in {selected}")
    if not mapping:
        return {}
    count = len(mapping)
    integral = all(isinstance(v, int) and not isinstance(v, bool) for v in mapping.values())
    if max(selected) < 63 and max(mapping) < 2**63:
        keys = np.fromiter(mapping.keys(), dtype=np.int64, count=count)
        new_keys = np.zeros(count, dtype=np.int64)
        for position, qubit in enumerate(selected):
            new_keys |= ((keys >> qubit) & 1) << position
        states, inverse = np.unique(new_keys, return_inverse=True)
        if integral:
            values_int = np.fromiter(mapping.values(), dtype=np.int64, count=count)
            sums_int = np.zeros(len(states), dtype=np.int64)
            np.add.at(sums_int, inverse, values_int)
            return dict(zip(states.tolist(), sums_int.tolist(), strict=True))
        values = np.fromiter(mapping.values(), dtype=np.float64, count=count)
        sums = np.bincount(inverse, weights=values, minlength=len(states))
        return dict(zip(states.tolist(), sums.tolist(), strict=True))
    # Very wide keys do not fit NumPy integers; fall back to Python ints.
    out: dict[int, Any] = {}
    for key, value in mapping.items():
        new = 0
        for position, qubit in enumerate(selected):
            new |= ((key >> qubit) & 1) << position
        out[new] = out.get(new, 0) + value
    return dict(sorted(out.items()))


@frozen(kw_only=True)
class Result:
    """A completed job's probabilities (keys: basis states, qubit 0 least significant).

    ``shots`` is the job's shot count; ideal-simulator jobs may have none, and then
    :meth:`counts` needs one. Bitstrings put qubit 0 rightmost.

    ``readout`` is the circuit's, when it has one (measurements in the builder, a circuit
    from Qiskit, Cirq or OpenQASM): counts, samples and bitstrings are then keyed by its
    classical bits as the source keys them (Qiskit: classical bit 0 rightmost, registers
    separated by spaces), and :meth:`per_key` reads each register or measurement key (as
    Cirq's ``histogram(key=...)``). ``probabilities`` stay the API's, over qubits.

    ``shot_states`` is each shot's basis state in order, when fetched
    (``client.result(job, memory=True)``, ``run_many(..., memory=True)``); :attr:`memory`
    gives them as bitstrings.
    """

    job: Job
    probabilities: Mapping[int, float]
    shots: int | None = None
    readout: Readout | None = None
    shot_states: Sequence[int] | None = None

    @property
    def memory(self) -> list[str]:
        """Every shot's bitstring, in order, as Qiskit's ``get_memory()``: qubit 0
        rightmost, or the source's classical bits when the result has a readout.

        Needs the shots fetched: ``client.result(job, memory=True)`` or
        ``run_many(..., memory=True)`` (one more request per job, only then).
        """
        if self.shot_states is None:
            raise InvalidRequestError(
                f"the per-shot memory of job {self.job.id} was not fetched: ask for it with "
                "client.result(job, memory=True) or run_many(..., memory=True)"
            )
        if self.readout is not None:
            readout = self.readout
            return [readout.bitstring(readout.clbit_value(state)) for state in self.shot_states]
        width = self.num_qubits
        return [format(state, f"0{width}b") for state in self.shot_states]

    @property
    def num_qubits(self) -> int:
        """The job's qubit count (``stats.qubits``), widened if a key needs more bits."""
        declared = self.job.stats.qubits if self.job.stats and self.job.stats.qubits else 0
        needed = max(self.probabilities, default=0).bit_length()
        return max(declared, needed, 1)

    def _shots(self, shots: int | None) -> int:
        if shots is not None:
            return shots
        if self.shots is None:
            raise InvalidRequestError(
                f"job {self.job.id} has no shot count (ideal simulator); pass shots="
            )
        return self.shots

    def _qubit_counts(self, shots: int | None) -> dict[int, int]:
        return counts_from_probabilities(self.probabilities, self._shots(shots))

    def counts(self, shots: int | None = None) -> dict[int, int]:
        """Largest-remainder counts summing exactly to ``shots`` (default: the job's).

        Keyed by basis states, or by classical-bit values when the result has a readout.
        """
        counts = self._qubit_counts(shots)
        return self.readout.clbit_counts(counts) if self.readout is not None else counts

    def sample(self, shots: int | None = None, *, seed: int | None = None) -> dict[int, int]:
        """Counts drawn by seeded multinomial sampling, summing to ``shots``."""
        counts = sample_counts(self.probabilities, self._shots(shots), seed=seed)
        return self.readout.clbit_counts(counts) if self.readout is not None else counts

    def bitstring_counts(self, shots: int | None = None) -> dict[str, int]:
        """:meth:`counts` keyed by bitstrings, qubit 0 rightmost: ``{"00": 500, "11": 500}``.

        With a readout, keyed as the source keys them (Qiskit's ``get_counts()``).
        """
        if self.readout is not None:
            out: dict[str, int] = {}
            for value, count in self.counts(shots).items():
                key = self.readout.bitstring(value)
                out[key] = out.get(key, 0) + count
            return out
        return to_bitstrings(self.counts(shots), self.num_qubits)

    def bitstrings(self) -> dict[str, float]:
        """The probabilities keyed by bitstrings, qubit 0 rightmost (the readout's keys
        when the result has one)."""
        if self.readout is not None:
            readout = self.readout
            out: dict[str, float] = {}
            for value, probability in readout.clbit_probabilities(self.probabilities).items():
                key = readout.bitstring(value)
                out[key] = out.get(key, 0.0) + probability
            return out
        return to_bitstrings(self.probabilities, self.num_qubits)

    def per_key(self, shots: int | None = None) -> dict[str, dict[int, int]]:
        """Counts per classical register or measurement key (Cirq: a key's first qubit
        is the most significant bit, as ``histogram(key=...)``); needs a readout."""
        if self.readout is None:
            raise InvalidRequestError(
                f"the result of job {self.job.id} has no readout (no measurements were "
                "recorded): use counts()"
            )
        return self.readout.per_key(self._qubit_counts(shots))

    def marginal(self, qubits: Sequence[int]) -> dict[int, float]:
        """Probabilities of ``qubits`` alone; bit i of a key is qubit ``qubits[i]``."""
        return marginal(self.probabilities, qubits)

    # -- how a result looks: repr, notebooks, plots, tables ------------------------------
    # Nothing here imports matplotlib or pandas until a plot or a DataFrame is asked for.

    def __repr__(self) -> str:
        """One line: the job, backend and shots, and the most likely outcomes."""
        return _display.result_repr(self._summary(_display.REPR_TOP))

    def _repr_html_(self) -> str:
        """A notebook's view: the most likely outcomes as a table and an SVG histogram."""
        return _display.result_html(self._summary(_display.HTML_TOP))

    def _summary(self, top: int) -> _display.Summary:
        rows, states = self._top_outcomes(top)
        noise = self.job.noise.model if self.job.noise is not None else None
        return _display.Summary(
            job_id=self.job.id,
            backend=self.job.backend,
            noise=noise,
            shots=self.shots,
            top=tuple(rows),
            states=states,
        )

    def _top_outcomes(self, top: int) -> tuple[list[_display.TopOutcome], int]:
        """The ``top`` most likely outcomes keyed as :meth:`bitstrings` keys them (ties by
        label), with their counts when the shots are known; and how many outcomes there are."""
        if self.readout is not None:
            probabilities = self.bitstrings()
            label_counts = self.bitstring_counts() if self.shots is not None else None
            best = heapq.nsmallest(top, probabilities.items(), key=lambda item: (-item[1], item[0]))
            return [
                _display.TopOutcome(
                    label, probability, None if label_counts is None else label_counts.get(label, 0)
                )
                for label, probability in best
            ], len(probabilities)
        counts = self._qubit_counts(None) if self.shots is not None else None
        spec = f"0{self.num_qubits}b"
        return [
            _display.TopOutcome(
                format(state, spec),
                float(self.probabilities[state]),
                None if counts is None else counts.get(state, 0),
            )
            for state in _most_likely(self.probabilities, top)
        ], len(self.probabilities)

    def plot(
        self,
        ax: Axes | None = None,
        *,
        top: int = 16,
        sort: Literal["state", "probability"] = "state",
        counts: bool = False,
        label: str | None = None,
        title: str | None = None,
        **bar_options: Any,
    ) -> Axes:
        """A histogram of the ``top`` most likely outcomes, drawn with matplotlib (extra
        ``[plot]``); returns the Axes (a new figure's unless ``ax`` is given).

        Bars are keyed as :meth:`bitstrings` keys the outcomes, in state order (or most
        likely first with ``sort="probability"``); the outcomes left out share one
        ``other`` bar. ``counts=True`` draws counts instead of probabilities (needs the
        shots). ``bar_options`` go to ``Axes.bar``. To compare results on one plot, see
        :func:`ionq_async.plot_results`.
        """
        return plot_results(
            [self],
            labels=None if label is None else [label],
            ax=ax,
            top=top,
            sort=sort,
            counts=counts,
            title=title,
            **bar_options,
        )

    def to_rows(self, *, top: int | None = None) -> list[dict[str, Any]]:
        """One plain row per outcome (``job_id``, ``state``, ``probability``, and ``count``
        when the shots are known), in state order; ``csv.DictWriter`` writes them.

        ``top`` keeps only that many most likely outcomes.
        """
        return tables.result_rows(self, top=top)

    def to_dataframe(self, *, top: int | None = None) -> Any:
        """:meth:`to_rows` as a pandas DataFrame (extra ``[pandas]``)."""
        return tables.result_dataframe(self, top=top)


_BULK_STATES = 4096
"""Past this many states, the most likely are found with NumPy rather than a heap."""


def _most_likely(probabilities: Mapping[int, float], top: int) -> list[int]:
    """The ``top`` states of highest probability, most likely first, ties by ascending
    state; the mapping's order does not matter."""
    if len(probabilities) > _BULK_STATES and max(probabilities) < 2**63:
        count = len(probabilities)
        keys = np.fromiter(probabilities.keys(), dtype=np.int64, count=count)
        values = np.fromiter(probabilities.values(), dtype=np.float64, count=count)
        if top < count:
            # Every state as likely as the top-th one is a candidate, so ties at the
            # threshold are broken by state, not by the partition's whim.
            threshold = np.partition(values, count - top)[count - top]
            chosen = np.flatnonzero(values >= threshold)
            keys, values = keys[chosen], values[chosen]
        order = np.lexsort((keys, -values))[:top]
        return [int(state) for state in keys[order]]
    best = heapq.nsmallest(top, probabilities.items(), key=lambda item: (-item[1], item[0]))
    return [state for state, _ in best]
