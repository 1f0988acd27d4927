"""Qiskit circuits as ours: :func:`from_qiskit` (needs the ``[qiskit]`` extra).

Gates IonQ runs as they are (``x y z h s sdg t tdg sx sxdg rx ry rz``, any of them with up to
seven closed controls, ``swap``, ``rxx ryy rzz``) map one to one; everything else is
decomposed by Qiskit's own transpiler (``optimization_level=0``: translation only, no
optimisation, no layout), once, with parameters left symbolic. Qiskit's ``p(θ)`` becomes
``rz(θ)`` (equal up to a global phase); the controlled phase gates are decomposed rather than
sent as ``z`` with a ``rotation``, whose meaning the API does not document.

Final measurements become the circuit's :class:`~ionq_async.readout.Readout` in Qiskit's
style: classical bit ``i`` reads the qubit last measured into it, and results are keyed as
Qiskit's ``get_counts()`` keys them (registers separated by a space, the last register
leftmost). A circuit that measures a qubit and then acts on it again or resets a qubit it
has used is sent as an OpenQASM 3 program (:class:`~ionq_async.programs.Qasm3Program`, an
``ionq.qasm3.v1`` job) written by ``qiskit.qasm3.dumps`` after translation to the standard
gates of ``stdgates.inc`` that IonQ also runs.

Classical control (``if_test``, with or without ``else``, on a bit, a register or a
classical expression of them) is first rewritten by the deferred-measurement principle,
as Cirq's ``cirq.defer_measurements`` does (Qiskit has no such pass): IonQ runs no
branches on any target, the simulator included (its OpenQASM 3 page), and the rewritten
circuit has every classical bit's distribution and runs everywhere, at the cost of one
ancilla qubit per deferred measurement (see :func:`_deferred`). What cannot be rewritten
(loops, ``switch``, measurements or resets under a condition, classical variables) is sent
as OpenQASM 3 with its branches, for the API to judge: it fails the job naming the
construct.

Qiskit ``Parameter`` objects and expressions become :mod:`ionq_async.parameters`
expressions evaluated by Qiskit itself, so ``from_qiskit(qc).bind(theta=0.1)`` equals
``from_qiskit(qc.assign_parameters({theta: 0.1}))`` without transpiling again.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..circuits import MAX_CONTROLS, Circuit, Gate
from ..exceptions import CircuitError
from ..programs import Qasm3Program
from ..readout import Readout
from . import require

__all__ = ["from_qiskit"]

# Qiskit names the circuits it is not told a name for "circuit-<counter>".
_AUTO_NAME = re.compile(r"circuit-\d+")

# One-qubit IonQ gates without a parameter, by Qiskit name, and their IonQ name.
_FIXED: dict[str, str] = {
    "x": "x",
    "y": "y",
    "z": "z",
    "h": "h",
    "s": "s",
    "sdg": "si",
    "t": "t",
    "tdg": "ti",
    "sx": "v",
    "sxdg": "vi",
}
# One-qubit rotations, exp(-iθP/2) in both libraries, θ in radians.
_ROTATIONS: frozenset[str] = frozenset({"rx", "ry", "rz"})
# Two-qubit rotations: Qiskit's RXX(θ) = exp(-iθ X⊗X/2) is IonQ's xx(θ); likewise yy, zz.
_PAIRS: dict[str, str] = {"rxx": "xx", "ryy": "yy", "rzz": "zz"}
# Instructions with no effect on results.
_IGNORED: frozenset[str] = frozenset({"barrier", "delay", "id", "global_phase"})

# Qiskit's standard names for gates IonQ runs (controlled ones with closed controls):
# the transpiler keeps these and decomposes everything else into them.
_CIRCUIT_BASIS: tuple[str, ...] = (
    *_FIXED,
    *sorted(_ROTATIONS),
    *_PAIRS,
    "swap",
    "cx",
    "cy",
    "cz",
    "ch",
    "cs",
    "csdg",
    "csx",
    "crx",
    "cry",
    "crz",
    "ccx",
    "ccz",
    "c3sx",
    "measure",
    "reset",
    "delay",
)
# For OpenQASM 3: only gates that qiskit.qasm3.dumps writes from stdgates.inc (no gate
# definitions in the program) and that IonQ runs.
_QASM3_BASIS: tuple[str, ...] = (
    "x",
    "y",
    "z",
    "h",
    "s",
    "sdg",
    "t",
    "tdg",
    "sx",
    "rx",
    "ry",
    "rz",
    "cx",
    "cy",
    "cz",
    "ch",
    "crx",
    "cry",
    "crz",
    "swap",
    "ccx",
    "measure",
    "reset",
)


class _NeedsQasm3(Exception):
    """Raised inside the conversion when the circuit cannot be an IonQ JSON circuit."""


def from_qiskit(quantum_circuit: Any) -> Circuit | Qasm3Program:
    """A Qiskit ``QuantumCircuit`` as a :class:`Circuit`, or a :class:`Qasm3Program` when it
    measures mid-circuit, resets a used qubit or has classical control that cannot be
    deferred (classical control is made quantum first: see the module docstring).

    Raises MissingExtraError without the ``[qiskit]`` extra, TypeError for anything but a
    ``QuantumCircuit``, CircuitError for what IonQ cannot run (no qubits; an OpenQASM 3
    program with unbound parameters or a classical register named after an OpenQASM 3
    keyword).
    """
    qiskit = require("qiskit")
    if not isinstance(quantum_circuit, qiskit.QuantumCircuit):
        raise TypeError(f"expected a Qiskit QuantumCircuit, got {type(quantum_circuit).__name__}")
    qc = quantum_circuit
    if qc.num_qubits == 0:
        raise CircuitError("the Qiskit circuit has no qubits")
    name = None if _AUTO_NAME.fullmatch(qc.name or "") else qc.name
    readout = _readout_frame(qc)
    deferred = _deferred(qc)
    if deferred is not None:
        qc = deferred
    if not _needs_qasm3(qc):
        try:
            return _to_circuit(qc, name, readout)
        except _NeedsQasm3:
            pass
    return _to_qasm3(qc, name, readout)


# ---------------------------------------------------------------------------------------
# Classical control: deferred measurement.

# The most condition bits one branch is deferred over (one controlled copy of a block per
# accepted pattern of them, at most 2**this).
_MAX_CONDITION_BITS = 4


class _NotDeferrable(Exception):
    """Raised inside the deferral for classical control it cannot rewrite exactly."""


def _deferred(qc: Any) -> Any | None:
    """The circuit with its ``if_test`` branches made quantum, by the deferred-measurement
    principle (as Cirq's ``cirq.defer_measurements`` does; Qiskit has no such pass), or
    None when it has no branch or one that cannot be rewritten exactly.

    IonQ runs no branches on any target (its OpenQASM 3 page). Each measurement that a
    later condition reads, or that is not terminal, becomes a CNOT onto a fresh ancilla
    qubit (register ``deferred``), measured into the same classical bit at the end; each
    branch becomes its blocks' gates controlled by those ancillas, once per pattern of
    the condition's bits that selects the block (the patterns are distinct basis states
    of the ancillas, so the copies commute). A bit never measured reads 0. Every
    classical bit has the distribution it has in the dynamic circuit; the raw
    probabilities include the ancillas (the readout reads the bits from them).

    Not rewritten (sent as OpenQASM 3 for the API to judge, which fails it naming the
    construct): loops and ``switch``, a measurement, reset or nested branch inside a
    block, conditions on classical variables or on more than
    :data:`_MAX_CONDITION_BITS` bits.
    """
    branches = [
        index
        for index, instruction in enumerate(qc.data)
        if getattr(instruction.operation, "blocks", None) is not None
    ]
    if not branches:
        return None
    try:
        return _defer(qc)
    except _NotDeferrable:
        return None


def _defer(qc: Any) -> Any:
    qiskit = require("qiskit")
    if qc.num_vars or any(
        instruction.operation.name != "if_else"
        for instruction in qc.data
        if getattr(instruction.operation, "blocks", None) is not None
    ):
        raise _NotDeferrable
    conditions = [
        (index, _condition_bits(qc, instruction.operation.condition))
        for index, instruction in enumerate(qc.data)
        if instruction.operation.name == "if_else"
    ]
    # Which measurements to defer: those a later condition reads, and mid-circuit ones.
    deferred: list[int] = []
    for index, instruction in enumerate(qc.data):
        if instruction.operation.name != "measure":
            continue
        clbit = instruction.clbits[0]
        qubit = instruction.qubits[0]
        read_later = any(at > index and clbit in bits for at, bits in conditions)
        touched_later = any(
            qubit in later.qubits and later.operation.name not in _IGNORED
            for later in qc.data[index + 1 :]
        )
        if read_later or touched_later:
            deferred.append(index)
    out = qc.copy_empty_like()
    taken = {register.name for register in qc.qregs}
    name = next(
        candidate
        for candidate in ("deferred", *(f"deferred{i}" for i in range(1, len(taken) + 2)))
        if candidate not in taken
    )
    ancillas = qiskit.QuantumRegister(len(deferred), name) if deferred else None
    if ancillas is not None:
        out.add_register(ancillas)
    source: dict[Any, Any] = {}  # clbit -> the ancilla holding its last deferred value
    last_write: dict[Any, int] = {}  # clbit -> index of the measurement last writing it
    for index, instruction in enumerate(qc.data):
        operation = instruction.operation
        if operation.name == "measure":
            clbit = instruction.clbits[0]
            last_write[clbit] = index
            if index in deferred:
                ancilla = ancillas[deferred.index(index)]  # type: ignore[index]
                out.cx(instruction.qubits[0], ancilla)
                source[clbit] = ancilla
            else:
                source.pop(clbit, None)
                out.append(instruction)
            continue
        if operation.name != "if_else":
            out.append(instruction)
            continue
        bits = _condition_bits(qc, operation.condition)
        for pattern in range(2 ** len(bits)):
            values = {bit: (pattern >> i) & 1 for i, bit in enumerate(bits)}
            if any(values[bit] and bit not in source for bit in bits):
                continue  # a bit never measured (or not deferred) reads 0
            taken_block = 0 if _evaluate(operation.condition, values) else 1
            if taken_block >= len(operation.blocks):
                continue  # no else block
            controls = [source[bit] for bit in bits if bit in source]
            state = sum(values[bit] << i for i, bit in enumerate(b for b in bits if b in source))
            _append_controlled(
                out, operation.blocks[taken_block], instruction.qubits, controls, state
            )
    for clbit, index in last_write.items():
        if index in deferred:
            out.measure(ancillas[deferred.index(index)], clbit)  # type: ignore[index]
    return out


def _condition_bits(qc: Any, condition: Any) -> list[Any]:
    """The classical bits a condition reads, in circuit order."""
    classical = require("qiskit.circuit.classical")
    qiskit = require("qiskit")
    condition = _as_expr(condition)
    bits: set[Any] = set()
    for variable in classical.expr.iter_vars(condition):
        target = variable.var
        if isinstance(target, qiskit.circuit.Clbit):
            bits.add(target)
        elif isinstance(target, qiskit.ClassicalRegister):
            bits.update(target)
        else:
            raise _NotDeferrable  # a classical variable
    if len(bits) > _MAX_CONDITION_BITS:
        raise _NotDeferrable
    return sorted(bits, key=lambda bit: qc.find_bit(bit).index)


def _as_expr(condition: Any) -> Any:
    classical = require("qiskit.circuit.classical")
    if isinstance(condition, tuple):
        return classical.expr.lift_legacy_condition(condition)
    return condition


_BINARY: dict[str, Callable[[int, int], int]] = {
    "BIT_AND": lambda a, b: a & b,
    "BIT_OR": lambda a, b: a | b,
    "BIT_XOR": lambda a, b: a ^ b,
    "LOGIC_AND": lambda a, b: int(bool(a) and bool(b)),
    "LOGIC_OR": lambda a, b: int(bool(a) or bool(b)),
    "EQUAL": lambda a, b: int(a == b),
    "NOT_EQUAL": lambda a, b: int(a != b),
    "LESS": lambda a, b: int(a < b),
    "LESS_EQUAL": lambda a, b: int(a <= b),
    "GREATER": lambda a, b: int(a > b),
    "GREATER_EQUAL": lambda a, b: int(a >= b),
}


def _evaluate(condition: Any, values: Mapping[Any, int]) -> int:
    """A condition's value when the classical bits hold ``values`` (a register reads as
    an unsigned integer, its bit 0 least significant)."""
    classical = require("qiskit.circuit.classical")
    qiskit = require("qiskit")
    expr = classical.expr
    node = _as_expr(condition)
    if isinstance(node, expr.Var):
        if isinstance(node.var, qiskit.circuit.Clbit):
            return values[node.var]
        return sum(values[bit] << i for i, bit in enumerate(node.var))
    if isinstance(node, expr.Value):
        return int(node.value)
    if isinstance(node, expr.Cast):
        inner = _evaluate(node.operand, values)
        return int(bool(inner)) if node.type.kind is classical.types.Bool else inner
    if isinstance(node, expr.Index):
        return (_evaluate(node.target, values) >> _evaluate(node.index, values)) & 1
    if isinstance(node, expr.Unary):
        inner = _evaluate(node.operand, values)
        if node.op.name == "LOGIC_NOT":
            return int(not inner)
        if node.op.name == "BIT_NOT":
            width = getattr(node.type, "width", 1)
            return ~inner & ((1 << width) - 1)
    if isinstance(node, expr.Binary) and node.op.name in _BINARY:
        left, right = _evaluate(node.left, values), _evaluate(node.right, values)
        return _BINARY[node.op.name](left, right)
    raise _NotDeferrable


def _append_controlled(
    out: Any, block: Any, outer: Sequence[Any], controls: Sequence[Any], state: int
) -> None:
    """``block``'s gates on ``outer`` qubits, each controlled by ``controls`` in ``state``."""
    qiskit = require("qiskit")
    for instruction in block.data:
        operation = instruction.operation
        if operation.name in _IGNORED:
            continue
        if not isinstance(operation, qiskit.circuit.Gate) or instruction.clbits:
            raise _NotDeferrable  # a measurement, reset or branch inside the block
        qubits = [outer[block.find_bit(qubit).index] for qubit in instruction.qubits]
        if controls:
            operation = operation.control(len(controls), ctrl_state=state, annotated=True)
        out.append(operation, [*controls, *qubits])


