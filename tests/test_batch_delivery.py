"""Every outcome a batch counts reaches its consumer: the batch never ends with one in flight."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)
from batch_helpers import quiet

from ionq_async._retry import RetryPolicy
from ionq_async.batch import BatchProgress, PackLimits
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.emulator import Emulator, EmulatorConfig


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(config=EmulatorConfig(time_scale=0.0)) as emulator:
        yield emulator


AGGREGATED = "/v0.4/jobs/{job_id}/results/probabilities/aggregated"


def small(index: int) -> Circuit:
    circuit = Circuit(qubits=2, name=f"c{index}")
    if index & 1:
        circuit.x(0)
    return circuit


async def test_outcomes_queued_behind_a_slow_consumer_all_arrive(emu: Emulator) -> None:
    # Eight packs end while the consumer lags: their finishers fill the outcome stream's
    # buffer (1,024) and then wait to send, side by side, until the very end. The batch
    # must not end (cancelling the sends still waiting) before the last is delivered.
    # Before the fix 1-4 outcomes went missing here, and progress still said all done.
    total = 4_000
    circuits = [small(i) for i in range(total)]
    last: list[BatchProgress] = []
    async with Client(api_key=emu.api_key, base_url=emu.url, retry=RetryPolicy.no_wait()) as client:
        run = client.run_many(
            circuits, pack=PackLimits(max_circuits=500), shots=10, progress=last.append
        )
        async with run:
            seen: Counter[int] = Counter()
            async for outcome in run:
                seen[outcome.index] += 1
                if len(seen) == 1:
                    # Read nothing more until every pack's results are in: their finishers
                    # fill the stream's buffer and then queue up behind it.
                    while emu.stats.requests("GET", AGGREGATED) < total // 500:
                        await quiet()
                    await quiet()
    assert sorted(seen) == list(range(total))
    assert set(seen.values()) == {1}
    assert last[-1].done == total
