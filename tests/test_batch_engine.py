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
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiohttp import web
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)

from ionq_async._retry import RetryPolicy
from ionq_async.batch import TOKEN_METADATA_KEY, BatchProgress, PollSchedule
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.exceptions import (
    CircuitError,
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
        self.cancel_names = {"cancel"}
        self.canceled_ids: list[str] = []
        self.error_after_store = 0  # answer this many POSTs with a 500 after storing
        self.stall_after_store = 0  # leave this many POSTs unanswered after storing
        self.stall_posts_after = -1  # from this many POSTs on, stall every one
        self.released = asyncio.Event()  # set at teardown: stalled answers may end
        self.stored = asyncio.Event()  # set whenever a job is stored
        self.post_delay_s = 0.0
        self.posts_in_flight = 0
        self.most_posts_in_flight = 0
        self.journal_path: Path | None = None
        self.tokens_not_in_journal: list[str] = []
        self.rate_limit_lists = 0  # answer this many GET /jobs with a 429
        self.refuse_cancel = False
        self.retry_after_s = 1.0
        self.request_times: list[tuple[float, str]] = []
        self.rate_limited_at: list[float] = []
        self._ids = itertools.count(1)
        self.app = web.Application()
        self.app.router.add_post("/v0.4/jobs", self.create)
        self.app.router.add_get("/v0.4/jobs", self.list)
        self.app.router.add_put("/v0.4/jobs/status/cancel", self.cancel_many)
        self.app.router.add_put("/v0.4/jobs/{id}/status/cancel", self.cancel_one)
        self.app.router.add_get("/v0.4/jobs/{id}", self.get)
        self.app.router.add_get("/v0.4/jobs/{id}/results/probabilities", self.probabilities)
        self.app.router.add_get(
            "/v0.4/jobs/{id}/results/probabilities/aggregated", self.aggregated
        )

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
        self.request_times.append((time.monotonic(), "POST /jobs"))
        self.posts_in_flight += 1
        self.most_posts_in_flight = max(self.most_posts_in_flight, self.posts_in_flight)
        try:
            return await self._create(request)
        finally:
            self.posts_in_flight -= 1

    async def _create(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        token = str((body.get("metadata") or {}).get(TOKEN_METADATA_KEY))
        if self.journal_path is not None and token not in self.journal_path.read_text():
            self.tokens_not_in_journal.append(token)
        if self.post_delay_s:
            await asyncio.sleep(self.post_delay_s)
        job_id = f"job-{next(self._ids):05d}"
        children: list[str] = []
        if body["type"] == "ionq.multi-circuit.v1":
            for entry in body["input"]["circuits"]:
                child_id = f"job-{next(self._ids):05d}"
                children.append(child_id)
                self.jobs[child_id] = {"id": child_id, "state": self._state(entry),
                                       "name": entry.get("name"), "children": []}
        self.jobs[job_id] = {
            "id": job_id,
            "status": "submitted",
            "type": body["type"],
            "backend": body["backend"],
            "name": body.get("name"),
            "metadata": body.get("metadata"),
            "shots": body.get("shots"),
            "reads": 0,
            "children": children,
            "state": None if children else self._state(body["input"]),
        }
        self.order.append(job_id)
        self.stored.set()
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
        self.request_times.append((time.monotonic(), "GET /jobs"))
        if self.rate_limit_lists > 0:
            self.rate_limit_lists -= 1
            self.rate_limited_at.append(time.monotonic())
            return web.json_response(
                {"error": "slow down"},
                status=429,
                headers={"Retry-After": str(self.retry_after_s)},
            )
        ids = request.query.getall("ids", [])
        if ids and not self.ignore_ids:
            chosen = [self.jobs[i] for i in ids if i in self.jobs]
        elif ids:
            chosen = [self.jobs[i] for i in reversed(self.order)][:25]
        else:
            # A plain listing (the token lookup): newest first, ``limit`` of them.
            limit = int(request.query.get("limit", "25"))
            chosen = [self.jobs[i] for i in reversed(self.order)][:limit]
        for job in chosen:
            self._advance(job)
        return web.json_response({"jobs": [self._view(j) for j in chosen], "next": None})

    async def get(self, request: web.Request) -> web.Response:
        self.requests["GET /jobs/{id}"] += 1
        self.request_times.append((time.monotonic(), "GET /jobs/{id}"))
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return web.json_response({"error": "not found"}, status=404)
        self._advance(job)
        return web.json_response(self._view(job))

    async def probabilities(self, request: web.Request) -> web.Response:
        self.requests["GET probabilities"] += 1
        self.request_times.append((time.monotonic(), "GET probabilities"))
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

    def created_with_token(self, token: str) -> int:
        return sum(
            1 for j in self.jobs.values() if (j.get("metadata") or {}).get(TOKEN_METADATA_KEY)
            == token
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
def fast_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ionq_async.batch.SIMULATOR_SCHEDULE", FAST)
    monkeypatch.setattr("ionq_async.batch.QPU_SCHEDULE", FAST)


def when_submitted(count: int) -> tuple[Callable[[BatchProgress], None], anyio.Event]:
    """A progress callback and the event it sets once ``count`` circuits have jobs."""
    event = anyio.Event()

    def progress(state: BatchProgress) -> None:
        if state.submitted >= count:
            event.set()

    return progress, event


def client_for(url: str) -> Client:
    return Client(api_key=KEY, base_url=url, retry=RetryPolicy.no_wait())


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
    async with client_for(url) as client:
        outcomes = [o async for o in client.run_many([basis_circuit(i) for i in range(60)])]
    assert sorted(o.index for o in outcomes) == list(range(60))
    assert all(o.unwrap().probabilities == {o.index: 1.0} for o in outcomes)
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


async def test_a_dropped_creation_is_found_by_its_token_not_sent_again(
    fake: tuple[FakeAPI, str],
) -> None:
    api, url = fake
    api.drop_after_store = 3
    async with client_for(url) as client:
        outcomes = [o async for o in client.run_many([basis_circuit(i) for i in range(30)])]
    assert all(o.ok for o in outcomes)
    assert api.requests["POST /jobs"] == 30
    tokens = Counter((j["metadata"] or {}).get(TOKEN_METADATA_KEY) for j in api.jobs.values())
    assert len(tokens) == 30
    assert set(tokens.values()) == {1}


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
        async for _ in client.run_many([basis_circuit(i) for i in range(100)]):
            break
        gc.collect()
        for _ in range(20):
            await asyncio.sleep(0)
        assert len(client_tasks()) == before
        posts = api.requests["POST /jobs"]
        await asyncio.sleep(0.05)
        assert api.requests["POST /jobs"] == posts
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
        requests = sum(api.requests.values())
        await asyncio.sleep(0.05)
        assert sum(api.requests.values()) == requests


async def test_cancelling_the_consumer_cancels_the_batch(fake: tuple[FakeAPI, str]) -> None:
    api, url = fake
    api.never_finish = True
    before = len(client_tasks())
    async with client_for(url) as client:

        async def consume() -> None:
            async for _ in client.run_many([basis_circuit(i) for i in range(50)]):
                pass

        with anyio.move_on_after(0.2):
            await consume()
        assert len(client_tasks()) == before
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
    _api, url = fake
    journal = tmp_path / "run.jsonl"
    async with client_for(url) as client:
        await client.gather([basis_circuit(i) for i in range(3)], journal=str(journal))
        with pytest.raises(JournalError):
            await client.gather([basis_circuit(i) for i in range(4)], journal=str(journal))


# ---------------------------------------------------------------------------------------
# Never twice: each kind of ambiguous creation failure is looked up, not re-sent.


def one_job_per_token(api: FakeAPI, count: int) -> bool:
    tokens = Counter((j.get("metadata") or {}).get(TOKEN_METADATA_KEY) for j in api.jobs.values())
    return len(tokens) == count and set(tokens.values()) == {1}


async def test_a_5xx_after_the_job_was_stored_is_looked_up_not_sent_again(
    fake: tuple[FakeAPI, str],
) -> None:
    api, url = fake
    api.error_after_store = 4
    async with client_for(url) as client:
        outcomes = [o async for o in client.run_many([basis_circuit(i) for i in range(20)])]
    assert all(o.unwrap().probabilities == {o.index: 1.0} for o in outcomes)
    assert api.requests["POST /jobs"] == 20
    assert one_job_per_token(api, 20)


async def test_a_read_timeout_after_the_job_was_stored_is_looked_up_not_sent_again(
    fake: tuple[FakeAPI, str],
) -> None:
    api, url = fake
    api.stall_after_store = 3
    client = Client(api_key=KEY, base_url=url, retry=RetryPolicy.no_wait(), timeout_s=0.3)
    async with client:
        outcomes = [o async for o in client.run_many([basis_circuit(i) for i in range(20)])]
    assert all(o.unwrap().probabilities == {o.index: 1.0} for o in outcomes)
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
            await asyncio.sleep(0.1)  # time enough for more creations, were they allowed
            assert api.requests["POST /jobs"] == 5
            assert run.progress.submitted == 5


async def test_concurrency_bounds_the_creations_in_flight(fake: tuple[FakeAPI, str]) -> None:
    api, url = fake
    api.post_delay_s = 0.01
    async with client_for(url) as client:
        outcomes = await client.gather([basis_circuit(i) for i in range(40)], concurrency=3)
        assert all(o.ok for o in outcomes)
        assert 1 <= api.most_posts_in_flight <= 3
        api.most_posts_in_flight = 0
        await client.gather([basis_circuit(i) for i in range(40)], concurrency=20)
    assert api.most_posts_in_flight > 3  # so the bound above is the option's doing


async def test_after_ids_are_seen_ignored_no_more_list_requests_are_made(
    fake: tuple[FakeAPI, str],
) -> None:
    api, url = fake
    api.ignore_ids = True
    api.reads_to_finish = 4
    async with client_for(url) as client:
        outcomes = [o async for o in client.run_many([basis_circuit(i) for i in range(60)])]
    assert all(o.ok for o in outcomes)
    # The first round of list requests reveals it; every later poll is per job.
    assert api.requests["GET /jobs"] <= 3
    assert api.requests["GET /jobs/{id}"] >= 60 * 3


async def test_a_429_on_one_poll_pauses_every_request_then_all_resume(
    fake: tuple[FakeAPI, str],
) -> None:
    api, url = fake
    api.rate_limit_lists = 1
    api.retry_after_s = 1.0
    api.post_delay_s = 0.002  # creations still under way when the 429 comes
    retry = RetryPolicy(initial_backoff_s=0.001, max_backoff_s=0.01, max_retry_after_s=5.0)
    async with Client(api_key=KEY, base_url=url, retry=retry) as client:
        outcomes = [o async for o in client.run_many([basis_circuit(i) for i in range(200)],
                                                     concurrency=4)]  # fmt: skip
    assert all(o.ok for o in outcomes)
    [limited_at] = api.rate_limited_at
    # Requests already on the wire may land just after the 429; none starts after it
    # until the advised second has passed (a wide margin either side: no timing flakes).
    during = [what for at, what in api.request_times if limited_at + 0.2 < at < limited_at + 0.8]
    after = [what for at, what in api.request_times if at >= limited_at + 0.8]
    assert during == []
    assert "POST /jobs" in after and "GET /jobs" in after


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


def batch_tasks() -> list[asyncio.Task[Any]]:
    """Running tasks whose code is the client's batch engine."""
    found = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if code is not None and code.co_filename.endswith("batch.py"):
            found.append(task)
    return found


async def settle() -> None:
    gc.collect()
    for _ in range(10):
        await asyncio.sleep(0)


async def test_an_exception_in_the_loop_body_stops_the_batch(fake: tuple[FakeAPI, str]) -> None:
    api, url = fake
    async with client_for(url) as client:
        with pytest.raises(ZeroDivisionError):
            async for outcome in client.run_many([basis_circuit(i) for i in range(200)]):
                outcome.index / 0  # the consumer's own bug
        await settle()
        assert batch_tasks() == []
        requests = sum(api.requests.values())
        await asyncio.sleep(0.05)
        assert sum(api.requests.values()) == requests


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
    assert api.requests["PUT cancel"] == 1
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


async def test_wait_polls_ever_less_often_up_to_the_cap(fake: tuple[FakeAPI, str]) -> None:
    api, url = fake
    api.never_finish = True
    growing = PollSchedule(initial_s=0.01, factor=2.0, max_s=0.16, jitter=0.0)
    async with client_for(url) as client:
        job = await client.submit(basis_circuit(1))
        with pytest.raises(WaitTimeoutError):
            await client.wait(job, timeout_s=0.6, schedule=growing)
    polls = [at for at, what in api.request_times if what == "GET /jobs/{id}"]
    gaps = [later - earlier for earlier, later in itertools.pairwise(polls)]
    # 10, 20, 40, 80, 160, 160 ms ...: a fixed 10 ms interval would make about 60 polls.
    assert len(polls) <= 10
    assert gaps[-1] > 4 * gaps[0]


async def test_wait_defaults_to_short_polls_for_the_simulator_and_patient_ones_for_qpus(
    fake: tuple[FakeAPI, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, url = fake
    api.never_finish = True
    monkeypatch.setattr("ionq_async.batch.QPU_SCHEDULE", PollSchedule(
        initial_s=10.0, factor=1.5, max_s=10.0, jitter=0.0
    ))  # fmt: skip
    reads: dict[str, int] = {}
    async with client_for(url) as client:
        for backend in ("simulator", "qpu.forte-1"):
            job = await client.submit(basis_circuit(1), backend=backend)
            before = api.requests["GET /jobs/{id}"]
            with pytest.raises(WaitTimeoutError):
                await client.wait(job.id, timeout_s=0.2)
            reads[backend] = api.requests["GET /jobs/{id}"] - before
    # Each job is read once to learn its backend; the QPU's next poll is 10 s away.
    assert reads["simulator"] > 5
    assert reads["qpu.forte-1"] == 1
