"""Circuits: the builder, both gatesets, validation errors, JSON in every peer's shape."""

from __future__ import annotations

import contextlib
import copy
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ionq_async.circuits import (
    MAX_CIRCUITS_PER_JOB,
    Circuit,
    Gate,
    GateSet,
    circuits_from_multi_json,
    multi_circuit_json,
)
from ionq_async.exceptions import CircuitError

# --- the builder -------------------------------------------------------------------------


def test_builder_methods_chain_and_build_a_bell_pair() -> None:
    bell = Circuit(qubits=2).h(0).cnot(0, 1)
    assert bell.gates == (
        Gate(gate="h", targets=(0,)),
        Gate(gate="x", targets=(1,), controls=(0,)),
    )
    assert bell.to_json() == {
        "gateset": "qis",
        "qubits": 2,
        "circuit": [
            {"gate": "h", "target": 0},
            {"gate": "cnot", "target": 1, "controls": [0]},
        ],
    }


@pytest.mark.parametrize("name", ["x", "y", "z", "h", "s", "si", "t", "ti", "v", "vi"])
def test_every_qis_one_qubit_gate_builds_with_and_without_controls(name: str) -> None:
    circuit = Circuit()
    getattr(circuit, name)(0)
    getattr(circuit, name)(2, controls=[0, 1])
    assert circuit.gates == (
        Gate(gate=name, targets=(0,)),
        Gate(gate=name, targets=(2,), controls=(0, 1)),
    )


@pytest.mark.parametrize("name", ["rx", "ry", "rz"])
def test_rotations_store_radians_in_rotation(name: str) -> None:
    circuit = getattr(Circuit(), name)(math.pi / 2, 1, controls=0)
    assert circuit.gates == (Gate(gate=name, targets=(1,), controls=(0,), rotation=math.pi / 2),)
    assert circuit.to_json()["circuit"] == [
        {"gate": name, "target": 1, "controls": [0], "rotation": math.pi / 2}
    ]


def test_phase_gate_is_z_with_a_rotation() -> None:
    circuit = Circuit().phase(0.5, 0).phase(0.25, 1, controls=[0])
    assert circuit.gates == (
        Gate(gate="z", targets=(0,), rotation=0.5),
        Gate(gate="z", targets=(1,), controls=(0,), rotation=0.25),
    )


def test_two_qubit_qis_gates_use_targets() -> None:
    circuit = Circuit().swap(0, 1).xx(0.1, 0, 1).yy(0.2, 1, 2).zz(0.3, 2, 0)
    assert [g.to_json() for g in circuit.gates] == [
        {"gate": "swap", "targets": [0, 1]},
        {"gate": "xx", "targets": [0, 1], "rotation": 0.1},
        {"gate": "yy", "targets": [1, 2], "rotation": 0.2},
        {"gate": "zz", "targets": [2, 0], "rotation": 0.3},
    ]


def test_cnot_takes_several_controls_as_a_toffoli() -> None:
    circuit = Circuit().cnot([0, 1], 2)
    assert circuit.gates == (Gate(gate="x", targets=(2,), controls=(0, 1)),)
    assert circuit.to_json()["circuit"] == [{"gate": "cnot", "target": 2, "controls": [0, 1]}]


def test_pauliexp_keeps_terms_coefficients_and_time() -> None:
    circuit = Circuit().pauliexp([0, 1], ["XZ", "YI"], [0.5, -1], 0.1)
    assert circuit.gates == (
        Gate(
            gate="pauliexp",
            targets=(0, 1),
            terms=("XZ", "YI"),
            coefficients=(0.5, -1.0),
            time=0.1,
        ),
    )


def test_native_gates_build_with_phases_in_turns() -> None:
    circuit = (
        Circuit(gateset="native")
        .gpi(0.1, 0)
        .gpi2(0.75, 1)
        .ms([0, 0.25], 0, 1)
        .ms([0.1, 0.2], 1, 2, angle=0.125)
        .native_zz(0.05, 0, 2)
    )
    assert [g.to_json() for g in circuit.gates] == [
        {"gate": "gpi", "target": 0, "phase": 0.1},
        {"gate": "gpi2", "target": 1, "phase": 0.75},
        {"gate": "ms", "targets": [0, 1], "phases": [0.0, 0.25], "angle": 0.25},
        {"gate": "ms", "targets": [1, 2], "phases": [0.1, 0.2], "angle": 0.125},
        {"gate": "zz", "targets": [0, 2], "angle": 0.05},
    ]


