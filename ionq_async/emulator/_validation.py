"""Checking a ``POST /jobs`` body: 400s that name the field, then backend-level failures.

Two levels, as the API has them:

- the *schema*: wrong types, missing fields, unknown gates, out-of-range qubits, shots
  outside 1..1,000,000, too many circuits or gates in a multi-circuit job. These answer
  400 with ``validation.keys`` naming the field path (``input.circuit[3].rotation``).
- the *backend*: a valid request the chosen backend cannot run (a gate of the other
  gateset or one the machine lacks, too many controls, qubits or shots). The job is
  created and then fails with a failure code such as ``UnsupportedGate``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import attrs
from attrs import frozen

from ionq_async._limits import (
    CIRCUIT_TYPE,
    DEFAULT_SHOTS,
    INT32_MAX,
    JOB_TYPES,
    MAX_METADATA_KEY_CHARS,
    MAX_METADATA_VALUE_CHARS,
    MAX_SHOTS,
    MIN_DEBIASING_SHOTS,
    MULTI_CIRCUIT_TYPE,
    OTHER_JOB_TYPES,
    QASM3_TYPE,
)
from ionq_async.circuits import (
    MAX_CIRCUITS_PER_JOB,
    MAX_CONTROLS,
    MAX_GATES_PER_JOB,
    NATIVE_GATES,
    QIS_ALIASES,
    Circuit,
)
from ionq_async.exceptions import CircuitError

from ._backends import BACKENDS, BackendSpec
from .qasm3 import Program, ProgramError, read_program

__all__ = [
    "BadRequest",
    "CircuitSpec",
    "JobRequest",
    "parse_job_request",
]

NOISE_MODELS: Final = frozenset(
    {
        "ideal",
        "harmony",
        "harmony-1",
        "harmony-2",
        "aria-1",
        "aria-2",
        "forte-1",
        "forte-enterprise-1",
    }
)

_QIS_ONE_QUBIT: Final = frozenset(
    {"x", "y", "z", "h", "s", "si", "t", "ti", "v", "vi", "rx", "ry", "rz"}
)
_QIS_TWO_QUBIT: Final = frozenset({"swap", "xx", "yy", "zz"})
_QIS: Final = _QIS_ONE_QUBIT | _QIS_TWO_QUBIT | {"pauliexp"}
# One table of names for client and emulator alike (``nop``: the identity).
_NATIVE: Final = NATIVE_GATES
_QIS_ALIASES: Final = QIS_ALIASES
_NEEDS_ROTATION: Final = frozenset({"rx", "ry", "rz", "xx", "yy", "zz"})
_MS_MAX_ANGLE: Final = 0.25


class BadRequest(Exception):
    """A request the API answers with 400; ``keys`` name the offending fields."""

    def __init__(self, key: str | None, problem: str, *, source: str = "body") -> None:
        self.keys = [key] if key else []
        self.source = source
        self.message = f'"{key}" was invalid: {problem}.' if key else problem
        super().__init__(self.message)


@frozen(kw_only=True)
class CircuitSpec:
    """One checked circuit: its width and gate counts (and the parsed circuit if it runs).

    An OpenQASM 3 program without mid-circuit measurement runs as its ``circuit``; one
    with mid-circuit measurement or reset runs as its ``program``.
    """

    qubits: int
    one_qubit_gates: int
    two_qubit_gates: int
    name: str | None = None
    circuit: Circuit | None = None
    program: Program | None = None
    failure: tuple[str, str] | None = None
    source: str | None = None
    """An OpenQASM 3 job's program text, as sent."""
    registers: tuple[tuple[str, tuple[int, ...]], ...] = ()
    """The circuit's named registers (``input.registers``: name -> qubits), in order."""

    @property
    def runnable(self) -> bool:
        """True when there is something to simulate."""
        return self.circuit is not None or self.program is not None


@frozen(kw_only=True)
class JobRequest:
    """A job creation request that passed the schema.

    ``failure`` is set when the whole job cannot run (and, for a single circuit, when its
    circuit cannot); each circuit's own backend failure is on its spec.
    """

    type: str
    backend: BackendSpec
    name: str | None
    shots: int
    noise_model: str | None
    noise_seed: int | None
    settings: dict[str, Any]
    metadata: dict[str, str] | None
    dry_run: bool
    session_id: str | None
    circuits: tuple[CircuitSpec, ...]
    failure: tuple[str, str] | None = None

    @property
    def qubits(self) -> int:
        """The widest circuit's width."""
        return max(spec.qubits for spec in self.circuits)


