"""Circuits in IonQ's JSON form: a builder, parsing, and validation before any request.

Two gatesets exist and a circuit uses exactly one of them:

- ``qis``: ``x y z h s si t ti v vi`` (``not`` = ``x``), ``rx ry rz`` with ``rotation`` in
  radians, ``cnot`` (= ``x`` with controls), ``swap``, ``xx yy zz`` with ``rotation`` in
  radians, and ``pauliexp``. Any of them except ``swap`` takes up to seven controls.
  ``z`` with a ``rotation`` is the phase gate diag(1, e^{iθ}) (qiskit's encoding of ``p``).
- ``native``: ``gpi``/``gpi2`` with ``phase``, ``ms`` with ``phases`` (and ``angle``,
  default 0.25), ``zz`` with ``angle``; all phases and angles in turns (1 turn = 2π).
  ``nop`` (in the API's NativeGate enum, semantics undocumented) is the identity on one
  qubit.

The builder also offers the names Qiskit users type (``cx``, ``ccx``, ``p``, ``crz``,
``sdg``, ``rzz``, ...); each builds the IonQ gate it stands for, so the JSON is the API's
own (``cx`` builds exactly what ``cnot`` builds). Numeric fields may hold symbolic
parameters (:mod:`ionq_async.parameters`), fixed with :meth:`Circuit.bind` before sending.

Measurements are final: ``measure``/``measure_all`` record which qubit each classical bit
reads (a :class:`~ionq_async.readout.Readout`, never sent: the API measures every qubit
at the end), and a gate on a qubit after its measurement is refused (mid-circuit
measurement goes as OpenQASM 3, :class:`~ionq_async.programs.Qasm3Program`).

Qubit 0 is the least significant bit of a result key (the rightmost character of a
bitstring); see :mod:`ionq_async.results`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn, cast

import attrs
from attrs import frozen

from ._limits import MAX_CIRCUITS_PER_JOB, MAX_CONTROLS, MAX_GATES_PER_JOB
from ._names import did_you_mean as _did_you_mean
from .exceptions import CircuitError
from .parameters import ParameterExpression, ParameterValue
from .readout import Readout

__all__ = [
    "BUILDER_ALIASES",
    "MAX_CIRCUITS_PER_JOB",
    "MAX_CONTROLS",
    "MAX_GATES_PER_JOB",
    "NATIVE_GATES",
    "QIS_ALIASES",
    "QIS_GATES",
    "Circuit",
    "Gate",
    "GateSet",
    "circuits_from_multi_json",
    "multi_circuit_json",
]

GateSet = Literal["qis", "native"]


_QIS_SINGLE: Final = frozenset({"x", "y", "z", "h", "s", "si", "t", "ti", "v", "vi"})
_QIS_ROTATIONS: Final = frozenset({"rx", "ry", "rz"})
_QIS_PAIR_ROTATIONS: Final = frozenset({"xx", "yy", "zz"})
QIS_GATES: Final = _QIS_SINGLE | _QIS_ROTATIONS | _QIS_PAIR_ROTATIONS | {"swap", "pauliexp"}
"""Canonical gate names of the qis gateset (aliases such as ``not``/``cnot`` resolved)."""
NATIVE_GATES: Final = frozenset({"gpi", "gpi2", "ms", "zz", "nop"})
"""Gate names of the native gateset."""

# Names accepted on input for the qis gateset, and the canonical name each stands for.
# qiskit's own names (sdg, sx, rxx, ...) are cheap to accept and appear in hand-written JSON.
QIS_ALIASES: Final = {
    "not": "x",
    "cnot": "x",
    "sdg": "si",
    "tdg": "ti",
    "sx": "v",
    "sxdg": "vi",
    "rxx": "xx",
    "ryy": "yy",
    "rzz": "zz",
}
"""Gate names accepted on input for the qis gateset, and the canonical name of each."""

BUILDER_ALIASES: Final = {
    "cx": "x with one control (cnot)",
    "cy": "y with one control",
    "cz": "z with one control",
    "ch": "h with one control",
    "cs": "s with one control",
    "csdg": "si with one control",
    "csx": "v with one control",
    "ccx": "x with two controls (the Toffoli gate)",
    "ccz": "z with two controls",
    "mcx": "x with controls",
    "p": "z with a rotation (the phase gate)",
    "cp": "z with a rotation and one control",
    "mcp": "z with a rotation and controls",
    "crx": "rx with one control",
    "cry": "ry with one control",
    "crz": "rz with one control",
    "mcrx": "rx with controls",
    "mcry": "ry with controls",
    "mcrz": "rz with controls",
    "sdg": "si",
    "tdg": "ti",
    "sx": "v",
    "sxdg": "vi",
    "rxx": "xx",
    "ryy": "yy",
    "rzz": "zz",
    "id": "nothing: the identity is not sent",
}
"""Qiskit's names the builder offers as methods, and the IonQ gate each one builds."""

# Qiskit's and Cirq's names a user may reach for, with where to go instead.
_FOREIGN_HINTS: Final = {
    "toffoli": "use ccx(control1, control2, target)",
    "cnotgate": "use cnot(control, target) or cx(control, target)",
    "i": "use id(qubit)",
    "iden": "use id(qubit)",
    "u1": "use p(theta, qubit)",
    "cu1": "use cp(theta, control, target)",
    "cswap": "IonQ's swap cannot be controlled; build it in Qiskit and pass the QuantumCircuit",
    "fredkin": "IonQ's swap cannot be controlled; build it in Qiskit and pass the QuantumCircuit",
    "reset": "mid-circuit operations go as OpenQASM 3 (Qasm3Program)",
    "if_test": "classical control goes as OpenQASM 3 (Qasm3Program)",
    "c_if": "classical control goes as OpenQASM 3 (Qasm3Program)",
}
# Qiskit gates with no one-to-one IonQ gate: a converter decomposes them.
_NEEDS_DECOMPOSITION: Final = frozenset(
    {"u", "u2", "u3", "cu", "cu3", "r", "rzx", "ecr", "iswap", "dcx", "rccx", "rcccx"}
    | {"c3x", "c4x", "c3sx", "mcu1", "unitary", "initialize", "prepare_state"}
)


def _valid_gate_names(gateset: str) -> list[str]:
    if gateset == "qis":
        return sorted(QIS_GATES | QIS_ALIASES.keys())
    return sorted(NATIVE_GATES)


def _unknown_gate(name: str, gateset: str) -> str:
    """The problem for a gate name neither gateset knows, with what to write instead."""
    valid = _valid_gate_names(gateset)
    problem = f"unknown gate {name!r} in the {gateset} gateset"
    lowered = name.lower()
    if gateset == "qis" and lowered == "id":
        problem += ": the identity is not a gate IonQ takes; leave it out"
    elif gateset == "qis" and lowered in BUILDER_ALIASES:
        problem += (
            f": {lowered} is Qiskit's name for {BUILDER_ALIASES[lowered]}; write that "
            f"gate here, or let the builder's {lowered}(...) make it"
        )
    else:
        problem += _did_you_mean(lowered, valid)
    return f"{problem}; valid names: {', '.join(valid)}"


_PARAMETERS: Final = ("rotation", "phase", "phases", "angle", "terms", "coefficients", "time")
_MULTI_TARGET: Final = frozenset({"swap", "xx", "yy", "zz", "ms", "pauliexp"})
_PAULI_LETTERS: Final = frozenset("IXYZ")
_MS_DEFAULT_ANGLE: Final = 0.25


