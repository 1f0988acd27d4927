"""Text pictures of circuits (pure): ``str(circuit)``, ``circuit.draw()`` and notebooks.

One wire per qubit, qubit 0 on top, time running left to right, in the style of Qiskit's
and Cirq's text drawers::

    q0: ─H──●─────M→c0──
            │
    q1: ────X──●──M→c1──
               │
    q2: ───────X────────

Gates are placed in columns: a gate goes in the first column where its qubits, and every
wire its vertical line crosses, are free, so gates that could run at the same time share a
column. Controls are ``●`` joined by ``│`` to the target; a wire crossed by that line shows
``┼``. ``swap`` is ``×`` on both qubits; ``xx``/``yy``/``zz``/``ms`` are labelled on both
qubits and joined. Rotations of the qis gateset show their angle in radians, as a fraction
of π when it is one (``RX(π/2)``); the native gates show their phases and angles in turns
(``GPI2(0.25)``). ``ms`` shows each qubit's own phase, then ``;angle`` when the angle is not
the default 0.25 turns. ``pauliexp`` shows its terms and time on its first target (the
qubit the last letter of each term acts on) and ``PauliExp[k]`` on target ``k``. A value
that is not a number (a symbolic parameter) is shown as ``str(value)``.

When the circuit has a readout, each measured qubit ends with ``M→`` and the classical
bits it is measured into (``c0``; ``name[i]`` for a named register or measurement key).

A diagram wider than ``width`` is cut between columns into blocks, one under the other,
separated by an empty line; a cut block ends its lines with ``»`` and the next one starts
them with ``«``. Every line of a block has the same width (the lines between wires are
padded with spaces), and a block is never wider than ``width`` unless one column alone is.
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from attrs import frozen

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from .circuits import Circuit, Gate
    from .readout import Readout

__all__ = ["DEFAULT_WIDTH", "draw_html", "draw_text"]

DEFAULT_WIDTH: Final = 80
"""The width ``draw_text`` wraps at unless told otherwise (a fixed width, so ``str()`` of a
circuit is the same everywhere)."""

_WIRE: Final = "─"
_VERTICAL: Final = "│"
_CROSSING: Final = "┼"
_CONTROL: Final = "●"
_SWAP: Final = "×"
_CUT_END: Final = "»"
_CUT_START: Final = "«"
_MEASURE: Final = "M→"

_ONE_QUBIT_LABELS: Final = {
    "x": "X",
    "y": "Y",
    "z": "Z",
    "h": "H",
    "s": "S",
    "si": "S†",
    "t": "T",
    "ti": "T†",
    "v": "V",
    "vi": "V†",
    "nop": "NOP",
}
_MS_DEFAULT_ANGLE: Final = 0.25
# Denominators tried when showing radians as a fraction of π.
_PI_DENOMINATORS: Final = (1, 2, 3, 4, 6, 8, 12, 16)
_PI_TOLERANCE: Final = 1e-9


# ---------------------------------------------------------------------------------------
# Numbers and labels.


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _short(value: object) -> str:
    """A number in three significant digits; anything else (an expression) as ``str()``."""
    if not _is_number(value):
        return str(value)
    number = float(value)  # type: ignore[arg-type]  # a numbers.Real
    text = f"{number:.3g}"
    return "0" if text == "-0" else text


def _radians(value: object) -> str:
    """An angle in radians: ``π/2``, ``-3π/4``, ``2π`` when it is such a fraction, else short."""
    if not _is_number(value):
        return str(value)
    number = float(value)  # type: ignore[arg-type]  # a numbers.Real
    if number == 0 or not math.isfinite(number):
        return _short(number)
    ratio = number / math.pi
    for denominator in _PI_DENOMINATORS:
        numerator = round(ratio * denominator)
        if numerator != 0 and abs(ratio * denominator - numerator) < _PI_TOLERANCE:
            sign = "-" if numerator < 0 else ""
            times = "" if abs(numerator) == 1 else str(abs(numerator))
            over = "" if denominator == 1 else f"/{denominator}"
            return f"{sign}{times}π{over}"
    return _short(number)


def _pauli_sum(terms: Sequence[str], coefficients: Sequence[object]) -> str:
    text = ""
    for term, coefficient in zip(terms, coefficients, strict=False):
        number = _short(coefficient)
        if text and not number.startswith("-"):
            text += "+"
        text += f"{number}·{term}"
    return text


@frozen
class _Placed:
    """One gate as drawn: a label per wire it touches, and the span of its vertical line."""

    labels: dict[int, str]
    low: int
    high: int


def _place(gate: Gate, gateset: str) -> _Placed:
    """The labels a gate puts on its wires."""
    name = gate.gate
    targets = tuple(gate.targets)
    labels: dict[int, str] = {}
    if name == "swap":
        labels = dict.fromkeys(targets, _SWAP)
    elif name in ("xx", "yy", "zz") and (gateset == "qis" or gate.rotation is not None):
        labels = dict.fromkeys(targets, f"{name.upper()}({_radians(gate.rotation)})")
    elif name == "zz":
        labels = dict.fromkeys(targets, f"ZZ({_short(gate.angle)})")
    elif name == "ms":
        labels = _ms_labels(gate)
    elif name == "pauliexp":
        labels = _pauliexp_labels(gate)
    else:
        labels = dict.fromkeys(targets, _one_qubit_label(gate))
    for control in gate.controls:
        labels[control] = _CONTROL
    wires = list(labels)
    return _Placed(labels=labels, low=min(wires, default=0), high=max(wires, default=0))


def _one_qubit_label(gate: Gate) -> str:
    name = gate.gate
    if name in ("rx", "ry", "rz"):
        return f"{name.upper()}({_radians(gate.rotation)})"
    if name == "z" and gate.rotation is not None:
        return f"P({_radians(gate.rotation)})"
    if name in ("gpi", "gpi2"):
        return f"{name.upper()}({_short(gate.phase)})"
    return _ONE_QUBIT_LABELS.get(name, name.upper())


def _ms_labels(gate: Gate) -> dict[int, str]:
    phases = tuple(gate.phases or ())
    angle = gate.angle
    suffix = ""
    if angle is not None and not (_is_number(angle) and angle == _MS_DEFAULT_ANGLE):
        suffix = f";{_short(angle)}"
    labels = {}
    for index, target in enumerate(gate.targets):
        phase = f"{_short(phases[index])}{suffix}" if index < len(phases) else suffix[1:]
        labels[target] = f"MS({phase})" if phase else "MS"
    return labels


def _pauliexp_labels(gate: Gate) -> dict[int, str]:
    terms = tuple(gate.terms or ())
    coefficients = tuple(gate.coefficients or ())
    labels = {}
    for index, target in enumerate(gate.targets):
        if index == 0:
            body = _pauli_sum(terms, coefficients)
            labels[target] = f"PauliExp({body}, t={_short(gate.time)})"
        else:
            labels[target] = f"PauliExp[{index}]"
    return labels


def _clbit_names(readout: Readout) -> list[str]:
    """What each classical bit is called: ``c3``, or ``name[i]`` / ``name`` in a register."""
    names = [f"c{bit}" for bit in range(readout.num_clbits)]
    named: set[int] = set()
    for register, bits in readout.registers:
        for index, bit in enumerate(bits):
            if bit in named or not register:
                continue
            named.add(bit)
            names[bit] = f"{register}[{index}]" if len(bits) > 1 else register
    return names


def _measurements(readout: Readout | None) -> dict[int, str]:
    """The label ending each measured qubit's wire."""
    if readout is None:
        return {}
    names = _clbit_names(readout)
    read: dict[int, list[str]] = {}
    for bit, qubit in enumerate(readout.clbits):
        if qubit is not None:
            read.setdefault(qubit, []).append(names[bit])
    return {qubit: _MEASURE + ",".join(bits) for qubit, bits in read.items()}


