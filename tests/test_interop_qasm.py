"""OpenQASM 2 and 3 text in: from_qasm, and OpenQASM run on the emulator through the client.

Exact references are Qiskit's state vectors of the same text (``qiskit.qasm2.loads``;
OpenQASM 3 programs are built in Qiskit, since ``qiskit.qasm3.loads`` needs an extra that
is not installed).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Mapping

import numpy as np
import pytest

from ionq_async._retry import RetryPolicy
from ionq_async.circuits import Circuit, Gate
from ionq_async.client import Client
from ionq_async.emulator import Emulator, EmulatorConfig
from ionq_async.exceptions import CircuitError, MissingExtraError
from ionq_async.interop import convert
from ionq_async.interop.qasm import from_qasm
from ionq_async.programs import Qasm3Program

qiskit = pytest.importorskip("qiskit")
pytest.importorskip("openqasm3")

from qiskit import QuantumCircuit  # noqa: E402
from qiskit.quantum_info import Statevector  # noqa: E402

TOLERANCE = 1e-9
HEADER2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
HEADER3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'

BELL2 = HEADER2 + "qreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n"
GHZ3 = HEADER3 + "qubit[4] q;\nbit[4] c;\nh q[0];\ncx q[0], q[1:3];\nc = measure q;\n"
ROTATIONS2 = HEADER2 + (
    "qreg q[3];\ncreg c[3];\nrx(pi/4) q[0];\nry(-3*pi/8) q[1];\nrz(pi/2) q[2];\n"
    "u1(pi/3) q[0];\np(-pi/5) q[1];\nh q[2];\ncrz(2*pi/3) q[2],q[0];\ncp(pi/7) q[0],q[1];\n"
    "rzz(0.3) q[1],q[2];\nsx q[0];\nsxdg q[1];\ntdg q[2];\nccx q[0],q[1],q[2];\n"
    "cy q[2],q[0];\nch q[0],q[2];\nswap q[0],q[2];\nbarrier q;\nmeasure q -> c;\n"
)
REGISTERS2 = HEADER2 + (
    "qreg a[2];\nqreg b[2];\ncreg low[1];\ncreg high[3];\nh a[0];\ncx a[0],b[1];\n"
    "ry(0.8) a[1];\nmeasure b[1] -> low[0];\nmeasure a[0] -> high[0];\n"
    "measure a[1] -> high[2];\n"
)


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with (
        Emulator(config=EmulatorConfig(time_scale=0.0)) as emulator,
        Client(api_key=emulator.api_key, base_url=emulator.url, retry=RetryPolicy.no_wait()) as c,
    ):
        yield c


def reference(circuit: QuantumCircuit) -> dict[int, float]:
    state = Statevector.from_instruction(circuit.remove_final_measurements(inplace=False))
    return {i: float(p) for i, p in enumerate(state.probabilities()) if p > 1e-12}


def assert_close(got: Mapping[int, float], want: Mapping[int, float]) -> None:
    keys = set(got) | set(want)
    worst = max(abs(got.get(k, 0.0) - want.get(k, 0.0)) for k in keys)
    assert worst < TOLERANCE, (dict(got), dict(want))


# ------------------------------------------------------------------ conversion


def test_a_bell_pair_in_openqasm2_is_a_circuit_of_ionq_gates() -> None:
    circuit = from_qasm(BELL2)
    assert isinstance(circuit, Circuit)
    assert circuit.gates == (
        Gate(gate="h", targets=(0,)),
        Gate(gate="x", targets=(1,), controls=(0,)),
    )
    assert circuit.readout is not None
    assert circuit.readout.clbits == (0, 1)
    assert circuit.readout.style == "qiskit"


def test_registers_become_the_readout_in_declaration_order() -> None:
    circuit = from_qasm(REGISTERS2)
    assert isinstance(circuit, Circuit) and circuit.readout is not None
    assert circuit.readout.registers == (("low", (0,)), ("high", (1, 2, 3)))
    assert circuit.readout.clbits == (3, 0, None, 1)


def test_angles_with_pi_are_resolved() -> None:
    circuit = from_qasm(HEADER3 + "qubit q;\nrx(-3*pi/4 + tau/2) q;\np(pi**2/euler) q;\n")
    assert isinstance(circuit, Circuit)
    assert circuit.gates[0].rotation == pytest.approx(np.pi / 4)
    assert circuit.gates[1] == Gate(gate="z", targets=(0,), rotation=np.pi**2 / np.e)


def test_text_is_converted_by_the_dispatcher() -> None:
    assert convert(BELL2) == from_qasm(BELL2)


def test_mid_circuit_measurement_goes_as_openqasm3_upgraded_from_2() -> None:
    source = HEADER2 + (
        "qreg q[2];\ncreg c[2];\nh q[0];\nmeasure q[0] -> c[0];\ncx q[0],q[1];\n"
        "cu1(pi/2) q[0],q[1];\nmeasure q -> c;\n"
    )
    program = from_qasm(source)
    assert isinstance(program, Qasm3Program)
    assert program.num_qubits == 2
    assert program.readout is None  # c[0] read q[0] before the end: no final-state mapping
    assert program.source.startswith('OPENQASM 3.0;\ninclude "stdgates.inc";\ngate cu1(')
    assert "c[0] = measure q[0];" in program.source
    assert "qubit[2] q;" in program.source and "bit[2] c;" in program.source


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("reset q[0];\n", "reset"),
        ("U(0.1, 0.2, 0.3) q[0];\n", "u"),
        ("ctrl @ x q[0], q[1];\n", "modifier"),
        ("gate g a { h a; }\ng q[0];\n", "definition"),
    ],
)
def test_what_ionq_json_cannot_say_goes_as_openqasm3_text_unchanged(body: str, why: str) -> None:
    source = HEADER3 + "qubit[2] q;\n" + body
    program = from_qasm(source)
    assert isinstance(program, Qasm3Program), why
    assert program.source == source


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (HEADER3 + "qubit[2] q;\nh q[0]\ncx q[0], q[1];\n", "line 5, column 1"),
        (HEADER3 + "qubit[2] q;\nhadamard q[0];\n", "line 4: unknown gate 'hadamard'"),
        (HEADER3 + "qubit[2] q;\ncx q[0];\n", "line 4: cx acts on 2 qubit(s)"),
        (HEADER3 + "qubit[2] q;\nrx q[0];\n", "line 4: rx takes 1 parameter(s)"),
        (HEADER3 + "qubit[2] q;\nx q[2];\n", "line 4: q[2] is out of range"),
        (HEADER3 + "qubit[2] q;\nrx(alpha) q[0];\n", "line 4: unknown identifier 'alpha'"),
        (HEADER3 + 'include "mine.inc";\nqubit q;\n', "line 3: cannot include 'mine.inc'"),
        (HEADER3 + "qubit[2] q;\nx r[0];\n", "line 4: unknown qubit register 'r'"),
        (HEADER3 + "bit c;\n", "declares no qubits"),
    ],
)
def test_bad_text_is_a_circuit_error_naming_the_line(source: str, message: str) -> None:
    with pytest.raises(CircuitError) as caught:
        from_qasm(source)
    assert message in str(caught.value)


def test_an_unknown_gate_gets_a_did_you_mean() -> None:
    with pytest.raises(CircuitError, match="did you mean 'cx'"):
        from_qasm(HEADER3 + "qubit[2] q;\ncxx q[0], q[1];\n")


def test_input_angles_become_parameters_to_bind() -> None:
    circuit = from_qasm(HEADER3 + "input angle theta;\nqubit q;\nrx(theta/2) q;\n")
    assert isinstance(circuit, Circuit)
    assert circuit.parameters == frozenset({"theta"})
    assert circuit.bind(theta=1.0).gates[0].rotation == pytest.approx(0.5)


def test_parameters_in_a_program_that_goes_as_openqasm3_are_refused() -> None:
    with pytest.raises(CircuitError, match="theta"):
        from_qasm(HEADER3 + "input angle theta;\nqubit q;\nrx(theta) q;\nreset q;\n")


def test_a_missing_openqasm3_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openqasm3", None)
    with pytest.raises(MissingExtraError, match=r"ionq-async\[qasm\]"):
        from_qasm(BELL2)


def test_importing_the_library_imports_no_framework() -> None:
    code = (
        "import ionq_async, ionq_async.interop, sys; "
        "assert not any(m.startswith(('qiskit', 'cirq', 'openqasm3')) for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------- on the emulator


@pytest.mark.parametrize(
    "source", [BELL2, ROTATIONS2, REGISTERS2], ids=["bell", "rotations", "registers"]
)
async def test_openqasm2_runs_with_qiskits_exact_probabilities(client: Client, source: str) -> None:
    result = await client.run(from_qasm(source))
    # Qiskit's legacy qelib1 gates (p, sxdg, rzz, ...), as its exporter writes them.
    legacy = qiskit.qasm2.LEGACY_CUSTOM_INSTRUCTIONS
    assert_close(
        result.probabilities, reference(qiskit.qasm2.loads(source, custom_instructions=legacy))
    )


async def test_an_openqasm3_ghz_runs_with_qiskits_exact_probabilities(client: Client) -> None:
    expected = QuantumCircuit(4)
    expected.h(0)
    for target in (1, 2, 3):
        expected.cx(0, target)
    result = await client.run(from_qasm(GHZ3))
    assert_close(result.probabilities, reference(expected))


async def test_openqasm3_text_is_taken_by_submit(client: Client) -> None:
    created = await client.submit(GHZ3)
    await client.wait(created.id)
    assert_close(await client.probabilities(created.id), {0: 0.5, 15: 0.5})


async def test_a_program_that_goes_as_openqasm3_runs_on_the_emulator(client: Client) -> None:
    # u3 has no one-to-one IonQ gate; a reset after it.
    source = HEADER3 + "qubit[2] q;\nu3(0.4, 0.3, 0.2) q[0];\ncx q[0], q[1];\nreset q[0];\n"
    program = from_qasm(source)
    assert isinstance(program, Qasm3Program)
    created = await client.submit(program)
    job = await client.wait(created.id)
    assert job.type == "ionq.qasm3.v1"
    p_one = float(np.sin(0.2) ** 2)  # cos²(θ/2), sin²(θ/2) with θ = 0.4: q1 copies q0
    assert_close(await client.probabilities(created.id), {0: 1 - p_one, 2: p_one})


@pytest.mark.parametrize("seed", range(40))
def test_any_program_converts_or_is_a_circuit_error(seed: int) -> None:
    import random

    from test_emulator_qasm3 import FRAGMENTS

    rng = random.Random(seed)
    body = "\n".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 8)))
    try:
        converted = from_qasm(HEADER3 + "qubit[2] q;\nbit[2] c;\n" + body)
    except CircuitError as error:
        assert str(error).startswith("OpenQASM")
    else:
        assert isinstance(converted, Circuit | Qasm3Program)


async def test_openqasm_text_and_programs_go_to_run_as_they_are() -> None:
    # run() converts OpenQASM text before planning: a circuit, and an OpenQASM 3 program
    # (mid-circuit measurement) that goes as its own ionq.qasm3.v1 job.
    from ionq_async.client import Client
    from ionq_async.emulator import Emulator

    bell = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\n'
    program = (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\nbit[1] c;\n'
        "x q[0];\nc[0] = measure q[0];\nx q[0];\n"
    )
    async with Emulator() as emu, Client(api_key=emu.api_key, base_url=emu.url) as client:
        result = await client.run(bell, shots=100)
        assert dict(result.probabilities) == pytest.approx({0: 0.5, 3: 0.5})
        outcomes = [o async for o in client.run_many([program, bell], shots=100)]
    by_index = {o.index: o for o in outcomes}
    assert dict(by_index[0].unwrap().probabilities) == pytest.approx({0: 1.0})
    assert by_index[0].job is not None and by_index[0].job.type == "ionq.qasm3.v1"
    assert dict(by_index[1].unwrap().probabilities) == pytest.approx({0: 0.5, 3: 0.5})
