"""The poller: one task that refreshes every waiting job, many per ``GET /jobs?ids=`` request.

A request costs the same for one id as for a hundred, so the poller works in *rounds*:

- A job with predictions (predicted wait and execution) is left alone until ``lead`` (a
  quarter) of its predicted duration before its predicted end; from then on it is
  *watched*: asked about every round until it ends. Past its predicted end it is asked
  about less often the longer it is overdue (``overdue_factor`` of the time overdue).
- Rounds come every ``initial_s`` while many jobs are watched, and further apart (to
  ``watch_max_s``) as they become few: one request then buys less lag for fewer jobs.
- Every job due before the next round rides along, and each request's spare room (up to
  100 ids) is filled with the jobs due soonest: they are asked about for free, which
  catches jobs that end before their predictions say, and refreshes those predictions.
- A job without predictions is asked about on the schedule's growing interval.
"""

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
from .values import FATAL_ERRORS, JobTimes, PollSchedule, predicted_offset_s

__all__ = ["MAX_BAD_ANSWERS", "MAX_POLL_FAILURE_S", "PollEntry", "Poller", "poll_chunks"]

logger = logging.getLogger("ionq_async.batch")

MAX_IDS_PER_POLL: Final = 100
"""The most job ids one ``GET /jobs?ids=...`` asks for."""

MAX_POLL_URL_BYTES: Final = 6_000
"""The most bytes of ``ids=`` query one poll request carries (URLs stay short)."""

MAX_POLL_FAILURE_S: Final = 120.0
"""How long polling may fail in a row (no answer at all) before waiting jobs end as errors."""

FILL_UP: Final = True
"""Whether a round fills each request's spare room with the jobs due soonest (benchmarks
turn it off to measure what it buys)."""

MAX_BAD_ANSWERS: Final = 3
"""Unreadable answers in a row about one job before that job ends as a ResponseError."""


