"""OpenQASM 3 programs of ``ionq.qasm3.v1`` jobs: read into IonQ gates, measurements and
resets, and run exactly.

The emulator reads programs on its own (never through the client's converter, so each
checks the other) with the ``openqasm3`` reference parser, which also reads OpenQASM 2
syntax (``qreg``, ``creg``, ``measure q -> c``).

The subset, after IonQ's OpenQASM 3 page (anything else fails the job in "preflight",
naming the construct, as the API does):

- ``include "stdgates.inc"`` (or ``"qelib1.inc"``); ``qubit``/``qreg`` and
  ``bit``/``creg`` declarations, physical qubits ``$n``; indexing, ranges and
  broadcasting over registers;
- the gates of ``stdgates.inc`` and the built-in ``U`` (plus ``sxdg``, ``rxx``, ``ryy``,
  ``rzz``, ``cu1``, ``cu3``, ``csx``, ``u``, ``u0``), gates defined in the program with
  ``gate``, the modifiers ``ctrl @``, ``negctrl @``, ``inv @`` and ``pow(k) @`` for an
  integer ``k``, and ``gphase``; angles are constant expressions (``pi``, ``tau``,
  ``euler``, arithmetic, ``sin``/``cos``/... );
- ``measure`` (also in the middle of a program), ``reset``, ``barrier``.

Dynamic circuit execution fails the job, naming the construct: IonQ's OpenQASM 3 page
says loops and branches run on no target, the simulator included. Loops (``for``,
``while``, ``switch``) always fail. Branches on measured bits (``if (c[0])``,
``if (c == 2) { ... } else { ... }``, ``if (b)``, ``!``, comparisons, ``&&``/``||``: what
``qiskit.qasm3.dumps`` writes for ``if_test`` and Cirq for ``with_classical_controls``)
are read and run only by ``read_program(..., branches=True)``: each measurement's
outcome is followed as a branch with its classical bits, and a condition selects the
steps of each branch. The job route reads with ``branches=False``, as the API is
documented to behave; the client rewrites the classical control it can as quantum
control (the deferred-measurement principle) before sending.

Results are, as for every job, probabilities over the qubits at the end of the program
(qubit 0 least significant). A program whose measurements are all final runs as the
equivalent circuit (noise models and all); one with mid-circuit measurement or reset
runs exactly by following each measurement's branches (at most :data:`MAX_BRANCHES`);
shots on a QPU or a noise model are drawn from those exact probabilities (no noise is
added to such a program).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

import numpy as np
from attrs import frozen

from ionq_async.circuits import Circuit, Gate

from . import simulator

__all__ = [
    "MAX_BRANCHES",
    "Branch",
    "Measure",
    "Program",
    "ProgramError",
    "Reset",
    "read_program",
]

MAX_BRANCHES: Final = 4096
"""The most measurement branches a program's exact simulation follows."""

_MAX_DEPTH: Final = 64
_DROP_BELOW: Final = 1e-12


class ProgramError(Exception):
    """A program the API's preflight rejects; the job fails with ``failure_code``."""

    def __init__(self, failure_code: str, message: str) -> None:
        self.failure_code = failure_code
        super().__init__(message)


def _where(node: Any) -> str:
    span = getattr(node, "span", None)
    line = getattr(span, "start_line", None)
    return f"line {line}: " if line else ""


def _invalid(node: Any, problem: str) -> ProgramError:
    return ProgramError("InvalidProgram", f"OpenQASM {_where(node)}{problem}")


def _unsupported(node: Any, what: str) -> ProgramError:
    return ProgramError("UnsupportedOperation", f"OpenQASM {_where(node)}{what} is not supported")


def _dynamic(node: Any, what: str) -> ProgramError:
    return ProgramError(
        "UnsupportedOperation",
        f"OpenQASM {_where(node)}{what} is not supported: IonQ runs no dynamic circuits "
        "(loops and branches) on any target, the simulator included",
    )


@frozen
class Measure:
    """Measure ``qubit`` (in the middle of a program: the state collapses) into the
    classical ``bit`` (its index over all bit registers), if any."""

    qubit: int
    bit: int | None = None


@frozen
class Reset:
    """Return ``qubit`` to 0."""

    qubit: int


