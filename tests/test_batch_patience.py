"""A job that finished on the server is not lost to a refused or failed results fetch.

The results GET of a finished job gets twice the client's retry budget (``max_attempts``),
counted once: the transport's tries and the engine's rounds share one count. A 429 while
the server is serving other requests costs an eighth of an attempt. A server that never
answers still ends the batch with a typed error, not a hang.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest
from aiohttp import web
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)
from batch_helpers import SetPollSchedules, serving

from ionq_async._retry import RetryPolicy
from ionq_async.batch import PollSchedule
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.exceptions import RateLimitError, ServerError

KEY = "patience-key-0000"
FAST = PollSchedule(initial_s=0.001, factor=1.0, max_s=0.001, jitter=0.0)


def retry_policy() -> RetryPolicy:
    """Three tries per request inside the transport, no waiting between them."""
    return RetryPolicy(max_attempts=3, initial_backoff_s=0.0, max_backoff_s=0.0)


class ResultsRefusingAPI:
    """Jobs complete at once; each job's results are refused ``refusals`` times first."""

    def __init__(self, *, refusals: int, status: int, redirect: bool = False) -> None:
        self.refusals = refusals
        self.status = status  # 0: drop the connection instead of answering
        self.redirect = redirect  # the results route sends a 307 to where the refusals are
        self.retry_after = "0"  # the Retry-After of the 429s
        self.jobs: dict[str, dict[str, Any]] = {}
        self.refused: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.app = web.Application()
        prefix = "/v0.4/jobs"
        self.app.router.add_post(prefix, self.create)
        self.app.router.add_get(prefix, self.list)
        self.app.router.add_get(prefix + "/{id}", self.get)
        self.app.router.add_get(prefix + "/{id}/results/probabilities", self.probabilities)
        self.app.router.add_get(prefix + "/{id}/results/probabilities/aggregated", self.aggregated)
        self.app.router.add_get("/v0.4/moved/{id}/probabilities", self.probabilities)

    def _view(self, job: dict[str, Any]) -> dict[str, Any]:
        view = {k: job[k] for k in ("id", "status", "backend", "shots", "metadata")}
        if job["children"]:
            view["child_job_ids"] = job["children"]
        return view

    def _refuse(self, request: web.Request, job_id: str) -> web.Response | None:
        if self.refused[job_id] >= self.refusals:
            return None
        self.refused[job_id] += 1
        if self.status == 0:
            # Close the connection with no answer, as a crashing proxy would.
            assert request.transport is not None
            request.transport.close()
            raise asyncio.CancelledError
        headers = {"Retry-After": self.retry_after} if self.status == 429 else {}
        body = {"error": "Refused", "message": "try later", "statusCode": self.status}
        return web.json_response(body, status=self.status, headers=headers)

    async def create(self, request: web.Request) -> web.Response:
        self.requests["POST /jobs"] += 1
        body = await request.json()
        circuits = body["input"].get("circuits")
        job_id = str(uuid.uuid4())
        children = [str(uuid.uuid4()) for _ in circuits] if circuits else []
        self.jobs[job_id] = {
            "id": job_id, "status": "completed", "backend": "simulator",
            "shots": body.get("shots"), "metadata": body.get("metadata"),
            "children": children,
            "states": [len(c["circuit"]) for c in circuits] if circuits
            else [len(body["input"]["circuit"])],
        }  # fmt: skip
        return web.json_response({"id": job_id, "status": "submitted"})

    async def list(self, request: web.Request) -> web.Response:
        self.requests["GET /jobs"] += 1
        ids = request.query.getall("ids", [])
        jobs = [self._view(self.jobs[i]) for i in ids if i in self.jobs]
        return web.json_response({"jobs": jobs, "next": None})

    async def get(self, request: web.Request) -> web.Response:
        self.requests["GET /jobs/{id}"] += 1
        return web.json_response(self._view(self.jobs[request.match_info["id"]]))

    async def probabilities(self, request: web.Request) -> web.Response:
        job_id = request.match_info["id"]
        if self.redirect and not request.path.startswith("/v0.4/moved/"):
            self.requests["GET probabilities, redirected"] += 1
            raise web.HTTPTemporaryRedirect(f"/v0.4/moved/{job_id}/probabilities")
        self.requests["GET probabilities"] += 1
        refusal = self._refuse(request, job_id)
        if refusal is not None:
            return refusal
        # The job's one outcome is its gate count: enough to match results to circuits.
        return web.json_response({str(self.jobs[job_id]["states"][0]): 1.0})

    async def aggregated(self, request: web.Request) -> web.Response:
        self.requests["GET aggregated"] += 1
        job_id = request.match_info["id"]
        refusal = self._refuse(request, job_id)
        if refusal is not None:
            return refusal
        job = self.jobs[job_id]
        return web.json_response(
            {
                child: {str(state): 1.0}
                for child, state in zip(job["children"], job["states"], strict=True)
            }
        )


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    poll_schedules(FAST, FAST)


