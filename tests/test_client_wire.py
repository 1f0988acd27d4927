"""Every endpoint's exact request (method, path, query, headers, body) and its answer's reading."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import attrs
import numpy as np
import pytest
from _aioresponses_compat import MockedAPI
from yarl import URL

from ionq_async._converter import converter
from ionq_async._payload import job_payload
from ionq_async._retry import RetryPolicy
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.exceptions import (
    CircuitError,
    ConfigurationError,
    InvalidRequestError,
    JobCanceled,
    JobFailed,
    ResponseError,
    ResultsNotReadyError,
)
from ionq_async.models import Job, JobStatus, Money, Session
from ionq_async.results import Result

KEY = "ionq-wire-key-5b1f0e7d"
BASE = "https://api.ionq.co/v0.4"
JOB_ID = "0198097d-3888-72ad-a9dd-9ace842cf181"
SAMPLES = Path(__file__).parent / "samples"
USER_AGENT = re.compile(r"^ionq-async/\S+ aiohttp/\S+ python/\d+\.\d+\.\d+\S*$")


def sample(name: str) -> Any:
    return json.loads((SAMPLES / f"{name}.json").read_text())


@attrs.frozen
class Sent:
    method: str
    url: URL
    headers: dict[str, str]
    body: Any


def sent(api: MockedAPI) -> list[Sent]:
    out = []
    for (method, url), calls in api.requests.items():
        for call in calls:
            data = call.kwargs.get("data")
            body = json.loads(data) if data is not None else None
            out.append(Sent(method, url, dict(call.kwargs["headers"]), body))
    return out


def only(api: MockedAPI) -> Sent:
    requests = sent(api)
    assert len(requests) == 1, requests
    return requests[0]


def query(request: Sent) -> list[tuple[str, str]]:
    return list(request.url.query.items())


@pytest.fixture
def api(mocked_api: MockedAPI) -> MockedAPI:
    """aioresponses for this test (the shared ``mocked_api`` fixture)."""
    return mocked_api


@pytest.fixture
async def client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Client]:
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("IONQ_API_URL", raising=False)
    async with Client(api_key=KEY, retry=RetryPolicy.no_wait()) as c:
        yield c


def assert_authenticated_get(request: Sent, path: str) -> None:
    assert request.method == "GET"
    assert request.url.path == "/v0.4" + path
    assert request.headers == {
        "User-Agent": request.headers["User-Agent"],
        "Accept": "application/json",
        "Authorization": f"apiKey {KEY}",
    }
    assert request.body is None


# -- headers ------------------------------------------------------------------------------


async def test_user_agent_names_library_aiohttp_and_python(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/whoami", payload=sample("other")["whoami"])
    await client.whoami()
    agent = only(api).headers["User-Agent"]
    assert USER_AGENT.match(agent), agent
    assert f"aiohttp/{aiohttp.__version__}" in agent


async def test_authorization_is_apikey_then_the_key(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/whoami", payload=sample("other")["whoami"])
    await client.whoami()
    assert only(api).headers["Authorization"] == f"apiKey {KEY}"


async def test_bodiless_requests_send_no_content_type(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}", payload=sample("jobs")["ready"])
    api.put(f"{BASE}/jobs/{JOB_ID}/status/cancel", payload=sample("other")["cancel"])
    await client.get_job(JOB_ID)
    await client.cancel(JOB_ID)
    for request in sent(api):
        assert "Content-Type" not in request.headers
        assert request.body is None


# -- backends and the key -----------------------------------------------------------------


async def test_backends_lists_every_backend(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/backends", payload=sample("other")["backends"])
    backends = await client.backends()
    assert [b.backend for b in backends] == ["simulator", "qpu.forte-enterprise-1"]
    assert backends[1].supported_error_mitigations == ("debiasing",)
    assert_authenticated_get(only(api), "/backends")


async def test_backends_also_reads_the_wrapped_form(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/backends", payload={"backends": sample("other")["backends"]})
    assert len(await client.backends()) == 2


async def test_backends_need_no_key(api: MockedAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    api.get(f"{BASE}/backends", payload=sample("other")["backends"])
    api.get(f"{BASE}/backends/simulator", payload=sample("other")["backends"][0])
    async with Client() as keyless:
        await keyless.backends()
        assert (await keyless.backend("simulator")).qubits == 29
        with pytest.raises(ConfigurationError, match="no API key"):
            await keyless.whoami()
    for request in sent(api):
        assert "Authorization" not in request.headers


async def test_backend_by_name(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/backends/qpu.forte-enterprise-1", payload=sample("other")["backends"][1])
    backend = await client.backend("qpu.forte-enterprise-1")
    assert backend.characterization_id == "c-1"
    assert_authenticated_get(only(api), "/backends/qpu.forte-enterprise-1")


async def test_characterizations_sends_dates_limit_and_page(api: MockedAPI, client: Client) -> None:
    url = f"{BASE}/backends/qpu.forte-1/characterizations"
    api.get(re.compile(re.escape(url) + r"\?.*"), payload=sample("other")["characterizations"])
    page = await client.characterizations(
        "qpu.forte-1", start=date(2026, 1, 1), end="2026-02-01", limit=5, page=2
    )
    assert page.characterizations[0].connectivity == ((0, 1), (1, 2))
    request = only(api)
    assert request.url.path == "/v0.4/backends/qpu.forte-1/characterizations"
    assert sorted(query(request)) == [
        ("end", "2026-02-01"),
        ("limit", "5"),
        ("page", "2"),
        ("start", "2026-01-01"),
    ]


async def test_characterizations_null_list_reads_as_empty(api: MockedAPI, client: Client) -> None:
    api.get(
        f"{BASE}/backends/qpu.forte-1/characterizations",
        payload={"characterizations": None, "pages": 0},
    )
    page = await client.characterizations("qpu.forte-1")
    assert page.characterizations == ()


async def test_characterization_by_id(api: MockedAPI, client: Client) -> None:
    body = sample("other")["characterizations"]["characterizations"][0]
    api.get(f"{BASE}/backends/qpu.forte-1/characterizations/c-1", payload=body)
    characterization = await client.characterization("qpu.forte-1", "c-1")
    assert characterization.id == "c-1"
    assert_authenticated_get(only(api), "/backends/qpu.forte-1/characterizations/c-1")


async def test_whoami(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/whoami", payload=sample("other")["whoami"])
    who = await client.whoami()
    assert who.key_name == "My First Key"
    assert_authenticated_get(only(api), "/whoami")


# -- submit ---------------------------------------------------------------------------


def bell() -> Circuit:
    return Circuit(qubits=2).h(0).cnot(0, 1)


async def test_submit_sends_every_payload_field(api: MockedAPI, client: Client) -> None:
    api.post(f"{BASE}/jobs", status=201, payload={**sample("job_created"), "session_id": "s-1"})
    job = await client.submit(
        bell(),
        backend="simulator",
        shots=1000,
        name="bell",
        noise_model="aria-1",
        noise_seed=7,
        debiasing=True,
        dry_run=True,
        session_id="s-1",
        metadata={"experiment": "bell"},
        settings={"compilation": {"opt": 1}},
    )
    request = only(api)
    assert request.method == "POST"
    assert request.url == URL(f"{BASE}/jobs")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == f"apiKey {KEY}"
    assert request.body == {
        "type": "ionq.circuit.v1",
        "backend": "simulator",
        "name": "bell",
        "shots": 1000,
        "noise": {"model": "aria-1", "seed": 7},
        "settings": {"compilation": {"opt": 1}, "error_mitigation": {"debiasing": True}},
        "dry_run": True,
        "session_id": "s-1",
        "metadata": {"experiment": "bell"},
        "input": bell().to_json(),
    }
    assert job.id == JOB_ID
    assert job.status is JobStatus.SUBMITTED
    assert job.session_id == "s-1"
    assert (job.backend, job.type, job.name, job.shots) == (
        "simulator",
        "ionq.circuit.v1",
        "bell",
        1000,
    )
    assert job.metadata == {"experiment": "bell"}
    assert job.dry_run is True


async def test_submit_sends_only_what_was_given(api: MockedAPI, client: Client) -> None:
    api.post(f"{BASE}/jobs", status=201, payload=sample("job_created"))
    await client.submit(bell(), backend="qpu.aria-1")
    assert only(api).body == {
        "type": "ionq.circuit.v1",
        "backend": "qpu.aria-1",
        "input": bell().to_json(),
    }


async def test_submit_of_several_circuits_is_one_multi_circuit_job(
    api: MockedAPI, client: Client
) -> None:
    api.post(f"{BASE}/jobs", status=201, payload=sample("job_created"))
    circuits = [bell(), Circuit(qubits=1, name="flip").x(0)]
    job = await client.submit(circuits, shots=100)
    body = only(api).body
    assert body["type"] == "ionq.multi-circuit.v1"
    assert [c.get("name") for c in body["input"]["circuits"]] == [None, "flip"]
    assert job.type == "ionq.multi-circuit.v1"


async def test_submit_of_an_input_mapping_validates_then_sends_it_as_given(
    api: MockedAPI, client: Client
) -> None:
    api.post(f"{BASE}/jobs", status=201, payload=sample("job_created"))
    given = {
        "qubits": 2,
        "gateset": "qis",
        "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}],
    }
    await client.submit(given)
    assert only(api).body["input"] == given


async def test_submit_rejects_a_bad_input_mapping_before_sending(
    api: MockedAPI, client: Client
) -> None:
    with pytest.raises(CircuitError):
        await client.submit({"qubits": 2, "circuit": [{"gate": "nope", "target": 0}]})
    assert sent(api) == []


async def test_submit_takes_the_job_name_from_the_circuit(api: MockedAPI, client: Client) -> None:
    api.post(f"{BASE}/jobs", status=201, payload=sample("job_created"))
    await client.submit(Circuit(qubits=1, name="coin").h(0))
    assert only(api).body["name"] == "coin"


async def test_create_job_sends_the_payload_as_given(api: MockedAPI, client: Client) -> None:
    api.post(f"{BASE}/jobs", status=201, payload=sample("job_created"))
    payload = {"type": "ionq.qasm3.v1", "backend": "simulator", "input": {"data": "OPENQASM 3;"}}
    created = await client.create_job(payload)
    assert created.id == JOB_ID
    assert only(api).body == payload


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"shots": 0}, "shots"),
        ({"shots": 1_000_001}, "shots"),
        ({"shots": True}, "shots"),
        ({"shots": 10.0}, "shots"),
        ({"debiasing": True, "shots": 499}, "debiasing"),
        ({"debiasing": True}, "debiasing"),
        ({"metadata": {f"k{i}": "v" for i in range(11)}}, "metadata"),
        ({"metadata": {"k" * 41: "v"}}, "metadata key"),
        ({"metadata": {"k": 1}}, "metadata value"),
        ({"backend": "qpu.aria-1", "noise_model": "aria-1"}, "simulator only"),
        ({"noise_seed": 3}, "noise_seed needs a noise_model"),
        ({"noise_model": 5}, "noise_model must be a name"),
        ({"backend": ""}, "backend"),
        ({"settings": {"error_mitigation": {"debiasing": True}}, "shots": 100}, "debiasing"),
    ],
)
async def test_submit_rejects_what_the_api_would_before_sending(
    api: MockedAPI, client: Client, options: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InvalidRequestError, match=problem):
        await client.submit(bell(), **options)
    assert sent(api) == []


async def test_numpy_integers_are_accepted_and_sent_as_json_integers(
    api: MockedAPI, client: Client
) -> None:
    api.post(f"{BASE}/jobs", status=201, payload=sample("job_created"))
    job = await client.submit(
        bell(), shots=np.int64(1000), noise_model="aria-1", noise_seed=np.int32(7)
    )
    assert only(api).body["shots"] == 1000 and only(api).body["noise"]["seed"] == 7
    assert type(job.shots) is int


async def test_flags_must_be_booleans_not_truthy_values(api: MockedAPI, client: Client) -> None:
    with pytest.raises(InvalidRequestError, match="sharpen must be True or False"):
        await client.probabilities(JOB_ID, sharpen="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="active must be True or False"):
        await client.sessions(active=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="error_mitigation must be True or False"):
        await client.estimate(backend="simulator", error_mitigation="false")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="backend must be a name or a list"):
        await client.job_page(backend=5)  # type: ignore[arg-type]
    assert sent(api) == []


def test_invalid_requests_are_value_errors() -> None:
    with pytest.raises(ValueError):
        job_payload(bell(), shots=-1)


def test_a_string_is_not_a_circuit() -> None:
    with pytest.raises(TypeError):
        job_payload("h 0")  # type: ignore[arg-type]


# -- reading jobs -------------------------------------------------------------------------


async def test_get_job_reads_the_job(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}", payload=sample("jobs")["completed_both_results"])
    job = await client.get_job(JOB_ID)
    assert job.status is JobStatus.COMPLETED
    assert_authenticated_get(only(api), f"/jobs/{JOB_ID}")


async def test_a_job_object_is_accepted_wherever_a_job_is_named(
    api: MockedAPI, client: Client
) -> None:
    job = converter.structure(sample("jobs")["ready"], Job)
    api.get(f"{BASE}/jobs/{JOB_ID}", payload=sample("jobs")["ready"])
    api.get(f"{BASE}/jobs/{JOB_ID}/cost", payload=sample("other")["cost"])
    api.put(f"{BASE}/jobs/{JOB_ID}/status/cancel", payload=sample("other")["cancel"])
    api.delete(f"{BASE}/jobs/{JOB_ID}", payload=sample("other")["delete"])
    await client.get_job(job)
    await client.cost(job)
    await client.cancel(job)
    await client.delete(job)
    assert {r.url.path for r in sent(api)} == {
        f"/v0.4/jobs/{JOB_ID}",
        f"/v0.4/jobs/{JOB_ID}/cost",
        f"/v0.4/jobs/{JOB_ID}/status/cancel",
    }


async def test_job_ids_are_percent_encoded_into_one_path_segment(
    api: MockedAPI, client: Client
) -> None:
    api.get(f"{BASE}/jobs/a%2Fb%3Fc", payload={**sample("jobs")["ready"], "id": "a/b?c"})
    await client.get_job("a/b?c")
    assert only(api).url.raw_path == "/v0.4/jobs/a%2Fb%3Fc"


@pytest.mark.parametrize("bad", ["", "..", "."])
async def test_ids_that_would_change_the_path_are_refused(
    api: MockedAPI, client: Client, bad: str
) -> None:
    with pytest.raises(InvalidRequestError):
        await client.get_job(bad)
    assert sent(api) == []


async def test_job_page_sends_every_filter(api: MockedAPI, client: Client) -> None:
    api.get(re.compile(re.escape(f"{BASE}/jobs?") + ".*"), payload=sample("job_list"))
    page = await client.job_page(
        status="completed",
        backend=["qpu.aria-1", "simulator"],
        ids=["j-2", "j-1"],
        session_id="s-1",
        parent_job_id="p-1",
        limit=25,
        cursor="cursor-1",
    )
    assert page.next == sample("job_list")["next"]
    request = only(api)
    assert request.url.path == "/v0.4/jobs"
    assert sorted(query(request)) == [
        ("ids", "j-1"),
        ("ids", "j-2"),
        ("limit", "25"),
        ("next", "cursor-1"),
        ("parent_job_id", "p-1"),
        ("session_id", "s-1"),
        ("status", "completed"),
        ("target", "qpu.aria-1,simulator"),
    ]


def test_repeated_ids_keep_their_order_in_the_query(client: Client) -> None:
    url = client.transport.url_for("/jobs", [("ids", "b"), ("ids", "a"), ("next", "x y")])
    assert str(url) == f"{BASE}/jobs?ids=b&ids=a&next=x%20y"


async def test_an_empty_ids_filter_lists_nothing_without_asking(
    api: MockedAPI, client: Client
) -> None:
    assert (await client.job_page(ids=[])).jobs == ()
    assert [job async for job in client.jobs(ids=[])] == []
    assert sent(api) == []


async def test_job_page_refuses_an_unknown_status(api: MockedAPI, client: Client) -> None:
    with pytest.raises(InvalidRequestError, match="status"):
        await client.job_page(status="finished")
    assert sent(api) == []


def job_body(job_id: str) -> dict[str, Any]:
    return {**sample("jobs")["ready"], "id": job_id}


async def test_jobs_follows_next_until_it_is_null(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/jobs?status=ready", payload={"jobs": [job_body("a")], "next": "p2"})
    api.get(
        f"{BASE}/jobs?status=ready&next=p2",
        payload={"jobs": [job_body("b"), job_body("c")], "next": "p3"},
    )
    api.get(f"{BASE}/jobs?status=ready&next=p3", payload={"jobs": [job_body("d")], "next": None})
    ids = [job.id async for job in client.jobs(status=JobStatus.READY)]
    assert ids == ["a", "b", "c", "d"]
    assert len(sent(api)) == 3


async def test_jobs_stops_when_next_is_absent(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/jobs", payload={"jobs": [job_body("a")]})
    assert [job.id async for job in client.jobs()] == ["a"]


async def test_jobs_limit_caps_the_total_and_is_the_page_size(
    api: MockedAPI, client: Client
) -> None:
    api.get(f"{BASE}/jobs?limit=3", payload={"jobs": [job_body("a"), job_body("b")], "next": "n"})
    api.get(f"{BASE}/jobs?limit=3&next=n", payload={"jobs": [job_body("c"), job_body("d")]})
    assert [job.id async for job in client.jobs(limit=3)] == ["a", "b", "c"]


async def test_jobs_page_size_is_sent_as_limit(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/jobs?limit=2", payload={"jobs": [job_body("a")], "next": None})
    assert [job.id async for job in client.jobs(limit=10, page_size=2)] == ["a"]


async def test_a_repeating_cursor_raises_instead_of_looping(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/jobs", payload={"jobs": [job_body("a")], "next": "same"})
    api.get(
        f"{BASE}/jobs?next=same",
        payload={"jobs": [job_body("b")], "next": "same"},
        repeat=True,
    )
    seen = []
    with pytest.raises(ResponseError, match="repeated the page cursor"):
        async for job in client.jobs():
            seen.append(job.id)
    assert seen == ["a", "b"]


# -- results --------------------------------------------------------------------------


async def test_probabilities_keys_are_integers(api: MockedAPI, client: Client) -> None:
    url = f"{BASE}/jobs/{JOB_ID}/results/probabilities"
    api.get(url, payload=sample("other")["probabilities"])
    assert await client.probabilities(JOB_ID) == {0: 0.5, 3: 0.5}
    assert_authenticated_get(only(api), f"/jobs/{JOB_ID}/results/probabilities")


async def test_probabilities_can_ask_for_sharpening(api: MockedAPI, client: Client) -> None:
    url = f"{BASE}/jobs/{JOB_ID}/results/probabilities?sharpen=true"
    api.get(url, payload={"1": 1})
    assert await client.probabilities(JOB_ID, sharpen=True) == {1: 1.0}
    assert query(only(api)) == [("sharpen", "true")]


async def test_probabilities_of_an_unfinished_job_raise_results_not_ready(
    api: MockedAPI, client: Client
) -> None:
    url = f"{BASE}/jobs/{JOB_ID}/results/probabilities"
    api.get(url, status=404, payload=sample("errors")["404_results"])
    with pytest.raises(ResultsNotReadyError, match="not yet completed"):
        await client.probabilities(JOB_ID)


async def test_aggregated_probabilities_keep_child_order(api: MockedAPI, client: Client) -> None:
    children = {"z-child": {"1": 1}, "a-child": {"0": 0.5, "3": 0.5}}
    api.get(f"{BASE}/jobs/{JOB_ID}/results/probabilities/aggregated", payload=children)
    aggregated = await client.aggregated_probabilities(JOB_ID)
    assert list(aggregated) == ["z-child", "a-child"]
    assert aggregated["a-child"] == {0: 0.5, 3: 0.5}


def completed_with_url(url: str) -> Job:
    body = sample("jobs")["completed_both_results"]
    return converter.structure({**body, "results": {"probabilities": {"url": url}}}, Job)


async def test_probabilities_of_a_job_follow_the_url_in_its_results(
    api: MockedAPI, client: Client
) -> None:
    # The OAS-May variant path: not the path the client would build itself.
    url = f"/v0.4/jobs/{JOB_ID}/variants/v-1/results/probabilities"
    api.get(
        f"{BASE}/jobs/{JOB_ID}/variants/v-1/results/probabilities?sharpen=true", payload={"3": 1}
    )
    assert await client.probabilities(completed_with_url(url), sharpen=True) == {3: 1.0}
    request = only(api)
    assert request.url.path == url
    assert query(request) == [("sharpen", "true")]
    assert request.headers["Authorization"] == f"apiKey {KEY}"


async def test_a_result_url_is_read_against_the_base_url_behind_a_proxy_prefix(
    api: MockedAPI,
) -> None:
    base = "https://proxy.example/ionq/v0.4"
    api.get(f"{base}/jobs/{JOB_ID}/results/probabilities", payload={"0": 1})
    async with Client(api_key=KEY, base_url=base, retry=RetryPolicy.never()) as proxied:
        job = completed_with_url(f"/v0.4/jobs/{JOB_ID}/results/probabilities")
        assert await proxied.probabilities(job) == {0: 1.0}
    assert only(api).url.path == f"/ionq/v0.4/jobs/{JOB_ID}/results/probabilities"


@pytest.mark.parametrize(
    "url",
    [
        "https://elsewhere.example/v0.4/jobs/x/results/probabilities",
        "http://api.ionq.co/v0.4/jobs/x/results/probabilities",
        "/other/jobs/x/results/probabilities",
        "/v0.4/jobs/../../whoami",
    ],
)
async def test_a_result_url_off_the_api_is_refused_without_a_request(
    api: MockedAPI, client: Client, url: str
) -> None:
    with pytest.raises(ResponseError):
        await client.probabilities(completed_with_url(url))
    assert sent(api) == []


async def test_probabilities_of_a_parent_by_id_point_to_aggregated(
    api: MockedAPI, client: Client
) -> None:
    keyed = {"child-1": {"1": 1}, "child-2": {"0": 0.5, "3": 0.5}}
    api.get(f"{BASE}/jobs/{JOB_ID}/results/probabilities", payload=keyed)
    with pytest.raises(ResponseError, match="aggregated_probabilities"):
        await client.probabilities(JOB_ID)


async def test_probabilities_of_a_parent_or_dry_run_job_are_refused_without_a_request(
    api: MockedAPI, client: Client
) -> None:
    parent = converter.structure(sample("jobs")["multi_circuit_parent"], Job)
    with pytest.raises(InvalidRequestError, match="aggregated_probabilities"):
        await client.probabilities(parent)
    completed = converter.structure(sample("jobs")["completed_legacy_results"], Job)
    dry = attrs.evolve(completed, dry_run=True, results=None)
    with pytest.raises(InvalidRequestError, match="dry run"):
        await client.probabilities(dry)
    with pytest.raises(InvalidRequestError, match="dry run"):
        await client.result(dry)
    assert sent(api) == []


async def test_probabilities_of_a_failed_or_canceled_job_raise_its_end_without_asking(
    api: MockedAPI, client: Client
) -> None:
    failed = converter.structure(sample("jobs")["failed"], Job)
    with pytest.raises(JobFailed) as caught:
        await client.probabilities(failed)
    assert caught.value.code == "TooManyShots"
    with pytest.raises(JobCanceled):
        await client.probabilities(converter.structure(sample("jobs")["canceled"], Job))
    assert sent(api) == []


async def test_result_of_a_completed_job_object_fetches_only_probabilities(
    api: MockedAPI, client: Client
) -> None:
    job = converter.structure(sample("jobs")["completed_both_results"], Job)
    api.get(f"{BASE}/jobs/{JOB_ID}/results/probabilities", payload={"0": 0.5, "3": 0.5})
    result = await client.result(job)
    assert isinstance(result, Result)
    assert result.probabilities == {0: 0.5, 3: 0.5}
    assert result.shots == 1000
    assert result.job is job
    assert len(sent(api)) == 1


async def test_result_of_an_id_fetches_the_job_first(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}", payload=sample("jobs")["completed_legacy_results"])
    api.get(f"{BASE}/jobs/{JOB_ID}/results/probabilities", payload={"0": 1})
    result = await client.result(JOB_ID)
    assert result.job.status is JobStatus.COMPLETED
    assert result.probabilities == {0: 1.0}


async def test_result_of_a_failed_job_raises_job_failed_with_its_code(
    api: MockedAPI, client: Client
) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}", payload=sample("jobs")["failed"])
    with pytest.raises(JobFailed) as caught:
        await client.result(JOB_ID)
    assert caught.value.code == "TooManyShots"
    assert caught.value.job.id == JOB_ID


async def test_result_of_a_canceled_job_raises_job_canceled(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}", payload=sample("jobs")["canceled"])
    with pytest.raises(JobCanceled):
        await client.result(JOB_ID)


async def test_result_of_a_running_job_raises_without_asking_for_probabilities(
    api: MockedAPI, client: Client
) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}", payload=sample("jobs")["started"])
    with pytest.raises(ResultsNotReadyError, match="started"):
        await client.result(JOB_ID)
    assert len(sent(api)) == 1


async def test_result_of_a_multi_circuit_parent_points_to_aggregated(
    api: MockedAPI, client: Client
) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}", payload=sample("jobs")["multi_circuit_parent"])
    with pytest.raises(InvalidRequestError, match="aggregated_probabilities"):
        await client.result(JOB_ID)


# -- cost and estimate ----------------------------------------------------------------


async def test_cost(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}/cost", payload=sample("other")["cost_unbilled"])
    cost = await client.cost(JOB_ID)
    assert cost.estimated_cost == Money(value=24.83, unit="credit")
    assert cost.cost is None
    assert_authenticated_get(only(api), f"/jobs/{JOB_ID}/cost")


async def test_estimate_sends_every_parameter(api: MockedAPI, client: Client) -> None:
    api.get(
        re.compile(re.escape(f"{BASE}/jobs/estimate?") + ".*"), payload=sample("estimates")["new"]
    )
    estimate = await client.estimate(
        backend="qpu.forte-1",
        qubits=25,
        shots=1000,
        one_qubit_gates=10,
        two_qubit_gates=5,
        error_mitigation=True,
        type="ionq.circuit.v1",
    )
    assert estimate.total_cost is not None
    request = only(api)
    assert request.url.path == "/v0.4/jobs/estimate"
    assert sorted(query(request)) == [
        ("1q_gates", "10"),
        ("2q_gates", "5"),
        ("backend", "qpu.forte-1"),
        ("error_mitigation", "true"),
        ("qubits", "25"),
        ("shots", "1000"),
        ("type", "ionq.circuit.v1"),
    ]


async def test_estimate_reads_the_legacy_shape(api: MockedAPI, client: Client) -> None:
    api.get(
        f"{BASE}/jobs/estimate?backend=qpu.aria-1&error_mitigation=false",
        payload=sample("estimates")["legacy"],
    )
    estimate = await client.estimate(backend="qpu.aria-1", error_mitigation=False)
    assert estimate.total_cost == 97.5
    assert estimate.context is not None
    assert estimate.context.one_qubit_gates == 10


# -- cancel and delete ----------------------------------------------------------------


async def test_cancel_puts_the_cancel_status(api: MockedAPI, client: Client) -> None:
    api.put(f"{BASE}/jobs/{JOB_ID}/status/cancel", payload=sample("other")["cancel"])
    answer = await client.cancel(JOB_ID)
    assert (answer.id, answer.status) == (JOB_ID, "canceled")
    request = only(api)
    assert (request.method, request.url.path, request.body) == (
        "PUT",
        f"/v0.4/jobs/{JOB_ID}/status/cancel",
        None,
    )


async def test_delete_deletes_the_job(api: MockedAPI, client: Client) -> None:
    api.delete(f"{BASE}/jobs/{JOB_ID}", payload=sample("other")["delete"])
    answer = await client.delete(JOB_ID)
    assert answer.status == "deleted"
    request = only(api)
    assert (request.method, request.url.path, request.body) == (
        "DELETE",
        f"/v0.4/jobs/{JOB_ID}",
        None,
    )


async def test_cancel_many_puts_the_ids_once_each_in_order(api: MockedAPI, client: Client) -> None:
    api.put(f"{BASE}/jobs/status/cancel", payload={"ids": ["b", "a"], "status": "canceled"})
    job_b = converter.structure(job_body("b"), Job)
    answer = await client.cancel_many([job_b, "a", "b"])
    assert answer.ids == ("b", "a")
    request = only(api)
    assert request.method == "PUT"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == {"ids": ["b", "a"]}


async def test_delete_many_deletes_with_a_body(api: MockedAPI, client: Client) -> None:
    api.delete(f"{BASE}/jobs", payload=sample("other")["bulk_delete"])
    answer = await client.delete_many([JOB_ID])
    assert answer.status == "deleted"
    request = only(api)
    assert (request.method, request.url.path, request.body) == (
        "DELETE",
        "/v0.4/jobs",
        {"ids": [JOB_ID]},
    )


async def test_bulk_operations_on_no_jobs_send_nothing(api: MockedAPI, client: Client) -> None:
    assert (await client.cancel_many([])).ids == ()
    assert (await client.delete_many([])).ids == ()
    assert sent(api) == []


# -- sessions -------------------------------------------------------------------------


async def test_create_session_posts_backend_and_limits(api: MockedAPI, client: Client) -> None:
    api.post(f"{BASE}/sessions", status=201, payload=sample("other")["session"])
    session = await client.create_session(
        "qpu.forte-1",
        job_count_limit=10,
        duration_limit_min=60,
        cost_limit=Money(value=100, unit="usd"),
    )
    assert session.id == "s-1"
    request = only(api)
    assert request.method == "POST"
    assert request.body == {
        "backend": "qpu.forte-1",
        "settings": {
            "job_count_limit": 10,
            "duration_limit_min": 60,
            "cost_limit": {"unit": "usd", "value": 100},
        },
    }


async def test_create_session_without_limits_sends_only_the_backend(
    api: MockedAPI, client: Client
) -> None:
    api.post(f"{BASE}/sessions", status=201, payload=sample("other")["session"])
    await client.create_session("qpu.forte-1")
    assert only(api).body == {"backend": "qpu.forte-1"}


async def test_get_session(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/sessions/s-1", payload=sample("other")["session"])
    session = await client.get_session("s-1")
    assert session.settings is not None
    assert session.settings.job_count_limit == 10
    assert_authenticated_get(only(api), "/sessions/s-1")


async def test_sessions_lists_with_the_active_filter(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/sessions?active=true", payload=sample("other")["sessions"])
    sessions = await client.sessions(active=True)
    assert [s.id for s in sessions] == ["s-1"]
    assert query(only(api)) == [("active", "true")]


async def test_end_session_posts_to_end(api: MockedAPI, client: Client) -> None:
    ended = {**sample("other")["session"], "active": False, "status": "ended"}
    api.post(f"{BASE}/sessions/s-1/end", payload=ended)
    session = converter.structure(sample("other")["session"], Session)
    answer = await client.end_session(session)
    assert answer.active is False
    request = only(api)
    assert (request.method, request.url.path, request.body) == (
        "POST",
        "/v0.4/sessions/s-1/end",
        None,
    )


# -- every endpoint at once: method, path, query, the exact headers and the body ----------


class Endpoint(NamedTuple):
    call: Callable[[Client], Awaitable[Any]]
    method: str
    path: str
    answer: Any
    query: tuple[tuple[str, str], ...] = ()
    body: Any = None


J = f"/jobs/{JOB_ID}"
OTHER = sample("other")
ENDPOINTS = {
    "backends": Endpoint(lambda c: c.backends(), "GET", "/backends", OTHER["backends"]),
    "backend": Endpoint(
        lambda c: c.backend("simulator"), "GET", "/backends/simulator", OTHER["backends"][0]
    ),
    "characterizations": Endpoint(
        lambda c: c.characterizations("qpu.forte-1", limit=2),
        "GET",
        "/backends/qpu.forte-1/characterizations",
        OTHER["characterizations"],
        query=(("limit", "2"),),
    ),
    "characterization": Endpoint(
        lambda c: c.characterization("qpu.forte-1", "c-1"),
        "GET",
        "/backends/qpu.forte-1/characterizations/c-1",
        OTHER["characterizations"]["characterizations"][0],
    ),
    "whoami": Endpoint(lambda c: c.whoami(), "GET", "/whoami", OTHER["whoami"]),
    "submit": Endpoint(
        lambda c: c.submit(bell(), shots=10),
        "POST",
        "/jobs",
        sample("job_created"),
        body={
            "type": "ionq.circuit.v1",
            "backend": "simulator",
            "shots": 10,
            "input": bell().to_json(),
        },
    ),
    "get_job": Endpoint(lambda c: c.get_job(JOB_ID), "GET", J, sample("jobs")["ready"]),
    "jobs": Endpoint(
        lambda c: c.job_page(status="ready", limit=5),
        "GET",
        "/jobs",
        sample("job_list"),
        query=(("status", "ready"), ("limit", "5")),
    ),
    "probabilities": Endpoint(
        lambda c: c.probabilities(JOB_ID),
        "GET",
        f"{J}/results/probabilities",
        OTHER["probabilities"],
    ),
    "aggregated": Endpoint(
        lambda c: c.aggregated_probabilities(JOB_ID),
        "GET",
        f"{J}/results/probabilities/aggregated",
        OTHER["aggregated"],
    ),
    "cost": Endpoint(lambda c: c.cost(JOB_ID), "GET", f"{J}/cost", OTHER["cost"]),
    "estimate": Endpoint(
        lambda c: c.estimate(backend="qpu.forte-1", shots=100),
        "GET",
        "/jobs/estimate",
        sample("estimates")["new"],
        query=(("backend", "qpu.forte-1"), ("shots", "100")),
    ),
    "cancel": Endpoint(lambda c: c.cancel(JOB_ID), "PUT", f"{J}/status/cancel", OTHER["cancel"]),
    "delete": Endpoint(lambda c: c.delete(JOB_ID), "DELETE", J, OTHER["delete"]),
    "cancel_many": Endpoint(
        lambda c: c.cancel_many(["a", "b"]),
        "PUT",
        "/jobs/status/cancel",
        OTHER["bulk_cancel"],
        body={"ids": ["a", "b"]},
    ),
    "delete_many": Endpoint(
        lambda c: c.delete_many(["a"]), "DELETE", "/jobs", OTHER["bulk_delete"], body={"ids": ["a"]}
    ),
    "create_session": Endpoint(
        lambda c: c.create_session("qpu.forte-1"),
        "POST",
        "/sessions",
        OTHER["session"],
        body={"backend": "qpu.forte-1"},
    ),
    "get_session": Endpoint(
        lambda c: c.get_session("s-1"), "GET", "/sessions/s-1", OTHER["session"]
    ),
    "sessions": Endpoint(lambda c: c.sessions(), "GET", "/sessions", OTHER["sessions"]),
    "end_session": Endpoint(
        lambda c: c.end_session("s-1"), "POST", "/sessions/s-1/end", OTHER["session"]
    ),
}


@pytest.mark.parametrize("endpoint", ENDPOINTS.values(), ids=ENDPOINTS.keys())
async def test_every_endpoint_sends_exactly_this_request(
    api: MockedAPI, client: Client, endpoint: Endpoint
) -> None:
    pattern = re.compile(re.escape(BASE + endpoint.path) + r"(\?.*)?$")
    api.add(pattern, endpoint.method, payload=endpoint.answer)
    await endpoint.call(client)
    request = only(api)
    assert request.method == endpoint.method
    assert request.url.raw_path == "/v0.4" + endpoint.path
    # aioresponses records the query sorted; the order sent is pinned elsewhere.
    assert sorted(query(request)) == sorted(endpoint.query)
    expected_headers = {
        "User-Agent": request.headers["User-Agent"],
        "Accept": "application/json",
        "Authorization": f"apiKey {KEY}",
    }
    if endpoint.body is not None:
        expected_headers["Content-Type"] = "application/json"
    assert USER_AGENT.match(request.headers["User-Agent"])
    assert request.headers == expected_headers
    assert request.body == endpoint.body