# ---------------------------------------------------------------------------------------
# Routing: what an IonQ JSON circuit cannot say.


def _needs_qasm3(qc: Any) -> bool:
    """True for control flow, a gate or reset on a measured qubit, or a reset of a used qubit."""
    used: set[int] = set()
    measured: set[int] = set()
    for instruction in qc.data:
        operation = instruction.operation
        kind = operation.name
        if kind in _IGNORED:
            continue
        if getattr(operation, "blocks", None) is not None:
            # Control flow (if_else, while_loop, for_loop, switch_case, box).
            return True
        qubits = [qc.find_bit(qubit).index for qubit in instruction.qubits]
        if kind == "measure":
            measured.update(qubits)
            used.update(qubits)
            continue
        if measured.intersection(qubits):
            return True
        if kind == "reset" and used.intersection(qubits):
            return True
        used.update(qubits)
    return False


# ---------------------------------------------------------------------------------------
# IonQ JSON circuits.


def _direct(operation: Any) -> bool:
    """True when an operation maps to one IonQ gate (or to nothing) as it is."""
    kind = operation.name
    if kind in _IGNORED or kind in ("measure", "reset", "p"):
        return True
    if kind in _FIXED or kind in _ROTATIONS or kind in _PAIRS or kind == "swap":
        return not getattr(operation, "num_ctrl_qubits", 0)
    return _direct_controlled(operation)