@frozen
class Branch:
    """``if (condition) { then } else { otherwise }``: ``condition`` reads the classical
    bits (bit ``i`` of its argument is classical bit ``i``)."""

    condition: Callable[[int], bool]
    then: tuple[Step, ...]
    otherwise: tuple[Step, ...]


Step = Gate | Measure | Reset | Branch


def _flat_gates(steps: Sequence[Step]) -> Iterator[Gate]:
    for step in steps:
        if isinstance(step, Gate):
            yield step
        elif isinstance(step, Branch):
            yield from _flat_gates(step.then)
            yield from _flat_gates(step.otherwise)


@frozen(kw_only=True)
class Program:
    """A read program: its width and its steps in order."""

    num_qubits: int
    steps: tuple[Step, ...]

    @property
    def gates(self) -> tuple[Gate, ...]:
        """The gates, in order (those of both sides of each branch included)."""
        return tuple(_flat_gates(self.steps))

    @property
    def gate_counts(self) -> tuple[int, int]:
        """(one-qubit gates, multi-qubit gates)."""
        one = sum(1 for gate in self.gates if len(gate.qubits) == 1)
        return one, len(self.gates) - one

    @property
    def dynamic(self) -> bool:
        """True with a branch or a reset, or with a gate or reset after a measurement of
        its qubit."""
        measured: set[int] = set()
        for step in self.steps:
            if isinstance(step, Branch):
                return True
            if isinstance(step, Measure):
                measured.add(step.qubit)
            elif isinstance(step, Reset) or measured.intersection(step.qubits):
                return True
        return False

    def circuit(self) -> Circuit:
        """The gates as a circuit (what a program without mid-circuit measurement is)."""
        return Circuit(qubits=self.num_qubits, gates=self.gates)

    def probabilities(self) -> dict[int, float]:
        """Exact probabilities of the qubits at the end, following every measurement."""
        return _branch_probabilities(self)


# --------------------------------------------------------------------------- reading

_CONSTANTS: Final[dict[str, float]] = {
    "pi": math.pi,
    "π": math.pi,
    "tau": math.tau,
    "τ": math.tau,
    "euler": math.e,
    "ℇ": math.e,
}
_FUNCTIONS: Final[dict[str, Callable[[float], float]]] = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "arcsin": math.asin,
    "arccos": math.acos,
    "arctan": math.atan,
    "exp": math.exp,
    "ln": math.log,
    "sqrt": math.sqrt,
}
_BINARY: Final[dict[str, Callable[[float, float], float]]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a**b,
    "%": lambda a, b: math.fmod(a, b),
}
# Operators of conditions on classical values (integers; truth as 0 or 1).
_CLASSICAL: Final[dict[str, Callable[[int, int], int | bool]]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "&&": lambda a, b: bool(a) and bool(b),
    "||": lambda a, b: bool(a) or bool(b),
    "&": lambda a, b: a & b,
    "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b,
}
_SELF_INVERSE: Final = frozenset({"x", "y", "z", "h", "swap"})
_INVERSE_NAME: Final = {"s": "si", "si": "s", "t": "ti", "ti": "t", "v": "vi", "vi": "v"}


def _g(name: str, *qubits: int, rotation: float | None = None, controls: int = 0) -> Gate:
    return Gate(
        gate=name, targets=tuple(qubits[controls:]), controls=tuple(qubits[:controls]),
        rotation=rotation,
    )  # fmt: skip


def _u(theta: float, phi: float, lam: float, target: int) -> list[Gate]:
    """U(θ, φ, λ) = P(φ)·RY(θ)·P(λ) exactly (OpenQASM 3's matrix, phase included)."""
    return [
        _g("z", target, rotation=lam),
        _g("ry", target, rotation=theta),
        _g("z", target, rotation=phi),
    ]


def _controlled(gates: list[Gate], controls: Sequence[int]) -> list[Gate]:
    return [
        Gate(gate=g.gate, targets=g.targets, controls=(*controls, *g.controls), rotation=g.rotation)
        for g in gates
    ]


_Expansion = Callable[[list[float], list[int]], list[Gate]]


