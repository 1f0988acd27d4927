"""The emulator runs ``ionq.qasm3.v1`` jobs: the subset IonQ documents, exactly.

References are Qiskit's exact state vectors (``qiskit.qasm2.loads`` for OpenQASM 2, a
circuit built in Qiskit for OpenQASM 3 since ``qiskit.qasm3.loads`` needs an extra that
is not installed), or a small density-matrix calculation for mid-circuit measurement.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import numpy as np
import pytest

from ionq_async._retry import RetryPolicy
from ionq_async.client import Client
from ionq_async.emulator import Emulator, EmulatorConfig
from ionq_async.exceptions import BadRequestError, JobFailed
from ionq_async.programs import Qasm3Program

qiskit = pytest.importorskip("qiskit")
pytest.importorskip("openqasm3")

from qiskit.quantum_info import DensityMatrix, Statevector  # noqa: E402

TOLERANCE = 1e-9
HEADER3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with (
        Emulator(config=EmulatorConfig(time_scale=0.0)) as emulator,
        Client(api_key=emulator.api_key, base_url=emulator.url, retry=RetryPolicy.no_wait()) as c,
    ):
        yield c


async def run_program(client: Client, source: str, **options: Any) -> dict[int, float]:
    program = Qasm3Program(source=source, num_qubits=_width(source))
    created = await client.submit(program, **options)
    await client.wait(created.id)
    return await client.probabilities(created.id)


def _width(source: str) -> int:
    import openqasm3

    parsed = openqasm3.parse(source)
    return sum(
        int(s.size.value) if s.size is not None else 1
        for s in parsed.statements
        if isinstance(s, openqasm3.ast.QubitDeclaration)
    )


def reference(circuit: Any) -> dict[int, float]:
    """Qiskit's exact probabilities (little-endian: qubit 0 least significant)."""
    probabilities = Statevector.from_instruction(circuit.remove_final_measurements(inplace=False))
    return _as_dict(probabilities.probabilities())


def _as_dict(vector: Any) -> dict[int, float]:
    return {i: float(p) for i, p in enumerate(vector) if p > 1e-12}


def assert_close(got: Mapping[int, float], want: Mapping[int, float]) -> None:
    keys = set(got) | set(want)
    worst = max(abs(got.get(k, 0.0) - want.get(k, 0.0)) for k in keys)
    assert worst < TOLERANCE, (dict(got), dict(want))


async def test_a_bell_program_runs_with_the_probabilities_of_the_state(client: Client) -> None:
    source = HEADER3 + "qubit[2] q;\nbit[2] c;\nh q[0];\ncx q[0], q[1];\nc = measure q;\n"
    assert_close(await run_program(client, source), {0: 0.5, 3: 0.5})


async def test_every_standard_gate_matches_qiskit(client: Client) -> None:
    from qiskit import QuantumCircuit

    gates = [
        ("x q[0];", lambda c: c.x(0)),
        ("ry(0.3) q[1];", lambda c: c.ry(0.3, 1)),
        ("h q[2];", lambda c: c.h(2)),
        ("sx q[0];", lambda c: c.sx(0)),
        ("U(0.7, 0.2, -0.4) q[1];", lambda c: c.u(0.7, 0.2, -0.4, 1)),
        ("u2(0.1, pi/3) q[2];", lambda c: c.u(np.pi / 2, 0.1, np.pi / 3, 2)),
        ("cu(0.9, 0.3, 0.5, 0.25) q[1], q[0];", lambda c: c.cu(0.9, 0.3, 0.5, 0.25, 1, 0)),
        ("cp(pi/5) q[0], q[2];", lambda c: c.cp(np.pi / 5, 0, 2)),
        ("crx(1.1) q[2], q[1];", lambda c: c.crx(1.1, 2, 1)),
        ("cswap q[0], q[1], q[2];", lambda c: c.cswap(0, 1, 2)),
        ("ch q[1], q[2];", lambda c: c.ch(1, 2)),
        ("ccx q[2], q[1], q[0];", lambda c: c.ccx(2, 1, 0)),
        ("rzz(0.8) q[0], q[2];", lambda c: c.rzz(0.8, 0, 2)),
        ("tdg q[1];\nsdg q[0];\nh q[1];", lambda c: (c.tdg(1), c.sdg(0), c.h(1))),
        ("ctrl @ ry(0.6) q[0], q[2];", lambda c: c.cry(0.6, 0, 2)),
        ("inv @ u3(0.4, 0.5, 0.6) q[1];", lambda c: c.u(-0.4, -0.6, -0.5, 1)),
        ("negctrl @ x q[1], q[0];", lambda c: (c.x(1), c.cx(1, 0), c.x(1))),
        ("pow(2) @ sx q[2];", lambda c: c.x(2)),
    ]
    circuit = QuantumCircuit(3)
    lines = []
    for text, build in gates:
        lines.append(text)
        build(circuit)
    source = HEADER3 + "qubit[3] q;\n" + "\n".join(lines) + "\n"
    assert_close(await run_program(client, source), reference(circuit))


