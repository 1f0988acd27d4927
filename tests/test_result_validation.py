"""Results are checked when they arrive, and no answer escapes as anything but an IonQError.

A results answer must be a distribution over the job's qubits: at least one state, finite
non-negative numbers summing to 1 (within ``PROBABILITY_SUM_TOLERANCE``), every state below
``2**qubits``. Anything else is a ResponseError naming the job and the problem, from
``client.probabilities``, ``client.result`` and, as that circuit's outcome alone, from
``run_many`` (packed or not). Hostile answers to every other endpoint are ResponseErrors
too, never a bare ValueError or OverflowError from somewhere inside.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any

import anyio
import attrs
import numpy as np
import pytest
from _aioresponses_compat import MockedAPI, MockedResponse
from aioresponses import CallbackResult
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from ionq_async import models
from ionq_async._converter import converter
from ionq_async._retry import RetryPolicy
from ionq_async.batch import Outcome
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.exceptions import InvalidRequestError, IonQError, ResponseError
from ionq_async.models import Job, JobStats, JobStatus
from ionq_async.results import (
    PROBABILITY_SUM_TOLERANCE,
    parse_probabilities,
    validate_probabilities,
)

KEY = "sk-validation-key-7c2e"
BASE = "https://api.example.test/v0.4"
JOB_ID = "job-under-test"
HANG_GUARD_S = 20.0
"""No test may take longer than this; a hang fails the test instead of the suite."""

LONG_KEY = "1" * 5000
"""A state of 5,000 digits: past int()'s default limit of 4,300 digits."""

# Results answers as raw JSON text (json.dumps cannot write every hostile number).
GOOD = '{"0": 0.5, "3": 0.5}'
BAD_ANSWERS: dict[str, tuple[str, str]] = {
    # name: (answer, the problem the error names)
    "long key": (f'{{"{LONG_KEY}": 1.0}}', "5,000 digits"),
    "huge value": ('{"0": 1' + "0" * 400 + "}", "not a finite number"),
    "half": ('{"0": 0.25, "3": 0.25}', "sum to 0.5, not 1"),
    "empty": ("{}", "no probabilities given"),
    "too wide": ('{"0": 0.5, "4": 0.5}', "state 4 does not fit in 2 qubits"),
    "negative": ('{"0": 1.5, "3": -0.5}', "negative"),
    "infinite": ('{"0": 1e999}', "must be finite"),
    "text": ('{"0": "1.0"}', "not a number"),
}


# -- the pure check -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probabilities", "num_qubits", "problem"),
    [
        ({}, None, "no probabilities given"),
        ({0: 0.25, 3: 0.25}, None, "probabilities sum to 0.5, not 1"),
        ({0: 0.5, 1: 0.5 + 2 * PROBABILITY_SUM_TOLERANCE}, None, "sum to 1.00002"),
        ({0: 1.5, 1: -0.5}, None, "probability of state 1 is negative: -0.5"),
        ({0: float("nan"), 1: 1.0}, None, "probability of state 0 is NaN"),
        ({0: float("inf")}, None, "probability of state 0 is infinite"),
        ({0: "1.0"}, None, "probability of state 0 is not a number: '1.0'"),
        ({0: None}, None, "probability of state 0 is not a number: None"),
        ({0: True}, None, "probability of state 0 is not a number: True"),
        ({0: 10**400}, None, "probability of state 0 is not a finite number"),
        ({"0": 1.0}, None, "state '0' is not an integer"),
        ({-1: 1.0}, None, "state -1 is negative"),
        ({0: 0.5, 4: 0.5}, 2, "state 4 does not fit in 2 qubits"),
        ({2**70: 1.0}, 3, "state <an integer of 71 bits> does not fit in 3 qubits"),
        ({0: 0.5, 1: 0.5}, None, None),
        ({0: 0.5, 3: 0.5}, 2, None),
        ({np.int64(3): np.float64(1.0)}, 2, None),
        ({5: 1}, None, None),
        # Six-decimal thirds (1e-6 short of 1): rounding, not a lost state.
        ({0: 0.333333, 1: 0.333333, 2: 0.333333}, 2, None),
        ({0: 0.5, 1: 0.5 - PROBABILITY_SUM_TOLERANCE / 2}, None, None),
    ],
)
def test_a_distribution_is_checked_against_every_rule(
    probabilities: Mapping[Any, Any], num_qubits: int | None, problem: str | None
) -> None:
    if problem is None:
        validate_probabilities(probabilities, num_qubits=num_qubits)
        return
    with pytest.raises(ResponseError) as caught:
        validate_probabilities(probabilities, num_qubits=num_qubits, job_id="j-1")
    assert str(caught.value).startswith("results of job j-1: ")
    assert problem in str(caught.value)