def _fixed(name: str, controls: int = 0) -> tuple[int, int, _Expansion]:
    return (
        0,
        controls + (2 if name == "swap" else 1),
        lambda p, q: [_g(name, *q, controls=controls)],
    )


def _rotation(name: str, controls: int = 0, width: int = 1) -> tuple[int, int, _Expansion]:
    return 1, controls + width, lambda p, q: [_g(name, *q, rotation=p[0], controls=controls)]


# name -> (parameters, qubits, expansion into IonQ gates)
_GATES: Final[dict[str, tuple[int, int, _Expansion]]] = {
    "x": _fixed("x"),
    "y": _fixed("y"),
    "z": _fixed("z"),
    "h": _fixed("h"),
    "s": _fixed("s"),
    "sdg": _fixed("si"),
    "t": _fixed("t"),
    "tdg": _fixed("ti"),
    "sx": _fixed("v"),
    "sxdg": _fixed("vi"),
    "id": (0, 1, lambda p, q: []),
    "u0": (1, 1, lambda p, q: []),
    "rx": _rotation("rx"),
    "ry": _rotation("ry"),
    "rz": _rotation("rz"),
    "p": _rotation("z"),
    "phase": _rotation("z"),
    "u1": _rotation("z"),
    "U": (3, 1, lambda p, q: _u(p[0], p[1], p[2], q[0])),
    "u": (3, 1, lambda p, q: _u(p[0], p[1], p[2], q[0])),
    "u3": (3, 1, lambda p, q: _u(p[0], p[1], p[2], q[0])),
    "u2": (2, 1, lambda p, q: _u(math.pi / 2, p[0], p[1], q[0])),
    "cx": _fixed("x", 1),
    "CX": _fixed("x", 1),
    "cy": _fixed("y", 1),
    "cz": _fixed("z", 1),
    "ch": _fixed("h", 1),
    "csx": _fixed("v", 1),
    "ccx": _fixed("x", 2),
    "cp": _rotation("z", 1),
    "cphase": _rotation("z", 1),
    "cu1": _rotation("z", 1),
    "crx": _rotation("rx", 1),
    "cry": _rotation("ry", 1),
    "crz": _rotation("rz", 1),
    "cu3": (3, 2, lambda p, q: _controlled(_u(p[0], p[1], p[2], q[1]), q[:1])),
    "cu": (
        4,
        2,
        lambda p, q: [
            _g("z", q[0], rotation=p[3]),
            *_controlled(_u(p[0], p[1], p[2], q[1]), q[:1]),
        ],
    ),
    "swap": _fixed("swap"),
    "cswap": (0, 3, lambda p, q: [_g("swap", *q, controls=1)]),
    "rxx": _rotation("xx", width=2),
    "ryy": _rotation("yy", width=2),
    "rzz": _rotation("zz", width=2),
}


def _inverse(gates: list[Gate]) -> list[Gate]:
    out = []
    for g in reversed(gates):
        if g.rotation is not None:
            out.append(
                Gate(gate=g.gate, targets=g.targets, controls=g.controls, rotation=-g.rotation)
            )
        elif g.gate in _SELF_INVERSE:
            out.append(g)
        else:
            out.append(Gate(gate=_INVERSE_NAME[g.gate], targets=g.targets, controls=g.controls))
    return out


@frozen
class _Definition:
    parameters: tuple[str, ...]
    qubits: tuple[str, ...]
    body: tuple[Any, ...]