@frozen(kw_only=True)
class Gate:
    """One gate in normalized form.

    ``gate`` is the canonical name (aliases resolved: ``not`` -> ``x``, ``cnot`` -> ``x``
    with controls). ``targets`` and ``controls`` are tuples of qubit indices. Rotations
    (``rotation``) are in radians for the qis gateset; ``phase``/``phases``/``angle`` are
    in turns for the native gateset. ``terms``/``coefficients``/``time`` are for pauliexp.
    Numeric fields may hold a :class:`~ionq_async.parameters.ParameterExpression`.
    """

    gate: str
    targets: tuple[int, ...]
    controls: tuple[int, ...] = ()
    rotation: ParameterValue | None = None
    phase: ParameterValue | None = None
    phases: tuple[ParameterValue, ...] | None = None
    angle: ParameterValue | None = None
    terms: tuple[str, ...] | None = None
    coefficients: tuple[ParameterValue, ...] | None = None
    time: ParameterValue | None = None

    @property
    def qubits(self) -> tuple[int, ...]:
        """Every qubit the gate touches: controls first, then targets."""
        return self.controls + self.targets

    def to_json(self) -> dict[str, Any]:
        """The gate as the API's JSON object, in this library's canonical form.

        ``x`` with controls is written ``cnot``; gates on one qubit use ``target``, the
        two-qubit gates and ``pauliexp`` use ``targets``; controls are always a
        ``controls`` list; parameters appear only when set. A gate holding an unbound
        parameter raises CircuitError.
        """
        name = "cnot" if self.gate == "x" and self.controls else self.gate
        out: dict[str, Any] = {"gate": name}
        if self.gate in _MULTI_TARGET:
            out["targets"] = list(self.targets)
        else:
            out["target"] = self.targets[0]
        if self.controls:
            out["controls"] = list(self.controls)
        for key in _PARAMETERS:
            value = getattr(self, key)
            if value is None:
                continue
            if type(value) is tuple:
                if any(isinstance(item, ParameterExpression) for item in value):
                    _refuse_unbound(_gate_parameters(self))
                out[key] = list(value)
            else:
                if isinstance(value, ParameterExpression):
                    _refuse_unbound(value.parameters)
                out[key] = value
        return out

    @property
    def parameters(self) -> frozenset[str]:
        """The names of the symbolic parameters the gate's numeric fields depend on."""
        return _gate_parameters(self)


def _gate_parameters(gate: Gate) -> frozenset[str]:
    names: frozenset[str] = frozenset()
    for value in (gate.rotation, gate.phase, gate.angle, gate.time):
        if isinstance(value, ParameterExpression):
            names |= value.parameters
    for values in (gate.phases, gate.coefficients):
        if type(values) is tuple:
            for item in values:
                if isinstance(item, ParameterExpression):
                    names |= item.parameters
    return names


def _refuse_unbound(names: Iterable[str]) -> NoReturn:
    ordered = sorted(names)
    example = ", ".join(f"{name}=..." for name in ordered)
    raise CircuitError(
        f"unbound parameters: {', '.join(ordered)}; bind them first "
        f"(circuit.bind({example})) to get a circuit of numbers"
    )


# ---------------------------------------------------------------------------------------
# Checks shared by the builder, Circuit.validate and the JSON readers.


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_problem(name: str, field: str, value: object, unit: str) -> str | None:
    if value is None:
        return f"{name} needs a {field} ({unit})"
    if isinstance(value, ParameterExpression):
        return None  # checked once bound
    if not _is_real(value):
        return f"{name}: {field} must be a number, got {value!r}"
    number = cast(float, value)
    if math.isnan(number):
        return f"{name}: {field} is NaN"
    if math.isinf(number):
        return f"{name}: {field} is infinite"
    return None


def _indices_problem(name: str, field: str, values: object, qubits: int | None) -> str | None:
    if not isinstance(values, tuple):
        return f"{name}: {field} must be a sequence of qubit indices, got {values!r}"
    for index in values:
        if not _is_int(index):
            return f"{name}: qubit index in {field} must be an integer, got {index!r}"
        if index < 0:
            return f"{name}: qubit index {index} in {field} is negative"
        if qubits is not None and index >= qubits:
            return (
                f"{name}: qubit index {index} in {field} is out of range "
                f"for a {qubits}-qubit circuit"
            )
    return None


# The parameters each gate takes, by gateset; anything else set on a Gate is an error.
_ROTATION_ONLY: Final = frozenset({"rotation"})
_ALLOWED_PARAMETERS: Final[dict[str, dict[str, frozenset[str]]]] = {
    "qis": {
        **{name: frozenset() for name in QIS_GATES},
        **{name: _ROTATION_ONLY for name in (*_QIS_ROTATIONS, *_QIS_PAIR_ROTATIONS, "z")},
        "pauliexp": frozenset({"terms", "coefficients", "time"}),
    },
    "native": {
        "gpi": frozenset({"phase"}),
        "gpi2": frozenset({"phase"}),
        "ms": frozenset({"phases", "angle"}),
        "zz": frozenset({"angle"}),
        "nop": frozenset(),
    },
}


def _allowed_parameters(gateset: str, name: str) -> frozenset[str]:
    return _ALLOWED_PARAMETERS[gateset][name]


def _gate_problem(gate: Gate, gateset: str, qubits: int | None) -> str | None:
    """What is wrong with ``gate`` in a circuit of this gateset and size, or None."""
    name = gate.gate
    known = QIS_GATES if gateset == "qis" else NATIVE_GATES
    if not isinstance(name, str):
        return f"gate name must be a string, got {name!r}"
    if name not in known:
        other = "native" if gateset == "qis" else "qis"
        if name in (NATIVE_GATES if gateset == "qis" else QIS_GATES) or (
            gateset == "native" and name in QIS_ALIASES
        ):
            return f"{name} belongs to the {other} gateset, but this circuit uses {gateset}"
        return _unknown_gate(name, gateset)

    problem = _indices_problem(name, "targets", gate.targets, qubits) or _indices_problem(
        name, "controls", gate.controls, qubits
    )
    if problem:
        return problem
    targets, controls = gate.targets, gate.controls

    wanted = 2 if name in _MULTI_TARGET and name != "pauliexp" else 1
    if name == "pauliexp":
        if not targets:
            return "pauliexp needs at least one target"
    elif len(targets) != wanted:
        noun = "target" if wanted == 1 else "targets"
        return f"{name} takes {wanted} {noun}, got {len(targets)}"

    if controls:
        if gateset == "native":
            return f"{name}: native gates cannot be controlled"
        if name == "swap":
            return "swap cannot be controlled"
        if len(controls) > MAX_CONTROLS:
            return f"{name} has {len(controls)} controls; at most {MAX_CONTROLS} are allowed"

    seen: set[int] = set()
    for index in controls + targets:
        if index in seen:
            return f"{name}: qubit {index} appears more than once"
        seen.add(index)

    allowed = _allowed_parameters(gateset, name)
    for key in _PARAMETERS:
        if key not in allowed and getattr(gate, key) is not None:
            return f"{name} takes no {key}"
    return _parameter_problem(gate, gateset)


def _parameter_problem(gate: Gate, gateset: str) -> str | None:
    name = gate.gate
    if gateset == "native":
        if name in ("gpi", "gpi2"):
            return _number_problem(name, "phase", gate.phase, "turns")
        if name == "zz":
            return _number_problem(name, "angle", gate.angle, "turns")
        if name == "nop":
            return None
        # ms
        phases = gate.phases
        if phases is None:
            return "ms needs phases (two numbers, in turns)"
        if not isinstance(phases, tuple) or len(phases) != 2:
            return f"ms: phases must be two numbers, got {phases!r}"
        for phase in phases:
            problem = _number_problem(name, "phases", phase, "turns")
            if problem:
                return problem
        if gate.angle is not None:
            problem = _number_problem(name, "angle", gate.angle, "turns")
            if problem:
                return problem
            angle = gate.angle
            if isinstance(angle, int | float) and not 0 <= angle <= _MS_DEFAULT_ANGLE:
                return f"ms: angle must be between 0 and 0.25 turns, got {gate.angle!r}"
        return None
    if name == "pauliexp":
        return _pauliexp_problem(gate)
    if name in _QIS_ROTATIONS or name in _QIS_PAIR_ROTATIONS:
        return _number_problem(name, "rotation", gate.rotation, "radians")
    if name == "z" and gate.rotation is not None:
        return _number_problem(name, "rotation", gate.rotation, "radians")
    return None


def _pauliexp_problem(gate: Gate) -> str | None:
    terms, coefficients = gate.terms, gate.coefficients
    if terms is None:
        return "pauliexp needs terms"
    if coefficients is None:
        return "pauliexp needs coefficients"
    if not isinstance(terms, tuple) or not terms:
        return f"pauliexp: terms must be a non-empty sequence of strings, got {terms!r}"
    width = len(gate.targets)
    for term in terms:
        if not isinstance(term, str) or len(term) != width or not set(term) <= _PAULI_LETTERS:
            return (
                f"pauliexp: term {term!r} must be a string of {width} letters "
                "from I, X, Y, Z (one per target)"
            )
    if not isinstance(coefficients, tuple):
        return f"pauliexp: coefficients must be a sequence of numbers, got {coefficients!r}"
    if len(coefficients) != len(terms):
        return (
            f"pauliexp: {len(coefficients)} coefficients for {len(terms)} terms; "
            "give one real coefficient per term"
        )
    for coefficient in coefficients:
        problem = _number_problem("pauliexp", "coefficients", coefficient, "real")
        if problem:
            return problem
    return _number_problem("pauliexp", "time", gate.time, "a real number")


