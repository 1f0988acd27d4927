"""Cirq circuits through from_cirq and the client, checked against Cirq's own simulators.

Qubit 0 of a converted circuit is the first of ``sorted(circuit.all_qubits())`` and, as in
every IonQ result, the least significant bit; Cirq's ``final_state_vector`` puts that same
qubit in the most significant bit, so the tests compare a state of ours with Cirq's index
of the reversed bits. Probabilities of converted circuits run on the emulator over
loopback equal Cirq's within 1e-9; results read per key through the circuit's Readout are
the integers Cirq's ``Result.histogram(key=...)`` counts; symbols bind as
``cirq.resolve_parameters`` resolves them.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

import numpy as np
import pytest

cirq = pytest.importorskip("cirq")
sympy = pytest.importorskip("sympy")
openqasm3 = pytest.importorskip("openqasm3")

from ionq_async import interop  # noqa: E402
from ionq_async.circuits import Circuit  # noqa: E402
from ionq_async.client import Client  # noqa: E402
from ionq_async.emulator import Emulator, EmulatorConfig  # noqa: E402
from ionq_async.emulator.simulator import simulate_statevector  # noqa: E402
from ionq_async.exceptions import CircuitError, MissingExtraError  # noqa: E402
from ionq_async.interop.cirq import from_cirq  # noqa: E402
from ionq_async.programs import Qasm3Program  # noqa: E402
from ionq_async.readout import Readout  # noqa: E402

TOLERANCE = 1e-9

ONE_QUBIT: dict[Any, int] = {
    cirq.X: 1,
    cirq.Y: 1,
    cirq.Z: 1,
    cirq.H: 1,
    cirq.S: 1,
    cirq.T: 1,
    cirq.X**0.5: 1,
    cirq.X**-0.5: 1,
    cirq.Z**-0.25: 1,
    cirq.Z**0.37: 1,
    cirq.Y**0.61: 1,
    cirq.rx(0.7): 1,
    cirq.ry(-1.3): 1,
    cirq.rz(2.2): 1,
    cirq.PhasedXPowGate(phase_exponent=0.3, exponent=0.6): 1,
}
TWO_QUBIT: dict[Any, int] = {
    cirq.CNOT: 2,
    cirq.CZ: 2,
    cirq.CZ**0.3: 2,
    cirq.CXPowGate(exponent=0.4, global_shift=0.3): 2,
    cirq.ControlledGate(cirq.XPowGate(exponent=0.3, global_shift=0.2)): 2,
    cirq.ControlledGate(cirq.Y**0.45): 2,
    cirq.SWAP: 2,
    cirq.XX**0.21: 2,
    cirq.YY**-0.4: 2,
    cirq.ZZ**0.3: 2,
    cirq.ISWAP: 2,
    cirq.FSimGate(theta=0.3, phi=0.2): 2,
}
THREE_QUBIT: dict[Any, int] = {
    cirq.CCX: 3,
    cirq.CCZ**0.5: 3,
    cirq.CSWAP: 3,
    cirq.ControlledGate(cirq.rx(0.4), num_controls=2): 3,
}


class UnitaryOnly(cirq.Gate):  # type: ignore[misc]
    """A gate that gives Cirq only its matrix (no decomposition): Cirq's matrix
    decompositions take it apart."""

    def __init__(self, qubits: int, seed: int) -> None:
        self._qubits = qubits
        self._matrix = cirq.testing.random_unitary(2**qubits, random_state=seed)

    def _num_qubits_(self) -> int:
        return self._qubits

    def _unitary_(self) -> np.ndarray:
        return self._matrix

    def _circuit_diagram_info_(self, args: Any) -> tuple[str, ...]:
        return ("U",) * self._qubits

    def __str__(self) -> str:
        return f"UnitaryOnly({self._qubits})"


def line(n: int) -> list[Any]:
    return list(cirq.LineQubit.range(n))


def grid(n: int) -> list[Any]:
    return list(cirq.GridQubit.rect(2, (n + 1) // 2))[:n]


def named(n: int) -> list[Any]:
    # Out of order on purpose: Cirq sorts names naturally (q2 before q10).
    return [cirq.NamedQubit(f"q{10 * (n - i)}") for i in range(n)]


def random_case(n: int, seed: int, qubits: list[Any], measured: bool) -> Any:
    """A random circuit of gates IonQ runs (or Cirq decomposes into them), with final
    measurements of every qubit in a random order under random keys when ``measured``."""
    domain = {**ONE_QUBIT, **TWO_QUBIT, **(THREE_QUBIT if n >= 3 else {})}
    circuit = cirq.testing.random_circuit(
        qubits, n_moments=8, op_density=0.8, gate_domain=domain, random_state=seed
    )
    rng = np.random.default_rng(seed)
    order = [qubits[i] for i in rng.permutation(n)]
    if measured:
        cut = int(rng.integers(1, n))
        circuit.append(
            [cirq.measure(*order[:cut], key="first"), cirq.measure(*order[cut:], key="second")]
        )
    else:
        # Every qubit in the circuit, so that sorted(all_qubits()) is the whole register.
        circuit.append(cirq.I.on_each(*qubits))
    return circuit


CASES: list[tuple[str, Any]] = [
    (f"{kind.__name__}-{n}q-seed{seed}-{'measured' if measured else 'bare'}", case)
    for n in range(2, 9)
    for seed, kind, measured in ((n, line, True), (100 + n, grid, False), (200 + n, named, True))
    for case in [random_case(n, seed, kind(n), measured)]
]


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with (
        Emulator(config=EmulatorConfig(time_scale=0.0)) as emu,
        Client(api_key=emu.api_key, base_url=emu.url) as c,
    ):
        yield c


async def run_all(client: Client, circuits: Sequence[Any]) -> list[dict[int, float]]:
    """Each circuit's probabilities from the emulator, in input order."""
    out: list[dict[int, float]] = [{} for _ in circuits]
    async with client.run_many(circuits, shots=1000) as run:
        async for outcome in run:
            out[outcome.index] = dict(outcome.unwrap().probabilities)
    return out