def test_native_nop_is_a_one_qubit_gate_without_parameters() -> None:
    circuit = Circuit(gateset="native").nop(1).gpi(0.5, 0)
    assert circuit.gates[0] == Gate(gate="nop", targets=(1,))
    assert circuit.gates[0].to_json() == {"gate": "nop", "target": 1}
    assert Circuit.from_json(circuit.to_json()) == circuit
    read = Circuit.from_json({"gateset": "native", "circuit": [{"gate": "nop", "targets": [2]}]})
    assert read.gates == (Gate(gate="nop", targets=(2,)),)
    assert "nop belongs to the native gateset" in _error(lambda: Circuit().nop(0)).problem
    with_phase = Gate(gate="nop", targets=(0,), phase=0.1)
    assert "nop takes no phase" in _error(lambda: Circuit(gateset="native").add(with_phase)).problem
    assert (
        "takes 1 target, got 2"
        in _error(lambda: Circuit(gateset="native").add(Gate(gate="nop", targets=(0, 1)))).problem
    )


def test_add_accepts_a_gate_and_resolves_aliases() -> None:
    circuit = Circuit().add(Gate(gate="cnot", targets=[1], controls=[0]))  # type: ignore[arg-type]
    assert circuit.gates == (Gate(gate="x", targets=(1,), controls=(0,)),)


def test_add_turns_numpy_numbers_into_python_numbers() -> None:
    np = pytest.importorskip("numpy")
    circuit = Circuit().rx(np.float64(0.5), np.int64(1))
    gate = circuit.gates[0]
    assert type(gate.targets[0]) is int
    assert type(gate.rotation) is float


def test_num_qubits_is_declared_or_highest_index_plus_one() -> None:
    assert Circuit().num_qubits == 1
    assert Circuit(qubits=5).h(0).num_qubits == 5
    assert Circuit().h(0).cnot(0, 3).num_qubits == 4


def test_gate_counts_count_controlled_gates_as_multi_qubit() -> None:
    circuit = Circuit().h(0).x(1, controls=0).rz(0.1, 2).swap(0, 1).rx(0.2, 0)
    assert circuit.gate_counts() == (3, 2)
    assert Circuit().gate_counts() == (0, 0)


def test_circuits_compare_by_value() -> None:
    assert Circuit(qubits=2).h(0) == Circuit(qubits=2).h(0)
    assert Circuit(qubits=2).h(0) != Circuit(qubits=2).h(1)
    assert Circuit(qubits=2).h(0) != Circuit(qubits=3).h(0)
    assert Circuit(name="a").h(0) != Circuit(name="b").h(0)
    assert len(Circuit().h(0).h(1)) == 2


# --- validation in the builder -----------------------------------------------------------


def _error(build: Any) -> CircuitError:
    with pytest.raises(CircuitError) as caught:
        build()
    return caught.value


def test_qubit_index_out_of_declared_range_names_the_gate_position() -> None:
    error = _error(lambda: Circuit(qubits=2).h(0).cnot(0, 2))
    assert error.position == 1
    assert str(error).startswith("gate 1: ")
    assert "qubit index 2" in str(error) and "out of range" in str(error)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_rotation_is_rejected(bad: float) -> None:
    error = _error(lambda: Circuit().h(0).rx(bad, 0))
    assert error.position == 1
    assert "rotation" in error.problem
    assert ("NaN" if math.isnan(bad) else "infinite") in error.problem


def test_missing_rotation_is_rejected() -> None:
    error = _error(lambda: Circuit().add(Gate(gate="ry", targets=(0,))))
    assert error.position == 0
    assert "ry needs a rotation (radians)" in str(error)