# ---------------------------------------------------------------------------------------
# Normalizing values given by Python callers (NumPy scalars, lists) into the Gate form.


def _as_index(value: object) -> Any:
    if type(value) is int:
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


def _as_real(value: object) -> Any:
    if value is None or type(value) is float:
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return value


def _as_tuple(value: object, item: Any) -> Any:
    if isinstance(value, list | tuple | range):
        return tuple(item(v) for v in value)
    return value


def _keep(value: object) -> object:
    return value


def _is_canonical(gate: Gate) -> bool:
    """True when a gate already holds only tuples, ints and floats (the common case)."""
    return (
        type(gate.targets) is tuple
        and type(gate.controls) is tuple
        and all(type(i) is int for i in gate.targets)
        and all(type(i) is int for i in gate.controls)
        and all(
            value is None or type(value) is float
            for value in (gate.rotation, gate.phase, gate.angle, gate.time)
        )
        and all(
            values is None or (type(values) is tuple and all(type(v) is float for v in values))
            for values in (gate.phases, gate.coefficients)
        )
        and (gate.terms is None or type(gate.terms) is tuple)
    )


def _normalize(gate: Gate, gateset: GateSet, canonical: bool) -> Gate:
    name = gate.gate
    if gateset == "qis" and isinstance(name, str):
        name = QIS_ALIASES.get(name, name)
    if canonical:
        return gate if name == gate.gate else attrs.evolve(gate, gate=name)
    return attrs.evolve(
        gate,
        gate=name,
        targets=_as_tuple(gate.targets, _as_index),
        controls=_as_tuple(gate.controls, _as_index),
        rotation=_as_real(gate.rotation),
        phase=_as_real(gate.phase),
        phases=_as_tuple(gate.phases, _as_real),
        angle=_as_real(gate.angle),
        terms=_as_tuple(gate.terms, _keep),
        coefficients=_as_tuple(gate.coefficients, _as_real),
        time=_as_real(gate.time),
    )