@pytest.mark.parametrize("num_qubits", [0, -1, True, 1.5])
def test_a_width_below_one_is_the_callers_mistake(num_qubits: Any) -> None:
    with pytest.raises(InvalidRequestError, match="num_qubits must be a positive integer"):
        validate_probabilities({0: 1.0}, num_qubits=num_qubits)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({LONG_KEY: 1.0}, "has 5,000 digits: too long to be a basis state"),
        ({"0": 0.5, LONG_KEY: 0.5}, "has 5,000 digits"),
        ({"0": 10**400}, "is not a finite number"),
        ({"x" * 10_000: 1.0}, "is not a non-negative decimal integer"),
    ],
)
def test_parsing_a_hostile_key_or_value_is_a_short_response_error(
    raw: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ResponseError) as caught:
        parse_probabilities(raw, job_id="j-2")
    message = str(caught.value)
    assert message.startswith("results of job j-2: ")
    assert problem in message
    assert len(message) < 200, message


json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats()
    | st.text(max_size=8)
    | st.integers(min_value=1, max_value=6000).map(lambda digits: "7" * digits)
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
probability_keys = (
    st.integers(min_value=0, max_value=2**70).map(str)
    | st.integers(min_value=1, max_value=6000).map(lambda digits: "9" * digits)
    | st.text(max_size=6)
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=st.dictionaries(probability_keys, json_values, max_size=6) | json_values,
    num_qubits=st.none() | st.integers(min_value=1, max_value=80),
)
def test_reading_any_results_answer_gives_a_distribution_or_a_response_error(
    raw: Any, num_qubits: int | None
) -> None:
    try:
        probabilities = parse_probabilities(raw)
        validate_probabilities(probabilities, num_qubits=num_qubits)
    except ResponseError:
        return
    assert probabilities
    assert abs(sum(probabilities.values()) - 1) <= PROBABILITY_SUM_TOLERANCE
    if num_qubits is not None:
        assert max(probabilities) < 2**num_qubits


# -- client.probabilities and client.result --------------------------------------------------


@pytest.fixture
def api(mocked_api: MockedAPI) -> MockedAPI:
    """aioresponses for this test (the shared ``mocked_api`` fixture)."""
    return mocked_api


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    """A client of the fake API that never retries."""
    async with Client(api_key=KEY, base_url=BASE, retry=RetryPolicy.never()) as c:
        yield c


def completed_job(job_id: str = JOB_ID, *, qubits: int | None = 2) -> Job:
    """A completed job as ``GET /jobs/{id}`` gives it."""
    return Job(
        id=job_id,
        status=JobStatus.COMPLETED,
        type="ionq.circuit.v1",
        backend="simulator",
        shots=100,
        stats=JobStats(qubits=qubits, circuits=1),
    )


def job_json(job: Job) -> dict[str, Any]:
    return converter.unstructure(job)  # type: ignore[no-any-return]


def answer_probabilities(api: MockedAPI, answer: str, job_id: str = JOB_ID) -> None:
    api.get(
        f"{BASE}/jobs/{job_id}/results/probabilities",
        body=answer,
        content_type="application/json",
    )


async def raises_response_error(call: Awaitable[Any]) -> ResponseError:
    with anyio.fail_after(HANG_GUARD_S), pytest.raises(ResponseError) as caught:
        await call
    assert KEY not in str(caught.value)
    return caught.value


@pytest.mark.parametrize("name", list(BAD_ANSWERS))
async def test_probabilities_of_a_job_refuse_a_bad_answer_naming_the_job(
    api: MockedAPI, client: Client, name: str
) -> None:
    answer, problem = BAD_ANSWERS[name]
    answer_probabilities(api, answer)
    error = await raises_response_error(client.probabilities(completed_job()))
    assert f"job {JOB_ID}" in str(error)
    assert problem in str(error)


@pytest.mark.parametrize("name", list(BAD_ANSWERS))
async def test_result_of_an_id_refuses_a_bad_answer_against_the_fetched_width(
    api: MockedAPI, client: Client, name: str
) -> None:
    answer, problem = BAD_ANSWERS[name]
    api.get(f"{BASE}/jobs/{JOB_ID}", payload=job_json(completed_job()))
    answer_probabilities(api, answer)
    error = await raises_response_error(client.result(JOB_ID))
    assert f"job {JOB_ID}" in str(error)
    assert problem in str(error)


