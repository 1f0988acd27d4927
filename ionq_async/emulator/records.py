"""What the emulator stores: job and session records, a job's state at a moment, and ids.

Plain values with no lifecycle logic: the store (``store.py``) creates and changes them,
the renderer (``rendering.py``) turns them into the API's JSON.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import random
import uuid
from typing import Any, Final

from attrs import define, field, frozen

from ._backends import BackendSpec
from ._validation import CircuitSpec

__all__ = [
    "ORGANIZATION_ID",
    "PROJECT_ID",
    "JobRecord",
    "JobState",
    "SessionRecord",
    "SimulationOutcome",
    "has_results",
    "new_id",
    "submitter_id_for",
]

ORGANIZATION_ID: Final = "6a1f1b5e-0c5e-4a8e-9b40-3d5e2f0c7a11"
"""The one organization every emulated key belongs to."""
PROJECT_ID: Final = "1333d459-cf47-4a5e-acc1-8d4eb4f7b025"
"""The one project every emulated job and session belongs to."""


@frozen(kw_only=True)
class SimulationOutcome:
    """What a circuit's simulation produced: probabilities and a histogram over ``shots``."""

    probabilities: dict[int, float]
    histogram: dict[int, int]
    seed: int
    _drawn: list[tuple[int, ...]] = field(factory=list, eq=False, repr=False, alias="_drawn")

    def shots(self) -> list[int]:
        """One measured basis state per shot, in a seeded random order.

        The order is drawn once, from the histogram with the job's seed, and kept: every
        fetch gives the same list, and it always agrees with the histogram.
        """
        if not self._drawn:
            out: list[int] = []
            for state, count in self.histogram.items():
                out.extend([state] * count)
            random.Random(self.seed).shuffle(out)
            # A benign race: two threads would draw the same tuple.
            self._drawn.append(tuple(out))
        return list(self._drawn[0])


@frozen(kw_only=True)
class JobState:
    """A job's status and times at one moment, as the store computes them from the clock."""

    status: str
    started_at: float | None = None
    finished_at: float | None = None
    failure: tuple[str, str] | None = None
    outcome: SimulationOutcome | None = None

    @property
    def terminal(self) -> bool:
        """True once completed, failed or canceled."""
        return self.status in ("completed", "failed", "canceled")


@define(kw_only=True)
class JobRecord:
    """One stored job (a single circuit, a multi-circuit parent, or one of its children)."""

    id: str
    seq: int
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
    submitter_id: str
    parent_id: str | None = None
    child_ids: list[str] | None = None
    qubits: int
    circuits: int
    one_qubit_gates: int
    two_qubit_gates: int
    failure: tuple[str, str] | None = None
    estimated_cost_usd: float = 0.0
    submitted_at: float
    ready_at: float
    started_at: float | None
    due_at: float
    predicted_start_at: float | None = None
    predicted_due_at: float | None = None
    canceled_at: float | None = None
    future: concurrent.futures.Future[SimulationOutcome] | None = None
    simulated_at: float | None = None
    spec: CircuitSpec | None = None
    """The circuit a single-circuit job (or a child) runs; None for a parent."""
    compiled_langs: tuple[str, ...] | None = None
    """The compiled forms its circuit has (``artifacts.compiled_langs``), once worked out."""

    @property
    def is_parent(self) -> bool:
        """True for a multi-circuit job with children."""
        return self.child_ids is not None


@define(kw_only=True)
class SessionRecord:
    """One session."""

    id: str
    backend: str
    created_at: float
    creator_id: str
    job_count_limit: int | None = None
    duration_limit_min: float | None = None
    cost_limit: dict[str, Any] | None = None
    started_at: float | None = None
    ended_at: float | None = None
    ender_id: str | None = None
    job_count: int = 0

    def expires_at(self) -> float | None:
        """When the session ends on its own, if it has a duration limit."""
        if self.duration_limit_min is None:
            return None
        return self.created_at + self.duration_limit_min * 60.0

    def ended(self, now: float) -> bool:
        """True once ended by request or by its duration limit."""
        expiry = self.expires_at()
        return self.ended_at is not None or (expiry is not None and now >= expiry)


def has_results(record: JobRecord, state: JobState) -> bool:
    """True if the job in ``state`` has results to read (completed, not a dry run)."""
    return state.status == "completed" and not record.dry_run


def new_id(now: float) -> str:
    """A UUIDv7-shaped id: 48 bits of milliseconds, then random bits."""
    millis = int(now * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis << 80) | (0x7 << 76) | ((rand >> 68) & 0xFFF) << 64
    value |= (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def submitter_id_for(key_identity: str) -> str:
    """A stable 24-hex-digit submitter id for an API key identity (never the key)."""
    return hashlib.sha256(("submitter:" + key_identity).encode()).hexdigest()[:24]
