"""OpenQASM 2 and 3 text as a :class:`Circuit`, or as an OpenQASM 3 program when it must be.

Parsed with the ``openqasm3`` reference parser (the ``[qasm]`` extra), which reads
OpenQASM 2 as well: its grammar keeps 2.0's ``qreg``/``creg`` declarations, the
``measure q -> c`` form, ``U``/``CX`` and ``if (c == n)``, so no second parser and no
text rewriting are needed.

A program whose every operation maps one-to-one onto IonQ's qis gates becomes a
:class:`Circuit` carrying a :class:`Readout` (Qiskit's convention: counts keyed by the
classical bits, registers in declaration order). The gates that map::

    x y z h s sdg t tdg sx sxdg id rx ry rz p phase u1 cphase
    cx CX cy cz ch ccx cp crx cry crz swap rxx ryy rzz

plus ``barrier`` and measurements at the end (no gate, reset or measurement into a
different bit acts on a measured qubit afterwards). Anything else IonQ's JSON circuits
cannot say (a gate after a measurement, ``reset``, ``if``, loops, gate definitions and the
gates they define, modifiers such as ``ctrl @``, ``u``/``u2``/``u3``/``U``, ``cu``,
``cswap``, ``gphase``, classical variables) makes an :class:`~ionq_async.programs.Qasm3Program`
sent as it is (``ionq.qasm3.v1``); OpenQASM 2 is printed as 3.0 for it by the parser's
own printer, with ``qelib1.inc`` gates that ``stdgates.inc`` lacks defined in front.

Errors are :class:`~ionq_async.exceptions.CircuitError` naming the line: text the parser
rejects, an unknown gate or identifier, a wrong number of qubits or parameters, an index
out of range. ``input angle theta;`` (or ``input float``) declares a symbolic
:class:`~ionq_async.parameters.Parameter` of the circuit (bind it with
``circuit.bind(theta=...)``); a program that goes as OpenQASM 3 cannot have parameters.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from typing import Any, Final

from ..circuits import Circuit, Gate
from ..exceptions import CircuitError
from ..parameters import Parameter, ParameterExpression
from ..programs import Qasm3Program
from ..readout import Readout
from . import require

__all__ = ["from_qasm"]

# name -> (IonQ gate, controls, parameters, qubits); the last qubits are the targets.
_ONE_TO_ONE: Final[dict[str, tuple[str, int, int, int]]] = {
    "x": ("x", 0, 0, 1),
    "y": ("y", 0, 0, 1),
    "z": ("z", 0, 0, 1),
    "h": ("h", 0, 0, 1),
    "s": ("s", 0, 0, 1),
    "sdg": ("si", 0, 0, 1),
    "t": ("t", 0, 0, 1),
    "tdg": ("ti", 0, 0, 1),
    "sx": ("v", 0, 0, 1),
    "sxdg": ("vi", 0, 0, 1),
    "id": ("", 0, 0, 1),
    "rx": ("rx", 0, 1, 1),
    "ry": ("ry", 0, 1, 1),
    "rz": ("rz", 0, 1, 1),
    "p": ("phase", 0, 1, 1),
    "phase": ("phase", 0, 1, 1),
    "u1": ("phase", 0, 1, 1),
    "cx": ("x", 1, 0, 2),
    "CX": ("x", 1, 0, 2),
    "cy": ("y", 1, 0, 2),
    "cz": ("z", 1, 0, 2),
    "ch": ("h", 1, 0, 2),
    "ccx": ("x", 2, 0, 3),
    "cp": ("phase", 1, 1, 2),
    "cphase": ("phase", 1, 1, 2),
    "crx": ("rx", 1, 1, 2),
    "cry": ("ry", 1, 1, 2),
    "crz": ("rz", 1, 1, 2),
    "swap": ("swap", 0, 0, 2),
    "rxx": ("xx", 0, 1, 2),
    "ryy": ("yy", 0, 1, 2),
    "rzz": ("zz", 0, 1, 2),
}

# Gates of stdgates.inc (and the built-in U) without a one-to-one IonQ gate: known, so
# they go as OpenQASM 3 instead of being refused; in 2.0, qelib1.inc's too (defined in
# front of the upgraded text, below).
_STANDARD_OTHERS: Final = frozenset({"U", "u2", "u3", "cu", "cswap"})
_QELIB1_OTHERS: Final = frozenset({"u", "u0", "cu1", "cu3", "csx", "rccx"})

# qelib1.inc gates that stdgates.inc lacks, defined in front of an upgraded 2.0 program
# (the definitions of qelib1.inc, written in gates stdgates.inc has).
_QELIB1_EXTRAS: Final[dict[str, str]] = {
    "u0": "gate u0(gamma) q { U(0, 0, 0) q; }",
    "u": "gate u(theta, phi, lambda) q { U(theta, phi, lambda) q; }",
    "sxdg": "gate sxdg a { s a; h a; s a; }",
    "cu1": (
        "gate cu1(lambda) a, b { u1(lambda / 2) a; cx a, b; u1(-lambda / 2) b; cx a, b; "
        "u1(lambda / 2) b; }"
    ),
    "cu3": (
        "gate cu3(theta, phi, lambda) c, t { u1((lambda + phi) / 2) c; "
        "u1((lambda - phi) / 2) t; cx c, t; u3(-theta / 2, 0, -(phi + lambda) / 2) t; "
        "cx c, t; u3(theta / 2, phi, 0) t; }"
    ),
    "csx": "gate csx a, b { h b; cu1(pi / 2) a, b; h b; }",
    "rxx": (
        "gate rxx(theta) a, b { u3(pi / 2, theta, 0) a; h b; cx a, b; u1(-theta) b; "
        "cx a, b; h b; u2(-pi, pi - theta) a; }"
    ),
    "rzz": "gate rzz(theta) a, b { cx a, b; u1(theta) b; cx a, b; }",
    "rccx": (
        "gate rccx a, b, c { u2(0, pi) c; u1(pi / 4) c; cx b, c; u1(-pi / 4) c; cx a, c; "
        "u1(pi / 4) c; cx b, c; u1(-pi / 4) c; u2(0, pi) c; }"
    ),
}
# Definitions that use others: each after what it uses.
_QELIB1_NEEDS: Final[dict[str, tuple[str, ...]]] = {"csx": ("cu1",)}

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
}
_INCLUDES: Final = frozenset({"qelib1.inc", "stdgates.inc"})
_IGNORED_TOP_LEVEL: Final = frozenset({"Include"})


def _line(node: Any) -> int | None:
    span = getattr(node, "span", None)
    return getattr(span, "start_line", None) if span is not None else None


def _error(node: Any, problem: str) -> CircuitError:
    line = _line(node)
    return CircuitError(f"OpenQASM line {line}: {problem}" if line else f"OpenQASM: {problem}")


def _syntax_error(error: Exception) -> CircuitError:
    """The parser's error as ours, naming the line, column and the text it stopped at."""
    message = str(error)
    if message:
        return CircuitError(f"OpenQASM does not parse: {message}")
    cause = error.__cause__
    recognition = cause.args[0] if cause is not None and cause.args else cause
    token = getattr(recognition, "offendingToken", None)
    if token is not None and getattr(token, "line", None) is not None:
        text = getattr(token, "text", "") or ""
        near = "the end of the text" if text == "<EOF>" else repr(text)
        return CircuitError(
            f"OpenQASM line {token.line}, column {token.column + 1}: cannot parse at {near}"
        )
    return CircuitError("OpenQASM does not parse")