async def test_an_openqasm2_program_with_qelib1_gates_matches_qiskit(client: Client) -> None:
    source = (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg a[2];\nqreg b[1];\ncreg c[3];\n'
        "u3(0.3, -pi/7, 2*pi/3) a[0];\ncx a[0], b[0];\nrx(-pi/4) a[1];\ncz a[1], b[0];\n"
        "measure a[0] -> c[0];\nmeasure a[1] -> c[1];\nmeasure b[0] -> c[2];\n"
    )
    assert_close(await run_program(client, source), reference(qiskit.qasm2.loads(source)))


async def test_gate_definitions_expand_with_their_parameters(client: Client) -> None:
    from qiskit import QuantumCircuit

    source = HEADER3 + (
        "gate entangle(theta) a, b { ry(theta) a; cx a, b; }\n"
        "qubit[2] q;\nentangle(pi/3) q[0], q[1];\ninv @ entangle(0.2) q[1], q[0];\n"
    )
    circuit = QuantumCircuit(2)
    circuit.ry(np.pi / 3, 0)
    circuit.cx(0, 1)
    circuit.cx(1, 0)
    circuit.ry(-0.2, 1)
    assert_close(await run_program(client, source), reference(circuit))


async def test_mid_circuit_measurement_and_reset_run_exactly(client: Client) -> None:
    # h; measure (dephases q0); reset q1 after entangling; then gates after the measurement.
    source = HEADER3 + (
        "qubit[2] q;\nbit[2] c;\nh q[0];\ncx q[0], q[1];\nc[0] = measure q[0];\n"
        "reset q[1];\nh q[0];\nry(0.5) q[1];\n"
    )
    rho = DensityMatrix.from_label("00")
    from qiskit import QuantumCircuit

    first = QuantumCircuit(2)
    first.h(0)
    first.cx(0, 1)
    rho = rho.evolve(first)
    rho = _measure(rho, 0)
    rho = _reset(rho, 1)
    second = QuantumCircuit(2)
    second.h(0)
    second.ry(0.5, 1)
    rho = rho.evolve(second)
    assert_close(await run_program(client, source), _as_dict(rho.probabilities()))


def _measure(rho: Any, qubit: int) -> Any:
    """Dephase ``qubit`` (a measurement whose outcome is not used)."""
    projectors = [np.diag([1.0 - b, b]) for b in (0, 1)]
    return _channel(rho, qubit, projectors)


def _reset(rho: Any, qubit: int) -> Any:
    return _channel(rho, qubit, [np.array([[1, 0], [0, 0]]), np.array([[0, 1], [0, 0]])])


def _channel(rho: Any, qubit: int, kraus: list[Any]) -> Any:
    from qiskit.quantum_info import Kraus

    return rho.evolve(Kraus(kraus), qargs=[qubit])


async def test_a_qpu_shot_count_is_drawn_from_the_exact_probabilities(client: Client) -> None:
    source = HEADER3 + "qubit[1] q;\nbit c;\nx q[0];\nc = measure q[0];\nreset q[0];\nx q[0];\n"
    got = await run_program(client, source, backend="qpu.forte-1", shots=200)
    assert got == {1: 1.0}


async def test_a_branch_fails_the_job_naming_the_construct(client: Client) -> None:
    source = HEADER3 + "qubit[2] q;\nbit c;\nh q[0];\nc = measure q[0];\nif (c) x q[1];\n"
    program = Qasm3Program(source=source, num_qubits=2)
    created = await client.submit(program)
    with pytest.raises(JobFailed) as caught:
        await client.wait(created.id)
    assert "line 7" in str(caught.value)
    assert "loops and branches" in str(caught.value)


async def test_text_the_parser_rejects_fails_the_job_naming_the_line(client: Client) -> None:
    program = Qasm3Program(source=HEADER3 + "qubit[2] q;\nh q[0]\ncx q[0], q[1];\n", num_qubits=2)
    created = await client.submit(program)
    with pytest.raises(JobFailed) as caught:
        await client.wait(created.id)
    assert "line 5" in str(caught.value)


async def test_an_unknown_gate_fails_the_job(client: Client) -> None:
    program = Qasm3Program(source=HEADER3 + "qubit[1] q;\nfoo q[0];\n", num_qubits=1)
    created = await client.submit(program)
    with pytest.raises(JobFailed, match="unknown gate 'foo'"):
        await client.wait(created.id)


