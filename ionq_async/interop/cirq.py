"""Cirq circuits as ours: :func:`from_cirq` (needs the ``[cirq]`` extra).

**Qubits.** The circuit's qubits in Cirq's default order (``sorted(circuit.all_qubits())``)
become indices ``0..n-1``: the first qubit in that order is qubit 0. IonQ's results put
qubit 0 in the *least* significant bit, while Cirq (``final_state_vector``, ``Simulator``
with the default qubit order) puts the first qubit in the *most* significant one, so a
raw basis state of ours is Cirq's state-vector index with its ``n`` bits reversed.
Measurements need no such care: the converted circuit's :class:`~ionq_async.readout.Readout`
reads each key as Cirq does (see below).

**Gates.** What IonQ runs as it is maps one to one, with the facts cirq-ionq's serializer
uses (rotation = exponent·π): ``X**t``, ``Y**t``, ``Z**t`` (and ``cirq.rx/ry/rz``) become
``x y z s si t ti v vi`` at those exponents and ``rx ry rz`` otherwise (never ``z`` with
a ``rotation``, whose meaning under controls the API does not document); ``H``, ``SWAP``,
``XX**t``, ``YY**t``, ``ZZ**t`` become ``h``, ``swap``, ``xx yy zz``; ``CX**t``, ``CZ**t``,
``CCX**t``, ``CCZ**t`` and any controlled one of these (``controlled_by``,
``cirq.ControlledGate``, closed controls, up to seven) keep their controls. Everything else
is decomposed by Cirq itself (``cirq.decompose``, with Cirq's matrix decompositions for
gates that only give a unitary) until it reaches those gates. A gate is equal up to a
global phase, except under controls, where the phase Cirq's gate carries (its
``global_shift``, or ``X**t`` = e^{iπt/2}·rx(πt)) is kept exactly as rotations on the
controls, so a controlled gate is the same matrix as Cirq's.

**Measurements.** Terminal measurements become the readout, in Cirq's style: one register
per measurement key in order of appearance, its bits in the order the measurement listed
its qubits, so :meth:`Readout.per_key` gives per key the integers Cirq's
``Result.histogram(key=...)`` gives (first qubit most significant). An ``invert_mask``
flips the measured qubit at the end (an ``x``), as Cirq flips the bit. A circuit that acts
on a measured qubit again or resets a used qubit is written by Cirq as OpenQASM 3
(``Circuit.to_qasm`` with version 3.0, from the decomposed operations) and sent as an
``ionq.qasm3.v1`` job (:class:`~ionq_async.programs.Qasm3Program`); its readout is kept
only when every key is measured finally (the API reports the qubits' final states).

**Classical control.** IonQ runs no branches on any target (its OpenQASM 3 page: loops
and branches are refused in preflight, the simulator included), so a circuit with
classically controlled operations (``with_classical_controls``, on keys or sympy
conditions) is first rewritten by Cirq's own ``cirq.defer_measurements``: each
measurement a condition reads (and each other one in mid-circuit) becomes a CNOT onto a
fresh ancilla qubit, measured at the end under the same key, and each condition becomes
quantum control by those ancillas. The result has
the same distribution of every key, holds no branch and runs on every target (one
qubit more per deferred measured bit; the raw probabilities include the ancillas, the
readout reads the keys from them). What Cirq cannot defer is sent as OpenQASM 3 with its
``if`` for the API to judge (it fails the job naming the construct).

**Symbols.** ``sympy`` symbols in exponents and angles become
:mod:`ionq_async.parameters` expressions evaluated by sympy, so
``from_cirq(circuit).bind(theta=0.1)`` runs what
``from_cirq(cirq.resolve_parameters(circuit, {"theta": 0.1}))`` runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..circuits import MAX_CONTROLS, Circuit, Gate
from ..exceptions import CircuitError
from ..programs import Qasm3Program
from ..readout import Readout
from . import require

__all__ = ["from_cirq"]

# Exponents within this of a named gate's (mod 2) use the named gate. Tight enough that
# the named gate is the same matrix to well below a result's 1e-9.
_NAMED_ATOL = 1e-12
# Digits Cirq writes in OpenQASM angles (its default, 10, loses more than 1e-9).
_QASM_PRECISION = 16

# Named gates of the one-qubit families at exponents mod 2 (shift-free matrices equal).
_X_NAMES: tuple[tuple[float, str], ...] = ((1.0, "x"), (0.5, "v"), (-0.5, "vi"))
_Y_NAMES: tuple[tuple[float, str], ...] = ((1.0, "y"),)
_Z_NAMES: tuple[tuple[float, str], ...] = (
    (1.0, "z"),
    (0.5, "s"),
    (-0.5, "si"),
    (0.25, "t"),
    (-0.25, "ti"),
)

Angle = Any  # a float, or a sympy expression with free symbols


def from_cirq(circuit: Any) -> Circuit | Qasm3Program:
    """A Cirq circuit as a :class:`Circuit`, or as a :class:`Qasm3Program` when it acts on a
    measured qubit or resets a used one (classical control is deferred first); CircuitError
    for what IonQ cannot run (noise, qudits, ...). See the module docstring."""
    cirq = require("cirq")
    if not isinstance(circuit, cirq.AbstractCircuit):
        raise CircuitError(f"expected a cirq.Circuit, got {type(circuit).__name__}")
    return _from_cirq(cirq, circuit, deferred=False)


def _from_cirq(cirq: Any, circuit: Any, *, deferred: bool) -> Circuit | Qasm3Program:
    qubits = sorted(circuit.all_qubits())
    if not qubits:
        raise CircuitError("the Cirq circuit acts on no qubits; there is nothing to run")
    for qubit in qubits:
        if qubit.dimension != 2:
            raise CircuitError(
                f"Cirq qid {qubit} has dimension {qubit.dimension}; IonQ runs qubits only"
            )
    translator = _Translator(cirq, {qubit: index for index, qubit in enumerate(qubits)})
    operations = cirq.decompose(
        circuit,
        keep=translator.keep,
        fallback_decomposer=translator.matrix_decomposition,
        on_stuck_raise=translator.stuck,
    )
    if not deferred and any(
        isinstance(operation, cirq.ClassicallyControlledOperation) for operation in operations
    ):
        keys = [
            cirq.measurement_key_name(operation)
            for operation in operations
            if _is_measurement(cirq, operation)
        ]
        quantum = _deferred(cirq, circuit, keys)
        if quantum is not None:
            return _from_cirq(cirq, quantum, deferred=True)
    if _needs_qasm3(cirq, operations):
        return _to_qasm3(cirq, circuit, qubits, operations)
    for operation in operations:
        translator.emit(operation)
    return Circuit(qubits=len(qubits), gates=translator.gates, readout=translator.readout())


# ---------------------------------------------------------------------------------------
# Classical control: deferred measurement.


def _deferred(cirq: Any, circuit: Any, keys: Sequence[str]) -> Any | None:
    """The circuit with its classical control made quantum by Cirq's own
    ``cirq.defer_measurements`` (the deferred-measurement principle: each measurement but
    the terminal ones no condition reads becomes a CNOT onto a fresh ancilla qubit
    measured at the end under the same key, and
    each classically controlled operation is controlled by those ancillas), or None when
    Cirq cannot defer it (the circuit then goes as OpenQASM 3 with its branches, for the
    API to judge).

    IonQ runs no branches on any target (its OpenQASM 3 page), but this circuit has the
    same distribution of every measurement key and runs everywhere; it costs one qubit
    per deferred measured bit. The (all terminal) measurements are put back in the order
    of ``keys``, the original circuit's, so the readout lists the keys as before.
    """
    try:
        quantum = cirq.defer_measurements(circuit)
    except (ValueError, NotImplementedError, TypeError):
        return None
    quantum = cirq.map_operations_and_unroll(
        quantum, lambda operation, _: _closed_controls(cirq, operation)
    )
    operations = list(quantum.all_operations())
    measurements = [operation for operation in operations if _is_measurement(cirq, operation)]
    rank = {key: position for position, key in enumerate(keys)}
    measurements.sort(key=lambda operation: rank.get(cirq.measurement_key_name(operation), -1))
    ordered = cirq.Circuit(
        [operation for operation in operations if not _is_measurement(cirq, operation)]
    )
    ordered.append(measurements, strategy=cirq.InsertStrategy.NEW)
    return ordered


def _closed_controls(cirq: Any, operation: Any) -> Any:
    """A controlled operation on several accepted control patterns (what deferring a
    condition such as ``m != 0`` or a sympy condition gives) as one closed-controlled
    operation per pattern, with open controls flipped around it. The patterns are
    distinct basis states of the controls, so the pieces run in any order."""
    if not isinstance(operation, cirq.ControlledOperation):
        return operation
    patterns = [tuple(pattern) for pattern in operation.control_values.expand()]
    if patterns == [(1,) * len(operation.controls)]:
        return operation
    pieces: list[Any] = []
    for pattern in patterns:
        flips = [
            cirq.X(q) for q, value in zip(operation.controls, pattern, strict=True) if not value
        ]
        pieces += [*flips, operation.sub_operation.controlled_by(*operation.controls), *flips]
    return cirq.CircuitOperation(cirq.FrozenCircuit(pieces))


# ---------------------------------------------------------------------------------------
# Routing: what an IonQ JSON circuit cannot say.


def _needs_qasm3(cirq: Any, operations: Sequence[Any]) -> bool:
    """True for classical control (what Cirq could not defer), an operation on a measured
    qubit or a reset of a used qubit (a reset of a fresh qubit does nothing and is
    dropped). Raises CircuitError for confusion maps."""
    used: set[Any] = set()
    measured: set[Any] = set()
    needs = False
    for operation in operations:
        if isinstance(operation, cirq.ClassicallyControlledOperation):
            needs = True
        qubits = set(operation.qubits)
        if measured & qubits:
            needs = True
        if _is_reset(cirq, operation):
            needs = needs or bool(used & qubits)
            continue
        if _is_measurement(cirq, operation):
            if operation.gate.confusion_map:
                raise CircuitError(
                    f"Cirq measurement {cirq.measurement_key_name(operation)!r} has a "
                    "confusion map; IonQ measurements cannot apply one"
                )
            measured |= qubits
        used |= qubits
    return needs


def _is_reset(cirq: Any, operation: Any) -> bool:
    return isinstance(getattr(operation, "gate", None), cirq.ResetChannel)


def _is_measurement(cirq: Any, operation: Any) -> bool:
    return isinstance(getattr(operation, "gate", None), cirq.MeasurementGate)


def _to_qasm3(
    cirq: Any, circuit: Any, qubits: Sequence[Any], operations: Sequence[Any]
) -> Qasm3Program:
    """Cirq's own OpenQASM 3 for the circuit (``cirq.Circuit.to_qasm``, version 3.0)."""
    if cirq.is_parameterized(circuit):
        names = sorted(str(name) for name in cirq.parameter_names(circuit))
        raise CircuitError(
            "a Cirq circuit with mid-circuit measurement or reset goes as "
            f"OpenQASM 3, which cannot hold symbols ({', '.join(names)}); resolve them "
            "first with cirq.resolve_parameters(circuit, {...})"
        )
    # The operations as decomposed (subcircuits unrolled, so that Cirq declares every
    # measurement key), qubits in our order: q[i] is our qubit i.
    flat = cirq.Circuit(operations)
    try:
        source = flat.to_qasm(version="3.0", precision=_QASM_PRECISION, qubit_order=qubits)
    except ValueError as error:
        raise CircuitError(f"Cirq cannot write this circuit as OpenQASM 3: {error}") from error
    index = {qubit: position for position, qubit in enumerate(qubits)}
    return Qasm3Program(
        source=source, num_qubits=len(qubits), readout=_final_readout(cirq, operations, index)
    )