async def test_the_widest_state_of_the_job_is_accepted(api: MockedAPI, client: Client) -> None:
    answer_probabilities(api, '{"0": 0.5, "3": 0.5}')
    result = await client.result(completed_job(qubits=2))
    assert result.bitstrings() == {"00": 0.5, "11": 0.5}


async def test_without_a_known_width_only_the_width_goes_unchecked(
    api: MockedAPI, client: Client
) -> None:
    # An id alone says nothing of the job's width; a job without stats neither.
    answer_probabilities(api, '{"0": 0.5, "4": 0.5}')
    assert await client.probabilities(JOB_ID) == {0: 0.5, 4: 0.5}
    answer_probabilities(api, '{"0": 0.25, "4": 0.25}')
    error = await raises_response_error(client.probabilities(completed_job(qubits=None)))
    assert "sum to 0.5" in str(error)


async def test_a_job_that_reports_no_qubits_is_a_bad_answer(api: MockedAPI, client: Client) -> None:
    job = attrs.evolve(completed_job(), stats=JobStats(qubits=0))
    answer_probabilities(api, GOOD)
    error = await raises_response_error(client.probabilities(job))
    assert "reports 0 qubits" in str(error)


async def test_aggregated_probabilities_name_the_bad_child(api: MockedAPI, client: Client) -> None:
    api.get(
        f"{BASE}/jobs/{JOB_ID}/results/probabilities/aggregated",
        body='{"child-a": {"0": 1}, "child-b": {"0": 0.25}}',
        content_type="application/json",
    )
    error = await raises_response_error(client.aggregated_probabilities(JOB_ID))
    assert "job child-b" in str(error) and "sum to 0.25" in str(error)


async def test_aggregated_probabilities_without_children_are_a_bad_answer(
    api: MockedAPI, client: Client
) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}/results/probabilities/aggregated", payload={})
    await raises_response_error(client.aggregated_probabilities(JOB_ID))


# -- every other answer: hostile bodies, typed errors ----------------------------------------

HUGE_INT = "1" + "0" * 400
"""A JSON integer past the float range (JSON allows it; float() overflows)."""
HOSTILE_LEAVES = [
    HUGE_INT,
    "-" + HUGE_INT,
    '"' + "7" * 5000 + '"',
    "1e999",
    '"2025-13-45T99:99:99Z"',
    '"\\ud800"',
    "[[[[[[[[[[[]]]]]]]]]]]",
    "{}",
    "null",
    "-1",
]

J = f"/jobs/{JOB_ID}"
RESULTS = f"{J}/results/probabilities"
DONE = '"id": "j", "status": "completed"'

# (method, path the answer is served at, a plausible answer with @ where a leaf goes).
ENDPOINTS: list[tuple[str, str, str]] = [
    ("whoami", "/whoami", '{"key_id": @, "key_name": "n", "project_id": "p"}'),
    ("get_job", J, '{' + DONE + ', "shots": @}'),
    ("get_job", J, '{' + DONE + ', "stats": {"qubits": @}}'),
    ("get_job", J, '{' + DONE + ', "submitted_at": @}'),
    ("get_job", J, '{' + DONE + ', "child_job_ids": @}'),
    ("get_job", J, '{"id": "j", "status": @}'),
    ("get_job", J, '{"id": "j", "status": "failed", "failure": @}'),
    ("job_page", "/jobs", '{"jobs": [{"id": "j", "status": "started", "shots": @}]}'),
    ("job_page", "/jobs", '{"jobs": [], "next": @}'),
    ("cost", f"{J}/cost", '{"dry_run": false, "estimated_cost": {"value": @, "unit": "usd"}}'),
    ("estimate", "/jobs/estimate", '{"estimated_execution_time": @, "estimated_total_cost": 1}'),
    ("backends", "/backends", '[{"backend": "simulator", "status": "available", "qubits": @}]'),
    ("backend", "/backends/simulator", '{"backend": "simulator", "average_queue_time": @}'),
    ("sessions", "/sessions", '{"sessions": [{"id": "s", "created_at": @}]}'),
    ("get_session", "/sessions/s-1", '{"id": "s", "settings": {"job_count_limit": @}}'),
    ("characterizations", "/backends/simulator/characterizations",
     '{"characterizations": [{"id": "c", "qubits": @}]}'),
    ("probabilities", RESULTS, '{"0": @}'),
    ("probabilities", RESULTS, '{"0": 0.5, "1": @}'),
    ("aggregated_probabilities", f"{RESULTS}/aggregated", '{"c": {"0": @}}'),
    ("aggregated_probabilities", f"{RESULTS}/aggregated", '{"c": @}'),
]  # fmt: skip


