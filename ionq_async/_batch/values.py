"""A batch's values (pure): outcomes, progress, poll schedules, pack limits, fatal errors."""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

from attrs import frozen

from .._limits import MAX_BODY_BYTES, MAX_CIRCUITS_PER_JOB, MAX_GATES_PER_JOB
from ..exceptions import (
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    InvalidRequestError,
    IonQError,
    JournalError,
    PermissionDeniedError,
    ResponseError,
)
from ..models import Job, JobStatus
from ..results import Result

__all__ = [
    "FATAL_ERRORS",
    "MAX_HELD_CIRCUITS",
    "QPU_SCHEDULE",
    "SIMULATOR_SCHEDULE",
    "TOKEN_METADATA_KEY",
    "BatchProgress",
    "Outcome",
    "PackLimits",
    "PollSchedule",
    "plan_packs",
]

TOKEN_METADATA_KEY: Final = "ionq_async_token"
"""The ``metadata`` key that carries each job creation's client token."""

MAX_HELD_CIRCUITS: Final = 20_000
"""Circuits a batch reads ahead of their outcomes (or ``max_in_flight`` if that is more).

The input is read only as far as this allows, so a batch's memory is bounded whatever the
size of its input: a packed batch holds at most 4 full packs of 5,000 circuits (a million-
point sweep peaks near 200 MB of client RSS; benchmarks/bench_sweep.py)."""


# Errors that concern the client as a whole: continuing with other circuits is pointless.
FATAL_ERRORS: Final = (
    AuthenticationError,
    PermissionDeniedError,
    ClientClosedError,
    ConfigurationError,
    InvalidRequestError,
    JournalError,
)


@frozen(kw_only=True)
class Outcome:
    """What became of one circuit: its index, its job, and a Result or a typed error.

    ``index`` is the circuit's position in the input (for :meth:`BatchMethods.as_completed`,
    the job's position). ``job`` is the job that ran it (for a packed circuit, the
    multi-circuit parent) or None if no job was created. Exactly one of ``result`` and
    ``error`` is set. ``duplicates_canceled`` names jobs of the same creation that the
    server stored late, after the engine had sent it again, and that were canceled.
    ``circuit`` is the circuit as the caller gave it (a Qiskit or Cirq circuit stays one;
    for :meth:`~ionq_async.client.Client.run_sweep`, the bound circuit) and
    ``parameters`` a sweep point's values by parameter name (None outside sweeps).
    ``attempts`` counts the jobs made for the circuit: more than 1 when ``retry_failed``
    sent it again after a transient failure (``failed_jobs`` names those jobs).
    """

    index: int
    name: str | None
    circuit: Any
    job: Job | None
    result: Result | None
    error: IonQError | None
    duplicates_canceled: tuple[str, ...] = ()
    parameters: Mapping[str, float] | None = None
    attempts: int = 1
    failed_jobs: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True if the circuit ran and has a result."""
        return self.error is None

    def __repr__(self) -> str:
        """One line: index, name, sweep values, then the result's repr or the error."""
        from .._display import outcome_repr

        return outcome_repr(self)

    def _repr_html_(self) -> str:
        """A notebook's view: the result's table and histogram, or the error."""
        from .._display import outcome_html

        return outcome_html(self)

    def unwrap(self) -> Result:
        """The Result, or raise the outcome's error."""
        if self.error is not None:
            raise self.error
        if self.result is None:  # pragma: no cover - excluded by construction
            raise ResponseError(f"outcome {self.index} has neither result nor error")
        return self.result


@frozen(kw_only=True)
class BatchProgress:
    """Counts of a batch's circuits, enough to drive a progress bar.

    ``submitted`` circuits have a job; ``waiting`` of them have no outcome yet;
    ``completed`` and ``failed`` count outcomes with and without a result;
    ``duplicates_canceled`` counts late-stored duplicate jobs found and canceled. ``started_at``
    is wall-clock epoch seconds; ``elapsed_s`` is measured on the monotonic clock.
    ``total`` is None while an input of unknown length (a generator) is still being read,
    and the number of circuits read once it has ended. ``estimated_cost`` sums the
    estimates of the jobs created so far (QPU backends), ``actual_cost`` their billed
    costs as known (fetched when the batch has a ``max_cost``).
    """

    total: int | None
    submitted: int
    waiting: int
    completed: int
    failed: int
    started_at: float
    elapsed_s: float
    duplicates_canceled: int = 0
    estimated_cost: float = 0.0
    actual_cost: float = 0.0

    @property
    def done(self) -> int:
        """Circuits with an outcome."""
        return self.completed + self.failed

    @property
    def rate_per_s(self) -> float:
        """Outcomes per second so far."""
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0


