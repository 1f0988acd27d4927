"""What jobs cost as they run: a tracker of estimated and actual cost per job (pure).

:class:`Spend` records, for each job, the estimate it was created with and, once billed,
its actual cost (``GET /jobs/{id}/cost``), and sums them by backend, the way Amazon
Braket's ``Tracker`` does. A client keeps one for its lifetime (``client.spend``); a
:func:`track_cost` block collects what is recorded inside it (in this task and the tasks it
starts), across clients::

    with track_cost() as spend:
        async for outcome in client.run_many(circuits, backend="qpu.forte-1", shots=1000):
            ...
    print(spend.actual(), spend.by_backend())

The budget rule of a running batch is :meth:`Spend.would_cross`: actual costs of finished
jobs plus estimates of the jobs still open plus the next job's estimate must stay within
the budget. Every method runs without awaiting, so on one event loop a record is never
seen half made; a lock makes reads from other threads (the sync facade) safe too.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import threading
from collections.abc import Iterator, Mapping
from typing import Final

from attrs import evolve, frozen

from .exceptions import InvalidRequestError, ResponseError
from .models import Cost, Money

__all__ = ["BackendSpend", "JobSpend", "Spend", "record_cost", "track_cost"]

_CENT: Final = 1e-9
"""Float slack when comparing sums of costs with a budget (sums of cents are inexact)."""


@frozen(kw_only=True)
class JobSpend:
    """One job's cost so far: its estimate and, once billed, its actual cost."""

    job_id: str
    backend: str
    estimated: float | None = None
    actual: float | None = None

    @property
    def committed(self) -> float:
        """The actual cost once known, else the estimate (0 when neither is known)."""
        if self.actual is not None:
            return self.actual
        return self.estimated or 0.0


@frozen(kw_only=True)
class BackendSpend:
    """The sums of one backend's jobs."""

    backend: str
    jobs: int
    estimated: float
    actual: float
    committed: float


