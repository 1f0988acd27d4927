"""Circuit.from_qiskit / from_cirq / from_qasm: the classmethods the issue names."""

from __future__ import annotations

import pytest

import ionq_async as ionq
from ionq_async.circuits import Circuit
from ionq_async.exceptions import CircuitError

BELL_QASM = (
    'OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; creg c[2];'
    " h q[0]; cx q[0],q[1]; measure q -> c;"
)


def test_from_qasm_gives_the_same_circuit_as_the_module_function() -> None:
    circuit = Circuit.from_qasm(BELL_QASM)
    assert isinstance(circuit, Circuit)
    assert circuit == ionq.from_qasm(BELL_QASM)
    assert circuit.num_qubits == 2


def test_from_qiskit_keeps_the_classical_bits_and_refuses_dynamic_circuits() -> None:
    qiskit = pytest.importorskip("qiskit")
    bell = qiskit.QuantumCircuit(2, 2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure([0, 1], [1, 0])
    circuit = Circuit.from_qiskit(bell)
    assert circuit == ionq.from_qiskit(bell)
    assert circuit.readout is not None
    dynamic = qiskit.QuantumCircuit(2, 2)
    dynamic.h(0)
    dynamic.measure(0, 0)
    dynamic.cx(0, 1)
    dynamic.measure(1, 1)
    with pytest.raises(CircuitError, match=r"OpenQASM 3 job.*ionq_async.from_qiskit"):
        Circuit.from_qiskit(dynamic)
    assert isinstance(ionq.from_qiskit(dynamic), ionq.Qasm3Program)


def test_from_cirq_keeps_measurement_keys() -> None:
    cirq = pytest.importorskip("cirq")
    a, b = cirq.LineQubit.range(2)
    source = cirq.Circuit(cirq.H(a), cirq.CNOT(a, b), cirq.measure(a, b, key="m"))
    circuit = Circuit.from_cirq(source)
    assert circuit == ionq.from_cirq(source)
    assert circuit.readout is not None
    assert [name for name, _ in circuit.readout.registers] == ["m"]
