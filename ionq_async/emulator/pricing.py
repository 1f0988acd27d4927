"""What jobs cost: a circuit's price, a job's price with the QPU minimum, and the cost bodies.

The one place the emulator prices anything: the store stamps each new job with
:func:`job_cost_usd`, and ``GET /jobs/estimate`` answers with the same function, so an
estimate and the job it estimates agree to the cent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from ionq_async._converter import format_timestamp

from ._backends import BackendSpec
from .records import ORGANIZATION_ID, PROJECT_ID, JobRecord, JobState

__all__ = [
    "DEBIASING_FACTOR",
    "child_cost_usd",
    "circuit_price_usd",
    "cost_json",
    "debiased",
    "estimate_json",
    "job_cost_usd",
]

DEBIASING_FACTOR = 1.25
"""What debiasing multiplies a QPU job's price by (made up, as every emulator price is:
debiasing runs the circuit as several variants, so it costs more than the job alone)."""


def debiased(settings: Mapping[str, Any] | None) -> bool:
    """Whether a job's settings turn debiasing on (``true`` or an options object)."""
    mitigation = (settings or {}).get("error_mitigation")
    if not isinstance(mitigation, Mapping):
        return False
    return bool(mitigation.get("debiasing"))


def circuit_price_usd(
    backend: BackendSpec, *, shots: int, one_qubit_gates: int, two_qubit_gates: int
) -> float:
    """What one circuit of this size costs on ``backend``, before the per-job minimum."""
    return shots * (
        one_qubit_gates * backend.cost_1q_gate_usd + two_qubit_gates * backend.cost_2q_gate_usd
    )


def job_cost_usd(
    backend: BackendSpec, circuit_prices_usd: Iterable[float], *, debiasing: bool = False
) -> float:
    """A job's price in USD to the cent: its circuits' prices, at least the QPU minimum,
    times :data:`DEBIASING_FACTOR` when debiasing is on."""
    total = sum(circuit_prices_usd)
    if backend.is_qpu:
        total = max(total, backend.job_cost_minimum_usd)
        if debiasing:
            total *= DEBIASING_FACTOR
    return round(total, 2)


def child_cost_usd(circuit_price: float) -> float:
    """A multi-circuit job's child, priced alone to the cent (the minimum is the parent's)."""
    return round(circuit_price, 2)


def cost_json(record: JobRecord, state: JobState) -> dict[str, Any]:
    """``GET /jobs/{id}/cost``: the estimate, and the actual cost once completed."""
    out: dict[str, Any] = {
        "dry_run": record.dry_run,
        "estimated_cost": {"value": record.estimated_cost_usd, "unit": "usd"},
    }
    if state.status == "completed" and not record.dry_run:
        out["cost"] = {"value": record.estimated_cost_usd, "unit": "usd"}
    return out


def estimate_json(
    backend: BackendSpec,
    context: Mapping[str, Any],
    *,
    cost_usd: float,
    now: float,
    run_s: float,
    queue_s: float,
) -> dict[str, Any]:
    """``GET /jobs/estimate``: both the legacy and the newer field sets in one body.

    ``context`` holds the inputs as the query gave them; ``run_s`` and ``queue_s`` are the
    run and queue times a new job on ``backend`` would see.
    """
    name = backend.name
    return {
        # The legacy shape (April 2026 docs; read by qiskit-ionq).
        "input_values": dict(context),
        "cost_unit": "usd",
        "rate_information": {
            "job_cost_minimum": backend.job_cost_minimum_usd,
            "cost_2q_gate": backend.cost_2q_gate_usd,
            "cost_1q_gate": backend.cost_1q_gate_usd,
            "organization": ORGANIZATION_ID,
        },
        "estimated_cost": cost_usd,
        # The newer shape (September 2026 spec).
        "estimate_context": {**context, "organization": ORGANIZATION_ID, "project": PROJECT_ID},
        "estimated_unit": "usd",
        "rate_card": {
            "id": f"emulator-{name}",
            "rates": [
                {
                    "sku": f"{name}-gates",
                    "unit": "gates",
                    "cost_1q_gate": backend.cost_1q_gate_usd,
                    "cost_2q_gate": backend.cost_2q_gate_usd,
                    "job_cost_minimum": backend.job_cost_minimum_usd,
                }
            ],
        },
        "estimated_total_cost": cost_usd,
        # Shared by both shapes; milliseconds, as the newer spec says.
        "estimated_at": format_timestamp(datetime.fromtimestamp(now, tz=UTC)),
        "estimated_execution_time": round(run_s * 1000),
        "current_predicted_queue_time": round(queue_s * 1000),
    }
