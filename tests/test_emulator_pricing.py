"""The emulator prices in one place: a job's cost and the estimate for it agree to the cent."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ApiCaller

from ionq_async.emulator import Emulator, EmulatorConfig
from ionq_async.emulator._backends import BACKENDS
from ionq_async.emulator.pricing import child_cost_usd, circuit_price_usd, job_cost_usd

ARIA = BACKENDS["qpu.aria-1"]
FORTE = BACKENDS["qpu.forte-1"]
SIMULATOR = BACKENDS["simulator"]


@pytest.fixture
async def instant(http: Any) -> Any:
    """An emulator whose jobs complete as soon as their simulation does."""
    async with Emulator(config=EmulatorConfig(time_scale=0.0)) as emu:
        yield ApiCaller(emu, http)


def cnots(count: int) -> dict[str, Any]:
    """A two-qubit circuit of ``count`` CNOTs, in the API's input form."""
    return {"qubits": 2, "circuit": [{"gate": "cnot", "control": 0, "target": 1}] * count}


def test_a_circuit_costs_its_gate_shots() -> None:
    price = circuit_price_usd(FORTE, shots=1000, one_qubit_gates=10, two_qubit_gates=20)
    assert price == pytest.approx(1000 * (10 * 0.00028 + 20 * 0.0023))


def test_a_qpu_job_costs_at_least_the_minimum() -> None:
    assert job_cost_usd(ARIA, [0.01, 0.02]) == ARIA.job_cost_minimum_usd == 97.5


def test_a_qpu_job_above_the_minimum_costs_its_circuits_to_the_cent() -> None:
    assert job_cost_usd(FORTE, [100.004, 20.0]) == 120.0


def test_the_simulator_has_no_minimum() -> None:
    assert job_cost_usd(SIMULATOR, [0.0]) == 0.0


def test_a_child_costs_its_own_price_without_the_minimum() -> None:
    assert child_cost_usd(0.123) == 0.12


@pytest.mark.parametrize(
    ("backend", "shots", "gates"),
    [("qpu.aria-1", 100, 2), ("qpu.forte-1", 10_000, 50), ("qpu.forte-1", 9_999, 13)],
)
async def test_the_estimate_equals_the_cost_of_the_job_it_estimates(
    instant: ApiCaller, backend: str, shots: int, gates: int
) -> None:
    job_id = await instant.submit(backend=backend, shots=shots, input=cnots(gates))
    _, cost, _ = await instant.get(f"/jobs/{job_id}/cost")
    _, estimate, _ = await instant.get(
        "/jobs/estimate",
        params={"backend": backend, "shots": str(shots), "2q_gates": str(gates)},
    )
    assert estimate["estimated_cost"] == estimate["estimated_total_cost"]
    assert cost["estimated_cost"]["value"] == estimate["estimated_cost"]
