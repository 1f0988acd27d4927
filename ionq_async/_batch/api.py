"""What the batch engine needs of the API: a small Protocol of endpoint calls.

The engine is written against :class:`BatchAPI`, not against the client (the way
gidgethub's logic depends on an abstract base, not on aiohttp): the client satisfies it,
and a test can hand the engine any object that does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, Protocol

from .._retry import RetryPolicy
from ..circuits import Circuit
from ..exceptions import ResponseError
from ..models import BulkJobsAnswer, Cost, Estimate, Job, JobAnswer, JobPage, JobStatus

__all__ = ["BatchAPI", "JobLister", "JobReader", "SuccessCount"]


class SuccessCount(Protocol):
    """The client's count of requests answered with a 2xx (its transport's stats)."""

    @property
    def succeeded(self) -> int:
        """Requests answered with a 2xx so far."""
        ...


class JobLister(Protocol):
    """Listing jobs (what the token resolver needs)."""

    def jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        backend: str | Sequence[str] | None = None,
        ids: Iterable[Job | str] | str | None = None,
        session_id: str | None = None,
        parent_job_id: Job | str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Job]:
        """Every job of ``GET /jobs``, newest first, page after page."""
        ...


class JobReader(Protocol):
    """Reading jobs by id (what the poller needs)."""

    async def get_job(self, job: Job | str) -> Job:
        """``GET /jobs/{id}``."""
        ...

    async def job_page(
        self,
        *,
        status: JobStatus | str | None = None,
        backend: str | Sequence[str] | None = None,
        ids: Iterable[Job | str] | str | None = None,
        session_id: str | None = None,
        parent_job_id: Job | str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> JobPage:
        """One page of ``GET /jobs`` (the poller asks by ``ids``)."""
        ...


class BatchAPI(JobLister, JobReader, Protocol):
    """The endpoint calls and client facts the batch engine uses; the client provides them."""

    @property
    def retry_policy(self) -> RetryPolicy:
        """How patient the client is with one request (the engine is as patient)."""
        ...

    @property
    def stats(self) -> SuccessCount:
        """Request counts; the engine reads how many were served."""
        ...

    async def submit(
        self,
        circuit: Circuit | Sequence[Circuit] | Mapping[str, Any],
        *,
        backend: str = "simulator",
        shots: int | None = None,
        name: str | None = None,
        noise_model: str | None = None,
        noise_seed: int | None = None,
        debiasing: bool | None = None,
        dry_run: bool = False,
        session_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Job:
        """``POST /jobs``: create one job."""
        ...

    async def cancel(self, job: Job | str) -> JobAnswer:
        """``PUT /jobs/{id}/status/cancel``."""
        ...

    async def cancel_many(self, jobs: Iterable[Job | str]) -> BulkJobsAnswer:
        """Cancel many jobs."""
        ...

    async def _probabilities(
        self, job: Job | str, *, sharpen: bool | None = None, num_qubits: int | None
    ) -> dict[int, float]:
        """A job's probabilities, checked against ``num_qubits`` when known."""
        ...

    async def estimate(
        self,
        *,
        backend: str,
        qubits: int | None = None,
        shots: int | None = None,
        one_qubit_gates: int | None = None,
        two_qubit_gates: int | None = None,
        error_mitigation: bool | None = None,
        type: str | None = None,
    ) -> Estimate:
        """``GET /jobs/estimate``: the price of one job of a shape."""
        ...

    async def cost(self, job: Job | str) -> Cost:
        """``GET /jobs/{id}/cost``: a job's estimated and (once billed) actual cost."""
        ...

    async def shots(self, job: Job | str, *, variant: str | None = None) -> list[int]:
        """A completed job's state of every shot, in order."""
        ...

    async def _child_probabilities(
        self, job: Job | str
    ) -> dict[str, dict[int, float] | ResponseError]:
        """A multi-circuit parent's probabilities per child (a bad one as its error)."""
        ...