def circuit_with(gates: int) -> Circuit:
    """A circuit of ``gates`` gates on qubit 0; the fake answers state ``gates``.

    Three qubits wide, so that state (at most 5) fits: results are checked against width.
    """
    circuit = Circuit(qubits=3, name=f"g{gates}")
    for _ in range(gates):
        circuit.x(0)
    return circuit


async def run(api: ResultsRefusingAPI, circuits: list[Circuit], **options: Any) -> list[Any]:
    async with (
        serving(api.app) as url,
        Client(api_key=KEY, base_url=url, retry=retry_policy()) as client,
    ):
        return [o async for o in client.run_many(circuits, shots=10, **options)]


@pytest.mark.parametrize("status", [429, 503])
async def test_results_refused_past_the_transports_retries_still_arrive(status: int) -> None:
    # One job alone: no other request is served meanwhile, so every refusal counts.
    # Five refusals outlast the transport's three tries; the engine tries again.
    api = ResultsRefusingAPI(refusals=5, status=status)
    outcomes = await run(api, [circuit_with(3)])
    assert [o.unwrap().probabilities for o in outcomes] == [{3: 1.0}]
    assert api.requests["POST /jobs"] == 1
    assert api.requests["GET probabilities"] == 6


@pytest.mark.parametrize("status", [429, 503])
async def test_results_of_a_packed_job_refused_past_the_transports_retries_still_arrive(
    status: int,
) -> None:
    api = ResultsRefusingAPI(refusals=5, status=status)
    circuits = [circuit_with(gates) for gates in (1, 2, 3)]
    outcomes = await run(api, circuits, pack=True)
    assert {o.index: o.unwrap().probabilities for o in outcomes} == {
        0: {1: 1.0}, 1: {2: 1.0}, 2: {3: 1.0}
    }  # fmt: skip
    assert api.requests["POST /jobs"] == 1
    assert api.requests["GET aggregated"] == 6


@pytest.mark.parametrize(("status", "error"), [(429, RateLimitError), (503, ServerError)])
async def test_results_refused_for_good_end_in_a_typed_error_not_a_hang(
    status: int, error: type[Exception]
) -> None:
    api = ResultsRefusingAPI(refusals=10**6, status=status)
    outcomes = await run(api, [circuit_with(2)])
    assert len(outcomes) == 1
    assert isinstance(outcomes[0].error, error)
    job = outcomes[0].job
    assert job is not None and job.status.value == "completed"
    # The job is not lost: the error says where its results are.
    assert outcomes[0].error.__notes__[-1] == (
        f"job {job.id} completed on the server: client.result({job.id!r}) fetches it later"
    )
    # Twice the client's budget of three tries, counted once: the transport's tries and
    # the engine's rounds share one count (before, they multiplied to 3 x 3).
    assert api.requests["GET probabilities"] == 6
    assert api.requests["POST /jobs"] == 1