def _controls_tuple(controls: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(controls, numbers.Integral) and not isinstance(controls, bool):
        return (int(controls),)
    if isinstance(controls, list | tuple | range):
        return tuple(controls)
    # Anything else is kept as given so that validation names it.
    return cast(tuple[int, ...], controls)


def _check_gateset(gateset: object) -> GateSet:
    if gateset not in ("qis", "native"):
        raise CircuitError(f"gateset must be 'qis' or 'native', got {gateset!r}")
    return gateset


def _check_qubits(qubits: object) -> int | None:
    if qubits is None:
        return None
    if isinstance(qubits, float) and qubits.is_integer():
        qubits = int(qubits)
    if not _is_int(qubits) or cast(int, qubits) < 1:
        raise CircuitError(f"qubits must be a positive integer, got {qubits!r}")
    return cast(int, qubits)


def _check_name(name: object) -> str | None:
    if name is not None and not isinstance(name, str):
        raise CircuitError(f"name must be a string, got {name!r}")
    return name


class _Diagram(str):
    """A circuit's text diagram: a ``str`` that a REPL shows as the picture, not escaped."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


# Shared empties: each ``frozenset()`` is a new 216-byte object, twice per circuit (a
# batch of 100,000 waiting circuits held 43 MB of them). Frozensets never change in place.
_NO_QUBITS: Final[frozenset[int]] = frozenset()
_NO_NAMES: Final[frozenset[str]] = frozenset()


class Circuit:
    """A circuit of one gateset, built gate by gate; every method returns the circuit.

    ``Circuit(qubits=2).h(0).cnot(0, 1)`` is a Bell pair; so is ``Circuit(qubits=2).h(0)
    .cx(0, 1)``: Qiskit's names build the same IonQ gates. Each gate is checked as it is
    added, so a bad argument raises :class:`~ionq_async.exceptions.CircuitError` naming the
    position the gate would have had. Results of a circuit are keyed with qubit 0 as the
    least significant bit (the rightmost character of a bitstring); a ``readout`` (from
    :meth:`measure`, or a converter) keys them by classical bits instead.
    """

    __slots__ = (
        "_binders",
        "_gates",
        "_gateset",
        "_max_index",
        "_measured",
        "_name",
        "_parameter_names",
        "_parametric",
        "_qubits",
        "_readout",
        "_validated",
    )
    __hash__ = None  # type: ignore[assignment]  # mutable, so not hashable

    def __init__(
        self,
        qubits: int | None = None,
        gateset: GateSet = "qis",
        name: str | None = None,
        *,
        gates: Iterable[Gate] = (),
        readout: Readout | None = None,
    ) -> None:
        self._qubits = _check_qubits(qubits)
        self._gateset: GateSet = _check_gateset(gateset)
        self._name = _check_name(name)
        self._gates: list[Gate] = []
        self._max_index = -1
        self._readout: Readout | None = None
        self._measured: frozenset[int] = _NO_QUBITS
        # Positions of the gates holding parameters, so bind() touches only those.
        self._parametric: list[int] = []
        self._binders: list[_Binder] | None = None  # made by the first full bind()
        self._parameter_names: frozenset[str] = _NO_NAMES
        # Gates [0, _validated) passed validate(): gates are immutable and only ever
        # appended, so a second validate() (a batch checks a packed circuit, then the
        # payload does) checks only the gates added since.
        self._validated = 0
        self.extend(gates)
        if readout is not None:
            self._set_readout(readout)

    # -- properties ---------------------------------------------------------------------

    @property
    def gates(self) -> tuple[Gate, ...]:
        """The gates in order."""
        return tuple(self._gates)

    @property
    def qubits(self) -> int | None:
        """The declared number of qubits, or None when it is inferred."""
        return self._qubits

    @property
    def num_qubits(self) -> int:
        """The declared qubits, else the highest index used + 1 (1 for an empty circuit)."""
        if self._qubits is not None:
            return self._qubits
        return max(self._max_index + 1, 1)

    @property
    def gateset(self) -> GateSet:
        """``"qis"`` or ``"native"``."""
        return self._gateset

    @property
    def name(self) -> str | None:
        """The circuit's name (sent per circuit in multi-circuit jobs), if any."""
        return self._name

    @property
    def readout(self) -> Readout | None:
        """Which qubit each classical bit reads (from :meth:`measure`), or None."""
        return self._readout

    @property
    def parameters(self) -> frozenset[str]:
        """The names of the symbolic parameters still unbound (see :meth:`bind`)."""
        return self._parameter_names

    def __len__(self) -> int:
        return len(self._gates)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Circuit):
            return NotImplemented
        return (
            self._gateset == other._gateset
            and self.num_qubits == other.num_qubits
            and self._name == other._name
            and self._readout == other._readout
            and self._gates == other._gates
        )

    def __copy__(self) -> Circuit:
        # Its own list of gates (the gates themselves are immutable and shared).
        return self._derive(list(self._gates))

    def __repr__(self) -> str:
        return (
            f"Circuit(qubits={self._qubits!r}, gateset={self._gateset!r}, "
            f"name={self._name!r}, gates=<{len(self._gates)} gates>)"
        )

    def __str__(self) -> str:
        """The circuit as a text diagram (see :meth:`draw`)."""
        from ._drawing import draw_text

        return draw_text(self)

    def draw(self, *, width: int | None = None) -> str:
        """A text diagram: one wire per qubit, qubit 0 on top, cut into blocks of ``width``."""
        from ._drawing import draw_text

        return _Diagram(draw_text(self, width=width))

    def _repr_html_(self) -> str:
        """The diagram for notebooks."""
        from ._drawing import draw_html

        return draw_html(self)

    if not TYPE_CHECKING:
        # Hidden from type checkers, which keep flagging misspelled methods themselves.
        def __getattr__(self, name: str) -> NoReturn:
            """Explain a missing builder method: the closest names, or where to go instead."""
            if name.startswith("_"):
                raise AttributeError(name)
            raise AttributeError(_missing_method(name))

    # -- generic ------------------------------------------------------------------------

    def add(self, gate: Gate) -> Circuit:
        """Append a gate (aliases such as ``cnot`` are resolved); raise CircuitError if bad."""
        if not isinstance(gate, Gate):
            raise CircuitError(f"expected a Gate, got {gate!r}", position=len(self._gates))
        canonical = _is_canonical(gate)
        gate = _normalize(gate, self._gateset, canonical)
        position = len(self._gates)
        problem = _gate_problem(gate, self._gateset, self._qubits)
        if problem:
            raise CircuitError(problem, position=position)
        if self._measured and not self._measured.isdisjoint(gate.qubits):
            raise CircuitError(_after_measurement(gate, self._measured), position=position)
        if not canonical:
            names = _gate_parameters(gate)
            if names:
                self._parametric.append(position)
                self._binders = None
                self._parameter_names |= names
        self._gates.append(gate)
        self._max_index = max(self._max_index, *gate.targets, *gate.controls)
        return self

    def extend(self, gates: Iterable[Gate]) -> Circuit:
        """Append several gates in order."""
        for gate in gates:
            self.add(gate)
        return self

    def _single(
        self,
        name: str,
        target: int,
        controls: int | Sequence[int],
        rotation: ParameterValue | None = None,
    ) -> Circuit:
        return self.add(
            Gate(
                gate=name,
                targets=(target,),
                controls=_controls_tuple(controls),
                rotation=rotation,
            )
        )

    def _controlled(
        self,
        builder: str,
        name: str,
        controls: int | Sequence[int],
        target: int,
        count: int | None,
        rotation: ParameterValue | None = None,
    ) -> Circuit:
        """``name`` on ``target`` with ``controls``, which must be ``count`` of them."""
        controls_tuple = _controls_tuple(controls)
        if count is not None and (
            not isinstance(controls_tuple, tuple) or len(controls_tuple) != count
        ):
            noun = "control" if count == 1 else "controls"
            raise CircuitError(
                f"{builder} takes {count} {noun}, got {controls!r}", position=len(self._gates)
            )
        return self._single(name, target, controls_tuple, rotation)

    def _check_qubit(self, operation: str, qubit: object) -> int:
        index = _as_index(qubit)
        problem = _indices_problem(operation, "qubits", (index,), self._qubits)
        if problem:
            raise CircuitError(problem, position=len(self._gates))
        return cast(int, index)

    # -- qis: one-qubit gates -----------------------------------------------------------

    def x(self, target: int, *, controls: int | Sequence[int] = ()) -> Circuit:
        """Pauli X (NOT) on ``target``, optionally controlled."""
        return self._single("x", target, controls)

    def y(self, target: int, *, controls: int | Sequence[int] = ()) -> Circuit:
        """Pauli Y on ``target``, optionally controlled."""
        return self._single("y", target, controls)

    def z(self, target: int, *, controls: int | Sequence[int] = ()) -> Circuit:
        """Pauli Z on ``target``, optionally controlled."""
        return self._single("z", target, controls)

    def h(self, target: int, *, controls: int | Sequence[int] = ()) -> Circuit:
        """Hadamard on ``target``, optionally controlled."""
        return self._single("h", target, controls)

    def s(self, target: int, *, controls: int | Sequence[int] = ()) -> Circuit:
        """S = diag(1, i) on ``target``, optionally controlled."""
        return self._single("s", target, controls)

    def si(self, target: int, *, controls: int | Sequence[int] = ()) -> Circuit:
        """S† = diag(1, -i) on ``target``, optionally controlled."""
        return self._single("si", target, controls)

    def t(self, target: int, *, controls: int | Sequence[int] = ()) -> Circuit:
        """T = diag(1, e^{iπ/4}) on ``target``, optionally controlled."""
        return self._single("t", target, controls)

    def ti(self, target: int, *, controls: int | Sequence[int] = ()) -> Circuit:
        """T† on ``target``, optionally controlled."""
        return self._single("ti", target, controls)

    def v(self, target: int, *, controls: int | Sequence[int] = ()) -> Circuit:
        """V = √X on ``target``, optionally controlled."""
        return self._single("v", target, controls)

    def vi(self, target: int, *, controls: int | Sequence[int] = ()) -> Circuit:
        """V† = (√X)† on ``target``, optionally controlled."""
        return self._single("vi", target, controls)

    def rx(
        self, theta: ParameterValue, target: int, *, controls: int | Sequence[int] = ()
    ) -> Circuit:
        """exp(-iθX/2) on ``target``; ``theta`` in radians."""
        return self._single("rx", target, controls, theta)

    def ry(
        self, theta: ParameterValue, target: int, *, controls: int | Sequence[int] = ()
    ) -> Circuit:
        """exp(-iθY/2) on ``target``; ``theta`` in radians."""
        return self._single("ry", target, controls, theta)

    def rz(
        self, theta: ParameterValue, target: int, *, controls: int | Sequence[int] = ()
    ) -> Circuit:
        """exp(-iθZ/2) on ``target``; ``theta`` in radians."""
        return self._single("rz", target, controls, theta)

    def phase(
        self, theta: ParameterValue, target: int, *, controls: int | Sequence[int] = ()
    ) -> Circuit:
        """The phase gate diag(1, e^{iθ}) on ``target`` (sent as ``z`` with ``rotation``)."""
        return self._single("z", target, controls, theta)

    # -- qis: Qiskit's names for the same gates -------------------------------------------

    def p(
        self, theta: ParameterValue, target: int, *, controls: int | Sequence[int] = ()
    ) -> Circuit:
        """Qiskit's ``p``: the phase gate diag(1, e^{iθ}), as :meth:`phase`."""
        return self._single("z", target, controls, theta)

    def sdg(self, target: int, *, controls: int | Sequence[int] = ()) -> Circuit:
        """Qiskit's ``sdg``: S†, as :meth:`si`."""
        return self._single("si", target, controls)

    def tdg(self, target: int, *, controls: int | Sequence[int] = ()) -> Circuit:
        """Qiskit's ``tdg``: T†, as :meth:`ti`."""
        return self._single("ti", target, controls)

    def sx(self, target: int, *, controls: int | Sequence[int] = ()) -> Circuit:
        """Qiskit's ``sx``: √X, as :meth:`v`."""
        return self._single("v", target, controls)

    def sxdg(self, target: int, *, controls: int | Sequence[int] = ()) -> Circuit:
        """Qiskit's ``sxdg``: (√X)†, as :meth:`vi`."""
        return self._single("vi", target, controls)

    def id(self, target: int) -> Circuit:
        """Qiskit's ``id``: the identity, which sends nothing (the index is checked)."""
        self._max_index = max(self._max_index, self._check_qubit("id", target))
        return self

    def cx(self, control: int | Sequence[int], target: int) -> Circuit:
        """Qiskit's ``cx``: X on ``target`` controlled by ``control``, as :meth:`cnot`."""
        return self._single("x", target, control)

    def cy(self, control: int | Sequence[int], target: int) -> Circuit:
        """Qiskit's ``cy``: Y on ``target`` controlled by ``control``."""
        return self._single("y", target, control)

    def cz(self, control: int | Sequence[int], target: int) -> Circuit:
        """Qiskit's ``cz``: Z on ``target`` controlled by ``control``."""
        return self._single("z", target, control)

    def ch(self, control: int | Sequence[int], target: int) -> Circuit:
        """Qiskit's ``ch``: Hadamard on ``target`` controlled by ``control``."""
        return self._single("h", target, control)

    def cs(self, control: int | Sequence[int], target: int) -> Circuit:
        """Qiskit's ``cs``: S on ``target`` controlled by ``control``."""
        return self._single("s", target, control)

    def csdg(self, control: int | Sequence[int], target: int) -> Circuit:
        """Qiskit's ``csdg``: S† on ``target`` controlled by ``control``."""
        return self._single("si", target, control)

    def csx(self, control: int | Sequence[int], target: int) -> Circuit:
        """Qiskit's ``csx``: √X on ``target`` controlled by ``control``."""
        return self._single("v", target, control)

    def ccx(self, control1: int, control2: int, target: int) -> Circuit:
        """Qiskit's ``ccx`` (Toffoli): X on ``target`` controlled by two qubits."""
        return self._single("x", target, (control1, control2))

    def ccz(self, control1: int, control2: int, target: int) -> Circuit:
        """Qiskit's ``ccz``: Z on ``target`` controlled by two qubits."""
        return self._single("z", target, (control1, control2))

    def mcx(self, controls: Sequence[int], target: int) -> Circuit:
        """Qiskit's ``mcx``: X on ``target`` controlled by up to seven qubits."""
        return self._single("x", target, controls)

    def cp(self, theta: ParameterValue, control: int, target: int) -> Circuit:
        """Qiskit's ``cp``: the phase gate diag(1, e^{iθ}) on ``target``, controlled."""
        return self._controlled("cp", "z", control, target, 1, theta)

    def mcp(self, theta: ParameterValue, controls: Sequence[int], target: int) -> Circuit:
        """Qiskit's ``mcp``: the phase gate on ``target`` controlled by up to seven qubits."""
        return self._single("z", target, controls, theta)

    def crx(self, theta: ParameterValue, control: int, target: int) -> Circuit:
        """Qiskit's ``crx``: exp(-iθX/2) on ``target`` controlled by ``control``."""
        return self._controlled("crx", "rx", control, target, 1, theta)

    def cry(self, theta: ParameterValue, control: int, target: int) -> Circuit:
        """Qiskit's ``cry``: exp(-iθY/2) on ``target`` controlled by ``control``."""
        return self._controlled("cry", "ry", control, target, 1, theta)

    def crz(self, theta: ParameterValue, control: int, target: int) -> Circuit:
        """Qiskit's ``crz``: exp(-iθZ/2) on ``target`` controlled by ``control``."""
        return self._controlled("crz", "rz", control, target, 1, theta)

    def mcrx(self, theta: ParameterValue, controls: Sequence[int], target: int) -> Circuit:
        """Qiskit's ``mcrx``: exp(-iθX/2) on ``target`` controlled by up to seven qubits."""
        return self._single("rx", target, controls, theta)

    def mcry(self, theta: ParameterValue, controls: Sequence[int], target: int) -> Circuit:
        """Qiskit's ``mcry``: exp(-iθY/2) on ``target`` controlled by up to seven qubits."""
        return self._single("ry", target, controls, theta)

    def mcrz(self, theta: ParameterValue, controls: Sequence[int], target: int) -> Circuit:
        """Qiskit's ``mcrz``: exp(-iθZ/2) on ``target`` controlled by up to seven qubits."""
        return self._single("rz", target, controls, theta)

    def rxx(self, theta: ParameterValue, a: int, b: int) -> Circuit:
        """Qiskit's ``rxx``: exp(-iθ X⊗X/2), as :meth:`xx`."""
        return self.add(Gate(gate="xx", targets=(a, b), rotation=theta))

    def ryy(self, theta: ParameterValue, a: int, b: int) -> Circuit:
        """Qiskit's ``ryy``: exp(-iθ Y⊗Y/2), as :meth:`yy`."""
        return self.add(Gate(gate="yy", targets=(a, b), rotation=theta))

    def rzz(self, theta: ParameterValue, a: int, b: int) -> Circuit:
        """Qiskit's ``rzz``: exp(-iθ Z⊗Z/2), as :meth:`zz`."""
        return self.zz(theta, a, b)

    # -- qis: multi-qubit gates ---------------------------------------------------------

    def cnot(self, control: int | Sequence[int], target: int) -> Circuit:
        """X on ``target`` controlled by ``control`` (one index or up to seven)."""
        return self._single("x", target, control)

    def swap(self, a: int, b: int) -> Circuit:
        """Swap qubits ``a`` and ``b``."""
        return self.add(Gate(gate="swap", targets=(a, b)))

    def xx(self, theta: ParameterValue, a: int, b: int) -> Circuit:
        """exp(-iθ X⊗X/2) on ``a`` and ``b``; ``theta`` in radians."""
        return self.add(Gate(gate="xx", targets=(a, b), rotation=theta))

    def yy(self, theta: ParameterValue, a: int, b: int) -> Circuit:
        """exp(-iθ Y⊗Y/2) on ``a`` and ``b``; ``theta`` in radians."""
        return self.add(Gate(gate="yy", targets=(a, b), rotation=theta))

    def zz(self, theta: ParameterValue, a: int, b: int) -> Circuit:
        """The qis exp(-iθ Z⊗Z/2) on ``a`` and ``b``; ``theta`` in radians.

        On a native circuit use :meth:`native_zz`, whose angle is in turns.
        """
        if self._gateset == "native":
            raise CircuitError(
                "zz(theta, ...) is the qis gate with a rotation in radians; "
                "on a native circuit use native_zz(angle, ...) with the angle in turns",
                position=len(self._gates),
            )
        return self.add(Gate(gate="zz", targets=(a, b), rotation=theta))

    def pauliexp(
        self,
        targets: Sequence[int],
        terms: Sequence[str],
        coefficients: Sequence[ParameterValue],
        time: ParameterValue,
        *,
        controls: int | Sequence[int] = (),
    ) -> Circuit:
        """exp(-i·time·Σ c_k P_k); the last letter of each term acts on ``targets[0]``."""
        return self.add(
            Gate(
                gate="pauliexp",
                targets=cast(tuple[int, ...], targets),
                controls=_controls_tuple(controls),
                terms=cast(tuple[str, ...], terms),
                coefficients=cast(tuple[ParameterValue, ...], coefficients),
                time=time,
            )
        )

    # -- native -------------------------------------------------------------------------

    def gpi(self, phase: ParameterValue, target: int) -> Circuit:
        """Native GPI(φ) on ``target``; ``phase`` in turns."""
        return self.add(Gate(gate="gpi", targets=(target,), phase=phase))

    def gpi2(self, phase: ParameterValue, target: int) -> Circuit:
        """Native GPI2(φ) on ``target``; ``phase`` in turns."""
        return self.add(Gate(gate="gpi2", targets=(target,), phase=phase))

    def ms(
        self,
        phases: Sequence[ParameterValue],
        a: int,
        b: int,
        angle: ParameterValue = _MS_DEFAULT_ANGLE,
    ) -> Circuit:
        """Native Mølmer-Sørensen on ``a``, ``b``; phases and angle (0..0.25) in turns."""
        return self.add(
            Gate(
                gate="ms",
                targets=(a, b),
                phases=cast(tuple[ParameterValue, ...], phases),
                angle=angle,
            )
        )

    def nop(self, target: int) -> Circuit:
        """Native no-operation on ``target`` (the API's ``nop``; simulated as the identity)."""
        return self.add(Gate(gate="nop", targets=(target,)))

    def native_zz(self, angle: ParameterValue, a: int, b: int) -> Circuit:
        """Native ZZ(θ) = exp(-iπθ Z⊗Z) on ``a``, ``b``; ``angle`` in turns."""
        if self._gateset == "qis":
            raise CircuitError(
                "native_zz belongs to the native gateset, but this circuit uses qis "
                "(use zz(theta, ...) with the rotation in radians)",
                position=len(self._gates),
            )
        return self.add(Gate(gate="zz", targets=(a, b), angle=angle))

    # -- measurements -------------------------------------------------------------------

    def measure(
        self, qubit: int | Sequence[int], clbit: int | Sequence[int] | None = None
    ) -> Circuit:
        """Measure ``qubit`` into classical bit ``clbit`` (default: the next unused one).

        Sequences measure several qubits into as many bits, as Qiskit's
        ``measure([0, 1], [0, 1])``. Nothing is sent (the API measures every qubit at the
        end): the circuit's :attr:`readout` records which qubit each bit reads, and results
        are keyed by classical bits. Measurements are final: a later gate on the qubit is
        a CircuitError.
        """
        qubits = _as_list(qubit)
        clbits: list[int | None] | None = None if clbit is None else list(_as_list(clbit))
        if clbits is not None and len(clbits) != len(qubits):
            raise CircuitError(
                f"measure: {len(qubits)} qubits into {len(clbits)} classical bits; "
                "give one classical bit per qubit",
                position=len(self._gates),
            )
        readout = self._readout
        bits: list[int | None] = list(readout.clbits) if readout is not None else []
        for index, measured in enumerate(qubits):
            target = self._check_qubit("measure", measured)
            if clbits is None:
                bit = len(bits)
            else:
                bit = cast(int, _as_index(clbits[index]))
                if not _is_int(bit) or bit < 0:
                    raise CircuitError(
                        f"measure: a classical bit must be a non-negative integer, "
                        f"got {clbits[index]!r}",
                        position=len(self._gates),
                    )
            if bit >= len(bits):
                bits.extend([None] * (bit + 1 - len(bits)))
            bits[bit] = target
        self._set_readout(
            Readout(clbits=tuple(bits))
            if readout is None
            else attrs.evolve(readout, clbits=tuple(bits))
        )
        return self

    def measure_all(self) -> Circuit:
        """Measure every qubit, 0 first, into the next classical bits (Qiskit's ``measure_all``)."""
        return self.measure(range(self.num_qubits))

    def barrier(self, *qubits: int | Sequence[int]) -> Circuit:
        """Qiskit's ``barrier``: nothing is sent (IonQ keeps gate order); indices are checked."""
        for group in qubits:
            for qubit in _as_list(group):
                self._max_index = max(self._max_index, self._check_qubit("barrier", qubit))
        return self

    def with_readout(self, readout: Readout | None) -> Circuit:
        """A copy of the circuit with this readout (None: results keyed by qubits)."""
        copy = self._derive(list(self._gates))
        copy._readout, copy._measured = None, _NO_QUBITS
        if readout is not None:
            copy._set_readout(readout)
        return copy

    def _set_readout(self, readout: Readout) -> None:
        if not isinstance(readout, Readout):
            raise CircuitError(f"readout must be a Readout, got {readout!r}")
        measured = frozenset(qubit for qubit in readout.clbits if qubit is not None)
        if measured:
            widest = max(measured)
            if self._qubits is not None and widest >= self._qubits:
                raise CircuitError(
                    f"the readout measures qubit {widest}, out of range "
                    f"for a {self._qubits}-qubit circuit"
                )
            self._max_index = max(self._max_index, widest)
        self._readout, self._measured = readout, measured

    # -- parameters ---------------------------------------------------------------------

    def bind(self, values: Mapping[str, float] | None = None, **named: float) -> Circuit:
        """A new circuit with these parameter values; parameters not given stay symbolic.

        ``circuit.bind(theta=0.1)`` or ``circuit.bind({"theta": 0.1})``. Every name must be
        one of :attr:`parameters`, and every value a real number; the bound gates are
        checked (a phase out of range is a CircuitError naming the gate). The original
        circuit is unchanged; gates without parameters are shared, not copied.
        """
        given: dict[str, float] = {}
        if values is not None:
            if not isinstance(values, Mapping):
                raise CircuitError(f"bind: values must be a mapping of names, got {values!r}")
            given.update(values)
        for key, value in named.items():
            if key in given:
                raise CircuitError(f"bind: {key} is given twice")
            given[key] = value
        unknown = given.keys() - self._parameter_names
        if unknown:
            raise CircuitError(_unknown_parameters(unknown, self._parameter_names))
        for key, value in given.items():
            if type(value) is not float:
                if isinstance(value, bool) or not isinstance(value, numbers.Real):
                    raise CircuitError(f"bind: {key} must be a real number, got {value!r}")
                given[key] = float(value)
        remaining = self._parameter_names - given.keys()
        gates = list(self._gates)
        if not remaining:
            self._bind_all(gates, given)
            bound = self._derive(gates)
            bound._parametric, bound._binders = [], []
            bound._parameter_names = remaining
            return bound
        parametric: list[int] = []
        gateset = self._gateset
        for position in self._parametric:
            gate = _bind_gate(gates[position], given)
            problem = _parameter_problem(gate, gateset)
            if problem:
                raise CircuitError(problem, position=position)
            gates[position] = gate
            if remaining and _gate_parameters(gate):
                parametric.append(position)
        bound = self._derive(gates)
        bound._parametric = parametric
        bound._parameter_names = remaining
        return bound

    def _bind_all(self, gates: list[Gate], values: dict[str, float]) -> None:
        """Put values for every parameter into ``gates`` (the sweep's hot path).

        Each parametric gate's fields are looked at once (its binder); a bound gate is
        checked only where binding can break it: a value that is not finite, ms's angle.
        """
        binders = self._binders
        if binders is None:
            binders = self._binders = [
                _binder(position, gates[position]) for position in self._parametric
            ]
        for position, base, scalars, sequences in binders:
            fields = base.copy()
            finite = True
            try:
                for field, expression in scalars:
                    number = fields[field] = expression._evaluate(values)
                    finite = finite and math.isfinite(number)
                for field, items in sequences:
                    numbers_ = tuple(
                        item._evaluate(values) if isinstance(item, ParameterExpression) else item
                        for item in items
                    )
                    finite = finite and all(math.isfinite(n) for n in numbers_)
                    fields[field] = numbers_
            except (ArithmeticError, ValueError, TypeError):
                # Evaluate again through the public path, which names the values.
                for expression in _expressions(gates[position]):
                    try:
                        expression.evaluate(values)
                    except CircuitError as error:
                        raise CircuitError(error.problem, position=position) from error
                raise
            gate = Gate(**fields)
            if not finite or fields["gate"] == "ms":
                problem = _parameter_problem(gate, self._gateset)
                if problem:
                    raise CircuitError(problem, position=position)
            gates[position] = gate

    def _derive(self, gates: list[Gate]) -> Circuit:
        """A circuit like this one holding ``gates`` (already checked against it)."""
        new = Circuit.__new__(Circuit)
        new._qubits = self._qubits
        new._gateset = self._gateset
        new._name = self._name
        new._gates = gates
        new._max_index = self._max_index
        new._readout = self._readout
        new._measured = self._measured
        new._parametric = list(self._parametric)
        new._binders = None
        new._parameter_names = self._parameter_names
        new._validated = 0
        return new

    # -- whole-circuit operations -------------------------------------------------------

    def validate(self, max_qubits: int | None = None) -> None:
        """Check every gate again, and the width against ``max_qubits``; raise CircuitError.

        A circuit with unbound parameters is refused: bind them first.
        """
        if self._parameter_names:
            _refuse_unbound(self._parameter_names)
        gates = self._gates
        for position in range(self._validated, len(gates)):
            problem = _gate_problem(gates[position], self._gateset, self._qubits)
            if problem:
                raise CircuitError(problem, position=position)
        self._validated = len(gates)
        if max_qubits is None or self.num_qubits <= max_qubits:
            return
        if self._qubits is not None:
            raise CircuitError(
                f"the circuit declares {self._qubits} qubits; at most {max_qubits} are allowed"
            )
        for position, gate in enumerate(self._gates):
            widest = max(gate.qubits)
            if widest >= max_qubits:
                raise CircuitError(
                    f"{gate.gate}: qubit index {widest} needs {widest + 1} qubits; "
                    f"at most {max_qubits} are allowed",
                    position=position,
                )
        raise CircuitError(
            f"the circuit uses {self.num_qubits} qubits; at most {max_qubits} are allowed"
        )

    def gate_counts(self) -> tuple[int, int]:
        """(one-qubit gates, gates on two or more qubits); a controlled gate counts as 2q+."""
        one = sum(1 for gate in self._gates if len(gate.targets) + len(gate.controls) == 1)
        return one, len(self._gates) - one

    def to_json(self) -> dict[str, Any]:
        """The API's ``input`` form ``{"gateset", "qubits", "circuit"}`` (name is left out).

        ``qubits`` is always written (the declared or inferred width). The name is not
        part of a single-circuit input; it goes on the job, or per circuit in
        :func:`multi_circuit_json`. Measurements are not written (the API measures every
        qubit at the end); unbound parameters are a CircuitError.
        """
        if self._parameter_names:
            _refuse_unbound(self._parameter_names)
        return {
            "gateset": self._gateset,
            "qubits": self.num_qubits,
            "circuit": [gate.to_json() for gate in self._gates],
        }

    @classmethod
    def from_qiskit(cls, quantum_circuit: Any) -> Circuit:
        """A Qiskit ``QuantumCircuit`` in IonQ's gates (Qiskit's transpiler decomposes the
        rest); its final measurements become the readout, so results are keyed by its
        classical bits. Needs ``ionq-async[qiskit]``.

        A circuit with mid-circuit measurement or classical control is no Circuit: it is
        an OpenQASM 3 job, which :func:`ionq_async.from_qiskit` gives (or pass the
        ``QuantumCircuit`` to ``run`` as it is); here it is a CircuitError saying so.
        """
        return _only_a_circuit(_interop().from_qiskit(quantum_circuit), "from_qiskit")

    @classmethod
    def from_cirq(cls, circuit: Any) -> Circuit:
        """A ``cirq.Circuit`` with its qubits numbered in sorted order; its measurement keys
        become the readout (``result.per_key()``). Needs ``ionq-async[cirq]``.

        Classical control makes it an OpenQASM 3 job (see :meth:`from_qiskit`).
        """
        return _only_a_circuit(_interop().from_cirq(circuit), "from_cirq")

    @classmethod
    def from_qasm(cls, text: str) -> Circuit:
        """An OpenQASM 2.0 or 3 program parsed into IonQ's gates (``ionq-async[qasm]`` for
        OpenQASM 3). A program IonQ must run as OpenQASM 3 (mid-circuit measurement) is a
        CircuitError here: :func:`ionq_async.from_qasm` gives it as a ``Qasm3Program``.
        """
        return _only_a_circuit(_interop().from_qasm(text), "from_qasm")

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, gateset_default: GateSet = "qis") -> Circuit:
        """Read and validate the API's ``input`` form, as IonQ, qiskit and cirq write it.

        Accepts ``target``/``targets``, ``control``/``controls``, the ``not``/``cnot``
        aliases, qiskit's names (``sdg``, ``sx``, ``rxx``, ...), ``z`` with ``rotation``
        (the phase gate), and cirq's native ``zz`` with ``phase`` for ``angle``. Keys a
        gate does not use are ignored. Raises CircuitError naming the gate position; an
        unknown gate name gets the closest valid names and the list of them.
        """
        if not isinstance(data, Mapping):
            raise CircuitError(f"circuit input must be a JSON object, got {_kind(data)}")
        if "circuits" in data:
            if "circuit" in data:
                raise CircuitError("input has both 'circuit' and 'circuits'; send one")
            raise CircuitError(
                "input has 'circuits': a multi-circuit input, read it with circuits_from_multi_json"
            )
        return _circuit_from_entry(
            data,
            gateset=_check_gateset(data.get("gateset") or gateset_default),
            qubits=data.get("qubits"),
        )


