"""The emulator's compiled circuits: what ``GET /jobs/{id}/circuits/{lang}`` and the
``output.compilation.compiled_circuits`` artifacts serve.

The emulator's own compiled forms of the job's circuit (pure functions of its checked
circuit; the emulator still simulates the circuit as sent):

- ``native`` (format ``ionq.native.v1``, ``application/json``): ``{"qubits": n,
  "circuit": [gate, ...]}`` in IonQ's native gates. A native-gate job's own gates (``nop``
  left out); a QIS job compiled by ``transpile.py`` to ``gpi2`` and ``ms`` (the same
  distribution: exact up to a global phase and final Z rotations; not optimized as IonQ's
  compiler would). An OpenQASM 3 job without
  mid-circuit measurement is compiled from the gates it was read into. No ``native`` form
  for what ``transpile.py`` does not compile (two or more controls, controlled two-qubit
  gates, ``pauliexp``) nor for a program with mid-circuit measurement or reset.
- ``qasm3`` (format ``ionq.qasm3.v1``, ``text/plain``): OpenQASM 3. An OpenQASM 3 job's
  program text as sent; otherwise the circuit written out with ``stdgates.inc`` gates,
  ``ctrl(k) @`` for controls, and gate definitions for ``rxx``/``ryy``/``rzz`` and the
  native ``gpi``/``gpi2``/``ms``/``zz`` (angles in radians; native turns converted). No
  measurement is written: IonQ measures every qubit at the end. A circuit with
  ``pauliexp`` has no ``qasm3`` form.

A form a job does not have is not listed in its ``output`` and is a 404.
"""

from __future__ import annotations

import math
from typing import Any, Final

from ionq_async.circuits import Gate

from ._validation import CircuitSpec
from .transpile import compiles, to_native

__all__ = [
    "COMPILED_FORMATS",
    "LANGS",
    "MEDIA_TYPES",
    "has_form",
    "native_json",
    "qasm3_text",
]

LANGS: Final = ("native", "qasm3")
"""The ``lang`` values of ``GET /jobs/{id}/circuits/{lang}``."""
COMPILED_FORMATS: Final = {"native": "ionq.native.v1", "qasm3": "ionq.qasm3.v1"}
"""The circuit format identifier of each ``lang``."""
MEDIA_TYPES: Final = {"native": "application/json", "qasm3": "text/plain"}
"""The content type each ``lang`` is served with."""

_FIXED: Final = {
    "x": "x",
    "y": "y",
    "z": "z",
    "h": "h",
    "s": "s",
    "si": "sdg",
    "t": "t",
    "ti": "tdg",
    "v": "sx",
    "vi": "inv @ sx",
}
_ROTATIONS: Final = {"rx": "rx", "ry": "ry", "rz": "rz", "xx": "rxx", "yy": "ryy", "zz": "rzz"}
# exp(-iθP/2) for P = XX, YY, ZZ, and IonQ's native gates (phases and angles in radians
# here; the writer converts turns): gpi(φ) = [[0, e^-iφ], [e^iφ, 0]], gpi2(φ) =
# [[1, -ie^-iφ], [-ie^iφ, 1]]/√2, ms(φ0, φ1, θ) = exp(-iθ/2 σ(φ0)σ(φ1)).
_DEFINITIONS: Final = (
    "gate rzz(theta) a, b { cx a, b; rz(theta) b; cx a, b; }\n"
    "gate rxx(theta) a, b { h a; h b; rzz(theta) a, b; h a; h b; }\n"
    "gate ryy(theta) a, b { rx(pi/2) a; rx(pi/2) b; rzz(theta) a, b; rx(-pi/2) a; "
    "rx(-pi/2) b; }\n"
    "gate gpi(phi) a { U(pi, phi, pi - phi) a; }\n"
    "gate gpi2(phi) a { U(pi/2, phi - pi/2, pi/2 - phi) a; }\n"
    "gate ms(phi0, phi1, theta) a, b { rz(-phi0) a; rz(-phi1) b; rxx(theta) a, b; "
    "rz(phi0) a; rz(phi1) b; }\n"
)


def native_json(spec: CircuitSpec) -> dict[str, Any] | None:
    """The ``native`` form of a job's circuit, or None when it has none."""
    circuit = spec.circuit
    if circuit is None:
        return None
    gates = to_native(spec.qubits, circuit.gates, circuit.gateset)
    if gates is None:
        return None
    return {"qubits": spec.qubits, "circuit": gates}


def has_form(spec: CircuitSpec, lang: str) -> bool:
    """Whether the job's circuit has a ``lang`` form (a quick look; nothing is built)."""
    if lang == "qasm3" and spec.source is not None:
        return True
    circuit = spec.circuit
    if circuit is None:
        return False
    if lang == "native":
        return compiles(circuit.gates, circuit.gateset)
    return all(gate.gate != "pauliexp" for gate in circuit.gates)


def qasm3_text(spec: CircuitSpec) -> str | None:
    """The ``qasm3`` form of a job's circuit, or None when it has none."""
    if spec.source is not None:
        return spec.source
    circuit = spec.circuit
    if circuit is None:
        return None
    lines = []
    for gate in circuit.gates:
        statements = _statements(gate, circuit.gateset)
        if statements is None:
            return None
        lines.extend(statements)
    header = f'OPENQASM 3.0;\ninclude "stdgates.inc";\n{_DEFINITIONS}qubit[{spec.qubits}] q;\n'
    return header + "".join(line + "\n" for line in lines)


def _angle(value: object) -> str:
    return repr(float(value))  # type: ignore[arg-type]


def _turns(value: object) -> str:
    return repr(float(value) * math.tau)  # type: ignore[arg-type]


def _apply(name: str, gate: Gate, targets: tuple[int, ...]) -> str:
    modifier = f"ctrl({len(gate.controls)}) @ " if gate.controls else ""
    operands = ", ".join(f"q[{q}]" for q in (*gate.controls, *targets))
    return f"{modifier}{name} {operands};"


def _statements(gate: Gate, gateset: str) -> list[str] | None:
    """OpenQASM 3 statements for one gate (one per target of a broadcast 1-qubit gate)."""
    name = gate.gate
    if name == "nop":
        return []
    if gateset == "native":
        if name in ("gpi", "gpi2"):
            call = f"{name}({_turns(gate.phase)})"
            return [_apply(call, gate, (t,)) for t in gate.targets]
        if name == "ms":
            phases = gate.phases or (0.0, 0.0)
            angle = 0.25 if gate.angle is None else gate.angle
            call = f"ms({_turns(phases[0])}, {_turns(phases[1])}, {_turns(angle)})"
            return [_apply(call, gate, gate.targets)]
        if name == "zz":
            raw = gate.angle if gate.angle is not None else gate.phase
            return [_apply(f"rzz({_turns(raw)})", gate, gate.targets)]
        return None
    if name == "z" and gate.rotation is not None:
        call = f"p({_angle(gate.rotation)})"
        return [_apply(call, gate, (t,)) for t in gate.targets]
    if name in _FIXED:
        return [_apply(_FIXED[name], gate, (t,)) for t in gate.targets]
    if name in ("rx", "ry", "rz"):
        call = f"{name}({_angle(gate.rotation)})"
        return [_apply(call, gate, (t,)) for t in gate.targets]
    if name in ("xx", "yy", "zz"):
        return [_apply(f"{_ROTATIONS[name]}({_angle(gate.rotation)})", gate, gate.targets)]
    if name == "swap":
        return [_apply("swap", gate, gate.targets)]
    return None  # pauliexp: no OpenQASM 3 form here
