"""The retry policy: which failures are retried, and how long to wait (pure; one place).

Rules (DESIGN.md, "Retries are one policy in one place"):

- Idempotent requests (GET, HEAD, PUT, DELETE) are retried after connection errors,
  timeouts, 408, 429, 500, 502, 503, 504 and Cloudflare's 520-529; GETs also after 409,
  which Cloudflare sends for transient DNS trouble.
- Requests that create something (``POST /jobs``, ``POST /sessions``) are retried only
  when the server certainly did nothing: a 429 (it refused the request) or a connection
  that could not be opened. After an ambiguous failure (the connection dropped after the
  request was sent, a read timeout, a 5xx) they are never re-sent here; the error is raised
  so a caller that can look the job up first (the batch engine) decides.
- Waits grow exponentially with jitter, capped per wait; a ``Retry-After`` header (seconds
  or an HTTP date) is honoured up to ``max_retry_after_s``; attempts and total time are
  bounded.
- Attempts of one request are counted in one place: an :class:`Attempts` counter. A
  caller that tries again itself (the batch engine: after a token lookup, or while the
  server rations) puts its counter in place with :func:`counting`; the transport then
  counts every try it makes into that counter and stops when the caller's budget is
  spent, so the caller's retries and the transport's share one budget instead of
  multiplying.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import math
from collections.abc import Iterator
from typing import Protocol

from attrs import frozen

from .exceptions import ConfigurationError

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRYABLE_STATUSES",
    "Attempts",
    "RetryPolicy",
    "attempts_in_progress",
    "backoff_s",
    "counting",
    "fits_budget",
    "is_retryable_status",
    "is_retryable_transport_failure",
    "parse_retry_after",
    "retry_after_beyond_budget",
    "retry_wait_s",
    "should_retry",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
"""Methods whose repetition has the same effect as sending them once."""

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, *range(520, 530)})
"""Statuses worth another try for an idempotent request (409 is added for GETs)."""


class RandomSource(Protocol):
    """Anything with ``random() -> float`` in [0, 1), such as :class:`random.Random`."""

    def random(self) -> float:
        """A float in [0, 1)."""
        ...


@frozen(kw_only=True)
class RetryPolicy:
    """How often and how patiently a client retries; one per client.

    ``jitter`` is the fraction of each back-off that is randomized away (0.5: a wait is
    drawn from [50 %, 100 %] of the exponential value). ``max_attempts`` counts the first
    try. ``server_error_burst`` 5xx answers in a row (no success between them) within
    ``server_error_window_s`` close the client's shared back-off gate.
    """

    max_attempts: int = 5
    max_total_s: float = 60.0
    initial_backoff_s: float = 0.25
    max_backoff_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5
    max_retry_after_s: float = 120.0
    server_error_burst: int = 3
    server_error_window_s: float = 5.0

    def __attrs_post_init__(self) -> None:
        for name in ("max_attempts", "server_error_burst"):
            count = getattr(self, name)
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ConfigurationError(f"{name} must be an integer >= 1, got {count!r}")
        for name in (
            "max_total_s",
            "initial_backoff_s",
            "max_backoff_s",
            "max_retry_after_s",
            "multiplier",
            "jitter",
            "server_error_window_s",
        ):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (value >= 0 and math.isfinite(value))
            ):
                raise ConfigurationError(f"{name} must be a finite number >= 0, got {value!r}")
        if not self.multiplier >= 1:
            raise ConfigurationError("multiplier must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError("jitter must be between 0 and 1")

    @classmethod
    def no_wait(cls, *, max_attempts: int = 5) -> RetryPolicy:
        """A policy that retries as usual but never waits (for tests)."""
        return cls(
            max_attempts=max_attempts,
            initial_backoff_s=0.0,
            max_backoff_s=0.0,
            jitter=0.0,
            max_retry_after_s=0.0,
        )

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that makes every request exactly once."""
        return cls(max_attempts=1)


def is_retryable_status(status: int, method: str, *, is_job_creation: bool = False) -> bool:
    """True if an answer with this status is worth sending the request again.

    A request that creates something (``is_job_creation``, or any non-idempotent method)
    is retried only after a 429: the server refused it, so nothing was created.
    """
    method = method.upper()
    if is_job_creation or method not in IDEMPOTENT_METHODS:
        return status == 429
    if status == 409:
        return method in ("GET", "HEAD")
    return status in RETRYABLE_STATUSES


