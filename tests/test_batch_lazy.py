"""run_many reads its input lazily: generators and async iterables, never held as a list.

Against the emulator over loopback. The bound on circuits read ahead of their outcomes is
patched small in the module that defines it (``ionq_async._batch.values``), which the
engine reads when a batch starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from batch_helpers import SetPollSchedules

from ionq_async import Client, RetryPolicy, SyncClient
from ionq_async._batch import values as batch_values
from ionq_async.batch import BatchProgress, PollSchedule
from ionq_async.circuits import Circuit
from ionq_async.emulator import BackgroundEmulator, Emulator, EmulatorConfig
from ionq_async.exceptions import BatchTimeoutError, CircuitError

FAST = PollSchedule(initial_s=0.002, factor=1.0, max_s=0.002, jitter=0.0)


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    poll_schedules(FAST, FAST)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(config=EmulatorConfig(time_scale=0.0)) as emulator:
        yield emulator


def client_for(emu: Emulator) -> Client:
    return Client(api_key=emu.api_key, base_url=emu.url, retry=RetryPolicy.no_wait())


def basis(index: int, qubits: int = 6) -> Circuit:
    circuit = Circuit(qubits=qubits, name=f"b{index}")
    for bit in range(qubits):
        if index >> bit & 1:
            circuit.x(bit)
    return circuit


class CountingInput:
    """A generator of basis circuits that counts how far it has been read."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.read = 0

    def __iter__(self) -> Iterator[Circuit]:
        for index in range(self.count):
            self.read += 1
            yield basis(index % 64)


@pytest.mark.parametrize("pack", [False, True])
async def test_a_generator_is_read_only_as_far_as_the_bound_allows(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, pack: bool
) -> None:
    monkeypatch.setattr(batch_values, "MAX_HELD_CIRCUITS", 40)
    source = CountingInput(500)
    ahead: list[int] = []
    totals: list[int | None] = []
    delivered = 0

    def progress(state: BatchProgress) -> None:
        totals.append(state.total)

    async with client_for(emu) as client:
        run = client.run_many(
            iter(source),
            max_in_flight=10,
            pack=batch_values.PackLimits(max_circuits=8) if pack else False,
            progress=progress,
        )
        async with run:
            async for outcome in run:
                delivered += 1
                ahead.append(source.read - delivered)
                assert outcome.unwrap().probabilities == {outcome.index % 64: 1.0}
                assert outcome.circuit.name == f"b{outcome.index % 64}"
    assert delivered == 500
    # Never more than the bound read ahead of the consumer (plus the one being delivered).
    assert max(ahead) <= 40
    # The generator's length was unknown until it ended.
    assert totals[0] is None
    assert totals[-1] == 500


async def test_an_async_iterable_feeds_a_batch(emu: Emulator) -> None:
    async def circuits() -> AsyncIterator[Circuit]:
        for index in range(30):
            yield basis(index)

    async with client_for(emu) as client:
        outcomes = await client.gather(circuits(), pack=True)
    assert [o.index for o in outcomes] == list(range(30))
    assert all(o.unwrap().probabilities == {o.index: 1.0} for o in outcomes)


async def test_an_input_that_breaks_ends_with_its_error_and_keeps_what_was_read(
    emu: Emulator,
) -> None:
    def circuits() -> Iterator[Circuit]:
        for index in range(5):
            yield basis(index)
        raise RuntimeError("the data file is truncated")

    async with client_for(emu) as client:
        outcomes = await client.gather(circuits())
    assert [o.index for o in outcomes] == [0, 1, 2, 3, 4, 5]
    assert all(o.ok for o in outcomes[:5])
    error = outcomes[5].error
    assert isinstance(error, CircuitError)
    assert "reading item 5 of the input failed" in str(error)
    assert isinstance(error.__cause__, RuntimeError)
    assert emu.stats.jobs_created == 5


async def test_a_timeout_gives_the_unread_rest_of_the_input_its_outcomes(
    manual_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Jobs never finish (the manual clock does not move): the timeout ends the batch.
    monkeypatch.setattr(batch_values, "MAX_HELD_CIRCUITS", 4)
    source = CountingInput(12)
    async with Client(
        api_key=manual_emulator.api_key, base_url=manual_emulator.url, retry=RetryPolicy.no_wait()
    ) as client:
        outcomes = await client.gather(iter(source), max_in_flight=2, timeout_s=0.3)
    assert source.read == 12
    assert [o.index for o in outcomes] == list(range(12))
    assert not any(o.ok for o in outcomes)
    # The rest was read for its outcome, never sent.
    assert manual_emulator.stats.jobs_created <= 4
    assert sum(isinstance(o.error, BatchTimeoutError) for o in outcomes) >= 8


async def test_a_misspelled_option_is_one_type_error_before_anything_runs(
    emu: Emulator,
) -> None:
    async with client_for(emu) as client:
        with pytest.raises(TypeError, match=r"unexpected option 'shot'; did you mean 'shots'"):
            client.run_many([basis(1)], shot=1000)
        with pytest.raises(TypeError, match=r"'noise'.*did you mean .*'noise_model'"):
            client.run_sweep(basis(1), [{}], noise="aria-1")
        with pytest.raises(TypeError, match="unexpected option 'shot'"):
            await client.gather([basis(1)], shot=1000)
    assert emu.stats.jobs_created == 0


def test_the_sync_facade_checks_options_and_reads_a_generator(emu_url_key: tuple[str, str]) -> None:
    url, key = emu_url_key
    with SyncClient(api_key=key, base_url=url, retry=RetryPolicy.no_wait()) as client:
        with pytest.raises(TypeError, match="did you mean 'shots'"):
            client.run_many([basis(1)], shot=10)
        outcomes = client.gather(basis(i) for i in range(6))
    assert [o.unwrap().probabilities for o in outcomes] == [{i: 1.0} for i in range(6)]


@pytest.fixture
def emu_url_key() -> Iterator[tuple[str, str]]:
    with BackgroundEmulator(config=EmulatorConfig(time_scale=0.0)) as emulator:
        yield emulator.url, emulator.api_key


async def test_an_outcome_carries_the_circuit_as_the_caller_gave_it(emu: Emulator) -> None:
    qiskit = pytest.importorskip("qiskit")
    circuit = qiskit.QuantumCircuit(2, 2)
    circuit.x(1)
    circuit.measure([0, 1], [0, 1])
    qasm = 'OPENQASM 2.0; include "qelib1.inc"; qreg q[1]; x q[0];'
    async with client_for(emu) as client:
        outcomes = await client.gather([circuit, qasm])
    # The Qiskit circuit and the QASM text themselves, not their conversions.
    assert outcomes[0].circuit is circuit
    assert outcomes[1].circuit is qasm
    assert outcomes[0].unwrap().probabilities == {2: 1.0}