@frozen(kw_only=True)
class PollSchedule:
    """When to ask about a job again: growing intervals with jitter, capped.

    Interval ``n`` (0-based) is ``initial_s * factor**n`` capped at ``max_s``, scaled by a
    random factor in ``[1 - jitter, 1 + jitter]``. A job with predicted times (wait +
    execution) is next asked about just after its predicted end instead, at most
    ``max_predicted_s`` away; once past its predicted end, every ``overdue_factor`` of the
    time it is overdue (at least ``initial_s``, at most ``max_s``).

    A batch uses the predictions differently (see :mod:`ionq_async._batch.poller`): a
    job is *watched* from ``lead`` of its predicted duration before its predicted end,
    asked about every round; rounds come every ``initial_s`` while many jobs are watched
    and stretch to ``watch_max_s`` (default ``5 * initial_s``) as they become few, since
    a round costs one request however few jobs it serves.
    """

    initial_s: float
    factor: float
    max_s: float
    jitter: float = 0.2
    max_predicted_s: float = 60.0
    lead: float = 0.25
    watch_max_s: float | None = None
    overdue_factor: float = 0.1

    def __attrs_post_init__(self) -> None:
        problems = []
        if not (math.isfinite(self.initial_s) and self.initial_s > 0):
            problems.append(f"initial_s must be a positive number of seconds, got {self.initial_s}")
        if not (math.isfinite(self.factor) and self.factor >= 1):
            problems.append(f"factor must be at least 1, got {self.factor}")
        if not (math.isfinite(self.max_s) and self.max_s >= self.initial_s):
            problems.append(f"max_s must be at least initial_s, got {self.max_s}")
        if not 0 <= self.jitter < 1:
            problems.append(f"jitter must be in [0, 1), got {self.jitter}")
        if not (math.isfinite(self.max_predicted_s) and self.max_predicted_s >= 0):
            problems.append(f"max_predicted_s must not be negative, got {self.max_predicted_s}")
        if not 0 <= self.lead < 1:
            problems.append(f"lead must be in [0, 1), got {self.lead}")
        if self.watch_max_s is not None and not (
            math.isfinite(self.watch_max_s) and self.watch_max_s >= self.initial_s
        ):
            problems.append(f"watch_max_s must be at least initial_s, got {self.watch_max_s}")
        if not (math.isfinite(self.overdue_factor) and self.overdue_factor >= 0):
            problems.append(f"overdue_factor must not be negative, got {self.overdue_factor}")
        if problems:
            raise ConfigurationError("PollSchedule: " + "; ".join(problems))

    @classmethod
    def for_backend(cls, backend: str | None) -> PollSchedule:
        """Short intervals for the simulator, patient ones for QPUs (and unknown backends)."""
        if backend is None or backend == "simulator" or backend.startswith("simulator"):
            return SIMULATOR_SCHEDULE
        return QPU_SCHEDULE

    def interval_s(self, attempt: int, rng: random.Random) -> float:
        """The jittered interval before poll number ``attempt + 1``."""
        base = min(self.initial_s * self.factor ** min(attempt, 64), self.max_s)
        if self.jitter:
            base *= 1.0 + self.jitter * (2.0 * rng.random() - 1.0)
        return base

    def delay_s(self, attempt: int, job: Job | JobTimes | None, rng: random.Random) -> float:
        """The wait before asking about ``job`` again, using its predicted times if any.

        With a prediction the job is asked about just after its predicted end (never
        sooner than ``initial_s``, never later than ``max_predicted_s``); without one,
        on the growing interval.
        """
        predicted = predicted_offset_s(job)
        if predicted is None:
            return self.interval_s(attempt, rng)
        if predicted > 0:
            # A little past the predicted end, so the job is done when we ask.
            target = predicted * 1.05 + 0.01
            return max(self.initial_s, min(target, self.max_predicted_s))
        return self.overdue_s(-predicted)

    def overdue_s(self, overdue_s: float) -> float:
        """The wait before asking again about a job ``overdue_s`` past its predicted end:
        ``overdue_factor`` of that, at least ``initial_s`` and at most ``max_s``."""
        return min(max(self.initial_s, self.overdue_factor * overdue_s), self.max_s)

    def watch_interval_s(self, watched: int) -> float:
        """The time between rounds while ``watched`` jobs are watched.

        ``initial_s`` while 50 or more are, growing as ``sqrt(50 / watched)`` to
        ``watch_max_s`` for a single one: a round's one request buys less when it serves
        fewer jobs (the trade-off is drawn in docs/images/lag-tradeoff.png).
        """
        cap = self.watch_max_s if self.watch_max_s is not None else 5.0 * self.initial_s
        if watched >= WATCH_FULL_RATE_JOBS:
            return self.initial_s
        stretch = math.sqrt(WATCH_FULL_RATE_JOBS / max(watched, 1))
        return min(self.initial_s * stretch, cap)