async def test_input_without_data_is_a_400_naming_the_field(client: Client) -> None:
    payload = {"type": "ionq.qasm3.v1", "backend": "simulator", "input": {"qubits": 2}}
    with pytest.raises(BadRequestError) as caught:
        await client.create_job(payload)
    assert "input.data" in str(caught.value)


async def test_declared_qubits_widen_the_results(client: Client) -> None:
    payload = {
        "type": "ionq.qasm3.v1",
        "backend": "simulator",
        "input": {"data": HEADER3 + "qubit[1] q;\nx q[0];\n", "qubits": 3},
    }
    created = await client.create_job(payload)
    job = await client.wait(created.id)
    assert job.stats is not None and job.stats.qubits == 3
    assert await client.probabilities(created.id) == {1: 1.0}


async def test_a_job_counts_the_programs_qubits_and_gates(client: Client) -> None:
    source = HEADER3 + "qubit[3] q;\nh q[0];\ncx q[0], q[1];\nccx q[0], q[1], q[2];\n"
    created = await client.submit(Qasm3Program(source=source, num_qubits=3))
    job = await client.wait(created.id)
    assert job.type == "ionq.qasm3.v1"
    assert job.stats is not None and job.stats.gate_counts is not None
    assert job.stats.qubits == 3
    assert (job.stats.gate_counts.one_qubit, job.stats.gate_counts.two_qubit) == (1, 2)


async def test_register_ranges_are_inclusive(client: Client) -> None:
    source = HEADER3 + "qubit[4] q;\nx q[1:2];\n"
    assert await run_program(client, source) == {0b0110: 1.0}


FRAGMENTS = [
    "qubit[2] q;",
    "qubit r;",
    "bit[2] c;",
    "x q[0];",
    "cx q[0], q[1];",
    "rx(pi/2) q;",
    "c = measure q;",
    "c[0] = measure q[1];",
    "reset q[0];",
    "barrier q;",
    "gphase(0.2);",
    "ctrl @ gphase(0.1) q[0];",
    "inv @ pow(3) @ s q[1];",
    "negctrl(2) @ x q[0], q[1], r;",
    "gate g(t) a, b { ry(t) a; cx a, b; }",
    "g(0.3) q[0], q[1];",
    "x q[5];",
    "x $3;",
    "if (c[0]) x q[0];",
    "for int i in [0:1] { x q[0]; }",
    "rx(1/0) q[0];",
    "foo q;",
    "measure q[0] -> c[1];",
    "u3(1, 2) q[0];",
    "x q[0:1:-1];",
    "x q[{0, 1}];",
    "x q[-3];",
    "int i = 3;",
    "const float a = 0.5;",
    "delay[1ns] q;",
    "cu(1,2,3,4) q[0], q[1];",
]


@pytest.mark.parametrize("seed", range(40))
def test_any_program_is_read_or_refused_with_a_failure_code(seed: int) -> None:
    import random

    from ionq_async.emulator.qasm3 import ProgramError, read_program

    rng = random.Random(seed)
    body = "\n".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 8)))
    try:
        program = read_program(HEADER3 + "qubit[2] q;\nbit[2] c;\n" + body)
    except ProgramError as error:
        assert error.failure_code in ("InvalidProgram", "UnsupportedOperation")
        assert str(error)
    else:
        assert program.num_qubits >= 2


# Branches on measured bits: read and run by ``read_program(..., branches=True)`` (the
# job route follows IonQ's documentation, which runs no branches on any target).

TELEPORT_ONE = HEADER3 + (
    "bit[3] c;\nqubit[3] q;\n"
    "x q[0];\nh q[1];\ncx q[1], q[2];\ncx q[0], q[1];\nh q[0];\n"
    "c[0] = measure q[0];\nc[1] = measure q[1];\n"
    "if (c[1]) {\n  x q[2];\n}\nif (c[0]) {\n  z q[2];\n}\nc[2] = measure q[2];\n"
)


def branch_probabilities(source: str) -> dict[int, float]:
    from ionq_async.emulator.qasm3 import read_program

    return read_program(source, branches=True).probabilities()


def test_teleporting_one_gives_a_target_of_one_on_every_branch() -> None:
    got = branch_probabilities(TELEPORT_ONE)
    assert sum(p for state, p in got.items() if state >> 2 & 1) == pytest.approx(1.0, abs=1e-12)
    # The two measured qubits are uniform: four branches, a quarter each.
    assert got == pytest.approx({4: 0.25, 5: 0.25, 6: 0.25, 7: 0.25}, abs=TOLERANCE)


