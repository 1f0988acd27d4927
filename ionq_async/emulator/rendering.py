"""The JSON the API returns for stored things: jobs, their results, sessions and backends.

Pure functions of a record, its state and the time (``now``, epoch seconds); they read
nothing else, so the store never builds JSON and the routes never build a job by hand.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final

from ionq_async._converter import format_timestamp

from . import simulator
from ._backends import BackendSpec
from .artifacts import output_json, results_json
from .records import (
    ORGANIZATION_ID,
    PROJECT_ID,
    JobRecord,
    JobState,
    SessionRecord,
    has_results,
)

__all__ = [
    "backend_json",
    "characterization_id",
    "characterizations",
    "iso",
    "job_json",
    "session_json",
]

_SUPPORTED_GATES: Final = frozenset(
    {
        "x",
        "y",
        "z",
        "rx",
        "ry",
        "rz",
        "h",
        "s",
        "si",
        "v",
        "vi",
        "t",
        "ti",
        "not",
        "cnot",
        "swap",
        "xx",
        "yy",
        "zz",
        "pauliexp",
    }
)


def iso(seconds: float | None) -> str | None:
    """An API timestamp for epoch ``seconds`` (None stays None)."""
    if seconds is None:
        return None
    return format_timestamp(datetime.fromtimestamp(seconds, tz=UTC))


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


# ---------------------------------------------------------------------- jobs


def job_json(
    record: JobRecord,
    state: JobState,
    now: float,
    *,
    list_item: bool = False,
    ideal_shots: str = "sampled",
) -> dict[str, Any]:
    """The job as ``GET /jobs/{id}`` returns it (``list_item``: as in ``GET /jobs``).

    ``results`` and ``output`` list its artifacts (``artifacts.py``); ``ideal_shots`` is
    the emulator's setting of that name.
    """
    terminal = state.terminal
    started_at = state.started_at
    execution_ms: int | None = None
    if state.status == "completed":
        if record.dry_run:
            execution_ms = 0
        elif started_at is not None and state.finished_at is not None:
            execution_ms = _ms(state.finished_at - started_at)
    predicted_wait: int | None = None
    predicted_run: int | None = None
    if not terminal:
        start = record.started_at if record.started_at is not None else record.due_at
        due = record.due_at
        if record.predicted_due_at is not None:  # predictions with an error (config)
            start = record.predicted_start_at or start
            due = record.predicted_due_at
        predicted_wait = _ms(start - now)
        predicted_run = _ms(due - start)
    stats: dict[str, Any] = {
        "qubits": record.qubits,
        "circuits": record.circuits,
        "gate_counts": {"1q": record.one_qubit_gates, "2q": record.two_qubit_gates},
    }
    if record.backend.is_qpu:
        stats["predicted_quantum_compute_time_us"] = (
            _ms(record.due_at - (record.started_at or record.due_at)) * 1000
        )
        if state.status == "completed" and execution_ms is not None:
            stats["billed_quantum_compute_time_us"] = execution_ms * 1000
    failure: dict[str, str] | None = None
    if state.status == "failed" and state.failure is not None:
        code, message = state.failure
        failure = {"code": code, "message": message, "error": message}
    noise: dict[str, Any] | None = None
    if record.backend.is_simulator:
        noise = {"model": record.noise_model or "ideal"}
        if record.noise_seed is not None:
            noise["seed"] = record.noise_seed
    out: dict[str, Any] = {
        "id": record.id,
        "status": state.status,
        "type": record.type,
        "backend": record.backend.name,
        "dry_run": record.dry_run,
        "submitter_id": record.submitter_id,
        "project_id": PROJECT_ID,
        "parent_job_id": record.parent_id,
        "child_job_ids": list(record.child_ids) if record.child_ids is not None else None,
        "session_id": record.session_id,
        "metadata": dict(record.metadata) if record.metadata is not None else None,
        "name": record.name,
        "submitted_at": iso(record.submitted_at),
        "started_at": iso(started_at),
        "completed_at": iso(state.finished_at) if terminal else None,
        "predicted_wait_time_ms": predicted_wait,
        "predicted_execution_duration_ms": predicted_run,
        "execution_duration_ms": execution_ms,
        "shots": record.shots,
        "noise": noise,
        "failure": failure,
        "cost_model": "2QGE_operations" if record.backend.is_qpu else "QCT",
        "settings": dict(record.settings),
        "stats": stats,
        "output": output_json(record, state),
        "results": (
            results_json(record, ideal_shots=ideal_shots) if has_results(record, state) else None
        ),
    }
    if noise is None:
        # The API sends ``noise`` for simulator jobs only; clients (ionq-core) reject a null.
        del out["noise"]
    if list_item:
        del out["child_job_ids"]
    return out


# ---------------------------------------------------------------------- sessions


def session_json(session: SessionRecord, now: float) -> dict[str, Any]:
    """The session as the API returns it."""
    ended = session.ended(now)
    ended_at = (
        session.ended_at
        if session.ended_at is not None
        else (session.expires_at() if ended else None)
    )
    settings: dict[str, Any] = {}
    if session.job_count_limit is not None:
        settings["job_count_limit"] = session.job_count_limit
    if session.duration_limit_min is not None:
        settings["duration_limit_min"] = session.duration_limit_min
    if session.cost_limit is not None:
        settings["cost_limit"] = session.cost_limit
    expiry = session.expires_at()
    if expiry is not None:
        settings["expires_at"] = iso(expiry)
    if ended:
        status = "ended"
    elif session.started_at is not None:
        status = "started"
    else:
        status = "created"
    return {
        "id": session.id,
        "created_at": iso(session.created_at),
        "organization_id": ORGANIZATION_ID,
        "backend": session.backend,
        "project_id": PROJECT_ID,
        "creator_id": session.creator_id,
        "ended_at": iso(ended_at),
        "ender_id": session.ender_id,
        "settings": settings,
        "active": not ended,
        "status": status,
        "started_at": iso(session.started_at),
    }


# ---------------------------------------------------------------------- backends


def backend_json(backend: BackendSpec, *, queue_s: float, now: float) -> dict[str, Any]:
    """A backend as ``GET /backends`` lists it; ``queue_s`` is a new job's queue time."""
    out: dict[str, Any] = {
        "backend": backend.name,
        "status": "available",
        "qubits": backend.qubits,
        "average_queue_time": _ms(queue_s),
        "last_updated": iso(now),
    }
    if backend.reports_degraded:
        out["degraded"] = False
    if backend.characterization_count:
        out["characterization_id"] = characterization_id(backend.name, 0)
    if backend.location is not None:
        out["location"] = backend.location
    out["supported_gates"] = sorted(_SUPPORTED_GATES)
    out["supported_native_gates"] = sorted(backend.native_gates)
    if backend.is_qpu:
        out["supported_error_mitigations"] = ["debiasing"]
    if backend.is_simulator:
        out["noise_models"] = sorted(simulator.NOISE_MODELS)
    return out


def characterization_id(backend: str, index: int) -> str:
    """The stable id of a backend's ``index``-th characterization (0 = the newest)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ionq-emulator/{backend}/characterization/{index}"))


def characterizations(backend: BackendSpec, now: float) -> list[dict[str, Any]]:
    """A backend's characterizations, newest first: one a day, made up but stable in shape."""
    day = 86_400.0
    today = now - (now % day)
    out = []
    for index in range(backend.characterization_count):
        n = backend.qubits
        out.append(
            {
                "id": characterization_id(backend.name, index),
                "backend": backend.name,
                "date": iso(today - index * day),
                "qubits": n,
                "connectivity": [[a, b] for a in range(n) for b in range(a + 1, n)],
                "fidelity": {
                    "spam": {"median": 0.9962, "stderr": 0},
                    "1q": {"median": 0.9998},
                    "2q": {"median": 0.9952 if "forte" in backend.name else 0.9867},
                },
                "timing": {
                    "t1": 100.0,
                    "t2": 1.0,
                    "1q": 0.000135,
                    "2q": 0.0006,
                    "readout": 0.0003,
                    "reset": 0.00002,
                },
            }
        )
    return out
