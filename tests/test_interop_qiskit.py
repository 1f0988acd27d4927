"""Qiskit circuits through from_qiskit and the client, checked against Qiskit's own simulators.

Probabilities of converted circuits run on the emulator over loopback equal
``qiskit.quantum_info.Statevector`` within 1e-9 (both put qubit 0 in the least significant
bit); results read through the circuit's Readout are keyed as Qiskit's ``get_counts()``
keys them (checked against Qiskit's BasicSimulator); parameters bind after one transpile.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import numpy as np
import pytest

pytest.importorskip("qiskit")

from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Gate as QiskitGate
from qiskit.circuit import Parameter as QiskitParameter
from qiskit.circuit.library import HGate, RYGate, XGate
from qiskit.circuit.random import random_circuit
from qiskit.compiler import transpiler as qiskit_transpiler
from qiskit.providers.basic_provider import BasicSimulator
from qiskit.quantum_info import DensityMatrix, Kraus, Operator, Statevector

from ionq_async import interop
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.emulator import Emulator, EmulatorConfig
from ionq_async.exceptions import CircuitError, JobFailed, MissingExtraError
from ionq_async.interop.qiskit import from_qiskit
from ionq_async.programs import Qasm3Program
from ionq_async.readout import Readout

TOLERANCE = 1e-9

# Gates IonQ runs, as Qiskit's QuantumCircuit methods: (method, qubits, angles).
IONQ_GATES: tuple[tuple[str, int, int], ...] = (
    ("x", 1, 0),
    ("y", 1, 0),
    ("z", 1, 0),
    ("h", 1, 0),
    ("s", 1, 0),
    ("sdg", 1, 0),
    ("t", 1, 0),
    ("tdg", 1, 0),
    ("sx", 1, 0),
    ("sxdg", 1, 0),
    ("rx", 1, 1),
    ("ry", 1, 1),
    ("rz", 1, 1),
    ("p", 1, 1),
    ("cx", 2, 0),
    ("cy", 2, 0),
    ("cz", 2, 0),
    ("ch", 2, 0),
    ("cs", 2, 0),
    ("csdg", 2, 0),
    ("csx", 2, 0),
    ("crx", 2, 1),
    ("cry", 2, 1),
    ("crz", 2, 1),
    ("swap", 2, 0),
    ("rxx", 2, 1),
    ("ryy", 2, 1),
    ("rzz", 2, 1),
    ("ccx", 3, 0),
    ("ccz", 3, 0),
)


def ionq_random_circuit(num_qubits: int, depth: int, seed: int) -> QuantumCircuit:
    """A random circuit of gates IonQ runs as they are (Qiskit has no such generator)."""
    rng = np.random.default_rng(seed)
    qc = QuantumCircuit(num_qubits)
    usable = [gate for gate in IONQ_GATES if gate[1] <= num_qubits]
    for _ in range(depth * num_qubits):
        method, width, angles = usable[rng.integers(len(usable))]
        qubits = [int(q) for q in rng.choice(num_qubits, size=width, replace=False)]
        params = [float(a) for a in rng.uniform(-2 * math.pi, 2 * math.pi, size=angles)]
        getattr(qc, method)(*params, *qubits)
    if num_qubits >= 4:
        controls = [int(q) for q in rng.choice(num_qubits, size=num_qubits, replace=False)]
        qc.mcx(controls[:-1][:7], controls[-1])
    return qc


def qiskit_random_circuit(num_qubits: int, depth: int, seed: int) -> QuantumCircuit:
    """Qiskit's random circuit generator: any standard gate, up to three qubits each."""
    return random_circuit(num_qubits, depth, max_operands=min(3, num_qubits), seed=seed)