def test_a_register_comparison_with_else_picks_one_side_per_branch() -> None:
    # c is uniform over 0..3; c == 2 flips q[0] (to 1), otherwise q[1] goes through h h.
    # b was measured from q[0] before the branch; !c[0] then flips q[1].
    source = HEADER3 + (
        "qubit[2] q;\nbit[2] c;\nbit b;\nh q[0];\nh q[1];\nc = measure q;\n"
        "b = measure q[0];\n"
        "if (c == 2) { x q[0]; } else { h q[1]; h q[1]; }\n"
        "if (b) x q[1];\nif (!c[0]) x q[1];\n"
    )
    assert branch_probabilities(source) == pytest.approx({1: 0.5, 2: 0.25, 3: 0.25}, abs=TOLERANCE)


def test_else_if_chains_and_logical_operators_read_the_bits() -> None:
    source = HEADER3 + (
        "qubit[3] q;\nbit[2] c;\nx q[0];\nc = measure q[0:1];\n"
        "if (c[0] && !c[1]) { x q[2]; } else if (c != 0) { h q[2]; }\n"
    )
    assert branch_probabilities(source) == pytest.approx({5: 1.0}, abs=TOLERANCE)


def test_a_branch_on_a_bit_never_measured_reads_zero() -> None:
    source = HEADER3 + "qubit[2] q;\nbit c;\nbit d;\nif (d) x q[0]; else x q[1];\n"
    assert branch_probabilities(source) == pytest.approx({2: 1.0}, abs=TOLERANCE)


def test_what_qiskit_writes_for_if_test_runs_as_the_deferred_measurement_circuit() -> None:
    # Deferred measurement: a gate conditioned on a measured bit, whose qubit is not
    # touched after its measurement, equals the gate controlled by that qubit.
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
    from qiskit.qasm3 import dumps

    q, c = QuantumRegister(4, "q"), ClassicalRegister(3, "c")
    dynamic = QuantumCircuit(q, c)
    deferred = QuantumCircuit(4)
    for circuit in (dynamic, deferred):
        circuit.ry(0.7, 0)
        circuit.rx(1.1, 1)
        circuit.cx(0, 2)
        circuit.h(3)
    dynamic.measure(0, 0)
    dynamic.measure(1, 1)
    with dynamic.if_test((c[1], 1)):
        dynamic.ry(0.4, 2)
    deferred.cry(0.4, 1, 2)
    with dynamic.if_test((c, 1)) as otherwise:  # c[0] = 1, c[1] = 0 (c[2] unmeasured: 0)
        dynamic.x(3)
    with otherwise:
        dynamic.rz(0.9, 3)
        dynamic.h(3)
    pattern = QuantumCircuit(1)
    pattern.x(0)
    deferred.compose(pattern.to_gate().control(2, ctrl_state=0b01), [0, 1, 3], inplace=True)
    for state in (0b00, 0b10, 0b11):
        otherwise_body = QuantumCircuit(1)
        otherwise_body.rz(0.9, 0)
        otherwise_body.h(0)
        deferred.compose(
            otherwise_body.to_gate().control(2, ctrl_state=state), [0, 1, 3], inplace=True
        )
    got = branch_probabilities(dumps(dynamic))
    expected = reference(deferred)
    for state in set(got) | set(expected):
        assert got.get(state, 0.0) == pytest.approx(expected.get(state, 0.0), abs=TOLERANCE)


@pytest.mark.parametrize(
    ("statement", "construct"),
    [
        ("for int i in [0:1] { x q[0]; }", "a for loop"),
        ("while (c == 0) { c = measure q[0]; }", "a while loop"),
    ],
)
def test_loops_are_refused_naming_them_even_where_branches_run(
    statement: str, construct: str
) -> None:
    from ionq_async.emulator.qasm3 import ProgramError, read_program

    source = HEADER3 + f"qubit[1] q;\nbit c;\n{statement}\n"
    for branches in (False, True):
        with pytest.raises(ProgramError, match=f"{construct} is not supported") as caught:
            read_program(source, branches=branches)
        assert caught.value.failure_code == "UnsupportedOperation"
        assert "loops and branches" in str(caught.value)


def test_a_condition_on_an_unknown_register_is_invalid() -> None:
    from ionq_async.emulator.qasm3 import ProgramError, read_program

    with pytest.raises(ProgramError, match="unknown bit 'k'"):
        read_program(HEADER3 + "qubit[1] q;\nbit c;\nif (k == 1) x q[0];\n", branches=True)


async def test_a_loop_fails_the_job_naming_it(client: Client) -> None:
    source = HEADER3 + "qubit[1] q;\nbit c;\nfor int i in [0:2] { x q[0]; }\n"
    created = await client.submit(Qasm3Program(source=source, num_qubits=1))
    with pytest.raises(JobFailed, match="line 5: a for loop is not supported"):
        await client.wait(created.id)