def _final_readout(
    cirq: Any, operations: Sequence[Any], index: Mapping[Any, int]
) -> Readout | None:
    """The readout when every key is measured once, finally and without inversion (the
    final state then gives it); None otherwise."""
    frame = _ReadoutFrame()
    last_touch: dict[Any, int] = {}
    measurements: list[tuple[int, Any]] = []
    for position, operation in enumerate(operations):
        if _is_measurement(cirq, operation):
            measurements.append((position, operation))
        else:
            for qubit in operation.qubits:
                last_touch[qubit] = position
    for position, operation in measurements:
        gate = operation.gate
        if any(gate.full_invert_mask()):
            return None
        if any(last_touch.get(qubit, -1) > position for qubit in operation.qubits):
            return None
        try:
            frame.add(cirq.measurement_key_name(operation), [index[q] for q in operation.qubits])
        except CircuitError:
            return None
    return frame.readout()


# ---------------------------------------------------------------------------------------
# Readout: measurement keys.


class _ReadoutFrame:
    """Measurement keys in order of appearance, each with its classical bits."""

    def __init__(self) -> None:
        self.clbits: list[int | None] = []
        self.registers: list[tuple[str, tuple[int, ...]]] = []

    def add(self, key: str, qubits: Sequence[int]) -> None:
        if any(name == key for name, _ in self.registers):
            raise CircuitError(
                f"measurement key {key!r} is used twice; give each measurement its own key"
            )
        start = len(self.clbits)
        self.clbits.extend(qubits)
        self.registers.append((key, tuple(range(start, len(self.clbits)))))

    def readout(self) -> Readout | None:
        if not self.registers:
            return None
        return Readout(clbits=tuple(self.clbits), registers=tuple(self.registers), style="cirq")


