"""Per-shot memory: client.result(job, memory=True), run_many(..., memory=True), at one
extra request per job and only when asked; memory agrees with the API's histogram."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest
from batch_helpers import SetPollSchedules

from ionq_async import Circuit, Client, InvalidRequestError, Readout, RetryPolicy
from ionq_async.batch import PollSchedule
from ionq_async.emulator import Emulator, EmulatorConfig

FAST = PollSchedule(initial_s=0.002, factor=1.0, max_s=0.002, jitter=0.0)
SHOTS_ROUTE = "/v0.4/jobs/{job_id}/results/shots"


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    poll_schedules(FAST, FAST)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(config=EmulatorConfig(time_scale=0.0, seed=7)) as emulator:
        yield emulator


def client_for(emu: Emulator) -> Client:
    return Client(api_key=emu.api_key, base_url=emu.url, retry=RetryPolicy.no_wait())


def bell() -> Circuit:
    return Circuit(qubits=2).h(0).cnot(0, 1)


async def test_memory_agrees_with_the_histogram(emu: Emulator) -> None:
    async with client_for(emu) as client:
        job = await client.wait((await client.submit(bell(), shots=64)).id)
        result = await client.result(job, memory=True)
        histogram = await client.histogram(job)
    assert len(result.memory) == 64
    assert set(result.memory) <= {"00", "11"}
    assert Counter(int(bits, 2) for bits in result.memory) == histogram


async def test_memory_is_keyed_by_the_circuits_classical_bits(emu: Emulator) -> None:
    # Classical bit 0 reads qubit 1 (always 1 after x), bit 1 reads qubit 0 (always 0).
    readout = Readout(clbits=(1, 0), style="qiskit")
    circuit = Circuit(qubits=2).x(1).with_readout(readout)
    async with client_for(emu) as client:
        result = await client.result((await client.run(circuit, shots=5)).job.id, memory=True)
    assert result.memory == ["01"] * 5


async def test_memory_not_asked_for_is_not_fetched_and_says_how(emu: Emulator) -> None:
    async with client_for(emu) as client:
        result = await client.run(bell(), shots=10)
    assert emu.stats.requests("GET", SHOTS_ROUTE) == 0
    with pytest.raises(InvalidRequestError, match=r"memory=True"):
        _ = result.memory


@pytest.mark.parametrize("pack", [False, True])
async def test_run_many_fetches_memory_once_per_circuit_when_asked(
    emu: Emulator, pack: bool
) -> None:
    circuits = [bell() for _ in range(6)]
    async with client_for(emu) as client:
        outcomes = await client.gather(circuits, shots=20, memory=True, pack=pack)
    assert emu.stats.requests("GET", SHOTS_ROUTE) == 6
    for outcome in outcomes:
        result = outcome.unwrap()
        assert len(result.memory) == 20
        assert set(result.memory) <= {"00", "11"}
