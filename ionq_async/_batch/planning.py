"""A batch's plan, made as its input is read: items, units (one job each), digests.

The input (any iterable or async iterable) is read lazily, one item at a time, as the
engine has room for more circuits: a generator of a million circuits is never held as a
list. Each item read becomes an :class:`Item` (the user's circuit, what is sent, and for a
sweep its parameter values) that lives until its outcome is delivered. Items are grouped
into :class:`Unit` s as they come: one circuit each, or with packing consecutive circuits
up to the pack limits (:class:`Packer`, the greedy rule of
:func:`~ionq_async._batch.values.plan_packs`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import Any

import anyio
import anyio.lowlevel

from .._payload import as_job_input
from ..circuits import Circuit
from ..exceptions import CircuitError, IonQError
from ..models import Job
from ..programs import Qasm3Program
from .values import PackLimits, plan_packs

__all__ = [
    "InputReader",
    "Item",
    "Packer",
    "Unit",
    "as_circuit",
    "batch_fingerprint",
    "circuit_input",
    "circuit_name",
    "convert_input",
    "input_width",
    "known_length",
    "pack_size",
    "plan_units",
    "token_lookups",
    "unit_digest",
    "unit_input",
]

_YIELD_EVERY = 64
"""Items read from a synchronous input between two checkpoints (other tasks get to run)."""


class Item:
    """One circuit of a batch, from the moment it is read until its outcome is delivered.

    ``circuit`` is what the caller gave (for a sweep, the bound circuit); ``sent`` what is
    submitted (a converted Qiskit, Cirq or OpenQASM circuit; else the same object);
    ``parameters`` a sweep point's values.
    """

    __slots__ = (
        "circuit",
        "delivering",
        "holds_slot",
        "index",
        "parameters",
        "sent",
        "submitted",
        "unit",
    )

    def __init__(
        self,
        index: int,
        circuit: Any,
        sent: Any,
        parameters: Mapping[str, float] | None = None,
    ) -> None:
        self.index = index
        self.circuit = circuit
        self.sent = sent
        self.parameters = parameters
        self.unit: Unit | None = None
        self.submitted = False
        self.holds_slot = False  # one of the engine's slots for circuits read ahead
        self.delivering = False  # its outcome is being sent to the consumer

    @property
    def name(self) -> str | None:
        return circuit_name(self.sent)


class Unit:
    """One job of a batch: the items it carries and what is known about it.

    A batch may hold 100,000 of these at once (``max_in_flight``), so a unit keeps only
    what it cannot get back: its indices are its items', its journal digest is computed
    when a record needs it, and its lists of late duplicates and failed jobs are empty
    tuples (shared) until something is put in them.
    """

    __slots__ = (
        "actual",
        "attempts",
        "duplicates",
        "estimated",
        "failed_jobs",
        "finished",
        "first_at",
        "items",
        "job",
        "job_id",
        "number",
        "resent",
        "resumed_token",
        "token",
        "token_at",
    )

    def __init__(self, number: int, items: Sequence[Item]) -> None:
        self.number = number
        self.items = tuple(items)
        for item in self.items:
            item.unit = self
        self.token: str | None = None
        self.token_at = 0.0
        self.first_at: float | None = None  # the first attempt's time (our epoch s)
        self.resent = False  # sent again after an ambiguous failure found nothing
        self.duplicates: tuple[str, ...] = ()  # late-stored jobs of the same token, canceled
        self.resumed_token = False
        self.finished = False
        self.attempts = 1  # jobs made for it (retry_failed sends a transient failure again)
        self.failed_jobs: tuple[str, ...] = ()  # the jobs that failed before a retry
        self.job_id: str | None = None
        # The job as last known, only where the batch was given it (as_completed) or once
        # it has ended: a job waited for is the poller's, and is not kept twice.
        self.job: Job | None = None
        # Its cost as the batch knows it: the estimate it was created with and, once
        # fetched (with a budget), the billed cost. The batch sums these as they change.
        self.estimated: float | None = None
        self.actual: float | None = None

    @property
    def indices(self) -> tuple[int, ...]:
        """The input positions of the unit's circuits, in order."""
        return tuple(item.index for item in self.items)


def circuit_name(circuit: Any) -> str | None:
    if isinstance(circuit, Circuit | Qasm3Program):
        return circuit.name
    if isinstance(circuit, Mapping):
        name = circuit.get("name")
        return name if isinstance(name, str) else None
    return None


