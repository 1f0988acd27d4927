"""A seeded fault campaign: 2,000 jobs through run_many against a misbehaving emulator.

The emulator answers 10 % of authenticated requests with a 5xx, 5 % with a 429, drops
2 % of connections before the job is stored and 2 % of job creations after it is stored,
and delays every request by a random few milliseconds. The batch must still give every
circuit exactly one outcome, create no job twice, and match every result to its circuit.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from _aioresponses_compat import MockedAPI, MockedResponse
from aioresponses import CallbackResult
from batch_helpers import SetPollSchedules
from yarl import URL

from ionq_async._retry import RetryPolicy
from ionq_async.batch import TOKEN_METADATA_KEY, Outcome, PollSchedule
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.emulator import Emulator, EmulatorConfig, FaultConfig

JOBS = 2_000
BASIS_QUBITS = 11  # 2,048 basis states: one distinct state per circuit
FAST_POLLING = PollSchedule(initial_s=0.005, factor=1.5, max_s=0.05, jitter=0.1)
HANG_GUARD_S = 600.0
"""Only a hang trips this: 2,000 jobs take ~10 s here, and may take minutes on a loaded CI box."""

CAMPAIGN_FAULTS = FaultConfig(
    seed=20_240_611,
    p_500=0.04,
    p_502=0.03,
    p_503=0.03,
    p_429=0.05,
    retry_after_s=0.01,
    p_drop_before_store=0.02,
    p_drop_after_store=0.02,
    latency_s=(0.0, 0.002),
)
"""10 % 5xx, 5 % 429, 2 % drops before and 2 % after the job is stored, 0-2 ms latency."""

# Patient enough that a run of failed attempts on one request is vanishingly rare at a
# 17 % fault rate (0.17 ** 12 per request), and never waiting long.
CAMPAIGN_RETRY = RetryPolicy(
    max_attempts=12,
    initial_backoff_s=0.001,
    max_backoff_s=0.01,
    max_retry_after_s=0.01,
    server_error_burst=1_000_000,  # the gate would only slow the campaign down
)


def rotation_angle(index: int) -> float:
    """A per-circuit angle in (0, pi): circuits differ in their rotation as well."""
    return math.pi * (index + 1) / (JOBS + 2)


def campaign_circuit(index: int) -> Circuit:
    """Basis state ``index`` on qubits 0-10, and a rotation by a per-index angle on qubit 11."""
    circuit = Circuit(qubits=BASIS_QUBITS + 1, name=f"campaign-{index}")
    for bit in range(BASIS_QUBITS):
        if index >> bit & 1:
            circuit.x(bit)
    return circuit.ry(rotation_angle(index), BASIS_QUBITS)


def expected_probabilities(index: int) -> dict[int, float]:
    """The ideal distribution of ``campaign_circuit(index)``."""
    half = rotation_angle(index) / 2
    return {index: math.cos(half) ** 2, index + 2**BASIS_QUBITS: math.sin(half) ** 2}


def matches_its_circuit(outcome: Outcome) -> bool:
    """True if the outcome's probabilities are its own circuit's, to 1e-9."""
    if outcome.result is None:
        return False
    got = outcome.result.probabilities
    want = expected_probabilities(outcome.index)
    return got.keys() == want.keys() and all(
        math.isclose(got[state], p, abs_tol=1e-9) for state, p in want.items()
    )


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> Iterator[None]:
    # Jobs finish at once (time_scale=0); poll every few milliseconds, not every 100 ms.
    poll_schedules(FAST_POLLING)
    yield


def test_the_campaign_circuits_have_distinct_distributions() -> None:
    supports = {frozenset(expected_probabilities(i)) for i in range(JOBS)}
    assert len(supports) == JOBS
    assert all(
        math.isclose(sum(expected_probabilities(i).values()), 1.0) for i in range(0, JOBS, 97)
    )


async def test_two_thousand_jobs_through_faults_give_one_matching_outcome_each() -> None:
    circuits = [campaign_circuit(i) for i in range(JOBS)]
    with anyio.fail_after(HANG_GUARD_S):
        async with Emulator(config=EmulatorConfig(time_scale=0.0), faults=CAMPAIGN_FAULTS) as emu:
            async with Client(
                api_key=emu.api_key, base_url=emu.url, retry=CAMPAIGN_RETRY
            ) as client:
                outcomes = [
                    outcome
                    async for outcome in client.run_many(circuits, shots=100, concurrency=64)
                ]
                client_retries = client.stats.retries
            stored = emu.jobs()
            faults = Counter(emu.stats.faults)

    # Every circuit exactly one outcome, each the circuit it was given.
    indices = Counter(outcome.index for outcome in outcomes)
    assert sorted(indices) == list(range(JOBS))
    assert set(indices.values()) == {1}
    assert all(outcome.circuit is circuits[outcome.index] for outcome in outcomes)
    failures = [(o.index, repr(o.error)) for o in outcomes if o.error is not None]
    assert failures == []
    mismatched = [o.index for o in outcomes if not matches_its_circuit(o)]
    assert mismatched == []

    # No job was created twice: one stored job per client token, one token per circuit.
    tokens = Counter((job.get("metadata") or {}).get(TOKEN_METADATA_KEY) for job in stored)
    assert None not in tokens
    duplicates = {token: n for token, n in tokens.items() if n > 1}
    assert duplicates == {}
    assert len(stored) == JOBS
    assert {o.job.id for o in outcomes if o.job is not None} == {job["id"] for job in stored}

    # The campaign really was hostile: every kind of fault happened, and was survived.
    for kind in ("500", "502", "503", "429", "drop_before", "latency"):
        assert faults[kind] > 0, (kind, faults)
    assert emu.stats.dropped_connections > faults["drop_before"]  # drops after storing too
    assert client_retries > 0


# -- the campaign's odds: a creation is tried as often as the client's policy allows ------

BASE = "https://api.example.test/v0.4"
JOB_ID = "0198097d-3888-72ad-a9dd-9ace842cf181"


async def test_a_job_creation_is_tried_as_often_as_the_retry_policy_allows() -> None:
    failures_before_success = 6  # more than 5, fewer than the policy's 10 attempts
    posts = 0

    def create(_url: URL, **_kwargs: Any) -> CallbackResult:
        nonlocal posts
        posts += 1
        if posts <= failures_before_success:
            body = {"error": "Service Unavailable", "message": "try later", "statusCode": 503}
            return CallbackResult(status=503, payload=body, response_class=MockedResponse)
        created = {"id": JOB_ID, "status": "submitted", "session_id": None}
        return CallbackResult(status=201, payload=created, response_class=MockedResponse)

    def listing(url: URL, **_kwargs: Any) -> CallbackResult:
        # The token lookups find nothing (the 503s created no job); the poll finds it done.
        jobs = [{"id": JOB_ID, "status": "completed"}] if "ids" in url.query else []
        return CallbackResult(payload={"jobs": jobs, "next": None}, response_class=MockedResponse)

    with MockedAPI() as api:
        api.post(f"{BASE}/jobs", callback=create, repeat=True)
        api.get(re.compile(re.escape(BASE) + r"/jobs(\?.*)?$"), callback=listing, repeat=True)
        api.get(
            f"{BASE}/jobs/{JOB_ID}/results/probabilities",
            payload={"0": 0.5, "1": 0.5},
            repeat=True,
            response_class=MockedResponse,
        )
        retry = RetryPolicy.no_wait(max_attempts=10)
        async with Client(api_key="k", base_url=BASE, retry=retry) as client:
            with anyio.fail_after(30):
                outcomes = [o async for o in client.run_many([Circuit(qubits=1).h(0)])]
    assert [o.error for o in outcomes] == [None]
    assert posts == failures_before_success + 1
