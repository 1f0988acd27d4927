"""Readers of a finished job's result answers beyond probabilities: shots, histograms,
artifacts and compiled circuits, and the variants a job's ``output`` names (pure).

Every reader checks what it reads and raises ResponseError naming the request and the
problem; nothing but an IonQError leaves here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any, Final

from attrs import frozen

from . import _json
from .exceptions import InvalidRequestError, ResponseError
from .models import Job

__all__ = [
    "AGGREGATIONS",
    "COMPILED_LANGS",
    "Decoded",
    "check_aggregation",
    "decode_raw",
    "read_histogram",
    "read_shots",
    "variant_ids",
]

COMPILED_LANGS: Final = ("native", "qasm3")
"""The languages of ``GET /jobs/{id}/circuits/{lang}``."""

AGGREGATIONS: Final = ("average", "voting", "dnl", "majority")
"""How a debiased job's variants are combined (``aggregation=`` on probabilities):
``average`` is the plain mean, ``voting`` replaces ``sharpen=true``."""

_MAX_PROBLEMS: Final = 5
_BULK_KEY_DIGITS: Final = 18
"""Decimal states this short are read in bulk: any such integer fits int64 and int() reads
it; longer ones (up to 30 digits) take the careful path."""


def check_aggregation(aggregation: object) -> str:
    """The aggregation name, or InvalidRequestError naming the valid ones."""
    if aggregation in AGGREGATIONS:
        return str(aggregation)
    raise InvalidRequestError(
        f"aggregation must be one of {', '.join(map(repr, AGGREGATIONS))}, got {aggregation!r}"
    )


def _state(value: object) -> int | None:
    """A basis state from a JSON value: a non-negative int or a decimal string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isdecimal() and len(value) <= 30:
        return int(value)
    return None


def _decimal_states(texts: list[str]) -> list[int] | None:
    """Short ASCII decimal strings as ints in bulk (a few C passes), else None."""
    joined = "".join(texts)
    if not (
        joined.isascii()
        and joined.isdigit()
        and all(texts)
        and max(map(len, texts)) <= _BULK_KEY_DIGITS
    ):
        return None
    return list(map(int, texts))


def _bulk_shots(data: list[Any], limit: int | None) -> list[int] | None:
    """Every shot a state below ``limit``, read in bulk; None to take the careful path."""
    kinds = set(map(type, data))
    if kinds == {int}:
        states: list[int] | None = list(data)
    elif kinds == {str}:
        states = _decimal_states(data)
    else:
        return None
    if states is None or min(states) < 0 or (limit is not None and max(states) >= limit):
        return None
    return states


def read_shots(data: Any, *, what: str, num_qubits: int | None) -> list[int]:
    """The states of every shot in order; ResponseError unless a list of states."""
    if not isinstance(data, list):
        raise ResponseError(f"{what}: expected a list of shots, got {type(data).__name__}")
    limit = 1 << num_qubits if num_qubits is not None else None
    if data:
        bulk = _bulk_shots(data, limit)
        if bulk is not None:
            return bulk
    # The careful path: one shot at a time, naming the first bad ones.
    states: list[int] = []
    problems: list[str] = []
    for position, value in enumerate(data):
        state = _state(value)
        if state is None:
            problems.append(f"shot {position} is {value!r}, not a basis state")
        elif limit is not None and state >= limit:
            problems.append(f"shot {position} is state {state}, beyond {num_qubits} qubits")
        else:
            states.append(state)
        if len(problems) >= _MAX_PROBLEMS:
            break
    if problems:
        raise ResponseError(f"{what}: " + "; ".join(problems), body=data[:20])
    return states


def _bulk_histogram(data: Mapping[Any, Any], limit: int | None) -> dict[int, int] | None:
    """Integer counts over distinct decimal states below ``limit``, read in bulk; None to
    take the careful path (which also sums keys naming one state twice, as 1 and 01)."""
    keys = list(data.keys())
    counts = list(data.values())
    if set(map(type, keys)) != {str} or set(map(type, counts)) != {int} or min(counts) < 0:
        return None
    states = _decimal_states(keys)
    if states is None or (limit is not None and max(states) >= limit):
        return None
    out = dict(zip(states, counts, strict=True))
    return out if len(out) == len(keys) else None


def read_histogram(
    data: Any, *, what: str, num_qubits: int | None, shots: int | None
) -> dict[int, int]:
    """Counts by state; ResponseError unless non-negative integer counts over states
    (below ``2**num_qubits``) that sum to ``shots`` when it is given."""
    if not isinstance(data, Mapping):
        raise ResponseError(f"{what}: expected an object of counts, got {type(data).__name__}")
    limit = 1 << num_qubits if num_qubits is not None else None
    bulk = _bulk_histogram(data, limit) if data else None
    if bulk is not None:
        _check_total(bulk, what, shots)
        return bulk
    # The careful path: one entry at a time, naming the first bad ones.
    counts: dict[int, int] = {}
    problems: list[str] = []
    for key, value in data.items():
        state = _state(key)
        if state is None or (limit is not None and state >= limit):
            problems.append(f"key {key!r} is not a state of {num_qubits or 'these'} qubits")
        elif (
            isinstance(value, bool)
            or not isinstance(value, numbers.Integral | float)
            or (isinstance(value, float) and not math.isfinite(value))
            or value < 0
            or value != int(value)
        ):
            problems.append(f"count of {key!r} is {value!r}, not a whole number of shots")
        else:
            counts[state] = counts.get(state, 0) + int(value)
        if len(problems) >= _MAX_PROBLEMS:
            break
    if problems:
        raise ResponseError(f"{what}: " + "; ".join(problems), body=dict(list(data.items())[:20]))
    _check_total(counts, what, shots)
    return counts


def _check_total(counts: dict[int, int], what: str, shots: int | None) -> None:
    if shots is not None and counts and sum(counts.values()) != shots:
        raise ResponseError(
            f"{what}: the counts sum to {sum(counts.values())}, not the job's {shots} shots"
        )


@frozen
class Decoded:
    """An answer decoded by its content type."""

    media_type: str | None
    data: Any


def decode_raw(content_type: str | None, body: bytes, *, what: str) -> Decoded:
    """JSON (``application/json``, ``+json``) as values, ``text/*`` as str, else bytes."""
    media_type = content_type.split(";")[0].strip().lower() if content_type else None
    if media_type is not None and (
        media_type == "application/json" or media_type.endswith("+json")
    ):
        try:
            return Decoded(media_type, _json.loads(body))
        except (ValueError, RecursionError) as error:
            raise ResponseError(f"{what}: malformed JSON ({type(error).__name__})") from None
    if media_type is not None and media_type.startswith("text/"):
        try:
            return Decoded(media_type, body.decode("utf-8"))
        except UnicodeDecodeError:
            raise ResponseError(f"{what}: {media_type} that is not UTF-8") from None
    return Decoded(media_type, body)


def variant_ids(job: Job) -> list[str]:
    """The ids of the error-mitigation variants a job's ``output`` names, in order."""
    output = job.output or {}
    mitigation = output.get("error_mitigation") if isinstance(output, Mapping) else None
    debiasing = mitigation.get("debiasing") if isinstance(mitigation, Mapping) else None
    variants = debiasing.get("variants") if isinstance(debiasing, Mapping) else None
    if not isinstance(variants, list):
        return []
    ids: list[str] = []
    for variant in variants:
        if isinstance(variant, Mapping):
            identifier = variant.get("variant_id", variant.get("id"))
            if isinstance(identifier, str | int) and not isinstance(identifier, bool):
                ids.append(str(identifier))
    return ids