def _as_list(value: object) -> list[Any]:
    if isinstance(value, list | tuple | range):
        return list(value)
    return [value]


def _after_measurement(gate: Gate, measured: frozenset[int]) -> str:
    qubit = min(measured.intersection(gate.qubits))
    return (
        f"{gate.gate} acts on qubit {qubit} after its measurement; measurements here are "
        "final (the API measures every qubit at the end). Mid-circuit measurement goes as "
        "OpenQASM 3: send a Qasm3Program, or a Qiskit/Cirq circuit, which converts to one"
    )


def _unknown_parameters(unknown: Iterable[str], known: frozenset[str]) -> str:
    names = sorted(unknown)
    first = names[0]
    listed = ", ".join(sorted(known)) if known else "none (the circuit has no parameters)"
    noun = "parameter" if len(names) == 1 else "parameters"
    return (
        f"bind: no {noun} named {', '.join(repr(n) for n in names)} in this circuit"
        f"{_did_you_mean(first, known)}; its parameters: {listed}"
    )


# A parametric gate's binder: its position, its fields, the scalar fields holding an
# expression, and the sequence fields (phases, coefficients) holding one.
_Binder = tuple[
    int,
    dict[str, Any],
    tuple[tuple[str, ParameterExpression], ...],
    tuple[tuple[str, tuple[ParameterValue, ...]], ...],
]
_SCALAR_FIELDS: Final = ("rotation", "phase", "angle", "time")
_SEQUENCE_FIELDS: Final = ("phases", "coefficients")


