"""A batch always ends: a deadline, an API out of reach and unreadable job answers each give
every circuit a typed outcome naming its job, never a wait without end."""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import pytest
from aiohttp import web
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)
from batch_helpers import SetPollSchedules, serving, when_submitted

from ionq_async._retry import RetryPolicy
from ionq_async.batch import PollSchedule
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.emulator import Emulator, EmulatorConfig, ManualClock
from ionq_async.exceptions import (
    BatchTimeoutError,
    ConfigurationError,
    JobUnreachableError,
    ResponseError,
    TransportError,
    WaitTimeoutError,
)

HANG_GUARD_S = 30.0  # only a batch that never ends reaches this

FAST = PollSchedule(initial_s=0.005, factor=1.5, max_s=0.02, jitter=0.0, max_predicted_s=0.02)
KEY = "timeouts-key-0000"


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    poll_schedules(FAST, FAST)


def bell(index: int) -> Circuit:
    return Circuit(qubits=2, name=f"b{index}").h(0).cnot(0, 1)


def client_for(url: str, key: str) -> Client:
    return Client(api_key=key, base_url=url, retry=RetryPolicy.no_wait())


async def test_a_batch_timeout_gives_every_circuit_a_typed_outcome_naming_its_job() -> None:
    # The emulator's clock never moves: its jobs never finish. Two jobs in flight at most,
    # so the third circuit is never submitted.
    async with Emulator(clock=ManualClock()) as emu, client_for(emu.url, emu.api_key) as client:
        run = client.run_many([bell(i) for i in range(3)], max_in_flight=2, timeout_s=0.5)
        outcomes = {o.index: o async for o in run}
        stored = {job["id"]: job for job in emu.jobs()}
    assert sorted(outcomes) == [0, 1, 2]
    third = outcomes[2].error
    assert isinstance(third, BatchTimeoutError) and third.token is None
    assert "never submitted" in str(third)
    for index in (0, 1):
        error = outcomes[index].error
        if isinstance(error, WaitTimeoutError):
            assert error.job.id in stored  # the job is named, and it exists
            assert stored[error.job.id]["status"] not in ("completed", "canceled")
            assert any("may still run on the server" in note for note in error.__notes__)
        else:  # a loaded machine may not have created it in time
            assert isinstance(error, BatchTimeoutError)
    assert len(stored) <= 2


async def test_run_takes_a_timeout_too() -> None:
    async with Emulator(clock=ManualClock()) as emu, client_for(emu.url, emu.api_key) as client:
        with pytest.raises((WaitTimeoutError, BatchTimeoutError)):
            await client.run(bell(0), timeout_s=0.3)


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), "5"])
async def test_a_bad_timeout_is_refused_before_anything_is_sent(value: Any) -> None:
    async with Emulator(clock=ManualClock()) as emu, client_for(emu.url, emu.api_key) as client:
        with pytest.raises(ConfigurationError, match="timeout_s"):
            client.run_many([bell(0)], timeout_s=value)
        assert emu.stats.requests_total == 0


async def test_a_batch_timeout_with_cancel_remote_cancels_the_jobs_it_leaves() -> None:
    async with Emulator(clock=ManualClock()) as emu, client_for(emu.url, emu.api_key) as client:
        progress, submitted = when_submitted(2)
        run = client.run_many(
            [bell(i) for i in range(2)], progress=progress, timeout_s=2.0, cancel_remote=True
        )
        with anyio.fail_after(HANG_GUARD_S):
            async with run:
                await submitted.wait()  # both jobs exist before the deadline
                outcomes = [o async for o in run]
        statuses = {job["id"]: job["status"] for job in emu.jobs()}
    assert len(outcomes) == 2
    for outcome in outcomes:
        error = outcome.error
        assert isinstance(error, WaitTimeoutError)
        assert any("was asked to cancel" in note for note in error.__notes__)
        assert statuses[error.job.id] == "canceled"


async def test_an_api_out_of_reach_ends_waiting_jobs_as_errors_carrying_their_ids(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The jobs are created, then the API goes away for good: before, the batch waited
    # forever, logging nothing above DEBUG.
    emu = Emulator(config=EmulatorConfig(), clock=ManualClock())
    await emu.start()
    try:
        async with client_for(emu.url, emu.api_key) as client:
            progress, submitted = when_submitted(3)
            run = client.run_many(
                [bell(i) for i in range(3)], progress=progress, max_poll_failure_s=0.2
            )
            with anyio.fail_after(HANG_GUARD_S):
                async with run:
                    await submitted.wait()
                    ids = set(run.job_ids.values())
                    await emu.aclose()
                    outcomes = [o async for o in run]
    finally:
        await emu.aclose()
    assert sorted(o.index for o in outcomes) == [0, 1, 2]
    for outcome in outcomes:
        error = outcome.error
        assert isinstance(error, JobUnreachableError), error
        assert error.job.id in ids and outcome.job is not None and outcome.job.id == error.job.id
        assert "may still run on the server" in str(error)
        assert isinstance(error.__cause__, TransportError)
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "giving up" in r.message]
    assert len(warnings) == 1 and "3 waiting jobs" in warnings[0].getMessage()


class OneUnreadableJobAPI:
    """Jobs complete at once; the job named ``bad`` is always listed in an unreadable form."""

    def __init__(self) -> None:
        self.jobs: dict[str, str] = {}
        self.app = web.Application()
        self.app.router.add_post("/v0.4/jobs", self.create)
        self.app.router.add_get("/v0.4/jobs", self.list)
        self.app.router.add_get("/v0.4/jobs/{id}", self.get)
        self.app.router.add_get("/v0.4/jobs/{id}/results/probabilities", self.probabilities)

    def view(self, job_id: str) -> dict[str, Any]:
        if self.jobs[job_id] == "bad":
            return {"id": job_id, "status": ["not", "a", "status"]}
        return {"id": job_id, "status": "completed", "backend": "simulator", "shots": 10}

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        job_id = str(uuid.uuid4())
        self.jobs[job_id] = body["name"]
        return web.json_response({"id": job_id, "status": "submitted"})

    async def list(self, request: web.Request) -> web.Response:
        ids = request.query.getall("ids", [])
        return web.json_response({"jobs": [self.view(i) for i in ids], "next": None})

    async def get(self, request: web.Request) -> web.Response:
        return web.json_response(self.view(request.match_info["id"]))

    async def probabilities(self, request: web.Request) -> web.Response:
        return web.json_response({"0": 0.5, "3": 0.5})


async def test_one_unreadable_job_in_a_polled_page_fails_alone() -> None:
    # Before, the whole page failed on every poll and the batch never ended.
    api = OneUnreadableJobAPI()
    circuits = [Circuit(qubits=2, name=name).h(0).cnot(0, 1) for name in ("ok", "bad", "ok2")]
    async with serving(api.app) as url, client_for(url, KEY) as client:
        with anyio.fail_after(HANG_GUARD_S):
            outcomes = {o.index: o async for o in client.run_many(circuits, shots=10)}
    assert sorted(outcomes) == [0, 1, 2]
    assert outcomes[0].ok and outcomes[2].ok
    error = outcomes[1].error
    assert isinstance(error, ResponseError)
    assert any("unreadable answers in a row" in note for note in error.__notes__)