async def test_a_retry_after_beyond_the_retry_budget_ends_each_circuit_after_one_request() -> None:
    # Retry-After: 999999 is more than any request of the policy (60 s in all) would wait:
    # the transport raises at once, and the engine does not ask again (before, every
    # circuit went three rounds, and in real time each round waited out the gate).
    api = ResultsRefusingAPI(refusals=10**6, status=429)
    api.retry_after = "999999"
    outcomes = await run(api, [circuit_with(1), circuit_with(2)])
    assert sorted(o.index for o in outcomes) == [0, 1]
    for outcome in outcomes:
        assert isinstance(outcome.error, RateLimitError)
        assert outcome.error.retry_after == 999999.0
    assert api.requests["GET probabilities"] == 2
    assert api.requests["POST /jobs"] == 2


async def test_a_connection_dropped_on_a_results_fetch_is_tried_again() -> None:
    # Five drops: more than the client's three tries can absorb, within the six a finished
    # job's results get (aiohttp may re-send a GET once more on its own, which only helps).
    api = ResultsRefusingAPI(refusals=5, status=0)
    async with (
        serving(api.app) as url,
        Client(api_key=KEY, base_url=url, retry=retry_policy()) as client,
    ):
        outcomes = [o async for o in client.run_many([circuit_with(4)], shots=10)]
        dropped = client.stats.connection_errors
    assert [o.unwrap().probabilities for o in outcomes] == [{4: 1.0}]
    assert api.requests["GET probabilities"] == 6
    # aiohttp itself re-sends a GET once when a kept-alive connection turns out closed,
    # so not every drop reaches the transport as a connection error.
    assert dropped >= 1


async def test_a_redirect_to_a_refusing_place_ends_in_a_typed_error_not_a_loop() -> None:
    # Each try is two exchanges (the 307 and the 429); only 2xx answers count as served.
    api = ResultsRefusingAPI(refusals=10**6, status=429, redirect=True)
    outcomes = await run(api, [circuit_with(2)])
    assert isinstance(outcomes[0].error, RateLimitError)
    assert api.requests["GET probabilities"] == 6
    assert api.requests["GET probabilities, redirected"] == 6


async def run_while_others_are_served(
    api: ResultsRefusingAPI, circuits: list[Circuit]
) -> list[Any]:
    """``run``, with every 429 the client sees standing for one of its other requests
    answered meanwhile: the server is rationing, so refusals cost 1/8 of an attempt."""
    async with (
        serving(api.app) as url,
        Client(api_key=KEY, base_url=url, retry=retry_policy()) as client,
    ):

        def another_request_served(_event: object, stats: Any = client.stats) -> None:
            stats.succeeded += 1

        client.transport.rate_limit_listeners.append(another_request_served)
        return [o async for o in client.run_many(circuits, shots=10)]


async def test_refusals_while_other_requests_are_served_cost_an_eighth_of_an_attempt() -> None:
    # 30 refusals: far past the budget of six tries, within the 41 that rationing allows
    # (the first refusal counts whole, each one after it an eighth: 1 + 8 x 5).
    api = ResultsRefusingAPI(refusals=30, status=429)
    outcomes = await run_while_others_are_served(api, [circuit_with(5)])
    assert [o.unwrap().probabilities for o in outcomes] == [{5: 1.0}]
    assert api.requests["GET probabilities"] == 31


async def test_patience_with_a_rationing_server_still_ends() -> None:
    api = ResultsRefusingAPI(refusals=10**6, status=429)
    outcomes = await run_while_others_are_served(api, [circuit_with(5)])
    assert isinstance(outcomes[0].error, RateLimitError)
    # A budget of six tries, counted once: the first refusal costs one, each later one
    # (others being served meanwhile) an eighth.
    assert api.requests["GET probabilities"] == 1 + 8 * 5


async def test_a_packed_jobs_error_says_to_fetch_its_aggregated_results() -> None:
    api = ResultsRefusingAPI(refusals=10**6, status=503)
    outcomes = await run(api, [circuit_with(1), circuit_with(2)], pack=True)
    assert [type(o.error) for o in outcomes] == [ServerError, ServerError]
    parent = outcomes[0].job
    assert parent is not None
    assert outcomes[0].error is not None
    assert outcomes[0].error.__notes__[-1] == (
        f"job {parent.id} completed on the server: "
        f"client.aggregated_probabilities({parent.id!r}) fetches it later"
    )
