"""Drawing circuits as text: wires, columns, controls, labels, measurements, wrapping, HTML."""

from __future__ import annotations

import math
import unicodedata
from typing import Any

import pytest
from attrs import frozen
from hypothesis import given
from hypothesis import strategies as st

from ionq_async import _drawing
from ionq_async._drawing import draw_html, draw_text
from ionq_async.circuits import Circuit, Gate, GateSet
from ionq_async.exceptions import ConfigurationError
from ionq_async.readout import Readout


def diagram(*lines: str) -> str:
    """The expected diagram, one argument per line (lines between wires keep their padding)."""
    return "\n".join(lines)


class MeasuredCircuit(Circuit):
    """A circuit with a readout, through the public ``readout`` attribute draw_text reads."""

    def __init__(self, circuit: Circuit, readout: Readout) -> None:
        super().__init__(qubits=circuit.num_qubits, gateset=circuit.gateset, gates=circuit.gates)
        self._given_readout = readout

    @property
    def readout(self) -> Readout:
        return self._given_readout


@frozen
class Symbol:
    """A stand-in for a symbolic parameter: drawn by ``str()``."""

    text: str

    def __str__(self) -> str:
        return self.text


@frozen(kw_only=True)
class CircuitShape:
    """Circuit's public surface as draw_text reads it, holding gates a builder would refuse
    today (symbolic parameters)."""

    gates: tuple[Gate, ...]
    num_qubits: int
    gateset: GateSet = "qis"
    name: str | None = None
    readout: Readout | None = None