class _Reader:
    """Walks a parsed program: registers, gates, measurements, and why (if) it must go
    as OpenQASM 3."""

    def __init__(self, ast: Any, *, version: str) -> None:
        self.ast = ast
        others = _STANDARD_OTHERS | (_QELIB1_OTHERS if version.startswith("2") else frozenset())
        self.standard_others = others
        self.qubit_registers: dict[str, tuple[int, int | None]] = {}
        self.bit_registers: dict[str, tuple[int, int | None]] = {}
        self.register_order: list[tuple[str, tuple[int, ...]]] = []
        self.num_qubits = 0
        self.physical_width = 0
        self.clbits: list[int | None] = []
        self.gates: list[Gate] = []
        self.defined: set[str] = set()
        self.used_gates: set[str] = set()
        self.measured: set[int] = set()
        self.measure_final = True
        self.reason: str | None = None  # why the program goes as OpenQASM 3
        self.parameters: dict[str, Parameter] = {}

    # -- helpers ------------------------------------------------------------------------

    def passthrough(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason

    def value(self, node: Any) -> float | ParameterExpression:
        """An angle: a constant expression (``pi`` and friends, arithmetic, functions), or
        an expression of ``input`` parameters (arithmetic only)."""
        a = self.ast
        if isinstance(node, a.IntegerLiteral | a.FloatLiteral):
            return float(node.value)
        if isinstance(node, a.Identifier):
            if node.name in self.parameters:
                return self.parameters[node.name]
            if node.name in _CONSTANTS:
                return _CONSTANTS[node.name]
            raise _error(node, f"unknown identifier {node.name!r} in an angle")
        if isinstance(node, a.UnaryExpression) and node.op.name == "-":
            return -self.value(node.expression)
        if isinstance(node, a.BinaryExpression) and node.op.name in _BINARY:
            left = self.value(node.lhs)
            right = self.value(node.rhs)
            symbolic = isinstance(left, ParameterExpression) or isinstance(
                right, ParameterExpression
            )
            if symbolic and node.op.name == "**":
                raise _error(node, "a parameter raised to a power is not supported")
            try:
                return _BINARY[node.op.name](left, right)  # type: ignore[arg-type]
            except ZeroDivisionError:
                raise _error(node, "division by zero in an angle") from None
        if isinstance(node, a.FunctionCall) and node.name.name in _FUNCTIONS:
            if len(node.arguments) != 1:
                raise _error(node, f"{node.name.name} takes one argument")
            argument = self.number(node.arguments[0], f"the argument of {node.name.name}")
            try:
                return _FUNCTIONS[node.name.name](argument)
            except ValueError:
                raise _error(node, f"{node.name.name} is undefined there") from None
        raise _error(node, f"cannot evaluate {type(node).__name__} as a number")

    def number(self, node: Any, what: str) -> float:
        value = self.value(node)
        if isinstance(value, ParameterExpression):
            raise _error(node, f"{what} must be a number, not a parameter expression")
        return value

    def size(self, node: Any) -> int | None:
        if node is None:
            return None
        value = self.number(node, "a register size")
        if not value.is_integer() or value < 1:
            raise _error(node, f"a register size must be a positive integer, got {value:g}")
        return int(value)

    def _indices(self, node: Any, size: int | None, name: str) -> list[int]:
        """The positions ``q[...]`` selects in a register of ``size``."""
        a = self.ast
        if size is None:
            raise _error(node, f"{name} is a single qubit or bit and cannot be indexed")
        if len(node.indices) != 1:
            raise _error(node, f"{name}: one index at a time")
        selection = node.indices[0]
        items = selection.values if isinstance(selection, a.DiscreteSet) else selection
        positions: list[int] = []
        for item in items:
            if isinstance(item, a.RangeDefinition):
                start = 0 if item.start is None else int(self.number(item.start, "a range"))
                end = size - 1 if item.end is None else int(self.number(item.end, "a range"))
                step = 1 if item.step is None else int(self.number(item.step, "a range"))
                if step == 0:
                    raise _error(node, f"{name}: a range step of 0")
                start, end = start % size if start < 0 else start, end % size if end < 0 else end
                positions.extend(range(start, end + (1 if step > 0 else -1), step))
            else:
                value = self.number(item, "an index")
                if not value.is_integer():
                    raise _error(node, f"{name}: index {value:g} is not an integer")
                index = int(value)
                positions.append(index + size if index < 0 else index)
        for index in positions:
            if not 0 <= index < size:
                raise _error(node, f"{name}[{index}] is out of range (size {size})")
        return positions

    def _resolve(
        self, node: Any, registers: dict[str, tuple[int, int | None]], kind: str
    ) -> list[int]:
        a = self.ast
        name = node.name if isinstance(node, a.Identifier) else node.name.name
        if kind == "qubit" and name.startswith("$"):
            index = int(name[1:])
            self.physical_width = max(self.physical_width, index + 1)
            return [index]
        if name not in registers:
            known = ", ".join(sorted(registers)) or "none declared"
            raise _error(node, f"unknown {kind} register {name!r} (known: {known})")
        offset, size = registers[name]
        if isinstance(node, a.Identifier):
            return [offset] if size is None else [offset + i for i in range(size)]
        return [offset + i for i in self._indices(node, size, name)]

    def qubits(self, node: Any) -> list[int]:
        return self._resolve(node, self.qubit_registers, "qubit")

    def bits(self, node: Any) -> list[int]:
        return self._resolve(node, self.bit_registers, "bit")

    def touch(self, qubits: Sequence[int]) -> None:
        """An operation acts on ``qubits``: a measurement on any of them was not final."""
        if any(q in self.measured for q in qubits):
            self.measure_final = False
            self.passthrough("an operation after a measurement (mid-circuit measurement)")

    # -- statements ---------------------------------------------------------------------

    def read(self, program: Any) -> None:
        for statement in program.statements:
            self.statement(statement)

    def statement(self, node: Any) -> None:
        a = self.ast
        if isinstance(node, a.Include):
            if node.filename not in _INCLUDES:
                raise _error(
                    node,
                    f"cannot include {node.filename!r}: only qelib1.inc and stdgates.inc are known",
                )
        elif isinstance(node, a.QubitDeclaration | a.ClassicalDeclaration | a.IODeclaration):
            self.declare(node)
        else:
            self.operation(node)

    def declare(self, node: Any) -> None:
        a = self.ast
        name = (node.qubit if isinstance(node, a.QubitDeclaration) else node.identifier).name
        if name in self.qubit_registers or name in self.bit_registers or name in self.parameters:
            raise _error(node, f"{name!r} is declared twice")
        if isinstance(node, a.QubitDeclaration):
            size = self.size(node.size)
            self.qubit_registers[node.qubit.name] = (self.num_qubits, size)
            self.num_qubits += 1 if size is None else size
        elif isinstance(node, a.ClassicalDeclaration) and isinstance(node.type, a.BitType):
            size = self.size(node.type.size)
            offset = len(self.clbits)
            count = 1 if size is None else size
            self.bit_registers[node.identifier.name] = (offset, size)
            self.register_order.append((node.identifier.name, tuple(range(offset, offset + count))))
            self.clbits.extend([None] * count)
            if node.init_expression is not None:
                self.passthrough("a bit with an initial value")
        elif isinstance(node, a.IODeclaration):
            name = node.identifier.name
            if node.io_identifier.name != "input" or not isinstance(
                node.type, a.AngleType | a.FloatType
            ):
                raise _error(
                    node, f"{name!r}: only 'input angle' and 'input float' declarations are read"
                )
            self.parameters[name] = Parameter(name)
        else:
            self.passthrough(_describe(node))  # a classical variable

    def operation(self, node: Any) -> None:
        a = self.ast
        if isinstance(node, a.QuantumGateDefinition):
            self.defined.add(node.name.name)
        elif isinstance(node, a.QuantumGate):
            self.gate(node)
        elif isinstance(node, a.QuantumMeasurementStatement):
            self.measure(node)
        elif isinstance(node, a.QuantumBarrier):
            for operand in node.qubits:
                self.qubits(operand)  # checked, not sent: IonQ's circuits have no barrier
        elif isinstance(node, a.QuantumReset):
            self.touch(self.qubits(node.qubits))
            self.passthrough("reset")
        else:
            self.passthrough(_describe(node))

    def gate(self, node: Any) -> None:
        name = node.name.name
        operands = [self.qubits(operand) for operand in node.qubits]
        for qubits in operands:
            self.touch(qubits)
        self.used_gates.add(name)
        if node.modifiers:
            self.passthrough(f"gate modifiers ({name})")
            return
        if name in self.defined:
            self.passthrough(f"the gate {name!r} defined in the program")
            return
        if name not in _ONE_TO_ONE:
            if name in self.standard_others:
                self.passthrough(f"the gate {name!r}, which has no one-to-one IonQ gate")
                return
            known = sorted(set(_ONE_TO_ONE) | self.standard_others | self.defined)
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise _error(node, f"unknown gate {name!r}{hint} (known: {', '.join(known)})")
        ionq, controls, parameters, width = _ONE_TO_ONE[name]
        if len(node.arguments) != parameters:
            raise _error(node, f"{name} takes {parameters} parameter(s), got {len(node.arguments)}")
        if len(operands) != width:
            raise _error(node, f"{name} acts on {width} qubit(s), got {len(operands)}")
        angles = [self.value(argument) for argument in node.arguments]
        for group in _broadcast(node, operands):
            if len(set(group)) != len(group):
                raise _error(node, f"{name} uses a qubit more than once: {list(group)}")
            if not ionq:  # id
                continue
            self.gates.append(_ionq_gate(ionq, group, controls, angles))

    def measure(self, node: Any) -> None:
        # Measuring a measured qubit again reads the same value: still final.
        qubits = self.qubits(node.measure.qubit)
        self.measured.update(qubits)
        if node.target is None:
            return
        bits = self.bits(node.target)
        if len(bits) != len(qubits):
            raise _error(node, f"measures {len(qubits)} qubit(s) into {len(bits)} bit(s)")
        for qubit, bit in zip(qubits, bits, strict=True):
            self.clbits[bit] = qubit  # the last measurement into a bit counts


def _describe(node: Any) -> str:
    names = {
        "BranchingStatement": "classical control (if)",
        "ForInLoop": "a for loop",
        "WhileLoop": "a while loop",
        "QuantumPhase": "gphase",
        "SubroutineDefinition": "a subroutine",
        "ConstantDeclaration": "a constant declaration",
        "ClassicalDeclaration": "a classical variable",
        "ClassicalAssignment": "a classical assignment",
        "DelayInstruction": "delay",
        "Box": "box",
    }
    kind = type(node).__name__
    return names.get(kind, kind)


def _broadcast(node: Any, operands: list[list[int]]) -> list[tuple[int, ...]]:
    """OpenQASM's register broadcasting: registers of one size, single qubits repeated."""
    sizes = {len(qubits) for qubits in operands if len(qubits) != 1}
    if len(sizes) > 1:
        raise _error(node, f"registers of different sizes {sorted(sizes)} in one gate")
    count = sizes.pop() if sizes else 1
    return [
        tuple(qubits[0] if len(qubits) == 1 else qubits[i] for qubits in operands)
        for i in range(count)
    ]


def _ionq_gate(
    name: str, qubits: tuple[int, ...], controls: int, angles: list[float | ParameterExpression]
) -> Gate:
    control, targets = qubits[:controls], qubits[controls:]
    rotation = angles[0] if angles else None
    if name == "phase":
        return Gate(gate="z", targets=targets, controls=control, rotation=rotation)
    return Gate(gate=name, targets=targets, controls=control, rotation=rotation)


def _qasm3_source(
    openqasm3: Any, program: Any, text: str, used: set[str], defined: set[str]
) -> str:
    """OpenQASM 3 text for the program: 3.x text as written; 2.0 printed as 3.0 by the
    parser's printer, with the qelib1.inc gates stdgates.inc lacks defined in front."""
    if not str(program.version or "3").startswith("2"):
        return text
    ast = openqasm3.ast
    program.version = "3.0"
    statements = []
    for statement in program.statements:
        if isinstance(statement, ast.Include) and statement.filename == "qelib1.inc":
            statement = ast.Include(filename="stdgates.inc")
        statements.append(statement)
    program.statements = statements
    printed: str = openqasm3.dumps(program)
    needed: list[str] = []
    for name in sorted(used - defined):
        for dependency in (*_QELIB1_NEEDS.get(name, ()), name):
            if dependency in _QELIB1_EXTRAS and dependency not in needed:
                needed.append(dependency)
    if not needed:
        return printed
    header, _, rest = printed.partition("\n")
    lines = [header]
    include = 'include "stdgates.inc";'
    if rest.startswith(include):
        lines.append(include)
        rest = rest[len(include) :].lstrip("\n")
    lines.extend(_QELIB1_EXTRAS[name] for name in needed)
    return "\n".join(lines) + "\n" + rest


def from_qasm(text: str) -> Circuit | Qasm3Program:
    """OpenQASM 2 or 3 text as a Circuit (when it maps one-to-one onto IonQ's gates) or
    as a Qasm3Program sent as ``ionq.qasm3.v1``; CircuitError naming the line if bad."""
    if not isinstance(text, str):
        raise TypeError(f"OpenQASM must be text, got {type(text).__name__}")
    openqasm3 = require("openqasm3")
    try:
        program = openqasm3.parse(text)
    except openqasm3.parser.QASM3ParsingError as error:
        raise _syntax_error(error) from None
    reader = _Reader(openqasm3.ast, version=str(program.version or "3"))
    reader.read(program)
    num_qubits = max(reader.num_qubits, reader.physical_width)
    if num_qubits == 0:
        raise CircuitError("OpenQASM: the program declares no qubits")
    readout: Readout | None = None
    if reader.clbits and reader.measure_final:
        readout = Readout(
            clbits=tuple(reader.clbits), registers=tuple(reader.register_order), style="qiskit"
        )
    if reader.reason is not None:
        if reader.parameters:
            names = ", ".join(sorted(reader.parameters))
            raise CircuitError(
                f"OpenQASM: parameters ({names}) in a program that goes as OpenQASM 3 "
                f"({reader.reason}) are not supported; write their values into the text"
            )
        source = _qasm3_source(openqasm3, program, text, reader.used_gates, reader.defined)
        return Qasm3Program(source=source, num_qubits=num_qubits, readout=readout)
    return Circuit(qubits=num_qubits, gates=reader.gates, readout=readout)