def test_repeated_qubit_within_a_gate_is_rejected() -> None:
    error = _error(lambda: Circuit().swap(1, 1))
    assert (error.position, "qubit 1 appears more than once") == (0, error.problem[6:])
    error = _error(lambda: Circuit().h(0).h(1).cnot(1, 1))
    assert error.position == 2
    assert "appears more than once" in error.problem


def test_negative_and_non_integer_indices_are_rejected() -> None:
    assert "negative" in _error(lambda: Circuit().h(-1)).problem
    assert "integer" in _error(lambda: Circuit().h(1.5)).problem  # type: ignore[arg-type]
    assert "integer" in _error(lambda: Circuit().h(True)).problem


def test_gate_of_the_other_gateset_is_rejected() -> None:
    error = _error(lambda: Circuit().h(0).gpi(0.1, 0))
    assert error.position == 1
    assert "gpi belongs to the native gateset" in error.problem
    error = _error(lambda: Circuit(gateset="native").h(0))
    assert "h belongs to the qis gateset" in error.problem
    assert "native_zz" in _error(lambda: Circuit(gateset="native").zz(0.1, 0, 1)).problem
    assert "native gateset" in _error(lambda: Circuit().native_zz(0.1, 0, 1)).problem


def test_unknown_gate_is_rejected() -> None:
    error = _error(lambda: Circuit().add(Gate(gate="u3", targets=(0,))))
    assert "unknown gate 'u3'" in str(error)
    assert error.position == 0


def test_controls_on_swap_are_rejected() -> None:
    error = _error(lambda: Circuit().add(Gate(gate="swap", targets=(0, 1), controls=(2,))))
    assert "swap cannot be controlled" in str(error)


def test_more_than_seven_controls_are_rejected_and_seven_are_fine() -> None:
    Circuit().x(7, controls=range(7))
    error = _error(lambda: Circuit().x(8, controls=range(8)))
    assert "8 controls; at most 7" in error.problem


def test_native_gates_cannot_be_controlled() -> None:
    error = _error(
        lambda: Circuit(gateset="native").add(
            Gate(gate="gpi", targets=(0,), controls=(1,), phase=0.1)
        )
    )
    assert "cannot be controlled" in error.problem


def test_wrong_target_count_is_rejected() -> None:
    assert (
        "takes 1 target, got 2"
        in _error(lambda: Circuit().add(Gate(gate="h", targets=(0, 1)))).problem
    )
    assert (
        "takes 2 targets, got 1"
        in _error(lambda: Circuit().add(Gate(gate="swap", targets=(0,)))).problem
    )


def test_parameters_a_gate_does_not_take_are_rejected() -> None:
    error = _error(lambda: Circuit().add(Gate(gate="h", targets=(0,), rotation=0.1)))
    assert "h takes no rotation" in error.problem


def test_ms_needs_two_finite_phases_and_an_angle_up_to_a_quarter_turn() -> None:
    native = Circuit(gateset="native")
    assert "two numbers" in _error(lambda: native.ms([0.1], 0, 1)).problem
    assert "NaN" in _error(lambda: native.ms([0.1, math.nan], 0, 1)).problem
    assert "between 0 and 0.25" in _error(lambda: native.ms([0, 0], 0, 1, angle=0.5)).problem


@pytest.mark.parametrize(
    ("targets", "terms", "coefficients", "time", "problem"),
    [
        ([0, 1], ["XZ", "X"], [1, 1], 0.1, "term 'X' must be a string of 2 letters"),
        ([0], ["A"], [1], 0.1, "from I, X, Y, Z"),
        ([0], ["X", "Y"], [1], 0.1, "1 coefficients for 2 terms"),
        ([0], ["X"], [math.nan], 0.1, "coefficients is NaN"),
        ([0], ["X"], [1], math.inf, "time is infinite"),
        ([0], [], [], 0.1, "non-empty"),
    ],
)
def test_pauliexp_validation(
    targets: list[int], terms: list[str], coefficients: list[float], time: float, problem: str
) -> None:
    error = _error(lambda: Circuit().pauliexp(targets, terms, coefficients, time))
    assert problem in error.problem
    assert error.position == 0