async def _call(client: Client, method: str) -> Any:
    if method in ("get_job", "cost", "probabilities", "aggregated_probabilities"):
        return await getattr(client, method)(JOB_ID)
    if method == "estimate":
        return await client.estimate(backend="simulator")
    if method == "backend":
        return await client.backend("simulator")
    if method == "get_session":
        return await client.get_session("s-1")
    if method == "characterizations":
        return await client.characterizations("simulator")
    return await getattr(client, method)()


@pytest.mark.parametrize(("method", "path", "template"), ENDPOINTS)
async def test_a_hostile_leaf_in_any_answer_is_read_or_refused_with_a_response_error(
    method: str, path: str, template: str
) -> None:
    for leaf in HOSTILE_LEAVES:
        await _read_hostile(method, path, template.replace("@", leaf))


def _hostile_json(value: Any) -> str:
    """JSON text of ``value``, where a ``RawNumber`` is written as it is."""
    if isinstance(value, RawNumber):
        return str(value)
    if isinstance(value, dict):
        items = (json.dumps(key) + ":" + _hostile_json(item) for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_hostile_json(item) for item in value) + "]"
    return json.dumps(value)


class RawNumber(str):
    """A JSON number written as is: ``json.dumps`` cannot write ints past 4,300 digits."""


raw_leaves = (
    json_leaves.filter(lambda leaf: not isinstance(leaf, float) or leaf == leaf)
    | st.integers(min_value=300, max_value=4200).map(lambda digits: RawNumber("9" * digits))
    | st.sampled_from([RawNumber("1e999"), RawNumber("-1e999"), RawNumber("-0")])
)


def _model_bodies(cls: type[Any]) -> st.SearchStrategy[Any]:
    """Objects with ``cls``'s wire keys (and some others), each holding anything at all."""
    names = [field.name for field in attrs.fields(cls) if field.name != "extra"]
    renames = {"one_qubit": "1q", "two_qubit": "2q"}
    keys = [renames.get(name, name) for name in names]
    values = st.recursive(
        raw_leaves,
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(
                st.sampled_from([*keys, "qubits", "value", "id"]), children, max_size=3
            )
        ),
        max_leaves=8,
    )
    return st.dictionaries(st.sampled_from(keys), values, max_size=len(keys))


READERS: dict[str, tuple[str, st.SearchStrategy[Any]]] = {
    "get_job": (f"/jobs/{JOB_ID}", _model_bodies(models.Job)),
    "whoami": ("/whoami", _model_bodies(models.WhoAmI)),
    "cost": (f"/jobs/{JOB_ID}/cost", _model_bodies(models.Cost)),
    "estimate": ("/jobs/estimate", _model_bodies(models.Estimate)),
    "backends": ("/backends", st.lists(_model_bodies(models.Backend), max_size=2)),
    "get_session": ("/sessions/s-1", _model_bodies(models.Session)),
    "job_page": ("/jobs", st.fixed_dictionaries({"jobs": st.lists(_model_bodies(models.Job))})),
    "probabilities": (
        f"/jobs/{JOB_ID}/results/probabilities",
        st.dictionaries(probability_keys, raw_leaves, max_size=4),
    ),
}


async def _read_hostile(method: str, path: str, body: str) -> None:
    with MockedAPI() as api:
        api.get(
            re.compile(re.escape(BASE + path) + r"(\?.*)?$"),
            body=body,
            content_type="application/json",
        )
        async with Client(api_key=KEY, base_url=BASE, retry=RetryPolicy.never()) as client:
            try:
                with anyio.fail_after(HANG_GUARD_S):
                    await _call(client, method)
            except IonQError as error:
                assert isinstance(error, ResponseError), (body[:300], error)
                assert len(str(error)) < 2000, (body[:300], str(error)[:300])


@pytest.mark.parametrize("method", list(READERS))
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_answer_to_any_reader_is_read_or_refused_with_a_response_error(
    method: str, data: st.DataObject
) -> None:
    path, bodies = READERS[method]
    body = _hostile_json(data.draw(bodies))
    asyncio.run(_read_hostile(method, path, body))