class _Reader:
    def __init__(self, ast: Any, *, branches: bool) -> None:
        self.ast = ast
        self.branches = branches
        self.qubit_registers: dict[str, tuple[int, int | None]] = {}
        self.bit_registers: dict[str, tuple[int, int | None]] = {}
        self.width = 0
        self.bits = 0
        self.physical = 0
        self.definitions: dict[str, _Definition] = {}
        self.steps: list[Step] = []

    def value(self, node: Any, names: dict[str, float]) -> float:
        a = self.ast
        if isinstance(node, a.IntegerLiteral | a.FloatLiteral):
            return float(node.value)
        if isinstance(node, a.Identifier):
            if node.name in names:
                return names[node.name]
            if node.name in _CONSTANTS:
                return _CONSTANTS[node.name]
            raise _invalid(node, f"unknown identifier {node.name!r}")
        if isinstance(node, a.UnaryExpression) and node.op.name == "-":
            return -self.value(node.expression, names)
        if isinstance(node, a.BinaryExpression) and node.op.name in _BINARY:
            try:
                return _BINARY[node.op.name](
                    self.value(node.lhs, names), self.value(node.rhs, names)
                )
            except (ZeroDivisionError, ValueError, OverflowError):
                raise _invalid(node, "an expression without a value") from None
        if isinstance(node, a.FunctionCall) and node.name.name in _FUNCTIONS:
            if len(node.arguments) != 1:
                raise _invalid(node, f"{node.name.name} takes one argument")
            try:
                return _FUNCTIONS[node.name.name](self.value(node.arguments[0], names))
            except (ValueError, OverflowError):
                raise _invalid(node, f"{node.name.name} has no value there") from None
        raise _unsupported(node, f"the expression {type(node).__name__}")

    def integer(self, node: Any, what: str) -> int:
        value = self.value(node, {})
        if not value.is_integer():
            raise _invalid(node, f"{what} must be an integer, got {value:g}")
        return int(value)

    def _selection(self, node: Any, size: int | None, name: str) -> list[int]:
        a = self.ast
        if size is None or len(node.indices) != 1:
            raise _invalid(node, f"cannot index {name} that way")
        selection = node.indices[0]
        items = selection.values if isinstance(selection, a.DiscreteSet) else selection
        out: list[int] = []
        for item in items:
            if isinstance(item, a.RangeDefinition):
                start = 0 if item.start is None else self.integer(item.start, "a range start")
                end = size - 1 if item.end is None else self.integer(item.end, "a range end")
                step = 1 if item.step is None else self.integer(item.step, "a range step")
                if step == 0:
                    raise _invalid(node, "a range step of 0")
                start, end = (
                    (start + size if start < 0 else start),
                    (end + size if end < 0 else end),
                )
                out.extend(range(start, end + (1 if step > 0 else -1), step))
            else:
                index = self.integer(item, "an index")
                out.append(index + size if index < 0 else index)
        for index in out:
            if not 0 <= index < size:
                raise _invalid(node, f"{name}[{index}] is out of range (size {size})")
        return out

    def operand(
        self, node: Any, registers: dict[str, tuple[int, int | None]], kind: str
    ) -> list[int]:
        a = self.ast
        name = node.name if isinstance(node, a.Identifier) else node.name.name
        if kind == "qubit" and name.startswith("$"):
            index = int(name[1:])
            self.physical = max(self.physical, index + 1)
            return [index]
        if name not in registers:
            raise _invalid(node, f"unknown {kind} {name!r}")
        offset, size = registers[name]
        if isinstance(node, a.Identifier):
            return [offset] if size is None else list(range(offset, offset + size))
        return [offset + i for i in self._selection(node, size, name)]

    def read(self, program: Any) -> None:
        a = self.ast
        for node in program.statements:
            if isinstance(node, a.Include):
                if node.filename not in ("stdgates.inc", "qelib1.inc"):
                    raise _invalid(node, f"cannot include {node.filename!r}")
            elif isinstance(node, a.QubitDeclaration):
                self.declare(node, node.qubit.name)
                size = None if node.size is None else self.integer(node.size, "a register size")
                self.qubit_registers[node.qubit.name] = (self.width, size)
                self.width += 1 if size is None else size
            elif isinstance(node, a.ClassicalDeclaration) and isinstance(node.type, a.BitType):
                self.declare(node, node.identifier.name)
                size = None if node.type.size is None else self.integer(node.type.size, "a size")
                self.bit_registers[node.identifier.name] = (self.bits, size)
                self.bits += 1 if size is None else size
                if node.init_expression is not None:
                    raise _unsupported(node, "a bit declaration with a value")
            elif isinstance(node, a.QuantumGateDefinition):
                self.definitions[node.name.name] = _Definition(
                    parameters=tuple(p.name for p in node.arguments),
                    qubits=tuple(q.name for q in node.qubits),
                    body=tuple(node.body),
                )
            else:
                self.steps.extend(self.statement(node))

    def declare(self, node: Any, name: str) -> None:
        if name in self.qubit_registers or name in self.bit_registers:
            raise _invalid(node, f"{name!r} is declared twice")

    def statement(self, node: Any) -> list[Step]:
        """The steps of one statement of the program's body (or of a branch's block)."""
        a = self.ast
        if isinstance(node, a.QuantumMeasurementStatement):
            qubits = self.operand(node.measure.qubit, self.qubit_registers, "qubit")
            if node.target is None:
                return [Measure(q) for q in qubits]
            bits = self.operand(node.target, self.bit_registers, "bit")
            if len(bits) != len(qubits):
                raise _invalid(node, f"{len(qubits)} qubits measured into {len(bits)} bits")
            return [Measure(q, b) for q, b in zip(qubits, bits, strict=True)]
        if isinstance(node, a.QuantumReset):
            qubits = self.operand(node.qubits, self.qubit_registers, "qubit")
            return [Reset(q) for q in qubits]
        if isinstance(node, a.QuantumBarrier):
            for operand in node.qubits:
                self.operand(operand, self.qubit_registers, "qubit")
            return []
        if isinstance(node, a.QuantumGate | a.QuantumPhase):
            operands = [self.operand(q, self.qubit_registers, "qubit") for q in node.qubits]
            return list(self.call(node, operands, {}, 0))
        if isinstance(node, a.BranchingStatement):
            if not self.branches:
                raise _dynamic(node, "a branch on a classical value (if)")
            return [self.branch(node)]
        loops = {"ForInLoop": "a for loop", "WhileLoop": "a while loop"}
        switch = getattr(a, "SwitchStatement", None)
        if isinstance(node, a.ForInLoop | a.WhileLoop) or (
            switch is not None and isinstance(node, switch)
        ):
            raise _dynamic(node, loops.get(type(node).__name__, "a switch"))
        raise _unsupported(node, type(node).__name__)

    def branch(self, node: Any) -> Branch:
        a = self.ast
        condition = self.condition(node.condition)
        blocks = []
        for block in (node.if_block, node.else_block):
            for statement in block:
                if isinstance(statement, a.QubitDeclaration | a.ClassicalDeclaration):
                    raise _unsupported(statement, "a declaration inside a branch")
            blocks.append(tuple(step for s in block for step in self.statement(s)))
        then, otherwise = blocks
        return Branch(condition=lambda bits: bool(condition(bits)), then=then, otherwise=otherwise)

    def condition(self, node: Any) -> Callable[[int], int]:
        """A classical expression over the bits as a function of their values (bit ``i``
        of the argument is classical bit ``i``; a register reads as an unsigned integer,
        its bit 0 least significant)."""
        a = self.ast
        if isinstance(node, a.IntegerLiteral | a.BooleanLiteral):
            constant = int(node.value)
            return lambda bits: constant
        if isinstance(node, a.Identifier | a.IndexExpression):
            if isinstance(node, a.IndexExpression):
                if not isinstance(node.collection, a.Identifier) or not isinstance(
                    node.index, list
                ):
                    raise _unsupported(node, "that classical index")
                target = a.IndexedIdentifier(name=node.collection, indices=[node.index])
                indices = self.operand(target, self.bit_registers, "bit")
            else:
                indices = self.operand(node, self.bit_registers, "bit")
            return lambda bits: sum(((bits >> b) & 1) << i for i, b in enumerate(indices))
        if isinstance(node, a.UnaryExpression) and node.op.name == "!":
            inner = self.condition(node.expression)
            return lambda bits: int(not inner(bits))
        if isinstance(node, a.BinaryExpression) and node.op.name in _CLASSICAL:
            apply, lhs, rhs = (
                _CLASSICAL[node.op.name],
                self.condition(node.lhs),
                self.condition(node.rhs),
            )
            return lambda bits: int(apply(lhs(bits), rhs(bits)))
        raise _unsupported(node, f"the classical expression {type(node).__name__} in a condition")

    def call(
        self, node: Any, operands: list[list[int]], names: dict[str, float], depth: int
    ) -> list[Gate]:
        """The IonQ gates of one gate call (modifiers, broadcasting and definitions)."""
        a = self.ast
        if depth > _MAX_DEPTH:
            raise _invalid(node, "gate definitions nest too deep")
        controls: list[tuple[bool, int]] = []  # (negated, how many)
        invert = False
        power = 1
        for modifier in node.modifiers:
            kind = modifier.modifier.name
            if kind in ("ctrl", "negctrl"):
                count = 1 if modifier.argument is None else self.integer(modifier.argument, "ctrl")
                if count < 1:
                    raise _invalid(node, f"{kind}({count}) needs at least one control")
                controls.append((kind == "negctrl", count))
            elif kind == "inv":
                invert = not invert
            else:
                value = self.value(modifier.argument, names)
                if not value.is_integer():
                    raise _unsupported(node, f"pow({value:g}) with a non-integer power")
                power *= int(value)
        if power < 0:
            invert, power = not invert, -power
        control_count = sum(count for _, count in controls)
        if isinstance(node, a.QuantumPhase):
            arguments = [self.value(node.argument, names)]
        else:
            arguments = [self.value(argument, names) for argument in node.arguments]
        if isinstance(node, a.QuantumPhase):
            name, base = "gphase", None
            want_params, want_qubits = 1, control_count
        else:
            name = node.name.name
            base = self.definitions.get(name)
            if base is not None:
                want_params, want_qubits = len(base.parameters), len(base.qubits) + control_count
            elif name in _GATES:
                params, width, _ = _GATES[name]
                want_params, want_qubits = params, width + control_count
            else:
                raise _invalid(node, f"unknown gate {name!r}")
        if len(arguments) != want_params:
            raise _invalid(node, f"{name} takes {want_params} parameter(s), got {len(arguments)}")
        if len(operands) != want_qubits:
            raise _invalid(node, f"{name} acts on {want_qubits} qubit(s), got {len(operands)}")
        sizes = {len(q) for q in operands if len(q) != 1}
        if len(sizes) > 1:
            raise _invalid(node, "registers of different sizes in one gate")
        out: list[Gate] = []
        for i in range(sizes.pop() if sizes else 1):
            qubits = [q[0] if len(q) == 1 else q[i] for q in operands]
            if len(set(qubits)) != len(qubits):
                raise _invalid(node, f"{name} uses a qubit twice")
            control_qubits, targets = qubits[:control_count], qubits[control_count:]
            if isinstance(node, a.QuantumPhase):
                gates = (
                    [_g("z", *control_qubits, rotation=arguments[0], controls=control_count - 1)]
                    if control_qubits
                    else []
                )
                control_qubits = []
            elif base is not None:
                gates = self.expand(node, base, arguments, targets, depth)
            else:
                gates = _GATES[name][2](arguments, targets)
            if invert:
                gates = _inverse(gates)
            gates = gates * power
            if control_qubits:
                flips: list[Gate] = []
                position = 0
                for negated, count in controls:
                    if negated:
                        flips.extend(
                            _g("x", q) for q in control_qubits[position : position + count]
                        )
                    position += count
                gates = flips + _controlled(gates, control_qubits) + flips
            out.extend(gates)
        return out

    def expand(
        self, node: Any, definition: _Definition, arguments: list[float], qubits: list[int],
        depth: int,
    ) -> list[Gate]:  # fmt: skip
        a = self.ast
        names = dict(zip(definition.parameters, arguments, strict=True))
        where = dict(zip(definition.qubits, qubits, strict=True))
        out: list[Gate] = []
        for statement in definition.body:
            if isinstance(statement, a.QuantumBarrier):
                continue
            if not isinstance(statement, a.QuantumGate | a.QuantumPhase):
                raise _unsupported(statement, f"{type(statement).__name__} in a gate definition")
            operands = []
            for operand in statement.qubits:
                if not isinstance(operand, a.Identifier) or operand.name not in where:
                    raise _invalid(statement, "a gate body acts on its own qubit arguments only")
                operands.append([where[operand.name]])
            out.extend(self.call(statement, operands, names, depth + 1))
        return out