# ---------------------------------------------------------------------------------------
# Layout: gates in columns, columns as text.


@frozen
class _Column:
    """Gates drawn side by side; ``width`` is the widest label."""

    gates: tuple[_Placed, ...]
    width: int

    def wire(self, qubit: int) -> str:
        """This column's piece of the qubit's wire."""
        center = (self.width - 1) // 2
        for placed in self.gates:
            label = placed.labels.get(qubit)
            if label is not None:
                left = center - (len(label) - 1) // 2
                return _WIRE * left + label + _WIRE * (self.width - left - len(label))
            if placed.low < qubit < placed.high:
                return _WIRE * center + _CROSSING + _WIRE * (self.width - center - 1)
        return _WIRE * self.width

    def gap(self, qubit: int) -> str:
        """This column's piece of the line between the qubit's wire and the next one."""
        center = (self.width - 1) // 2
        for placed in self.gates:
            if placed.low <= qubit < placed.high:
                return " " * center + _VERTICAL + " " * (self.width - center - 1)
        return " " * self.width


def _columns(circuit: Circuit, wires: int, measured: dict[int, str]) -> list[_Column]:
    """The gates in columns (a gate in the first column free on its span), then measurements."""
    layers: list[list[_Placed]] = []
    free_from = [0] * wires  # the first column each wire is free in
    for gate in circuit.gates:
        placed = _place(gate, circuit.gateset)
        span = range(placed.low, placed.high + 1)
        layer = max(free_from[wire] for wire in span)
        if layer == len(layers):
            layers.append([])
        layers[layer].append(placed)
        for wire in span:
            free_from[wire] = layer + 1
    columns = [
        _Column(
            gates=tuple(layer),
            width=max(len(label) for placed in layer for label in placed.labels.values()),
        )
        for layer in layers
    ]
    if measured:
        # Measurements share the last column, left-aligned (they join no other wire).
        width = max(len(label) for label in measured.values())
        measurements = tuple(
            _Placed(labels={qubit: label.ljust(width, _WIRE)}, low=qubit, high=qubit)
            for qubit, label in measured.items()
        )
        columns.append(_Column(gates=measurements, width=width))
    return columns