# -- run_many: one bad answer is one circuit's error outcome ---------------------------------


class FakeBatchAPI:
    """Just enough of the API, on aioresponses, for run_many.

    Every job has completed when it is first polled. The probabilities of a job (or of a
    packed circuit's child job) are ``answers[circuit name]`` (raw JSON text), ``GOOD``
    unless named; ``job_fields[circuit name]`` is merged into that job's listing item.
    """

    def __init__(
        self,
        api: MockedAPI,
        answers: Mapping[str, str],
        job_fields: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        list_shots: bool = True,
    ) -> None:
        self.answers = dict(answers)
        self.job_fields = dict(job_fields or {})
        self.list_shots = list_shots
        self.listed: dict[str, dict[str, Any]] = {}
        self.circuit_of: dict[str, str] = {}
        self.children: dict[str, list[str]] = {}
        jobs = re.escape(f"{BASE}/jobs")
        api.post(f"{BASE}/jobs", callback=self._create, repeat=True)
        api.get(re.compile(jobs + r"\?.*"), callback=self._list, repeat=True)
        api.get(
            re.compile(jobs + r"/[^/?]+/results/probabilities/aggregated$"),
            callback=self._aggregated,
            repeat=True,
        )
        api.get(
            re.compile(jobs + r"/[^/?]+/results/probabilities$"),
            callback=self._probabilities,
            repeat=True,
        )

    @staticmethod
    def _answer(status: int, body: str) -> CallbackResult:
        return CallbackResult(
            status=status, body=body, content_type="application/json", response_class=MockedResponse
        )

    def _create(self, url: URL, **kwargs: Any) -> CallbackResult:
        payload = json.loads(kwargs["data"])
        job_id = f"job-{len(self.listed)}"
        circuit_input = payload["input"]
        item: dict[str, Any] = {
            "id": job_id,
            "status": "completed",
            "type": payload["type"],
            "backend": payload["backend"],
            "stats": {"qubits": circuit_input["qubits"]},
        }
        if self.list_shots:
            item["shots"] = payload.get("shots")
        if "circuits" in circuit_input:
            children = [f"{job_id}-child-{i}" for i in range(len(circuit_input["circuits"]))]
            item["child_job_ids"] = children
            self.children[job_id] = children
            for child, circuit in zip(children, circuit_input["circuits"], strict=True):
                self.circuit_of[child] = circuit["name"]
        else:
            self.circuit_of[job_id] = payload["name"]
            item.update(self.job_fields.get(payload["name"], {}))
        self.listed[job_id] = item
        return self._answer(201, json.dumps({"id": job_id, "status": "submitted"}))

    def _list(self, url: URL, **_: Any) -> CallbackResult:
        ids = url.query.getall("ids", [])
        jobs = [self.listed[job_id] for job_id in ids if job_id in self.listed]
        return self._answer(200, json.dumps({"jobs": jobs, "next": None}))

    def _probabilities(self, url: URL, **_: Any) -> CallbackResult:
        job_id = url.path.split("/")[-3]
        return self._answer(200, self.answers.get(self.circuit_of[job_id], GOOD))

    def _aggregated(self, url: URL, **_: Any) -> CallbackResult:
        parent = url.path.split("/")[-4]
        parts = [
            json.dumps(child) + ":" + self.answers.get(self.circuit_of[child], GOOD)
            for child in self.children[parent]
        ]
        return self._answer(200, "{" + ",".join(parts) + "}")


def named(name: str, qubits: int = 2) -> Circuit:
    """A small valid circuit called ``name``."""
    return Circuit(qubits=qubits, name=name).h(0)


async def run_all(client: Client, circuits: list[Circuit], **options: Any) -> dict[str, Outcome]:
    """Every outcome of ``run_many`` by circuit name (under the hang guard)."""
    with anyio.fail_after(HANG_GUARD_S):
        outcomes = [outcome async for outcome in client.run_many(circuits, **options)]
    assert len(outcomes) == len(circuits)
    return {outcome.name or "": outcome for outcome in outcomes}


def assert_bad_answer_outcome(outcome: Outcome, problem: str) -> None:
    assert not outcome.ok
    assert isinstance(outcome.error, ResponseError), outcome.error
    assert problem in str(outcome.error)
    assert outcome.job is not None