def _binder(position: int, gate: Gate) -> _Binder:
    fields = {field.name: getattr(gate, field.name) for field in attrs.fields(Gate)}
    scalars = tuple(
        (name, fields[name])
        for name in _SCALAR_FIELDS
        if isinstance(fields[name], ParameterExpression)
    )
    sequences = tuple(
        (name, fields[name])
        for name in _SEQUENCE_FIELDS
        if fields[name] is not None
        and any(isinstance(item, ParameterExpression) for item in fields[name])
    )
    return position, fields, scalars, sequences


def _expressions(gate: Gate) -> list[ParameterExpression]:
    values = [gate.rotation, gate.phase, gate.angle, gate.time]
    values += [*(gate.phases or ()), *(gate.coefficients or ())]
    return [value for value in values if isinstance(value, ParameterExpression)]


def _bind_value(value: Any, values: Mapping[str, float]) -> Any:
    if isinstance(value, ParameterExpression):
        return value.bind(values)
    return value


def _bind_gate(gate: Gate, values: Mapping[str, float]) -> Gate:
    """The gate with the given parameter values put into its numeric fields."""
    phases, coefficients = gate.phases, gate.coefficients
    return Gate(
        gate=gate.gate,
        targets=gate.targets,
        controls=gate.controls,
        rotation=_bind_value(gate.rotation, values),
        phase=_bind_value(gate.phase, values),
        phases=None if phases is None else tuple(_bind_value(v, values) for v in phases),
        angle=_bind_value(gate.angle, values),
        terms=gate.terms,
        coefficients=(
            None if coefficients is None else tuple(_bind_value(v, values) for v in coefficients)
        ),
        time=_bind_value(gate.time, values),
    )


