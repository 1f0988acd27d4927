"""The emulator's compiler from QIS gates to IonQ's native gates (``gpi2`` and ``ms``).

Exact up to a global phase and the Z rotations left at the end (dropped: the
measurement is in Z, so the distribution is the circuit's), and simple rather than
short: every gate becomes one-qubit unitaries around XX rotations, then

- one-qubit unitaries are merged per qubit; before an XX rotation (and at the end) the
  merged unitary ``U`` is written as ``Rz(a+b+c) GPI2(-(b+c)) GPI2(-c)`` from the ZXZXZ
  form ``U ~ Rz(a) Rx(π/2) Rz(b) Rx(π/2) Rz(c)``; the ``Rz`` is not emitted but kept as
  the qubit's frame (IonQ's "virtual Z"), which shifts the phases of later ``ms`` and
  ``gpi2`` gates and is dropped at the end (the measurement is in Z);
- ``XX(θ) = exp(-iθ/2 X⊗X)`` is ``ms`` with angle ``θ/2π`` turns (a negative angle flips
  one phase by half a turn; more than a quarter turn is two ``ms`` of half the angle);
- ``xx`` is one XX; ``yy`` and ``zz`` are XX between S or H; ``swap`` is XX·YY·ZZ of a
  quarter turn; a gate with one control is ``C-U = P(φ)_c · A CX B CX C`` (Nielsen and
  Chuang's ABC form) with ``CX = H_t CZ H_t`` and ``CZ ~ Rz(π/2)⊗Rz(π/2) · ZZ(-π/2)``.

Gates with two or more controls, controlled two-qubit gates and ``pauliexp`` are not
compiled: :func:`to_native` returns None and the job has no ``native`` compiled form.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Iterator, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ionq_async.circuits import Gate

from . import simulator

__all__ = ["compiles", "to_native"]

Matrix = npt.NDArray[np.complex128]

_TOLERANCE: Final = 1e-12
_H: Final = np.array([[1, 1], [1, -1]], dtype=np.complex128) / math.sqrt(2)
_S: Final = np.diag([1, 1j]).astype(np.complex128)
_SDG: Final = np.diag([1, -1j]).astype(np.complex128)
_X: Final = np.array([[0, 1], [1, 0]], dtype=np.complex128)


def _rz(theta: float) -> Matrix:
    return np.diag([cmath.exp(-0.5j * theta), cmath.exp(0.5j * theta)]).astype(np.complex128)


def _ry(theta: float) -> Matrix:
    c, s = math.cos(theta / 2), math.sin(theta / 2)
    return np.array([[c, -s], [s, c]], dtype=np.complex128)


def _zyz(u: Matrix) -> tuple[float, float, float, complex]:
    """(α, β, γ, phase) with ``u = phase · Rz(α) Ry(β) Rz(γ)``."""
    root = cmath.sqrt(complex(np.linalg.det(u)))
    v = u / root
    beta = 2 * math.atan2(abs(v[1, 0]), abs(v[0, 0]))
    plus = 2 * cmath.phase(v[1, 1]) if abs(v[1, 1]) > _TOLERANCE else 0.0
    minus = 2 * cmath.phase(v[1, 0]) if abs(v[1, 0]) > _TOLERANCE else 0.0
    alpha, gamma = (plus + minus) / 2, (plus - minus) / 2
    # The square root's branch can leave v = -Rz Ry Rz: fold the sign into the phase.
    candidate = _rz(alpha) @ _ry(beta) @ _rz(gamma)
    sign = 1 if np.allclose(candidate, v, atol=1e-9) else -1
    return alpha, beta, gamma, root * sign


# An item is ("u", qubit, 2x2 matrix) or ("xx", a, b, θ radians), in time order.
Item = tuple[Any, ...]


def _xx(a: int, b: int, theta: float) -> list[Item]:
    return [("xx", a, b, theta)]


def _around(a: int, b: int, before: Matrix, after: Matrix, theta: float) -> list[Item]:
    return [("u", a, before), ("u", b, before), *_xx(a, b, theta), ("u", a, after), ("u", b, after)]


def _zz(a: int, b: int, theta: float) -> list[Item]:
    return _around(a, b, _H, _H, theta)


def _cx(control: int, target: int) -> list[Item]:
    return [
        ("u", target, _H),
        *_zz(control, target, -math.pi / 2),
        ("u", control, _rz(math.pi / 2)),
        ("u", target, _rz(math.pi / 2)),
        ("u", target, _H),
    ]


def _controlled(control: int, target: int, u: Matrix) -> list[Item]:
    alpha, beta, gamma, phase = _zyz(u)
    a = _rz(alpha) @ _ry(beta / 2)
    b = _ry(-beta / 2) @ _rz(-(gamma + alpha) / 2)
    c = _rz((gamma - alpha) / 2)
    return [
        ("u", target, c),
        *_cx(control, target),
        ("u", target, b),
        *_cx(control, target),
        ("u", target, a),
        ("u", control, np.diag([1, phase]).astype(np.complex128)),
    ]


def _items(num_qubits: int, gate: Gate) -> list[Item] | None:
    """One QIS gate as items, or None if this compiler does not handle it."""
    name = gate.gate
    if name in ("xx", "yy", "zz", "swap"):
        if gate.controls or len(gate.targets) != 2:
            return None
        a, b = gate.targets
        if name == "swap":
            quarter = math.pi / 2
            return [*_xx(a, b, quarter), *_around(a, b, _SDG, _S, quarter), *_zz(a, b, quarter)]
        theta = float(gate.rotation)  # type: ignore[arg-type]
        if name == "xx":
            return _xx(a, b, theta)
        if name == "yy":
            return _around(a, b, _SDG, _S, theta)
        return _zz(a, b, theta)
    if name == "pauliexp" or len(gate.controls) > 1:
        return None
    items: list[Item] = []
    for targets, controls, matrix in simulator.gate_matrices(num_qubits, gate, "qis"):
        if len(targets) != 1:
            return None
        if controls:
            items.extend(_controlled(controls[0], targets[0], matrix))
        else:
            items.append(("u", targets[0], matrix))
    return items


def _turns(radians: float) -> float:
    value = (radians / math.tau) % 1.0
    return 0.0 if math.isclose(value, 1.0, abs_tol=1e-12) else value


class _Writer:
    """Merges one-qubit unitaries per qubit and writes native gates."""

    def __init__(self, num_qubits: int) -> None:
        self.pending: list[Matrix] = [np.eye(2, dtype=np.complex128) for _ in range(num_qubits)]
        self.frame = [0.0] * num_qubits  # Rz angle already taken out of ``pending``
        self.gates: list[dict[str, Any]] = []

    def flush(self, qubit: int) -> None:
        """Write the qubit's pending unitary as gpi2 gates, keeping its Rz as the frame."""
        u = self.pending[qubit]
        self.pending[qubit] = np.eye(2, dtype=np.complex128)
        if abs(u[1, 0]) < _TOLERANCE and abs(u[0, 1]) < _TOLERANCE:
            # Diagonal: an Rz (up to phase), folded into the frame.
            self.frame[qubit] += cmath.phase(u[1, 1]) - cmath.phase(u[0, 0])
            return
        alpha, beta, gamma, _ = _zyz(u)
        a, b, c = alpha + math.pi, beta + math.pi, gamma
        z = self.frame[qubit]
        # Rz(z) came first: GPI2(φ)·Rz(z) = Rz(z)·GPI2(φ - z).
        for phase in (-c - z, -(b + c) - z):
            self.gates.append({"gate": "gpi2", "target": qubit, "phase": _turns(phase)})
        self.frame[qubit] = z + a + b + c

    def xx(self, a: int, b: int, theta: float) -> None:
        self.flush(a)
        self.flush(b)
        theta = math.remainder(theta, math.tau)  # XX(θ + 2π) = -XX(θ): a global phase
        turns = theta / math.tau
        if abs(turns) < 1e-15:
            return
        flip = 0.5 if turns < 0 else 0.0
        turns = abs(turns)
        parts = 2 if turns > 0.25 else 1
        phases = [_turns(-self.frame[a]), (_turns(-self.frame[b]) + flip) % 1.0]
        for _ in range(parts):
            self.gates.append(
                {"gate": "ms", "targets": [a, b], "phases": phases, "angle": turns / parts}
            )

    def write(self, items: Iterator[Item]) -> None:
        for item in items:
            if item[0] == "u":
                _, qubit, matrix = item
                self.pending[qubit] = matrix @ self.pending[qubit]
            else:
                _, a, b, theta = item
                self.xx(a, b, theta)


def compiles(gates: Sequence[Gate], gateset: str) -> bool:
    """Whether :func:`to_native` compiles these gates (a quick look at names and controls)."""
    if gateset == "native":
        return True
    for gate in gates:
        if gate.gate == "pauliexp" or len(gate.controls) > 1:
            return False
        if gate.controls and gate.gate in ("xx", "yy", "zz", "swap"):
            return False
    return True


def to_native(num_qubits: int, gates: Sequence[Gate], gateset: str) -> list[dict[str, Any]] | None:
    """The circuit's gates as native gate JSON, or None if a gate is not compiled here."""
    if gateset == "native":
        return [gate.to_json() for gate in gates if gate.gate != "nop"]
    writer = _Writer(num_qubits)
    for gate in gates:
        items = _items(num_qubits, gate)
        if items is None:
            return None
        writer.write(iter(items))
    for qubit in range(num_qubits):
        writer.flush(qubit)
    return writer.gates
