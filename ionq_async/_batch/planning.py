"""A batch's plan: its circuits grouped into units (one job each) and the batch's fingerprint."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._payload import as_job_input
from ..circuits import Circuit
from ..exceptions import CircuitError, IonQError
from ..models import Job
from ..programs import Qasm3Program
from .values import PackLimits, plan_packs

__all__ = [
    "Unit",
    "as_circuit",
    "circuit_input",
    "circuit_name",
    "convert_input",
    "fingerprint",
    "input_width",
    "plan_units",
    "token_lookups",
    "unit_input",
]


class Unit:
    """One job of a batch: the circuits it carries and what is known about it."""

    __slots__ = (
        "duplicates",
        "first_at",
        "indices",
        "job",
        "job_id",
        "number",
        "resent",
        "resumed_token",
        "token",
        "token_at",
    )

    def __init__(self, number: int, indices: tuple[int, ...]) -> None:
        self.number = number
        self.indices = indices
        self.token: str | None = None
        self.token_at = 0.0
        self.first_at: float | None = None  # the first attempt's time (our epoch s)
        self.resent = False  # sent again after an ambiguous failure found nothing
        self.duplicates: list[str] = []  # late-stored jobs of the same token, canceled
        self.resumed_token = False
        self.job_id: str | None = None
        self.job: Job | None = None


def circuit_name(circuit: Any) -> str | None:
    if isinstance(circuit, Circuit):
        return circuit.name
    if isinstance(circuit, Mapping):
        name = circuit.get("name")
        return name if isinstance(name, str) else None
    return None


def circuit_input(circuit: Any) -> Any:
    if isinstance(circuit, Circuit):
        return circuit.to_json()
    return circuit


def as_circuit(circuit: Any) -> Circuit:
    if isinstance(circuit, Circuit):
        return circuit
    if isinstance(circuit, Mapping):
        return Circuit.from_json(circuit)
    if isinstance(circuit, Qasm3Program):
        raise CircuitError(
            "an OpenQASM 3 program is a job of its own (ionq.qasm3.v1): it cannot be packed"
        )
    converted = as_job_input(circuit)  # a foreign circuit's own conversion error, if any
    if converted is not circuit:
        return as_circuit(converted)
    raise CircuitError(f"expected a Circuit or an input mapping, got {type(circuit).__name__}")


def convert_input(circuit: Any) -> Any:
    """A Qiskit, Cirq or OpenQASM circuit converted once, before planning; anything else,
    or one that cannot be converted, as given (``submit()`` then raises its error, which
    becomes that circuit's outcome)."""
    try:
        return as_job_input(circuit)
    except (IonQError, TypeError, ValueError):
        return circuit


def input_width(circuit: Any) -> int:
    """The qubit count of a circuit as sent (an OpenQASM 3 program's declared width)."""
    if isinstance(circuit, Qasm3Program):
        return circuit.num_qubits
    return as_circuit(circuit).num_qubits


def fingerprint(inputs: Sequence[Any], options: Mapping[str, Any], units: Sequence[Unit]) -> str:
    """A hash naming the batch: its circuits, options and grouping into jobs."""
    digest = hashlib.sha256()
    digest.update(json.dumps(options, sort_keys=True, default=repr).encode())
    digest.update(json.dumps([list(u.indices) for u in units]).encode())
    for item in inputs:
        digest.update(b"\x00")
        digest.update(json.dumps(item, sort_keys=True, default=repr).encode())
    return digest.hexdigest()


def token_lookups(units: Iterable[Unit]) -> list[tuple[str, float]]:
    """``(token, attempt time)`` of units that have a token, for the resolver."""
    return [(unit.token, unit.token_at) for unit in units if unit.token is not None]


def plan_units(
    circuits: Sequence[Any], pack_limits: PackLimits | None
) -> tuple[list[Unit], list[tuple[int, CircuitError]]]:
    """The units (one job each) of a batch, and the circuits refused before any request.

    Unpacked: one unit per circuit (``submit()`` checks each as it goes). Packed: every
    circuit is checked first, so one bad circuit cannot sink its pack, and the valid ones
    are grouped within ``pack_limits`` by their gates and their size as JSON.
    """
    if pack_limits is None:
        return [Unit(index, (index,)) for index in range(len(circuits))], []
    invalid: list[tuple[int, CircuitError]] = []
    valid: list[int] = []
    sizes: list[tuple[int, int]] = []
    for index, circuit in enumerate(circuits):
        try:
            parsed = as_circuit(circuit)
            parsed.validate()
        except CircuitError as error:
            invalid.append((index, error))
            continue
        valid.append(index)
        encoded = json.dumps(parsed.to_json(), separators=(",", ":"))
        # Per-circuit overhead in the multi-circuit input: the name as JSON escapes it
        # (non-ASCII takes 6 bytes a character), its key and the braces.
        name_bytes = len(json.dumps(parsed.name)) if parsed.name is not None else 0
        sizes.append((len(parsed), len(encoded) + name_bytes + 32))
    groups = [tuple(valid[i] for i in pack) for pack in plan_packs(sizes, pack_limits)]
    return [Unit(number, indices) for number, indices in enumerate(groups)], invalid


def unit_input(circuits: Sequence[Any], unit: Unit) -> Any:
    """What ``submit()`` is given for the unit: its one circuit, or its circuits as a list."""
    if len(unit.indices) == 1:
        return circuits[unit.indices[0]]
    return [as_circuit(circuits[i]) for i in unit.indices]
