"""The batch engine against a small scripted API over loopback (rare server behaviour).

The emulator covers the realistic runs (tests/test_batch_emulator.py); this fake exists
to script what the emulator does not do: a server that ignores ``GET /jobs?ids=``, jobs
that never finish, exact request counts.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import pytest
from aiohttp import web
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)
from batch_helpers import SetPollSchedules, batch_tasks, settle, when_submitted

from ionq_async._batch import waiting as batch_waiting
from ionq_async._batch.values import QPU_SCHEDULE as DEFAULT_QPU_SCHEDULE
from ionq_async._batch.values import SIMULATOR_SCHEDULE as DEFAULT_SIMULATOR_SCHEDULE
from ionq_async._retry import RetryPolicy
from ionq_async.batch import TOKEN_METADATA_KEY, BatchProgress, PollSchedule
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.exceptions import (
    CircuitError,
    InvalidRequestError,
    JobCanceled,
    JobFailed,
    JournalError,
    WaitTimeoutError,
)
from ionq_async.models import JobStatus

KEY = "test-key-1234"


def basis_circuit(state: int, qubits: int = 12, name: str | None = None) -> Circuit:
    """A circuit whose only outcome is ``state`` (x on each set bit)."""
    circuit = Circuit(qubits=qubits, name=name)
    for bit in range(qubits):
        if state >> bit & 1:
            circuit.x(bit)
    return circuit


class FakeAPI:
    """Jobs finish after a number of status reads; every request is counted by route."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.requests: Counter[str] = Counter()
        self.ignore_ids = False
        self.reads_to_finish = 2
        self.never_finish = False
        self.drop_after_store = 0  # drop the connection of this many POSTs after storing
        self.fail_names = {"fail"}
        self.fail_once_names = {"flaky"}  # the first job of such a name fails (transient)
        self.failed_once: set[str] = set()
        self.permanent_names = {"too-wide"}  # fails with a permanent code
        self.cancel_names = {"cancel"}
        self.canceled_ids: list[str] = []
        self.error_after_store = 0  # answer this many POSTs with a 500 after storing
        self.stall_after_store = 0  # leave this many POSTs unanswered after storing
        self.stall_posts_after = -1  # from this many POSTs on, stall every one
        self.released = asyncio.Event()  # set at teardown: stalled answers may end
        self.stored = asyncio.Event()  # set whenever a job is stored
        self.on_store: Callable[[int], None] | None = None  # told the count of jobs stored
        self.posts_in_flight = 0
        self.most_posts_in_flight = 0
        self.post_barrier = 0  # from 1 on: hold every POST until barrier_open is set
        self.barrier_reached = asyncio.Event()  # set once post_barrier POSTs are held
        self.barrier_open = asyncio.Event()
        self.hold_posts_after = -1  # hold the POSTs that come once this many jobs are stored
        self.posts_let_go = asyncio.Event()  # ... until this is set
        self.journal_path: Path | None = None
        self.tokens_not_in_journal: list[str] = []
        self.rate_limit_lists = 0  # answer this many GET /jobs with a 429
        self.refuse_cancel = False
        self.retry_after_s = 1.0
        self._ids = itertools.count(1)
        self.app = web.Application()
        self.app.router.add_post("/v0.4/jobs", self.create)
        self.app.router.add_get("/v0.4/jobs", self.list)
        self.app.router.add_put("/v0.4/jobs/status/cancel", self.cancel_many)
        self.app.router.add_put("/v0.4/jobs/{id}/status/cancel", self.cancel_one)
        self.app.router.add_get("/v0.4/jobs/{id}", self.get)
        self.app.router.add_get("/v0.4/jobs/{id}/results/probabilities", self.probabilities)
        self.app.router.add_get("/v0.4/jobs/{id}/results/probabilities/aggregated", self.aggregated)

    def _state(self, circuit: dict[str, Any]) -> int:
        state = 0
        for gate in circuit["circuit"]:
            if gate["gate"] == "x":
                for target in gate.get("targets", [gate.get("target")]):
                    state |= 1 << target
        return state

    def _advance(self, job: dict[str, Any]) -> None:
        if job["status"] in ("completed", "failed", "canceled") or self.never_finish:
            return
        job["reads"] += 1
        if job["reads"] >= self.reads_to_finish:
            if job["name"] in self.fail_names:
                job["status"] = "failed"
                job["failure"] = {"code": "SimulationError", "message": "boom"}
            elif job["name"] in self.fail_once_names and job["name"] not in self.failed_once:
                self.failed_once.add(job["name"])
                job["status"] = "failed"
                job["failure"] = {"code": "QuantumComputerError", "message": "a glitch"}
            elif job["name"] in self.permanent_names:
                job["status"] = "failed"
                job["failure"] = {"code": "NotEnoughQubits", "message": "too wide"}
            elif job["name"] in self.cancel_names:
                job["status"] = "canceled"
            else:
                job["status"] = "completed"
        else:
            job["status"] = "ready"

    def _view(self, job: dict[str, Any]) -> dict[str, Any]:
        keys = ("id", "status", "type", "backend", "name", "metadata", "shots", "failure")
        out = {k: job.get(k) for k in keys}
        out["submitted_at"] = "2026-01-01T00:00:00.000Z"
        if job["children"]:
            out["child_job_ids"] = job["children"]
        return out

    async def create(self, request: web.Request) -> web.StreamResponse:
        self.requests["POST /jobs"] += 1
        self.posts_in_flight += 1
        self.most_posts_in_flight = max(self.most_posts_in_flight, self.posts_in_flight)
        try:
            if self.post_barrier:
                if self.posts_in_flight >= self.post_barrier:
                    self.barrier_reached.set()
                await self.barrier_open.wait()
            if 0 <= self.hold_posts_after <= len(self.order):
                await self.posts_let_go.wait()
            return await self._create(request)
        finally:
            self.posts_in_flight -= 1

    async def _create(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        token = str((body.get("metadata") or {}).get(TOKEN_METADATA_KEY))
        if self.journal_path is not None and token not in self.journal_path.read_text():
            self.tokens_not_in_journal.append(token)
        job_id = f"job-{next(self._ids):05d}"
        children: list[str] = []
        if body["type"] == "ionq.multi-circuit.v1":
            for entry in body["input"]["circuits"]:
                child_id = f"job-{next(self._ids):05d}"
                children.append(child_id)
                self.jobs[child_id] = {
                    "id": child_id,
                    "state": self._state(entry),
                    "name": entry.get("name"),
                    "children": [],
                }
        self.jobs[job_id] = {
            "id": job_id,
            "status": "submitted",
            "type": body["type"],
            "backend": body["backend"],
            "name": body.get("name"),
            "metadata": body.get("metadata"),
            "shots": body.get("shots"),
            "reads": 0,
            "list_reads": 0,
            "single_reads": 0,
            "children": children,
            "state": None if children else self._state(body["input"]),
        }
        self.order.append(job_id)
        self.stored.set()
        if self.on_store is not None:
            self.on_store(len(self.order))
        if self.error_after_store > 0:
            self.error_after_store -= 1
            return web.json_response({"error": "internal"}, status=500)
        stall_all = 0 <= self.stall_posts_after < len(self.order)
        if self.stall_after_store > 0 or stall_all:
            self.stall_after_store -= 1
            await self.released.wait()
        if self.drop_after_store > 0:
            self.drop_after_store -= 1
            assert request.transport is not None
            request.transport.close()
            raise asyncio.CancelledError
        return web.json_response({"id": job_id, "status": "submitted", "session_id": None})

    async def list(self, request: web.Request) -> web.Response:
        self.requests["GET /jobs"] += 1
        if self.rate_limit_lists > 0:
            self.rate_limit_lists -= 1
            return web.json_response(
                {"error": "slow down"},
                status=429,
                headers={"Retry-After": str(self.retry_after_s)},
            )
        ids = request.query.getall("ids", [])
        if ids and not self.ignore_ids:
            chosen = [self.jobs[i] for i in ids if i in self.jobs]
        elif ids:
            # Ignoring ``ids``: the account's oldest jobs, so a job made elsewhere (see
            # add_job_made_elsewhere) is in every answer, whatever was asked for.
            chosen = [self.jobs[i] for i in self.order][:25]
        else:
            # A plain listing (the token lookup): newest first, ``limit`` of them.
            limit = int(request.query.get("limit", "25"))
            chosen = [self.jobs[i] for i in reversed(self.order)][:limit]
        for job in chosen:
            job["list_reads"] += job["status"] not in ("completed", "failed", "canceled")
            self._advance(job)
        return web.json_response({"jobs": [self._view(j) for j in chosen], "next": None})

    async def get(self, request: web.Request) -> web.Response:
        self.requests["GET /jobs/{id}"] += 1
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return web.json_response({"error": "not found"}, status=404)
        job["single_reads"] += 1
        self._advance(job)
        return web.json_response(self._view(job))

    async def probabilities(self, request: web.Request) -> web.Response:
        self.requests["GET probabilities"] += 1
        job = self.jobs[request.match_info["id"]]
        return web.json_response({str(job["state"]): 1.0})

    async def aggregated(self, request: web.Request) -> web.Response:
        self.requests["GET aggregated"] += 1
        job = self.jobs[request.match_info["id"]]
        return web.json_response(
            {child: {str(self.jobs[child]["state"]): 1.0} for child in job["children"]}
        )

    async def cancel_many(self, request: web.Request) -> web.Response:
        self.requests["PUT cancel"] += 1
        ids = (await request.json())["ids"]
        for job_id in ids:
            self.jobs[job_id]["status"] = "canceled"
        self.canceled_ids.extend(ids)
        return web.json_response({"ids": ids, "status": "canceled"})

    async def wait_for_jobs(self, count: int) -> None:
        """Return once ``count`` jobs are stored."""
        while len(self.order) < count:
            self.stored.clear()
            await self.stored.wait()

    async def cancel_one(self, request: web.Request) -> web.Response:
        self.requests["PUT cancel one"] += 1
        job_id = request.match_info["id"]
        if self.refuse_cancel:
            return web.json_response({"error": "the job cannot be canceled"}, status=400)
        self.jobs[job_id]["status"] = "canceled"
        self.canceled_ids.append(job_id)
        return web.json_response({"id": job_id, "status": "canceled"})

    def add_job_made_elsewhere(self) -> str:
        """Store a finished job no batch asked for (as another program of the account would)."""
        job_id = f"job-{next(self._ids):05d}"
        self.jobs[job_id] = {
            "id": job_id, "status": "completed", "type": "ionq.circuit.v1",
            "backend": "simulator", "name": "elsewhere", "metadata": None, "shots": 100,
            "reads": 0, "list_reads": 0, "single_reads": 0, "children": [], "state": 0,
        }  # fmt: skip
        self.order.append(job_id)
        return job_id

    def created_with_token(self, token: str) -> int:
        return sum(
            1
            for j in self.jobs.values()
            if (j.get("metadata") or {}).get(TOKEN_METADATA_KEY) == token
        )


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeAPI, str]]:
    api = FakeAPI()
    runner = web.AppRunner(api.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield api, f"http://127.0.0.1:{port}/v0.4"
    finally:
        api.released.set()
        api.barrier_open.set()
        api.posts_let_go.set()
        await runner.cleanup()


def client_tasks() -> set[asyncio.Task[Any]]:
    """Tasks of this event loop other than the fake server's connection handlers."""
    return {
        task
        for task in asyncio.all_tasks()
        if not task.get_coro().__qualname__.startswith("RequestHandler")  # type: ignore[union-attr]
    }


FAST = PollSchedule(initial_s=0.005, factor=1.5, max_s=0.02, jitter=0.1)


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    poll_schedules(FAST, FAST)


def client_for(url: str) -> Client:
    return Client(api_key=KEY, base_url=url, retry=RetryPolicy.no_wait())


class PollSleeps:
    """Stands in for ``batch._poll_sleep``: records each delay and returns at once.

    ``finish(job_id, after=n)`` completes that job on the fake server at the n-th sleep,
    so the poll that follows it ends the wait.
    """

    def __init__(self, api: FakeAPI, monkeypatch: pytest.MonkeyPatch) -> None:
        self.api = api
        self.delays: list[float] = []
        self._job_id = ""
        self._after = 0
        monkeypatch.setattr(batch_waiting, "_poll_sleep", self.sleep)

    def finish(self, job_id: str, *, after: int) -> None:
        self._job_id, self._after = job_id, after

    async def sleep(self, delay_s: float) -> None:
        self.delays.append(delay_s)
        if len(self.delays) >= self._after:
            self.api.jobs[self._job_id]["status"] = "completed"
        await anyio.lowlevel.checkpoint()


class GateTime:
    """The transport's clock and sleep, frozen: a closed back-off gate holds every request.

    Each sleep is recorded and waits for :meth:`release`, which moves the clock past
    every wait asked for; ``all_paused`` is set once ``paused`` sleeps are waiting.
    """

    def __init__(self, client: Client, *, paused: int) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.all_paused = anyio.Event()
        self._paused = paused
        self._released = anyio.Event()
        client.transport.clock = lambda: self.now
        client.transport.sleep = self.sleep

    async def sleep(self, seconds: float) -> None:
        if self._released.is_set():
            self.now += seconds
            await anyio.lowlevel.checkpoint()
            return
        self.sleeps.append(seconds)
        if len(self.sleeps) >= self._paused:
            self.all_paused.set()
        await self._released.wait()

    def release(self) -> None:
        self.now += max(self.sleeps, default=0.0)
        self._released.set()


async def ended(tasks: set[asyncio.Task[Any]]) -> None:
    """Return once ``tasks`` have all finished (the 30 s limit only catches a hang)."""
    gc.collect()  # a handle caught in a reference cycle is finalized (so stopped) only here
    if tasks:
        with anyio.fail_after(30):
            await asyncio.wait(tasks)


async def assert_sends_nothing_more(client: Client) -> None:
    """Once every task of the loop waits, the client has sent no further request."""
    sent = client.stats.requests_sent
    with anyio.fail_after(30):
        await anyio.wait_all_tasks_blocked()
    assert client.stats.requests_sent == sent


async def all_sent_requests_arrived(api: FakeAPI, client: Client) -> None:
    """Return at a quiet point where the server has seen every request the client sent."""
    with anyio.fail_after(30):
        await anyio.wait_all_tasks_blocked()
        while sum(api.requests.values()) < client.stats.requests_sent:
            await anyio.lowlevel.checkpoint()  # the answer to a socket read, not a delay


async def test_every_circuit_comes_back_matched_to_its_index(fake: tuple[FakeAPI, str]) -> None:
    _api, url = fake
    circuits = [basis_circuit(i) for i in range(300)]
    async with client_for(url) as client:
        outcomes = [o async for o in client.run_many(circuits, shots=100)]
    assert sorted(o.index for o in outcomes) == list(range(300))
    for outcome in outcomes:
        assert outcome.unwrap().probabilities == {outcome.index: 1.0}
        assert outcome.circuit is circuits[outcome.index]


async def test_status_comes_from_job_lists_not_job_by_job(fake: tuple[FakeAPI, str]) -> None:
    api, url = fake
    async with client_for(url) as client:
        outcomes = [o async for o in client.run_many([basis_circuit(i) for i in range(400)])]
    assert all(o.ok for o in outcomes)
    assert api.requests["POST /jobs"] == 400
    assert api.requests["GET probabilities"] == 400
    assert api.requests["GET /jobs/{id}"] == 0
    # Status came from GET /jobs?ids= lists; how many depends on the machine's speed, so
    # the batching is pinned in test_batch_units.py and the ratio is a benchmark figure.
    assert api.requests["GET /jobs"] >= 1


async def test_a_server_that_ignores_ids_is_polled_job_by_job(fake: tuple[FakeAPI, str]) -> None:
    api, url = fake
    api.ignore_ids = True
    elsewhere = api.add_job_made_elsewhere()  # in every list answer: ids are seen ignored
    async with client_for(url) as client:
        outcomes = [o async for o in client.run_many([basis_circuit(i) for i in range(60)])]
    assert sorted(o.index for o in outcomes) == list(range(60))
    assert all(o.unwrap().probabilities == {o.index: 1.0} for o in outcomes)
    batch_jobs = [job for job_id, job in api.jobs.items() if job_id != elsewhere]
    # A job finishes on its second read and one list read at most comes before the switch:
    # every job was read on its own at least once.
    assert len(batch_jobs) == 60
    assert all(job["single_reads"] >= 1 for job in batch_jobs)
    assert api.requests["GET /jobs/{id}"] >= 60


async def test_failed_and_canceled_jobs_give_typed_error_outcomes(
    fake: tuple[FakeAPI, str],
) -> None:
    _api, url = fake
    circuits = [basis_circuit(i) for i in range(20)]
    circuits[3] = basis_circuit(3, name="fail")
    circuits[7] = basis_circuit(7, name="cancel")
    async with client_for(url) as client:
        outcomes = {o.index: o async for o in client.run_many(circuits)}
    assert isinstance(outcomes[3].error, JobFailed)
    assert outcomes[3].error.code == "SimulationError"
    assert outcomes[3].result is None
    assert isinstance(outcomes[7].error, JobCanceled)
    assert sum(o.ok for o in outcomes.values()) == 18


async def test_an_invalid_circuit_gives_one_error_outcome(fake: tuple[FakeAPI, str]) -> None:
    api, url = fake
    circuits: list[Any] = [basis_circuit(i) for i in range(10)]
    circuits[4] = {"gateset": "qis", "circuit": [{"gate": "nope", "targets": [0]}]}
    async with client_for(url) as client:
        outcomes = {o.index: o async for o in client.run_many(circuits)}
    assert isinstance(outcomes[4].error, CircuitError)
    assert outcomes[4].job is None
    assert sum(o.ok for o in outcomes.values()) == 9
    assert api.requests["POST /jobs"] == 9


async def test_pack_gives_the_same_outcomes_in_few_jobs(fake: tuple[FakeAPI, str]) -> None:
    api, url = fake
    circuits = [basis_circuit(i, name=f"c{i}") for i in range(250)]
    async with client_for(url) as client:
        packed = {o.index: o async for o in client.run_many(circuits, pack=True)}
        plain = {o.index: o async for o in client.run_many(circuits)}
    assert packed.keys() == plain.keys() == set(range(250))
    for index in range(250):
        assert packed[index].unwrap().probabilities == plain[index].unwrap().probabilities
        assert packed[index].name == f"c{index}"
    assert api.requests["GET aggregated"] == 1


async def test_breaking_out_of_the_loop_stops_everything(fake: tuple[FakeAPI, str]) -> None:
    api, url = fake
    api.reads_to_finish = 1
    before = len(client_tasks())
    async with client_for(url) as client:
        started: set[asyncio.Task[Any]] = set()
        async for _ in client.run_many([basis_circuit(i) for i in range(100)]):
            started.update(batch_tasks())
            break
        assert started  # the batch's own tasks, stopped by dropping the handle
        await ended(started)
        assert batch_tasks() == []
        assert len(client_tasks()) == before
        await assert_sends_nothing_more(client)
    assert len(client_tasks()) == before


async def test_closing_the_run_awaits_all_its_work(fake: tuple[FakeAPI, str]) -> None:
    api, url = fake
    api.never_finish = True
    before = len(client_tasks())
    async with client_for(url) as client:
        progress, submitted = when_submitted(50)
        run = client.run_many([basis_circuit(i) for i in range(50)], progress=progress)
        async with run:
            await submitted.wait()
        assert len(client_tasks()) == before
        await assert_sends_nothing_more(client)


async def test_cancelling_the_consumer_cancels_the_batch(fake: tuple[FakeAPI, str]) -> None:
    api, url = fake
    api.never_finish = True
    before = len(client_tasks())
    async with client_for(url) as client:
        progress, submitted = when_submitted(50)

        async def consume() -> None:
            async for _ in client.run_many([basis_circuit(i) for i in range(50)],
                                           progress=progress):  # fmt: skip
                pass

        async with anyio.create_task_group() as group:
            group.start_soon(consume)
            await submitted.wait()  # every job made, none can finish: the batch is busy
            group.cancel_scope.cancel()
        assert len(client_tasks()) == before
        await assert_sends_nothing_more(client)
    assert len(client_tasks()) == before


async def test_cancel_remote_cancels_unfinished_jobs_in_one_request(
    fake: tuple[FakeAPI, str],
) -> None:
    api, url = fake
    api.never_finish = True
    async with client_for(url) as client:
        progress, submitted = when_submitted(40)
        run = client.run_many(
            [basis_circuit(i) for i in range(40)], cancel_remote=True, progress=progress
        )
        async with run:
            await submitted.wait()
    assert api.requests["PUT cancel"] == 1
    assert sorted(api.canceled_ids) == sorted(api.order)


async def test_progress_counts_add_up(fake: tuple[FakeAPI, str]) -> None:
    _api, url = fake
    seen: list[BatchProgress] = []
    circuits = [basis_circuit(i) for i in range(30)]
    circuits[0] = basis_circuit(0, name="fail")
    async with client_for(url) as client:
        run = client.run_many(circuits, progress=seen.append)
        async for _ in run:
            pass
        final = run.progress
    assert (final.total, final.submitted, final.waiting) == (30, 30, 0)
    assert (final.completed, final.failed) == (29, 1)
    assert all(p.waiting == p.submitted - p.done for p in seen)
    assert [p.done for p in seen] == sorted(p.done for p in seen)


async def test_gather_returns_outcomes_in_input_order(fake: tuple[FakeAPI, str]) -> None:
    _api, url = fake
    async with client_for(url) as client:
        outcomes = await client.gather([basis_circuit(i) for i in range(25)])
    assert [o.index for o in outcomes] == list(range(25))


async def test_run_returns_the_result_of_one_circuit(fake: tuple[FakeAPI, str]) -> None:
    _api, url = fake
    async with client_for(url) as client:
        result = await client.run(basis_circuit(5), shots=10)
        with pytest.raises(JobFailed):
            await client.run(basis_circuit(1, name="fail"))
    assert result.probabilities == {5: 1.0}
    assert result.counts() == {5: 10}


async def test_wait_returns_the_completed_job(fake: tuple[FakeAPI, str]) -> None:
    _api, url = fake
    async with client_for(url) as client:
        job = await client.submit(basis_circuit(1))
        done = await client.wait(job, schedule=FAST)
    assert done.status is JobStatus.COMPLETED


async def test_wait_times_out_with_the_last_state_and_leaves_the_job(
    fake: tuple[FakeAPI, str],
) -> None:
    api, url = fake
    api.never_finish = True
    async with client_for(url) as client:
        job = await client.submit(basis_circuit(1))
        with pytest.raises(WaitTimeoutError) as caught:
            await client.wait(job.id, timeout_s=0.05, schedule=FAST)
    assert caught.value.job.id == job.id
    assert caught.value.job.status is JobStatus.SUBMITTED
    assert api.requests["PUT cancel"] == 0


async def test_as_completed_follows_jobs_made_elsewhere(fake: tuple[FakeAPI, str]) -> None:
    _api, url = fake
    async with client_for(url) as client:
        jobs = [await client.submit(basis_circuit(i)) for i in range(10)]
        given: list[Any] = [job if i % 2 else job.id for i, job in enumerate(jobs)]
        outcomes = {o.index: o async for o in client.as_completed(given)}
    assert {i: o.unwrap().probabilities for i, o in outcomes.items()} == {
        i: {i: 1.0} for i in range(10)
    }


async def test_as_completed_refuses_a_job_given_twice(fake: tuple[FakeAPI, str]) -> None:
    # Before: the second index replaced the first in the poller; the first's outcome never
    # came and the iteration hung.
    _api, url = fake
    async with client_for(url) as client:
        job = await client.submit(basis_circuit(1))
        with anyio.fail_after(30), pytest.raises(InvalidRequestError, match="given twice"):
            async for _ in client.as_completed([job.id, job]):
                pass


async def test_a_journal_resume_submits_nothing_twice(
    fake: tuple[FakeAPI, str], tmp_path: Path
) -> None:
    api, url = fake
    journal = tmp_path / "run.jsonl"
    circuits = [basis_circuit(i) for i in range(40)]
    api.never_finish = True
    async with client_for(url) as client:
        progress, submitted = when_submitted(40)
        run = client.run_many(circuits, journal=str(journal), progress=progress)
        async with run:
            await submitted.wait()
    assert api.requests["POST /jobs"] == 40
    # Simulate a crash after sending the last creation but before recording its job id.
    lines = journal.read_text().splitlines()
    last_job = max(i for i, line in enumerate(lines) if json.loads(line)["type"] == "job")
    journal.write_text("\n".join(lines[:last_job] + lines[last_job + 1 :]) + "\n")
    api.never_finish = False
    async with client_for(url) as client:
        outcomes = {o.index: o async for o in client.run_many(circuits, journal=str(journal))}
    assert {i: o.unwrap().probabilities for i, o in outcomes.items()} == {
        i: {i: 1.0} for i in range(40)
    }
    assert api.requests["POST /jobs"] == 40
    assert len(api.jobs) == 40


async def test_a_journal_of_another_batch_stops_the_run(
    fake: tuple[FakeAPI, str], tmp_path: Path
) -> None:
    api, url = fake
    journal = tmp_path / "run.jsonl"
    async with client_for(url) as client:
        await client.gather([basis_circuit(i) for i in range(3)], journal=str(journal))
        created = len(api.jobs)
        # Other circuits (checked job by job, as the input is read lazily) ...
        with pytest.raises(JournalError, match="input changed"):
            await client.gather([basis_circuit(i + 1) for i in range(3)], journal=str(journal))
        # ... or other options (checked when the journal is opened).
        with pytest.raises(JournalError, match="options differ"):
            await client.gather(
                [basis_circuit(i) for i in range(3)], journal=str(journal), shots=77
            )
    assert len(api.jobs) == created


async def test_a_journaled_batch_given_more_circuits_sends_only_the_new_ones(
    fake: tuple[FakeAPI, str], tmp_path: Path
) -> None:
    # The journal cannot know where a lazily read input ends: the same circuits followed
    # by more are the same batch, resumed, and only the new circuits are sent.
    api, url = fake
    journal = tmp_path / "run.jsonl"
    async with client_for(url) as client:
        first = await client.gather([basis_circuit(i) for i in range(3)], journal=str(journal))
        created = len(api.jobs)
        again = await client.gather([basis_circuit(i) for i in range(4)], journal=str(journal))
    assert len(api.jobs) == created + 1
    assert [o.job.id for o in again[:3] if o.job] == [o.job.id for o in first if o.job]
    assert all(o.ok for o in again)


# ---------------------------------------------------------------------------------------
# Never twice: each kind of ambiguous creation failure is looked up, not re-sent.


def one_job_per_token(api: FakeAPI, count: int) -> bool:
    tokens = Counter((j.get("metadata") or {}).get(TOKEN_METADATA_KEY) for j in api.jobs.values())
    return len(tokens) == count and set(tokens.values()) == {1}


@pytest.mark.parametrize(
    "fault", ["drop_after_store", "error_after_store"], ids=["dropped connection", "5xx"]
)
async def test_a_creation_that_failed_after_the_job_was_stored_is_looked_up_not_sent_again(
    fake: tuple[FakeAPI, str], fault: str
) -> None:
    api, url = fake
    setattr(api, fault, 4)  # four creations are stored, then their answers fail
    async with client_for(url) as client:
        outcomes = [o async for o in client.run_many([basis_circuit(i) for i in range(20)])]
    assert all(o.unwrap().probabilities == {o.index: 1.0} for o in outcomes)
    assert api.requests["POST /jobs"] == 20
    assert one_job_per_token(api, 20)


async def test_a_read_timeout_after_the_job_was_stored_is_looked_up_not_sent_again(
    fake: tuple[FakeAPI, str],
) -> None:
    api, url = fake
    api.stall_after_store = 3  # the first three creations are stored, then never answered
    async with client_for(url) as client:
        # Only those three may time out, however loaded the machine: they go out alone
        # (concurrency 3) with a short read timeout, and as the third is stored (before
        # any other request can start) the client's timeout is made patient again.
        patient = client.transport._timeout
        client.transport._timeout = aiohttp.ClientTimeout(
            total=patient.total, sock_connect=patient.sock_connect, sock_read=0.5
        )

        def be_patient_again(stored: int) -> None:
            if stored == 3:
                client.transport._timeout = patient

        api.on_store = be_patient_again
        run = client.run_many([basis_circuit(i) for i in range(20)], concurrency=3)
        outcomes = [o async for o in run]
        timeouts = client.stats.connection_errors
    assert all(o.unwrap().probabilities == {o.index: 1.0} for o in outcomes)
    assert timeouts == 3
    assert api.requests["POST /jobs"] == 20
    assert one_job_per_token(api, 20)


async def test_each_token_is_in_the_journal_before_its_creation_is_sent(
    fake: tuple[FakeAPI, str], tmp_path: Path
) -> None:
    api, url = fake
    api.journal_path = tmp_path / "run.jsonl"
    async with client_for(url) as client:
        outcomes = await client.gather(
            [basis_circuit(i) for i in range(30)], journal=str(api.journal_path)
        )
    assert all(o.ok for o in outcomes)
    assert api.requests["POST /jobs"] == 30
    assert api.tokens_not_in_journal == []


# ---------------------------------------------------------------------------------------
# Bounds and the shared back-off.


async def test_max_in_flight_bounds_the_jobs_created_but_unfinished(
    fake: tuple[FakeAPI, str],
) -> None:
    api, url = fake
    api.never_finish = True
    async with client_for(url) as client:
        progress, submitted = when_submitted(5)
        run = client.run_many([basis_circuit(i) for i in range(30)], max_in_flight=5,
                              progress=progress)  # fmt: skip
        async with run:
            await submitted.wait()
            # Every task has had its turn and every request sent has arrived: a sixth
            # creation, were it allowed, would have been counted by now.
            await all_sent_requests_arrived(api, client)
            assert api.requests["POST /jobs"] == 5
            assert run.progress.submitted == 5


async def gather_holding_creations(
    api: FakeAPI, client: Client, concurrency: int
) -> tuple[list[Any], int]:
    """Gather 40 circuits; the server holds the creations until ``concurrency`` wait.

    Returns the outcomes and the creations in flight once every request the client had
    sent by then had arrived (so one more, were it allowed, would have been counted).
    """
    api.post_barrier = concurrency
    api.barrier_reached, api.barrier_open = asyncio.Event(), asyncio.Event()
    outcomes: list[Any] = []

    async def gather() -> None:
        circuits = [basis_circuit(i) for i in range(40)]
        outcomes.extend(await client.gather(circuits, concurrency=concurrency))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            group.start_soon(gather)
            await api.barrier_reached.wait()
            await all_sent_requests_arrived(api, client)
            held = api.posts_in_flight
            api.barrier_open.set()
    return outcomes, held


async def test_concurrency_bounds_the_creations_in_flight(fake: tuple[FakeAPI, str]) -> None:
    api, url = fake
    async with client_for(url) as client:
        outcomes, held = await gather_holding_creations(api, client, 3)
        assert len(outcomes) == 40
        assert all(o.ok for o in outcomes)
        assert held == 3
        assert api.most_posts_in_flight == 3
        api.most_posts_in_flight = 0
        _, held = await gather_holding_creations(api, client, 20)
    assert held == api.most_posts_in_flight == 20  # so the bound above is the option's doing


async def test_after_ids_are_seen_ignored_no_more_list_requests_are_made(
    fake: tuple[FakeAPI, str],
) -> None:
    api, url = fake
    api.ignore_ids = True
    api.reads_to_finish = 4
    elsewhere = api.add_job_made_elsewhere()  # in every list answer: ids are seen ignored
    async with client_for(url) as client:
        outcomes = [o async for o in client.run_many([basis_circuit(i) for i in range(60)])]
    assert all(o.ok for o in outcomes)
    # The first list answer (60 ids fit in one request) reveals it; every later poll is
    # per job, so each job's reads are that one list read at most and the rest one by one.
    assert api.requests["GET /jobs"] == 1
    batch_jobs = [job for job_id, job in api.jobs.items() if job_id != elsewhere]
    assert len(batch_jobs) == 60
    assert all(job["list_reads"] <= 1 for job in batch_jobs)
    assert all(job["list_reads"] + job["single_reads"] == 4 for job in batch_jobs)
    assert api.requests["GET /jobs/{id}"] >= 60 * 3


async def test_a_429_on_one_poll_pauses_every_request_then_all_resume(
    fake: tuple[FakeAPI, str],
) -> None:
    api, url = fake
    api.rate_limit_lists = 1  # the first poll (a GET /jobs?ids=) is answered 429
    api.retry_after_s = 1.0
    # Creations after the first four wait at the server until the 429 has been seen, so
    # creations are under way when it comes.
    api.hold_posts_after = 4
    retry = RetryPolicy(initial_backoff_s=0.001, max_backoff_s=0.01, max_retry_after_s=5.0)
    async with Client(api_key=KEY, base_url=url, retry=retry) as client:
        gate = GateTime(client, paused=5)  # the poll's retry and the four creation slots
        sent_when_limited: list[int] = []

        def on_429(_event: object) -> None:
            sent_when_limited.append(client.stats.requests_sent)
            api.posts_let_go.set()

        client.transport.rate_limit_listeners.append(on_429)
        async with client.run_many([basis_circuit(i) for i in range(40)], concurrency=4) as run:
            with anyio.fail_after(30):
                await gate.all_paused.wait()
            # Every request now waits for the advised second; none was sent since the 429.
            assert gate.sleeps == [1.0] * 5
            assert client.stats.requests_sent == sent_when_limited[0]
            before = Counter(api.requests)
            gate.release()
            outcomes = [o async for o in run]
    assert len(outcomes) == 40
    assert all(o.ok for o in outcomes)
    assert len(sent_when_limited) == 1
    resumed = Counter(api.requests) - before
    assert resumed["POST /jobs"] > 0 and resumed["GET /jobs"] > 0


# ---------------------------------------------------------------------------------------
# The lifetime of a batch: every way of stopping leaves nothing behind.


async def test_a_rejected_key_raises_one_authentication_error_not_a_group() -> None:
    from ionq_async.exceptions import AuthenticationError

    @web.middleware
    async def reject(request: web.Request, handler: Any) -> web.StreamResponse:
        return web.json_response({"error": "Invalid key provided."}, status=401)

    runner = web.AppRunner(web.Application(middlewares=[reject]))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with client_for(f"http://127.0.0.1:{port}/v0.4") as client:
            with pytest.raises(AuthenticationError) as caught:
                async for _ in client.run_many([basis_circuit(i) for i in range(50)]):
                    pass
            assert not isinstance(caught.value, BaseExceptionGroup)
            await settle()
            assert not batch_tasks()
    finally:
        await runner.cleanup()


async def test_an_exception_in_the_loop_body_stops_the_batch(fake: tuple[FakeAPI, str]) -> None:
    _api, url = fake
    async with client_for(url) as client:
        started: set[asyncio.Task[Any]] = set()
        with pytest.raises(ZeroDivisionError):
            async for outcome in client.run_many([basis_circuit(i) for i in range(200)]):
                started.update(batch_tasks())
                outcome.index / 0  # the consumer's own bug
        assert started  # the batch's own tasks, stopped by dropping the handle
        await ended(started)
        assert batch_tasks() == []
        await assert_sends_nothing_more(client)


async def test_closing_the_client_mid_batch_gives_the_consumer_client_closed_error(
    fake: tuple[FakeAPI, str],
) -> None:
    from ionq_async.exceptions import ClientClosedError

    api, url = fake
    api.never_finish = True
    client = client_for(url)
    await client.__aenter__()
    progress, submitted = when_submitted(10)
    caught: list[BaseException] = []

    async def consume() -> None:
        try:
            async for _ in client.run_many([basis_circuit(i) for i in range(10)],
                                           progress=progress):  # fmt: skip
                pass
        except ClientClosedError as error:
            caught.append(error)

    async with anyio.create_task_group() as group:
        group.start_soon(consume)
        await submitted.wait()
        await client.aclose()
    [error] = caught
    assert "10 of 10 circuits unfinished" in str(error)
    await settle()
    assert batch_tasks() == []


async def test_a_batch_that_finished_is_not_reported_closed_by_the_clients_close(
    fake: tuple[FakeAPI, str],
) -> None:
    _api, url = fake
    async with client_for(url) as client:
        run = client.run_many([basis_circuit(i) for i in range(5)])
        outcomes = [o async for o in run]
    assert len(outcomes) == 5
    assert [o async for o in run] == []  # closed, exhausted: nothing more, no error


async def test_cancel_remote_also_cancels_jobs_whose_creation_was_under_way(
    fake: tuple[FakeAPI, str],
) -> None:
    api, url = fake
    api.never_finish = True
    api.stall_posts_after = 5  # the 6th creation on: stored, but never answered
    async with client_for(url) as client:
        progress, submitted = when_submitted(5)
        run = client.run_many([basis_circuit(i) for i in range(20)], concurrency=8,
                              cancel_remote=True, progress=progress)  # fmt: skip
        async with run:
            await submitted.wait()
            await api.wait_for_jobs(5 + 8)  # every creation slot holds a stalled one
    # Two bulk requests: the 5 jobs known to be waiting at once, then the 8 whose creation
    # was under way, once the token sweep has found them.
    assert api.requests["PUT cancel"] == 2
    assert set(api.canceled_ids[:5]) == set(api.order[:5])
    assert sorted(api.canceled_ids) == sorted(api.order)
    assert len(api.order) == 13


# ---------------------------------------------------------------------------------------
# wait()


async def test_wait_raises_job_failed_and_job_canceled(fake: tuple[FakeAPI, str]) -> None:
    _api, url = fake
    async with client_for(url) as client:
        failing = await client.submit(basis_circuit(1, name="fail"))
        canceled = await client.submit(basis_circuit(2, name="cancel"))
        with pytest.raises(JobFailed) as failed:
            await client.wait(failing, schedule=FAST)
        with pytest.raises(JobCanceled) as cancel:
            await client.wait(canceled.id, schedule=FAST)
    assert failed.value.job.id == failing.id
    assert failed.value.code == "SimulationError"
    assert cancel.value.job.status is JobStatus.CANCELED


async def test_wait_cancels_the_remote_job_on_timeout_only_when_asked(
    fake: tuple[FakeAPI, str],
) -> None:
    api, url = fake
    api.never_finish = True
    async with client_for(url) as client:
        job = await client.submit(basis_circuit(1))
        with pytest.raises(WaitTimeoutError):
            await client.wait(job, timeout_s=0.05, schedule=FAST, cancel_on_timeout=True)
    assert api.canceled_ids == [job.id]


async def test_a_failed_cancel_after_a_timeout_still_raises_the_timeout(
    fake: tuple[FakeAPI, str],
) -> None:
    api, url = fake
    api.never_finish = True
    api.refuse_cancel = True
    async with client_for(url) as client:
        job = await client.submit(basis_circuit(1))
        with pytest.raises(WaitTimeoutError) as caught:
            await client.wait(job, timeout_s=0.05, schedule=FAST, cancel_on_timeout=True)
    assert api.requests["PUT cancel one"] == 1
    assert any("cancelling job" in note for note in caught.value.__notes__)


async def test_wait_polls_ever_less_often_up_to_the_cap(
    fake: tuple[FakeAPI, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, url = fake
    api.never_finish = True
    sleeps = PollSleeps(api, monkeypatch)
    growing = PollSchedule(initial_s=0.01, factor=2.0, max_s=0.16, jitter=0.0)
    async with client_for(url) as client:
        job = await client.submit(basis_circuit(1))
        sleeps.finish(job.id, after=8)
        done = await client.wait(job, schedule=growing)
    assert done.status is JobStatus.COMPLETED
    assert sleeps.delays == pytest.approx([0.01, 0.02, 0.04, 0.08, 0.16, 0.16, 0.16, 0.16])
    assert api.requests["GET /jobs/{id}"] == 8  # one read after each wait


async def test_wait_defaults_to_short_polls_for_the_simulator_and_patient_ones_for_qpus(
    fake: tuple[FakeAPI, str], monkeypatch: pytest.MonkeyPatch, poll_schedules: SetPollSchedules
) -> None:
    api, url = fake
    api.never_finish = True
    # The shipped defaults: the simulator's polls start sooner and stay closer together.
    assert DEFAULT_SIMULATOR_SCHEDULE.initial_s < DEFAULT_QPU_SCHEDULE.initial_s
    assert DEFAULT_SIMULATOR_SCHEDULE.max_s < DEFAULT_QPU_SCHEDULE.max_s
    # Stand-ins without jitter, so the delays say which schedule wait() chose.
    poll_schedules(
        PollSchedule(initial_s=0.1, factor=2.0, max_s=0.4, jitter=0.0),
        PollSchedule(initial_s=10.0, factor=1.5, max_s=10.0, jitter=0.0),
    )
    delays: dict[str, list[float]] = {}
    reads: dict[str, int] = {}
    async with client_for(url) as client:
        for backend, polls in (("simulator", 4), ("qpu.forte-1", 2)):
            sleeps = PollSleeps(api, monkeypatch)
            job = await client.submit(basis_circuit(1), backend=backend)
            sleeps.finish(job.id, after=polls)
            before = api.requests["GET /jobs/{id}"]
            await client.wait(job.id)
            delays[backend] = sleeps.delays
            reads[backend] = api.requests["GET /jobs/{id}"] - before
    assert delays["simulator"] == pytest.approx([0.1, 0.2, 0.4, 0.4])
    assert delays["qpu.forte-1"] == pytest.approx([10.0, 10.0])
    # Each job is read once to learn its backend, then once after each wait.
    assert reads == {"simulator": 5, "qpu.forte-1": 3}


# ---------------------------------------------------------------------------------------
# retry_failed: a transient failure is sent again (a new job, a new token), a permanent
# one never.


async def test_a_transient_failure_is_sent_again_and_counted(fake: tuple[FakeAPI, str]) -> None:
    api, url = fake
    async with client_for(url) as client:
        outcomes = await client.gather(
            [basis_circuit(1, name="flaky"), basis_circuit(2, name="fine")], retry_failed=2
        )
    flaky, fine = outcomes
    assert flaky.ok and flaky.unwrap().probabilities == {1: 1.0}
    assert flaky.attempts == 2 and len(flaky.failed_jobs) == 1
    assert flaky.job is not None and flaky.job.id not in flaky.failed_jobs
    assert fine.attempts == 1 and fine.failed_jobs == ()
    assert api.requests["POST /jobs"] == 3
    tokens = {(j.get("metadata") or {}).get(TOKEN_METADATA_KEY) for j in api.jobs.values()}
    assert len(tokens) == 3  # each job its own token


async def test_without_retry_failed_or_for_a_permanent_failure_nothing_is_resent(
    fake: tuple[FakeAPI, str],
) -> None:
    api, url = fake
    async with client_for(url) as client:
        once = await client.gather([basis_circuit(1, name="flaky")])
        permanent = await client.gather([basis_circuit(1, name="too-wide")], retry_failed=3)
    assert isinstance(once[0].error, JobFailed) and once[0].attempts == 1
    assert isinstance(permanent[0].error, JobFailed) and permanent[0].attempts == 1
    assert api.requests["POST /jobs"] == 2


async def test_retries_stop_when_spent(fake: tuple[FakeAPI, str]) -> None:
    api, url = fake
    api.fail_names = {"broken"}  # SimulationError every time: transient, never fixed
    async with client_for(url) as client:
        [outcome] = await client.gather([basis_circuit(1, name="broken")], retry_failed=2)
    assert isinstance(outcome.error, JobFailed)
    assert outcome.attempts == 3 and len(outcome.failed_jobs) == 2
    assert api.requests["POST /jobs"] == 3