def _blocks(columns: list[_Column], prefix_width: int, limit: int | None) -> list[list[_Column]]:
    """Cut the columns into blocks no wider than ``limit`` (at least one column each)."""
    if limit is None or not columns:
        return [columns]

    def width_of(columns_width: int, count: int, cut_before: bool, cut_after: bool) -> int:
        # «prefix ─col──col── »: one wire before the first column, two after each.
        return int(cut_before) + prefix_width + 1 + columns_width + 2 * count + int(cut_after)

    blocks: list[list[_Column]] = []
    start = 0
    rest_width = sum(column.width for column in columns)
    while start < len(columns):
        cut_before = start > 0
        if width_of(rest_width, len(columns) - start, cut_before, False) <= limit:
            blocks.append(columns[start:])
            break
        end = start + 1
        used = columns[start].width
        while end < len(columns) and (
            width_of(used + columns[end].width, end - start + 1, cut_before, True) <= limit
        ):
            used += columns[end].width
            end += 1
        blocks.append(columns[start:end])
        rest_width -= used
        start = end
    return blocks


def _render(circuit: Circuit, limit: int | None) -> str:
    readout: Readout | None = getattr(circuit, "readout", None)
    measured = _measurements(readout)
    highest = max(
        (wire for gate in circuit.gates for wire in (*gate.targets, *gate.controls)),
        default=-1,
    )
    wires = max(circuit.num_qubits, highest + 1, max(measured, default=-1) + 1, 1)
    names = [f"q{qubit}" for qubit in range(wires)]
    name_width = max(len(name) for name in names)
    prefixes = [f"{name:>{name_width}}: " for name in names]
    blank_prefix = " " * (name_width + 2)

    blocks = _blocks(_columns(circuit, wires, measured), name_width + 2, limit)
    texts = []
    for index, block in enumerate(blocks):
        start = _CUT_START if index > 0 else ""
        blank_start = " " * len(start)
        more = index < len(blocks) - 1
        lines = []
        for qubit in range(wires):
            pieces = _WIRE + (_WIRE * 2).join(c.wire(qubit) for c in block) + _WIRE * 2
            lines.append(start + prefixes[qubit] + pieces + (_CUT_END if more else ""))
            if qubit < wires - 1:
                gaps = " " + "  ".join(c.gap(qubit) for c in block) + "  "
                lines.append(blank_start + blank_prefix + gaps + (" " if more else ""))
        texts.append("\n".join(lines))
    return "\n\n".join(texts)


def _check_width(width: object) -> int:
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ConfigurationError(f"width must be a positive number of characters, got {width!r}")
    return width


# ---------------------------------------------------------------------------------------
# Public entry points.


def draw_text(circuit: Circuit, *, width: int | None = None) -> str:
    """A text diagram of the circuit, cut into blocks no wider than ``width`` (default 80).

    Raises ConfigurationError for a width that is not a positive integer.
    """
    return _render(circuit, DEFAULT_WIDTH if width is None else _check_width(width))


def draw_html(circuit: Circuit, *, width: int | None = None) -> str:
    """The text diagram in an HTML ``<pre>`` block, for notebooks (``_repr_html_``).

    Not cut unless ``width`` is given: a notebook scrolls a wide diagram sideways.
    """
    text = _render(circuit, None if width is None else _check_width(width))
    style = (
        "white-space: pre; word-wrap: normal; overflow-x: auto; line-height: 1.15; "
        "font-family: Menlo, Consolas, 'DejaVu Sans Mono', 'Courier New', monospace"
    )
    return f'<pre style="{style}">{html.escape(text)}</pre>'
