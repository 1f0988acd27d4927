"""Results of converted circuits speak the source's conventions (issue 11): Qiskit's
classical bits, Cirq's measurement keys, the builder's measure() calls."""

from __future__ import annotations

import cirq
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

import ionq_async as ionq
from ionq_async.client import Client
from ionq_async.emulator import Emulator
from ionq_async.models import Job, JobStatus
from ionq_async.readout import Readout
from ionq_async.results import Result


def test_counts_of_a_result_with_a_readout_are_keyed_by_classical_bits() -> None:
    # Qubit 0 into classical bit 1 and qubit 1 into bit 0: state |q1 q0> = |01> (q0 = 1)
    # reads as classical bits "10".
    readout = Readout(clbits=(1, 0), style="qiskit")
    result = Result(
        job=Job(id="j", status=JobStatus.COMPLETED), probabilities={1: 1.0}, shots=10,
        readout=readout,
    )  # fmt: skip
    assert result.counts() == {2: 10}
    assert result.bitstring_counts() == {"10": 10}
    assert result.bitstrings() == {"10": 1.0}
    assert result.per_key() == {"": {2: 10}}
    assert dict(result.probabilities) == {1: 1.0}  # the API's, over qubits


def test_per_key_without_a_readout_says_so() -> None:
    result = Result(job=Job(id="j", status=JobStatus.COMPLETED), probabilities={0: 1.0}, shots=1)
    with pytest.raises(ionq.InvalidRequestError, match="no readout"):
        result.per_key()


async def test_a_qiskit_circuit_run_as_it_is_gives_qiskits_count_keys() -> None:
    q = QuantumRegister(3, "q")
    low, high = ClassicalRegister(1, "low"), ClassicalRegister(2, "high")
    qc = QuantumCircuit(q, low, high)
    qc.x(0)  # qubit 0 is 1; qubits 1 and 2 stay 0
    qc.x(2)
    qc.measure(0, high[1])
    qc.measure(1, high[0])
    qc.measure(2, low[0])
    async with Emulator() as emu, Client(api_key=emu.api_key, base_url=emu.url) as client:
        result = await client.run(qc, shots=100)
        [outcome] = [o async for o in client.run_many([qc], shots=100)]
    # Qiskit: the last register leftmost, bit 0 of each register rightmost: "10 1".
    assert result.bitstring_counts() == {"10 1": 100}
    assert outcome.unwrap().bitstring_counts() == {"10 1": 100}


async def test_a_cirq_circuit_reads_per_measurement_key() -> None:
    a, b = cirq.LineQubit.range(2)
    circuit = cirq.Circuit(cirq.X(b), cirq.measure(a, b, key="m"), cirq.measure(b, key="b"))
    async with Emulator() as emu, Client(api_key=emu.api_key, base_url=emu.url) as client:
        result = await client.run(circuit, shots=50)
    # As cirq's histogram(key=...): key "m" reads (a, b) = (0, 1) -> 1, key "b" reads 1.
    assert result.per_key() == {"m": {1: 50}, "b": {1: 50}}


async def test_builder_measurements_key_counts_by_classical_bit() -> None:
    circuit = ionq.Circuit(qubits=2).x(1).measure(1).measure(0)  # qubit 1 -> bit 0
    async with Emulator() as emu, Client(api_key=emu.api_key, base_url=emu.url) as client:
        result = await client.run(circuit, shots=20)
    assert result.counts() == {1: 20}
    assert result.bitstring_counts() == {"01": 20}