class PollEntry:
    """A job the poller is waiting for."""

    __slots__ = (
        "added",
        "asked_at",
        "attempt",
        "bad_answers",
        "due",
        "first_end",
        "gap",
        "interval",
        "job_id",
        "key",
        "schedule",
        "times",
        "watching",
    )

    def __init__(self, key: int, job_id: str, job: Job | None, schedule: PollSchedule) -> None:
        self.key = key
        self.job_id = job_id
        self.times = JobTimes(job) if job is not None else None
        self.schedule = schedule
        self.attempt = 0
        self.due = 0.0
        self.added = 0.0
        self.interval = schedule.initial_s
        self.bad_answers = 0
        self.watching = False
        self.asked_at = 0.0  # when last asked about (or added)
        self.first_end: float | None = None  # its predicted end as first seen, our clock
        self.gap = 0.0  # while watched and overdue: the least time between two asks


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
        # (due, job id): one small tuple a waiting job (ids are unique, so ties compare ids)
        self._heap: list[tuple[float, str]] = []
        self._wakeup = anyio.Event()
        self._sleeping_until = math.inf
        self._watching: dict[str, PollEntry] = {}
        self._on_time = 0  # watched jobs not past their predicted end: they set the pace
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

    @property
    def watched(self) -> int:
        """Jobs near or past their predicted end, asked about every round."""
        return len(self._watching)

    def add(self, key: int, job_id: str, job: Job | None, *, immediate: bool = False) -> None:
        """Start waiting for a job; ``immediate`` asks about it at the next cycle.

        A new job is first asked about after ``initial_s`` (or at once): its creation
        answer carries no predictions, and the first look, riding along with others,
        costs next to nothing.
        """
        backend = job.backend if job is not None else None
        schedule = self._fixed_schedule or PollSchedule.for_backend(backend)
        entry = PollEntry(key, job_id, job, schedule)
        previous = self._entries.get(job_id)
        if previous is not None:
            self._forget(previous)
        self._entries[job_id] = entry
        now = anyio.current_time()
        entry.added = entry.asked_at = now
        if immediate:
            delay = 0.0
        elif predicted_offset_s(job) is not None:
            delay = self._delay(entry, job)
        else:
            delay = schedule.initial_s
        entry.interval = max(delay, schedule.initial_s)
        self._schedule(entry, now + delay)

    def _set_watching(self, entry: PollEntry, watching: bool, gap: float = 0.0) -> None:
        if entry.watching and not entry.gap:
            self._on_time -= 1
        if entry.watching != watching:
            if watching:
                self._watching[entry.job_id] = entry
            else:
                self._watching.pop(entry.job_id, None)
        entry.watching = watching
        entry.gap = gap if watching else 0.0
        if watching and not entry.gap:
            self._on_time += 1

    def _round_s(self, schedule: PollSchedule) -> float:
        """The time between rounds now: shorter the more jobs are watched on time."""
        return schedule.watch_interval_s(self._on_time)

    def _forget(self, entry: PollEntry) -> None:
        """Stop waiting for ``entry`` (it ended, failed or was given up)."""
        if self._entries.get(entry.job_id) is entry:
            del self._entries[entry.job_id]
        self._set_watching(entry, False)

    def _delay(self, entry: PollEntry, job: Job | JobTimes | None) -> float:
        """The wait before asking about ``entry`` again (see the module docstring)."""
        schedule = entry.schedule
        if not self.ids_supported:
            # Each ask is a request of its own: no rounds, one job's own schedule.
            self._set_watching(entry, False)
            return schedule.delay_s(entry.attempt, job, self._rng)
        offset = predicted_offset_s(job)
        if offset is None:
            self._set_watching(entry, False)
            return schedule.interval_s(entry.attempt, self._rng)
        now = anyio.current_time()
        if entry.first_end is None:
            entry.first_end = now + offset
        # A queued job's prediction that never counts down (the server says "10 s" again
        # and again) would keep it watched for good: by our clock, it is overdue.
        offset = min(offset, entry.first_end - now)
        if offset > 0:
            # The prediction's error grows with the job's length: watch from ``lead`` of
            # its whole predicted duration (as seen from here) before its predicted end.
            total = now - entry.added + offset
            until_watch = offset - schedule.lead * total
            if until_watch > schedule.initial_s:
                self._set_watching(entry, False)
                return max(schedule.initial_s, min(until_watch, schedule.max_predicted_s))
        # Late jobs are asked about less often the later they are (at least each round).
        gap = schedule.overdue_s(-offset) if offset < 0 else 0.0
        self._set_watching(entry, True, gap)
        return max(self._round_s(schedule), gap)

    def _schedule(self, entry: PollEntry, due: float) -> None:
        entry.due = due
        heapq.heappush(self._heap, (due, entry.job_id))
        if due < self._sleeping_until:
            self._wakeup.set()

    def _take_due(self, now: float) -> list[PollEntry]:
        """The entries to ask about now: those due, those due before the next round, and
        (when asking by ids) the soonest due after them, to fill each request's room."""
        taken: list[PollEntry] = []
        chosen: set[str] = set()  # an id is asked about once a round, however often queued
        ride_along = round_s = 0.0
        while (entry := self._peek()) is not None:
            if not taken:
                if entry.due > now:
                    break
                # Jobs due before the next round ride along with the ones due now.
                round_s = self._round_s(entry.schedule)
                ride_along = 0.9 * round_s
            elif entry.due > now + max(ride_along, 0.2 * entry.interval):
                break
            heapq.heappop(self._heap)
            if entry.job_id not in chosen:
                chosen.add(entry.job_id)
                taken.append(entry)
        if taken and self.ids_supported:
            # A watched job is asked about in every round (rounds come more often as more
            # are watched, whenever it was last due), a late one once its gap has passed.
            for entry in self._watching.values():
                if entry.job_id not in chosen and now - entry.asked_at >= 0.9 * max(
                    round_s, entry.gap
                ):
                    chosen.add(entry.job_id)
                    taken.append(entry)
            # The last request has room to spare: asking about more jobs costs nothing.
            room = -len(taken) % MAX_IDS_PER_POLL if FILL_UP else 0
            skipped: list[PollEntry] = []
            while room and (entry := self._peek()) is not None:
                heapq.heappop(self._heap)
                if entry.job_id in chosen:
                    continue
                if entry.watching:
                    skipped.append(entry)  # asked about at its own pace; keep it scheduled
                    continue
                chosen.add(entry.job_id)
                taken.append(entry)
                room -= 1
            for entry in skipped:
                self._schedule(entry, entry.due)
        for entry in taken:
            entry.asked_at = now
        return taken

    def _peek(self) -> PollEntry | None:
        """The entry due soonest (dropping stale heap items), left on the heap."""
        heap = self._heap
        while heap:
            due, job_id = heap[0]
            entry = self._entries.get(job_id)
            if entry is None or entry.due != due:
                heapq.heappop(heap)  # stale: finished or rescheduled
                continue
            return entry
        return None

    def _next_due(self) -> float:
        entry = self._peek()
        return entry.due if entry is not None else math.inf

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
            if self._entries.get(entry.job_id) is entry:  # not given up on meanwhile
                self._forget(entry)
                self._on_error(entry.key, error)
            return
        except ResponseError as error:
            # The server answered, but not with a job we can read: that job's own problem.
            # The server is reachable, so this is no reason to give up on the others.
            self._failing_since = None
            if self._entries.get(entry.job_id) is not entry:
                return  # given up on meanwhile: it has its outcome
            entry.bad_answers += 1
            if entry.bad_answers >= MAX_BAD_ANSWERS:
                self._forget(entry)
                error.add_note(
                    f"job {entry.job_id}: {entry.bad_answers} unreadable answers in a row; "
                    "it may still run on the server"
                )
                self._on_error(entry.key, error)
            else:
                self._reschedule(entry, entry.times)
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
                self._reschedule(entry, entry.times)
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
        self._watching.clear()
        self._on_time = 0
        self._failing_since = None  # jobs added from now on get a whole patience of their own
        for entry in given_up:
            times = entry.times
            last = (
                times.job(entry.job_id)
                if times is not None
                else Job(id=entry.job_id, status=JobStatus.SUBMITTED)
            )
            unreachable = JobUnreachableError(last, failing_s)
            unreachable.__cause__ = error
            self._on_error(entry.key, unreachable)

    def _update(self, entry: PollEntry, job: Job) -> None:
        if self._entries.get(entry.job_id) is not entry:
            return
        if job.is_terminal:
            self._forget(entry)
            self._on_terminal(entry.key, job)
            return
        if self._fixed_schedule is None and job.backend is not None:
            # Added without a job (resumed, or given by id): its answer names its backend.
            entry.schedule = PollSchedule.for_backend(job.backend)
        times = JobTimes(job)
        if entry.times is not None and entry.times.status is not times.status:
            # A new stage (queued -> running): its predictions start afresh, so a job that
            # queued longer than first predicted is not taken for late while it runs.
            entry.first_end = None
        entry.times = times
        self._reschedule(entry, times)

    def _reschedule(self, entry: PollEntry, job: JobTimes | None) -> None:
        if self._entries.get(entry.job_id) is not entry:
            return
        entry.attempt += 1
        delay = self._delay(entry, job)
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