def display_width(line: str) -> int:
    """Terminal columns a line takes (wide and full-width characters take two)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line)


# --- small circuits, exactly -------------------------------------------------------------


def test_bell_pair_is_a_hadamard_then_a_control_joined_to_its_target() -> None:
    assert draw_text(Circuit(qubits=2).h(0).cnot(0, 1)) == diagram(
        "q0: ─H──●──",
        "        │  ",
        "q1: ────X──",
    )


def test_ghz_cascades_one_column_per_cnot() -> None:
    assert draw_text(Circuit(qubits=3).h(0).cnot(0, 1).cnot(1, 2)) == diagram(
        "q0: ─H──●─────",
        "        │     ",
        "q1: ────X──●──",
        "           │  ",
        "q2: ───────X──",
    )


def test_controlled_rotations_show_angles_as_fractions_of_pi_or_short_numbers() -> None:
    circuit = (
        Circuit(qubits=3)
        .rx(math.pi / 2, 2, controls=0)
        .phase(math.pi / 4, 1, controls=[0, 2])
        .ry(-0.5, 0, controls=[1, 2])
    )
    assert draw_text(circuit) == diagram(
        "q0: ────●───────●─────RY(-0.5)──",
        "        │       │        │      ",
        "q1: ────┼─────P(π/4)─────●──────",
        "        │       │        │      ",
        "q2: ─RX(π/2)────●────────●──────",
    )


def test_swap_marks_both_qubits_and_crosses_the_wires_between() -> None:
    assert draw_text(Circuit(qubits=3).swap(0, 2).swap(0, 1)) == diagram(
        "q0: ─×──×──",
        "     │  │  ",
        "q1: ─┼──×──",
        "     │     ",
        "q2: ─×─────",
    )


def test_native_gates_show_phases_in_turns_and_ms_each_qubits_own_phase() -> None:
    circuit = (
        Circuit(qubits=3, gateset="native")
        .gpi(0.25, 0)
        .gpi2(-0.125, 1)
        .ms([0.1, 0.2], 0, 2)
        .ms([0, 0.5], 2, 1, angle=0.125)
        .native_zz(0.1, 0, 1)
    )
    assert draw_text(circuit) == diagram(
        "q0: ──GPI(0.25)────MS(0.1)─────────────────ZZ(0.1)──",
        "                      │                       │     ",
        "q1: ─GPI2(-0.125)─────┼─────MS(0.5;0.125)──ZZ(0.1)──",
        "                      │           │                 ",
        "q2: ───────────────MS(0.2)───MS(0;0.125)────────────",
    )


def test_pauliexp_and_pair_rotations_label_every_qubit_they_act_on() -> None:
    circuit = (
        Circuit(qubits=3)
        .pauliexp([2, 0], ["XZ", "YY"], [0.5, -0.25], 0.75)
        .xx(math.pi, 0, 1)
        .yy(1 / 3, 1, 2)
        .zz(2 * math.pi, 0, 2)
    )
    assert draw_text(circuit) == diagram(
        "q0: ───────────PauliExp[1]─────────────XX(π)─────────────ZZ(2π)──",
        "                    │                    │                 │     ",
        "q1: ────────────────┼──────────────────XX(π)──YY(0.333)────┼─────",
        "                    │                             │        │     ",
        "q2: ─PauliExp(0.5·XZ-0.25·YY, t=0.75)─────────YY(0.333)──ZZ(2π)──",
    )


def test_one_qubit_gate_names_are_the_usual_symbols() -> None:
    circuit = Circuit(qubits=1).x(0).y(0).z(0).s(0).si(0).t(0).ti(0).v(0).vi(0)
    assert draw_text(circuit) == "q0: ─X──Y──Z──S──S†──T──T†──V──V†──"


def test_a_long_circuit_wraps_into_blocks_marked_where_they_continue() -> None:
    circuit = Circuit(qubits=3)
    for step in range(12):
        circuit.h(step % 3).cnot(step % 3, (step + 1) % 3)
    assert draw_text(circuit, width=40) == diagram(
        "q0: ─H──●───────────X──H──●───────────»",
        "        │           │     │            ",
        "q1: ────X──H──●─────┼─────X──H──●─────»",
        "              │     │           │      ",
        "q2: ──────────X──H──●───────────X──H──»",
        "",
        "«q0: ─X──H──●───────────X──H──●────────»",
        "      │     │           │     │         ",
        "«q1: ─┼─────X──H──●─────┼─────X──H──●──»",
        "      │           │     │           │   ",
        "«q2: ─●───────────X──H──●───────────X──»",
        "",
        "«q0: ────X──",
        "         │  ",
        "«q1: ────┼──",
        "         │  ",
        "«q2: ─H──●──",
    )


def test_the_default_width_is_80_columns() -> None:
    circuit = Circuit(qubits=1)
    for _ in range(40):
        circuit.h(0)
    blocks = draw_text(circuit).split("\n\n")
    assert len(blocks) == 2
    assert display_width(blocks[0]) <= 80
    assert draw_text(circuit) == draw_text(circuit, width=80)


def test_a_column_wider_than_the_width_gets_a_block_of_its_own() -> None:
    circuit = Circuit(qubits=1).rx(0.5, 0).h(0)
    assert draw_text(circuit, width=5) == diagram("q0: ─RX(0.5)──»", "", "«q0: ─H──")


# --- layering ----------------------------------------------------------------------------


def test_gates_on_different_qubits_share_a_column() -> None:
    circuit = Circuit(qubits=4).cnot(0, 1).cnot(2, 3).h(0).h(1).h(2).h(3)
    assert draw_text(circuit) == diagram(
        "q0: ─●──H──",
        "     │     ",
        "q1: ─X──H──",
        "           ",
        "q2: ─●──H──",
        "     │     ",
        "q3: ─X──H──",
    )


def test_a_control_line_keeps_the_wires_it_crosses_busy() -> None:
    # h(1) cannot sit under the line from q0 to q3, so it moves to the next column;
    # the cnot(3, 1) after it needs q1..q3 free and comes after the h.
    assert draw_text(Circuit(qubits=4).cnot(0, 3).h(1).cnot(3, 1)) == diagram(
        "q0: ─●────────",
        "     │        ",
        "q1: ─┼──H──X──",
        "     │     │  ",
        "q2: ─┼─────┼──",
        "     │     │  ",
        "q3: ─X─────●──",
    )


def test_a_gate_goes_in_the_first_column_its_qubits_are_free_not_after_the_last_gate() -> None:
    # rz(0.5, 2) comes last in the list but has nothing before it on q2.
    assert draw_text(Circuit(qubits=3).h(0).h(0).h(0).rz(0.5, 2)) == diagram(
        "q0: ────H─────H──H──",
        "                    ",
        "q1: ────────────────",
        "                    ",
        "q2: ─RZ(0.5)────────",
    )


# --- measurements ------------------------------------------------------------------------


def test_measured_qubits_end_with_their_classical_bits() -> None:
    ghz = Circuit(qubits=3).h(0).cnot(0, 1).cnot(1, 2)
    circuit = MeasuredCircuit(ghz, Readout(clbits=(0, 1)))
    assert draw_text(circuit) == diagram(
        "q0: ─H──●─────M→c0──",
        "        │           ",
        "q1: ────X──●──M→c1──",
        "           │        ",
        "q2: ───────X────────",
    )


def test_measurements_name_registers_and_keys() -> None:
    readout = Readout(clbits=(2, 0, 2, None), registers=(("a", (0, 1)), ("flag", (2,))))
    circuit = MeasuredCircuit(Circuit(qubits=3).h(0), readout)
    assert draw_text(circuit) == diagram(
        "q0: ─H──M→a[1]───────",
        "                     ",
        "q1: ─────────────────",
        "                     ",
        "q2: ────M→a[0],flag──",
    )


def test_the_module_docstring_shows_what_draw_text_draws() -> None:
    ghz = Circuit(qubits=3).h(0).cnot(0, 1).cnot(1, 2)
    drawn = draw_text(MeasuredCircuit(ghz, Readout(clbits=(0, 1))))
    assert _drawing.__doc__ is not None
    shown = [line.strip() for line in _drawing.__doc__.splitlines() if line.strip()]
    lines = [line.strip() for line in drawn.splitlines()]
    start = shown.index(lines[0])
    assert shown[start : start + len(lines)] == lines


# --- parameters, empty circuits, bad widths, HTML ----------------------------------------


def test_symbolic_parameters_are_drawn_with_str() -> None:
    theta = Symbol("2*theta")
    circuit = CircuitShape(
        gates=(
            Gate(gate="rx", targets=(0,), rotation=theta),  # type: ignore[arg-type]
            Gate(gate="xx", targets=(0, 1), rotation=Symbol("phi")),  # type: ignore[arg-type]
        ),
        num_qubits=2,
    )
    assert draw_text(circuit) == diagram(  # type: ignore[arg-type]
        "q0: ─RX(2*theta)──XX(phi)──",
        "                     │     ",
        "q1: ──────────────XX(phi)──",
    )


def test_an_empty_circuit_is_its_bare_wires() -> None:
    assert draw_text(Circuit()) == "q0: ───"
    assert draw_text(Circuit(qubits=2)) == diagram("q0: ───", "       ", "q1: ───")


def test_wire_names_are_right_aligned_past_ten_qubits() -> None:
    lines = draw_text(Circuit(qubits=11).cnot(0, 10)).splitlines()
    assert lines[0] == " q0: ─●──"
    assert lines[-1] == "q10: ─X──"


@pytest.mark.parametrize("width", [0, -3, 2.5, True, "80"])
def test_a_width_that_is_not_a_positive_integer_is_refused(width: Any) -> None:
    with pytest.raises(ConfigurationError, match="width must be a positive"):
        draw_text(Circuit(qubits=1).h(0), width=width)


def test_html_is_the_diagram_escaped_in_a_pre_block() -> None:
    readout = Readout(clbits=(0,), registers=(("<b>&", (0,)),))
    circuit = MeasuredCircuit(Circuit(qubits=1).h(0), readout)
    page = draw_html(circuit)
    assert page.startswith("<pre ")
    assert page.endswith("q0: ─H──M→&lt;b&gt;&amp;──</pre>")
    assert "<b>" not in page


def test_html_is_not_wrapped_unless_asked() -> None:
    circuit = Circuit(qubits=1)
    for _ in range(60):
        circuit.h(0)
    assert "»" not in draw_html(circuit)
    assert "»" in draw_html(circuit, width=40)


# --- any circuit -------------------------------------------------------------------------


@st.composite
def circuits(draw: st.DrawFn) -> Circuit:
    """Random valid circuits of either gateset, some with a readout."""
    qubits = draw(st.integers(1, 6))
    gateset: GateSet = draw(st.sampled_from(["qis", "native"]))
    circuit = Circuit(qubits=qubits, gateset=gateset)
    angles = st.floats(-10, 10, allow_nan=False)
    turns = st.floats(0, 1)
    for _ in range(draw(st.integers(0, 25))):
        order = draw(st.permutations(range(qubits)))
        if gateset == "native":
            kind = draw(st.sampled_from(["gpi", "gpi2", "ms", "zz"] if qubits > 1 else ["gpi"]))
            if kind == "gpi":
                circuit.gpi(draw(turns), order[0])
            elif kind == "gpi2":
                circuit.gpi2(draw(turns), order[0])
            elif kind == "ms":
                circuit.ms([draw(turns), draw(turns)], order[0], order[1], draw(st.floats(0, 0.25)))
            else:
                circuit.native_zz(draw(turns), order[0], order[1])
            continue
        kinds = ["one", "rotation"] + (["controlled", "swap", "pair", "pauliexp"] * (qubits > 1))
        kind = draw(st.sampled_from(kinds))
        if kind == "one":
            name = draw(st.sampled_from(["x", "y", "z", "h", "s", "si", "t", "ti", "v", "vi"]))
            circuit.add(Gate(gate=name, targets=(order[0],)))
        elif kind == "rotation":
            name = draw(st.sampled_from(["rx", "ry", "rz", "z"]))
            circuit.add(Gate(gate=name, targets=(order[0],), rotation=draw(angles)))
        elif kind == "controlled":
            controls = tuple(order[1 : 1 + draw(st.integers(1, min(qubits - 1, 7)))])
            circuit.add(Gate(gate="x", targets=(order[0],), controls=controls))
        elif kind == "swap":
            circuit.swap(order[0], order[1])
        elif kind == "pair":
            name = draw(st.sampled_from(["xx", "yy", "zz"]))
            circuit.add(Gate(gate=name, targets=(order[0], order[1]), rotation=draw(angles)))
        else:
            targets = order[: draw(st.integers(1, qubits))]
            term = st.text("IXYZ", min_size=len(targets), max_size=len(targets))
            terms = draw(st.lists(term, min_size=1, max_size=3))
            circuit.pauliexp(targets, terms, [draw(angles) for _ in terms], draw(angles))
    if draw(st.booleans()):
        clbits = draw(st.lists(st.none() | st.integers(0, qubits - 1), max_size=qubits))
        return MeasuredCircuit(circuit, Readout(clbits=tuple(clbits)))
    return circuit


@given(circuit=circuits(), width=st.integers(20, 140))
def test_every_block_has_one_wire_per_qubit_and_lines_of_one_width(
    circuit: Circuit, width: int
) -> None:
    text = draw_text(circuit, width=width)
    blocks = [block.split("\n") for block in text.split("\n\n")]
    qubits = circuit.num_qubits
    single_columns = draw_text(circuit, width=1).split("\n\n")
    widest_column = max(display_width(block.split("\n")[0]) for block in single_columns)
    for index, lines in enumerate(blocks):
        assert len(lines) == 2 * qubits - 1
        wires = lines[0::2]
        assert [line.lstrip("«").split(":")[0].strip() for line in wires] == [
            f"q{qubit}" for qubit in range(qubits)
        ]
        widths = {display_width(line) for line in lines}
        assert len(widths) == 1
        if width >= widest_column:
            assert widths.pop() <= width
        assert all(line.startswith("«") == (index > 0) for line in wires)
        assert all(line.endswith("»") == (index < len(blocks) - 1) for line in wires)


@given(circuit=circuits(), width=st.integers(1, 100))
def test_the_blocks_put_side_by_side_are_the_whole_diagram(circuit: Circuit, width: int) -> None:
    whole = draw_text(circuit, width=10**6).split("\n")
    name_width = whole[0].index(": ") + 2
    blocks = [block.split("\n") for block in draw_text(circuit, width=width).split("\n\n")]
    for row, line in enumerate(whole):
        pieces = []
        for index, lines in enumerate(blocks):
            piece = lines[row]
            if index > 0:
                # Drop the « (or the space under it) and the lead every block repeats.
                piece = piece[1 : name_width + 1] + piece[name_width + 2 :]
            if index < len(blocks) - 1:
                piece = piece[:-1]  # the » or the space under it
            pieces.append(piece[name_width:])
        assert line[:name_width] + "".join(pieces) == line