def circuit_input(circuit: Any) -> Any:
    if isinstance(circuit, Circuit):
        return circuit.to_json()
    if isinstance(circuit, Qasm3Program):
        return {"qasm3": circuit.source, "qubits": circuit.num_qubits, "name": circuit.name}
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
    """A Qiskit, Cirq or OpenQASM circuit converted once, as it is read; anything else, or
    one that cannot be converted, as given (``submit()`` then raises its error, which
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


def known_length(circuits: object) -> int | None:
    """The number of circuits if the input says so without being read (a list, a range)."""
    if isinstance(circuits, Iterator | AsyncIterator):
        return None
    try:
        return len(circuits)  # type: ignore[arg-type]
    except TypeError:
        return None


class InputReader:
    """Reads a batch's input one item at a time, whether it is sync or async."""

    def __init__(self, circuits: Iterable[Any] | AsyncIterable[Any]) -> None:
        self._sync: Iterator[Any] | None = None
        self._async: AsyncIterator[Any] | None = None
        if isinstance(circuits, AsyncIterable):
            self._async = aiter(circuits)
        elif isinstance(circuits, Iterable):
            self._sync = iter(circuits)
        else:
            raise TypeError(
                f"circuits must be an iterable or an async iterable, got {type(circuits).__name__}"
            )
        self.read = 0
        self.exhausted = False

    async def next(self) -> tuple[bool, Any]:
        """``(True, item)``, or ``(False, None)`` once the input is exhausted.

        An exception raised by the input itself propagates (the caller makes it the
        outcome of the item it was reading).
        """
        if self.exhausted:
            return False, None
        try:
            if self._async is not None:
                item = await self._async.__anext__()
            else:
                assert self._sync is not None
                if self.read % _YIELD_EVERY == 0:
                    await anyio.lowlevel.checkpoint()
                item = next(self._sync)
        except (StopIteration, StopAsyncIteration):
            self.exhausted = True
            return False, None
        except BaseException:
            # A broken input gives nothing more.
            self.exhausted = True
            raise
        self.read += 1
        return True, item

    async def aclose(self) -> None:
        """Close an async generator input (a sync generator is closed by the GC)."""
        close = getattr(self._async, "aclose", None)
        if close is not None:
            await close()


def pack_size(circuit: Circuit) -> tuple[int, int]:
    """``(gates, bytes)`` a valid circuit takes in a multi-circuit job."""
    encoded = json.dumps(circuit.to_json(), separators=(",", ":"))
    # Per-circuit overhead in the multi-circuit input: the name as JSON escapes it
    # (non-ASCII takes 6 bytes a character), its key and the braces.
    name_bytes = len(json.dumps(circuit.name)) if circuit.name is not None else 0
    return len(circuit), len(encoded) + name_bytes + 32


class Packer:
    """Groups consecutive valid circuits into packs within the limits, as they come."""

    def __init__(self, limits: PackLimits) -> None:
        self.limits = limits
        self._items: list[Item] = []
        self._gates = self._bytes = 0

    def add(self, item: Item, size: tuple[int, int]) -> list[Item] | None:
        """Add one circuit; the finished pack it closes, if any (the circuit starts the next)."""
        gates, size_bytes = size
        full: list[Item] | None = None
        if self._items and (
            len(self._items) + 1 > self.limits.max_circuits
            or self._gates + gates > self.limits.max_gates
            or self._bytes + size_bytes > self.limits.max_bytes
        ):
            full = self.flush()
        self._items.append(item)
        self._gates += gates
        self._bytes += size_bytes
        return full

    def flush(self) -> list[Item] | None:
        """The pack being filled (None if empty); the next starts empty."""
        if not self._items:
            return None
        items, self._items = self._items, []
        self._gates = self._bytes = 0
        return items


def batch_fingerprint(options: Mapping[str, Any], pack: PackLimits | None) -> str:
    """A hash naming a batch's options and packing (its circuits are checked per unit)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(options, sort_keys=True, default=repr).encode())
    limits = None if pack is None else [pack.max_circuits, pack.max_gates, pack.max_bytes]
    digest.update(json.dumps(limits).encode())
    return digest.hexdigest()


def unit_digest(unit: Unit) -> str:
    """A hash of one unit's circuits as sent and their positions in the input."""
    digest = hashlib.sha256()
    digest.update(json.dumps(list(unit.indices)).encode())
    for item in unit.items:
        digest.update(b"\x00")
        digest.update(json.dumps(circuit_input(item.sent), sort_keys=True, default=repr).encode())
    return digest.hexdigest()[:32]


def token_lookups(units: Iterable[Unit]) -> list[tuple[str, float]]:
    """``(token, attempt time)`` of units that have a token, for the resolver."""
    return [(unit.token, unit.token_at) for unit in units if unit.token is not None]


def plan_units(
    circuits: Sequence[Any], pack_limits: PackLimits | None
) -> tuple[list[Unit], list[tuple[int, CircuitError]]]:
    """The units of a whole list of circuits at once, and those refused before any request
    (what the engine does item by item; kept for tools and tests)."""
    items = [Item(index, circuit, circuit) for index, circuit in enumerate(circuits)]
    if pack_limits is None:
        return [Unit(item.index, [item]) for item in items], []
    invalid: list[tuple[int, CircuitError]] = []
    valid: list[Item] = []
    sizes: list[tuple[int, int]] = []
    for item in items:
        try:
            parsed = as_circuit(item.sent)
            parsed.validate()
        except CircuitError as error:
            invalid.append((item.index, error))
            continue
        valid.append(item)
        sizes.append(pack_size(parsed))
    packs = plan_packs(sizes, pack_limits)
    return [Unit(n, [valid[i] for i in pack]) for n, pack in enumerate(packs)], invalid


def unit_input(unit: Unit) -> Any:
    """What ``submit()`` is given for the unit: its one circuit, or its circuits as a list."""
    if len(unit.items) == 1:
        return unit.items[0].sent
    return [as_circuit(item.sent) for item in unit.items]