# Every builder method that adds a gate (or a no-op of Qiskit's), for "did you mean".
_BUILDER_METHODS: Final = tuple(
    sorted(
        {*_QIS_SINGLE, *_QIS_ROTATIONS, "phase", "cnot", "swap", "xx", "yy", "zz", "pauliexp"}
        | {"gpi", "gpi2", "ms", "nop", "native_zz", "measure", "measure_all", "barrier"}
        | BUILDER_ALIASES.keys()
    )
)


def _missing_method(name: str) -> str:
    problem = f"Circuit has no method {name!r}"
    lowered = name.lower()
    if lowered in _FOREIGN_HINTS:
        problem += f": {_FOREIGN_HINTS[lowered]}"
    elif lowered in _NEEDS_DECOMPOSITION:
        problem += (
            f": Qiskit's {lowered} is not an IonQ gate; build the circuit in Qiskit and pass "
            "the QuantumCircuit (Circuit.from_qiskit, or submit/run directly), which "
            "decomposes it into IonQ's gates"
        )
    else:
        problem += _did_you_mean(lowered, _BUILDER_METHODS)
    return f"{problem}; the gate methods are {', '.join(_BUILDER_METHODS)}"


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _circuit_from_entry(entry: Mapping[str, Any], *, gateset: GateSet, qubits: object) -> Circuit:
    if "circuit" not in entry:
        raise CircuitError("input has no 'circuit' list of gates")
    raw_gates = entry["circuit"]
    if not isinstance(raw_gates, list | tuple):
        raise CircuitError(f"'circuit' must be a list of gates, got {_kind(raw_gates)}")
    circuit = Circuit(
        qubits=_check_qubits(qubits), gateset=gateset, name=_check_name(entry.get("name"))
    )
    for position, raw in enumerate(raw_gates):
        gate = _parse_gate(raw, gateset, position)
        problem = _gate_problem(gate, gateset, circuit.qubits)
        if problem:
            raise CircuitError(problem, position=position)
        # Already canonical and checked: append without repeating the work of add().
        circuit._gates.append(gate)
        circuit._max_index = max(circuit._max_index, *gate.targets, *gate.controls)
    return circuit


# ---------------------------------------------------------------------------------------
# Reading one gate object of the API's JSON.


def _read_index(value: object, field: str, name: str, position: int) -> int:
    if isinstance(value, float) and value.is_integer():
        # The API's schema types indices as numbers; 1.0 means qubit 1.
        return int(value)
    if not _is_int(value):
        raise CircuitError(
            f"{name}: qubit index in {field!r} must be an integer, got {value!r}",
            position=position,
        )
    return cast(int, value)


