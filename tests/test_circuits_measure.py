"""Measurements in the builder: measure, measure_all and barrier record a readout, not gates."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ionq_async.circuits import Circuit
from ionq_async.exceptions import CircuitError
from ionq_async.readout import Readout


def test_measure_without_a_classical_bit_takes_the_next_one() -> None:
    circuit = Circuit(qubits=3).h(0).measure(2).measure(0)
    assert circuit.readout == Readout(clbits=(2, 0))
    assert circuit.readout.style == "plain"
    assert circuit.readout.registers == ()


def test_measure_into_a_given_classical_bit_leaves_the_bits_between_unwritten() -> None:
    circuit = Circuit(qubits=2).measure(1, clbit=3)
    assert circuit.readout == Readout(clbits=(None, None, None, 1))


def test_measuring_into_a_written_bit_again_keeps_the_last_measurement() -> None:
    circuit = Circuit(qubits=2).measure(0, 0).measure(1, 0)
    assert circuit.readout == Readout(clbits=(1,))


def test_measure_takes_sequences_as_qiskit_does() -> None:
    circuit = Circuit(qubits=3).measure([0, 2], [1, 0])
    assert circuit.readout == Readout(clbits=(2, 0))


def test_measure_needs_one_classical_bit_per_qubit() -> None:
    with pytest.raises(CircuitError, match="2 qubits into 1 classical bits"):
        Circuit(qubits=3).measure([0, 1], [0])


@pytest.mark.parametrize("clbit", [-1, 1.5, "0"])
def test_a_classical_bit_must_be_a_non_negative_integer(clbit: object) -> None:
    with pytest.raises(CircuitError, match="non-negative integer"):
        Circuit(qubits=1).measure(0, clbit)  # type: ignore[arg-type]


def test_measuring_a_qubit_outside_the_circuit_is_refused() -> None:
    with pytest.raises(CircuitError, match="qubit index 2 in qubits is out of range"):
        Circuit(qubits=2).measure(2)


def test_measure_all_measures_every_qubit_in_order_into_the_next_bits() -> None:
    assert Circuit(qubits=3).h(0).measure_all().readout == Readout(clbits=(0, 1, 2))
    assert Circuit(qubits=2).measure(1).measure_all().readout == Readout(clbits=(1, 0, 1))


def test_measurements_do_not_change_what_is_sent() -> None:
    plain = Circuit(qubits=3).h(0).cx(0, 1)
    measured = Circuit(qubits=3).h(0).barrier().cx(0, 1).barrier(0, 1).measure(2).measure_all()
    assert measured.to_json() == plain.to_json()


def test_a_measured_qubit_counts_in_the_width() -> None:
    circuit = Circuit().h(0).measure(2)
    assert circuit.num_qubits == 3
    assert circuit.to_json()["qubits"] == 3


def test_a_gate_after_a_measurement_points_to_openqasm_3() -> None:
    circuit = Circuit(qubits=2).h(0).measure(0)
    with pytest.raises(CircuitError) as caught:
        circuit.cx(1, 0)
    message = str(caught.value)
    assert message.startswith("gate 1: x acts on qubit 0 after its measurement")
    assert "OpenQASM 3" in message
    assert "Qasm3Program" in message
    assert caught.value.position == 1


def test_gates_on_unmeasured_qubits_may_follow_a_measurement() -> None:
    circuit = Circuit(qubits=2).h(0).measure(0).h(1).measure(1)
    assert len(circuit) == 2
    assert circuit.readout == Readout(clbits=(0, 1))


def test_barrier_and_id_after_a_measurement_are_harmless() -> None:
    circuit = Circuit(qubits=2).h(0).measure_all().barrier().id(0)
    assert len(circuit) == 1


def test_barrier_checks_its_qubits() -> None:
    with pytest.raises(CircuitError, match="qubit index 5 in qubits is out of range"):
        Circuit(qubits=2).barrier(0, 5)
    with pytest.raises(CircuitError, match="must be an integer"):
        Circuit(qubits=2).barrier("a")  # type: ignore[arg-type]


def test_barrier_accepts_a_list_as_qiskit_does() -> None:
    assert len(Circuit(qubits=3).barrier([0, 1], 2)) == 0


def test_the_readout_turns_api_counts_into_classical_bit_counts() -> None:
    # qubit 2 into bit 0, qubit 0 into bit 1; the API reports basis states, qubit 0 LSB.
    readout = Circuit(qubits=3).h(0).measure(2).measure(0).readout
    assert readout is not None
    counts = {0b101: 7, 0b100: 3}
    assert readout.clbit_counts(counts) == {0b11: 7, 0b01: 3}
    assert readout.bitstring(0b01) == "01"


def test_a_readout_given_to_the_constructor_makes_its_qubits_measured() -> None:
    readout = Readout(clbits=(1,), registers=(("c", (0,)),), style="qiskit")
    circuit = Circuit(qubits=2, gates=Circuit().h(1).gates, readout=readout)
    assert circuit.readout is readout
    with pytest.raises(CircuitError, match="after its measurement"):
        circuit.x(1)


def test_with_readout_returns_a_copy_and_leaves_the_circuit_alone() -> None:
    circuit = Circuit(qubits=2).h(0)
    readout = Readout(clbits=(0, 1), style="qiskit")
    measured = circuit.with_readout(readout)
    assert measured.readout is readout
    assert circuit.readout is None
    circuit.h(1)  # the copy holds its own gates
    assert len(measured) == 1
    assert measured.with_readout(None).readout is None


def test_a_readout_reading_a_qubit_outside_the_circuit_is_refused() -> None:
    with pytest.raises(CircuitError, match="measures qubit 3, out of range"):
        Circuit(qubits=2, readout=Readout(clbits=(3,)))


def test_a_readout_must_be_a_readout() -> None:
    with pytest.raises(CircuitError, match="readout must be a Readout"):
        Circuit(readout={"clbits": (0,)})  # type: ignore[arg-type]


def test_circuits_with_different_readouts_differ() -> None:
    assert Circuit(qubits=2).measure(0) != Circuit(qubits=2).measure(1)
    assert Circuit(qubits=2).measure(0) == Circuit(qubits=2).measure(0)


def test_a_copy_does_not_share_gates_with_the_original() -> None:
    circuit = Circuit(qubits=2).h(0).measure(1)
    duplicate = copy.copy(circuit)
    duplicate.x(0)
    assert len(circuit) == 1
    assert duplicate.readout == circuit.readout


@given(st.lists(st.tuples(st.integers(0, 4), st.one_of(st.none(), st.integers(0, 6))), max_size=12))
def test_the_readout_follows_every_measure_call(calls: list[tuple[int, int | None]]) -> None:
    circuit = Circuit(qubits=5)
    expected: list[int | None] = []
    for qubit, clbit in calls:
        circuit.measure(qubit, clbit)
        bit = len(expected) if clbit is None else clbit
        expected.extend([None] * (bit + 1 - len(expected)))
        expected[bit] = qubit
    if calls:
        assert circuit.readout == Readout(clbits=tuple(expected))
    else:
        assert circuit.readout is None


def test_the_diagram_shows_measurements() -> None:
    circuit = Circuit(qubits=2).h(0).cx(0, 1).measure_all()
    text = str(circuit)
    assert "M→c0" in text
    assert "M→c1" in text
    drawing = circuit.draw()
    assert drawing == text
    assert repr(drawing) == text  # a REPL shows the picture, not an escaped string
    assert circuit._repr_html_().startswith("<pre")
