"""Reading what a request sends: JSON bodies, query parameters and session settings.

Every problem is a :class:`~._validation.BadRequest` naming the key at fault, which the
routes answer as a 400. Job bodies are checked by ``_validation.py``; this module decodes
them and reads everything else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ._backends import BACKENDS
from ._validation import BadRequest, JobRequest, parse_job_request
from .mitigation import AGGREGATIONS, DEFAULT_AGGREGATION

__all__ = [
    "decode_json",
    "parse_aggregation",
    "parse_bulk_ids",
    "parse_create",
    "parse_session",
    "query_bool",
    "query_date",
    "query_int",
]


def decode_json(raw: bytes) -> Any:
    """The JSON value of a request body."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadRequest(None, "The request body is not valid JSON.") from None


def parse_create(raw: bytes, qpu_max_shots: int) -> JobRequest:
    """The job a ``POST /jobs`` body asks for."""
    if not raw.strip():
        raise BadRequest(None, "The request body must be a JSON object.")
    try:
        return parse_job_request(decode_json(raw), qpu_max_shots=qpu_max_shots)
    except RecursionError:
        raise BadRequest("input", "is nested too deeply") from None


def parse_bulk_ids(body: Any) -> list[str]:
    """The job ids of a bulk cancel or delete body ``{ids}``, duplicates dropped."""
    if not isinstance(body, dict):
        raise BadRequest(None, "The request body must be a JSON object.")
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids:
        raise BadRequest("ids", "must be a non-empty array of job ids")
    for i, value in enumerate(ids):
        if not isinstance(value, str):
            raise BadRequest(f"ids[{i}]", "must be a string")
    return list(dict.fromkeys(ids))


def query_int(
    query: Mapping[str, str], key: str, *, default: int, minimum: int, maximum: int | None = None
) -> int:
    """An integer query parameter within bounds (``default`` when absent or empty)."""
    text = query.get(key)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(key, "must be an integer", source="query") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise BadRequest(key, f"must be {bound}", source="query")
    return value


def query_bool(query: Mapping[str, str], key: str) -> bool:
    """A boolean query parameter (``true``/``1``, ``false``/``0``; False when absent)."""
    text = query.get(key)
    if text is None or text == "":
        return False
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise BadRequest(key, "must be true or false", source="query")


def parse_aggregation(query: Mapping[str, str]) -> str:
    """The aggregation a probabilities request asks for: ``aggregation`` (one of
    ``average``, ``voting``, ``dnl``, ``majority``), else ``voting`` for ``sharpen=true``,
    else ``average``. Both are accepted (and change nothing) on jobs without debiasing."""
    method = query.get("aggregation") or None
    if method is not None and method not in AGGREGATIONS:
        raise BadRequest("aggregation", f"must be one of {', '.join(AGGREGATIONS)}", source="query")
    sharpen = query_bool(query, "sharpen")
    if method is None:
        method = "voting" if sharpen else DEFAULT_AGGREGATION
    return method


def query_date(query: Mapping[str, str], key: str) -> str | None:
    """An ISO date query parameter as ``YYYY-MM-DD`` (None when absent)."""
    text = query.get(key)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        raise BadRequest(key, "must be an ISO date such as 2025-12-31", source="query") from None


def parse_session(body: Any) -> dict[str, Any]:
    """The ``JobStore.create_session`` arguments a ``POST /sessions`` body asks for."""
    if not isinstance(body, dict):
        raise BadRequest(None, "The request body must be a JSON object.")
    backend = body.get("backend")
    if backend is None:
        raise BadRequest("backend", "is required")
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise BadRequest("backend", f"must be one of {', '.join(BACKENDS)}")
    settings = body.get("settings") or {}
    if not isinstance(settings, dict):
        raise BadRequest("settings", "must be an object")
    job_count_limit = settings.get("job_count_limit")
    if job_count_limit is not None and (
        not isinstance(job_count_limit, int)
        or isinstance(job_count_limit, bool)
        or job_count_limit < 1
    ):
        raise BadRequest("settings.job_count_limit", "must be a positive integer")
    duration = settings.get("duration_limit_min")
    if duration is not None and (
        not isinstance(duration, int | float)
        or isinstance(duration, bool)
        or not math.isfinite(duration)
        or duration <= 0
    ):
        raise BadRequest("settings.duration_limit_min", "must be a positive number")
    cost_limit = settings.get("cost_limit")
    if cost_limit is not None:
        if not isinstance(cost_limit, dict):
            raise BadRequest("settings.cost_limit", "must be an object")
        value = cost_limit.get("value")
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise BadRequest("settings.cost_limit.value", "must be a number")
        if not isinstance(cost_limit.get("unit"), str):
            raise BadRequest("settings.cost_limit.unit", "must be a string")
        cost_limit = {"unit": cost_limit["unit"], "value": value}
    return {
        "backend": backend,
        "job_count_limit": job_count_limit,
        "duration_limit_min": duration,
        "cost_limit": cost_limit,
    }
