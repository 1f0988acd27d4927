"""The names people type: Qiskit's gate names on the builder, and "did you mean"."""

from __future__ import annotations

import copy
import math
import subprocess
import sys
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ionq_async.circuits import BUILDER_ALIASES, Circuit, Gate
from ionq_async.exceptions import CircuitError

Build = Callable[[Circuit], Circuit]

# Each alias call, and the call of our own name that builds the same gate.
ALIASES: list[tuple[str, Build, Build]] = [
    ("cx", lambda c: c.cx(0, 1), lambda c: c.cnot(0, 1)),
    ("cy", lambda c: c.cy(0, 1), lambda c: c.y(1, controls=0)),
    ("cz", lambda c: c.cz(0, 1), lambda c: c.z(1, controls=0)),
    ("ch", lambda c: c.ch(0, 1), lambda c: c.h(1, controls=0)),
    ("cs", lambda c: c.cs(0, 1), lambda c: c.s(1, controls=0)),
    ("csdg", lambda c: c.csdg(0, 1), lambda c: c.si(1, controls=0)),
    ("csx", lambda c: c.csx(0, 1), lambda c: c.v(1, controls=0)),
    ("ccx", lambda c: c.ccx(0, 1, 2), lambda c: c.cnot([0, 1], 2)),
    ("ccz", lambda c: c.ccz(0, 1, 2), lambda c: c.z(2, controls=[0, 1])),
    ("mcx", lambda c: c.mcx([0, 1, 3], 2), lambda c: c.x(2, controls=[0, 1, 3])),
    ("p", lambda c: c.p(0.3, 1), lambda c: c.phase(0.3, 1)),
    ("cp", lambda c: c.cp(0.3, 0, 1), lambda c: c.phase(0.3, 1, controls=0)),
    ("mcp", lambda c: c.mcp(0.3, [0, 2], 1), lambda c: c.phase(0.3, 1, controls=[0, 2])),
    ("crx", lambda c: c.crx(0.3, 0, 1), lambda c: c.rx(0.3, 1, controls=0)),
    ("cry", lambda c: c.cry(0.3, 0, 1), lambda c: c.ry(0.3, 1, controls=0)),
    ("crz", lambda c: c.crz(0.3, 0, 1), lambda c: c.rz(0.3, 1, controls=0)),
    ("mcrx", lambda c: c.mcrx(0.3, [0, 2], 1), lambda c: c.rx(0.3, 1, controls=[0, 2])),
    ("mcry", lambda c: c.mcry(0.3, [0, 2], 1), lambda c: c.ry(0.3, 1, controls=[0, 2])),
    ("mcrz", lambda c: c.mcrz(0.3, [0, 2], 1), lambda c: c.rz(0.3, 1, controls=[0, 2])),
    ("sdg", lambda c: c.sdg(1), lambda c: c.si(1)),
    ("tdg", lambda c: c.tdg(1), lambda c: c.ti(1)),
    ("sx", lambda c: c.sx(1), lambda c: c.v(1)),
    ("sxdg", lambda c: c.sxdg(1), lambda c: c.vi(1)),
    ("rxx", lambda c: c.rxx(0.3, 0, 1), lambda c: c.xx(0.3, 0, 1)),
    ("ryy", lambda c: c.ryy(0.3, 0, 1), lambda c: c.yy(0.3, 0, 1)),
    ("rzz", lambda c: c.rzz(0.3, 0, 1), lambda c: c.zz(0.3, 0, 1)),
    ("id", lambda c: c.id(1), lambda c: c),
]


@pytest.mark.parametrize(("alias", "build", "same"), ALIASES, ids=[a[0] for a in ALIASES])
def test_each_qiskit_name_builds_exactly_what_our_name_builds(
    alias: str, build: Build, same: Build
) -> None:
    assert build(Circuit(qubits=4)).to_json() == same(Circuit(qubits=4)).to_json()
    assert build(Circuit(qubits=4)) == same(Circuit(qubits=4))


def test_every_alias_in_the_table_is_a_builder_method_and_tested() -> None:
    assert set(BUILDER_ALIASES) == {alias for alias, _, _ in ALIASES}
    for alias in BUILDER_ALIASES:
        assert callable(getattr(Circuit, alias))


def test_cx_is_sent_in_the_apis_own_form() -> None:
    assert Circuit(qubits=2).h(0).cx(0, 1).to_json() == {
        "gateset": "qis",
        "qubits": 2,
        "circuit": [
            {"gate": "h", "target": 0},
            {"gate": "cnot", "target": 1, "controls": [0]},
        ],
    }


def test_ccx_and_p_are_sent_as_ionqs_gates() -> None:
    circuit = Circuit().ccx(0, 1, 2).p(math.pi / 4, 0).rzz(0.5, 1, 2)
    assert circuit.to_json()["circuit"] == [
        {"gate": "cnot", "target": 2, "controls": [0, 1]},
        {"gate": "z", "target": 0, "rotation": math.pi / 4},
        {"gate": "zz", "targets": [1, 2], "rotation": 0.5},
    ]


def test_id_sends_nothing_but_checks_its_qubit() -> None:
    circuit = Circuit(qubits=2).h(0).id(1)
    assert len(circuit) == 1
    with pytest.raises(CircuitError, match="out of range for a 2-qubit circuit"):
        circuit.id(2)


