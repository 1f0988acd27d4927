"""client.run_sweep: one parameterized circuit at many parameter sets, outcomes streamed.

Against the emulator over loopback; Qiskit and Cirq templates run when those extras are
installed (the README's test command installs them).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator

import pytest
from batch_helpers import SetPollSchedules

from ionq_async import Client, Parameter, RetryPolicy, SyncClient
from ionq_async._batch import values as batch_values
from ionq_async.batch import PollSchedule
from ionq_async.circuits import Circuit
from ionq_async.emulator import BackgroundEmulator, Emulator, EmulatorConfig
from ionq_async.exceptions import CircuitError

FAST = PollSchedule(initial_s=0.002, factor=1.0, max_s=0.002, jitter=0.0)
THETA = Parameter("theta")


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    poll_schedules(FAST, FAST)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(config=EmulatorConfig(time_scale=0.0)) as emulator:
        yield emulator


def client_for(emu: Emulator) -> Client:
    return Client(api_key=emu.api_key, base_url=emu.url, retry=RetryPolicy.no_wait())


def rotation() -> Circuit:
    """RY(theta) on qubit 0: P(1) = sin(theta / 2) ** 2."""
    return Circuit(qubits=1, name="ry").ry(THETA, 0)


def p_one(theta: float) -> float:
    return math.sin(theta / 2) ** 2


def check(probabilities: dict[int, float], theta: float) -> None:
    assert math.isclose(probabilities.get(1, 0.0), p_one(theta), abs_tol=1e-9)


@pytest.mark.parametrize("pack", [False, True])
async def test_each_outcome_carries_its_parameter_values_and_bound_circuit(
    emu: Emulator, pack: bool
) -> None:
    angles = [0.0, 0.3, math.pi / 2, math.pi]
    async with client_for(emu) as client:
        run = client.run_sweep(rotation(), ({"theta": a} for a in angles), pack=pack)
        outcomes = sorted([o async for o in run], key=lambda o: o.index)
    assert [o.parameters for o in outcomes] == [{"theta": a} for a in angles]
    for outcome, theta in zip(outcomes, angles, strict=True):
        check(dict(outcome.unwrap().probabilities), theta)
        assert outcome.circuit.parameters == frozenset()
        assert outcome.circuit.to_json()["circuit"][0]["rotation"] == pytest.approx(theta)


async def test_parameter_sets_by_parameter_by_position_and_asynchronously(emu: Emulator) -> None:
    async def sets() -> AsyncIterator[object]:
        yield {THETA: 0.5}  # keyed by the Parameter itself
        yield [1.0]  # one value per parameter, in sorted name order
        yield 1.5  # a single parameter's value alone

    async with client_for(emu) as client:
        outcomes = sorted(
            [o async for o in client.run_sweep(rotation(), sets())], key=lambda o: o.index
        )
    assert [o.parameters for o in outcomes] == [{"theta": v} for v in (0.5, 1.0, 1.5)]
    for outcome in outcomes:
        assert outcome.parameters is not None
        check(dict(outcome.unwrap().probabilities), outcome.parameters["theta"])


async def test_a_set_that_cannot_be_bound_is_its_own_error_and_the_sweep_goes_on(
    emu: Emulator,
) -> None:
    sets = [{"theta": 0.1}, {"phi": 0.2}, {"theta": "big"}, [1, 2], {"theta": 0.4}]
    async with client_for(emu) as client:
        outcomes = sorted(
            [o async for o in client.run_sweep(rotation(), sets)], key=lambda o: o.index
        )
    assert [o.ok for o in outcomes] == [True, False, False, False, True]
    assert all(isinstance(o.error, CircuitError) for o in outcomes if not o.ok)
    assert "leaves theta unbound" in str(outcomes[1].error)
    assert "2 values for 1 parameters" in str(outcomes[3].error)
    assert emu.stats.jobs_created == 2


async def test_a_template_that_cannot_sweep_is_refused_when_called(emu: Emulator) -> None:
    async with client_for(emu) as client:
        with pytest.raises(CircuitError, match="run_sweep needs a circuit"):
            client.run_sweep(object(), [{}])
    assert emu.stats.jobs_created == 0


async def test_ten_thousand_bound_circuits_stream_with_bounded_memory(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sweep is read only as far as the bound allows: memory is bounded by it, not by
    # the number of points.
    monkeypatch.setattr(batch_values, "MAX_HELD_CIRCUITS", 1_000)
    count = 10_000
    read = 0

    def sets() -> Iterator[dict[str, float]]:
        nonlocal read
        for index in range(count):
            read += 1
            yield {"theta": index * math.pi / count}

    delivered = 0
    most_ahead = 0
    async with client_for(emu) as client:
        run = client.run_sweep(
            rotation(), sets(), pack=batch_values.PackLimits(max_circuits=250), shots=100
        )
        async with run:
            async for outcome in run:
                delivered += 1
                most_ahead = max(most_ahead, read - delivered)
                assert outcome.parameters is not None
                check(dict(outcome.unwrap().probabilities), outcome.parameters["theta"])
    assert delivered == count
    assert most_ahead <= 1_000
    assert emu.stats.jobs_created == count // 250


def test_the_sync_facade_sweeps() -> None:
    with (
        BackgroundEmulator(config=EmulatorConfig(time_scale=0.0)) as emu,
        SyncClient(api_key=emu.api_key, base_url=emu.url) as client,
    ):
        outcomes = list(client.run_sweep(rotation(), [[0.2], [0.9]]))
    by_theta = {o.parameters["theta"]: o for o in outcomes if o.parameters}
    assert sorted(by_theta) == [0.2, 0.9]
    for theta, outcome in by_theta.items():
        check(dict(outcome.unwrap().probabilities), theta)


async def test_a_qiskit_template_sweeps_by_its_own_parameters(emu: Emulator) -> None:
    qiskit = pytest.importorskip("qiskit")
    circuit_library = pytest.importorskip("qiskit.circuit")
    alpha = circuit_library.Parameter("alpha")
    template = qiskit.QuantumCircuit(1, 1)
    template.ry(alpha, 0)
    template.measure(0, 0)
    async with client_for(emu) as client:
        outcomes = [o async for o in client.run_sweep(template, [{alpha: 0.7}, {"alpha": 2.0}])]
    assert sorted(o.parameters["alpha"] for o in outcomes if o.parameters) == [0.7, 2.0]
    for outcome in outcomes:
        assert outcome.parameters is not None
        check(dict(outcome.unwrap().probabilities), outcome.parameters["alpha"])


async def test_a_cirq_template_sweeps_over_a_cirq_sweep(emu: Emulator) -> None:
    cirq = pytest.importorskip("cirq")
    sympy = pytest.importorskip("sympy")
    qubit = cirq.LineQubit(0)
    template = cirq.Circuit(cirq.ry(sympy.Symbol("t")).on(qubit), cirq.measure(qubit, key="m"))
    async with client_for(emu) as client:
        run = client.run_sweep(template, cirq.Linspace("t", 0.0, math.pi, 3))
        outcomes = sorted([o async for o in run], key=lambda o: o.index)
    assert [o.parameters for o in outcomes] == [{"t": 0.0}, {"t": math.pi / 2}, {"t": math.pi}]
    for outcome in outcomes:
        assert outcome.parameters is not None
        check(dict(outcome.unwrap().probabilities), outcome.parameters["t"])
