"""The emulator's counters: requests, answers, faults and jobs, for tests and benchmarks."""

from __future__ import annotations

from collections import Counter

from attrs import define, field

__all__ = ["EmulatorStats"]


@define
class EmulatorStats:
    """Counters for tests and benchmarks; ``reset()`` zeroes them."""

    requests_total: int = 0
    requests_by_route: Counter[tuple[str, str]] = field(factory=Counter)
    responses_by_status: Counter[int] = field(factory=Counter)
    faults: Counter[str] = field(factory=Counter)
    jobs_created: int = 0
    dropped_connections: int = 0

    def reset(self) -> None:
        """Zero every counter."""
        self.requests_total = 0
        self.requests_by_route.clear()
        self.responses_by_status.clear()
        self.faults.clear()
        self.jobs_created = 0
        self.dropped_connections = 0

    def requests(self, method: str, route: str) -> int:
        """Requests seen for one route template, e.g. ``("GET", "/v0.4/jobs/{job_id}")``."""
        return self.requests_by_route[(method.upper(), route)]