def _read_indices(
    raw: Mapping[str, Any], single: str, plural: str, name: str, position: int
) -> tuple[int, ...] | None:
    has_single, has_plural = single in raw, plural in raw
    if has_single and has_plural:
        raise CircuitError(f"{name}: give {single!r} or {plural!r}, not both", position=position)
    if has_single:
        return (_read_index(raw[single], single, name, position),)
    if has_plural:
        values = raw[plural]
        if not isinstance(values, list | tuple):
            raise CircuitError(
                f"{name}: {plural!r} must be a list of qubit indices, got {_kind(values)}",
                position=position,
            )
        return tuple(_read_index(v, plural, name, position) for v in values)
    return None


def _read_real(raw: Mapping[str, Any], field: str, name: str, position: int) -> float | None:
    value = raw.get(field)
    if value is None:
        return None
    if not _is_real(value):
        raise CircuitError(f"{name}: {field} must be a number, got {value!r}", position=position)
    return float(value)


def _read_reals(
    raw: Mapping[str, Any], field: str, name: str, position: int
) -> tuple[float, ...] | None:
    values = raw.get(field)
    if values is None:
        return None
    if not isinstance(values, list | tuple):
        raise CircuitError(
            f"{name}: {field} must be a list of numbers, got {_kind(values)}", position=position
        )
    out = []
    for value in values:
        if not _is_real(value):
            raise CircuitError(
                f"{name}: {field} must hold numbers, got {value!r}", position=position
            )
        out.append(float(value))
    return tuple(out)


def _parse_gate(raw: object, gateset: GateSet, position: int) -> Gate:
    if not isinstance(raw, Mapping):
        raise CircuitError(f"a gate must be a JSON object, got {_kind(raw)}", position=position)
    name = raw.get("gate")
    if name is None:
        raise CircuitError("gate object has no 'gate' name", position=position)
    if not isinstance(name, str):
        raise CircuitError(f"gate name must be a string, got {name!r}", position=position)
    spelled = name
    if gateset == "qis":
        name = QIS_ALIASES.get(name, name)
    if name not in (QIS_GATES if gateset == "qis" else NATIVE_GATES):
        # _gate_problem explains unknown and other-gateset names.
        return Gate(gate=name, targets=())

    targets = _read_indices(raw, "target", "targets", name, position)
    if targets is None:
        raise CircuitError(f"{name} needs 'target' or 'targets'", position=position)
    controls = _read_indices(raw, "control", "controls", name, position) or ()
    if spelled == "cnot" and not controls:
        raise CircuitError("cnot needs 'control' or 'controls'", position=position)

    uses = _allowed_parameters(gateset, name)
    rotation = _read_real(raw, "rotation", name, position) if "rotation" in uses else None
    phase = _read_real(raw, "phase", name, position) if "phase" in uses else None
    phases = _read_reals(raw, "phases", name, position) if "phases" in uses else None
    angle = None
    if "angle" in uses:
        angle = _read_real(raw, "angle", name, position)
        if angle is None and name == "zz":
            # cirq-ionq writes the native ZZ's angle as "phase".
            angle = _read_real(raw, "phase", name, position)
        if angle is None and name == "ms":
            angle = _MS_DEFAULT_ANGLE
    terms: tuple[str, ...] | None = None
    coefficients = time = None
    if name == "pauliexp":
        raw_terms = raw.get("terms")
        if raw_terms is not None:
            if not isinstance(raw_terms, list | tuple):
                raise CircuitError(
                    f"pauliexp: terms must be a list of strings, got {_kind(raw_terms)}",
                    position=position,
                )
            terms = tuple(raw_terms)
        coefficients = _read_reals(raw, "coefficients", name, position)
        time = _read_real(raw, "time", name, position)
    return Gate(
        gate=name,
        targets=targets,
        controls=controls,
        rotation=rotation,
        phase=phase,
        phases=phases,
        angle=angle,
        terms=terms,
        coefficients=coefficients,
        time=time,
    )


# ---------------------------------------------------------------------------------------
# Multi-circuit inputs (ionq.multi-circuit.v1).


def multi_circuit_json(circuits: Sequence[Circuit]) -> dict[str, Any]:
    """The ``input`` of an ``ionq.multi-circuit.v1`` job for these circuits, in order.

    The parent ``gateset`` is the first circuit's; a circuit of the other gateset carries
    its own. Each circuit carries its ``qubits`` and, when set, its ``name``. Raises
    CircuitError (with ``circuit`` set) for an invalid circuit or when the job would
    exceed 5,000 circuits or 150,000 gates.
    """
    circuits = list(circuits)
    if not circuits:
        raise CircuitError("a multi-circuit input needs at least one circuit")
    for index, circuit in enumerate(circuits):
        if not isinstance(circuit, Circuit):
            raise CircuitError(f"expected a Circuit, got {_kind(circuit)}", circuit=index)
    _check_job_limits(len(circuits), sum(len(c) for c in circuits))
    parent: GateSet = circuits[0].gateset
    entries = []
    for index, circuit in enumerate(circuits):
        try:
            circuit.validate()
        except CircuitError as error:
            raise CircuitError(error.problem, position=error.position, circuit=index) from None
        entry: dict[str, Any] = {}
        if circuit.name is not None:
            entry["name"] = circuit.name
        if circuit.gateset != parent:
            entry["gateset"] = circuit.gateset
        entry["qubits"] = circuit.num_qubits
        entry["circuit"] = [gate.to_json() for gate in circuit.gates]
        entries.append(entry)
    return {
        "gateset": parent,
        "qubits": max(circuit.num_qubits for circuit in circuits),
        "circuits": entries,
    }


def circuits_from_multi_json(
    data: Mapping[str, Any], *, gateset_default: GateSet = "qis"
) -> list[Circuit]:
    """Read and validate an ``ionq.multi-circuit.v1`` input into circuits, in order.

    Each circuit's ``gateset`` and ``qubits`` override the parent's. Raises CircuitError
    with ``circuit`` (and ``position`` for a bad gate) set.
    """
    if not isinstance(data, Mapping):
        raise CircuitError(f"multi-circuit input must be a JSON object, got {_kind(data)}")
    if "circuit" in data and "circuits" in data:
        raise CircuitError("input has both 'circuit' and 'circuits'; send one")
    if "circuits" not in data:
        raise CircuitError("multi-circuit input has no 'circuits' list")
    entries = data["circuits"]
    if not isinstance(entries, list | tuple):
        raise CircuitError(f"'circuits' must be a list, got {_kind(entries)}")
    if not entries:
        raise CircuitError("'circuits' is empty; send at least one circuit")
    parent_gateset = _check_gateset(data.get("gateset") or gateset_default)
    parent_qubits = _check_qubits(data.get("qubits"))
    total_gates = sum(
        len(e["circuit"])
        for e in entries
        if isinstance(e, Mapping) and isinstance(e.get("circuit"), list | tuple)
    )
    _check_job_limits(len(entries), total_gates)
    circuits = []
    for index, entry in enumerate(entries):
        try:
            if not isinstance(entry, Mapping):
                raise CircuitError(f"a circuit must be a JSON object, got {_kind(entry)}")
            gateset = _check_gateset(entry.get("gateset") or parent_gateset)
            qubits = entry.get("qubits")
            circuits.append(
                _circuit_from_entry(
                    entry, gateset=gateset, qubits=parent_qubits if qubits is None else qubits
                )
            )
        except CircuitError as error:
            raise CircuitError(error.problem, position=error.position, circuit=index) from None
    return circuits


def _check_job_limits(circuit_count: int, gate_count: int) -> None:
    if circuit_count > MAX_CIRCUITS_PER_JOB:
        raise CircuitError(
            f"{circuit_count} circuits in one job; at most {MAX_CIRCUITS_PER_JOB} are allowed"
        )
    if gate_count > MAX_GATES_PER_JOB:
        raise CircuitError(
            f"{gate_count} gates in one job; at most {MAX_GATES_PER_JOB} are allowed"
        )


def _interop() -> Any:
    # The converters build Circuits, so they import this module; the classmethods that
    # reach them import the converters only when called (pyproject's import contracts
    # allow exactly this one edge).
    from . import interop

    return interop


def _only_a_circuit(converted: object, method: str) -> Circuit:
    if isinstance(converted, Circuit):
        return converted
    raise CircuitError(
        f"Circuit.{method}: this circuit runs as an OpenQASM 3 job (mid-circuit "
        "measurement or reset, or a branch that cannot be deferred), not as a Circuit; "
        f"use ionq_async.{method}(...), "
        "which gives that program, or pass the circuit to run()/submit() as it is"
    )