def test_a_rejected_gate_leaves_the_circuit_unchanged() -> None:
    circuit = Circuit().h(0)
    with pytest.raises(CircuitError):
        circuit.rx(math.nan, 0)
    assert len(circuit) == 1


def test_bad_circuit_arguments_are_rejected() -> None:
    assert "qubits must be a positive integer" in str(_error(lambda: Circuit(qubits=0)))
    assert "gateset" in str(_error(lambda: Circuit(gateset="clifford")))  # type: ignore[arg-type]


def test_validate_checks_width_against_max_qubits() -> None:
    Circuit().h(3).validate(max_qubits=4)
    error = _error(lambda: Circuit().h(0).cnot(0, 5).validate(max_qubits=4))
    assert error.position == 1
    assert "needs 6 qubits; at most 4" in error.problem
    error = _error(lambda: Circuit(qubits=30).validate(max_qubits=29))
    assert error.position is None
    assert "declares 30 qubits" in error.problem


# --- from_json: IonQ's documents and the peers' payloads ---------------------------------

IONQ_DOC_INPUT = {
    "qubits": 2,
    "gateset": "qis",
    "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}],
}
QISKIT_INPUT = {
    "gateset": "qis",
    "qubits": 2,
    "circuit": [{"gate": "h", "targets": [0]}, {"gate": "x", "targets": [1], "controls": [0]}],
}
CIRQ_INPUT = {
    "gateset": "qis",
    "qubits": 2,
    "circuit": [{"gate": "h", "targets": [0]}, {"gate": "cnot", "control": 0, "target": 1}],
}
BELL = Circuit(qubits=2).h(0).cnot(0, 1)


@pytest.mark.parametrize("payload", [IONQ_DOC_INPUT, QISKIT_INPUT, CIRQ_INPUT])
def test_every_peer_spelling_of_a_bell_pair_reads_the_same(payload: dict[str, Any]) -> None:
    assert Circuit.from_json(payload) == BELL


def test_ionq_doc_toffoli_and_swap_read() -> None:
    circuit = Circuit.from_json(
        {
            "circuit": [
                {"gate": "cnot", "target": 0, "controls": [1, 2]},
                {"gate": "swap", "targets": [0, 1]},
            ]
        }
    )
    assert circuit == Circuit(qubits=3).cnot([1, 2], 0).swap(0, 1)
    assert circuit.gateset == "qis"


def test_qiskit_controlled_rotations_phase_and_aliases_read() -> None:
    circuit = Circuit.from_json(
        {
            "gateset": "qis",
            "circuit": [
                {"gate": "rx", "rotation": 0.5, "targets": [1], "controls": [0]},
                {"gate": "z", "rotation": 0.25, "targets": [1], "controls": [0]},
                {"gate": "x", "targets": [2], "controls": [0, 1]},
                {"gate": "sdg", "targets": [0]},
                {"gate": "sx", "targets": [0]},
                {"gate": "rzz", "targets": [0, 1], "rotation": 0.1},
                {"gate": "not", "targets": [0]},
            ],
        }
    )
    assert circuit.gates == (
        Gate(gate="rx", targets=(1,), controls=(0,), rotation=0.5),
        Gate(gate="z", targets=(1,), controls=(0,), rotation=0.25),
        Gate(gate="x", targets=(2,), controls=(0, 1)),
        Gate(gate="si", targets=(0,)),
        Gate(gate="v", targets=(0,)),
        Gate(gate="zz", targets=(0, 1), rotation=0.1),
        Gate(gate="x", targets=(0,)),
    )


def test_qiskit_pauliexp_reads() -> None:
    circuit = Circuit.from_json(
        {
            "gateset": "qis",
            "circuit": [
                {
                    "gate": "pauliexp",
                    "targets": [0, 1],
                    "terms": ["XZ", "YY"],
                    "coefficients": [0.5, 1],
                    "time": 0.2,
                }
            ],
        }
    )
    assert circuit == Circuit().pauliexp([0, 1], ["XZ", "YY"], [0.5, 1.0], 0.2)


