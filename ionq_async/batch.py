"""The batch engine: wait for jobs, run circuits, and stream the outcomes of many at once.

``BatchMethods`` is mixed into :class:`~ionq_async.client.Client`; everything here talks to
the API only through the client's own methods (and so through its one transport, with its
limiter of requests in flight and its shared back-off gate).

How a batch runs (:meth:`BatchMethods.run_many`):

- **Plan.** Circuits are checked first (an invalid one becomes an error outcome at once)
  and grouped into *units*, one job each: one circuit, or with ``pack=True`` up to 5,000
  circuits / 150,000 gates / 10 MB per ``ionq.multi-circuit.v1`` job.
- **Submit.** A feeder hands units to short-lived submit tasks, bounded by the jobs in
  flight (``max_in_flight``) and by an adaptive limit on creations in flight that halves
  on a 429 and grows back by one per window of successes (AIMD).
- **Never twice.** Every creation carries a token in ``metadata["ionq_async_token"]``.
  After an ambiguous failure (no answer after the request left, a read timeout, a 5xx)
  the token is looked up with ``GET /jobs`` before anything is sent again; lookups of
  many units share one sweep. With a journal the token is on disk before the request
  leaves and the job id right after it is known (:mod:`ionq_async._journal`).
- **Poll.** One poller task refreshes every waiting job with ``GET /jobs?ids=...`` in
  chunks of at most 100 ids (URLs stay under ~6 KB). Each job has its own schedule that
  grows with jitter from short to a cap and skips ahead to the job's predicted end;
  jobs that come due close together share a request. Ids a server leaves out of its
  answer are fetched one by one, and a server that ignores ``ids`` altogether is polled
  per job from then on.
- **Stream.** A finished job is queued for one of a few finisher tasks, which fetches
  its probabilities and makes it an :class:`Outcome`; failed and canceled jobs become
  outcomes carrying ``JobFailed`` / ``JobCanceled``. Waiting jobs hold no task, only a
  small entry in the poller.

Lifetime (why a handle rather than an async generator): an async generator that owns a
task group is finalized whenever the garbage collector gets to it, possibly in another
task, after the consumer ``break``-s. :class:`BatchRun` instead starts one supervisor task
on first use; the supervisor owns an anyio task group with every worker and writes
outcomes into a memory object stream. ``aclose()``, ``async with`` exit, cancellation of
the consumer while it awaits the next outcome, ``Client.aclose()`` and (as a last
resort) garbage collection of an abandoned handle all cancel that supervisor; all but the
last also wait for it, so no task or request outlives the loop. The engine works ahead
of the consumer (up to 1,024 outcomes buffered), so a handle that stays referenced after
a ``break`` keeps working until it is closed: hence ``async with`` whenever the handle
is kept in a variable.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import json
import logging
import math
import numbers
import random
import time
import uuid
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, ParamSpec, Self, TypeVar, cast

import anyio
import anyio.abc
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from attrs import frozen

from ._journal import Journal, TokenRecord
from ._limits import CIRCUIT_TYPE, MAX_BODY_BYTES, MAX_CIRCUITS_PER_JOB, MAX_GATES_PER_JOB
from ._retry import backoff_s, retry_after_beyond_budget
from .circuits import Circuit
from .exceptions import (
    AuthenticationError,
    BatchTimeoutError,
    CircuitError,
    ClientClosedError,
    ConfigurationError,
    InvalidRequestError,
    IonQError,
    JobCanceled,
    JobFailed,
    JobUnreachableError,
    JournalError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseError,
    ServerError,
    TransportError,
    WaitTimeoutError,
)
from .models import Job, JobStats, JobStatus
from .results import Result, job_width, validate_probabilities

if TYPE_CHECKING:
    from ._transport import RateLimitEvent
    from .client import Client

__all__ = [
    "TOKEN_METADATA_KEY",
    "AdaptiveLimiter",
    "BatchMethods",
    "BatchProgress",
    "BatchRun",
    "Outcome",
    "PackLimits",
    "PollSchedule",
    "RatePacer",
    "plan_packs",
]

logger = logging.getLogger("ionq_async.batch")

P = ParamSpec("P")
T = TypeVar("T")

TOKEN_METADATA_KEY: Final = "ionq_async_token"
"""The ``metadata`` key that carries each job creation's client token."""

MAX_IDS_PER_POLL: Final = 100
"""The most job ids one ``GET /jobs?ids=...`` asks for."""

MAX_POLL_URL_BYTES: Final = 6_000
"""The most bytes of ``ids=`` query one poll request carries (URLs stay short)."""

LATE_STORE_GRACE_S: Final = 10.0
"""After an ambiguous job creation found nothing by token, wait this long and look again
before sending it again: the server may still be storing the first attempt."""

DUPLICATE_WATCHES: Final = 3
"""Token sweeps after a re-send (at 1, 2 and 4 grace periods) that look for a first
attempt stored even later; one more is made just before the circuit's outcome."""

MAX_POLL_FAILURE_S: Final = 120.0
"""How long polling may fail in a row (no answer at all) before waiting jobs end as errors."""

MAX_BAD_ANSWERS: Final = 3
"""Unreadable answers in a row about one job before that job ends as a ResponseError."""


# Errors that concern the client as a whole: continuing with other circuits is pointless.
_FATAL_ERRORS: Final = (
    AuthenticationError,
    PermissionDeniedError,
    ClientClosedError,
    ConfigurationError,
    InvalidRequestError,
    JournalError,
)


# ---------------------------------------------------------------------------------------
# Values


@frozen(kw_only=True)
class Outcome:
    """What became of one circuit: its index, its job, and a Result or a typed error.

    ``index`` is the circuit's position in the input (for :meth:`BatchMethods.as_completed`,
    the job's position). ``job`` is the job that ran it (for a packed circuit, the
    multi-circuit parent) or None if no job was created. Exactly one of ``result`` and
    ``error`` is set. ``duplicates_canceled`` names jobs of the same creation that the
    server stored late, after the engine had sent it again, and that were canceled.
    """

    index: int
    name: str | None
    circuit: Any
    job: Job | None
    result: Result | None
    error: IonQError | None
    duplicates_canceled: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True if the circuit ran and has a result."""
        return self.error is None

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
    """

    total: int
    submitted: int
    waiting: int
    completed: int
    failed: int
    started_at: float
    elapsed_s: float
    duplicates_canceled: int = 0

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
    ``max_predicted_s`` away.
    """

    initial_s: float
    factor: float
    max_s: float
    jitter: float = 0.2
    max_predicted_s: float = 60.0

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

    def delay_s(self, attempt: int, job: Job | None, rng: random.Random) -> float:
        """The wait before asking about ``job`` again, using its predicted times if any.

        With a prediction the job is asked about just after its predicted end (never
        sooner than ``initial_s``, never later than ``max_predicted_s``); without one,
        on the growing interval.
        """
        predicted = _predicted_remaining_s(job)
        if predicted is not None:
            # A little past the predicted end, so the job is done when we ask.
            target = predicted * 1.05 + 0.01
            return max(self.initial_s, min(target, self.max_predicted_s))
        return self.interval_s(attempt, rng)


SIMULATOR_SCHEDULE: Final = PollSchedule(initial_s=0.1, factor=1.5, max_s=1.0, max_predicted_s=5.0)
"""The simulator's schedule: 100 ms growing to 1 s."""

QPU_SCHEDULE: Final = PollSchedule(initial_s=1.0, factor=1.5, max_s=15.0, max_predicted_s=300.0)
"""A QPU's schedule: 1 s growing to 15 s; predictions may push a poll 5 minutes out."""


def _predicted_remaining_s(job: Job | None) -> float | None:
    """Seconds until the job's predicted end, or None without predictions.

    Queued: predicted wait plus predicted execution. Running: the predicted execution
    less the time since ``started_at`` (by our clock; a negative predicted wait, as some
    servers send, counts the same way). None when that leaves nothing to go by.
    """
    if job is None or job.is_terminal:
        return None
    wait_ms = job.predicted_wait_time_ms
    run_ms = job.predicted_execution_duration_ms
    if wait_ms is None and run_ms is None:
        return None
    remaining = ((wait_ms or 0.0) + (run_ms or 0.0)) / 1000.0
    if job.status is JobStatus.STARTED and (wait_ms or 0.0) >= 0 and job.started_at is not None:
        remaining -= max(0.0, time.time() - job.started_at.timestamp())
    return remaining if remaining > 0 else None


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


# ---------------------------------------------------------------------------------------
# Adaptive concurrency