@frozen(kw_only=True)
class _GateInfo:
    name: str
    family: str  # "qis" or "native": whose rules the gate was read by
    targets: tuple[int, ...]
    controls: tuple[int, ...]


# ------------------------------------------------------------------------ small readers


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "number" if isinstance(value, int | float) else type(value).__name__
    )


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _number(raw: Mapping[str, Any], key: str, path: str, *, required: bool) -> float | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise BadRequest(f"{path}.{key}", "is required")
        return None
    if not _is_number(value):
        raise BadRequest(f"{path}.{key}", f"must be a finite number, got {_kind(value)}")
    return float(value)


def _index(value: object, path: str, declared: int | None) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(path, f"must be a qubit index (an integer), got {_kind(value)}")
    if value < 0:
        raise BadRequest(path, "must not be negative")
    if declared is not None and value >= declared:
        raise BadRequest(path, f"qubit {value} is out of range for {declared} qubits")
    return value


def _indices(
    raw: Mapping[str, Any], single: str, plural: str, path: str, declared: int | None
) -> tuple[int, ...] | None:
    if single in raw and plural in raw:
        raise BadRequest(f"{path}.{plural}", f"give {single} or {plural}, not both")
    if single in raw:
        return (_index(raw[single], f"{path}.{single}", declared),)
    if plural in raw:
        values = raw[plural]
        if not isinstance(values, list):
            raise BadRequest(f"{path}.{plural}", f"must be an array, got {_kind(values)}")
        return tuple(
            _index(value, f"{path}.{plural}[{i}]", declared) for i, value in enumerate(values)
        )
    return None


