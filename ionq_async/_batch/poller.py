"""The poller: one task that refreshes every waiting job, many per ``GET /jobs?ids=`` request."""

from __future__ import annotations

import heapq
import logging
import math
import random
from collections.abc import Callable, Iterable
from typing import Final

import anyio

from .._flow import Throttle
from ..exceptions import IonQError, JobUnreachableError, NotFoundError, ResponseError
from ..models import Job, JobStatus
from .api import JobReader
from .values import FATAL_ERRORS, PollSchedule, predicted_remaining_s

__all__ = ["MAX_BAD_ANSWERS", "MAX_POLL_FAILURE_S", "PollEntry", "Poller", "poll_chunks"]

logger = logging.getLogger("ionq_async.batch")

MAX_IDS_PER_POLL: Final = 100
"""The most job ids one ``GET /jobs?ids=...`` asks for."""

MAX_POLL_URL_BYTES: Final = 6_000
"""The most bytes of ``ids=`` query one poll request carries (URLs stay short)."""

MAX_POLL_FAILURE_S: Final = 120.0
"""How long polling may fail in a row (no answer at all) before waiting jobs end as errors."""

MAX_BAD_ANSWERS: Final = 3
"""Unreadable answers in a row about one job before that job ends as a ResponseError."""


class PollEntry:
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


class Poller:
    """One task that refreshes every waiting job, many per request (see module docstring)."""

    def __init__(
        self,
        client: JobReader,
        *,
        on_terminal: Callable[[int, Job], None],
        on_error: Callable[[int, IonQError], None],
        throttle: Throttle,
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
        self._entries: dict[str, PollEntry] = {}
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
        entry = PollEntry(key, job_id, job, schedule)
        self._entries[job_id] = entry
        now = anyio.current_time()
        entry.added = now
        if immediate:
            delay = 0.0
        elif predicted_remaining_s(job) is None and self._typical_s is not None:
            # A new job has no predictions yet; its siblings' predicted durations are the
            # best guess of when it will be done.
            delay = max(schedule.initial_s, min(self._typical_s, schedule.max_predicted_s))
        else:
            delay = schedule.delay_s(0, job, self._rng)
        entry.interval = max(delay, schedule.initial_s)
        self._schedule(entry, now + delay)

    def _schedule(self, entry: PollEntry, due: float) -> None:
        entry.due = due
        self._sequence += 1
        heapq.heappush(self._heap, (due, self._sequence, entry.job_id))
        if due < self._sleeping_until:
            self._wakeup.set()

    def _take_due(self, now: float) -> list[PollEntry]:
        taken: list[PollEntry] = []
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

    async def _poll(self, entries: list[PollEntry]) -> None:
        async with anyio.create_task_group() as group:
            if self.ids_supported:
                for chunk in poll_chunks(entries):
                    group.start_soon(self._poll_chunk, chunk)
            else:
                for entry in entries:
                    group.start_soon(self._poll_single, entry)

    async def _poll_chunk(self, chunk: list[PollEntry]) -> None:
        ids = [entry.job_id for entry in chunk]
        self.list_requests += 1
        try:
            page = await self._throttle.call(self._client.job_page, ids=ids, limit=len(ids))
        except FATAL_ERRORS:
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

    async def _poll_single(self, entry: PollEntry) -> None:
        self.single_requests += 1
        try:
            job = await self._throttle.call(self._client.get_job, entry.job_id)
        except FATAL_ERRORS:
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

    def _failed(self, error: IonQError, entries: list[PollEntry]) -> None:
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

    def _update(self, entry: PollEntry, job: Job) -> None:
        if self._entries.get(entry.job_id) is not entry:
            return
        entry.job = job
        if job.is_terminal:
            del self._entries[entry.job_id]
            self._on_terminal(entry.key, job)
            return
        if entry.attempt == 0:
            remaining = predicted_remaining_s(job)
            if remaining is not None:
                total = anyio.current_time() - entry.added + remaining
                typical = self._typical_s
                self._typical_s = total if typical is None else 0.8 * typical + 0.2 * total
        self._reschedule(entry, job)

    def _reschedule(self, entry: PollEntry, job: Job | None) -> None:
        if self._entries.get(entry.job_id) is not entry:
            return
        entry.attempt += 1
        delay = entry.schedule.delay_s(entry.attempt, job, self._rng)
        entry.interval = delay
        self._schedule(entry, anyio.current_time() + delay)


def poll_chunks(entries: list[PollEntry]) -> Iterable[list[PollEntry]]:
    chunk: list[PollEntry] = []
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