def test_native_payloads_read_including_cirq_zz_with_phase() -> None:
    circuit = Circuit.from_json(
        {
            "gateset": "native",
            "qubits": 3,
            "circuit": [
                {"gate": "gpi", "target": 0, "phase": 0.1},
                {"gate": "gpi2", "target": 1, "phase": 0.2},
                {"gate": "ms", "targets": [0, 1], "phases": [0, 0.25], "angle": 0.1},
                {"gate": "ms", "targets": [1, 2], "phases": [0, 0.5]},
                {"gate": "zz", "targets": [0, 2], "angle": 0.125},
                {"gate": "zz", "targets": [0, 2], "phase": 0.125},
            ],
        }
    )
    assert circuit == (
        Circuit(qubits=3, gateset="native")
        .gpi(0.1, 0)
        .gpi2(0.2, 1)
        .ms([0, 0.25], 0, 1, angle=0.1)
        .ms([0, 0.5], 1, 2)
        .native_zz(0.125, 0, 2)
        .native_zz(0.125, 0, 2)
    )


def test_unknown_keys_inside_a_gate_are_ignored() -> None:
    circuit = Circuit.from_json({"circuit": [{"gate": "h", "target": 0, "label": "hi"}]})
    assert circuit == Circuit().h(0)


def test_integral_float_indices_are_read_as_integers() -> None:
    # The API's schema types indices as numbers.
    assert Circuit.from_json({"circuit": [{"gate": "h", "targets": [1.0]}]}) == Circuit().h(1)


def test_missing_gateset_uses_the_default() -> None:
    circuit = Circuit.from_json(
        {"circuit": [{"gate": "gpi", "target": 0, "phase": 0.1}]}, gateset_default="native"
    )
    assert circuit.gateset == "native"


@pytest.mark.parametrize(
    ("gate", "problem"),
    [
        ({"gate": "h", "target": 9}, "qubit index 9 in targets is out of range"),
        ({"gate": "h", "target": -1}, "negative"),
        ({"gate": "h", "target": 1.5}, "must be an integer, got 1.5"),
        ({"gate": "h", "target": True}, "must be an integer, got True"),
        ({"gate": "h", "target": "0"}, "must be an integer, got '0'"),
        ({"gate": "h", "targets": 0}, "'targets' must be a list"),
        ({"gate": "h"}, "h needs 'target' or 'targets'"),
        ({"gate": "h", "target": 0, "targets": [0]}, "not both"),
        ({"gate": "cnot", "target": 0}, "cnot needs 'control' or 'controls'"),
        ({"gate": "rx", "target": 0}, "rx needs a rotation (radians)"),
        ({"gate": "rx", "target": 0, "rotation": "1"}, "rotation must be a number"),
        ({"gate": "rx", "target": 0, "rotation": math.nan}, "rotation is NaN"),
        ({"gate": "gpi", "target": 0, "phase": 0.1}, "gpi belongs to the native gateset"),
        ({"gate": "bogus", "target": 0}, "unknown gate 'bogus'"),
        ({"gate": 3, "target": 0}, "gate name must be a string"),
        ({"target": 0}, "no 'gate' name"),
        ({"gate": "swap", "targets": [0, 1], "controls": [2]}, "swap cannot be controlled"),
        ({"gate": "x", "target": 0, "controls": [1, 1]}, "appears more than once"),
        (
            {"gate": "x", "target": 0, "controls": list(range(1, 9))},
            "x has 8 controls; at most 7 are allowed",
        ),
        ({"gate": "ry", "targets": [0], "rotation": -math.inf}, "ry: rotation is infinite"),
        ({"gate": "gpi2", "target": 0}, "gpi2 belongs to the native gateset"),
        ([1, 2], "a gate must be a JSON object, got list"),
    ],
)
def test_from_json_names_the_position_and_problem(gate: Any, problem: str) -> None:
    payload = {"gateset": "qis", "qubits": 9, "circuit": [{"gate": "h", "target": 0}, gate]}
    error = _error(lambda: Circuit.from_json(payload))
    assert error.position == 1
    assert problem in error.problem
    assert str(error).startswith("gate 1: ")


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ([], "must be a JSON object"),
        ({}, "no 'circuit'"),
        ({"circuit": {}}, "'circuit' must be a list"),
        ({"circuit": [], "gateset": "clifford"}, "gateset must be"),
        ({"circuit": [], "qubits": 0}, "qubits must be a positive integer"),
        ({"circuit": [], "qubits": "2"}, "qubits must be a positive integer"),
        ({"circuit": [], "circuits": []}, "both 'circuit' and 'circuits'"),
        ({"circuits": []}, "circuits_from_multi_json"),
    ],
)
def test_from_json_rejects_bad_envelopes(payload: Any, problem: str) -> None:
    error = _error(lambda: Circuit.from_json(payload))
    assert problem in error.problem
    assert error.position is None


