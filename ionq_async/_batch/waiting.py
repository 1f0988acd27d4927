"""Waiting for one job: poll ``GET /jobs/{id}`` on a growing schedule until it ends."""

from __future__ import annotations

import random

import anyio

from ..exceptions import IonQError, JobCanceled, JobFailed, WaitTimeoutError
from ..models import Job, JobStatus
from .api import BatchAPI
from .values import PollSchedule

__all__ = ["wait_for_job"]


async def _poll_sleep(delay_s: float) -> None:
    """Sleep between two polls of ``wait`` (one name, so tests can count the delays)."""
    await anyio.sleep(delay_s)


async def wait_for_job(
    client: BatchAPI,
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