def _positive_int(value: object, path: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequest(path, "must be a positive integer")
    return value


# --------------------------------------------------------------------------- gates


def _check_gate(raw: object, path: str, gateset: str, declared: int | None) -> _GateInfo:
    if not isinstance(raw, dict):
        raise BadRequest(path, f"a gate must be an object, got {_kind(raw)}")
    spelled = raw.get("gate")
    if not isinstance(spelled, str):
        raise BadRequest(f"{path}.gate", f"must be a gate name, got {_kind(spelled)}")
    qis_name = _QIS_ALIASES.get(spelled, spelled)
    if gateset == "native" and spelled in _NATIVE:
        name, family = spelled, "native"
    elif qis_name in _QIS:
        name, family = qis_name, "qis"
    elif spelled in _NATIVE:
        name, family = spelled, "native"
    else:
        raise BadRequest(f"{path}.gate", f"unknown gate {spelled!r}")

    targets = _indices(raw, "target", "targets", path, declared)
    if targets is None:
        raise BadRequest(f"{path}.targets", "is required")
    controls = _indices(raw, "control", "controls", path, declared) or ()
    if spelled == "cnot" and not controls:
        raise BadRequest(f"{path}.controls", "cnot needs a control")

    if name == "pauliexp":
        wanted = None
    elif (family == "qis" and name in _QIS_TWO_QUBIT) or (
        family == "native" and name in ("ms", "zz")
    ):
        wanted = 2
    else:
        wanted = 1
    if wanted is not None and len(targets) != wanted:
        raise BadRequest(f"{path}.targets", f"{name} takes {wanted} target(s), got {len(targets)}")
    if not targets:
        raise BadRequest(f"{path}.targets", "must not be empty")
    if len(set(targets + controls)) != len(targets) + len(controls):
        raise BadRequest(f"{path}.targets", "a qubit appears more than once in the gate")
    if family == "native" and controls:
        raise BadRequest(f"{path}.controls", "native gates cannot be controlled")

    if family == "native":
        _check_native_parameters(raw, name, path)
    elif name == "pauliexp":
        _check_pauliexp(raw, path, len(targets))
    else:
        _number(raw, "rotation", path, required=name in _NEEDS_ROTATION)
    return _GateInfo(name=name, family=family, targets=targets, controls=controls)


def _check_native_parameters(raw: Mapping[str, Any], name: str, path: str) -> None:
    if name == "nop":
        return
    if name in ("gpi", "gpi2"):
        _number(raw, "phase", path, required=True)
    elif name == "zz":
        # cirq-ionq writes the native ZZ's angle as "phase".
        if raw.get("angle") is None:
            _number(raw, "phase", path, required=True)
        else:
            _number(raw, "angle", path, required=True)
    else:  # ms
        phases = raw.get("phases")
        if phases is None:
            raise BadRequest(f"{path}.phases", "is required")
        if not isinstance(phases, list) or len(phases) != 2:
            raise BadRequest(f"{path}.phases", "must be an array of two numbers")
        for i, phase in enumerate(phases):
            if not _is_number(phase):
                raise BadRequest(f"{path}.phases[{i}]", "must be a finite number")
        angle = _number(raw, "angle", path, required=False)
        if angle is not None and not 0.0 <= angle <= _MS_MAX_ANGLE:
            raise BadRequest(f"{path}.angle", "must be between 0 and 0.25 turns")


def _check_pauliexp(raw: Mapping[str, Any], path: str, width: int) -> None:
    terms = raw.get("terms")
    if not isinstance(terms, list) or not terms:
        raise BadRequest(f"{path}.terms", "must be a non-empty array of Pauli strings")
    for i, term in enumerate(terms):
        if not isinstance(term, str) or len(term) != width or not set(term) <= set("IXYZ"):
            raise BadRequest(
                f"{path}.terms[{i}]", f"must be {width} letters from I, X, Y, Z (one per target)"
            )
    coefficients = raw.get("coefficients")
    if not isinstance(coefficients, list) or len(coefficients) != len(terms):
        raise BadRequest(f"{path}.coefficients", "must be an array of one number per term")
    for i, coefficient in enumerate(coefficients):
        if not _is_number(coefficient):
            raise BadRequest(f"{path}.coefficients[{i}]", "must be a finite real number")
    _number(raw, "time", path, required=True)


def _backend_problem(
    info: _GateInfo, gateset: str, backend: BackendSpec, path: str
) -> tuple[str, str] | None:
    """Why this backend cannot run a schema-valid gate, as (failure code, message)."""
    if info.family != gateset:
        return (
            "UnsupportedGate",
            f"{path}: gate {info.name!r} is not in the {gateset} gateset",
        )
    if info.family == "native" and info.name != "nop" and info.name not in backend.native_gates:
        return ("UnsupportedGate", f"{path}: {backend.name} does not support native {info.name!r}")
    if info.name == "swap" and info.controls:
        return ("UnsupportedGate", f"{path}: swap cannot be controlled")
    if len(info.controls) > MAX_CONTROLS:
        return (
            "TooManyControls",
            f"{path}: {len(info.controls)} controls; at most {MAX_CONTROLS} are allowed",
        )
    return None


# ------------------------------------------------------------------------ circuits


def _check_circuit(
    entry: Mapping[str, Any],
    path: str,
    gateset: str,
    declared: int | None,
    backend: BackendSpec,
) -> tuple[CircuitSpec, tuple[str, str] | None, int]:
    """Check one circuit's gates; returns its spec, a backend failure (if any), gate count."""
    gates = entry.get("circuit")
    if gates is None:
        raise BadRequest(f"{path}.circuit", "is required")
    if not isinstance(gates, list):
        raise BadRequest(f"{path}.circuit", f"must be an array of gates, got {_kind(gates)}")
    one = two = 0
    widest = -1
    failure: tuple[str, str] | None = None
    for position, raw in enumerate(gates):
        gate_path = f"{path}.circuit[{position}]"
        info = _check_gate(raw, gate_path, gateset, declared)
        if len(info.targets) + len(info.controls) == 1:
            one += 1
        else:
            two += 1
        widest = max(widest, *info.targets, *info.controls)
        if failure is None:
            failure = _backend_problem(info, gateset, backend, gate_path)
    if declared is None and widest < 0:
        raise BadRequest(f"{path}.qubits", "is required for a circuit without gates")
    qubits = declared if declared is not None else widest + 1
    name = entry.get("name")
    if name is not None and not isinstance(name, str):
        raise BadRequest(f"{path}.name", "must be a string")
    spec = CircuitSpec(qubits=qubits, one_qubit_gates=one, two_qubit_gates=two, name=name)
    return spec, failure, len(gates)


def _gateset(value: object, path: str, default: str) -> str:
    if value is None:
        return default
    if value not in ("qis", "native"):
        raise BadRequest(path, "must be 'qis' or 'native'")
    return str(value)


def _declared_qubits(value: object, path: str) -> int | None:
    return None if value is None else _positive_int(value, path)


# ------------------------------------------------------------------------ top level


def _shots(value: object) -> int:
    if value is None:
        return DEFAULT_SHOTS
    if isinstance(value, str):
        # cirq-ionq sends shots as a string.
        text = value.strip()
        if not text.isdigit():
            raise BadRequest("shots", "must be an integer")
        value = int(text)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest("shots", f"must be an integer, got {_kind(value)}")
    if not 1 <= value <= MAX_SHOTS:
        raise BadRequest("shots", f"must be between 1 and {MAX_SHOTS}")
    return value


def _bool(value: object, key: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise BadRequest(key, f"must be a boolean, got {_kind(value)}")


def _metadata(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest("metadata", f"must be an object, got {_kind(value)}")
    for key, item in value.items():
        if len(key) > MAX_METADATA_KEY_CHARS:
            raise BadRequest(
                f"metadata.{key}", f"keys are limited to {MAX_METADATA_KEY_CHARS} characters"
            )
        if not isinstance(item, str):
            raise BadRequest(f"metadata.{key}", f"values must be strings, got {_kind(item)}")
        if len(item) > MAX_METADATA_VALUE_CHARS:
            raise BadRequest(
                f"metadata.{key}", f"values are limited to {MAX_METADATA_VALUE_CHARS} characters"
            )
    return dict(value)


def _noise(value: object, backend: BackendSpec) -> tuple[str | None, int | None]:
    if value is None:
        return ("ideal", None) if backend.is_simulator else (None, None)
    if not isinstance(value, dict):
        raise BadRequest("noise", f"must be an object, got {_kind(value)}")
    model = value.get("model", "ideal")
    if model is None:
        model = "ideal"
    if model not in NOISE_MODELS:
        raise BadRequest("noise.model", f"must be one of {', '.join(sorted(NOISE_MODELS))}")
    seed = value.get("seed")
    if seed is not None:
        if isinstance(seed, float) and seed.is_integer():
            seed = int(seed)
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= INT32_MAX:
            raise BadRequest("noise.seed", "must be a non-negative 32-bit integer")
    if not backend.is_simulator:
        # Noise models are for the simulator; a QPU is noisy in its own way.
        return None, None
    return str(model), seed


def _settings(value: object, shots: int) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest("settings", f"must be an object, got {_kind(value)}")
    mitigation = value.get("error_mitigation")
    if mitigation is not None:
        if not isinstance(mitigation, dict):
            raise BadRequest("settings.error_mitigation", "must be an object")
        debiasing = mitigation.get("debiasing")
        if debiasing is not None and not isinstance(debiasing, bool | dict):
            raise BadRequest(
                "settings.error_mitigation.debiasing", "must be a boolean or an object"
            )
        if debiasing and shots < MIN_DEBIASING_SHOTS:
            raise BadRequest(
                "settings.error_mitigation.debiasing",
                f"debiasing needs at least {MIN_DEBIASING_SHOTS} shots",
            )
    compilation = value.get("compilation")
    if compilation is not None and not isinstance(compilation, dict):
        raise BadRequest("settings.compilation", "must be an object")
    return dict(value)


def _width_failure(qubits: int, backend: BackendSpec, where: str) -> tuple[str, str] | None:
    if qubits > backend.qubits:
        return (
            "NotEnoughQubits",
            f"{where}needs {qubits} qubits; {backend.name} has {backend.qubits}",
        )
    return None


def parse_job_request(body: object, *, qpu_max_shots: int) -> JobRequest:
    """Check a decoded ``POST /jobs`` body; raise BadRequest naming the first bad field."""
    if not isinstance(body, dict):
        raise BadRequest(None, f"The request body must be a JSON object, got {_kind(body)}.")
    job_type = body.get("type")
    if job_type is None:
        raise BadRequest("type", "is required")
    if not isinstance(job_type, str):
        raise BadRequest("type", f"must be a string, got {_kind(job_type)}")
    if job_type not in JOB_TYPES and job_type != QASM3_TYPE:
        hint = " (not supported by the emulator)" if job_type in OTHER_JOB_TYPES else ""
        raise BadRequest("type", f"unknown job type {job_type!r}{hint}")
    backend_name = body.get("backend")
    if backend_name is None:
        raise BadRequest("backend", "is required")
    if not isinstance(backend_name, str) or backend_name not in BACKENDS:
        raise BadRequest("backend", f"must be one of {', '.join(BACKENDS)}")
    backend = BACKENDS[backend_name]
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise BadRequest("name", f"must be a string, got {_kind(name)}")
    shots = _shots(body.get("shots"))
    noise_model, noise_seed = _noise(body.get("noise"), backend)
    settings = _settings(body.get("settings"), shots)
    metadata = _metadata(body.get("metadata"))
    dry_run = _bool(body.get("dry_run"), "dry_run")
    session_id = body.get("session_id")
    if session_id is not None and not isinstance(session_id, str):
        raise BadRequest("session_id", "must be a string")

    data = body.get("input")
    if data is None:
        raise BadRequest("input", "is required")
    if not isinstance(data, dict):
        raise BadRequest("input", f"must be an object, got {_kind(data)}")
    if job_type == QASM3_TYPE:
        gateset = "qis"
        declared = None
    else:
        gateset = _gateset(data.get("gateset"), "input.gateset", "qis")
        declared = _declared_qubits(data.get("qubits"), "input.qubits")

    specs: list[CircuitSpec] = []
    if job_type == QASM3_TYPE:
        spec = _qasm3_spec(data, backend)
        specs.append(spec)
    elif job_type == CIRCUIT_TYPE:
        if "circuits" in data:
            raise BadRequest("input.circuits", f"is not allowed in a {CIRCUIT_TYPE} job")
        spec, problem, count = _check_circuit(data, "input", gateset, declared, backend)
        if count > MAX_GATES_PER_JOB and problem is None:
            problem = ("TooManyGates", f"{count} gates; at most {MAX_GATES_PER_JOB} are allowed")
        problem = problem or _width_failure(spec.qubits, backend, "the circuit ")
        spec = _runnable(spec, problem, {**data, "gateset": gateset}, "input")
        specs.append(_with_registers(spec, data.get("registers"), "input.registers"))
    else:
        if "circuit" in data:
            raise BadRequest("input.circuit", f"is not allowed in a {MULTI_CIRCUIT_TYPE} job")
        entries = data.get("circuits")
        if entries is None:
            raise BadRequest("input.circuits", "is required")
        if not isinstance(entries, list) or not entries:
            raise BadRequest("input.circuits", "must be a non-empty array of circuits")
        if len(entries) > MAX_CIRCUITS_PER_JOB:
            raise BadRequest(
                "input.circuits", f"holds {len(entries)} circuits; at most {MAX_CIRCUITS_PER_JOB}"
            )
        total = sum(
            len(e["circuit"])
            for e in entries
            if isinstance(e, dict) and isinstance(e.get("circuit"), list)
        )
        if total > MAX_GATES_PER_JOB:
            raise BadRequest(
                "input.circuits", f"holds {total} gates in total; at most {MAX_GATES_PER_JOB}"
            )
        checked = []
        for index, entry in enumerate(entries):
            path = f"input.circuits[{index}]"
            if not isinstance(entry, dict):
                raise BadRequest(path, f"a circuit must be an object, got {_kind(entry)}")
            own_gateset = _gateset(entry.get("gateset"), f"{path}.gateset", gateset)
            own_declared = _declared_qubits(entry.get("qubits"), f"{path}.qubits")
            qubits = own_declared if own_declared is not None else declared
            spec, problem, _ = _check_circuit(entry, path, own_gateset, qubits, backend)
            problem = problem or _width_failure(spec.qubits, backend, f"{path} ")
            single = {"gateset": own_gateset, "qubits": qubits, "circuit": entry["circuit"]}
            checked.append((spec, problem, single, path))
        # Every circuit passed the schema before any is built, so a 400 never follows work.
        specs = [
            _with_registers(_runnable(spec, problem, single, path), entry.get("registers"), path)
            for (spec, problem, single, path), entry in zip(checked, entries, strict=True)
        ]

    # A circuit the backend cannot run fails on its own (its child job, in a multi-circuit
    # job); too many shots fails the whole job.
    failure: tuple[str, str] | None = None
    if backend.is_qpu and shots > qpu_max_shots:
        failure = ("TooManyShots", f"{shots} shots; {backend.name} runs at most {qpu_max_shots}")
    elif job_type in (CIRCUIT_TYPE, QASM3_TYPE):
        failure = specs[0].failure
    return JobRequest(
        type=job_type,
        backend=backend,
        name=name,
        shots=shots,
        noise_model=noise_model,
        noise_seed=noise_seed,
        settings=settings,
        metadata=metadata,
        dry_run=dry_run,
        session_id=session_id,
        circuits=tuple(specs),
        failure=failure,
    )


_SYSTEM_REGISTER: Final = "output_all"


def _with_registers(spec: CircuitSpec, value: object, path: str) -> CircuitSpec:
    """The spec with its named registers (``{name: [qubit, ...]}``), checked."""
    if value is None:
        return spec
    if path.startswith("input.circuits["):
        path = f"{path}.registers"
    if not isinstance(value, dict):
        raise BadRequest(path, f"must be an object of qubit lists, got {_kind(value)}")
    registers: list[tuple[str, tuple[int, ...]]] = []
    for name, qubits in value.items():
        where = f"{path}.{name}"
        if not name or name == _SYSTEM_REGISTER:
            raise BadRequest(where, f"{name!r} is not a register name the circuit may declare")
        if not isinstance(qubits, list) or not qubits:
            raise BadRequest(where, "must be a non-empty array of qubit indices")
        if any(not isinstance(q, int) or isinstance(q, bool) for q in qubits):
            raise BadRequest(where, "must hold qubit indices (integers)")
        if len(set(qubits)) != len(qubits):
            raise BadRequest(where, "lists a qubit twice")
        outside = [q for q in qubits if not 0 <= q < spec.qubits]
        if outside:
            raise BadRequest(where, f"qubit {outside[0]} is outside the circuit's {spec.qubits}")
        registers.append((name, tuple(qubits)))
    return attrs.evolve(spec, registers=tuple(registers))


def _runnable(
    spec: CircuitSpec, problem: tuple[str, str] | None, data: dict[str, Any], path: str
) -> CircuitSpec:
    """The spec with its backend failure, or with the parsed circuit when it can run."""
    if problem is not None:
        return attrs.evolve(spec, failure=problem)
    try:
        circuit = Circuit.from_json(data)
    except CircuitError as error:
        # Whatever the circuit parser still rejects is a schema error: a 400.
        if error.position is not None:
            path = f"{path}.circuit[{error.position}]"
        raise BadRequest(path, error.problem) from None
    return attrs.evolve(spec, circuit=circuit, qubits=max(spec.qubits, circuit.num_qubits))


def _qasm3_spec(data: Mapping[str, Any], backend: BackendSpec) -> CircuitSpec:
    """An ``ionq.qasm3.v1`` input (``{"data": text, "qubits"?: n}``) checked and read.

    A missing or non-text ``data`` is a 400; what the program says is judged the way the
    API's preflight does: the job is created and fails, naming the construct.
    """
    text = data.get("data")
    if text is None:
        raise BadRequest("input.data", "is required")
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("input.data", f"must be an OpenQASM 3 program as text, got {_kind(text)}")
    declared = _declared_qubits(data.get("qubits"), "input.qubits")
    try:
        program = read_program(text, declared)
    except ProgramError as error:
        failure = (error.failure_code, str(error))
        return CircuitSpec(
            qubits=declared or 1, one_qubit_gates=0, two_qubit_gates=0, failure=failure
        )
    one, two = program.gate_counts
    spec = CircuitSpec(
        qubits=program.num_qubits, one_qubit_gates=one, two_qubit_gates=two, source=text
    )
    problem = _width_failure(program.num_qubits, backend, "the program ")
    if problem is None and len(program.gates) > MAX_GATES_PER_JOB:
        problem = (
            "TooManyGates",
            f"{len(program.gates)} gates; at most {MAX_GATES_PER_JOB} are allowed",
        )
    if problem is not None:
        return attrs.evolve(spec, failure=problem)
    if not program.dynamic:
        try:
            return attrs.evolve(spec, circuit=program.circuit())
        except CircuitError:
            pass  # a gate IonQ's JSON cannot say (a controlled swap): run the program itself
    return attrs.evolve(spec, program=program)