def measured(qc: QuantumCircuit, seed: int) -> QuantumCircuit:
    """``qc`` measured into permuted classical bits of several registers: one bit is never
    written and one is written twice (the later measurement wins)."""
    rng = np.random.default_rng(seed)
    n = qc.num_qubits
    sizes = [1, n] if n < 3 else [n // 3, n - n // 3, 1]
    registers = [ClassicalRegister(size, f"r{i}") for i, size in enumerate(sizes)]
    out = QuantumCircuit(*qc.qregs, *registers, name=qc.name)
    out.compose(qc, inplace=True)
    out.barrier()
    clbits = [int(c) for c in rng.permutation(out.num_clbits)]
    qubits = [int(q) for q in rng.permutation(n)]
    # n + 1 classical bits: the last in the permutation is never written.
    for qubit, clbit in zip(qubits, clbits, strict=False):
        out.measure(qubit, clbit)
    out.measure(qubits[-1], clbits[0])  # overwrites: the last measurement counts
    return out


CASES: list[tuple[str, QuantumCircuit]] = [
    *(
        (f"ionq-{n}q-seed{seed}", ionq_random_circuit(n, depth=4, seed=100 * n + seed))
        for n in range(2, 9)
        for seed in range(2)
    ),
    *(
        (f"qiskit-{n}q-seed{seed}", qiskit_random_circuit(n, depth=5, seed=10 * n + seed))
        for n in range(2, 9)
        for seed in range(2)
    ),
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


def statevector_probabilities(qc: QuantumCircuit) -> dict[int, float]:
    plain = qc.remove_final_measurements(inplace=False)
    return {int(key, 2): p for key, p in Statevector(plain).probabilities_dict().items()}


def assert_close(ours: dict[int, float], theirs: dict[int, float], label: str) -> None:
    for state in set(ours) | set(theirs):
        gap = abs(ours.get(state, 0.0) - theirs.get(state, 0.0))
        assert gap <= TOLERANCE, f"{label}: state {state} differs by {gap}"


def keyed(readout: Readout, probabilities: dict[int, float]) -> dict[str, float]:
    return {
        readout.bitstring(value): p
        for value, p in readout.clbit_probabilities(probabilities).items()
    }


# ---------------------------------------------------------------------------------------
# Probabilities.


async def test_random_circuits_run_on_the_emulator_with_qiskits_probabilities(
    client: Client,
) -> None:
    converted = [from_qiskit(qc) for _, qc in CASES]
    assert all(isinstance(circuit, Circuit) for circuit in converted)
    results = await run_all(client, converted)
    for (label, qc), ours in zip(CASES, results, strict=True):
        assert_close(ours, statevector_probabilities(qc), label)


def ghz_measured() -> QuantumCircuit:
    qc = QuantumCircuit(3, name="ghz")
    qc.h(0)
    qc.cx(0, 1)
    qc.cp(math.pi / 3, 1, 2)
    qc.measure_all()
    return qc


async def test_a_quantum_circuit_goes_to_submit_as_it_is(client: Client) -> None:
    qc = ghz_measured()
    job = await client.wait(await client.submit(qc, shots=1000))
    assert job.name == "ghz"
    assert_close(await client.probabilities(job), statevector_probabilities(qc), "ghz")


async def test_a_quantum_circuit_goes_to_run_as_it_is(client: Client) -> None:
    qc = ghz_measured()
    result = await client.run(qc, shots=1000)
    assert_close(dict(result.probabilities), statevector_probabilities(qc), "ghz")


def test_gates_ionq_runs_map_one_to_one_without_the_transpiler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = count_transpiles(monkeypatch)
    qc = QuantumCircuit(9)
    qc.sxdg(0)
    qc.p(0.25, 1)
    qc.rxx(0.5, 0, 1)
    qc.crz(0.75, 2, 3)
    qc.append(RYGate(0.5).control(3, annotated=False), [4, 5, 6, 7])  # a ControlledGate
    qc.append(HGate().control(2, annotated=True), [8, 0, 1])  # an AnnotatedOperation
    qc.append(XGate().control(7), list(range(8)))
    qc.barrier()
    converted = from_qiskit(qc)
    assert calls == []
    assert isinstance(converted, Circuit)
    assert [gate.to_json() for gate in converted.gates] == [
        {"gate": "vi", "target": 0},
        {"gate": "rz", "target": 1, "rotation": 0.25},
        {"gate": "xx", "targets": [0, 1], "rotation": 0.5},
        {"gate": "rz", "target": 3, "controls": [2], "rotation": 0.75},
        {"gate": "ry", "target": 7, "controls": [4, 5, 6], "rotation": 0.5},
        {"gate": "h", "target": 1, "controls": [8, 0]},
        {"gate": "cnot", "target": 7, "controls": [0, 1, 2, 3, 4, 5, 6]},
    ]


def test_what_ionq_cannot_run_as_it_is_is_decomposed_exactly() -> None:
    qc = QuantumCircuit(9)
    qc.h(range(9))
    qc.cswap(0, 1, 2)  # IonQ's swap takes no controls
    qc.cp(0.3, 3, 4)  # the controlled phase is not sent as z with a rotation
    qc.append(XGate().control(8), list(range(9)))  # more than seven controls
    qc.append(XGate().control(2, ctrl_state=1), [5, 6, 7])  # an open control
    qc.append(HGate().control(1, ctrl_state=0, annotated=True), [2, 3])  # open, annotated
    qc.u(0.1, 0.2, 0.3, 8)
    converted = from_qiskit(qc)
    assert isinstance(converted, Circuit)
    for gate in converted.gates:
        assert len(gate.controls) <= 7
        assert not (gate.gate == "z" and gate.rotation is not None)
        assert not (gate.gate == "swap" and gate.controls)
    from ionq_async.emulator.simulator import ideal_probabilities

    ours = ideal_probabilities(9, converted.gates)
    assert_close(ours, statevector_probabilities(qc), "decomposed")


# ---------------------------------------------------------------------------------------
# Classical bits and Qiskit's counts keys.


MEASURED = [(label, measured(qc, seed=i)) for i, (label, qc) in enumerate(CASES[::3])]


async def test_results_read_through_the_readout_are_keyed_as_qiskit_keys_counts(
    client: Client,
) -> None:
    converted = [from_qiskit(qc) for _, qc in MEASURED]
    results = await run_all(client, converted)
    simulator = BasicSimulator()
    shots = 4000
    for (label, qc), circuit, probabilities in zip(MEASURED, converted, results, strict=True):
        assert isinstance(circuit, Circuit)
        assert circuit.readout is not None
        ours = keyed(circuit.readout, probabilities)
        assert math.isclose(sum(ours.values()), 1.0, abs_tol=1e-9)
        runnable = qiskit_transpiler.transpile(qc, simulator)
        counts = simulator.run(runnable, shots=shots, seed_simulator=7).result().get_counts()
        # Every key Qiskit saw is one we give, every likely key of ours Qiskit saw, and
        # the frequencies agree within five standard deviations.
        assert set(counts) <= set(ours), label
        assert {key for key, p in ours.items() if p >= 0.01} <= set(counts), label
        for key, p in ours.items():
            sigma = math.sqrt(p * (1 - p) / shots)
            assert abs(counts.get(key, 0) / shots - p) <= 5 * sigma + 1e-3, (label, key)


def test_the_readout_follows_qiskits_classical_bits_and_registers() -> None:
    qc = QuantumCircuit(
        QuantumRegister(3, "q"), ClassicalRegister(2, "a"), ClassicalRegister(3, "b")
    )
    qc.x(0)
    qc.x(2)
    qc.measure(0, 3)  # b[1] = 1
    qc.measure(2, 0)  # a[0] = 1
    qc.measure(1, 2)  # b[0] = 0
    qc.measure(0, 1)  # a[1] = 1, then overwritten:
    qc.measure(1, 1)  # a[1] = q1 = 0; b[2] is never written
    converted = from_qiskit(qc)
    assert isinstance(converted, Circuit)
    assert converted.readout == Readout(
        clbits=(2, 1, 1, 0, None),
        registers=(("a", (0, 1)), ("b", (2, 3, 4))),
        style="qiskit",
    )
    counts = BasicSimulator().run(qc, shots=10).result().get_counts()
    state = 0b101  # q0 = q2 = 1
    key = converted.readout.bitstring(converted.readout.clbit_value(state))
    assert counts == {key: 10} == {"010 01": 10}


def test_a_circuit_without_classical_bits_has_no_readout() -> None:
    qc = QuantumCircuit(2)
    qc.h(0)
    converted = from_qiskit(qc)
    assert isinstance(converted, Circuit)
    assert converted.readout is None


def test_classical_bits_outside_ordered_registers_form_one_group() -> None:
    qc = QuantumCircuit(2)
    qc.add_bits([*ClassicalRegister(2, "loose")])  # bits in no register
    qc.x(1)
    qc.measure([0, 1], [1, 0])
    converted = from_qiskit(qc)
    assert isinstance(converted, Circuit)
    assert converted.readout is not None
    assert converted.readout.registers == ()
    assert keyed(converted.readout, {0b10: 1.0}) == {"01": 1.0}
    assert BasicSimulator().run(qc, shots=5).result().get_counts() == {"01": 5}


# ---------------------------------------------------------------------------------------
# Parameters.


def count_transpiles(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record calls of Qiskit's transpile, patched in the module that defines it (the one
    from_qiskit calls)."""
    calls: list[object] = []
    real: Callable[..., Any] = qiskit_transpiler.transpile

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(qiskit_transpiler, "transpile", counting)
    return calls


def parameterised() -> tuple[QuantumCircuit, QiskitParameter, QiskitParameter]:
    theta, phi = QiskitParameter("theta"), QiskitParameter("phi")
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.rx(theta, 0)
    qc.u(theta, phi, 2 * theta - phi, 1)  # decomposed: expressions of both
    qc.cp(phi / 2, 0, 2)
    qc.rzx(theta + phi, 1, 2)
    qc.crz(theta, 0, 1)
    qc.rxx(phi, 1, 2)
    return qc, theta, phi


POINTS = [(0.1, -0.7), (1.3, 2.9), (-2.2, 0.4)]


def test_parameters_stay_symbols_and_bind_like_assign_parameters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    qc, theta, phi = parameterised()
    calls = count_transpiles(monkeypatch)
    converted = from_qiskit(qc)
    assert isinstance(converted, Circuit)
    assert converted.parameters == frozenset({"theta", "phi"})
    bound = [converted.bind(theta=a, phi=b) for a, b in POINTS]
    assert len(calls) == 1  # one transpile for the whole sweep
    for (a, b), ours in zip(POINTS, bound, strict=True):
        direct = from_qiskit(qc.assign_parameters({theta: a, phi: b}))
        assert isinstance(direct, Circuit)
        assert [(g.gate, g.targets, g.controls) for g in ours.gates] == [
            (g.gate, g.targets, g.controls) for g in direct.gates
        ]
        for mine, theirs in zip(ours.gates, direct.gates, strict=True):
            if theirs.rotation is None:
                assert mine.rotation is None
            else:
                assert math.isclose(mine.rotation, theirs.rotation, abs_tol=1e-12)


async def test_bound_circuits_run_with_qiskits_probabilities(client: Client) -> None:
    qc, theta, phi = parameterised()
    converted = from_qiskit(qc)
    assert isinstance(converted, Circuit)
    results = await run_all(client, [converted.bind(theta=a, phi=b) for a, b in POINTS])
    for (a, b), ours in zip(POINTS, results, strict=True):
        expected = statevector_probabilities(qc.assign_parameters({theta: a, phi: b}))
        assert_close(ours, expected, f"theta={a}, phi={b}")


def test_an_unbound_circuit_is_refused_before_any_request() -> None:
    qc, _, _ = parameterised()
    converted = from_qiskit(qc)
    assert isinstance(converted, Circuit)
    with pytest.raises(CircuitError, match="theta"):
        converted.to_json()


# ---------------------------------------------------------------------------------------
# OpenQASM 3: mid-circuit measurement, reset, classical control.


def test_mid_circuit_measurement_goes_as_openqasm_3() -> None:
    qc = QuantumCircuit(2, 2, name="feed-forward")
    qc.h(0)
    qc.measure(0, 0)
    qc.cx(0, 1)  # acts on a measured qubit
    qc.measure(1, 1)
    program = from_qiskit(qc)
    assert isinstance(program, Qasm3Program)
    assert program.name == "feed-forward"
    assert program.num_qubits == 2
    assert program.to_json()["data"].startswith("OPENQASM 3.0;")
    # Classical bit 0 was read before the qubit was acted on again: no final-state readout.
    assert program.readout is None


def exact_final_probabilities(qc: QuantumCircuit) -> dict[int, float]:
    """Probabilities of the qubits at the end of a circuit with mid-circuit measurements and
    resets, from Qiskit's DensityMatrix: a measurement whose value is not used is the
    complete dephasing of its qubit, a reset the channel to |0>."""
    dephase = Kraus([np.diag([1, 0]), np.diag([0, 1])])
    to_zero = Kraus([np.array([[1, 0], [0, 0]]), np.array([[0, 1], [0, 0]])])
    state = DensityMatrix.from_label("0" * qc.num_qubits)
    for instruction in qc.data:
        qubits = [qc.find_bit(qubit).index for qubit in instruction.qubits]
        kind = instruction.operation.name
        if kind == "barrier":
            continue
        channel = {"measure": dephase, "reset": to_zero}.get(kind)
        state = state.evolve(channel or Operator(instruction.operation), qargs=qubits)
    return {int(key, 2): p for key, p in state.probabilities_dict().items()}


def mid_circuit(num_qubits: int, seed: int) -> QuantumCircuit:
    """A random circuit with measurements and resets between its layers."""
    rng = np.random.default_rng(seed)
    qc = QuantumCircuit(num_qubits, num_qubits)
    for layer in range(3):
        qc.compose(qiskit_random_circuit(num_qubits, depth=2, seed=seed + layer), inplace=True)
        qubit = int(rng.integers(num_qubits))
        qc.measure(qubit, qubit)
        if layer == 1:
            qc.reset(int(rng.integers(num_qubits)))
    return qc


async def test_mid_circuit_measurement_and_reset_run_exactly_as_openqasm_3(
    client: Client,
) -> None:
    circuits = [mid_circuit(n, seed=n) for n in range(2, 6)]
    programs = [from_qiskit(qc) for qc in circuits]
    assert all(isinstance(program, Qasm3Program) for program in programs)
    for qc, program in zip(circuits, programs, strict=True):
        job = await client.wait(await client.submit(program, shots=1000))
        ours = await client.probabilities(job)
        assert_close(ours, exact_final_probabilities(qc), f"mid-circuit {qc.num_qubits}q")


# Classical control: deferred (IonQ runs no branches on any target, its OpenQASM 3 page
# says); Qiskit's BasicSimulator cannot run if_else, so the references are the emulator's
# own branch reader on what qiskit.qasm3.dumps writes, and exact hand-made values.


def teleport_one() -> QuantumCircuit:
    """Teleport |1> from q[0] to q[2]: c[2] is 1 whatever c[0] and c[1] read."""
    q, c = QuantumRegister(3, "q"), ClassicalRegister(3, "c")
    qc = QuantumCircuit(q, c)
    qc.x(0)
    qc.h(1)
    qc.cx(1, 2)
    qc.cx(0, 1)
    qc.h(0)
    qc.measure(0, 0)
    qc.measure(1, 1)
    with qc.if_test((c[1], 1)):
        qc.x(2)
    with qc.if_test((c[0], 1)):
        qc.z(2)
    qc.measure(2, 2)
    return qc


def branch_clbit_probabilities(
    qc: QuantumCircuit, clbit_qubits: dict[int, int]
) -> dict[int, float]:
    """The joint distribution of classical bits (keyed as Qiskit keys them, bit 0 least
    significant) from the emulator's branch reader running what qiskit.qasm3.dumps writes
    for the dynamic circuit, each bit read from the qubit it was last measured from
    (``clbit_qubits``: those qubits are not touched after)."""
    from qiskit.qasm3 import dumps

    from ionq_async.emulator.qasm3 import read_program

    final = read_program(dumps(qc), branches=True).probabilities()
    out: dict[int, float] = {}
    for state, p in final.items():
        value = sum(((state >> qubit) & 1) << clbit for clbit, qubit in clbit_qubits.items())
        out[value] = out.get(value, 0.0) + p
    return out


def test_classical_control_becomes_a_circuit_with_qiskits_readout() -> None:
    qc = QuantumCircuit(
        QuantumRegister(2, "q"), ClassicalRegister(1, "m"), ClassicalRegister(1, "f")
    )
    qc.h(0)
    qc.measure(0, 0)
    with qc.if_test((qc.clbits[0], 1)):
        qc.x(1)
    qc.measure(1, 1)
    converted = from_qiskit(qc)
    # No branch is left: an ionq.circuit.v1 job, which every target runs.
    assert isinstance(converted, Circuit)
    assert converted.num_qubits == 3  # q, plus one ancilla holding m
    assert converted.readout == Readout(
        clbits=(2, 1), registers=(("m", (0,)), ("f", (1,))), style="qiskit"
    )


async def test_teleporting_one_always_reads_one_on_the_emulator(client: Client) -> None:
    result = await client.run(teleport_one(), shots=400)
    # Counts by classical bits: c[0] and c[1] uniform, c[2] always 1 (Qiskit's keys,
    # c[2] leftmost, in bitstring_counts).
    assert result.counts() == {0b100: 100, 0b101: 100, 0b110: 100, 0b111: 100}
    assert result.bitstring_counts() == {"100": 100, "101": 100, "110": 100, "111": 100}


async def test_branches_run_with_the_probabilities_of_the_dynamic_circuit(
    client: Client,
) -> None:
    from qiskit.circuit.classical import expr

    q, c, f = QuantumRegister(4, "q"), ClassicalRegister(2, "c"), ClassicalRegister(3, "f")
    qc = QuantumCircuit(q, c, f)
    qc.ry(0.7, 0)
    qc.rx(1.9, 1)
    qc.cx(0, 2)
    qc.measure(0, c[0])
    qc.measure(1, c[1])
    qc.h(0)  # a measured qubit used again: the ancilla keeps what was read
    with qc.if_test((c[1], 1)):
        qc.ry(0.4, 2)
    with qc.if_test((c, 1)) as otherwise:  # c[0] = 1 and c[1] = 0
        qc.x(3)
    with otherwise:
        qc.rz(0.9, 3)
        qc.h(3)
    with qc.if_test(expr.logic_not(c[0])):
        qc.cry(0.3, 3, 0)
    qc.measure(2, f[0])
    qc.measure(3, f[1])
    qc.measure(0, f[2])
    converted = from_qiskit(qc)
    assert isinstance(converted, Circuit) and converted.readout is not None
    (probabilities,) = await run_all(client, [converted])
    ours = converted.readout.clbit_probabilities(probabilities)
    # f (bits 2, 3, 4) against the branch reader, read from the final qubits 2, 3, 0.
    final_bits: dict[int, float] = {}
    for value, p in ours.items():
        final_bits[value >> 2] = final_bits.get(value >> 2, 0.0) + p
    reference = branch_clbit_probabilities(qc, {0: 2, 1: 3, 2: 0})
    assert_close(final_bits, reference, "f")
    # c is what was measured: ry(0.7) and rx(1.9) on |0>, independent.
    measured: dict[int, float] = {}
    for value, p in ours.items():
        measured[value & 3] = measured.get(value & 3, 0.0) + p
    p0, p1 = math.sin(0.35) ** 2, math.sin(0.95) ** 2
    expected = {
        0b00: (1 - p0) * (1 - p1),
        0b01: p0 * (1 - p1),
        0b10: (1 - p0) * p1,
        0b11: p0 * p1,
    }
    assert_close(measured, expected, "c")


def dynamic_circuit(num_qubits: int, seed: int) -> QuantumCircuit:
    """Random layers with mid-circuit measurements into a register and random ``if_test``
    branches (a bit, the register's value, a negated bit; some with ``else``), measured
    qubits used again after their measurement, and a bit never measured."""
    from qiskit.circuit.classical import expr

    rng = np.random.default_rng(seed)
    c = ClassicalRegister(3, "c")
    qc = QuantumCircuit(QuantumRegister(num_qubits, "q"), c)
    for layer in range(3):
        qc.compose(qiskit_random_circuit(num_qubits, depth=2, seed=seed + layer), inplace=True)
        qc.measure(int(rng.integers(num_qubits)), c[int(rng.integers(2))])
        kind = int(rng.integers(3))
        condition: Any = (
            (c[int(rng.integers(3))], int(rng.integers(2)))
            if kind == 0
            else (c, int(rng.integers(4)))
            if kind == 1
            else expr.logic_not(c[int(rng.integers(2))])
        )
        targets = [int(q) for q in rng.permutation(num_qubits)[:2]]
        with qc.if_test(condition) as otherwise:
            qc.ry(float(rng.uniform(0, 3)), targets[0])
            qc.cx(targets[0], targets[1])
        if layer != 1:
            with otherwise:
                qc.h(targets[1])
    return qc


async def test_random_dynamic_circuits_leave_the_qubits_as_the_branches_do(
    client: Client,
) -> None:
    # Deferral keeps the joint distribution of the final qubits and the bits: the
    # original qubits' marginal equals the branch reader's on the dynamic circuit.
    circuits = [dynamic_circuit(n, seed=50 * n + seed) for n in (2, 3, 4) for seed in range(2)]
    converted = [from_qiskit(qc) for qc in circuits]
    results = await run_all(client, converted)
    from qiskit.qasm3 import dumps

    from ionq_async.emulator.qasm3 import read_program

    for qc, program, ours in zip(circuits, converted, results, strict=True):
        assert program.num_qubits > qc.num_qubits  # ancillas hold the bits read
        mask = (1 << qc.num_qubits) - 1
        original: dict[int, float] = {}
        for state, p in ours.items():
            original[state & mask] = original.get(state & mask, 0.0) + p
        reference = read_program(dumps(qc), branches=True).probabilities()
        assert_close(original, reference, f"{qc.num_qubits}q")


async def test_a_branch_that_cannot_be_deferred_reaches_the_api_which_fails_it(
    client: Client,
) -> None:
    # A measurement under a condition has no quantum equivalent here: the program goes
    # with its if, and the emulator, as IonQ documents its preflight, fails the job
    # naming the construct.
    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.measure(0, 0)
    with qc.if_test((qc.clbits[0], 1)):
        qc.measure(1, 1)
    program = from_qiskit(qc)
    assert isinstance(program, Qasm3Program)
    assert "if (" in program.source
    with pytest.raises(JobFailed, match="loops and branches"):
        await client.run(program)


def test_the_openqasm_3_program_uses_only_standard_gates() -> None:
    qc = qiskit_random_circuit(4, depth=4, seed=5)
    qc.measure_all()
    qc.reset(0)  # a used qubit: OpenQASM 3
    qc.rxx(0.3, 0, 1)
    program = from_qiskit(qc)
    assert isinstance(program, Qasm3Program)
    assert "gate " not in program.source  # no gate definitions: stdgates.inc only
    assert "reset q[0];" in program.source


def test_a_reset_of_an_unused_qubit_is_dropped() -> None:
    qc = QuantumCircuit(2)
    qc.reset([0, 1])
    qc.h(0)
    converted = from_qiskit(qc)
    assert isinstance(converted, Circuit)
    assert [gate.gate for gate in converted.gates] == ["h"]


def test_an_openqasm_3_program_needs_its_parameters_bound() -> None:
    qc = QuantumCircuit(1, 1)
    qc.rx(QiskitParameter("alpha"), 0)
    qc.measure(0, 0)
    qc.x(0)
    with pytest.raises(CircuitError, match=r"alpha.*assign_parameters"):
        from_qiskit(qc)


def test_a_register_named_after_an_openqasm_3_keyword_is_refused() -> None:
    qc = QuantumCircuit(QuantumRegister(1, "q"), ClassicalRegister(1, "output"))
    qc.measure(0, 0)
    qc.x(0)
    with pytest.raises(CircuitError, match="output"):
        from_qiskit(qc)


# ---------------------------------------------------------------------------------------
# Names, bad input, the extra.


def test_a_circuit_keeps_its_name_but_not_qiskits_generated_one() -> None:
    named = QuantumCircuit(1, name="bell")
    converted = from_qiskit(named)
    assert isinstance(converted, Circuit)
    assert converted.name == "bell"
    anonymous = from_qiskit(QuantumCircuit(1))
    assert isinstance(anonymous, Circuit)
    assert anonymous.name is None


def test_an_opaque_gate_gets_a_circuit_error() -> None:
    qc = QuantumCircuit(2)
    qc.append(QiskitGate("mystery", 2, []), [0, 1])
    with pytest.raises(CircuitError, match="mystery"):
        from_qiskit(qc)


def test_a_circuit_without_qubits_is_refused() -> None:
    with pytest.raises(CircuitError, match="no qubits"):
        from_qiskit(QuantumCircuit())


def test_anything_but_a_quantum_circuit_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="QuantumCircuit"):
        from_qiskit("h q[0];")


def test_without_qiskit_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "qiskit", None)  # import qiskit now fails
    with pytest.raises(MissingExtraError, match="qiskit"):
        from_qiskit(object())
    with pytest.raises(MissingExtraError):
        interop.require("qiskit")


def test_importing_the_library_imports_no_framework() -> None:
    code = (
        "import ionq_async, ionq_async.interop, sys; "
        "assert not any(m.startswith(('qiskit', 'cirq', 'openqasm3')) for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_a_circuit_that_cannot_convert_is_its_own_outcome_with_its_own_error(
    client: Client,
) -> None:
    # Packed or not, the outcome carries the converter's error, not "expected a Circuit".
    for pack in (False, True):
        outcomes = [
            o async for o in client.run_many([QuantumCircuit(0), ghz_measured()], pack=pack)
        ]
        by_index = {o.index: o for o in outcomes}
        assert isinstance(by_index[0].error, CircuitError), pack
        assert "expected a Circuit" not in str(by_index[0].error), pack
        assert by_index[1].ok, pack