def test_a_qubit_named_only_by_id_counts_in_the_width() -> None:
    assert Circuit().h(0).id(2).to_json()["qubits"] == 3


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda c: c.cp(0.1, [0, 1], 2), "cp takes 1 control"),
        (lambda c: c.crx(0.1, [0, 1], 2), "crx takes 1 control"),
        (lambda c: c.ccx(0, 0, 1), "qubit 0 appears more than once"),
        (lambda c: c.mcx(list(range(8)), 9), "at most 7"),
    ],
)
def test_aliases_are_checked_like_the_gates_they_build(build: Build, message: str) -> None:
    with pytest.raises(CircuitError, match=message):
        build(Circuit())


def test_an_alias_on_a_native_circuit_is_refused_as_qis() -> None:
    with pytest.raises(CircuitError, match="belongs to the qis gateset"):
        Circuit(gateset="native").cx(0, 1)


@given(
    theta=st.floats(-10, 10, allow_nan=False),
    qubits=st.lists(st.integers(0, 6), min_size=3, max_size=3, unique=True),
)
def test_controlled_rotations_match_our_controlled_gates(theta: float, qubits: list[int]) -> None:
    control, target, other = qubits
    aliased = (
        Circuit().crz(theta, control, target).cp(theta, other, target).rxx(theta, control, other)
    )
    ours = (
        Circuit()
        .rz(theta, target, controls=control)
        .phase(theta, target, controls=other)
        .xx(theta, control, other)
    )
    assert aliased.to_json() == ours.to_json()


# --- "did you mean" ------------------------------------------------------------------------


def test_an_unknown_gate_in_json_names_the_closest_and_every_valid_name() -> None:
    with pytest.raises(CircuitError) as caught:
        Circuit.from_json({"circuit": [{"gate": "hh", "target": 0}]})
    message = str(caught.value)
    assert message.startswith("gate 0: unknown gate 'hh' in the qis gateset")
    assert "did you mean 'h'?" in message
    assert "valid names: cnot, h, not, pauliexp, rx, rxx, ry, ryy, rz, rzz, s, sdg, si," in message


def test_a_qiskit_builder_name_in_json_says_which_gate_to_write() -> None:
    with pytest.raises(CircuitError) as caught:
        Circuit.from_json({"circuit": [{"gate": "cx", "targets": [1], "controls": [0]}]})
    message = str(caught.value)
    assert "cx is Qiskit's name for x with one control (cnot)" in message
    assert "valid names:" in message


def test_an_unknown_native_gate_gets_native_suggestions() -> None:
    with pytest.raises(CircuitError) as caught:
        Circuit.from_json({"gateset": "native", "circuit": [{"gate": "gp2", "target": 0}]})
    message = str(caught.value)
    assert "did you mean 'gpi2'" in message
    assert "valid names: gpi, gpi2, ms, nop, zz" in message


def test_json_still_accepts_the_aliases_it_accepted() -> None:
    circuit = Circuit.from_json(
        {
            "circuit": [
                {"gate": "not", "target": 0},
                {"gate": "cnot", "control": 0, "target": 1},
                {"gate": "sdg", "target": 0},
                {"gate": "rzz", "targets": [0, 1], "rotation": 0.5},
            ]
        }
    )
    assert [gate.gate for gate in circuit.gates] == ["x", "x", "si", "zz"]


def test_an_unknown_gate_added_as_a_gate_suggests_names() -> None:
    with pytest.raises(CircuitError, match=r"unknown gate 'rx2'.*did you mean 'rx'"):
        Circuit().add(Gate(gate="rx2", targets=(0,), rotation=0.1))


def test_a_misspelled_method_suggests_the_closest_builder_methods() -> None:
    with pytest.raises(AttributeError) as caught:
        Circuit().cnto(0, 1)  # type: ignore[attr-defined]
    message = str(caught.value)
    assert "Circuit has no method 'cnto'" in message
    assert "did you mean 'cnot'" in message
    assert "the gate methods are barrier, ccx," in message


def test_a_qiskit_gate_outside_ionqs_set_points_to_from_qiskit() -> None:
    with pytest.raises(AttributeError, match=r"Qiskit's u3 is not an IonQ gate.*from_qiskit"):
        Circuit().u3(0.1, 0.2, 0.3, 0)  # type: ignore[attr-defined]


def test_toffoli_points_to_ccx() -> None:
    with pytest.raises(AttributeError, match=r"use ccx\(control1, control2, target\)"):
        Circuit().toffoli(0, 1, 2)  # type: ignore[attr-defined]


def test_private_and_protocol_lookups_still_just_miss() -> None:
    circuit = Circuit().h(0)
    assert not hasattr(circuit, "_repr_markdown_")
    assert not hasattr(circuit, "__array__")
    duplicate = copy.copy(circuit)
    assert duplicate == circuit
    assert copy.deepcopy(circuit) == circuit


def test_importing_the_library_imports_no_framework() -> None:
    code = (
        "import ionq_async, ionq_async.parameters, sys; "
        "assert not any(m.startswith(('qiskit', 'cirq', 'openqasm3')) for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
