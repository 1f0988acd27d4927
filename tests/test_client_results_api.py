"""Every result the API serves: shots, histogram, variants, aggregation, compiled circuits
and artifacts, with exact request shapes (aioresponses) and hostile answers refused."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _aioresponses_compat import MockedAPI

from ionq_async import Client, InvalidRequestError, ResponseError, RetryPolicy
from ionq_async.models import Job, JobResults, JobStats, JobStatus

BASE = "https://api.ionq.co/v0.4"
KEY = "test-key-results"
JOB_ID = "0f9c5e4a-1b2c-4d3e-8f90-123456789abc"


@pytest.fixture
async def client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Client]:
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("IONQ_API_URL", raising=False)
    async with Client(api_key=KEY, retry=RetryPolicy.no_wait()) as c:
        yield c


def requests_made(api: MockedAPI) -> list[tuple[str, str]]:
    return [(method, str(url)) for (method, url), calls in api.requests.items() for _ in calls]


def completed(qubits: int = 2, shots: int | None = 4, urls: dict[str, str] | None = None) -> Job:
    return Job(
        id=JOB_ID,
        status=JobStatus.COMPLETED,
        shots=shots,
        stats=JobStats(qubits=qubits),
        results=JobResults(urls=urls or {}),
    )


async def test_shots_are_states_in_order(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}/results/shots", payload=[0, 3, "3", 0])
    assert await client.shots(JOB_ID) == [0, 3, 3, 0]
    assert requests_made(api) == [("GET", f"{BASE}/jobs/{JOB_ID}/results/shots")]


async def test_shots_follow_the_url_a_job_names(api: MockedAPI, client: Client) -> None:
    job = completed(urls={"shots": f"/v0.4/jobs/{JOB_ID}/results/shots?format=v1"})
    api.get(f"{BASE}/jobs/{JOB_ID}/results/shots?format=v1", payload=[1, 2, 1, 2])
    assert await client.shots(job) == [1, 2, 1, 2]


@pytest.fixture
def api(mocked_api: MockedAPI) -> MockedAPI:
    return mocked_api


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"0": 1}, "expected a list"),
        ([0, -1], "shot 1 is -1"),
        ([0, True], "shot 1 is True"),
        ([0, 4], "beyond 2 qubits"),
        (["x"], "shot 0 is 'x'"),
    ],
)
async def test_shots_that_are_not_states_are_refused(
    api: MockedAPI, client: Client, answer: Any, problem: str
) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}/results/shots", payload=answer)
    with pytest.raises(ResponseError, match=problem):
        await client.shots(completed())


async def test_a_variants_results_have_their_own_path(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}/variants/v1/results/shots", payload=[1])
    api.get(f"{BASE}/jobs/{JOB_ID}/variants/v1/results/histogram", payload={"1": 1})
    api.get(f"{BASE}/jobs/{JOB_ID}/variants/v1/results/probabilities", payload={"1": 1.0})
    assert await client.shots(JOB_ID, variant="v1") == [1]
    assert await client.histogram(JOB_ID, variant="v1") == {1: 1}
    assert await client.probabilities(JOB_ID, variant="v1") == {1: 1.0}


async def test_histogram_counts_sum_to_the_jobs_shots(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}/results/histogram", payload={"0": 2, "3": 2})
    assert await client.histogram(completed()) == {0: 2, 3: 2}
    api.get(f"{BASE}/jobs/{JOB_ID}/results/histogram", payload={"0": 2, "3": 1})
    with pytest.raises(ResponseError, match="sum to 3, not the job's 4 shots"):
        await client.histogram(completed())
    api.get(f"{BASE}/jobs/{JOB_ID}/results/histogram", payload={"0": 1.5, "3": 2.5})
    with pytest.raises(ResponseError, match="not a whole number"):
        await client.histogram(completed())


async def test_aggregation_is_sent_as_the_api_names_it(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}/results/probabilities?aggregation=voting", payload={"3": 1})
    assert await client.probabilities(JOB_ID, aggregation="voting") == {3: 1.0}
    with pytest.raises(InvalidRequestError, match="'average'"):
        await client.probabilities(JOB_ID, aggregation="vote")
    assert len(requests_made(api)) == 1


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        (
            "application/json",
            b'{"registers": {"m": {"01": 1.0}}}',
            {"registers": {"m": {"01": 1.0}}},
        ),
        ("text/plain; charset=utf-8", b"OPENQASM 3.0;", "OPENQASM 3.0;"),
        ("application/octet-stream", b"\x00\x01", b"\x00\x01"),
    ],
)
async def test_an_artifact_is_decoded_by_its_content_type(
    api: MockedAPI, client: Client, content_type: str, body: bytes, expected: Any
) -> None:
    api.get(
        f"{BASE}/jobs/{JOB_ID}/artifacts/a1",
        body=body,
        headers={"Content-Type": content_type},
    )
    artifact = await client.artifact(JOB_ID, "a1")
    assert artifact.data == expected
    assert artifact.id == "a1" and artifact.job_id == JOB_ID
    assert artifact.media_type == content_type.split(";")[0]


async def test_a_compiled_circuit_in_each_language(api: MockedAPI, client: Client) -> None:
    native = {"gateset": "native", "qubits": 2, "circuit": [{"gate": "ms", "targets": [0, 1]}]}
    api.get(
        f"{BASE}/jobs/{JOB_ID}/circuits/native",
        body=json.dumps(native).encode(),
        headers={"Content-Type": "application/json"},
    )
    api.get(
        f"{BASE}/jobs/{JOB_ID}/circuits/qasm3",
        body=b"OPENQASM 3.0;\n",
        headers={"Content-Type": "text/plain"},
    )
    assert await client.compiled_circuit(JOB_ID) == native
    assert await client.compiled_circuit(JOB_ID, "qasm3") == "OPENQASM 3.0;\n"
    with pytest.raises(InvalidRequestError, match="'native', 'qasm3'"):
        await client.compiled_circuit(JOB_ID, "qir")


async def test_variants_are_read_from_the_jobs_output(client: Client) -> None:
    job = Job(
        id=JOB_ID,
        status=JobStatus.COMPLETED,
        output={"error_mitigation": {"debiasing": {"variants": [{"variant_id": "a"}, {"id": 2}]}}},
    )
    assert await client.mitigation_variants(job) == ["a", "2"]