def reverse_bits(state: int, width: int) -> int:
    return int(format(state, f"0{width}b")[::-1], 2)


def cirq_probabilities(circuit: Any) -> np.ndarray:
    """|amplitude|² in Cirq's order (first of the sorted qubits most significant)."""
    vector = cirq.final_state_vector(
        circuit, ignore_terminal_measurements=True, dtype=np.complex128
    )
    return np.abs(vector) ** 2


def as_cirq_index(ours: dict[int, float], width: int) -> dict[int, float]:
    return {reverse_bits(state, width): p for state, p in ours.items()}


def assert_close(ours: dict[int, float], theirs: dict[int, float], label: str) -> None:
    for state in set(ours) | set(theirs):
        gap = abs(ours.get(state, 0.0) - theirs.get(state, 0.0))
        assert gap <= TOLERANCE, f"{label}: state {state} differs by {gap}"


def nonzero(probabilities: np.ndarray) -> dict[int, float]:
    return {int(i): float(p) for i, p in enumerate(probabilities) if p > 1e-13}


def cirq_key_probabilities(circuit: Any, key: str) -> dict[int, float]:
    """Each value of ``key`` as Cirq reads it (its first qubit most significant), with its
    probability, from Cirq's final density matrix in Cirq's own bit order."""
    qubits = sorted(circuit.all_qubits())
    width = len(qubits)
    (measurement,) = [
        op
        for op in circuit.all_operations()
        if cirq.is_measurement(op) and cirq.measurement_key_name(op) == key
    ]
    positions = [qubits.index(qubit) for qubit in measurement.qubits]
    final = cirq.final_density_matrix(circuit, ignore_measurement_results=True, dtype=np.complex128)
    out: dict[int, float] = {}
    for index, p in enumerate(np.real(np.diag(final))):
        value = 0
        for position in positions:
            value = (value << 1) | ((index >> (width - 1 - position)) & 1)
        out[value] = out.get(value, 0.0) + float(p)
    return out


def per_key_probabilities(readout: Readout, probabilities: dict[int, float]) -> dict[str, Any]:
    # per_key sums whatever it is given per value: probabilities in, probabilities out.
    return readout.per_key(probabilities)  # type: ignore[arg-type]


def our_unitary_in_cirq_order(circuit: Circuit) -> np.ndarray:
    """The converted circuit's unitary (the emulator's simulator, column by column),
    rows and columns in Cirq's bit order."""
    width = circuit.num_qubits
    columns = []
    for state in range(2**width):
        initial = np.zeros(2**width, dtype=np.complex128)
        initial[state] = 1
        columns.append(simulate_statevector(width, circuit.gates, initial_state=initial))
    unitary = np.array(columns).T
    order = [reverse_bits(i, width) for i in range(2**width)]
    return unitary[np.ix_(order, order)]


# ---------------------------------------------------------------------------------------
# Qubit order.


def test_the_first_of_the_sorted_qubits_is_qubit_0_the_least_significant_bit() -> None:
    a, b, c = cirq.LineQubit.range(3)
    converted = from_cirq(cirq.Circuit(cirq.X(a), cirq.I(b), cirq.I(c)))
    assert isinstance(converted, Circuit)
    assert [gate.to_json() for gate in converted.gates] == [{"gate": "x", "target": 0}]
    # Cirq puts the same qubit in the most significant bit of its state index.
    assert nonzero(cirq_probabilities(cirq.Circuit(cirq.X(a), cirq.I(b), cirq.I(c)))) == {4: 1.0}


