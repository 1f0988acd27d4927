"""Finding jobs by their client token (``GET /jobs``), so no circuit is sent twice."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio

from ..exceptions import ServerError, TransportError
from ..models import Job
from .api import JobLister
from .values import TOKEN_METADATA_KEY

__all__ = ["TokenResolver", "is_ambiguous"]

logger = logging.getLogger("ionq_async.batch")


def is_ambiguous(error: BaseException) -> bool:
    """True if a failed job creation may have created the job anyway."""
    if isinstance(error, TransportError):
        return error.request_sent
    return isinstance(error, ServerError)


class TokenResolver:
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
        client: JobLister,
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

    @property
    def outstanding(self) -> int:
        """Tokens still to look up or answered but not yet collected (0 between lookups)."""
        return len(self._pending) + len(self._answers)

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