# ---------------------------------------------------------------------------------------
# Gates.

_Gates = list[tuple[str, tuple[Any, ...], Any]]  # (name, qubits, rotation or None)


@dataclass
class _Mapped:
    """A Cirq gate as IonQ gates on its qubits: ``gates`` act where ``controls`` are 1;
    Cirq's matrix also has ``phase`` everywhere and ``controlled_phase`` where the
    controls are 1 (both in radians; global, and dropped, unless the gate is controlled)."""

    gates: _Gates
    controls: tuple[Any, ...]
    phase: Any = 0.0
    controlled_phase: Any = 0.0


@dataclass
class _Translation:
    """An operation as IonQ gates on indices, and phases to restore where controls are 1."""

    gates: list[tuple[str, tuple[int, ...], Any]]
    controls: tuple[int, ...]
    phases: list[tuple[Any, tuple[int, ...]]] = field(default_factory=list)


class _Translator:
    """Maps Cirq operations onto IonQ gates; tells cirq.decompose which ones to keep."""

    def __init__(self, cirq: Any, index: Mapping[Any, int]) -> None:
        self._cirq = cirq
        self._sympy = require("sympy")
        self._index = index
        self.gates: list[Gate] = []
        self._final_flips: list[int] = []
        self._frame = _ReadoutFrame()
        # Families of EigenGates: (class, rotation, named exponents, leading controls).
        self._families: tuple[tuple[Any, str, tuple[tuple[float, str], ...], int], ...] = (
            (cirq.XPowGate, "rx", _X_NAMES, 0),
            (cirq.YPowGate, "ry", _Y_NAMES, 0),
            (cirq.ZPowGate, "rz", _Z_NAMES, 0),
            (cirq.CXPowGate, "rx", _X_NAMES, 1),
            (cirq.CZPowGate, "rz", _Z_NAMES, 1),
            (cirq.CCXPowGate, "rx", _X_NAMES, 2),
            (cirq.CCZPowGate, "rz", _Z_NAMES, 2),
        )

    # -- cirq.decompose hooks ------------------------------------------------------------

    def keep(self, operation: Any) -> bool:
        """Operations :meth:`emit` handles as they are (or that need OpenQASM 3)."""
        cirq = self._cirq
        if isinstance(operation, cirq.ClassicallyControlledOperation):
            return True  # sent as OpenQASM 3 (_needs_qasm3)
        if _is_measurement(cirq, operation) or _is_reset(cirq, operation):
            return True
        return self._translate(operation) is not None

    def matrix_decomposition(self, operation: Any) -> list[Any] | None:
        """Cirq's matrix decompositions, for gates that give only a unitary (on up to three
        qubits, or controlled ones of those), made exact by the global phase they leave out
        (it matters once the gate is controlled)."""
        cirq = self._cirq
        if cirq.is_parameterized(operation) or not cirq.has_unitary(operation):
            return None
        if isinstance(operation, cirq.ControlledOperation):
            pieces = self.matrix_decomposition(operation.sub_operation)
            if pieces is None:
                return None
            return [
                piece.controlled_by(*operation.controls, control_values=operation.control_values)
                for piece in pieces
            ]
        qubits = operation.qubits
        matrix = cirq.unitary(operation)
        if len(qubits) == 1:
            gate = cirq.single_qubit_matrix_to_phxz(matrix)
            pieces = [] if gate is None else [gate.on(qubits[0])]
        elif len(qubits) == 2:
            pieces = list(
                cirq.two_qubit_matrix_to_cz_operations(
                    qubits[0], qubits[1], matrix, allow_partial_czs=True
                )
            )
        elif len(qubits) == 3:
            pieces = list(cirq.three_qubit_matrix_to_operations(*qubits, matrix))
        else:
            return None
        # The decompositions are equal up to a global phase: put it back.
        made = cirq.Circuit(pieces).unitary(qubit_order=qubits)
        row, column = np.unravel_index(np.argmax(np.abs(matrix)), matrix.shape)
        ratio = matrix[row, column] / made[row, column]
        return [*pieces, cirq.global_phase_operation(ratio / abs(ratio))]

    def stuck(self, operation: Any) -> Exception:
        """The error for an operation neither IonQ nor Cirq's decompositions can express."""
        cirq = self._cirq
        if cirq.is_parameterized(operation):
            names = ", ".join(sorted(str(name) for name in cirq.parameter_names(operation)))
            reason = (
                f"Cirq cannot decompose it with its symbols ({names}) unresolved; resolve "
                "them first with cirq.resolve_parameters"
            )
        elif not cirq.has_unitary(operation):
            reason = (
                "it is not a unitary gate (noise channels and other non-unitary "
                "operations cannot run on IonQ)"
            )
        else:
            reason = "Cirq offers no decomposition of it into gates IonQ runs"
        return CircuitError(f"cannot convert Cirq operation {_short(operation)}: {reason}")

    # -- emitting -------------------------------------------------------------------------

    def emit(self, operation: Any) -> None:
        """Append the IonQ gates (or readout entries) for one kept operation."""
        cirq = self._cirq
        if _is_reset(cirq, operation):
            return  # a fresh qubit's reset: nothing to do (others went to OpenQASM 3)
        if _is_measurement(cirq, operation):
            self._measurement(operation)
            return
        translated = self._translate(operation)
        if translated is None:  # pragma: no cover - cirq.decompose kept only these
            raise CircuitError(f"cannot convert Cirq operation {_short(operation)}")
        for name, targets, rotation in translated.gates:
            self._add(name, targets, translated.controls, rotation)
        for phase, controls in translated.phases:
            self._phase_on(phase, controls)

    def readout(self) -> Readout | None:
        """The readout of the measurements emitted, after the final flips they need."""
        for qubit in self._final_flips:
            self._add("x", (qubit,), (), None)
        self._final_flips.clear()
        return self._frame.readout()

    def _measurement(self, operation: Any) -> None:
        cirq = self._cirq
        gate = operation.gate
        qubits = [self._index[qubit] for qubit in operation.qubits]
        self._frame.add(cirq.measurement_key_name(operation), qubits)
        for qubit, inverted in zip(qubits, gate.full_invert_mask(), strict=True):
            if inverted:
                self._final_flips.append(qubit)

    def _add(
        self, name: str, targets: tuple[int, ...], controls: tuple[int, ...], rotation: Angle
    ) -> None:
        self.gates.append(
            Gate(
                gate=name,
                targets=targets,
                controls=controls,
                rotation=None if rotation is None else self._value(rotation),
            )
        )

    def _phase_on(self, phase: Angle, controls: tuple[int, ...]) -> None:
        """e^{i·phase} where every control is 1: the controlled phase gate on the last
        control, written as rz (an rz on qubit c with controls C is the phase gate times
        e^{-i·phase/2} where C are 1, which the next, smaller step puts back). Without
        controls the phase is global and dropped."""
        if self._is_zero(phase):
            return
        while controls:
            self._add("rz", (controls[-1],), controls[:-1], phase)
            controls, phase = controls[:-1], phase / 2

    # -- translation ----------------------------------------------------------------------

    def _translate(self, operation: Any) -> _Translation | None:
        """The IonQ gates for one operation, or None when IonQ does not run it as it is."""
        cirq = self._cirq
        outer: list[Any] = []
        while isinstance(operation, cirq.ControlledOperation):
            if any(qubit.dimension != 2 for qubit in operation.controls) or not all(
                values == (1,) for values in _control_values(operation)
            ):
                return None  # open controls and qudits: Cirq decomposes them
            outer.extend(operation.controls)
            operation = operation.sub_operation
        gate = getattr(operation, "gate", None)
        if isinstance(gate, cirq.ControlledGate):
            # A ControlledGate that arrived as a plain GateOperation: Cirq's own form of it.
            controlled = gate.on(*operation.qubits)
            if not isinstance(controlled, cirq.ControlledOperation):
                return None
            inner = self._translate(controlled)
            if inner is None or not outer:
                return inner
            return self._translate(controlled.controlled_by(*outer))
        if gate is None:
            return None
        mapped = self._gate(gate, list(operation.qubits))
        if mapped is None:
            return None
        outer_controls = tuple(self._index[qubit] for qubit in outer)
        all_controls = outer_controls + tuple(self._index[qubit] for qubit in mapped.controls)
        if len(all_controls) > MAX_CONTROLS:
            return None
        if all_controls and any(name == "swap" for name, _, _ in mapped.gates):
            return None  # IonQ cannot control swap: Cirq decomposes it
        return _Translation(
            gates=[
                (name, tuple(self._index[qubit] for qubit in qubits), rotation)
                for name, qubits, rotation in mapped.gates
            ],
            controls=all_controls,
            phases=[(mapped.phase, outer_controls), (mapped.controlled_phase, all_controls)],
        )

    def _gate(self, gate: Any, qubits: list[Any]) -> _Mapped | None:
        """One Cirq gate on ``qubits`` as IonQ gates, with the phases Cirq's matrix has."""
        cirq = self._cirq
        if isinstance(gate, cirq.IdentityGate):
            return _Mapped([], ())
        if isinstance(gate, cirq.GlobalPhaseGate):
            coefficient = gate.coefficient
            if isinstance(coefficient, self._sympy.Basic):
                return None
            value = complex(coefficient)
            return _Mapped([], (), phase=math.atan2(value.imag, value.real))
        for family, rotation_name, names, control_count in self._families:
            if isinstance(gate, family):
                exponent = gate.exponent
                controls = tuple(qubits[:control_count])
                target = (qubits[control_count],)
                # The global shift multiplies the whole matrix, controls or not.
                shift_phase = self._times_pi(exponent) * gate.global_shift
                name = self._named(exponent, names)
                if name is not None:
                    return _Mapped([(name, target, None)], controls, phase=shift_phase)
                if self._named(exponent, ((0.0, ""),)) is not None:
                    return _Mapped([], controls, phase=shift_phase)
                # X**t = e^{iπt/2}·rx(πt) (and likewise for Y and Z), where controls are 1.
                angle = self._times_pi(exponent)
                return _Mapped(
                    [(rotation_name, target, angle)],
                    controls,
                    phase=shift_phase,
                    controlled_phase=angle / 2,
                )
        for family, name in (
            (cirq.XXPowGate, "xx"),
            (cirq.YYPowGate, "yy"),
            (cirq.ZZPowGate, "zz"),
        ):
            if isinstance(gate, family):
                # XX**t = e^{iπt/2}·exp(-iπt X⊗X/2), and likewise for YY and ZZ.
                angle = self._times_pi(gate.exponent)
                phase = angle * gate.global_shift + angle / 2
                return _Mapped([(name, tuple(qubits), angle)], (), phase=phase)
        for family, name in ((cirq.HPowGate, "h"), (cirq.SwapPowGate, "swap")):
            if isinstance(gate, family):
                if self._named(gate.exponent, ((1.0, name),)) is None:
                    return None  # other powers: Cirq decomposes them
                phase = self._times_pi(gate.exponent) * gate.global_shift
                return _Mapped([(name, tuple(qubits), None)], (), phase=phase)
        return None

    # -- numbers and symbols ----------------------------------------------------------------

    def _is_symbolic(self, value: Any) -> bool:
        return isinstance(value, self._sympy.Basic) and bool(value.free_symbols)

    def _times_pi(self, exponent: Any) -> Angle:
        if self._is_symbolic(exponent):
            return self._sympy.pi * exponent
        return math.pi * float(exponent)

    def _named(self, exponent: Any, names: Iterable[tuple[float, str]]) -> str | None:
        """The name whose exponent equals ``exponent`` mod 2, if any (never for symbols)."""
        if self._is_symbolic(exponent):
            return None
        value = float(exponent)
        for named, name in names:
            if abs((value - named + 1) % 2 - 1) <= _NAMED_ATOL:
                return name
        return None

    def _is_zero(self, value: Angle) -> bool:
        if self._is_symbolic(value):
            return bool(value == 0)
        return float(value) == 0.0

    def _value(self, value: Angle) -> Any:
        """A float, or a parameter expression evaluated by sympy."""
        if not self._is_symbolic(value):
            return float(value)
        return _expression(self._sympy, value)


def _short(operation: Any) -> str:
    """An operation as Cirq prints it, cut short (a MatrixGate prints its whole matrix)."""
    text = str(operation)
    return text if len(text) <= 120 else text[:117] + "..."


def _control_values(operation: Any) -> list[tuple[int, ...]]:
    """Each control's accepted values (ProductOfSums; SumOfProducts expands per product)."""
    values = operation.control_values
    expanded = list(values.expand())
    if len(expanded) != 1:
        return [()]  # several accepted combinations: not plain closed controls
    return [(value,) for value in expanded[0]]


def _expression(sympy: Any, expression: Any) -> Any:
    """A sympy expression as an :mod:`ionq_async.parameters` expression."""
    from ..parameters import ParameterExpression

    symbols = sorted(expression.free_symbols, key=lambda symbol: symbol.name)
    names = tuple(symbol.name for symbol in symbols)
    function = sympy.lambdify(symbols, expression, modules="math")

    def evaluate(values: Mapping[str, float]) -> float:
        return float(function(*(values[name] for name in names)))

    return ParameterExpression.of(evaluate, frozenset(names), str(expression))