def read_program(
    text: str, declared_qubits: int | None = None, *, branches: bool = False
) -> Program:
    """Read an ``ionq.qasm3.v1`` program; ProgramError says why the API would fail it.

    ``branches=True`` reads ``if``/``else`` on measured bits as :class:`Branch` steps
    (the job route leaves it off: the API runs no branches); loops fail either way.
    """
    try:
        import openqasm3
    except ImportError:
        raise ProgramError(
            "UnsupportedFormat",
            "the emulator reads OpenQASM 3 with the openqasm3 package: "
            'pip install "ionq-async[qasm]"',
        ) from None
    try:
        parsed = openqasm3.parse(text)
    except openqasm3.parser.QASM3ParsingError as error:
        raise ProgramError("InvalidProgram", _syntax_message(error)) from None
    reader = _Reader(openqasm3.ast, branches=branches)
    reader.read(parsed)
    width = max(reader.width, reader.physical)
    if declared_qubits is not None:
        if declared_qubits < width:
            raise ProgramError(
                "InvalidProgram",
                f"the program uses {width} qubits but input.qubits is {declared_qubits}",
            )
        width = declared_qubits
    if width == 0:
        raise ProgramError("InvalidProgram", "the program declares no qubits")
    return Program(num_qubits=width, steps=tuple(reader.steps))