def _direct_controlled(operation: Any) -> bool:
    return _controlled_parts(operation) is not None


def _controlled_parts(operation: Any) -> tuple[Any, int] | None:
    """(the one-qubit IonQ gate, how many closed controls) of a controlled gate IonQ runs as
    it is: a ``ControlledGate`` or an ``AnnotatedOperation`` made of control modifiers (what
    ``Gate.control()`` returns since Qiskit 2.3); None for anything else."""
    modifiers = getattr(operation, "modifiers", None)
    if modifiers is not None:
        base = operation.base_op
        controls = 0
        for modifier in modifiers:
            count = getattr(modifier, "num_ctrl_qubits", None)
            if count is None or modifier.ctrl_state != (1 << count) - 1:
                return None  # an inverse or power modifier, or an open control
            controls += count
    else:
        controls = getattr(operation, "num_ctrl_qubits", 0)
        base = getattr(operation, "base_gate", None)
        if not controls or base is None or operation.ctrl_state != (1 << controls) - 1:
            return None
    if (
        0 < controls <= MAX_CONTROLS
        and (base.name in _FIXED or base.name in _ROTATIONS)
        and not getattr(base, "num_ctrl_qubits", 0)
        and getattr(base, "modifiers", None) is None
    ):
        return base, controls
    return None