SIMULATOR_SCHEDULE: Final = PollSchedule(initial_s=0.1, factor=1.5, max_s=1.0, max_predicted_s=5.0)
"""The simulator's schedule: 100 ms growing to 1 s."""

QPU_SCHEDULE: Final = PollSchedule(initial_s=1.0, factor=1.5, max_s=15.0, max_predicted_s=300.0)
"""A QPU's schedule: 1 s growing to 15 s; predictions may push a poll 5 minutes out; a
batch's rounds every 1 s while 50 jobs or more are watched, up to 5 s for one."""


WATCH_FULL_RATE_JOBS: Final = 50
"""Watched jobs from which a batch's rounds come every ``initial_s`` (fewer: less often)."""


class JobTimes:
    """What polling needs of a job's last answer: its status, backend and predicted end.

    The poller keeps this instead of the whole answer (a parsed job with its metadata,
    stats and timestamps is some 1.5 KB; this is under a tenth of it), so a batch of
    100,000 waiting jobs stays small. ``end`` is the predicted end on the wall clock
    (epoch seconds) as the answer put it, None without predictions.
    """

    __slots__ = ("backend", "end", "status")

    def __init__(self, job: Job) -> None:
        self.status = job.status
        # One string for every job's backend (each answer's parse makes its own).
        self.backend = sys.intern(job.backend) if job.backend is not None else None
        offset = predicted_offset_s(job)
        self.end = None if offset is None else time.time() + offset

    @property
    def is_terminal(self) -> bool:
        """True for completed, failed and canceled."""
        return self.status.is_terminal

    def job(self, job_id: str) -> Job:
        """A Job carrying what is known (for errors that name the last state seen)."""
        return Job(id=job_id, status=self.status, backend=self.backend)


def predicted_remaining_s(job: Job | JobTimes | None) -> float | None:
    """Seconds until the job's predicted end, or None without predictions or once past it.

    Queued: predicted wait plus predicted execution. Running: the predicted execution
    less the time since ``started_at`` (by our clock; a negative predicted wait, as some
    servers send, counts the same way). None when that leaves nothing to go by.
    """
    remaining = predicted_offset_s(job)
    return remaining if remaining is not None and remaining > 0 else None


def predicted_offset_s(job: Job | JobTimes | None) -> float | None:
    """Seconds until the job's predicted end (negative: past it), or None without
    predictions (see :func:`predicted_remaining_s`)."""
    if isinstance(job, JobTimes):
        return None if job.end is None or job.is_terminal else job.end - time.time()
    if job is None or job.is_terminal:
        return None
    wait_ms = job.predicted_wait_time_ms
    run_ms = job.predicted_execution_duration_ms
    if wait_ms is None and run_ms is None:
        return None
    remaining = ((wait_ms or 0.0) + (run_ms or 0.0)) / 1000.0
    if job.status is JobStatus.STARTED and (wait_ms or 0.0) >= 0 and job.started_at is not None:
        remaining -= max(0.0, time.time() - job.started_at.timestamp())
    return remaining


@frozen(kw_only=True)
class PackLimits:
    """The limits of one ``ionq.multi-circuit.v1`` job (defaults: the API's)."""

    max_circuits: int = MAX_CIRCUITS_PER_JOB
    max_gates: int = MAX_GATES_PER_JOB
    # Room left in the 10 MB body for the envelope: type, options and metadata.
    max_bytes: int = MAX_BODY_BYTES - 100_000

    def __attrs_post_init__(self) -> None:
        for name in ("max_circuits", "max_gates", "max_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(
                    f"PackLimits: {name} must be an integer >= 1, got {value!r}"
                )


def plan_packs(sizes: Sequence[tuple[int, int]], limits: PackLimits) -> list[tuple[int, ...]]:
    """Group items ``(gates, bytes)`` into consecutive packs within ``limits``; in order.

    An item alone over a limit gets a pack of its own (the server will then say why).
    """
    packs: list[tuple[int, ...]] = []
    current: list[int] = []
    gates = size = 0
    for index, (item_gates, item_bytes) in enumerate(sizes):
        if current and (
            len(current) + 1 > limits.max_circuits
            or gates + item_gates > limits.max_gates
            or size + item_bytes > limits.max_bytes
        ):
            packs.append(tuple(current))
            current, gates, size = [], 0, 0
        current.append(index)
        gates += item_gates
        size += item_bytes
    if current:
        packs.append(tuple(current))
    return packs
