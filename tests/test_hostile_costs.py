"""Prices and billed costs a server should never send: NaN or negative amounts.

A NaN or negative estimate slipped past the budget check (every job was created however
low ``max_cost`` was); a negative or NaN billed cost stopped the whole batch with an
InvalidRequestError. Now the first fails the circuits it priced and creates nothing, and the
second fails only its own circuit, each with a ResponseError naming the amount.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs
import pytest
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)
from batch_helpers import SetPollSchedules

from ionq_async import Circuit, Client, RetryPolicy
from ionq_async.batch import PollSchedule
from ionq_async.emulator import Emulator, EmulatorConfig
from ionq_async.exceptions import ResponseError
from ionq_async.models import Cost, Estimate, Money

QPU = "qpu.aria-1"
FAST = PollSchedule(initial_s=0.002, factor=1.0, max_s=0.002, jitter=0.0)


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    poll_schedules(FAST, FAST)


def bell(index: int) -> Circuit:
    return Circuit(qubits=2, name=f"c{index}").h(0).cnot(0, 1)


@pytest.mark.parametrize("price", [float("nan"), -1.0])
async def test_a_price_that_is_not_an_amount_creates_no_job(price: float) -> None:
    async with Emulator(config=EmulatorConfig(time_scale=0.0)) as emu:
        async with Client(
            api_key=emu.api_key, base_url=emu.url, retry=RetryPolicy.no_wait()
        ) as client:
            real = client.estimate

            async def estimate(*args: Any, **kwargs: Any) -> Estimate:
                answer = await real(*args, **kwargs)
                return attrs.evolve(answer, estimated_total_cost=price, estimated_cost=price)

            client.estimate = estimate  # type: ignore[method-assign]
            outcomes = await client.gather(
                (bell(i) for i in range(5)), backend=QPU, shots=100, max_cost=100.0
            )
        assert emu.stats.jobs_created == 0
    assert len(outcomes) == 5
    for outcome in outcomes:
        assert isinstance(outcome.error, ResponseError)
        assert "not a finite amount >= 0" in str(outcome.error)


@pytest.mark.parametrize("billed", [-5.0, float("nan")])
async def test_a_billed_cost_that_is_not_an_amount_fails_only_its_circuit(
    billed: float,
) -> None:
    async with (
        Emulator(config=EmulatorConfig(time_scale=0.0)) as emu,
        Client(api_key=emu.api_key, base_url=emu.url, retry=RetryPolicy.no_wait()) as client,
    ):
        real = client.cost
        calls = 0

        async def cost(job: Any) -> Cost:
            nonlocal calls
            answer = await real(job)
            calls += 1
            if calls == 1:  # the first bill only
                return attrs.evolve(answer, cost=Money(value=billed, unit="usd"))
            return answer

        client.cost = cost  # type: ignore[method-assign]
        outcomes = await client.gather(
            (bell(i) for i in range(3)), backend=QPU, shots=100, max_cost=1e6
        )
    failed = [outcome for outcome in outcomes if not outcome.ok]
    assert len(outcomes) == 3
    assert len(failed) == 1
    assert isinstance(failed[0].error, ResponseError)
    assert "not a finite amount >= 0" in str(failed[0].error)


# -- the batch's cost sums (what a progress bar and the budget read) ---------------------


async def test_a_creation_that_failed_for_sure_releases_its_estimate() -> None:
    # A job the server refused (a 400: nothing was created) must not stay in the batch's
    # estimated cost; the other jobs' estimates stay.
    from ionq_async.exceptions import BadRequestError
    from ionq_async.models import Job

    reports: list[Any] = []
    async with (
        Emulator(config=EmulatorConfig(time_scale=0.0)) as emu,
        Client(api_key=emu.api_key, base_url=emu.url, retry=RetryPolicy.no_wait()) as client,
    ):
        real = client.submit
        price = (await client.estimate_batch([bell(0)], backend=QPU, shots=100)).total

        @functools.wraps(real)  # run_many checks its options against submit's
        async def submit(circuit: Any, **kwargs: Any) -> Job:
            if getattr(circuit, "name", None) == "c1":
                raise BadRequestError("refused", status=400)
            return await real(circuit, **kwargs)

        client.submit = submit  # type: ignore[method-assign]
        outcomes = await client.gather(
            [bell(i) for i in range(3)],
            backend=QPU,
            shots=100,
            max_cost=1e6,
            progress=reports.append,
        )
    assert [o.ok for o in outcomes] == [True, False, True]
    assert reports[-1].estimated_cost == pytest.approx(2 * price)


async def test_billed_costs_replace_estimates_in_the_sums() -> None:
    async with (
        Emulator(config=EmulatorConfig(time_scale=0.0)) as emu,
        Client(api_key=emu.api_key, base_url=emu.url, retry=RetryPolicy.no_wait()) as client,
    ):
        real = client.cost

        async def cost(job: Any) -> Cost:
            answer = await real(job)
            assert answer.cost is not None
            return attrs.evolve(answer, cost=Money(value=answer.cost.value / 2, unit="usd"))

        client.cost = cost  # type: ignore[method-assign]
        price = (await client.estimate_batch([bell(0)], backend=QPU, shots=100)).total
        reports: list[Any] = []
        outcomes = await client.gather(
            [bell(i) for i in range(4)],
            backend=QPU,
            shots=100,
            max_cost=1e6,
            progress=reports.append,
        )
    assert all(o.ok for o in outcomes)
    assert reports[-1].estimated_cost == pytest.approx(4 * price)
    assert reports[-1].actual_cost == pytest.approx(2 * price)  # billed at half