def _to_circuit(qc: Any, name: str | None, frame: _ReadoutFrame | None) -> Circuit:
    operations = list(_all_operations(qc))
    if not all(_direct(operation) for operation in operations):
        qc = _transpile(qc, _CIRCUIT_BASIS, _kept_names(operations))
    gates: list[Gate] = []
    clbits: list[int | None] = [None] * qc.num_clbits
    used: set[int] = set()
    for instruction in qc.data:
        operation = instruction.operation
        kind = operation.name
        qubits = tuple(qc.find_bit(qubit).index for qubit in instruction.qubits)
        if kind in _IGNORED:
            continue
        if kind == "measure":
            clbits[qc.find_bit(instruction.clbits[0]).index] = qubits[0]
            used.update(qubits)
            continue
        if kind == "reset":
            if used.intersection(qubits):
                raise _NeedsQasm3
            # A qubit nothing has touched is already |0>.
            continue
        used.update(qubits)
        gates.append(_gate(operation, qubits))
    readout = frame.readout(clbits) if frame is not None else None
    return Circuit(qubits=qc.num_qubits, name=name, gates=gates, readout=readout)


def _all_operations(qc: Any) -> Iterator[Any]:
    for instruction in qc.data:
        operation = instruction.operation
        yield operation
        for block in getattr(operation, "blocks", None) or ():
            yield from _all_operations(block)