def is_retryable_transport_failure(
    method: str, *, request_sent: bool, is_job_creation: bool = False, permanent: bool = False
) -> bool:
    """True if a request that got no answer may be sent again.

    ``request_sent`` is False only when the connection could not even be opened, so the
    server never saw the request; that is safe to repeat for every request. After an
    ambiguous failure only idempotent requests are repeated. ``permanent`` failures (a bad
    TLS certificate) are never retried.
    """
    if permanent:
        return False
    if not request_sent:
        return True
    return not is_job_creation and method.upper() in IDEMPOTENT_METHODS


def parse_retry_after(header_value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or an HTTP date).

    ``now`` is the current wall-clock time in epoch seconds (for the date form). A date
    in the past gives 0. An unreadable value gives None (fall back to back-off).
    """
    if header_value is None:
        return None
    text = header_value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            return None
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are GMT; parsedate_to_datetime gives naive datetimes for "-0000".
        return None
    return max(0.0, when.timestamp() - now)


def backoff_s(attempt: int, policy: RetryPolicy, rng: RandomSource) -> float:
    """The exponential back-off before retry number ``attempt`` (1 = first retry), jittered."""
    exponent = max(attempt - 1, 0)
    # Cap the exponent so that huge attempt numbers cannot overflow the float.
    base = policy.initial_backoff_s * policy.multiplier ** min(exponent, 64)
    base = min(base, policy.max_backoff_s)
    return base * (1.0 - policy.jitter * rng.random())


def retry_wait_s(
    attempt: int, policy: RetryPolicy, rng: RandomSource, retry_after_s: float | None
) -> float:
    """The wait before retry ``attempt``: the server's Retry-After (capped) or the back-off."""
    if retry_after_s is not None:
        return min(retry_after_s, policy.max_retry_after_s)
    return backoff_s(attempt, policy, rng)


def fits_budget(elapsed_s: float, wait_s: float, policy: RetryPolicy) -> bool:
    """True if waiting ``wait_s`` more after ``elapsed_s`` stays within ``max_total_s``."""
    return elapsed_s + wait_s <= policy.max_total_s


def should_retry(attempts_made: int, elapsed_s: float, wait_s: float, policy: RetryPolicy) -> bool:
    """True if another attempt fits the budget of attempts and of total time."""
    if attempts_made >= policy.max_attempts:
        return False
    return fits_budget(elapsed_s, wait_s, policy)


def retry_after_beyond_budget(retry_after_s: float | None, policy: RetryPolicy) -> bool:
    """True if even a fresh request would not wait this ``Retry-After`` out.

    The wait, capped at ``max_retry_after_s``, is longer than ``max_total_s``: the
    request that got it gave up at once, and so would any retry of it. A caller with
    retries of its own (the batch engine) stops on such a 429 instead of asking again.
    """
    if retry_after_s is None:
        return False
    return not fits_budget(0.0, min(retry_after_s, policy.max_retry_after_s), policy)


class Attempts:
    """The tries made for one request, counted in one place, against one budget.

    ``limit`` is the budget in attempts. A try answered with a 429 while other requests
    of the client were served since the previous try costs ``rationed_cost`` (the server
    is rationing, not refusing: the request is waiting its turn); any other failed try
    costs one. A success ends the request: the count starts over for the next one.
    """

    __slots__ = ("limit", "made", "rationed_cost", "served_at")

    def __init__(self, limit: float, *, rationed_cost: float = 1.0) -> None:
        self.limit = limit
        self.rationed_cost = rationed_cost
        self.made = 0.0
        self.served_at: int | None = None

    @property
    def spent(self) -> bool:
        """True once the tries made have used the budget."""
        return self.made >= self.limit

    def count_failure(self, *, rate_limited: bool, served: int) -> None:
        """A try failed; ``served`` is the client's count of 2xx answers so far."""
        rationed = rate_limited and self.served_at is not None and served > self.served_at
        self.made += self.rationed_cost if rationed else 1.0
        self.served_at = served

    def count_success(self) -> None:
        """A try succeeded: the request is done."""
        self.made = 0.0
        self.served_at = None


_in_progress: contextvars.ContextVar[Attempts | None] = contextvars.ContextVar(
    "ionq_async_attempts", default=None
)


def attempts_in_progress() -> Attempts | None:
    """The counter the current task's requests count into, if a caller set one."""
    return _in_progress.get()


@contextlib.contextmanager
def counting(attempts: Attempts | None) -> Iterator[None]:
    """Requests made inside count their tries into ``attempts`` (None: their own)."""
    token = _in_progress.set(attempts)
    try:
        yield
    finally:
        _in_progress.reset(token)
