"""Plain answers are read and checked on a fast path, everything else on the careful one:
both give the same distributions (same states, values and order) and the same errors
(same class, same message, same body) as the reader and check before the fast path, and
``read_probabilities`` (the two in one, as the client reads a job's answer) gives what
the old pair gave.

The old ``parse_probabilities`` and ``validate_probabilities`` are kept below, verbatim
but for their names, as the reference: generated answers, valid and invalid (bad keys,
bad values, states twice, sums on either side of the tolerance's edge, states past the
width), go through both.
"""

from __future__ import annotations

import functools
import math
import numbers
import reprlib
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ionq_async.exceptions import InvalidRequestError, ResponseError
from ionq_async.results import (
    PROBABILITY_SUM_TOLERANCE,
    parse_probabilities,
    read_probabilities,
    validate_probabilities,
)

# -- the reference: results.py as it was before the fast path (commit 80a85c3) ------------

_FAST_KEY_DIGITS = 18
_EXCERPT_CHARS = 24


def old_parse_probabilities(
    raw: Mapping[str, Any], *, job_id: str | None = None
) -> dict[int, float]:
    """Read the wire form ``{"<decimal state>": p}`` into ``{state: p}``; ResponseError if bad.

    Keys are basis-state integers with qubit 0 the least significant bit (the rightmost
    character of the bitstring). Integer values such as ``1`` are accepted. Only the form
    is checked here (decimal keys, finite non-negative numbers, no state twice); what the
    distribution must add up to is :func:`old_validate_probabilities`'s business. A message
    starts with ``results of job ...:`` when ``job_id`` is given.
    """
    where = _where(job_id)
    if not isinstance(raw, Mapping):
        raise ResponseError(
            f"{where}probabilities must be a JSON object, got {type(raw).__name__}", body=raw
        )
    fast = _parse_probabilities_fast(raw)
    if fast is not None:
        return fast
    # The careful path: slower, and names the first bad entry.
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


def _parse_probabilities_fast(raw: Mapping[str, Any]) -> dict[int, float] | None:
    """The common case in bulk (2^20 states in a fraction of the loop's time), else None."""
    keys = list(raw.keys())
    values = list(raw.values())
    if not keys or set(map(type, keys)) != {str} or not set(map(type, values)) <= {float, int}:
        return None
    joined = "".join(keys)
    # One check over all keys at once: ASCII digits only, no key empty, none too long to
    # read in bulk (a 5,000-digit key is past int()'s limit: the careful path says so).
    if not (
        joined.isascii()
        and joined.isdigit()
        and all(keys)
        and max(map(len, keys)) <= _FAST_KEY_DIGITS
    ):
        return None
    try:
        array = np.array(values, dtype=np.float64)
    except OverflowError:
        return None  # an integer too large for a float: the careful path names it
    if not (np.isfinite(array).all() and (array >= 0).all()):
        return None
    out = dict(zip(map(int, keys), array.tolist(), strict=True))
    return out if len(out) == len(keys) else None


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