def _syntax_message(error: Exception) -> str:
    if str(error):
        return f"OpenQASM does not parse: {error}"
    cause = error.__cause__
    recognition = cause.args[0] if cause is not None and cause.args else cause
    token = getattr(recognition, "offendingToken", None)
    if token is None:
        return "OpenQASM does not parse"
    return f"OpenQASM line {token.line}, column {token.column + 1}: cannot parse at {token.text!r}"


# -------------------------------------------------------------------------- running


_Branches = list[tuple[float, "np.ndarray[Any, Any]", int]]  # (weight, state, bits)


def _branch_probabilities(program: Program) -> dict[int, float]:
    """Follow each measurement's outcomes as weighted branches, each with its classical
    bits (a :class:`Branch` runs one side per branch); sum the final distributions.
    Exact, since each branch's state and bits decide everything after it."""
    n = program.num_qubits
    start = np.zeros(2**n, dtype=np.complex128)
    start[0] = 1.0
    branches = _run(n, program.steps, [(1.0, start, 0)], np.arange(2**n))
    total = np.zeros(2**n)
    for weight, state, _ in branches:
        total += weight * np.abs(state) ** 2
    keys = np.flatnonzero(total >= _DROP_BELOW)
    return {int(k): float(total[k]) for k in keys}


def _run(
    n: int, steps: Sequence[Step], branches: _Branches, indices: np.ndarray[Any, Any]
) -> _Branches:
    pending: list[Gate] = []

    def flush() -> None:
        if pending:
            branches[:] = [
                (w, simulator.simulate_statevector(n, pending, initial_state=s), bits)
                for w, s, bits in branches
            ]
            pending.clear()

    for step in steps:
        if isinstance(step, Gate):
            pending.append(step)
            continue
        flush()
        if isinstance(step, Branch):
            taken = [b for b in branches if step.condition(b[2])]
            other = [b for b in branches if not step.condition(b[2])]
            branches = [
                *(_run(n, step.then, taken, indices) if taken else []),
                *(_run(n, step.otherwise, other, indices) if other else []),
            ]
            continue
        one = ((indices >> step.qubit) & 1).astype(bool)
        split: _Branches = []
        for weight, state, bits in branches:
            p_one = float(np.sum(np.abs(state[one]) ** 2))
            for outcome, p in ((False, 1.0 - p_one), (True, p_one)):
                if p * weight < _DROP_BELOW:
                    continue
                kept = np.where(one == outcome, state, 0) / math.sqrt(p)
                if isinstance(step, Reset) and outcome:
                    kept = kept[indices ^ (1 << step.qubit)]  # |1> -> |0> on that qubit
                if isinstance(step, Measure) and step.bit is not None:
                    bits = (bits & ~(1 << step.bit)) | (int(outcome) << step.bit)
                split.append((weight * p, kept, bits))
        if len(split) > MAX_BRANCHES:
            raise simulator.SimulationError(
                f"more than {MAX_BRANCHES} measurement branches; "
                "the emulator follows at most that many"
            )
        branches = split
    flush()
    return branches
