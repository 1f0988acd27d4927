"""Job inputs other than IonQ's JSON circuits: an OpenQASM 3 program (``ionq.qasm3.v1``)."""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

from ._limits import QASM3_TYPE
from .exceptions import CircuitError
from .readout import Readout

__all__ = ["Qasm3Program"]


def _check_source(source: object) -> str:
    if not isinstance(source, str) or not source.strip():
        raise CircuitError("an OpenQASM 3 program must be non-empty text")
    return source


@frozen(kw_only=True)
class Qasm3Program:
    """An OpenQASM 3 program sent as it is, as an ``ionq.qasm3.v1`` job.

    Used for what IonQ's JSON circuits cannot say (mid-circuit measurement, classical
    control) and for OpenQASM 3 that IonQ runs natively. ``num_qubits`` is the width of
    its results; ``readout`` maps its classical bits to qubits when known.
    """

    source: str = field(converter=_check_source)
    num_qubits: int
    name: str | None = None
    readout: Readout | None = None

    job_type: str = QASM3_TYPE

    def to_json(self) -> dict[str, Any]:
        """The job's ``input``: ``{"data": source, "qubits": n}``."""
        return {"data": self.source, "qubits": self.num_qubits}
