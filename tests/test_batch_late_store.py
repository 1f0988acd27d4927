"""A job creation the server stores late is not run twice.

The first attempt's answer never comes (the client's read timeout runs out) and the server
stores that job only later: during the grace period before a re-send (found, not sent
again), or even after the re-send (found by the watch that follows, canceled, counted).
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from aiohttp import web
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)
from batch_helpers import SetPollSchedules, serving

from ionq_async._retry import RetryPolicy
from ionq_async.batch import TOKEN_METADATA_KEY, BatchProgress, PollSchedule
from ionq_async.circuits import Circuit
from ionq_async.client import Client

KEY = "late-store-key-0000"
HANG_GUARD_S = 60.0
FAST = PollSchedule(initial_s=0.005, factor=1.0, max_s=0.005, jitter=0.0)


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    poll_schedules(FAST, FAST)


class LateStoringAPI:
    """The first job creation is held unanswered and stored late (queued, never run);
    other jobs complete at once.

    ``store_first_when``: "grace", the held job is stored before the second token look-up
    is answered; "resend", only once the creation is sent again (its answer goes out
    after both are stored).
    """

    def __init__(
        self,
        store_first_when: str,
        *,
        first_runs: bool = False,
        resent_waits_for_cancel: bool = False,
    ) -> None:
        self.store_first_when = store_first_when
        self.first_runs = first_runs  # the late first attempt runs (and completes) at once
        # The re-sent job stays queued until the duplicate is canceled: only the watch
        # that follows a re-send (not the look before the outcome) can end such a batch.
        self.resent_waits_for_cancel = resent_waits_for_cancel
        self.resent_id: str | None = None
        self.jobs: list[dict[str, Any]] = []  # oldest first
        self.posts = 0
        self.lists = 0
        self.canceled: list[str] = []
        self.first_stored = asyncio.Event()
        self.release_first = asyncio.Event()
        self._ids = itertools.count(1)
        self.app = web.Application()
        self.app.router.add_post("/v0.4/jobs", self.create)
        self.app.router.add_get("/v0.4/jobs", self.list)
        self.app.router.add_get("/v0.4/jobs/{id}", self.get)
        self.app.router.add_get("/v0.4/jobs/{id}/results/probabilities", self.probabilities)
        self.app.router.add_put("/v0.4/jobs/{id}/status/cancel", self.cancel)

    def _store(self, body: dict[str, Any], status: str = "completed") -> dict[str, Any]:
        job = {
            "id": f"job-{next(self._ids)}",
            "status": status,
            "backend": body["backend"],
            "shots": body.get("shots"),
            "metadata": body.get("metadata"),
            "submitted_at": datetime.now(UTC).isoformat(),
        }
        self.jobs.append(job)
        return job

    def _find(self, job_id: str) -> dict[str, Any]:
        return next(job for job in self.jobs if job["id"] == job_id)

    async def create(self, request: web.Request) -> web.Response:
        self.posts += 1
        body = await request.json()
        if self.posts == 1:
            # Held: the client's read timeout runs out; the job is stored later.
            await self.release_first.wait()
            # After a re-send it is the duplicate, still queued: it can be canceled unrun.
            queued = self.store_first_when == "resend" and not self.first_runs
            self._store(body, "submitted" if queued else "completed")
            self.first_stored.set()
            return web.json_response({"id": "never-read", "status": "submitted"})
        if self.store_first_when == "resend":
            self.release_first.set()
            await self.first_stored.wait()
        job = self._store(body, "submitted" if self.resent_waits_for_cancel else "completed")
        self.resent_id = job["id"]
        return web.json_response({"id": job["id"], "status": "submitted"})

    async def list(self, request: web.Request) -> web.Response:
        ids = request.query.getall("ids", [])
        if ids:
            return web.json_response({"jobs": [self._find(i) for i in ids], "next": None})
        self.lists += 1
        if self.lists == 2 and self.store_first_when == "grace":
            # The look-up after the grace period: the late job is there by now.
            self.release_first.set()
            await self.first_stored.wait()
        return web.json_response({"jobs": list(reversed(self.jobs)), "next": None})

    async def get(self, request: web.Request) -> web.Response:
        return web.json_response(self._find(request.match_info["id"]))

    async def probabilities(self, request: web.Request) -> web.Response:
        return web.json_response({"0": 0.5, "3": 0.5})

    async def cancel(self, request: web.Request) -> web.Response:
        job = self._find(request.match_info["id"])
        self.canceled.append(job["id"])
        job["status"] = "canceled"
        if self.resent_id is not None:
            self._find(self.resent_id)["status"] = "completed"
        return web.json_response({"id": job["id"], "status": "canceled"})


async def run_one(api: LateStoringAPI) -> tuple[list[Any], list[BatchProgress]]:
    bell = Circuit(qubits=2, name="bell").h(0).cnot(0, 1)
    progress: list[BatchProgress] = []
    async with serving(api.app) as url:
        # A short read timeout: the held creation's answer is given up on quickly.
        client = Client(api_key=KEY, base_url=url, retry=RetryPolicy.no_wait(), timeout_s=0.5)
        async with client:
            with anyio.fail_after(HANG_GUARD_S):
                outcomes = [o async for o in client.run_many([bell], progress=progress.append)]
        api.release_first.set()  # let a still-held handler end
        return outcomes, progress


async def test_a_job_stored_during_the_grace_period_is_found_not_sent_again() -> None:
    api = LateStoringAPI("grace")
    outcomes, _ = await run_one(api)
    assert len(outcomes) == 1 and outcomes[0].ok
    assert api.posts == 1  # never sent again
    assert len(api.jobs) == 1
    assert outcomes[0].job is not None and outcomes[0].job.id == api.jobs[0]["id"]


@pytest.mark.parametrize(
    "resent_waits_for_cancel", [False, True], ids=["found before the outcome", "found by the watch"]
)
async def test_a_job_stored_after_the_resend_is_canceled_and_counted(
    resent_waits_for_cancel: bool,
) -> None:
    api = LateStoringAPI("resend", resent_waits_for_cancel=resent_waits_for_cancel)
    outcomes, progress = await run_one(api)
    assert api.posts == 2
    first, resent = api.jobs  # the held first attempt was stored first
    tokens = {job["metadata"][TOKEN_METADATA_KEY] for job in api.jobs}
    assert len(tokens) == 1  # the same creation, twice
    [outcome] = outcomes
    assert outcome.ok and outcome.job is not None and outcome.job.id == resent["id"]
    assert outcome.duplicates_canceled == (first["id"],)
    assert api.canceled == [first["id"]]
    assert progress[-1].duplicates_canceled == 1


async def test_a_late_duplicate_that_already_ran_is_counted_though_not_canceled() -> None:
    api = LateStoringAPI("resend", first_runs=True)
    outcomes, progress = await run_one(api)
    first, _ = api.jobs
    [outcome] = outcomes
    assert outcome.ok and outcome.duplicates_canceled == (first["id"],)
    assert api.canceled == []  # a finished job cannot be canceled
    assert progress[-1].duplicates_canceled == 1