def test_from_json_does_not_change_its_input() -> None:
    payload = copy.deepcopy(QISKIT_INPUT)
    Circuit.from_json(payload)
    assert payload == QISKIT_INPUT


# --- multi-circuit -----------------------------------------------------------------------

OAS_MULTI_INPUT = {
    "gateset": "native",
    "qubits": 2,
    "circuits": [
        {
            "name": "qis circuit override",
            "gateset": "qis",
            "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "target": 0, "control": 1}],
        },
        {
            "name": "native circuit from parent",
            "circuit": [
                {"gate": "ms", "targets": [0, 1], "phases": [0, 0.25]},
                {"gate": "gpi2", "target": 0, "phase": 0.75},
            ],
        },
    ],
}


def test_multi_circuit_input_from_the_spec_reads_with_overrides() -> None:
    first, second = circuits_from_multi_json(OAS_MULTI_INPUT)
    assert first == Circuit(2, "qis", "qis circuit override").h(0).cnot(1, 0)
    assert second == Circuit(2, "native", "native circuit from parent").ms([0, 0.25], 0, 1).gpi2(
        0.75, 0
    )


def test_peer_multi_circuit_inputs_read() -> None:
    qiskit = {
        "gateset": "qis",
        "qubits": 2,
        "circuits": [
            {"name": "bell", "circuit": QISKIT_INPUT["circuit"]},
            {"name": "x0", "circuit": [{"gate": "x", "targets": [0]}]},
        ],
    }
    cirq = {
        "gateset": "qis",
        "qubits": 2,
        "circuits": [
            {"circuit": CIRQ_INPUT["circuit"]},
            {"circuit": [{"gate": "x", "targets": [0]}]},
        ],
    }
    assert [c.name for c in circuits_from_multi_json(qiskit)] == ["bell", "x0"]
    assert circuits_from_multi_json(cirq) == [BELL, Circuit(qubits=2).x(0)]


def test_multi_circuit_json_round_trips_with_names_and_mixed_gatesets() -> None:
    circuits = [
        Circuit(name="bell").h(0).cnot(0, 1),
        Circuit(gateset="native").gpi(0.5, 2),
        Circuit(qubits=4).x(3),
    ]
    data = multi_circuit_json(circuits)
    assert data["gateset"] == "qis"
    assert data["qubits"] == 4
    assert data["circuits"][1]["gateset"] == "native"
    assert "gateset" not in data["circuits"][0]
    assert data["circuits"][0]["name"] == "bell"
    assert "name" not in data["circuits"][1]
    assert circuits_from_multi_json(data) == circuits


def test_a_bad_gate_in_a_multi_circuit_input_names_circuit_and_position() -> None:
    data = copy.deepcopy(OAS_MULTI_INPUT)
    data["circuits"][1]["circuit"][1]["phase"] = math.inf  # type: ignore[index]
    error = _error(lambda: circuits_from_multi_json(data))
    assert (error.circuit, error.position) == (1, 1)
    assert str(error) == "circuit 1, gate 1: gpi2: phase is infinite"