async def test_a_bad_answer_fails_only_its_own_circuit_in_run_many(
    api: MockedAPI, client: Client
) -> None:
    answers = {name: answer for name, (answer, _) in BAD_ANSWERS.items()}
    FakeBatchAPI(api, answers)
    circuits = [named("good"), *(named(name) for name in answers), named("good too")]
    outcomes = await run_all(client, circuits, shots=100)
    assert outcomes["good"].ok and outcomes["good too"].ok
    assert outcomes["good"].unwrap().counts() == {0: 50, 3: 50}
    for name, (_, problem) in BAD_ANSWERS.items():
        outcome = outcomes[name]
        assert_bad_answer_outcome(outcome, problem)
        assert outcome.job is not None and f"job {outcome.job.id}" in str(outcome.error)


@pytest.mark.parametrize("stats", [{}, {"qubits": 5}], ids=["no width", "a wider width"])
async def test_run_many_checks_the_width_of_the_circuit_as_sent(
    api: MockedAPI, client: Client, stats: dict[str, Any]
) -> None:
    # Whatever width the job listing gives (none, or more than was sent), the circuit's
    # own (2 qubits) is the bound.
    FakeBatchAPI(
        api,
        {"wide": '{"0": 0.5, "4": 0.5}'},
        job_fields={"wide": {"stats": stats}, "fits": {"stats": stats}},
    )
    outcomes = await run_all(client, [named("wide"), named("fits")], shots=100)
    assert_bad_answer_outcome(outcomes["wide"], "state 4 does not fit in 2 qubits")
    assert outcomes["fits"].ok


@pytest.mark.parametrize(
    ("job_fields", "problem"),
    [
        ({"type": "ionq.multi-circuit.v1"}, "multi-circuit parent"),
        ({"dry_run": True}, "dry run"),
    ],
)
async def test_a_job_whose_answer_says_it_has_no_results_fails_alone(
    api: MockedAPI, client: Client, job_fields: dict[str, Any], problem: str
) -> None:
    FakeBatchAPI(api, {}, job_fields={"odd": job_fields})
    outcomes = await run_all(client, [named("odd"), named("fine")], shots=100)
    odd = outcomes["odd"]
    assert not odd.ok and isinstance(odd.error, InvalidRequestError)
    assert problem in str(odd.error)
    assert outcomes["fine"].ok


async def test_a_job_that_reports_no_shots_fails_alone(api: MockedAPI, client: Client) -> None:
    FakeBatchAPI(api, {}, job_fields={"odd": {"shots": 0}})
    outcomes = await run_all(client, [named("odd"), named("fine")], shots=100)
    assert_bad_answer_outcome(outcomes["odd"], "reports 0 shots")
    assert outcomes["fine"].ok


async def test_numpy_shots_reach_the_results_when_the_listing_has_none(
    api: MockedAPI, client: Client
) -> None:
    FakeBatchAPI(api, {}, list_shots=False)
    outcomes = await run_all(client, [named("a")], shots=np.int64(10))
    assert outcomes["a"].unwrap().shots == 10


@pytest.mark.parametrize("name", ["long key", "huge value", "half", "empty", "negative", "text"])
async def test_in_a_pack_one_childs_bad_answer_fails_only_that_circuit(
    api: MockedAPI, client: Client, name: str
) -> None:
    answer, problem = BAD_ANSWERS[name]
    FakeBatchAPI(api, {name: answer})
    circuits = [named("first"), named(name), named("last", qubits=3)]
    outcomes = await run_all(client, circuits, shots=100, pack=True)
    assert outcomes["first"].ok and outcomes["last"].ok
    assert outcomes["last"].unwrap().bitstring_counts() == {"000": 50, "011": 50}
    assert_bad_answer_outcome(outcomes[name], problem)
    assert "-child-1" in str(outcomes[name].error)


async def test_in_a_pack_a_child_is_checked_against_its_own_width_not_the_widest(
    api: MockedAPI, client: Client
) -> None:
    # State 2 fits the pack's widest circuit (3 qubits) but not this 1-qubit circuit.
    FakeBatchAPI(api, {"narrow": '{"0": 0.5, "2": 0.5}', "one": '{"1": 1}'})
    circuits = [named("narrow", qubits=1), named("one", qubits=1), named("wide", qubits=3)]
    outcomes = await run_all(client, circuits, shots=100, pack=True)
    assert_bad_answer_outcome(outcomes["narrow"], "state 2 does not fit in 1 qubits")
    assert outcomes["one"].unwrap().bitstrings() == {"1": 1.0}
    assert outcomes["wide"].ok