def test_qubits_are_numbered_in_cirqs_sorted_order_not_by_their_coordinates() -> None:
    far, near = cirq.GridQubit(3, 0), cirq.GridQubit(0, 7)
    ten, two = cirq.NamedQubit("q10"), cirq.NamedQubit("q2")
    converted = from_cirq(cirq.Circuit(cirq.CNOT(far, near), cirq.CNOT(ten, two)))
    assert isinstance(converted, Circuit)
    # Cirq's order: grid qubits by row then column, then names sorted naturally (q2, q10).
    assert sorted([far, near, ten, two]) == [near, far, two, ten]
    assert [gate.to_json() for gate in converted.gates] == [
        {"gate": "cnot", "target": 0, "controls": [1]},
        {"gate": "cnot", "target": 2, "controls": [3]},
    ]


# ---------------------------------------------------------------------------------------
# Probabilities, over loopback.


async def test_random_circuits_run_on_the_emulator_with_cirqs_probabilities(
    client: Client,
) -> None:
    results = await run_all(client, [from_cirq(circuit) for _, circuit in CASES])
    for (label, circuit), ours in zip(CASES, results, strict=True):
        width = len(circuit.all_qubits())
        assert_close(as_cirq_index(ours, width), nonzero(cirq_probabilities(circuit)), label)


async def run_one(client: Client, circuit: Any) -> dict[int, float]:
    """Submit (foreign circuits and programs as they are), wait, and read probabilities."""
    created = await client.submit(circuit, shots=100)
    await client.wait(created.id)
    return await client.probabilities(created.id)


def bell() -> Any:
    a, b = cirq.LineQubit.range(2)
    return cirq.Circuit(cirq.H(a), cirq.CNOT(a, b), cirq.measure(a, b, key="m"))


async def test_a_cirq_circuit_goes_to_submit_as_it_is(client: Client) -> None:
    assert await run_one(client, bell()) == {0: 0.5, 3: 0.5}


async def test_a_cirq_circuit_goes_to_run_as_it_is(client: Client) -> None:
    result = await client.run(bell(), shots=100)
    assert result.probabilities == {0: 0.5, 3: 0.5}


# ---------------------------------------------------------------------------------------
# Gates: the same matrix as Cirq's (up to one global phase for the whole circuit).


def _gate_cases() -> list[tuple[str, Any]]:
    a, b, c, d = cirq.LineQubit.range(4)
    cases: list[tuple[str, Any]] = []
    one = [
        cirq.X,
        cirq.X**0.3,
        cirq.XPowGate(exponent=0.3, global_shift=0.2),
        cirq.Y**0.7,
        cirq.Z**0.25,
        cirq.Z**2.25,
        cirq.Z**0.37,
        cirq.rx(1.1),
        cirq.rx(2 * np.pi),
        cirq.H,
        cirq.H**0.3,
        cirq.PhasedXPowGate(phase_exponent=0.2, exponent=0.4),
        cirq.MatrixGate(cirq.testing.random_unitary(2, random_state=3)),
        UnitaryOnly(1, seed=5),
    ]
    for gate in one:
        cases.append((str(gate), cirq.Circuit(cirq.H(a), gate.on(b))))
        cases.append((f"C-{gate}", cirq.Circuit(cirq.H(a), gate.on(b).controlled_by(a))))
        cases.append(
            (
                f"CC-{gate}",
                cirq.Circuit(cirq.H.on_each(a, b), gate.on(c).controlled_by(a, b)),
            )
        )
        cases.append(
            (
                f"open-C-{gate}",
                cirq.Circuit(cirq.H(a), gate.on(b).controlled_by(a, control_values=[0])),
            )
        )
    two = [
        cirq.CNOT,
        cirq.CZ**0.3,
        cirq.CXPowGate(exponent=0.4, global_shift=0.3),
        cirq.XX**0.3,
        cirq.YYPowGate(exponent=0.3, global_shift=0.1),
        cirq.ZZ**0.3,
        cirq.SWAP,
        cirq.SWAP**0.5,
        cirq.ISWAP**0.3,
        cirq.FSimGate(0.3, 0.2),
        cirq.MatrixGate(cirq.testing.random_unitary(4, random_state=3)),
        UnitaryOnly(2, seed=6),
    ]
    for gate in two:
        cases.append((str(gate), cirq.Circuit(cirq.H(a), gate.on(a, b))))
        cases.append(
            (f"C-{gate}", cirq.Circuit(cirq.H.on_each(a, b, c), gate.on(b, c).controlled_by(a)))
        )
    three = [
        cirq.CCX,
        cirq.CCZ**0.3,
        cirq.CSWAP,
        cirq.MatrixGate(cirq.testing.random_unitary(8, random_state=3)),
        cirq.qft(a, b, c).gate,
        UnitaryOnly(3, seed=7),
    ]
    for gate in three:
        cases.append((str(gate), cirq.Circuit(cirq.H.on_each(a, b), gate.on(a, b, c))))
        cases.append(
            (
                f"C-{gate}",
                cirq.Circuit(cirq.H.on_each(a, b, d), gate.on(a, b, c).controlled_by(d)),
            )
        )
    cases.append(
        (
            "C-global-phase",
            cirq.Circuit(cirq.H(a), cirq.global_phase_operation(1j).controlled_by(a)),
        )
    )
    cases.append(("CCC-X", cirq.Circuit(cirq.H.on_each(a, c, d), cirq.X(b).controlled_by(a, c, d))))
    return cases