def test_parent_qubits_apply_to_circuits_without_their_own() -> None:
    data = {"gateset": "qis", "qubits": 2, "circuits": [{"circuit": [{"gate": "h", "target": 2}]}]}
    error = _error(lambda: circuits_from_multi_json(data))
    assert (error.circuit, error.position) == (0, 0)
    assert "out of range for a 2-qubit circuit" in error.problem


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({"gateset": "qis", "circuits": [], "circuit": []}, "both 'circuit' and 'circuits'"),
        ({"gateset": "qis", "circuits": []}, "empty"),
        ({"gateset": "qis"}, "no 'circuits'"),
        ({"gateset": "qis", "circuits": {}}, "must be a list"),
        ({"gateset": "qis", "circuits": [[]]}, "must be a JSON object"),
    ],
)
def test_bad_multi_circuit_envelopes_are_rejected(payload: Any, problem: str) -> None:
    assert problem in _error(lambda: circuits_from_multi_json(payload)).problem


def test_multi_circuit_limits_are_enforced() -> None:
    too_many = [Circuit().h(0)] * (MAX_CIRCUITS_PER_JOB + 1)
    assert (
        "5001 circuits in one job; at most 5000"
        in _error(lambda: multi_circuit_json(too_many)).problem
    )
    wide = Circuit(gates=[Gate(gate="h", targets=(0,))] * 150_001)
    assert (
        "150001 gates in one job; at most 150000"
        in _error(lambda: multi_circuit_json([wide])).problem
    )
    assert "at least one" in _error(lambda: multi_circuit_json([])).problem
    error = _error(lambda: multi_circuit_json([Circuit(), "h 0"]))  # type: ignore[list-item]
    assert (error.circuit, "expected a Circuit, got str") == (1, error.problem)


# --- properties --------------------------------------------------------------------------

_finite = st.floats(min_value=-10, max_value=10, allow_nan=False)
_turns = st.floats(min_value=-1, max_value=1, allow_nan=False)
_ONE = ["x", "y", "z", "h", "s", "si", "t", "ti", "v", "vi", "rx", "ry", "rz"]


@st.composite
def _qis_gate(draw: st.DrawFn, width: int) -> Gate:
    kind = draw(st.sampled_from([*_ONE, "z+rotation", "swap", "xx", "yy", "zz", "pauliexp"]))
    if kind in ("swap", "xx", "yy", "zz"):
        qubits = draw(st.lists(st.integers(0, width - 1), min_size=2, max_size=2, unique=True))
        return Gate(
            gate=kind, targets=tuple(qubits), rotation=None if kind == "swap" else draw(_finite)
        )
    if kind == "pauliexp":
        n = draw(st.integers(1, min(3, width)))
        qubits = draw(st.lists(st.integers(0, width - 1), min_size=n, max_size=n, unique=True))
        terms = draw(st.lists(st.text("IXYZ", min_size=n, max_size=n), min_size=1, max_size=3))
        coefficients = draw(st.lists(_finite, min_size=len(terms), max_size=len(terms)))
        return Gate(
            gate="pauliexp",
            targets=tuple(qubits),
            terms=tuple(terms),
            coefficients=tuple(coefficients),
            time=draw(_finite),
        )
    controls_count = draw(st.integers(0, min(7, width - 1)))
    qubits = draw(
        st.lists(
            st.integers(0, width - 1),
            min_size=controls_count + 1,
            max_size=controls_count + 1,
            unique=True,
        )
    )
    name = "z" if kind == "z+rotation" else kind
    rotation = draw(_finite) if kind in ("rx", "ry", "rz", "z+rotation") else None
    return Gate(gate=name, targets=(qubits[0],), controls=tuple(qubits[1:]), rotation=rotation)


@st.composite
def _native_gate(draw: st.DrawFn, width: int) -> Gate:
    kind = draw(st.sampled_from(["gpi", "gpi2", "ms", "zz", "nop"]))
    if kind == "nop":
        return Gate(gate="nop", targets=(draw(st.integers(0, width - 1)),))
    if kind in ("gpi", "gpi2"):
        return Gate(gate=kind, targets=(draw(st.integers(0, width - 1)),), phase=draw(_turns))
    pair = tuple(draw(st.lists(st.integers(0, width - 1), min_size=2, max_size=2, unique=True)))
    if kind == "zz":
        return Gate(gate="zz", targets=pair, angle=draw(_turns))
    return Gate(
        gate="ms",
        targets=pair,
        phases=(draw(_turns), draw(_turns)),
        angle=draw(st.floats(0, 0.25)),
    )


