"""Circuits from where users write them: Qiskit, Cirq and OpenQASM (optional extras).

Nothing here imports a framework until it is used: :func:`kind_of` recognises a foreign
circuit by its type's module (a Qiskit ``QuantumCircuit``, a ``cirq.Circuit``) or by its
text (``OPENQASM``), and :func:`convert` imports the one converter it needs. A converter
whose framework is not installed raises :class:`~ionq_async.exceptions.MissingExtraError`
naming the extra to install (``pip install "ionq-async[qiskit]"``).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Literal

from .. import _extras
from ..circuits import Circuit
from ..programs import Qasm3Program

__all__ = [
    "ForeignKind",
    "convert",
    "from_cirq",
    "from_qasm",
    "from_qiskit",
    "kind_of",
    "require",
]

ForeignKind = Literal["qiskit", "cirq", "qasm"]

_EXTRA_OF: dict[str, str] = {
    "qiskit": "qiskit",
    "cirq": "cirq",
    "openqasm3": "qasm",
}


def require(module: str) -> ModuleType:
    """Import an optional framework, or raise MissingExtraError naming the extra
    (``_extras.require``, the one lazy import of every optional dependency)."""
    top = module.split(".", 1)[0]
    return _extras.require(module, _EXTRA_OF.get(top, top))


def _type_module(obj: object) -> str:
    return type(obj).__module__ or ""


def kind_of(obj: object) -> ForeignKind | None:
    """Which converter ``obj`` needs, without importing any framework (None: not foreign)."""
    if isinstance(obj, str | bytes):
        text = obj.decode("utf-8", "replace") if isinstance(obj, bytes) else obj
        return "qasm" if _looks_like_qasm(text) else None
    module = _type_module(obj)
    if module.startswith("qiskit.") and any(
        cls.__name__ == "QuantumCircuit" for cls in type(obj).__mro__
    ):
        return "qiskit"
    if module.startswith("cirq") and any(
        cls.__name__ in ("AbstractCircuit", "Circuit", "FrozenCircuit") for cls in type(obj).__mro__
    ):
        return "cirq"
    return None


def _looks_like_qasm(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("//"):
            continue
        return stripped.startswith("OPENQASM")
    return False


def convert(obj: Any) -> Circuit | Qasm3Program:
    """A foreign circuit as ours (or as an OpenQASM 3 program); TypeError if not foreign."""
    kind = kind_of(obj)
    if kind == "qiskit":
        from .qiskit import from_qiskit

        return from_qiskit(obj)
    if kind == "cirq":
        from .cirq import from_cirq

        return from_cirq(obj)
    if kind == "qasm":
        from .qasm import from_qasm

        text = obj.decode() if isinstance(obj, bytes) else obj
        return from_qasm(text)
    raise TypeError(f"not a Qiskit, Cirq or OpenQASM circuit: {type(obj).__name__}")


def from_qiskit(quantum_circuit: Any) -> Circuit | Qasm3Program:
    """A Qiskit ``QuantumCircuit`` as ours (extra ``[qiskit]``); see :mod:`.qiskit`."""
    from .qiskit import from_qiskit as convert_qiskit

    return convert_qiskit(quantum_circuit)


def from_cirq(circuit: Any) -> Circuit | Qasm3Program:
    """A ``cirq.Circuit`` as ours (extra ``[cirq]``); see :mod:`.cirq`."""
    from .cirq import from_cirq as convert_cirq

    return convert_cirq(circuit)


def from_qasm(text: str) -> Circuit | Qasm3Program:
    """OpenQASM 2 or 3 text as ours (extra ``[qasm]``); see :mod:`.qasm`."""
    from .qasm import from_qasm as convert_qasm

    return convert_qasm(text)
