"""The emulator's clocks: the wall clock, and a manual clock that tests advance by hand.

Every time the emulator reads (job lifecycles, fault windows, timestamps) comes from one
injectable callable returning epoch seconds, so a test can swap the wall clock for a
:class:`ManualClock` and move time instead of sleeping.
"""

from __future__ import annotations

import threading
import time

__all__ = ["ManualClock", "default_clock"]


class ManualClock:
    """A clock that only moves when told to: ``clock()`` reads it, ``advance(s)`` moves it.

    Time is in epoch seconds (it also stamps ``submitted_at`` and friends); it starts at
    2026-01-01T00:00:00Z unless given ``start``.
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self._lock = threading.Lock()
        self._now = float(start)

    def __call__(self) -> float:
        """The current time in epoch seconds."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds``; returns the new time."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        """Jump to ``now`` (epoch seconds), which must not be in the past."""
        with self._lock:
            if now < self._now:
                raise ValueError("a clock cannot go backwards")
            self._now = float(now)


def default_clock() -> float:
    """The wall clock in epoch seconds."""
    return time.time()
