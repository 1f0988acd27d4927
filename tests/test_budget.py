"""Money: a batch priced before it is sent, a budget it cannot cross, spend tracked.

Against the emulator over loopback; its QPU prices are its own (a per-job minimum of
$97.50 on qpu.aria-1 makes small jobs cost exactly that).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from batch_helpers import SetPollSchedules

from ionq_async import BudgetExceededError, Circuit, Client, RetryPolicy
from ionq_async.batch import BatchProgress, PollSchedule
from ionq_async.emulator import Emulator, EmulatorConfig

FAST = PollSchedule(initial_s=0.002, factor=1.0, max_s=0.002, jitter=0.0)
QPU = "qpu.aria-1"


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    poll_schedules(FAST, FAST)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(config=EmulatorConfig(time_scale=0.0)) as emulator:
        yield emulator


def client_for(emu: Emulator) -> Client:
    return Client(api_key=emu.api_key, base_url=emu.url, retry=RetryPolicy.no_wait())


def small(index: int) -> Circuit:
    return Circuit(qubits=2, name=f"c{index}").h(0).cnot(0, 1)


async def job_price(client: Client) -> float:
    estimate = await client.estimate_batch([small(0)], backend=QPU, shots=100)
    return estimate.total


async def test_a_batch_is_priced_once_per_shape_and_nothing_is_created(emu: Emulator) -> None:
    async with client_for(emu) as client:
        estimate = await client.estimate_batch(
            [small(i) for i in range(20)], backend=QPU, shots=100
        )
        packed = await client.estimate_batch(
            [small(i) for i in range(20)], backend=QPU, shots=100, pack=True
        )
    assert estimate.total > packed.total > 0
    assert len(estimate.jobs) == 20 and len(packed.jobs) == 1
    assert emu.stats.requests("GET", "/v0.4/jobs/estimate") == 2
    assert emu.stats.jobs_created == 0


async def test_a_batch_over_its_budget_raises_before_any_job(emu: Emulator) -> None:
    async with client_for(emu) as client:
        price = await job_price(client)
        with pytest.raises(BudgetExceededError) as caught:
            async for _ in client.run_many(
                [small(i) for i in range(5)], backend=QPU, shots=100, max_cost=price * 4.5
            ):
                pass
    assert caught.value.estimate is not None
    assert caught.value.estimate.total == pytest.approx(price * 5)
    assert emu.stats.jobs_created == 0


async def test_a_running_batch_stops_creating_jobs_at_its_budget(emu: Emulator) -> None:
    # A generator is not priced up front: the running check stops it, job by job.
    def circuits() -> Iterator[Circuit]:
        for index in range(6):
            yield small(index)

    progress: list[BatchProgress] = []
    async with client_for(emu) as client:
        price = await job_price(client)
        outcomes = await client.gather(
            circuits(), backend=QPU, shots=100, max_cost=price * 3.5, progress=progress.append
        )
        spend = client.spend
    assert [o.ok for o in outcomes] == [True] * 3 + [False] * 3
    for outcome in outcomes[3:]:
        assert isinstance(outcome.error, BudgetExceededError)
        assert outcome.error.index == outcome.index
    assert emu.stats.jobs_created == 3
    assert progress[-1].estimated_cost == pytest.approx(price * 3)
    assert progress[-1].actual_cost > 0
    assert spend.by_backend()[QPU].jobs == 3


async def test_simulator_jobs_pass_any_budget_and_ask_no_price(emu: Emulator) -> None:
    async with client_for(emu) as client:
        outcomes = await client.gather([small(i) for i in range(4)], shots=10, max_cost=0)
    assert all(o.ok for o in outcomes)
    assert emu.stats.requests("GET", "/v0.4/jobs/estimate") == 0


async def test_a_session_is_ended_on_the_way_out_even_on_error(emu: Emulator) -> None:
    async with client_for(emu) as client:
        with pytest.raises(RuntimeError, match="in the block"):
            async with client.session(backend=QPU, max_jobs=5) as session:
                session_id = session.id
                await client.run(small(0), backend=QPU, shots=100, session_id=session_id)
                raise RuntimeError("in the block")
        ended = await client.get_session(session_id)
    assert ended.status is not None and "end" in str(ended.status).lower()


async def test_a_listed_batch_asks_each_price_once_for_both_budget_checks(emu: Emulator) -> None:
    # The up-front estimate and the job-by-job check share one pricer: five circuits of
    # one shape cost one estimate request in all (before, the running check asked again).
    async with client_for(emu) as client:
        outcomes = await client.gather(
            [small(i) for i in range(5)], backend=QPU, shots=100, max_cost=10_000
        )
    assert all(o.ok for o in outcomes)
    assert emu.stats.requests("GET", "/v0.4/jobs/estimate") == 1