@pytest.mark.parametrize(
    ("label", "circuit"), _gate_cases(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_each_gate_converts_to_the_matrix_cirq_gives_it(label: str, circuit: Any) -> None:
    converted = from_cirq(circuit)
    assert isinstance(converted, Circuit)
    assert cirq.allclose_up_to_global_phase(
        our_unitary_in_cirq_order(converted), cirq.unitary(circuit), atol=TOLERANCE
    ), label


def test_gates_ionq_runs_map_one_to_one_with_rotation_exponent_times_pi() -> None:
    a, b, c = cirq.LineQubit.range(3)
    circuit = cirq.Circuit(
        cirq.X(a),
        (cirq.X**0.5).on(a),
        (cirq.X**-0.5).on(a),
        cirq.S(a),
        (cirq.S**-1).on(a),
        cirq.T(a),
        (cirq.T**-1).on(a),
        (cirq.Y**0.25).on(a),
        cirq.rz(0.5).on(a),
        cirq.CNOT(a, b),
        cirq.CCZ(a, b, c),
        cirq.SWAP(a, b),
        (cirq.XX**0.5).on(a, b),
        (cirq.ZZ**-0.25).on(b, c),
    )
    converted = from_cirq(circuit)
    assert isinstance(converted, Circuit)
    assert [gate.to_json() for gate in converted.gates] == [
        {"gate": "x", "target": 0},
        {"gate": "v", "target": 0},
        {"gate": "vi", "target": 0},
        {"gate": "s", "target": 0},
        {"gate": "si", "target": 0},
        {"gate": "t", "target": 0},
        {"gate": "ti", "target": 0},
        {"gate": "ry", "target": 0, "rotation": 0.25 * np.pi},
        {"gate": "rz", "target": 0, "rotation": 0.5},
        {"gate": "cnot", "target": 1, "controls": [0]},
        {"gate": "z", "target": 2, "controls": [0, 1]},
        {"gate": "swap", "targets": [0, 1]},
        {"gate": "xx", "targets": [0, 1], "rotation": 0.5 * np.pi},
        {"gate": "zz", "targets": [1, 2], "rotation": -0.25 * np.pi},
    ]


# ---------------------------------------------------------------------------------------
# Measurement keys.


def test_keys_become_registers_in_order_of_appearance_bits_in_measurement_order() -> None:
    a, b, c, d = cirq.LineQubit.range(4)
    converted = from_cirq(
        cirq.Circuit(cirq.H(a), cirq.measure(d, b, key="zeta"), cirq.measure(c, a, key="alpha"))
    )
    assert isinstance(converted, Circuit)
    assert converted.readout == Readout(
        clbits=(3, 1, 2, 0), registers=(("zeta", (0, 1)), ("alpha", (2, 3))), style="cirq"
    )


async def test_per_key_counts_equal_cirqs_histogram(client: Client) -> None:
    a, b, c, d, e = cirq.GridQubit.rect(1, 5)
    circuit = cirq.Circuit(
        cirq.X.on_each(a, d),
        cirq.measure(d, a, b, key="first"),
        cirq.measure(e, c, key="second"),
    )
    converted = from_cirq(circuit)
    assert isinstance(converted, Circuit) and converted.readout is not None
    result = await client.run(converted, shots=50)
    ours = result.per_key()  # the result carries the circuit's readout
    assert ours == converted.readout.per_key(
        {state: round(p * 50) for state, p in result.probabilities.items()}
    )
    simulated = cirq.Simulator(seed=1).run(circuit, repetitions=50)
    assert (
        ours
        == {key: dict(simulated.histogram(key=key)) for key in ("first", "second")}
        == {"first": {0b110: 50}, "second": {0: 50}}
    )


async def test_random_circuits_read_per_key_as_cirq_reads_its_keys(client: Client) -> None:
    measured = [(label, circuit) for label, circuit in CASES if "measured" in label]
    converted = [from_cirq(circuit) for _, circuit in measured]
    results = await run_all(client, converted)
    for (label, circuit), ours, program in zip(measured, results, converted, strict=True):
        assert isinstance(program, Circuit) and program.readout is not None
        per_key = per_key_probabilities(program.readout, ours)
        sampled = cirq.Simulator(seed=7).run(circuit, repetitions=200)
        for key in ("first", "second"):
            assert_close(per_key[key], cirq_key_probabilities(circuit, key), f"{label}/{key}")
            # Every value Cirq samples is one our reading gives a probability.
            assert set(sampled.histogram(key=key)) <= {v for v, p in per_key[key].items() if p > 0}


async def test_an_inverted_measurement_reads_as_cirq_reads_it(client: Client) -> None:
    a, b = cirq.LineQubit.range(2)
    circuit = cirq.Circuit(cirq.X(a), cirq.measure(a, b, key="m", invert_mask=(True, True)))
    converted = from_cirq(circuit)
    assert isinstance(converted, Circuit) and converted.readout is not None
    result = await client.run(converted, shots=10)
    expected = dict(cirq.Simulator().run(circuit, repetitions=10).histogram(key="m"))
    assert converted.readout.per_key(result.counts()) == {"m": expected} == {"m": {0b01: 10}}


def test_a_circuit_without_measurements_has_no_readout() -> None:
    converted = from_cirq(cirq.Circuit(cirq.H(cirq.LineQubit(0))))
    assert isinstance(converted, Circuit)
    assert converted.readout is None


# ---------------------------------------------------------------------------------------
# Mid-circuit measurement: Cirq's OpenQASM 3.


MIXED = [cirq.NamedQubit("z"), cirq.GridQubit(1, 0), cirq.GridQubit(0, 3)]


def mid_circuit(qubits: Sequence[Any] = tuple(cirq.LineQubit.range(3))) -> Any:
    a, b, c = qubits
    return cirq.Circuit(
        cirq.H(a),
        cirq.rx(0.3).on(b),
        cirq.measure(a, key="early"),
        cirq.CNOT(a, b),
        cirq.ry(0.7).on(a),
        cirq.reset(c),
        cirq.CNOT(b, c),
        (cirq.XX**0.37).on(a, c),
        cirq.measure(a, b, c, key="late"),
    )


def test_mid_circuit_measurement_goes_as_cirqs_openqasm_3() -> None:
    program = from_cirq(mid_circuit())
    assert isinstance(program, Qasm3Program)
    assert program.num_qubits == 3
    assert "OPENQASM 3.0;" in program.source
    openqasm3.parse(program.source)  # the reference parser reads it
    # "early" is not in the final state: no readout rather than a wrong one.
    assert program.readout is None


@pytest.mark.parametrize("qubits", [line(3), MIXED], ids=["line", "named-and-grid"])
async def test_mid_circuit_measurement_runs_with_cirqs_probabilities(
    client: Client, qubits: list[Any]
) -> None:
    circuit = mid_circuit(qubits)
    probabilities = await run_one(client, circuit)
    final = cirq.final_density_matrix(circuit, ignore_measurement_results=True, dtype=np.complex128)
    theirs = nonzero(np.real(np.diag(final)))
    assert_close(as_cirq_index(probabilities, 3), theirs, "mid-circuit")


async def test_repeated_subcircuits_and_controlled_phases_run_as_openqasm_3(
    client: Client,
) -> None:
    a, b, c = MIXED
    circuit = cirq.Circuit(
        cirq.CircuitOperation(
            cirq.FrozenCircuit(cirq.H(a), cirq.measure(a, key="m")), repetitions=2
        ),
        cirq.H(b),
        cirq.XPowGate(exponent=0.3, global_shift=0.2).on(c).controlled_by(b),
        cirq.global_phase_operation(1j).controlled_by(b),
        cirq.measure(b, key="k"),
        cirq.ry(0.3).on(b),
        (cirq.CCZ**0.3).on(a, b, c),
        cirq.measure(a, b, c, key="f"),
    )
    program = from_cirq(circuit)
    assert isinstance(program, Qasm3Program)
    final = cirq.final_density_matrix(circuit, ignore_measurement_results=True, dtype=np.complex128)
    theirs = nonzero(np.real(np.diag(final)))
    assert_close(as_cirq_index(await run_one(client, program), 3), theirs, "subcircuits")


def test_a_reset_of_a_used_qubit_goes_as_openqasm_3_and_of_a_fresh_one_is_dropped() -> None:
    a, b = cirq.LineQubit.range(2)
    fresh = from_cirq(cirq.Circuit(cirq.reset(b), cirq.H(a), cirq.CNOT(a, b)))
    assert isinstance(fresh, Circuit) and len(fresh) == 2
    used = from_cirq(cirq.Circuit(cirq.H(a), cirq.CNOT(a, b), cirq.reset(b)))
    assert isinstance(used, Qasm3Program)


async def test_an_openqasm_3_program_keeps_the_readout_of_final_measurements(
    client: Client,
) -> None:
    a, b = cirq.LineQubit.range(2)
    circuit = cirq.Circuit(
        cirq.H(a), cirq.CNOT(a, b), cirq.reset(b), cirq.X(b), cirq.measure(b, a, key="m")
    )
    program = from_cirq(circuit)
    assert isinstance(program, Qasm3Program)
    assert program.readout == Readout(clbits=(1, 0), registers=(("m", (0, 1)),), style="cirq")
    per_key = per_key_probabilities(program.readout, await run_one(client, program))
    assert_close(per_key["m"], cirq_key_probabilities(circuit, "m"), "reset")
    assert set(per_key["m"]) == {0b10, 0b11}  # b was reset, then flipped: always 1


# ---------------------------------------------------------------------------------------
# Symbols.


def symbolic() -> tuple[Any, Any, Any]:
    theta, phi = sympy.Symbol("theta"), sympy.Symbol("phi")
    a, b, c = cirq.LineQubit.range(3)
    circuit = cirq.Circuit(
        cirq.H(a),
        cirq.rx(theta).on(b),
        (cirq.X**phi).on(c).controlled_by(a),
        (cirq.ZZ ** (2 * phi)).on(a, b),
        cirq.PhasedXPowGate(phase_exponent=theta, exponent=0.3).on(c),
        cirq.CZPowGate(exponent=phi, global_shift=0.2).on(b, c).controlled_by(a),
        (cirq.YY**theta).on(b, c),
        (cirq.ISWAP**phi).on(a, b),  # decomposed by Cirq, symbols and all
        (cirq.H**theta).on(c),
        cirq.measure(a, c, key="m"),
    )
    return circuit, theta, phi


def test_symbols_become_parameters() -> None:
    circuit, _, _ = symbolic()
    converted = from_cirq(circuit)
    assert isinstance(converted, Circuit)
    assert converted.parameters == {"theta", "phi"}
    with pytest.raises(CircuitError, match="theta"):
        converted.to_json()


async def test_binding_equals_converting_the_resolved_circuit(client: Client) -> None:
    circuit, _, _ = symbolic()
    converted = from_cirq(circuit)
    assert isinstance(converted, Circuit)
    values = [{"theta": 0.37, "phi": -1.3}, {"theta": 2.0, "phi": 0.5}, {"theta": 1.0, "phi": 1.0}]
    bound = [converted.bind(**value) for value in values]
    resolved = [cirq.resolve_parameters(circuit, value) for value in values]
    ours = await run_all(client, bound + [from_cirq(each) for each in resolved])
    for index, value in enumerate(values):
        theirs = nonzero(cirq_probabilities(resolved[index]))
        assert_close(as_cirq_index(ours[index], 3), theirs, f"bound {value}")
        assert_close(as_cirq_index(ours[len(values) + index], 3), theirs, f"resolved {value}")


def test_binding_an_unknown_symbol_is_refused() -> None:
    circuit, _, _ = symbolic()
    converted = from_cirq(circuit)
    assert isinstance(converted, Circuit)
    with pytest.raises(CircuitError, match="thetta"):
        converted.bind(thetta=0.1, phi=0.2)


def test_symbols_with_mid_circuit_measurement_ask_to_resolve_first() -> None:
    a = cirq.LineQubit(0)
    circuit = cirq.Circuit(
        cirq.measure(a, key="x"), cirq.rx(sympy.Symbol("t")).on(a), cirq.measure(a, key="y")
    )
    with pytest.raises(CircuitError, match=r"resolve_parameters.*|t\b"):
        from_cirq(circuit)


# ---------------------------------------------------------------------------------------
# Clear errors.


@pytest.mark.parametrize(
    ("circuit", "match"),
    [
        (cirq.Circuit(cirq.depolarize(0.1).on(cirq.LineQubit(0))), "not a unitary"),
        (cirq.Circuit(), "no qubits"),
        (
            cirq.Circuit(cirq.measure(cirq.LineQid(0, dimension=3), key="q")),
            "dimension 3",
        ),
        (
            cirq.Circuit(
                cirq.measure(cirq.LineQubit(0), key="k"), cirq.measure(cirq.LineQubit(1), key="k")
            ),
            "key 'k' is used twice",
        ),
        (
            cirq.Circuit(
                cirq.measure(
                    cirq.LineQubit(0),
                    key="k",
                    confusion_map={(0,): np.array([[0.9, 0.1], [0.1, 0.9]])},
                )
            ),
            "confusion map",
        ),
        (
            cirq.Circuit(UnitaryOnly(4, seed=8).on(*cirq.LineQubit.range(4))),
            "Cirq offers no decomposition",
        ),
    ],
    ids=["noise", "empty", "qutrit", "repeated-key", "confusion", "four-qubit-matrix"],
)
def test_what_cannot_run_is_refused_with_the_reason(circuit: Any, match: str) -> None:
    with pytest.raises(CircuitError, match=match):
        from_cirq(circuit)


def test_a_non_circuit_is_refused() -> None:
    with pytest.raises(CircuitError, match=r"expected a cirq\.Circuit"):
        from_cirq("H 0")


def test_a_symbol_cirq_cannot_decompose_asks_to_resolve_it() -> None:
    a, b = cirq.LineQubit.range(2)
    s = sympy.Symbol("s")
    circuit = cirq.Circuit((cirq.H**s).on(a).controlled_by(b, control_values=[0]))
    with pytest.raises(CircuitError, match=r"symbols \(s\) unresolved.*resolve_parameters"):
        from_cirq(circuit)


# ---------------------------------------------------------------------------------------
# The extra.


def test_converting_without_cirq_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [
        module for module in sys.modules if module == "cirq" or module.startswith("cirq.")
    ]:
        monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
    with pytest.raises(MissingExtraError, match=r"ionq-async\[cirq\]"):
        from_cirq(object())


def test_a_cirq_circuit_is_recognised_and_converted_through_interop() -> None:
    circuit = cirq.FrozenCircuit(cirq.H(cirq.LineQubit(0)))
    assert interop.kind_of(circuit) == "cirq"
    assert interop.convert(circuit) == Circuit(qubits=1).h(0)


def test_importing_ionq_async_imports_no_framework() -> None:
    code = (
        "import ionq_async, ionq_async.interop, sys; "
        "assert not any(m.startswith(('qiskit', 'cirq', 'openqasm3')) for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------
# Classical control: deferred by Cirq's own defer_measurements (IonQ runs no branches).


def teleport_one() -> Any:
    """Teleport |1> from a to c: c is measured 1 whatever a and b measured."""
    a, b, c = cirq.LineQubit.range(3)
    return cirq.Circuit(
        cirq.X(a),
        cirq.H(b),
        cirq.CNOT(b, c),
        cirq.CNOT(a, b),
        cirq.H(a),
        cirq.measure(a, key="ma"),
        cirq.measure(b, key="mb"),
        cirq.X(c).with_classical_controls("mb"),
        cirq.Z(c).with_classical_controls("ma"),
        cirq.measure(c, key="t"),
    )


def branch_key_probabilities(circuit: Any, keys: dict[str, int]) -> dict[str, dict[int, float]]:
    """Each one-qubit key's distribution from the emulator's branch reader running Cirq's
    own OpenQASM 3 of the circuit (``if`` and all): an implementation of classical
    control independent of the deferral. ``keys`` names each key's qubit index."""
    from ionq_async.emulator.qasm3 import read_program

    source = cirq.Circuit(cirq.decompose(circuit)).to_qasm(
        version="3.0", precision=16, qubit_order=sorted(circuit.all_qubits())
    )
    final = read_program(source, branches=True).probabilities()
    out: dict[str, dict[int, float]] = {key: {} for key in keys}
    for state, p in final.items():
        for key, index in keys.items():
            value = (state >> index) & 1
            out[key][value] = out[key].get(value, 0.0) + p
    return out


def test_classical_control_becomes_a_circuit_with_the_same_keys() -> None:
    circuit = teleport_one()
    converted = from_cirq(circuit)
    # No branch is left: an ionq.circuit.v1 job, which every target runs.
    assert isinstance(converted, Circuit)
    assert converted.num_qubits == 5  # one ancilla per deferred measurement (ma, mb)
    assert converted.readout is not None
    # Keys in the original circuit's order of appearance (mb's moment comes first).
    original = [
        cirq.measurement_key_name(op) for op in circuit.all_operations() if cirq.is_measurement(op)
    ]
    assert converted.readout.keys == tuple(original) == ("mb", "ma", "t")


async def test_teleporting_one_always_reads_one_on_the_emulator(client: Client) -> None:
    circuit = teleport_one()
    result = await client.run(circuit, shots=400)
    per_key = result.per_key()
    assert per_key["t"] == {1: 400}
    assert per_key["ma"] == {0: 200, 1: 200} == per_key["mb"]
    assert dict(cirq.Simulator(seed=3).run(circuit, repetitions=100).histogram(key="t")) == {1: 100}


async def test_classical_control_probabilities_equal_cirqs_and_the_branch_readers(
    client: Client,
) -> None:
    a, b, c, d = cirq.LineQubit.range(4)
    circuit = cirq.Circuit(
        cirq.ry(0.7).on(a),
        cirq.rx(1.9).on(b),
        cirq.CNOT(a, c),
        cirq.measure(a, key="x"),
        cirq.measure(b, key="y"),
        cirq.H(a),  # the measured qubit is used again: the ancilla keeps what was read
        cirq.ry(0.4).on(c).with_classical_controls("y"),
        cirq.X(d).with_classical_controls("x"),
        cirq.measure(c, key="fc"),
        cirq.measure(d, key="fd"),
        cirq.measure(a, key="fa"),
    )
    converted = from_cirq(circuit)
    assert isinstance(converted, Circuit) and converted.readout is not None
    ours = per_key_probabilities(converted.readout, await run_one(client, converted))
    theirs = branch_key_probabilities(circuit, {"fa": 0, "fc": 2, "fd": 3})
    for key in ("fa", "fc", "fd"):
        assert_close(ours[key], theirs[key], key)
    # x and y are the values measured: ry(0.7) and rx(1.9) on |0>.
    assert_close(ours["x"], {0: np.cos(0.35) ** 2, 1: np.sin(0.35) ** 2}, "x")
    assert_close(ours["y"], {0: np.cos(0.95) ** 2, 1: np.sin(0.95) ** 2}, "y")
    sampled = cirq.Simulator(seed=5).run(circuit, repetitions=200)
    for key in ("x", "y", "fa", "fc", "fd"):
        assert set(sampled.histogram(key=key)) <= {v for v, p in ours[key].items() if p > 0}


async def test_a_sympy_condition_and_a_register_condition_are_deferred(client: Client) -> None:
    a, b, c, d = cirq.LineQubit.range(4)
    x, y = sympy.Symbol("x"), sympy.Symbol("y")
    circuit = cirq.Circuit(
        cirq.X(a),
        cirq.measure(a, key="x"),
        cirq.measure(b, key="y"),
        cirq.X(c).with_classical_controls(sympy.Eq(x + y, 1)),  # 1 + 0 == 1: flips c
        cirq.measure(a, b, key="m"),
        cirq.X(d).with_classical_controls("m"),  # m = 0b10 != 0: flips d
        cirq.measure(c, d, key="out"),
    )
    converted = from_cirq(circuit)
    assert isinstance(converted, Circuit)
    result = await client.run(converted, shots=10)
    assert result.per_key()["out"] == {0b11: 10}
    assert dict(cirq.Simulator().run(circuit, repetitions=10).histogram(key="out")) == {0b11: 10}


def dynamic_circuit(width: int, seed: int) -> Any:
    """Random moments with mid-circuit measurements under fresh keys, operations
    conditioned on them (the last on a sympy condition), measured qubits used again after
    their measurement."""
    rng = np.random.default_rng(seed)
    qubits = cirq.LineQubit.range(width)
    circuit = cirq.Circuit()
    keys: list[str] = []
    for layer in range(3):
        circuit += cirq.testing.random_circuit(
            qubits, n_moments=2, op_density=0.8, random_state=int(seed + layer)
        )
        key = f"k{layer}"
        circuit.append(cirq.measure(qubits[int(rng.integers(width))], key=key))
        keys.append(key)
        target = qubits[int(rng.integers(width))]
        # The last condition is a sympy one Cirq can write (key == constant).
        condition: Any = sympy.Eq(sympy.Symbol(keys[0]), 0) if layer == 2 else key
        circuit.append(
            cirq.ry(float(rng.uniform(0, 3))).on(target).with_classical_controls(condition)
        )
    return circuit


async def test_random_dynamic_circuits_leave_the_qubits_as_the_branches_do(
    client: Client,
) -> None:
    # Deferral keeps the joint distribution of the final qubits and the keys: the original
    # qubits' marginal equals the branch reader's on Cirq's own OpenQASM 3 (with its ifs).
    from ionq_async.emulator.qasm3 import read_program

    for width in (2, 3, 4):
        circuit = dynamic_circuit(width, seed=7 * width)
        converted = from_cirq(circuit)
        assert isinstance(converted, Circuit)
        ours = await run_one(client, converted)
        qubits = sorted(circuit.all_qubits())
        mask = (1 << len(qubits)) - 1
        original: dict[int, float] = {}
        for state, p in ours.items():
            original[state & mask] = original.get(state & mask, 0.0) + p
        source = cirq.Circuit(cirq.decompose(circuit)).to_qasm(
            version="3.0", precision=16, qubit_order=qubits
        )
        reference = read_program(source, branches=True).probabilities()
        assert_close(original, reference, f"{width}q")
