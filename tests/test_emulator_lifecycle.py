"""Job lifecycles on a manual clock: no test here sleeps.

The ``manual_emulator`` fixture schedules simulator jobs as 0.5 s submitted, 1 s ready,
2 s started; QPU jobs as 0.5 s, 10 s, 20 s; dry runs complete 1 s after becoming ready.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import BELL, ApiCaller

from ionq_async.emulator import Emulator, EmulatorConfig, ManualClock
from ionq_async.emulator import runner as runner_module
from ionq_async.emulator.simulator import SimulationError


def at(clock: ManualClock, offset_s: float = 0.0) -> str:
    """The API's timestamp for the clock's start plus ``offset_s``."""
    moment = datetime.fromtimestamp(clock() + offset_s, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


async def job(api: ApiCaller, job_id: str) -> dict[str, Any]:
    status, body, _ = await api.get(f"/jobs/{job_id}")
    assert status == 200
    return dict(body)


async def test_simulator_job_walks_through_every_status(
    manual_api: ApiCaller, manual_clock: ManualClock
) -> None:
    start = at(manual_clock)
    job_id = await manual_api.submit(shots=1000)
    first = await job(manual_api, job_id)
    assert first["status"] == "submitted" and first["submitted_at"] == start
    assert first["started_at"] is None and first["completed_at"] is None
    assert first["predicted_wait_time_ms"] == 1500
    assert first["predicted_execution_duration_ms"] == 2000

    manual_clock.advance(0.5)
    ready = await job(manual_api, job_id)
    assert ready["status"] == "ready" and ready["predicted_wait_time_ms"] == 1000

    manual_clock.advance(1.0)
    started = await job(manual_api, job_id)
    assert started["status"] == "started"
    assert started["started_at"] == at(manual_clock)
    assert started["results"] is None
    # Running: nothing left to wait for in the queue; the run is predicted to take 2 s.
    assert started["predicted_wait_time_ms"] == 0
    assert started["predicted_execution_duration_ms"] == 2000

    manual_clock.advance(2.0)
    await manual_api.emulator.wait_for_simulations()
    done = await job(manual_api, job_id)
    assert done["status"] == "completed"
    assert done["completed_at"] == at(manual_clock)
    assert done["execution_duration_ms"] == 2000
    assert done["predicted_wait_time_ms"] is None
    assert done["predicted_execution_duration_ms"] is None
    assert done["results"]["probabilities"]["url"].endswith("/results/probabilities")


async def test_qpu_job_uses_qpu_durations_and_reports_compute_time(
    manual_api: ApiCaller, manual_clock: ManualClock
) -> None:
    job_id = await manual_api.submit(backend="qpu.aria-1", shots=100)
    # Let the simulation finish at time 0, so that completion is the scheduled time.
    await manual_api.emulator.wait_for_simulations()
    manual_clock.advance(10.4)
    assert (await job(manual_api, job_id))["status"] == "ready"
    manual_clock.advance(0.2)
    assert (await job(manual_api, job_id))["status"] == "started"
    manual_clock.advance(20.0)
    await manual_api.emulator.wait_for_simulations()
    done = await job(manual_api, job_id)
    assert done["status"] == "completed" and done["execution_duration_ms"] == 20000
    assert done["stats"]["billed_quantum_compute_time_us"] == 20_000_000
    assert done["cost_model"] == "2QGE_operations"


async def test_time_scale_stretches_every_duration(http: Any, manual_clock: ManualClock) -> None:
    config = EmulatorConfig(simulator_queue_s=1.0, simulator_run_s=1.0, time_scale=10.0)
    async with Emulator(config=config, clock=manual_clock) as emu:
        api = ApiCaller(emu, http)
        job_id = await api.submit()
        manual_clock.advance(19.0)
        await emu.wait_for_simulations()
        assert (await job(api, job_id))["status"] == "started"
        manual_clock.advance(1.0)
        assert (await job(api, job_id))["status"] == "completed"


@dataclass
class HeldSimulations:
    """``entered`` is set once a simulation has started; it waits for ``release``."""

    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def held_simulations(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldSimulations]:
    """Simulations block in their worker thread until ``release`` is set."""
    held_ones = HeldSimulations()
    real = runner_module.simulate

    def held(*args: Any, **kwargs: Any) -> Any:
        held_ones.entered.set()
        held_ones.release.wait(timeout=30)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner_module, "simulate", held)
    yield held_ones
    held_ones.release.set()


async def test_completed_needs_the_simulation_to_have_finished(
    manual_api: ApiCaller, manual_clock: ManualClock, held_simulations: HeldSimulations
) -> None:
    job_id = await manual_api.submit()
    manual_clock.advance(60.0)
    # The simulation is provably under way (and held) in its worker thread.
    assert await asyncio.to_thread(held_simulations.entered.wait, 10.0)
    # The scheduled time has long passed, but the simulation is still running; the
    # event loop still answers status calls while it runs in its thread.
    assert (await job(manual_api, job_id))["status"] == "started"
    held_simulations.release.set()
    await manual_api.emulator.wait_for_simulations()
    done = await job(manual_api, job_id)
    assert done["status"] == "completed"
    # The simulation finished (on the manual clock) after the scheduled completion.
    assert done["completed_at"] == at(manual_clock)


async def test_a_simulation_error_fails_the_job(
    manual_api: ApiCaller, manual_clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise SimulationError("the state vector caught fire")

    monkeypatch.setattr(runner_module, "simulate", broken)
    job_id = await manual_api.submit()
    manual_clock.advance(10.0)
    await manual_api.emulator.wait_for_simulations()
    failed = await job(manual_api, job_id)
    assert failed["status"] == "failed"
    assert failed["failure"] == {
        "code": "SimulationError",
        "message": "the state vector caught fire",
        "error": "the state vector caught fire",
    }


async def test_backend_failures_surface_once_the_job_is_checked(
    manual_api: ApiCaller, manual_clock: ManualClock
) -> None:
    job_id = await manual_api.submit(backend="qpu.forte-1", shots=50_000)
    assert (await job(manual_api, job_id))["status"] == "submitted"
    manual_clock.advance(0.5)
    failed = await job(manual_api, job_id)
    assert failed["status"] == "failed" and failed["failure"]["code"] == "TooManyShots"
    assert failed["completed_at"] == at(manual_clock)


async def test_dry_run_completes_without_results_but_with_an_estimate(
    manual_api: ApiCaller, manual_clock: ManualClock
) -> None:
    job_id = await manual_api.submit(backend="qpu.forte-1", dry_run=True, shots=1000)
    manual_clock.advance(0.5)
    assert (await job(manual_api, job_id))["status"] == "ready"
    manual_clock.advance(1.0)
    done = await job(manual_api, job_id)
    assert done["status"] == "completed" and done["dry_run"] is True
    assert done["results"] is None and done["started_at"] is None
    assert done["execution_duration_ms"] == 0
    status, cost, _ = await manual_api.get(f"/jobs/{job_id}/cost")
    assert status == 200
    assert cost == {"dry_run": True, "estimated_cost": {"value": 97.5, "unit": "usd"}}
    assert (await manual_api.get(f"/jobs/{job_id}/results/probabilities"))[0] == 404


async def test_actual_cost_appears_only_once_completed(
    manual_api: ApiCaller, manual_clock: ManualClock
) -> None:
    job_id = await manual_api.submit(backend="qpu.aria-1")
    _, cost, _ = await manual_api.get(f"/jobs/{job_id}/cost")
    assert "cost" not in cost and cost["estimated_cost"]["value"] == 97.5
    manual_clock.advance(31.0)
    await manual_api.emulator.wait_for_simulations()
    _, cost, _ = await manual_api.get(f"/jobs/{job_id}/cost")
    assert cost["cost"] == {"value": 97.5, "unit": "usd"}


# ----------------------------------------------------------------------------- multi-circuit


MULTI = {
    "gateset": "qis",
    "qubits": 2,
    "circuits": [
        {"name": "bell", "circuit": BELL["circuit"]},
        {"name": "x0", "circuit": [{"gate": "x", "targets": [0]}]},
        {"circuit": [{"gate": "x", "targets": [1]}], "qubits": 3},
    ],
}


async def test_multi_circuit_parent_has_one_child_per_circuit_in_order(
    manual_api: ApiCaller, manual_clock: ManualClock
) -> None:
    parent_id = await manual_api.submit(
        type="ionq.multi-circuit.v1", input=MULTI, shots=100, metadata={"token": "t-1"}
    )
    parent = await job(manual_api, parent_id)
    children = parent["child_job_ids"]
    assert len(children) == 3 and parent["stats"]["circuits"] == 3
    assert parent["stats"]["qubits"] == 3
    assert parent["stats"]["gate_counts"] == {"1q": 3, "2q": 1}
    for index, child_id in enumerate(children):
        child = await job(manual_api, child_id)
        assert child["parent_job_id"] == parent_id and child["child_job_ids"] is None
        assert child["type"] == "ionq.circuit.v1"
        assert child["name"] == ["bell", "x0", None][index]
    # Only the parent carries the submitted metadata, so a token is counted once.
    assert manual_api.emulator.count_jobs_with_metadata("token", "t-1") == 1

    manual_clock.advance(3.5)
    await manual_api.emulator.wait_for_simulations()
    parent = await job(manual_api, parent_id)
    assert parent["status"] == "completed"
    url = parent["results"]["probabilities"]["url"]
    assert url == f"/v0.4/jobs/{parent_id}/results/probabilities/aggregated"
    assert "ionq.result.probabilities-aggregate.json.v1" in parent["results"]
    status, aggregated, _ = await manual_api.get(url[len("/v0.4") :])
    assert status == 200
    assert list(aggregated) == children
    assert list(aggregated.values()) == [{"0": 0.5, "3": 0.5}, {"1": 1.0}, {"2": 1.0}]
    _, plain, _ = await manual_api.get(f"/jobs/{parent_id}/results/probabilities")
    assert plain == aggregated
    _, artifact, _ = await manual_api.get(f"/jobs/{parent_id}/artifacts/probabilities-aggregate")
    assert artifact == aggregated
    _, listed, _ = await manual_api.get("/jobs", params={"parent_job_id": parent_id})
    assert sorted(j["id"] for j in listed["jobs"]) == sorted(children)


async def test_a_bad_circuit_fails_its_child_and_then_the_parent(
    manual_api: ApiCaller, manual_clock: ManualClock
) -> None:
    bad = {
        "circuits": [
            {"circuit": BELL["circuit"]},
            {"circuit": [{"gate": "gpi", "target": 0, "phase": 0}]},
        ]
    }
    parent_id = await manual_api.submit(type="ionq.multi-circuit.v1", input=bad)
    good, broken = (await job(manual_api, parent_id))["child_job_ids"]
    manual_clock.advance(1.0)
    assert (await job(manual_api, parent_id))["status"] == "started"
    failed = await job(manual_api, broken)
    assert failed["status"] == "failed" and failed["failure"]["code"] == "UnsupportedGate"
    assert "input.circuits[1].circuit[0]" in failed["failure"]["message"]

    manual_clock.advance(5.0)
    await manual_api.emulator.wait_for_simulations()
    parent = await job(manual_api, parent_id)
    assert parent["status"] == "failed" and parent["failure"]["code"] == "UnsupportedGate"
    assert parent["failure"]["message"].startswith("circuit 1: ")
    assert parent["results"] is None
    assert (await job(manual_api, good))["status"] == "completed"
    _, probabilities, _ = await manual_api.get(f"/jobs/{good}/results/probabilities")
    assert probabilities == {"0": 0.5, "3": 0.5}


async def test_too_many_shots_fails_every_child(
    manual_api: ApiCaller, manual_clock: ManualClock
) -> None:
    parent_id = await manual_api.submit(
        type="ionq.multi-circuit.v1", input=MULTI, backend="qpu.aria-1", shots=50_000
    )
    manual_clock.advance(1.0)
    parent = await job(manual_api, parent_id)
    assert parent["status"] == "failed" and parent["failure"]["code"] == "TooManyShots"
    for child_id in parent["child_job_ids"]:
        assert (await job(manual_api, child_id))["failure"]["code"] == "TooManyShots"


async def test_parent_is_started_while_children_run(
    manual_api: ApiCaller, manual_clock: ManualClock
) -> None:
    parent_id = await manual_api.submit(type="ionq.multi-circuit.v1", input=MULTI)
    assert (await job(manual_api, parent_id))["status"] == "submitted"
    manual_clock.advance(0.5)
    assert (await job(manual_api, parent_id))["status"] == "ready"
    manual_clock.advance(1.0)
    parent = await job(manual_api, parent_id)
    assert parent["status"] == "started" and parent["started_at"] == at(manual_clock)


async def test_cancelling_a_parent_cancels_its_children(
    manual_api: ApiCaller, manual_clock: ManualClock
) -> None:
    parent_id = await manual_api.submit(type="ionq.multi-circuit.v1", input=MULTI)
    manual_clock.advance(2.0)
    status, body, _ = await manual_api.put(f"/jobs/{parent_id}/status/cancel")
    assert (status, body) == (200, {"id": parent_id, "status": "canceled"})
    parent = await job(manual_api, parent_id)
    assert parent["status"] == "canceled"
    for child_id in parent["child_job_ids"]:
        assert (await job(manual_api, child_id))["status"] == "canceled"


async def test_deleting_a_parent_deletes_its_children(manual_api: ApiCaller) -> None:
    parent_id = await manual_api.submit(type="ionq.multi-circuit.v1", input=MULTI)
    children = (await job(manual_api, parent_id))["child_job_ids"]
    assert (await manual_api.delete(f"/jobs/{parent_id}"))[0] == 200
    for job_id in [parent_id, *children]:
        assert (await manual_api.get(f"/jobs/{job_id}"))[0] == 404


# ----------------------------------------------------------------------------- cancel


async def test_cancel_a_started_job(manual_api: ApiCaller, manual_clock: ManualClock) -> None:
    job_id = await manual_api.submit()
    manual_clock.advance(2.0)
    assert (await job(manual_api, job_id))["status"] == "started"
    assert (await manual_api.put(f"/jobs/{job_id}/status/cancel"))[1]["status"] == "canceled"
    manual_clock.advance(60.0)
    await manual_api.emulator.wait_for_simulations()
    canceled = await job(manual_api, job_id)
    assert canceled["status"] == "canceled" and canceled["results"] is None
    assert canceled["completed_at"] == at(manual_clock, -60.0)
    assert canceled["started_at"] == at(manual_clock, -60.5)


async def test_cancelling_a_completed_job_keeps_it_by_default(
    manual_api: ApiCaller, manual_clock: ManualClock
) -> None:
    job_id = await manual_api.submit()
    manual_clock.advance(5.0)
    await manual_api.emulator.wait_for_simulations()
    status, body, _ = await manual_api.put(f"/jobs/{job_id}/status/cancel")
    assert (status, body) == (200, {"id": job_id, "status": "completed"})
    assert (await job(manual_api, job_id))["status"] == "completed"
    assert (await manual_api.get(f"/jobs/{job_id}/results/probabilities"))[0] == 200


async def test_cancelling_a_completed_job_can_be_configured_to_cancel(
    http: Any, manual_clock: ManualClock
) -> None:
    async with Emulator(
        config=EmulatorConfig(cancel_completed="cancel"), clock=manual_clock
    ) as emu:
        api = ApiCaller(emu, http)
        job_id = await api.submit()
        manual_clock.advance(5.0)
        await emu.wait_for_simulations()
        assert (await api.put(f"/jobs/{job_id}/status/cancel"))[1]["status"] == "canceled"
        assert (await job(api, job_id))["status"] == "canceled"


async def test_status_filter_follows_the_clock(
    manual_api: ApiCaller, manual_clock: ManualClock
) -> None:
    first = await manual_api.submit()
    manual_clock.advance(1.0)
    second = await manual_api.submit()
    _, ready, _ = await manual_api.get("/jobs", params={"status": "ready"})
    _, submitted, _ = await manual_api.get("/jobs", params={"status": "submitted"})
    assert [j["id"] for j in ready["jobs"]] == [first]
    assert [j["id"] for j in submitted["jobs"]] == [second]


async def test_session_ends_when_its_duration_runs_out(
    manual_api: ApiCaller, manual_clock: ManualClock
) -> None:
    _, session, _ = await manual_api.post(
        "/sessions", json={"backend": "simulator", "settings": {"duration_limit_min": 1}}
    )
    assert session["settings"]["expires_at"] == at(manual_clock, 60.0)
    manual_clock.advance(61.0)
    _, session, _ = await manual_api.get(f"/sessions/{session['id']}")
    assert session["status"] == "ended" and session["active"] is False
    assert session["ended_at"] == at(manual_clock, -1.0)


async def test_manual_clock_never_goes_backwards() -> None:
    clock = ManualClock(start=100.0)
    assert clock.advance(5.0) == 105.0
    with pytest.raises(ValueError):
        clock.advance(-1.0)
    with pytest.raises(ValueError):
        clock.set(50.0)
    clock.set(200.0)
    assert clock() == 200.0