def old_validate_probabilities(
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
    if num_qubits is not None and (
        isinstance(num_qubits, bool)
        or not isinstance(num_qubits, numbers.Integral)
        or num_qubits < 1
    ):
        raise InvalidRequestError(f"num_qubits must be a positive integer, got {num_qubits!r}")
    problem = _distribution_problem(probabilities, None if num_qubits is None else int(num_qubits))
    if problem is not None:
        raise ResponseError(_where(job_id) + problem, body=probabilities)


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


# -- generated answers ---------------------------------------------------------------------

TOLERANCE = PROBABILITY_SUM_TOLERANCE
ULP = 2.0**-52

BAD_KEYS = st.sampled_from(
    [
        "",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1_0",
        "\u0663",  # an Arabic-Indic three: a digit, not ASCII
        "\uff11",  # a fullwidth one
        "1.0",
        "0x1",
        "1e3",
        "a",
        "9" * 19,  # past int64: still a state
        "7" * 40,
        str(2**63),
        str(2**63 - 1),
        str(10**18),  # the first state NumPy does not read
        str(10**18 - 1),
        "0" * 19 + "5",
        "00",
        "0",
        "1" * 4300,  # int()'s limit on digits
        "1" * 4301,
        "9" * 5000,
    ]
) | st.text(max_size=3)
BAD_VALUES: st.SearchStrategy[Any] = st.sampled_from(
    [
        math.nan,
        math.inf,
        -math.inf,
        -0.5,
        -5e-324,
        -0.0,
        5e-324,
        1e308,
        1.7976931348623157e308,
        "0.5",
        None,
        True,
        False,
        10**400,
        2**1024,
        2**1024 - 1,
        2**53 + 1,
        2**64 + 1,
        [],
        {},
        Fraction(1, 2),
        np.float64(0.5),
        np.float64(math.nan),
        np.int64(1),
        np.float32(0.5),
    ]
)
TOTALS = st.sampled_from(
    [
        1.0,
        1.0 - 1e-6,
        0.5,
        2.0,
        0.0,
        1.0 + TOLERANCE,
        1.0 - TOLERANCE,
        1.0 + TOLERANCE * (1 + 1e-9),
        1.0 - TOLERANCE * (1 + 1e-9),
        1.0 + TOLERANCE * (1 - 1e-9),
        1.0 - TOLERANCE * (1 - 1e-9),
    ]
) | st.builds(
    # A total a few float steps either side of the tolerance's edge.
    lambda side, steps: 1.0 + side * TOLERANCE + steps * ULP,
    st.sampled_from([-1.0, 1.0]),
    st.integers(-64, 64),
)


@st.composite
def answers(draw: st.DrawFn, *, min_states: int = 1, max_states: int = 40) -> dict[Any, Any]:
    """A results answer as decoded from JSON: mostly plain, sometimes spoiled."""
    width = draw(st.sampled_from([2, 4, 8, 12, 20, 64, 70]))
    states = draw(
        st.lists(
            st.integers(0, 2**width - 1),
            min_size=min(min_states, 2**width),
            max_size=max_states,
            unique=True,
        )
    )
    weights = draw(
        st.lists(
            st.floats(0, 1) | st.integers(0, 3),
            min_size=len(states),
            max_size=len(states),
        )
    )
    total = draw(TOTALS)
    weight = math.fsum(weights)
    values: list[Any]
    if draw(st.booleans()) and weight > 0:
        values = [w * (total / weight) for w in weights]
    else:
        values = list(weights)  # integers kept as integers
    keys: list[Any] = [str(state) for state in states]
    if draw(st.integers(0, 9)) == 0:
        keys[0] = "0" + keys[0]  # a leading zero: the same state
    for _ in range(draw(st.integers(0, 3))):
        spoil = draw(st.sampled_from(["key", "value", "negative", "twice", "drop"]))
        where = draw(st.integers(0, len(keys) - 1))
        other = (where + 1) % len(keys)
        if spoil == "negative" and type(values[where]) is type(values[other]) is float:
            # Negative, with the sum kept: only the sign is wrong.
            values[other] += 2 * values[where]
            values[where] = -values[where]
        elif spoil == "key":
            keys[where] = draw(BAD_KEYS)
        elif spoil == "value":
            values[where] = draw(BAD_VALUES)
        elif spoil == "twice" and len(keys) > 1:
            keys[where] = "0" + keys[(where + 1) % len(keys)]
        elif spoil == "drop" and len(keys) > 1:
            del keys[where], values[where]
    return dict(zip(keys, values, strict=True))


def distributions(answer: Mapping[Any, Any]) -> dict[Any, Any]:
    """An answer's distribution as a caller may hand it to the check: states as ints where
    they are decimal (bad ones kept as they are)."""
    out: dict[Any, Any] = {}
    for key, value in answer.items():
        out[
            int(key)
            if isinstance(key, str) and key.isascii() and key.isdigit() and len(key) < 4000
            else key
        ] = value
    return out


WIDTHS = st.none() | st.integers(1, 80)


def outcome(call: Callable[[], Any], argument: object) -> tuple[Any, ...]:
    """What a call gives: the mapping's items (with types, NaN and -0.0 told apart, in
    order), or the exception's class, message and whether it carries the argument."""
    try:
        value = call()
    except Exception as error:  # any exception: the two must raise the same one
        body = getattr(error, "body", None)
        return ("error", type(error), str(error), body is argument)
    if value is None:
        return ("value", None)
    return ("value", [(type(k), repr(k), type(v), repr(v)) for k, v in value.items()])


# -- the fast path reads as the old reader read --------------------------------------------


@settings(max_examples=600)
@given(raw=answers())
def test_an_answer_is_parsed_as_the_old_reader_parsed_it(raw: dict[Any, Any]) -> None:
    assert outcome(lambda: parse_probabilities(raw, job_id="j"), raw) == outcome(
        lambda: old_parse_probabilities(raw, job_id="j"), raw
    )


@settings(max_examples=100)
@given(raw=answers(max_states=600))
def test_a_large_answer_is_parsed_as_the_old_reader_parsed_it(raw: dict[Any, Any]) -> None:
    assert outcome(lambda: parse_probabilities(raw), raw) == outcome(
        lambda: old_parse_probabilities(raw), raw
    )


def old_read(raw: Any, num_qubits: Any) -> dict[int, float]:
    """What the client did with an answer: the old reader, then the old check."""
    probabilities = old_parse_probabilities(raw, job_id="j")
    old_validate_probabilities(probabilities, num_qubits=num_qubits, job_id="j")
    return probabilities


@settings(max_examples=200)
@given(raw=answers(min_states=256, max_states=400), num_qubits=WIDTHS)
def test_an_answer_of_many_states_is_read_as_before(
    raw: dict[Any, Any], num_qubits: int | None
) -> None:
    assert outcome(lambda: parse_probabilities(raw), raw) == outcome(
        lambda: old_parse_probabilities(raw), raw
    )
    assert outcome(
        lambda: read_probabilities(raw, num_qubits=num_qubits, job_id="j"), raw
    ) == outcome(lambda: old_read(raw, num_qubits), raw)


@settings(max_examples=600)
@given(raw=answers(), num_qubits=WIDTHS)
def test_an_answer_is_read_and_checked_as_before(
    raw: dict[Any, Any], num_qubits: int | None
) -> None:
    def new() -> dict[int, float]:
        probabilities = parse_probabilities(raw, job_id="j")
        validate_probabilities(probabilities, num_qubits=num_qubits, job_id="j")
        return probabilities

    assert outcome(new, raw) == outcome(lambda: old_read(raw, num_qubits), raw)


@settings(max_examples=600)
@given(raw=answers(), num_qubits=WIDTHS | st.sampled_from([0, -1, True, 1.5, np.int64(3)]))
def test_an_answer_is_read_in_one_go_as_before(raw: dict[Any, Any], num_qubits: Any) -> None:
    assert outcome(
        lambda: read_probabilities(raw, num_qubits=num_qubits, job_id="j"), raw
    ) == outcome(lambda: old_read(raw, num_qubits), raw)


@settings(max_examples=100)
@given(raw=answers(max_states=600), num_qubits=WIDTHS)
def test_a_large_answer_is_read_in_one_go_as_before(
    raw: dict[Any, Any], num_qubits: int | None
) -> None:
    assert outcome(
        lambda: read_probabilities(raw, num_qubits=num_qubits, job_id="j"), raw
    ) == outcome(lambda: old_read(raw, num_qubits), raw)


@settings(max_examples=600)
@given(raw=answers(), num_qubits=WIDTHS)
def test_a_distribution_is_checked_as_before(raw: dict[Any, Any], num_qubits: int | None) -> None:
    probabilities = distributions(raw)
    assert outcome(
        lambda: validate_probabilities(probabilities, num_qubits=num_qubits, job_id="j"),
        probabilities,
    ) == outcome(
        lambda: old_validate_probabilities(probabilities, num_qubits=num_qubits, job_id="j"),
        probabilities,
    )


@settings(max_examples=100)
@given(raw=answers(max_states=600), num_qubits=WIDTHS)
def test_a_large_distribution_is_checked_as_before(
    raw: dict[Any, Any], num_qubits: int | None
) -> None:
    probabilities = distributions(raw)
    assert outcome(
        lambda: validate_probabilities(probabilities, num_qubits=num_qubits), probabilities
    ) == outcome(
        lambda: old_validate_probabilities(probabilities, num_qubits=num_qubits), probabilities
    )


@pytest.mark.parametrize(
    "probabilities",
    [
        {},
        {0: 1.0, -1: 0.0},
        {0: 1.5, 1: -0.5},
        {0: 1.0, 1: -0.0},
        {True: 1.0},
        {np.int64(3): 1.0},
        {0: np.float64(1.0)},
        {0: 1},
        {0: 0.5, 1: 0.5, 2**70: 0.0},
        {0: math.inf, 1: -math.inf},
        {0: 1e308, 1: 1e308},
        {0: -0.0, 1: 1.0},
        {0.0: 1.0},
        {"0": 1.0},
    ],
)
@pytest.mark.parametrize("num_qubits", [None, 1, 2, 71, np.int64(2), 0, -1, True, 1.5])
def test_odd_distributions_are_checked_as_before(
    probabilities: dict[Any, Any], num_qubits: Any
) -> None:
    assert outcome(
        lambda: validate_probabilities(probabilities, num_qubits=num_qubits), probabilities
    ) == outcome(
        lambda: old_validate_probabilities(probabilities, num_qubits=num_qubits), probabilities
    )


@pytest.mark.parametrize(
    "raw",
    [
        [0.5, 0.5],
        None,
        "0",
        {},
        MappingProxyType({"0": 0.5, "1": 0.5}),
        MappingProxyType({"0": -0.5, "1": 1.5}),
        OrderedDict([("1", 0.5), ("0", 0.5)]),
        {0: 0.5, "1": 0.5},
        {"0": 0.5, "00": 0.5},
        {"1" * 4301: 1.0},
    ],
)
def test_odd_answers_are_parsed_as_before(raw: Any) -> None:
    assert outcome(lambda: parse_probabilities(raw, job_id="j"), raw) == outcome(
        lambda: old_parse_probabilities(raw, job_id="j"), raw
    )
    widths: tuple[Any, ...] = (None, 1, 0, np.int64(1))
    for num_qubits in widths:
        assert outcome(
            functools.partial(read_probabilities, raw, num_qubits=num_qubits, job_id="j"), raw
        ) == outcome(functools.partial(old_read, raw, num_qubits), raw)


STRADDLING = [
    0.013809791456980473,
    0.00026247346336866586,
    0.01880150769670742,
    0.040509826682259824,
    0.05970937860820364,
    0.05617138430530294,
    0.034604059398583256,
    0.06684441174209764,
    0.0312599204223611,
    0.0565216667053422,
    0.027696600916555354,
    0.05042905832841375,
    0.06688325434772799,
    0.02067849005871311,
    0.01153419587128926,
    0.04199090840229297,
    0.035958258433188305,
    0.024341350172436705,
    0.00023833570733761502,
    0.02635549101187544,
    0.028841409334233955,
    0.02744512497412878,
    0.05832662381436015,
    0.03957956383258134,
    0.04969765539347096,
    0.0608096322007446,
    0.050709626719442555,
]
"""Values whose sum in this order is within the tolerance, and sorted (NumPy's way, the
check's rule) just past it."""


def test_a_total_on_the_tolerances_edge_is_decided_by_the_sorted_sum_as_before() -> None:
    probabilities = dict(enumerate(STRADDLING))
    assert abs(sum(STRADDLING) - 1) <= TOLERANCE < abs(float(np.sort(STRADDLING).sum()) - 1)
    with pytest.raises(ResponseError, match=r"sum to 1\.00001, not 1"):
        validate_probabilities(probabilities, num_qubits=5)
    raw = {str(state): value for state, value in probabilities.items()}
    assert outcome(lambda: validate_probabilities(parse_probabilities(raw)), raw) == outcome(
        lambda: old_validate_probabilities(old_parse_probabilities(raw)), raw
    )
    assert outcome(lambda: read_probabilities(raw, num_qubits=5, job_id="j"), raw) == outcome(
        lambda: old_read(raw, 5), raw
    )


@pytest.mark.parametrize("states", [range(1024), range(2048), range(1000, 1030)])
def test_every_small_state_is_read_as_before(states: range) -> None:
    raw = {str(state): 1 / len(states) for state in states}
    assert outcome(lambda: parse_probabilities(raw), raw) == outcome(
        lambda: old_parse_probabilities(raw), raw
    )
    for state in states:
        assert parse_probabilities({str(state): 1.0}) == old_parse_probabilities({str(state): 1.0})


@pytest.mark.parametrize(
    "odd_key",
    [
        str(10**18 - 1),
        str(10**18),
        str(2**63 - 1),
        str(2**63),
        "9" * 25,
        "007",
        "0" * 19 + "5",
        "00",
        "1" * 4301,
        "",
    ],
)
def test_a_long_answer_with_one_odd_key_is_read_as_before(odd_key: str) -> None:
    raw = {str(state): 1 / 512 for state in range(3, 515)}
    raw[odd_key] = raw.pop("300")
    assert outcome(lambda: parse_probabilities(raw), raw) == outcome(
        lambda: old_parse_probabilities(raw), raw
    )