def _kept_names(operations: list[Any]) -> dict[str, type]:
    """Non-standard names (``mcx``, ``c3ry``, ``annotated``, ...) of controlled gates IonQ
    runs as they are, with their classes: kept only when every operation of that name can
    be (the transpiler goes by name)."""
    direct: dict[str, type] = {}
    other: set[str] = set()
    for operation in operations:
        if _direct_controlled(operation):
            direct[operation.name] = type(operation)
        else:
            other.add(operation.name)
    return {
        kind: cls
        for kind, cls in direct.items()
        if kind not in other and kind not in _CIRCUIT_BASIS
    }


def _transpile(qc: Any, basis: tuple[str, ...], extra: Mapping[str, type] | None = None) -> Any:
    """Qiskit's own translation into ``basis`` (plus ``extra`` names kept as they are)."""
    compiler = require("qiskit.compiler.transpiler")
    transpiler = require("qiskit.transpiler")
    controlflow = require("qiskit.circuit.controlflow")
    target = transpiler.Target.from_configuration(basis_gates=list(basis), num_qubits=None)
    for kind, operation_class in controlflow.get_control_flow_name_mapping().items():
        target.add_instruction(operation_class, name=kind)
    for kind, cls in sorted((extra or {}).items()):
        # A class (not an instance) makes the instruction variadic: any width, any angle.
        target.add_instruction(cls, name=kind)
    try:
        return compiler.transpile(qc, target=target, optimization_level=0)
    except transpiler.TranspilerError as error:
        raise CircuitError(
            f"Qiskit's transpiler cannot decompose the circuit into gates IonQ runs: {error}"
        ) from error


def _gate(operation: Any, qubits: tuple[int, ...]) -> Gate:
    kind = operation.name
    if kind == "p":
        # diag(1, e^{iθ}) = e^{iθ/2} rz(θ): the same up to a global phase.
        return Gate(gate="rz", targets=qubits, rotation=_angle(operation.params[0]))
    if kind in _FIXED:
        return Gate(gate=_FIXED[kind], targets=qubits)
    if kind in _ROTATIONS:
        return Gate(gate=kind, targets=qubits, rotation=_angle(operation.params[0]))
    if kind in _PAIRS:
        return Gate(gate=_PAIRS[kind], targets=qubits, rotation=_angle(operation.params[0]))
    if kind == "swap":
        return Gate(gate="swap", targets=qubits)
    # A controlled one-qubit gate: Qiskit puts the controls first.
    parts = _controlled_parts(operation)
    if parts is None:
        raise CircuitError(f"no IonQ gate for Qiskit's {kind!r}")  # never: _direct() chose it
    base, controls = parts
    rotation = _angle(base.params[0]) if base.name in _ROTATIONS else None
    return Gate(
        gate=_FIXED.get(base.name, base.name),
        targets=qubits[controls:],
        controls=qubits[:controls],
        rotation=rotation,
    )


def _angle(value: Any) -> Any:
    """A gate angle as a float, or as one of our parameter expressions if symbolic."""
    parameters = getattr(value, "parameters", None)
    if parameters is None:
        return float(value)
    if not parameters:
        return _real(value, str(value))
    from ..parameters import Parameter, ParameterExpression

    qiskit_circuit = require("qiskit.circuit")
    if isinstance(value, qiskit_circuit.Parameter):
        return Parameter(value.name)
    by_name = {parameter.name: parameter for parameter in parameters}
    return ParameterExpression.of(_evaluator(value, by_name), frozenset(by_name), str(value))


