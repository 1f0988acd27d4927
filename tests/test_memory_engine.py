"""What a batch keeps per job while 100,000 of them wait, and what each progress report costs.

- A unit waiting for its job keeps its id, not the Job the creation answered (the poller
  has the job; the unit held a second copy, with its metadata, for every job in flight).
- A unit's indices, journal digest and empty lists of duplicates and failed jobs are not
  stored per unit (derived, computed for the record, and shared empty tuples).
- A progress report reads the batch's cost sums, kept as they change: each report summed
  every job's cost record, so a QPU batch with a progress bar was quadratic (100,000 jobs
  never finished being created).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from batch_helpers import SetPollSchedules, when_submitted

from ionq_async import BudgetExceededError, Circuit, Client, RetryPolicy
from ionq_async._batch.planning import Item, Unit
from ionq_async._spend import Spend
from ionq_async.batch import BatchProgress, PollSchedule
from ionq_async.emulator import Emulator, EmulatorConfig, ManualClock
from ionq_async.models import JobStatus

FAST = PollSchedule(initial_s=0.002, factor=1.0, max_s=0.002, jitter=0.0)
QPU = "qpu.aria-1"
HANG_GUARD_S = 30.0  # only a batch that never ends reaches this


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    poll_schedules(FAST, FAST)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(config=EmulatorConfig(time_scale=0.0)) as emulator:
        yield emulator


def client_for(emu: Emulator) -> Client:
    return Client(api_key=emu.api_key, base_url=emu.url, retry=RetryPolicy.no_wait())


def bell(index: int) -> Circuit:
    return Circuit(qubits=2, name=f"c{index}").h(0).cnot(0, 1)


async def test_units_waiting_for_their_jobs_keep_the_id_not_the_job() -> None:
    # The clock never moves: every job waits for as long as the test looks.
    async with Emulator(clock=ManualClock()) as emu, client_for(emu) as client:
        progress, submitted = when_submitted(20)
        run = client.run_many([bell(i) for i in range(20)], progress=progress, max_in_flight=20)
        with anyio.fail_after(HANG_GUARD_S):
            async with run:
                await submitted.wait()
                units = list(run._shared.engine.units.values())
                assert len(units) == 20
                assert all(unit.job_id is not None for unit in units)
                assert [unit.job for unit in units] == [None] * 20
                ids = {unit.job_id for unit in units}
    assert len(ids) == 20


async def test_a_batch_timeout_still_names_each_waiting_job() -> None:
    # The outcome of a job that never ended carries one naming it (built from its id).
    async with Emulator(clock=ManualClock()) as emu, client_for(emu) as client:
        progress, submitted = when_submitted(3)
        run = client.run_many(
            [bell(i) for i in range(3)], progress=progress, timeout_s=1.0, backend=QPU
        )
        with anyio.fail_after(HANG_GUARD_S):
            async with run:
                await submitted.wait()
                ids = set(run.job_ids.values())
                outcomes = [o async for o in run]
    assert {o.job.id for o in outcomes if o.job is not None} == ids
    for outcome in outcomes:
        assert outcome.job is not None
        assert outcome.job.status is JobStatus.SUBMITTED and outcome.job.backend == QPU


def test_a_unit_costs_little_more_than_its_slots() -> None:
    items = [Item(index, None, None) for index in range(10_000)]
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        units = [Unit(index, [item]) for index, item in enumerate(items)]
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    per_unit = (after - before) / len(units)
    # Before: 15 slots, an indices tuple and two empty lists per unit (and, journaled, a digest)
    # (395 bytes here, with the list and the ints); now 13 slots and the items tuple (220).
    assert per_unit < 260, per_unit
    unit = units[7]
    assert unit.indices == (7,)
    assert unit.duplicates == () and unit.failed_jobs == ()


async def test_progress_reports_do_not_sum_every_jobs_cost(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sums = {"estimated": 0, "actual": 0}
    estimated, actual = Spend.estimated, Spend.actual

    def counting(name: str, original: Any) -> Any:
        def wrapper(self: Spend, backend: str | None = None) -> float:
            sums[name] += 1
            return float(original(self, backend))

        return wrapper

    monkeypatch.setattr(Spend, "estimated", counting("estimated", estimated))
    monkeypatch.setattr(Spend, "actual", counting("actual", actual))
    reports: list[BatchProgress] = []
    async with client_for(emu) as client:
        run = client.run_many(
            (bell(i) for i in range(12)),
            backend=QPU,
            shots=100,
            max_cost=1e9,  # actual costs are fetched with a budget: both sums move
            progress=reports.append,
        )
        async with run:
            outcomes = [o async for o in run]
            spend = client.spend  # the same jobs, recorded job by job
    assert all(o.ok for o in outcomes) and len(outcomes) == 12
    assert sums == {"estimated": 0, "actual": 0}  # before: two sums per report
    assert len(reports) > 24
    last = reports[-1]
    assert last.estimated_cost == pytest.approx(estimated(spend)) and last.estimated_cost > 0
    assert last.actual_cost == pytest.approx(actual(spend)) and last.actual_cost > 0
    # Every report agrees with the records as they stood: the sums never go backwards.
    assert [r.estimated_cost for r in reports] == sorted(r.estimated_cost for r in reports)


async def test_the_budget_check_reads_a_running_sum_not_every_jobs_record(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each job's check summed every record (Spend.would_cross): quadratic in the batch.
    calls = {"would_cross": 0, "committed": 0}
    would_cross, committed = Spend.would_cross, Spend.committed

    def count_cross(self: Spend, budget: float, next_cost: float) -> bool:
        calls["would_cross"] += 1
        return would_cross(self, budget, next_cost)

    def count_committed(self: Spend, remaining_estimate: float = 0.0) -> float:
        calls["committed"] += 1
        return committed(self, remaining_estimate)

    monkeypatch.setattr(Spend, "would_cross", count_cross)
    monkeypatch.setattr(Spend, "committed", count_committed)
    async with client_for(emu) as client:
        price = (await client.estimate_batch([bell(0)], backend=QPU, shots=100)).total
        outcomes = await client.gather(
            (bell(i) for i in range(8)), backend=QPU, shots=100, max_cost=price * 3.5
        )
    assert [o.ok for o in outcomes] == [True] * 3 + [False] * 5
    refused = outcomes[3].error
    assert isinstance(refused, BudgetExceededError)
    assert refused.committed == pytest.approx(price * 3)
    assert emu.stats.jobs_created == 3
    assert calls == {"would_cross": 0, "committed": 0}