class AdaptiveLimiter:
    """A concurrency limit that halves on rate limiting and grows back slowly (AIMD).

    ``acquire`` waits while ``in_use`` has reached ``limit``. :meth:`on_rate_limited`
    multiplies the limit by ``decrease`` (at most once per ``cooldown_s``, so one storm
    counts once); :meth:`on_success` adds ``1 / limit``, i.e. one slot per window of
    successes, never beyond ``maximum``.
    """

    def __init__(
        self,
        maximum: int,
        *,
        minimum: int = 1,
        decrease: float = 0.5,
        cooldown_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if maximum < 1 or minimum < 1 or minimum > maximum:
            raise ValueError("need 1 <= minimum <= maximum")
        self.maximum = maximum
        self.minimum = minimum
        self.limit = float(maximum)
        self.in_use = 0
        self.decreases = 0
        self._decrease = decrease
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._last_decrease = -math.inf
        self._changed = anyio.Event()

    @property
    def slots(self) -> int:
        """The current whole number of slots."""
        return max(self.minimum, int(self.limit))

    async def acquire(self) -> None:
        """Wait for a free slot and take it."""
        while self.in_use >= self.slots:
            changed = self._changed
            await changed.wait()
        self.in_use += 1

    def release(self) -> None:
        """Give a slot back."""
        self.in_use -= 1
        self._notify()

    def on_rate_limited(self) -> None:
        """A 429 was seen: shrink the limit (once per cooldown)."""
        now = self._clock()
        if now - self._last_decrease < self._cooldown_s:
            return
        self._last_decrease = now
        self.limit = max(float(self.minimum), self.limit * self._decrease)
        self.decreases += 1

    def on_success(self) -> None:
        """A request went through: grow the limit by one slot per window of successes."""
        if self.limit < self.maximum:
            self.limit = min(float(self.maximum), self.limit + 1.0 / self.limit)
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()


class RatePacer:
    """Spaces out request starts once the server has rate-limited us.

    Unpaced until the first 429. On a 429 (at most once per ``cooldown_s``) the pace
    becomes ``backoff`` times the rate the server accepted over the last ``window_s``
    (which, while we are over the limit, is the limit); from then on it grows by ``growth_per_s``
    (10 % a second), so it probes upward slowly; past ``release_rate`` pacing stops. The
    shared back-off gate alone cannot do this: after a tiny ``Retry-After`` every waiting
    request would hit the server again at once.
    """

    def __init__(
        self,
        *,
        minimum_rate: float = 1.0,
        backoff: float = 0.8,
        growth_per_s: float = 0.1,
        cooldown_s: float = 0.05,
        window_s: float = 1.0,
        release_rate: float = 10_000.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.decreases = 0
        self._base_rate: float | None = None
        self._minimum_rate = minimum_rate
        self._backoff = backoff
        self._growth_per_s = growth_per_s
        self._cooldown_s = cooldown_s
        self._window_s = window_s
        self._release_rate = release_rate
        self._clock = clock
        self._next_slot = -math.inf
        self._last_decrease = -math.inf
        self._successes: deque[float] = deque()

    @property
    def rate(self) -> float | None:
        """The current pace in requests per second, or None when unpaced."""
        if self._base_rate is None:
            return None
        elapsed = self._clock() - self._last_decrease
        rate: float = self._base_rate * (1.0 + self._growth_per_s) ** min(elapsed, 600.0)
        if rate >= self._release_rate:
            self._base_rate = None
            return None
        return rate

    def accepted_rate(self) -> float:
        """Successful requests per second over the last window."""
        now = self._clock()
        successes = self._successes
        while successes and now - successes[0] > self._window_s:
            successes.popleft()
        if len(successes) < 2:
            return 0.0
        # Over the span actually observed: right after a start, a full window would
        # understate the rate many times over.
        return len(successes) / max(now - successes[0], 0.1)

    async def wait(self) -> None:
        """Wait for this request's slot (at once while unpaced)."""
        rate = self.rate
        if rate is None:
            return
        now = self._clock()
        slot = max(now, self._next_slot)
        self._next_slot = slot + 1.0 / rate
        if slot > now:
            await anyio.sleep(slot - now)

    def on_rate_limited(self) -> None:
        """The server is limiting our rate: slow down to just under what it accepted."""
        now = self._clock()
        if now - self._last_decrease < self._cooldown_s:
            return
        # What the server accepted is the best estimate of its limit; cutting the current
        # pace again for every 429 would compound and collapse it.
        target = self.accepted_rate() * self._backoff
        current = self.rate
        if target <= 0:
            target = current * 0.5 if current is not None else self._minimum_rate
        self._base_rate = max(self._minimum_rate, target)
        self._last_decrease = now
        self.decreases += 1

    @property
    def paced(self) -> bool:
        """True while request starts are being spaced out."""
        return self._base_rate is not None

    def on_success(self) -> None:
        """A request went through (counted for the accepted rate)."""
        self._successes.append(self._clock())
        if len(self._successes) > 100_000:
            self._successes.popleft()


async def _poll_sleep(delay_s: float) -> None:
    """Sleep between two polls of ``wait`` (one name, so tests can count the delays)."""
    await anyio.sleep(delay_s)


class _Throttle:
    """A client's reaction to 429s, shared by all its running batches.

    It listens to the transport's rate-limit events and then (a) paces request starts
    with a :class:`RatePacer` and (b) while paced, bounds the batch requests in flight by
    Little's law (pace x the fastest answer's time, with a margin). The bound is taken
    *before* a request gets its paced slot, so no backlog of admitted requests can form
    behind the transport's own limiter and go out unpaced later; and requests retrying
    inside the transport after a 429 stay few, so they cannot storm the server whenever
    its ``Retry-After`` runs out.
    """

    def __init__(self, client: Client, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self._clock = clock
        self.pacer = RatePacer(clock=clock)
        self.users = 0
        self.events = 0
        self.latency_s = 0.0
        self.window_s = 1.0
        # A server limiting our rate answers a large share of requests with 429; a few
        # percent of 429s that come whatever the rate must not throttle the batch (with
        # 20 samples at 5 % random 429s, a 10 % threshold tripped about once in four).
        self.min_samples = 50
        self.min_limited_fraction = 0.2
        self._snapshots: deque[tuple[float, int, int]] = deque()
        self._open_tokens = max(1, int(client.transport.limiter.total_tokens))
        self.limiter = anyio.CapacityLimiter(self._open_tokens)

    def attach(self) -> None:
        """A batch starts using the throttle."""
        if self.users == 0:
            self.client.transport.rate_limit_listeners.append(self.on_rate_limited)
        self.users += 1

    def detach(self) -> None:
        """A batch stops using the throttle."""
        self.users -= 1
        if self.users == 0:
            with contextlib.suppress(ValueError):
                self.client.transport.rate_limit_listeners.remove(self.on_rate_limited)

    def _snapshot(self) -> None:
        now = self._clock()
        snapshots = self._snapshots
        if not snapshots or now - snapshots[-1][0] >= 0.05:
            stats = self.client.stats
            snapshots.append((now, stats.requests_sent, stats.rate_limited))
        while len(snapshots) > 2 and now - snapshots[1][0] >= self.window_s:
            snapshots.popleft()

    def limited_fraction(self) -> tuple[float, int]:
        """The share of 429s among the client's requests of about the last second."""
        self._snapshot()
        _, sent_then, limited_then = self._snapshots[0]
        stats = self.client.stats
        sent = stats.requests_sent - sent_then
        limited = stats.rate_limited - limited_then
        return (limited / sent if sent > 0 else 0.0), sent

    def is_limiting(self) -> bool:
        """True when 429s are a real share of the last second's answers (a rate limit)."""
        fraction, sent = self.limited_fraction()
        return sent >= self.min_samples and fraction >= self.min_limited_fraction

    def on_rate_limited(self, _event: RateLimitEvent | None = None) -> None:
        """The transport saw a 429; pace only if 429s are a real share of the answers.

        A server that sends the odd 429 whatever our rate (a few percent of answers)
        would otherwise drive the pace down step by step for nothing; one that limits
        our rate answers a large share of requests with 429.
        """
        self.events += 1
        if not self.is_limiting():
            return
        self.pacer.on_rate_limited()
        self._size_limiter()

    def _size_limiter(self) -> None:
        rate = self.pacer.rate
        tokens = self._open_tokens
        if rate is not None:
            tokens = max(1, min(tokens, math.ceil(rate * self.latency_s * 1.5)))
        if self.limiter.total_tokens != tokens:
            self.limiter.total_tokens = tokens

    async def call(
        self, function: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Await ``function(*args, **kwargs)`` in its paced slot, measuring its latency."""
        self._snapshot()
        if not self.pacer.paced:
            # The common case: no 429 so far; the transport's own limiter is enough.
            started = self._clock()
            result = await function(*args, **kwargs)
            elapsed = self._clock() - started
        else:
            async with self.limiter:
                await self.pacer.wait()
                started = self._clock()
                result = await function(*args, **kwargs)
                elapsed = self._clock() - started
        # The fastest answer seen stands for the service time: averages would include the
        # waits at the gate and in retries and feed back into a larger limit.
        if self.latency_s == 0 or elapsed < self.latency_s:
            self.latency_s = elapsed
        self.pacer.on_success()
        if self.pacer.paced or self.limiter.total_tokens != self._open_tokens:
            self._size_limiter()
        return result


_throttles: weakref.WeakKeyDictionary[Any, _Throttle] = weakref.WeakKeyDictionary()


def _throttle_for(client: Client) -> _Throttle:
    throttle = _throttles.get(client)
    if throttle is None:
        throttle = _Throttle(client)
        _throttles[client] = throttle
    return throttle


# ---------------------------------------------------------------------------------------
# Internals: units, the token resolver, the poller


class _Unit:
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


def _is_ambiguous(error: BaseException) -> bool:
    """True if a failed job creation may have created the job anyway."""
    if isinstance(error, TransportError):
        return error.request_sent
    return isinstance(error, ServerError)


class _TokenResolver:
    """Finds jobs by client token with ``GET /jobs``; concurrent lookups share one sweep.

    A sweep walks the job list newest first. Its cutoff needs no agreement between our
    clock and the server's: the newest job listed stands for the server's "now" (it can
    only be earlier, which makes the sweep longer, never wrong), and the attempt we look
    for happened ``elapsed`` seconds before that by our own clock (measured once the
    first page has arrived), less ``margin_s`` for timestamp rounding and clock drift.
    The sweep stops after ``stop_after_older`` jobs in a row older than the cutoff, once
    every token is found, or after ``max_scan`` jobs.
    """

    def __init__(
        self,
        client: Client,
        *,
        backend: str | None,
        margin_s: float = 2.0,
        stop_after_older: int = 50,
        max_scan: int = 20_000,
        page_size: int = 100,
    ) -> None:
        self._client = client
        self._backend = backend
        self._margin_s = margin_s
        self._stop_after_older = stop_after_older
        self._max_scan = max_scan
        self._page_size = page_size
        self._lock = anyio.Lock()
        self._pending: dict[str, float] = {}
        self._answers: dict[str, Job | None] = {}
        self.sweeps = 0
        self.scanned = 0

    async def find(self, token: str, since: float) -> Job | None:
        """The job created with ``token`` by an attempt at ``since`` (our epoch s), or None."""
        [job] = await self.find_all([(token, since)])
        return job

    async def find_all(self, lookups: Sequence[tuple[str, float]]) -> list[Job | None]:
        """:meth:`find` for many ``(token, since)`` at once: one sweep serves them all."""
        for token, since in lookups:
            self._pending[token] = min(since, self._pending.get(token, since))
        async with self._lock:
            if any(token not in self._answers for token, _ in lookups):
                await self._sweep()
            # A token answered by another caller's sweep is no longer wanted by any sweep.
            for token, _ in lookups:
                self._pending.pop(token, None)
            return [self._answers.pop(token, None) for token, _ in lookups]

    async def find_every(self, token: str, since: float) -> list[Job]:
        """Every job created with ``token`` by attempts from ``since`` on (newest first).

        After a re-send the same token may stand on two jobs: the re-sent one and a first
        attempt the server stored late.
        """
        every: list[Job] = []

        def visit(job: Job) -> bool:
            if (job.metadata or {}).get(TOKEN_METADATA_KEY) == token:
                every.append(job)
            return False  # walk on to the cutoff: there may be more than one

        async with self._lock:
            self.sweeps += 1
            await self._scan(since, visit)
        return every

    async def _sweep(self) -> None:
        wanted = dict(self._pending)
        self._pending.clear()
        self.sweeps += 1
        found: dict[str, Job] = {}

        def visit(job: Job) -> bool:
            token = (job.metadata or {}).get(TOKEN_METADATA_KEY)
            if token in wanted and token not in found:
                found[token] = job
            return len(found) == len(wanted)

        try:
            await self._scan(min(wanted.values()), visit)
        except BaseException:
            # Put the tokens back so a later lookup tries again.
            for token, since in wanted.items():
                self._pending.setdefault(token, since)
            raise
        for token in wanted:
            self._answers[token] = found.get(token)

    async def _scan(self, earliest: float, visit: Callable[[Job], bool]) -> None:
        """Walk the job list newest first until ``visit`` says stop or the cutoff is passed."""
        cutoff: float | None = None
        older_in_a_row = scanned = 0
        try:
            jobs = self._client.jobs(backend=self._backend, page_size=self._page_size)
            async for job in jobs:
                scanned += 1
                if visit(job):
                    break
                submitted = job.submitted_at.timestamp() if job.submitted_at else None
                if submitted is not None and cutoff is None:
                    # Measured now, after the answer came: the newest job cannot be
                    # younger than this moment, so the cutoff is never too late.
                    elapsed_s = max(0.0, time.time() - earliest)
                    cutoff = submitted - elapsed_s - self._margin_s
                if submitted is not None and cutoff is not None and submitted < cutoff:
                    older_in_a_row += 1
                    if older_in_a_row >= self._stop_after_older:
                        break
                else:
                    older_in_a_row = 0
                if scanned >= self._max_scan:
                    break
            await _aclose_iterator(jobs)
        finally:
            self.scanned += scanned


async def _aclose_iterator(iterator: Any) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


class _Entry:
    """A job the poller is waiting for."""

    __slots__ = (
        "added",
        "attempt",
        "bad_answers",
        "due",
        "interval",
        "job",
        "job_id",
        "key",
        "schedule",
    )

    def __init__(self, key: int, job_id: str, job: Job | None, schedule: PollSchedule) -> None:
        self.key = key
        self.job_id = job_id
        self.job = job
        self.schedule = schedule
        self.attempt = 0
        self.due = 0.0
        self.added = 0.0
        self.interval = schedule.initial_s
        self.bad_answers = 0


class _Poller:
    """One task that refreshes every waiting job, many per request (see module docstring)."""

    def __init__(
        self,
        client: Client,
        *,
        on_terminal: Callable[[int, Job], None],
        on_error: Callable[[int, IonQError], None],
        throttle: _Throttle,
        schedule: PollSchedule | None = None,
        rng: random.Random | None = None,
        max_failing_s: float = MAX_POLL_FAILURE_S,
    ) -> None:
        self._client = client
        self._throttle = throttle
        self._on_terminal = on_terminal
        self._on_error = on_error
        self._fixed_schedule = schedule
        self._rng = rng or random.Random()
        self._entries: dict[str, _Entry] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._sequence = 0
        self._wakeup = anyio.Event()
        self._sleeping_until = math.inf
        self._typical_s: float | None = None
        self.ids_supported = True
        self.list_requests = 0
        self.single_requests = 0
        self.max_failing_s = max_failing_s
        self._failing_since: float | None = None

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def waiting_ids(self) -> list[str]:
        """Ids of the jobs still waited for."""
        return list(self._entries)

    def add(self, key: int, job_id: str, job: Job | None, *, immediate: bool = False) -> None:
        """Start waiting for a job; ``immediate`` asks about it at the next cycle."""
        backend = job.backend if job is not None else None
        schedule = self._fixed_schedule or PollSchedule.for_backend(backend)
        entry = _Entry(key, job_id, job, schedule)
        self._entries[job_id] = entry
        now = anyio.current_time()
        entry.added = now
        if immediate:
            delay = 0.0
        elif _predicted_remaining_s(job) is None and self._typical_s is not None:
            # A new job has no predictions yet; its siblings' predicted durations are the
            # best guess of when it will be done.
            delay = max(schedule.initial_s, min(self._typical_s, schedule.max_predicted_s))
        else:
            delay = schedule.delay_s(0, job, self._rng)
        entry.interval = max(delay, schedule.initial_s)
        self._schedule(entry, now + delay)

    def _schedule(self, entry: _Entry, due: float) -> None:
        entry.due = due
        self._sequence += 1
        heapq.heappush(self._heap, (due, self._sequence, entry.job_id))
        if due < self._sleeping_until:
            self._wakeup.set()

    def _take_due(self, now: float) -> list[_Entry]:
        taken: list[_Entry] = []
        heap = self._heap
        while heap:
            due, _, job_id = heap[0]
            entry = self._entries.get(job_id)
            if entry is None or entry.due != due:
                heapq.heappop(heap)  # stale: finished or rescheduled
                continue
            # Jobs due soon ride along with the ones due now: one request serves them all.
            if due > now and (due - now > 0.2 * entry.interval or not taken):
                break
            heapq.heappop(heap)
            taken.append(entry)
        return taken

    def _next_due(self) -> float:
        heap = self._heap
        while heap:
            due, _, job_id = heap[0]
            entry = self._entries.get(job_id)
            if entry is None or entry.due != due:
                heapq.heappop(heap)
                continue
            return due
        return math.inf

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            now = anyio.current_time()
            due = self._next_due()
            if due > now:
                self._wakeup = anyio.Event()
                self._sleeping_until = due
                with anyio.move_on_after(due - now if math.isfinite(due) else None):
                    await self._wakeup.wait()
                self._sleeping_until = math.inf
                continue
            entries = self._take_due(now)
            if entries:
                await self._poll(entries)

    async def _poll(self, entries: list[_Entry]) -> None:
        async with anyio.create_task_group() as group:
            if self.ids_supported:
                for chunk in _chunks(entries):
                    group.start_soon(self._poll_chunk, chunk)
            else:
                for entry in entries:
                    group.start_soon(self._poll_single, entry)

    async def _poll_chunk(self, chunk: list[_Entry]) -> None:
        ids = [entry.job_id for entry in chunk]
        self.list_requests += 1
        try:
            page = await self._throttle.call(self._client.job_page, ids=ids, limit=len(ids))
        except _FATAL_ERRORS:
            raise
        except ResponseError as error:
            # One bad item spoils the whole page: ask about these jobs one by one, so the
            # bad one fails alone and the others go on.
            logger.debug("a page of %d jobs was unreadable, asking one by one: %r", len(ids), error)
            async with anyio.create_task_group() as group:
                for entry in chunk:
                    group.start_soon(self._poll_single, entry)
            return
        except IonQError as error:
            self._failed(error, chunk)
            return
        self._failing_since = None
        requested = {entry.job_id: entry for entry in chunk}
        unrequested = 0
        for job in page.jobs:
            if job.id not in requested:
                unrequested += 1
                continue
            self._update(requested.pop(job.id), job)
        if unrequested and self.ids_supported:
            # The server listed jobs we did not ask for: it ignores ``ids``.
            logger.info("the server ignores GET /jobs?ids=; polling job by job instead")
            self.ids_supported = False
        if requested:
            async with anyio.create_task_group() as group:
                for entry in requested.values():
                    group.start_soon(self._poll_single, entry)

    async def _poll_single(self, entry: _Entry) -> None:
        self.single_requests += 1
        try:
            job = await self._throttle.call(self._client.get_job, entry.job_id)
        except _FATAL_ERRORS:
            raise
        except NotFoundError as error:
            self._entries.pop(entry.job_id, None)
            self._on_error(entry.key, error)
            return
        except ResponseError as error:
            # The server answered, but not with a job we can read: that job's own problem.
            # The server is reachable, so this is no reason to give up on the others.
            self._failing_since = None
            entry.bad_answers += 1
            if entry.bad_answers >= MAX_BAD_ANSWERS:
                self._entries.pop(entry.job_id, None)
                error.add_note(
                    f"job {entry.job_id}: {entry.bad_answers} unreadable answers in a row; "
                    "it may still run on the server"
                )
                self._on_error(entry.key, error)
            else:
                self._reschedule(entry, entry.job)
            return
        except IonQError as error:
            self._failed(error, [entry])
            return
        self._failing_since = None
        entry.bad_answers = 0
        self._update(entry, job)

    def _failed(self, error: IonQError, entries: list[_Entry]) -> None:
        """A poll got no usable answer: try again later, or give up once it has gone on
        failing for ``max_failing_s`` in a row (every request since has failed)."""
        now = anyio.current_time()
        if self._failing_since is None:
            self._failing_since = now
        failing_s = now - self._failing_since
        if failing_s < self.max_failing_s:
            logger.debug("polling %d jobs failed, will retry: %r", len(entries), error)
            for entry in entries:
                self._reschedule(entry, entry.job)
            return
        # The API has been out of reach for too long: every job still waited for ends as
        # a typed error carrying its id (it may well still run, and be billed, remotely).
        given_up = list(self._entries.values())
        logger.warning(
            "polling has failed for %.0f s in a row (%r); giving up on %d waiting jobs, "
            "which may still run on the server",
            failing_s,
            error,
            len(given_up),
        )
        self._entries.clear()
        for entry in given_up:
            last = entry.job or Job(id=entry.job_id, status=JobStatus.SUBMITTED)
            unreachable = JobUnreachableError(last, failing_s)
            unreachable.__cause__ = error
            self._on_error(entry.key, unreachable)

    def _update(self, entry: _Entry, job: Job) -> None:
        if self._entries.get(entry.job_id) is not entry:
            return
        entry.job = job
        if job.is_terminal:
            del self._entries[entry.job_id]
            self._on_terminal(entry.key, job)
            return
        if entry.attempt == 0:
            remaining = _predicted_remaining_s(job)
            if remaining is not None:
                total = anyio.current_time() - entry.added + remaining
                typical = self._typical_s
                self._typical_s = total if typical is None else 0.8 * typical + 0.2 * total
        self._reschedule(entry, job)

    def _reschedule(self, entry: _Entry, job: Job | None) -> None:
        if self._entries.get(entry.job_id) is not entry:
            return
        entry.attempt += 1
        delay = entry.schedule.delay_s(entry.attempt, job, self._rng)
        entry.interval = delay
        self._schedule(entry, anyio.current_time() + delay)


def _chunks(entries: list[_Entry]) -> Iterable[list[_Entry]]:
    chunk: list[_Entry] = []
    size = 0
    for entry in entries:
        cost = len(entry.job_id) + 5  # "ids=" and "&"
        if chunk and (len(chunk) >= MAX_IDS_PER_POLL or size + cost > MAX_POLL_URL_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(entry)
        size += cost
    if chunk:
        yield chunk


# ---------------------------------------------------------------------------------------
# The engine behind one BatchRun


def _circuit_name(circuit: Any) -> str | None:
    if isinstance(circuit, Circuit):
        return circuit.name
    if isinstance(circuit, Mapping):
        name = circuit.get("name")
        return name if isinstance(name, str) else None
    return None


def _circuit_input(circuit: Any) -> Any:
    if isinstance(circuit, Circuit):
        return circuit.to_json()
    return circuit


def _as_circuit(circuit: Any) -> Circuit:
    if isinstance(circuit, Circuit):
        return circuit
    if isinstance(circuit, Mapping):
        return Circuit.from_json(circuit)
    raise CircuitError(f"expected a Circuit or an input mapping, got {type(circuit).__name__}")


def _fingerprint(inputs: Sequence[Any], options: Mapping[str, Any], units: Sequence[_Unit]) -> str:
    """A hash naming the batch: its circuits, options and grouping into jobs."""
    digest = hashlib.sha256()
    digest.update(json.dumps(options, sort_keys=True, default=repr).encode())
    digest.update(json.dumps([list(u.indices) for u in units]).encode())
    for item in inputs:
        digest.update(b"\x00")
        digest.update(json.dumps(item, sort_keys=True, default=repr).encode())
    return digest.hexdigest()


_Finished = tuple[int, "Job | IonQError"]
"""A unit whose job ended (or could not be polled): its number and the job or the error."""

FINISHERS: Final = 64
"""Tasks per batch that turn ended jobs into outcomes (fetching their results)."""


class _Engine:
    """The state and workers of one batch; owned by the supervisor task of a BatchRun."""

    def __init__(
        self,
        client: Client,
        *,
        circuits: Sequence[Any] | None,
        jobs: Sequence[Job | str] | None,
        options: Mapping[str, Any],
        concurrency: int,
        max_in_flight: int,
        journal_path: str | None,
        cancel_remote: bool,
        pack: bool | PackLimits,
        progress: Callable[[BatchProgress], None] | None,
        send: MemoryObjectSendStream[Outcome],
        timeout_s: float | None = None,
        max_poll_failure_s: float = MAX_POLL_FAILURE_S,
    ) -> None:
        if concurrency < 1 or max_in_flight < 1:
            raise ConfigurationError("concurrency and max_in_flight must be at least 1")
        for name, value in (("timeout_s", timeout_s), ("max_poll_failure_s", max_poll_failure_s)):
            if value is not None and not (
                isinstance(value, int | float) and math.isfinite(value) and value > 0
            ):
                raise ConfigurationError(
                    f"{name} must be a positive number of seconds, got {value!r}"
                )
        self.timeout_s = timeout_s
        self.client = client
        self.circuits: Sequence[Any] = circuits if circuits is not None else ()
        self.given_jobs: Sequence[Job | str] = jobs if jobs is not None else ()
        self.options = dict(options)
        self.backend: str = str(self.options.get("backend", "simulator"))
        self.limiter = AdaptiveLimiter(concurrency, cooldown_s=0.2)
        self.in_flight = anyio.Semaphore(max_in_flight)
        self.journal_path = journal_path
        self.journal: Journal | None = None
        self.cancel_remote = cancel_remote
        self.pack_limits: PackLimits | None = (
            pack if isinstance(pack, PackLimits) else (PackLimits() if pack else None)
        )
        self.progress_callback = progress
        self.send = send
        self.total = len(self.circuits) if circuits is not None else len(self.given_jobs)
        self.units: list[_Unit] = []
        self.finished_units: set[int] = set()
        self.remaining = self.total
        self.all_done = anyio.Event()
        self.submitted = self.waiting = self.completed = self.failed = 0
        self.started_at = time.time()
        self.started_monotonic = time.monotonic()
        self.resolver = _TokenResolver(client, backend=self.backend)
        self.throttle = _throttle_for(client)
        self.poller = _Poller(
            client,
            on_terminal=self._on_terminal,
            on_error=self._on_poll_error,
            throttle=self.throttle,
            max_failing_s=max_poll_failure_s,
        )
        self.group: anyio.abc.TaskGroup | None = None
        self._finish_send: MemoryObjectSendStream[_Finished] | None = None
        self.rate_limit_events = 0
        self.duplicates_canceled = 0
        self._duplicates_of: dict[int, tuple[str, ...]] = {}
        self._emitted: set[int] = set()
        self._submitted_indices: set[int] = set()

    def _mark_submitted(self, unit: _Unit) -> None:
        self.submitted += len(unit.indices)
        self.waiting += len(unit.indices)
        self._submitted_indices.update(unit.indices)

    # -- progress ---------------------------------------------------------------------------

    def snapshot(self) -> BatchProgress:
        """The progress so far."""
        return BatchProgress(
            total=self.total,
            submitted=self.submitted,
            waiting=self.waiting,
            completed=self.completed,
            failed=self.failed,
            started_at=self.started_at,
            elapsed_s=time.monotonic() - self.started_monotonic,
            duplicates_canceled=self.duplicates_canceled,
        )

    def _changed(self) -> None:
        if self.progress_callback is not None:
            self.progress_callback(self.snapshot())

    # -- the whole run ------------------------------------------------------------------------

    async def run(self) -> None:
        """Submit, poll and stream until every circuit has an outcome."""
        hook = self._on_rate_limited
        _subscribe_rate_limit(self.client, hook)
        self.throttle.attach()
        finish_send, finish_receive = anyio.create_memory_object_stream[_Finished](math.inf)
        self._finish_send = finish_send
        try:
            with finish_send, finish_receive:
                await self._run_workers(finish_receive)
        finally:
            self._finish_send = None
            _unsubscribe_rate_limit(self.client, hook)
            self.throttle.detach()
            self.send.close()
            try:
                if self.cancel_remote and self.remaining:
                    await self._cancel_unfinished()
            finally:
                if self.journal is not None:
                    self.journal.close()

    async def _run_workers(self, finished: MemoryObjectReceiveStream[_Finished]) -> None:
        with anyio.move_on_after(self.timeout_s) as deadline:
            await self._work(finished)
        if deadline.cancelled_caught:
            await self._time_out()

    async def _time_out(self) -> None:
        """``timeout_s`` ran out: every circuit without an outcome gets a typed one.

        A circuit with a job gets WaitTimeoutError (the job is left running unless
        ``cancel_remote``); one without gets BatchTimeoutError (naming its token when its
        creation was under way, since a job may then exist).
        """
        timeout_s = self.timeout_s or 0.0
        canceled = False
        if self.cancel_remote:
            await self._cancel_unfinished()
            canceled = True
        unit_of: dict[int, _Unit] = {}
        for unit in self.units:
            for index in unit.indices:
                unit_of[index] = unit
        for index in range(self.total):
            if index in self._emitted:
                continue
            owner = unit_of.get(index)
            job: Job | None = None
            error: IonQError
            if owner is not None and owner.job_id is not None:
                job = owner.job or Job(id=owner.job_id, status=JobStatus.SUBMITTED)
                error = WaitTimeoutError(job, timeout_s)
                if canceled:
                    error.add_note(f"cancel_remote: job {job.id} was asked to cancel")
                else:
                    error.add_note(
                        f"job {job.id} may still run on the server: "
                        f"client.cancel({job.id!r}) stops it, client.result({job.id!r}) "
                        "fetches it later"
                    )
            else:
                token = owner.token if owner is not None else None
                error = BatchTimeoutError(index, timeout_s, token=token)
            await self._emit(index, job, None, error)

    async def _work(self, finished: MemoryObjectReceiveStream[_Finished]) -> None:
        async with anyio.create_task_group() as group:
            self.group = group
            group.start_soon(self.poller.run)
            # A few finishers fetch the results of the jobs that end: 10,000 jobs ending
            # at once wait as 10,000 small tuples, not as 10,000 tasks.
            for _ in range(FINISHERS):
                group.start_soon(self._finisher, finished)
            if self.total:
                if self.given_jobs:
                    await self._feed_jobs()
                else:
                    await self._feed_circuits()
                await self.all_done.wait()
            group.cancel_scope.cancel()

    async def _watch_for_duplicates(self, unit: _Unit) -> None:
        """After a re-send, look for a first attempt stored late, a few times, and cancel it."""
        delay = LATE_STORE_GRACE_S
        for _ in range(DUPLICATE_WATCHES):
            await anyio.sleep(delay)
            if unit.number in self.finished_units:
                return
            await self._cancel_duplicates(unit)
            delay *= 2

    async def _cancel_duplicates(self, unit: _Unit) -> None:
        """Cancel every other job that carries this unit's token; count and log each."""
        if unit.token is None or unit.job_id is None:
            return
        try:
            jobs = await self.resolver.find_every(unit.token, unit.first_at or unit.token_at)
        except _FATAL_ERRORS:
            raise
        except IonQError as error:
            logger.warning(
                "unit %d: looking for a duplicate of job %s failed: %r",
                unit.number,
                unit.job_id,
                error,
            )
            return
        for job in jobs:
            if job.id == unit.job_id or job.id in unit.duplicates:
                continue
            unit.duplicates.append(job.id)
            self.duplicates_canceled += 1
            for index in unit.indices:
                self._duplicates_of[index] = tuple(unit.duplicates)
            self._changed()
            logger.warning(
                "unit %d: job %s is a late-stored first attempt of job %s; canceling it",
                unit.number,
                job.id,
                unit.job_id,
            )
            if job.is_terminal:
                continue
            try:
                await self.client.cancel(job.id)
            except _FATAL_ERRORS:
                raise
            except IonQError as error:
                logger.warning("canceling duplicate job %s failed: %r", job.id, error)

    async def _finisher(self, finished: MemoryObjectReceiveStream[_Finished]) -> None:
        async for key, item in finished:
            unit = self.units[key]
            if unit.resent:
                # One last look before the outcome is made, so that it can name them.
                await self._cancel_duplicates(unit)
            if isinstance(item, Job):
                await self._finish(key, item)
            else:
                await self._finish_with_error(key, item)

    async def _cancel_unfinished(self) -> None:
        """Cancel, with the bulk endpoint, every job of this batch that has not finished.

        That is the jobs being waited for and also those whose creation was under way
        when the batch stopped (the request may have created the job although its answer
        never came): their tokens are looked up first, in one sweep. Shielded, and given
        at most 10 seconds.
        """
        ids = list(self.poller.waiting_ids)
        unanswered = [
            unit
            for unit in self.units
            if unit.token is not None
            and unit.job_id is None
            and unit.number not in self.finished_units
        ]
        if not ids and not unanswered:
            return
        with anyio.CancelScope(shield=True), anyio.move_on_after(10.0):
            try:
                # The jobs known to be waiting first: a slow token sweep must not use up
                # the time they need.
                if ids:
                    await self.client.cancel_many(ids)
                found = await self.resolver.find_all(_token_lookups(unanswered))
                more = [job.id for job in found if job is not None and not job.is_terminal]
                if more:
                    ids.extend(more)
                    await self.client.cancel_many(more)
            except IonQError as error:
                logger.warning("cancelling %d unfinished jobs failed: %r", len(ids), error)

    # -- as_completed: jobs made elsewhere --------------------------------------------------------

    async def _feed_jobs(self) -> None:
        for index, item in enumerate(self.given_jobs):
            unit = _Unit(index, (index,))
            self.units.append(unit)
            await self.in_flight.acquire()
            self._mark_submitted(unit)
            if isinstance(item, Job):
                unit.job_id, unit.job = item.id, item
                if item.is_terminal:
                    self._on_terminal(index, item)
                    continue
                self.poller.add(index, item.id, item, immediate=True)
            else:
                unit.job_id = str(item)
                self.poller.add(index, unit.job_id, None, immediate=True)
        self._changed()

    # -- run_many: circuits ---------------------------------------------------------------------

    def _plan(self) -> tuple[list[_Unit], list[tuple[int, CircuitError]]]:
        if self.pack_limits is None:
            # One job per circuit; submit() checks each circuit as it goes.
            units = [_Unit(index, (index,)) for index in range(len(self.circuits))]
            return units, []
        # Packed: check every circuit first, so one bad circuit cannot sink its pack.
        invalid: list[tuple[int, CircuitError]] = []
        valid: list[int] = []
        sizes: list[tuple[int, int]] = []
        for index, circuit in enumerate(self.circuits):
            try:
                parsed = _as_circuit(circuit)
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
        groups = [tuple(valid[i] for i in pack) for pack in plan_packs(sizes, self.pack_limits)]
        return [_Unit(number, indices) for number, indices in enumerate(groups)], invalid

    async def _feed_circuits(self) -> None:
        units, invalid = self._plan()
        self.units = units
        for index, error in invalid:
            await self._emit(index, None, None, error)
        if not units:
            return
        to_submit: list[_Unit] = list(units)
        if self.journal_path is not None:
            to_submit = await self._open_journal(units, {i for i, _ in invalid})
        self._changed()
        assert self.group is not None
        for unit in to_submit:
            await self.in_flight.acquire()
            await self.limiter.acquire()
            self.group.start_soon(self._submit, unit)

    async def _open_journal(self, units: list[_Unit], invalid: set[int]) -> list[_Unit]:
        inputs = []
        for index, circuit in enumerate(self.circuits):
            inputs.append(None if index in invalid else _circuit_input(circuit))
        batch = _fingerprint(inputs, {**self.options, "pack": bool(self.pack_limits)}, units)
        assert self.journal_path is not None
        # Locked for the batch's life (another run of it gets JournalError) and closed in
        # run()'s finally; a cancelled open closes the journal itself.
        journal = await Journal.open_async(self.journal_path, batch=batch, units=len(units))
        self.journal = journal
        state = journal.state
        to_submit: list[_Unit] = []
        # Units with a job id: wait for them. Units with only a token: the crash came
        # between sending and recording, so look the token up before sending it again.
        lookups: list[_Unit] = []
        for unit in units:
            record = state.tokens.get(unit.number)
            if record is not None:
                unit.token, unit.token_at = record.token, record.at
                unit.resumed_token = True
            job_id = state.job_ids.get(unit.number)
            if job_id is not None:
                unit.job_id = job_id
                await self.in_flight.acquire()
                self._mark_submitted(unit)
                self.poller.add(unit.number, job_id, None, immediate=True)
            elif record is not None:
                lookups.append(unit)
            else:
                to_submit.append(unit)
        # Every pending token joins one sweep: look them up together, then submit the rest.
        resumed: list[_Unit] = []
        found = await self.resolver.find_all(_token_lookups(lookups))
        for unit, job in zip(lookups, found, strict=True):
            if job is None:
                resumed.append(unit)
                continue
            await self.in_flight.acquire()
            await self._adopt(unit, job)
        return resumed + to_submit

    async def _adopt(self, unit: _Unit, job: Job) -> None:
        unit.job_id, unit.job = job.id, job
        if self.journal is not None and unit.token is not None:
            await self.journal.record_job(unit.number, unit.token, job.id)
        self._mark_submitted(unit)
        self._changed()
        self.poller.add(unit.number, job.id, job)

    def _payload_circuit(self, unit: _Unit) -> Any:
        if len(unit.indices) == 1:
            return self.circuits[unit.indices[0]]
        return [_as_circuit(self.circuits[i]) for i in unit.indices]

    async def _submit(self, unit: _Unit) -> None:
        holding_limiter = True
        try:
            job = await self._create(unit)
            self.limiter.release()
            holding_limiter = False
            self.limiter.on_success()
            await self._adopt(unit, job)
            if unit.resent and self.group is not None:
                self.group.start_soon(self._watch_for_duplicates, unit)
        except _FATAL_ERRORS:
            raise
        except IonQError as error:
            for index in unit.indices:
                await self._emit(index, None, None, error)
            self._unit_finished(unit)
        finally:
            if holding_limiter:
                self.limiter.release()

    async def _create(self, unit: _Unit) -> Job:
        """Create the unit's job exactly once, looking its token up after ambiguous failures."""
        if unit.token is None:
            unit.token = uuid.uuid4().hex
        token = unit.token
        metadata = dict(self.options.get("metadata") or {})
        metadata[TOKEN_METADATA_KEY] = token
        options = {k: v for k, v in self.options.items() if k != "metadata"}
        circuit = self._payload_circuit(unit)

        async def create_once() -> Job:
            unit.token_at = time.time()
            if unit.first_at is None:
                unit.first_at = unit.token_at
            if self.journal is not None:
                await self.journal.record_token(
                    TokenRecord(
                        unit=unit.number, indices=unit.indices, token=token, at=unit.token_at
                    )
                )
            return await self.throttle.call(
                self.client.submit, circuit, metadata=metadata, **options
            )

        async def look_up(error: TransportError | ServerError) -> Job | None:
            if not _is_ambiguous(error):
                return None  # a 429 or a connection never opened: nothing was created
            found = await self.resolver.find(token, unit.token_at)
            if found is None:
                # The answer may be lost while the server is still storing the job: give it
                # a grace period before sending the circuit again.
                await anyio.sleep(LATE_STORE_GRACE_S)
                found = await self.resolver.find(token, unit.first_at or unit.token_at)
            if found is not None:
                logger.debug("unit %d: job %s found by token", unit.number, found.id)
                return found
            # Sent again with the same token; a first attempt stored later still is watched
            # for (and canceled) by _watch_for_duplicates / _cancel_duplicates.
            unit.resent = True
            return None

        return await self._patiently(create_once, after_failure=look_up)

    async def _patiently(
        self,
        once: Callable[[], Awaitable[T]],
        *,
        after_failure: Callable[[TransportError | ServerError], Awaitable[T | None]] | None = None,
    ) -> T:
        """``once()`` again after failures that outlast the transport's own retries.

        As patient as the client's retry policy is with any one request: 429s see
        :meth:`_after_refusal`; 5xx and connection failures first ask ``after_failure``
        (job creation looks its token up there; an answer ends the loop), then back off.
        """
        max_attempts = max(1, self.client.transport.retry_policy.max_attempts)
        attempt: float = 0
        while True:
            attempt += 1
            served_before = _served(self.client)
            try:
                return await once()
            except RateLimitError as error:
                attempt = self._after_refusal(error, attempt, max_attempts, served_before)
            except (TransportError, ServerError) as error:
                if after_failure is not None:
                    found = await after_failure(error)
                    if found is not None:
                        return found
                if attempt >= max_attempts:
                    raise
                await anyio.sleep(_create_backoff_s(self.client, math.ceil(attempt)))

    # -- finishing --------------------------------------------------------------------------------

    async def _fetch(
        self, function: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """A GET for a finished job, as patient as job creation (:meth:`_patiently`).

        The job is done on the server: a 429, 5xx or lost connection that outlasts the
        transport's own retries must not turn it into a failed outcome.
        """
        return await self._patiently(lambda: self.throttle.call(function, *args, **kwargs))

    def _after_refusal(
        self, error: RateLimitError, attempt: float, max_attempts: int, served_before: int
    ) -> float:
        """The attempt a 429 that outlasted the transport's retries counts as.

        The transport's gate holds the next attempt back (its listener told the limiter).
        If other requests of the client got through meanwhile, the server is rationing, not
        refusing: this one is only waiting its turn, and the round counts as a fraction of
        an attempt (``1 / _RATIONED_ROUNDS_PER_ATTEMPT``): patience is long, not endless.
        Raises ``error`` once the budget is spent, and at once when the server asks for a
        wait no request of the client's policy would make (``Retry-After`` beyond the
        retry budget): asking again would only collect the same refusal.
        """
        if retry_after_beyond_budget(error.retry_after, self.client.transport.retry_policy):
            raise error
        if _served(self.client) > served_before:
            attempt -= 1 - 1 / _RATIONED_ROUNDS_PER_ATTEMPT
        if attempt >= max_attempts:
            raise error
        # No sleep of our own: the 429 closed the transport's gate for its Retry-After, and
        # the next attempt waits there with every other request of the client.
        return attempt

    def _on_rate_limited(self, *_: Any) -> None:
        self.rate_limit_events += 1
        # Shrink only when 429s are a real share of the answers (a server limiting our
        # rate), as the pacer does: halving for each odd 429 a server sends whatever the
        # rate would hold a batch near one creation in flight.
        if self.throttle.is_limiting():
            self.limiter.on_rate_limited()

    def _on_terminal(self, key: int, job: Job) -> None:
        assert self._finish_send is not None
        self._finish_send.send_nowait((key, job))

    def _on_poll_error(self, key: int, error: IonQError) -> None:
        assert self._finish_send is not None
        self._finish_send.send_nowait((key, error))

    async def _finish_with_error(self, key: int, error: IonQError) -> None:
        unit = self.units[key]
        for index in unit.indices:
            await self._emit(index, unit.job, None, error)
        self._unit_finished(unit)

    async def _finish(self, key: int, job: Job) -> None:
        unit = self.units[key]
        unit.job = job
        packed = len(unit.indices) > 1
        try:
            if packed and job.status is not JobStatus.COMPLETED:
                # One bad circuit fails the whole parent: ask each child what became of it.
                await self._finish_children(unit, job)
            elif job.status is JobStatus.FAILED:
                await self._emit_all(unit, job, JobFailed(job))
            elif job.status is JobStatus.CANCELED:
                await self._emit_all(unit, job, JobCanceled(job))
            elif packed:
                await self._finish_packed(unit, job)
            else:
                index = unit.indices[0]
                try:
                    probabilities = await self._fetch(
                        self.client._probabilities, job, num_qubits=self._width(index, job)
                    )
                except InvalidRequestError as error:
                    # Raised for what the job's own answer says (a parent, a dry run), not
                    # for anything the caller passed: this circuit's outcome, not the batch's.
                    await self._emit(index, job, None, error)
                else:
                    result = Result(job=job, probabilities=probabilities, shots=self._shots(job))
                    await self._emit(index, job, result, None)
        except _FATAL_ERRORS:
            raise
        except IonQError as error:
            await self._emit_all(unit, job, error)
        self._unit_finished(unit)

    async def _children_of(self, unit: _Unit, job: Job) -> list[str]:
        children = list(job.child_job_ids or ())
        if len(children) != len(unit.indices):
            # List items leave child_job_ids out; the job itself has them.
            children = list((await self._fetch(self.client.get_job, job.id)).child_job_ids or ())
        if len(children) != len(unit.indices):
            raise ResponseError(
                f"job {job.id} has {len(children)} children for {len(unit.indices)} circuits"
            )
        return children

    async def _finish_children(self, unit: _Unit, parent: Job) -> None:
        """Outcomes of a failed or canceled parent, one per child as if run alone."""
        error_of_parent: IonQError = (
            JobFailed(parent) if parent.status is JobStatus.FAILED else JobCanceled(parent)
        )
        children = await self._children_of(unit, parent)
        states = {listed.id: listed for listed in await self._fetch(self._children_listed, parent)}
        for index, child_id in zip(unit.indices, children, strict=True):
            child = states.get(child_id)
            if child is None:
                await self._emit(index, parent, None, error_of_parent)
            elif child.status is JobStatus.CANCELED:
                await self._emit(index, parent, None, JobCanceled(child))
            elif child.status is JobStatus.FAILED:
                await self._emit(index, parent, None, JobFailed(child))
            elif child.status is JobStatus.COMPLETED:
                try:
                    # The circuit's own width, as _child_job gives it.
                    probabilities = await self._fetch(
                        self.client._probabilities, child, num_qubits=self._width(index, child)
                    )
                except InvalidRequestError as error:
                    # The child's answer calls it a parent or a dry run: its own outcome.
                    await self._emit(index, parent, None, error)
                except _FATAL_ERRORS:
                    raise
                except IonQError as error:
                    _note_finished_job(error, child)
                    await self._emit(index, parent, None, error)
                else:
                    shots = self._shots(parent)
                    result = Result(job=child, probabilities=probabilities, shots=shots)
                    await self._emit(index, parent, result, None)
            else:
                await self._emit(index, parent, None, error_of_parent)

    async def _children_listed(self, parent: Job) -> list[Job]:
        return [job async for job in self.client.jobs(parent_job_id=parent.id, page_size=1000)]

    def _width(self, index: int, job: Job) -> int | None:
        """The width results of circuit ``index`` are checked against: the circuit's as sent
        (trusted over the answer's ``stats``), else the job's own."""
        if self.circuits:
            return _as_circuit(self.circuits[index]).num_qubits
        return job_width(job)

    def _shots(self, job: Job) -> int | None:
        """The job's shots as its answer gives them, else as asked; ResponseError if < 1."""
        if job.shots is not None:
            if job.shots < 1:
                raise ResponseError(f"job {job.id} reports {job.shots} shots", body=job.shots)
            return job.shots
        shots = self.options.get("shots")
        # NumPy integers too (numbers.Integral), as submit() accepts them.
        if isinstance(shots, numbers.Integral) and not isinstance(shots, bool):
            return int(shots)
        return None

    async def _emit_all(self, unit: _Unit, job: Job | None, error: IonQError) -> None:
        for index in unit.indices:
            await self._emit(index, job, None, error)

    async def _finish_packed(self, unit: _Unit, job: Job) -> None:
        # Each child's answer is read on its own: a bad one fails its circuit alone.
        by_child = await self._fetch(self.client._child_probabilities, job)
        children = list(job.child_job_ids or ())
        if len(children) != len(unit.indices):
            # The aggregated answer lists children in circuit order (as qiskit and cirq
            # rely on); ask the parent only if the count does not match.
            if len(by_child) == len(unit.indices):
                children = list(by_child)
            else:
                children = await self._children_of(unit, job)
        shots = self._shots(job)
        for index, child_id in zip(unit.indices, children, strict=True):
            answer = by_child.get(child_id)
            if isinstance(answer, ResponseError):
                await self._emit(index, job, None, answer)
                continue
            if answer is not None:
                child = self._child_job(job, child_id, index)
                try:
                    # The circuit's own width: the parent's is the widest circuit's.
                    width = child.stats.qubits if child.stats is not None else None
                    validate_probabilities(answer, num_qubits=width, job_id=child_id)
                except ResponseError as invalid:
                    await self._emit(index, job, None, invalid)
                else:
                    result = Result(job=child, probabilities=answer, shots=shots)
                    await self._emit(index, job, result, None)
                continue
            error: IonQError
            try:
                child = await self._fetch(self.client.get_job, child_id)
            except _FATAL_ERRORS:
                raise
            except IonQError as lookup_error:
                error = lookup_error
            else:
                if child.status is JobStatus.FAILED:
                    error = JobFailed(child)
                elif child.status is JobStatus.CANCELED:
                    error = JobCanceled(child)
                else:
                    error = ResponseError(f"no probabilities for child job {child_id}")
            await self._emit(index, job, None, error)

    def _child_job(self, parent: Job, child_id: str, index: int) -> Job:
        """The child job of a completed pack that ran circuit ``index``, without asking.

        Its width is the circuit's own (the parent's is the widest circuit's), so the
        result's bitstrings are as long as they would be had the circuit run alone.
        """
        circuit = _as_circuit(self.circuits[index])
        return Job(
            id=child_id,
            status=JobStatus.COMPLETED,
            type=CIRCUIT_TYPE,
            backend=parent.backend,
            name=circuit.name,
            parent_job_id=parent.id,
            session_id=parent.session_id,
            shots=parent.shots,
            noise=parent.noise,
            submitted_at=parent.submitted_at,
            completed_at=parent.completed_at,
            stats=JobStats(qubits=circuit.num_qubits, circuits=1),
        )

    async def _emit(
        self, index: int, job: Job | None, result: Result | None, error: IonQError | None
    ) -> None:
        """Deliver one circuit's outcome to the consumer's stream, then count it.

        An outcome counts (in progress and towards the end of the batch) only once the
        stream holds it. Counting before the send let the batch end, and cancel sends
        still waiting behind a slow consumer, as soon as the *last count* was made: the
        first send to finish after it set ``all_done`` while others were still queued, and
        their outcomes were lost. Now the batch ends when the last delivery is made.
        """
        if index in self._emitted:
            return
        self._emitted.add(index)
        circuit = self.circuits[index] if self.circuits else None
        name = _circuit_name(circuit) if circuit is not None else (job.name if job else None)
        outcome = Outcome(
            index=index,
            name=name,
            circuit=circuit,
            job=job,
            result=result,
            error=error,
            duplicates_canceled=self._duplicates_of.get(index, ()),
        )
        if error is not None:
            _note_finished_job(error, job)
        try:
            await self.send.send(outcome)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            # The consumer is gone: nobody wants the rest.
            if self.group is not None:
                self.group.cancel_scope.cancel()
            return
        except BaseException:
            # Cancelled before the stream took it (the batch is stopping or timed out):
            # not delivered, so not emitted; a timeout gives this circuit its outcome.
            self._emitted.discard(index)
            raise
        if index in self._submitted_indices:
            self.waiting -= 1
        if error is None:
            self.completed += 1
        else:
            self.failed += 1
        self.remaining -= 1
        self._changed()
        if self.remaining <= 0:
            self.all_done.set()

    def _unit_finished(self, unit: _Unit) -> None:
        if unit.number not in self.finished_units:
            self.finished_units.add(unit.number)
            self.in_flight.release()


def _token_lookups(units: Iterable[_Unit]) -> list[tuple[str, float]]:
    """``(token, attempt time)`` of units that have a token, for the resolver."""
    return [(unit.token, unit.token_at) for unit in units if unit.token is not None]


def _note_finished_job(error: IonQError, job: Job | None) -> None:
    """Say where a completed job's results are when only fetching them failed."""
    if job is None or job.status is not JobStatus.COMPLETED:
        return
    if isinstance(error, JobFailed | JobCanceled):
        # A completed parent whose circuit's own child job failed: nothing to fetch.
        return
    if job.is_parent:
        how = f"client.aggregated_probabilities({job.id!r})"
    else:
        how = f"client.result({job.id!r})"
    note = f"job {job.id} completed on the server: {how} fetches it later"
    if note not in getattr(error, "__notes__", ()):
        error.add_note(note)


_RATIONED_ROUNDS_PER_ATTEMPT = 8
"""Rounds of 429s while other requests are served that count as one attempt."""


def _served(client: Client) -> int:
    """How many of the client's requests have been answered with a 2xx."""
    return client.stats.succeeded


def _create_backoff_s(client: Client, attempt: int) -> float:
    # The client's own retry policy (tests set it to zero) paces re-sent creations.
    policy = client.transport.retry_policy
    return backoff_s(attempt, policy, random.Random())


def _subscribe_rate_limit(client: Client, callback: Callable[[RateLimitEvent], None]) -> None:
    """Hear of every 429 the client's transport sees (from any request)."""
    client.transport.rate_limit_listeners.append(callback)


def _unsubscribe_rate_limit(client: Client, callback: Callable[[RateLimitEvent], None]) -> None:
    with contextlib.suppress(ValueError):
        client.transport.rate_limit_listeners.remove(callback)


# ---------------------------------------------------------------------------------------
# The handle


class _Shared:
    """What the supervisor task and the handle share (never the handle itself)."""

    __slots__ = ("engine", "error", "receive", "task")

    def __init__(self, engine: _Engine, receive: MemoryObjectReceiveStream[Outcome]) -> None:
        self.engine = engine
        self.receive = receive
        self.task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None


async def _supervise(shared: _Shared) -> None:
    try:
        await shared.engine.run()
    except anyio.get_cancelled_exc_class():
        raise
    except BaseException as error:  # stored and raised to the consumer by the handle
        shared.error = _unwrap_group(error)


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _unwrap_group(error: BaseException) -> BaseException:
    """The one error a consumer should see for a batch's failure.

    Several workers often fail at once for the same reason (a rejected key: every
    creation in flight gets its 401): the consumer gets the first of them, so that
    ``except AuthenticationError`` works, with a note saying how many more there were. A
    group holding anything but IonQErrors (a bug) is passed on whole.
    """
    cancelled = anyio.get_cancelled_exc_class()
    leaves = [leaf for leaf in _leaves(error) if not isinstance(leaf, cancelled)]
    if not leaves:
        return error
    if len(leaves) == 1:
        return leaves[0]
    if all(isinstance(leaf, IonQError) for leaf in leaves):
        first = leaves[0]
        first.add_note(f"{len(leaves) - 1} more request(s) of the batch failed at the same time")
        return first
    return error


def _abandon(shared: _Shared) -> None:
    # The consumer dropped the handle without closing it: stop the work. The supervisor
    # cleans up on its own from here (and Client.aclose waits for it).
    task = shared.task
    if task is None:
        shared.engine.send.close()
        shared.receive.close()
        return
    loop = task.get_loop()
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _stop(shared)
        return
    # The garbage collector may run this in any thread; tasks and streams belong to
    # their loop's thread.
    with contextlib.suppress(RuntimeError):  # that loop is closed: nothing runs any more
        loop.call_soon_threadsafe(_stop, shared)


def _stop(shared: _Shared) -> None:
    task = shared.task
    if task is not None and not task.done():
        task.cancel()
    shared.receive.close()


async def _await_to_the_end(task: asyncio.Task[None]) -> None:
    """Wait for ``task`` to finish even if we are being cancelled; re-raise that after."""
    cancelled: BaseException | None = None
    with anyio.CancelScope(shield=True):
        while not task.done():
            try:
                await asyncio.wait([task])
            except asyncio.CancelledError as error:
                cancelled = error
    if cancelled is not None:
        raise cancelled


class BatchRun:
    """The outcomes of a batch: an async iterator and an async context manager.

    ``async for outcome in client.run_many(...)`` yields one :class:`Outcome` per circuit
    in completion order. Leaving the loop (``break``, an exception) stops every request of
    the batch as the handle is dropped; so do cancelling the consuming task, ``await
    run.aclose()`` and closing the client (a consumer still iterating then gets
    ClientClosedError). The batch works ahead of its consumer, so a handle kept in a
    variable keeps submitting after a ``break``: keep one only inside ``async with
    client.run_many(...) as run:``, which closes on exit. :attr:`progress` gives the
    counts at any time.
    """

    def __init__(self, engine: _Engine, receive: MemoryObjectReceiveStream[Outcome]) -> None:
        self._shared = _Shared(engine, receive)
        self._closed = False
        self._finalizer = weakref.finalize(self, _abandon, self._shared)

    @property
    def progress(self) -> BatchProgress:
        """Counts of submitted, waiting, completed and failed circuits so far."""
        return self._shared.engine.snapshot()

    @property
    def job_ids(self) -> dict[int, str]:
        """The job id of every circuit that has a job so far, by circuit index.

        Circuits packed together share their parent's id. After a stop or timeout, the
        ids of circuits without an outcome are the jobs left running on the server.
        """
        ids: dict[int, str] = {}
        for unit in self._shared.engine.units:
            if unit.job_id is not None:
                for index in unit.indices:
                    ids[index] = unit.job_id
        return ids

    @property
    def journal(self) -> Journal | None:
        """The batch's journal, once opened."""
        return self._shared.engine.journal

    def _start(self) -> None:
        shared = self._shared
        if shared.task is None:
            # One task the handle owns and always awaits (aclose/__aexit__/cancellation).
            # An anyio task group cannot span the consumer's separate __anext__ calls.
            shared.task = asyncio.get_running_loop().create_task(_supervise(shared))
            _register(shared.engine.client, shared)

    async def __aenter__(self) -> Self:
        self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Outcome:
        if self._closed:
            raise StopAsyncIteration
        self._start()
        try:
            return await self._shared.receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            await self.aclose()
            if self._shared.error is not None:
                error = self._shared.error
                # Its own cause (a journal's OSError, aiohttp's error) stays; the end of
                # the stream that brought it here is no part of the story.
                raise error from error.__cause__
            raise StopAsyncIteration from None
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Stop the batch (if still running) and wait until all its work has ended."""
        if self._closed:
            return
        self._closed = True
        self._finalizer.detach()
        task = self._shared.task
        if task is None:
            self._shared.engine.send.close()
        else:
            if not task.done():
                task.cancel()
            await _await_to_the_end(task)
        self._shared.receive.close()


_live_batches: weakref.WeakKeyDictionary[Any, set[_Shared]] = weakref.WeakKeyDictionary()


def _register(client: Any, shared: _Shared) -> None:
    try:
        batches = _live_batches.setdefault(client, set())
    except TypeError:  # a client that cannot be weakly referenced
        return
    batches.add(shared)
    assert shared.task is not None
    shared.task.add_done_callback(lambda _task: batches.discard(shared))


# ---------------------------------------------------------------------------------------
# The mixin


class BatchMethods:
    """Batch methods mixed into Client: wait, run, run_many, as_completed, gather."""

    def _client(self) -> Client:
        # BatchMethods exists only as a base of Client; this gives its methods the type.
        return cast("Client", self)

    async def wait(
        self,
        job: Job | str,
        *,
        timeout_s: float | None = None,
        cancel_on_timeout: bool = False,
        schedule: PollSchedule | None = None,
    ) -> Job:
        """Wait until the job is completed; raise JobFailed, JobCanceled or WaitTimeoutError.

        Polls ``GET /jobs/{id}`` on ``schedule`` (default: short for the simulator,
        patient for QPUs; predicted times are used when the job has them). A local
        timeout raises WaitTimeoutError with the last state seen and leaves the remote
        job running unless ``cancel_on_timeout``.
        """
        client = self._client()
        rng = random.Random()
        current: Job | None = job if isinstance(job, Job) else None
        job_id = job.id if isinstance(job, Job) else str(job)
        with anyio.move_on_after(timeout_s) as scope:
            if current is None:
                current = await client.get_job(job_id)
            attempt = 0
            while not current.is_terminal:
                plan = schedule or PollSchedule.for_backend(current.backend)
                await _poll_sleep(plan.delay_s(attempt, current, rng))
                current = await client.get_job(job_id)
                attempt += 1
        if scope.cancelled_caught or current is None or not current.is_terminal:
            last = current or Job(id=job_id, status=JobStatus.SUBMITTED)
            timed_out = WaitTimeoutError(last, timeout_s or 0.0)
            if cancel_on_timeout:
                with anyio.CancelScope(shield=True):
                    try:
                        await client.cancel(job_id)
                    except IonQError as error:
                        # The timeout is what happened; the failed cancel is a detail of it.
                        timed_out.add_note(f"cancelling job {job_id} failed: {error}")
            raise timed_out
        if current.status is JobStatus.FAILED:
            raise JobFailed(current)
        if current.status is JobStatus.CANCELED:
            raise JobCanceled(current)
        return current

    async def run(self, circuit: Any, **options: Any) -> Result:
        """Submit one circuit, wait for it, and return its Result (submit, wait, fetch).

        Takes :meth:`submit`'s options. Like :meth:`run_many` the creation carries a
        token, so an ambiguous failure never leads to a second job.
        """
        async with self.run_many([circuit], concurrency=1, max_in_flight=1, **options) as run:
            # One circuit gives exactly one outcome.
            outcome = await run.__anext__()
        return outcome.unwrap()

    def run_many(
        self,
        circuits: Iterable[Any],
        *,
        concurrency: int = 64,
        max_in_flight: int = 10_000,
        journal: str | None = None,
        cancel_remote: bool = False,
        pack: bool | PackLimits = False,
        progress: Callable[[BatchProgress], None] | None = None,
        timeout_s: float | None = None,
        max_poll_failure_s: float = MAX_POLL_FAILURE_S,
        **options: Any,
    ) -> BatchRun:
        """Run many circuits; iterate the returned :class:`BatchRun` for outcomes as they end.

        ``options`` are :meth:`submit`'s (backend, shots, noise_model, metadata, ...).
        ``concurrency`` bounds job creations in flight (it shrinks on 429 and grows back);
        ``max_in_flight`` bounds jobs created but not yet finished. ``journal`` is a file
        path that makes the batch resumable after a crash without resubmitting.
        ``cancel_remote`` cancels unfinished jobs if the batch is stopped early. ``pack``
        sends circuits in ``ionq.multi-circuit.v1`` jobs (``True`` or :class:`PackLimits`);
        outcomes still come one per circuit (``outcome.job`` is then the parent,
        ``outcome.result.job`` the circuit's child job). ``progress`` is called with a
        :class:`BatchProgress` whenever a count changes.

        ``timeout_s`` bounds the whole batch: when it runs out, every circuit without an
        outcome gets one, WaitTimeoutError if it has a job (left running unless
        ``cancel_remote``; the error names it) or BatchTimeoutError if not. If polling gets
        no answer at all for ``max_poll_failure_s`` in a row (the API is out of reach),
        every job still waited for ends as JobUnreachableError carrying its id.

        Use ``async for outcome in client.run_many(...)`` directly, or hold the handle in
        ``async with client.run_many(...) as run:``; a handle kept in a variable without
        ``async with`` goes on submitting after a ``break`` until it is closed.
        """
        send, receive = anyio.create_memory_object_stream[Outcome](max_buffer_size=1024)
        try:
            engine = _Engine(
                self._client(),
                circuits=list(circuits),
                jobs=None,
                options=options,
                concurrency=concurrency,
                max_in_flight=max_in_flight,
                journal_path=None if journal is None else str(journal),
                cancel_remote=cancel_remote,
                pack=pack,
                progress=progress,
                send=send,
                timeout_s=timeout_s,
                max_poll_failure_s=max_poll_failure_s,
            )
        except BaseException:
            send.close()
            receive.close()
            raise
        return BatchRun(engine, receive)

    def as_completed(
        self,
        jobs: Iterable[Job | str],
        *,
        max_in_flight: int = 100_000,
        cancel_remote: bool = False,
        progress: Callable[[BatchProgress], None] | None = None,
        timeout_s: float | None = None,
        max_poll_failure_s: float = MAX_POLL_FAILURE_S,
    ) -> BatchRun:
        """Outcomes of jobs submitted elsewhere (Jobs or ids) in completion order.

        ``index`` of each outcome is the job's position in ``jobs``; the shared poller
        asks about many jobs per request.
        """
        send, receive = anyio.create_memory_object_stream[Outcome](max_buffer_size=1024)
        engine = _Engine(
            self._client(),
            circuits=None,
            jobs=list(jobs),
            options={},
            concurrency=1,
            max_in_flight=max_in_flight,
            journal_path=None,
            cancel_remote=cancel_remote,
            pack=False,
            progress=progress,
            send=send,
            timeout_s=timeout_s,
            max_poll_failure_s=max_poll_failure_s,
        )
        return BatchRun(engine, receive)

    async def gather(self, circuits: Iterable[Any], **options: Any) -> list[Outcome]:
        """Run many circuits and return every outcome in input order (see :meth:`run_many`)."""
        items = list(circuits)
        outcomes: list[Outcome | None] = [None] * len(items)
        async with self.run_many(items, **options) as run:
            async for outcome in run:
                outcomes[outcome.index] = outcome
        return [o for o in outcomes if o is not None]

    async def _aclose_batches(self) -> None:
        """Cancel and await every batch of this client still running (for Client.aclose).

        A consumer still iterating such a batch gets the outcomes already made, then
        ClientClosedError (not a quiet end that would pass for a finished batch).
        """
        batches = list(_live_batches.get(self, ()))
        for shared in batches:
            task = shared.task
            if task is None or task.done():
                continue
            if shared.error is None and shared.engine.remaining > 0:
                shared.error = ClientClosedError(
                    f"the client was closed while a batch was running "
                    f"({shared.engine.remaining} of {shared.engine.total} circuits unfinished)"
                )
            task.cancel()
        for shared in batches:
            if shared.task is not None:
                await _await_to_the_end(shared.task)  # raises only if *we* are cancelled
