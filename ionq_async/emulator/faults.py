"""Faults on demand: seeded error answers, dropped connections, latency and a rate limit.

Which requests are affected:

- ``latency_s`` delays every request, including the open ``/backends`` routes (it stands
  for the network);
- the random error answers (429, 500, 502, 503), ``p_drop_before_store`` and the per-key
  rate limit apply only to routes that need an API key, after the key was checked (so a
  bad key always gets its 401);
- ``p_drop_after_store`` applies only to ``POST /jobs``: the job is stored, then the
  connection is closed without an answer.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable

from attrs import field, frozen, validators

__all__ = ["FaultConfig", "FaultDecision", "FaultInjector"]


def _probability(_instance: object, attribute: object, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        name = getattr(attribute, "name", "probability")
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")


def _latency(_instance: object, _attribute: object, value: tuple[float, float]) -> None:
    low, high = value
    if low < 0 or high < low:
        raise ValueError(f"latency_s must be (min, max) with 0 <= min <= max, got {value!r}")


@frozen(kw_only=True)
class FaultConfig:
    """What the emulator breaks on purpose, and how often; the default breaks nothing."""

    seed: int | None = 0
    p_429: float = field(default=0.0, validator=_probability)
    retry_after_s: float = field(default=1.0, validator=validators.ge(0.0))
    p_500: float = field(default=0.0, validator=_probability)
    p_502: float = field(default=0.0, validator=_probability)
    p_503: float = field(default=0.0, validator=_probability)
    p_drop_before_store: float = field(default=0.0, validator=_probability)
    p_drop_after_store: float = field(default=0.0, validator=_probability)
    latency_s: tuple[float, float] = field(default=(0.0, 0.0), validator=_latency)
    rate_limit_per_s: float | None = field(
        default=None, validator=validators.optional(validators.gt(0.0))
    )
    rate_limit_burst: int | None = field(
        default=None, validator=validators.optional(validators.ge(1))
    )

    def __attrs_post_init__(self) -> None:
        total = self.p_429 + self.p_500 + self.p_502 + self.p_503 + self.p_drop_before_store
        if total > 1.0 + 1e-9:
            raise ValueError(
                "p_429 + p_500 + p_502 + p_503 + p_drop_before_store must not exceed 1"
            )

    @property
    def burst(self) -> int:
        """How many requests a key may send at once before the rate limit bites."""
        if self.rate_limit_burst is not None:
            return self.rate_limit_burst
        return max(1, math.ceil(self.rate_limit_per_s or 1.0))


@frozen(kw_only=True)
class FaultDecision:
    """What to do with one request before it reaches its handler."""

    kind: str | None = None  # "429", "500", "502", "503", "drop_before", "rate_limit" or None
    status: int | None = None
    retry_after_s: float | None = None


class FaultInjector:
    """Draws seeded fault decisions and keeps the per-key token buckets.

    Thread-safe, so a background-thread emulator and the test thread may share it.
    """

    def __init__(self, config: FaultConfig, clock: Callable[[], float]) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._config = config
        self._random = random.Random(config.seed)
        self._buckets: dict[str, tuple[float, float]] = {}

    @property
    def config(self) -> FaultConfig:
        """The faults in force."""
        return self._config

    def reconfigure(self, config: FaultConfig) -> None:
        """Switch to new faults; the random stream restarts from the new seed."""
        with self._lock:
            self._config = config
            self._random = random.Random(config.seed)
            self._buckets.clear()

    def latency_s(self) -> float:
        """The delay to add to the next request (0 when no latency is configured)."""
        with self._lock:
            low, high = self._config.latency_s
            if high <= 0:
                return 0.0
            return low if low == high else self._random.uniform(low, high)

    def before_request(self, key_identity: str) -> FaultDecision:
        """Decide the fate of an authenticated request: rate limit first, then random faults."""
        with self._lock:
            config = self._config
            if config.rate_limit_per_s is not None:
                wait_s = self._take_token(key_identity, config)
                if wait_s > 0:
                    return FaultDecision(kind="rate_limit", status=429, retry_after_s=wait_s)
            draw = self._random.random()
            for kind, probability, status in (
                ("429", config.p_429, 429),
                ("500", config.p_500, 500),
                ("502", config.p_502, 502),
                ("503", config.p_503, 503),
                ("drop_before", config.p_drop_before_store, None),
            ):
                if draw < probability:
                    retry = config.retry_after_s if status == 429 else None
                    return FaultDecision(kind=kind, status=status, retry_after_s=retry)
                draw -= probability
            return FaultDecision()

    def drop_after_store(self) -> bool:
        """Whether to drop the connection of a ``POST /jobs`` after storing its job."""
        with self._lock:
            probability = self._config.p_drop_after_store
            return probability > 0 and self._random.random() < probability

    def _take_token(self, key_identity: str, config: FaultConfig) -> float:
        # A token bucket per key, refilled from the emulator's clock so tests can
        # advance a manual clock instead of sleeping.
        rate = config.rate_limit_per_s or 1.0
        burst = float(config.burst)
        now = self._clock()
        tokens, last = self._buckets.get(key_identity, (burst, now))
        tokens = min(burst, tokens + max(0.0, now - last) * rate)
        if tokens >= 1.0:
            self._buckets[key_identity] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key_identity] = (tokens, now)
        return (1.0 - tokens) / rate