def _amount(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequestError(f"{name} must be a finite number, got {value!r}")
    if value < 0:
        raise InvalidRequestError(f"{name} must be >= 0, got {value!r}")
    return float(value)


class Spend:
    """Estimated and actual cost per job, summed by backend; one currency unit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, JobSpend] = {}
        self._unit: str | None = None

    def __repr__(self) -> str:
        unit = f" {self._unit}" if self._unit else ""
        return (
            f"<Spend {len(self._jobs)} jobs, estimated {self.estimated():.2f}{unit}, "
            f"actual {self.actual():.2f}{unit}>"
        )

    @property
    def unit(self) -> str | None:
        """The currency (``usd``) or ``credit`` of every amount, once one was recorded."""
        return self._unit

    @property
    def jobs(self) -> tuple[JobSpend, ...]:
        """Every job recorded, in the order first seen."""
        with self._lock:
            return tuple(self._jobs.values())

    def job(self, job_id: str) -> JobSpend | None:
        """One job's record, if any."""
        with self._lock:
            return self._jobs.get(job_id)

    def _check_unit(self, unit: str | None) -> None:
        if unit is None:
            return
        if self._unit is None:
            self._unit = unit
        elif unit != self._unit:
            raise ResponseError(
                f"a cost in {unit!r} among costs in {self._unit!r}: amounts in different "
                "units are not summed"
            )

    def _update(
        self,
        job_id: str,
        backend: str,
        unit: str | None,
        estimated: float | None = None,
        actual: float | None = None,
    ) -> JobSpend:
        if not isinstance(job_id, str) or not job_id:
            raise InvalidRequestError(f"job_id must be a non-empty string, got {job_id!r}")
        with self._lock:
            self._check_unit(unit)
            record = self._jobs.get(job_id) or JobSpend(job_id=job_id, backend=backend)
            if estimated is not None:
                record = evolve(record, estimated=estimated)
            if actual is not None:
                record = evolve(record, actual=actual)
            self._jobs[job_id] = record
            return record

    def record_estimate(
        self, job_id: str, backend: str, cost: float, *, unit: str | None = "usd"
    ) -> JobSpend:
        """The estimate a job was created with (replaces an earlier one)."""
        return self._update(job_id, backend, unit, estimated=_amount("cost", cost))

    def record_actual(
        self, job_id: str, backend: str, cost: float, *, unit: str | None = "usd"
    ) -> JobSpend:
        """A job's billed cost (it now counts instead of the estimate)."""
        return self._update(job_id, backend, unit, actual=_amount("cost", cost))

    def record(self, job_id: str, backend: str, cost: Cost) -> JobSpend:
        """What ``GET /jobs/{id}/cost`` said: the estimate and, if billed, the actual cost."""
        estimated: Money = cost.estimated_cost
        self._check_amount_unit(estimated, cost.cost)
        self.record_estimate(job_id, backend, estimated.value, unit=estimated.unit)
        if cost.cost is not None and not cost.dry_run:
            return self.record_actual(job_id, backend, cost.cost.value, unit=cost.cost.unit)
        return self.job(job_id) or JobSpend(job_id=job_id, backend=backend)

    @staticmethod
    def _check_amount_unit(estimated: Money, actual: Money | None) -> None:
        if actual is not None and actual.unit != estimated.unit:
            raise ResponseError(
                f"a job's cost is in {actual.unit!r} but its estimate in {estimated.unit!r}"
            )

    def discard(self, job_id: str) -> JobSpend | None:
        """Forget a reservation that never became a job (its creation failed for sure)."""
        with self._lock:
            return self._jobs.pop(job_id, None)

    def estimated(self, backend: str | None = None) -> float:
        """The sum of estimates (of one backend, or all)."""
        return sum(r.estimated or 0.0 for r in self._select(backend))

    def actual(self, backend: str | None = None) -> float:
        """The sum of billed costs so far (of one backend, or all)."""
        return sum(r.actual or 0.0 for r in self._select(backend))

    def committed(self, remaining_estimate: float = 0.0) -> float:
        """Actual costs where billed, estimates elsewhere, plus ``remaining_estimate``.

        What a batch has spent or will spend if nothing more is created beyond the
        ``remaining_estimate`` (the estimates of jobs not yet recorded).
        """
        remaining = _amount("remaining_estimate", remaining_estimate)
        return sum(r.committed for r in self._select(None)) + remaining

    def would_cross(self, budget: float, next_cost: float) -> bool:
        """Whether creating a job of ``next_cost`` would take committed cost over ``budget``.

        A free job (``next_cost == 0``, a simulator) never crosses: it passes freely even
        when the budget is already spent.
        """
        budget = _amount("budget", budget)
        if _amount("next_cost", next_cost) == 0:
            return False
        return self.committed(next_cost) > budget + _CENT

    def by_backend(self) -> Mapping[str, BackendSpend]:
        """Sums per backend, in the order backends were first seen."""
        out: dict[str, BackendSpend] = {}
        for record in self._select(None):
            previous = out.get(record.backend)
            jobs, estimated, actual, committed = (
                (previous.jobs, previous.estimated, previous.actual, previous.committed)
                if previous is not None
                else (0, 0.0, 0.0, 0.0)
            )
            out[record.backend] = BackendSpend(
                backend=record.backend,
                jobs=jobs + 1,
                estimated=estimated + (record.estimated or 0.0),
                actual=actual + (record.actual or 0.0),
                committed=committed + record.committed,
            )
        return out

    def _select(self, backend: str | None) -> list[JobSpend]:
        with self._lock:
            records = list(self._jobs.values())
        if backend is None:
            return records
        return [r for r in records if r.backend == backend]


_TRACKERS: contextvars.ContextVar[tuple[Spend, ...]] = contextvars.ContextVar(
    "ionq_async_cost_trackers", default=()
)
"""The :func:`track_cost` blocks open in this context (a task inherits its starter's)."""


@contextlib.contextmanager
def track_cost() -> Iterator[Spend]:
    """Collect the cost of every job recorded inside the block (nested blocks each see it).

    Works in ``with`` inside async code: tasks started inside the block (a batch's
    supervisor) inherit it; jobs of a batch started before the block are not counted.
    """
    spend = Spend()
    token = _TRACKERS.set((*_TRACKERS.get(), spend))
    try:
        yield spend
    finally:
        _TRACKERS.reset(token)


def record_cost(
    spend: Spend,
    job_id: str,
    backend: str,
    *,
    estimated: float | None = None,
    actual: float | None = None,
    unit: str | None = "usd",
) -> None:
    """Record into ``spend`` (a client's) and into every :func:`track_cost` block open here."""
    for target in (spend, *_TRACKERS.get()):
        if estimated is not None:
            target.record_estimate(job_id, backend, estimated, unit=unit)
        if actual is not None:
            target.record_actual(job_id, backend, actual, unit=unit)