def _evaluator(
    expression: Any, by_name: Mapping[str, Any]
) -> Callable[[Mapping[str, float]], float]:
    text = str(expression)

    def evaluate(values: Mapping[str, float]) -> float:
        bound = expression.bind({by_name[name]: values[name] for name in by_name})
        return _real(bound, text)

    return evaluate


def _real(value: Any, text: str) -> float:
    number = complex(value)
    if abs(number.imag) > 1e-12 * max(1.0, abs(number.real)) or math.isnan(number.real):
        raise CircuitError(f"gate angle {text} is {number}, not a real number")
    return number.real


# ---------------------------------------------------------------------------------------
# Readout: classical bits, registers.


class _ReadoutFrame:
    """The circuit's classical registers; makes the Readout once the measurements are known."""

    def __init__(self, registers: tuple[tuple[str, tuple[int, ...]], ...]) -> None:
        self.registers = registers

    def readout(self, clbits: list[int | None]) -> Readout:
        return Readout(clbits=tuple(clbits), registers=self.registers, style="qiskit")


def _readout_frame(qc: Any) -> _ReadoutFrame | None:
    """None without classical bits. Registers are kept when they split the classical bits
    in order (as Qiskit's counts keys assume); otherwise the bits form one group."""
    if qc.num_clbits == 0:
        return None
    registers = tuple(
        (register.name, tuple(qc.find_bit(bit).index for bit in register)) for register in qc.cregs
    )
    flat = [bit for _, bits in registers for bit in bits]
    if flat != list(range(qc.num_clbits)):
        registers = ()
    return _ReadoutFrame(registers)


def _final_clbits(qc: Any) -> list[int | None] | None:
    """Which qubit each classical bit reads, if every bit's last write is a measurement the
    qubit is not touched after (so the final state gives it); None otherwise."""
    clbits: list[int | None] = [None] * qc.num_clbits
    touched_at: dict[int, int] = {}  # qubit -> index of the last other operation on it
    writes: dict[int, tuple[int, int]] = {}  # clbit -> (index, qubit)
    for index, instruction in enumerate(qc.data):
        operation = instruction.operation
        if operation.name in _IGNORED:
            continue
        blocks = getattr(operation, "blocks", None)
        if blocks is not None and any(
            nested.name == "measure" for block in blocks for nested in _all_operations(block)
        ):
            # A bit written under classical control is no final measurement.
            return None
        qubits = [qc.find_bit(qubit).index for qubit in instruction.qubits]
        if operation.name == "measure":
            clbit = qc.find_bit(instruction.clbits[0]).index
            writes[clbit] = (index, qubits[0])
            continue
        for qubit in qubits:
            touched_at[qubit] = index
    for clbit, (index, qubit) in writes.items():
        if touched_at.get(qubit, -1) > index:
            return None
        clbits[clbit] = qubit
    return clbits


# ---------------------------------------------------------------------------------------
# OpenQASM 3 programs.


def _to_qasm3(qc: Any, name: str | None, frame: _ReadoutFrame | None) -> Qasm3Program:
    if qc.parameters:
        names = ", ".join(sorted(parameter.name for parameter in qc.parameters))
        raise CircuitError(
            f"this circuit goes as OpenQASM 3 (mid-circuit measurement, reset or classical "
            f"control), which cannot carry unbound parameters ({names}); bind them first "
            "with quantum_circuit.assign_parameters(...)"
        )
    # Delays mean nothing to IonQ (the JSON route drops them too); leave them out.
    undelayed = qc.copy_empty_like()
    for instruction in qc.data:
        if instruction.operation.name != "delay":
            undelayed.append(instruction)
    translated = _transpile(undelayed, _QASM3_BASIS)
    if translated.layout is not None:
        # Without a layout dumps writes a qubit register, not physical qubits ($0, $1,
        # ...), which the API rejects (as qiskit-ionq found).
        translated._layout = None
    qasm3 = require("qiskit.qasm3")
    source = qasm3.dumps(translated)
    declared = set(re.findall(r"\bbit(?:\[\d+\])?\s+(\w+)\s*;", source))
    renamed = [register.name for register in qc.cregs if register.name not in declared]
    if renamed:
        raise CircuitError(
            f"classical register name(s) {renamed} are OpenQASM 3 keywords, which "
            "qiskit.qasm3 renames (results would be misread); rename the register(s)"
        )
    clbits = _final_clbits(qc) if frame is not None else None
    readout = frame.readout(clbits) if frame is not None and clbits is not None else None
    return Qasm3Program(source=source, num_qubits=qc.num_qubits, name=name, readout=readout)
