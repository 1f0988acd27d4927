"""Flow control of one client's requests: adaptive concurrency, rate pacing, the throttle.

- :class:`AdaptiveLimiter`: a concurrency limit that halves on rate limiting and grows
  back by one slot per window of successes (AIMD); a batch bounds its creations with one.
- :class:`RatePacer`: spaces out request starts once the server has rate-limited us.
- :class:`Throttle`: a client's reaction to 429s, owned by the client and shared by all
  its running batches. It is the client's one subscriber to the transport's rate-limit
  events, and tells the batches attached to it whether the 429s amount to a rate limit.

Pure asyncio/anyio; no HTTP here (the transport reports events and counts).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, Protocol, TypeVar

import anyio

__all__ = ["AdaptiveLimiter", "RateLimitListener", "RatePacer", "RequestCounts", "Throttle"]

P = ParamSpec("P")
T = TypeVar("T")

RateLimitListener = Callable[[Any], None]
"""Called with each rate-limit event the transport sees."""


class RequestCounts(Protocol):
    """The client's running request counts the throttle reads (the transport's stats)."""

    requests_sent: int
    rate_limited: int


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
        now = self._clock()
        successes = self._successes
        successes.append(now)
        # Only the last window counts: older times go as new ones come (a batch of
        # 100,000 jobs kept 100,000 of them, 3 MB).
        while now - successes[0] > self._window_s or len(successes) > 100_000:
            successes.popleft()


class Throttle:
    """A client's reaction to 429s, shared by all its running batches.

    While at least one batch is attached, it is the client's one listener to the
    transport's rate-limit events. On each it decides whether the 429s are a rate limit
    (a real share of the last second's answers) and then (a) tells every attached batch
    (which shrinks its limit of creations in flight), (b) paces request starts with a
    :class:`RatePacer` and (c) while paced, bounds the batch requests in flight by
    Little's law (pace x the fastest answer's time, with a margin). The bound is taken
    *before* a request gets its paced slot, so no backlog of admitted requests can form
    behind the transport's own limiter and go out unpaced later; and requests retrying
    inside the transport after a 429 stay few, so they cannot storm the server whenever
    its ``Retry-After`` runs out.
    """

    def __init__(
        self,
        counts: RequestCounts,
        listeners: list[RateLimitListener],
        *,
        open_tokens: int,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._counts = counts
        self._listeners = listeners
        # Looked up when the throttle is made (so a test can stand the clock still).
        self._clock = clock or time.monotonic
        self.pacer = RatePacer(clock=self._clock)
        self.events = 0
        self.latency_s = 0.0
        self.window_s = 1.0
        # A server limiting our rate answers a large share of requests with 429; a few
        # percent of 429s that come whatever the rate must not throttle the batch (with
        # 20 samples at 5 % random 429s, a 10 % threshold tripped about once in four).
        self.min_samples = 50
        self.min_limited_fraction = 0.2
        self._snapshots: deque[tuple[float, int, int]] = deque()
        self._open_tokens = max(1, open_tokens)
        self.limiter = anyio.CapacityLimiter(self._open_tokens)
        self._attached: list[Callable[[bool], None]] = []

    def attach(self, on_rate_limited: Callable[[bool], None]) -> None:
        """A batch starts using the throttle; it hears of every 429 (and whether limiting)."""
        if not self._attached:
            self._listeners.append(self.on_rate_limited)
        self._attached.append(on_rate_limited)

    def detach(self, on_rate_limited: Callable[[bool], None]) -> None:
        """A batch stops using the throttle."""
        with contextlib.suppress(ValueError):
            self._attached.remove(on_rate_limited)
        if not self._attached:
            with contextlib.suppress(ValueError):
                self._listeners.remove(self.on_rate_limited)

    def _snapshot(self) -> None:
        now = self._clock()
        snapshots = self._snapshots
        if not snapshots or now - snapshots[-1][0] >= 0.05:
            counts = self._counts
            snapshots.append((now, counts.requests_sent, counts.rate_limited))
        while len(snapshots) > 2 and now - snapshots[1][0] >= self.window_s:
            snapshots.popleft()

    def limited_fraction(self) -> tuple[float, int]:
        """The share of 429s among the client's requests of about the last second."""
        self._snapshot()
        _, sent_then, limited_then = self._snapshots[0]
        counts = self._counts
        sent = counts.requests_sent - sent_then
        limited = counts.rate_limited - limited_then
        return (limited / sent if sent > 0 else 0.0), sent

    def is_limiting(self) -> bool:
        """True when 429s are a real share of the last second's answers (a rate limit)."""
        fraction, sent = self.limited_fraction()
        return sent >= self.min_samples and fraction >= self.min_limited_fraction

    def on_rate_limited(self, _event: object = None) -> None:
        """The transport saw a 429; pace only if 429s are a real share of the answers.

        A server that sends the odd 429 whatever our rate (a few percent of answers)
        would otherwise drive the pace down step by step for nothing; one that limits
        our rate answers a large share of requests with 429.
        """
        self.events += 1
        limiting = self.is_limiting()
        for batch in list(self._attached):
            batch(limiting)
        if not limiting:
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