@st.composite
def circuits(draw: st.DrawFn, named: bool = False) -> Circuit:
    gateset: GateSet = draw(st.sampled_from(["qis", "native"]))
    width = draw(st.integers(2, 9))
    declared = draw(st.booleans())
    gate_strategy = _qis_gate(width) if gateset == "qis" else _native_gate(width)
    gates = draw(st.lists(gate_strategy, max_size=12))
    name = draw(st.none() | st.text(max_size=8)) if named else None
    return Circuit(qubits=width if declared else None, gateset=gateset, name=name, gates=gates)


@given(circuits())
def test_valid_circuits_round_trip_through_json_unchanged(circuit: Circuit) -> None:
    again = Circuit.from_json(circuit.to_json())
    assert again == circuit
    assert again.gates == circuit.gates


@given(st.lists(circuits(named=True), min_size=1, max_size=4))
def test_circuit_lists_round_trip_through_multi_circuit_json(batch: list[Circuit]) -> None:
    assert circuits_from_multi_json(multi_circuit_json(batch)) == batch


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 40)
    | st.floats()
    | st.sampled_from(["x", "h", "cnot", "rx", "gpi", "ms", "zz", "pauliexp", "XZ", ""]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "gate",
                    "target",
                    "targets",
                    "control",
                    "controls",
                    "rotation",
                    "phase",
                    "phases",
                    "angle",
                    "terms",
                    "coefficients",
                    "time",
                    "qubits",
                    "gateset",
                    "circuit",
                    "circuits",
                    "name",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=20,
)
_junk_gate = st.fixed_dictionaries(
    {"gate": st.sampled_from(["x", "cnot", "rx", "swap", "pauliexp", "gpi", "ms", "zz", "nop"])},
    optional={
        "target": _json,
        "targets": _json,
        "control": _json,
        "controls": _json,
        "rotation": _json,
        "phase": _json,
        "phases": _json,
        "angle": _json,
        "terms": _json,
        "coefficients": _json,
        "time": _json,
    },
)


@given(
    _json
    | st.fixed_dictionaries(
        {"circuit": st.lists(_junk_gate, max_size=3)},
        optional={"gateset": st.sampled_from(["qis", "native"]), "qubits": _json},
    )
)
def test_junk_json_raises_only_circuit_error(data: Any) -> None:
    for read in (Circuit.from_json, circuits_from_multi_json):
        with contextlib.suppress(CircuitError):
            read(data)


@given(
    st.fixed_dictionaries(
        {"circuits": st.lists(_json | st.fixed_dictionaries({"circuit": st.lists(_junk_gate)}))},
        optional={"gateset": _json, "qubits": _json},
    )
)
def test_junk_multi_circuit_json_raises_only_circuit_error(data: Any) -> None:
    with contextlib.suppress(CircuitError):
        circuits_from_multi_json(data)


def test_validate_checks_again_only_the_gates_added_since_it_last_passed() -> None:
    from unittest import mock

    from ionq_async import circuits as circuits_module

    circuit = Circuit(qubits=3).h(0).cnot(0, 1)
    with mock.patch.object(
        circuits_module, "_gate_problem", wraps=circuits_module._gate_problem
    ) as checked:
        circuit.validate()
        assert checked.call_count == 2
        circuit.validate()
        assert checked.call_count == 2  # nothing new to check
        circuit.x(2)
        checked.reset_mock()
        circuit.validate()
        # Only x, the gate added since: the first two are not checked again.
        assert checked.call_count == 1


def test_circuits_share_their_empty_sets() -> None:
    # Before: each circuit made two empty frozensets of its own (216 bytes each), 43 MB
    # for a batch of 100,000 waiting circuits.
    import tracemalloc

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        circuits = [Circuit(qubits=2).h(0).cnot(0, 1) for _ in range(2_000)]
        per_circuit = (tracemalloc.get_traced_memory()[0] - before) / len(circuits)
    finally:
        tracemalloc.stop()
    assert per_circuit < 900, f"{per_circuit:.0f} bytes a Bell circuit"
