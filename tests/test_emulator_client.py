"""The core client against the emulator over loopback: every endpoint, and the faults.

These tests pin the contract between the two halves of the project: what the client
sends, the emulator accepts, and what the emulator answers, the client reads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ionq_async._retry import RetryPolicy
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.emulator import Emulator, EmulatorConfig, FaultConfig, ManualClock
from ionq_async.exceptions import (
    AuthenticationError,
    BadRequestError,
    IonQConnectionError,
    JobFailed,
    NotFoundError,
    RateLimitError,
    ResultsNotReadyError,
    ServerError,
)
from ionq_async.models import JobStatus, Money


def bell() -> Circuit:
    return Circuit(qubits=2).h(0).cnot(0, 1)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    """Jobs complete as soon as their simulation has finished."""
    async with Emulator(config=EmulatorConfig(time_scale=0.0)) as emulator:
        yield emulator


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[Client]:
    async with Client(emu.api_key, emu.url, retry=RetryPolicy.no_wait()) as c:
        yield c


async def finished(client: Client, emu: Emulator, job_id: str) -> JobStatus:
    await emu.wait_for_simulations()
    return (await client.get_job(job_id)).status


async def test_backends_and_one_backend(client: Client) -> None:
    backends = await client.backends()
    assert [b.backend for b in backends] == [
        "simulator",
        "qpu.aria-1",
        "qpu.forte-1",
        "qpu.forte-enterprise-1",
    ]
    aria = await client.backend("qpu.aria-1")
    assert aria.qubits == 25 and aria.status == "available"


async def test_characterizations(client: Client) -> None:
    page = await client.characterizations("qpu.forte-1", limit=2)
    assert len(page.characterizations) == 2 and page.pages == 2
    first = page.characterizations[0]
    again = await client.characterization("qpu.forte-1", first.id)
    assert again.id == first.id and again.qubits == 36


async def test_whoami(client: Client) -> None:
    who = await client.whoami()
    assert who.key_id and who.project_id


async def test_submit_wait_and_read_every_result(client: Client, emu: Emulator) -> None:
    job = await client.submit(bell(), shots=1000, name="bell", metadata={"k": "v"})
    assert job.status is JobStatus.SUBMITTED
    assert await finished(client, emu, job.id) is JobStatus.COMPLETED
    fetched = await client.get_job(job.id)
    assert fetched.metadata == {"k": "v"} and fetched.name == "bell"
    assert fetched.stats is not None and fetched.stats.qubits == 2
    assert fetched.results is not None
    assert fetched.results.probabilities_url == f"/v0.4/jobs/{job.id}/results/probabilities"
    assert await client.probabilities(job.id) == {0: 0.5, 3: 0.5}
    result = await client.result(job.id)
    assert result.counts() == {0: 500, 3: 500}
    cost = await client.cost(job.id)
    assert cost.estimated_cost == Money(value=0.0, unit="usd")


async def test_results_before_completion_raise_not_ready() -> None:
    clock = ManualClock()
    async with (
        Emulator(clock=clock) as emu,
        Client(emu.api_key, emu.url, retry=RetryPolicy.no_wait()) as client,
    ):
        job = await client.submit(bell())
        with pytest.raises(ResultsNotReadyError):
            await client.probabilities(job.id)


async def test_noise_model_and_seed_round_trip(client: Client, emu: Emulator) -> None:
    job = await client.submit(bell(), shots=500, noise_model="aria-1", noise_seed=3)
    await finished(client, emu, job.id)
    fetched = await client.get_job(job.id)
    assert fetched.noise is not None
    assert (fetched.noise.model, fetched.noise.seed) == ("aria-1", 3)
    probabilities = await client.probabilities(job.id)
    assert sum(probabilities.values()) == pytest.approx(1.0)


async def test_multi_circuit_and_aggregated_probabilities(client: Client, emu: Emulator) -> None:
    flip = Circuit(qubits=2).x(0)
    parent = await client.submit([bell(), flip], shots=100)
    await finished(client, emu, parent.id)
    job = await client.get_job(parent.id)
    assert job.is_parent and job.child_job_ids is not None
    aggregated = await client.aggregated_probabilities(parent.id)
    assert list(aggregated) == list(job.child_job_ids)
    assert list(aggregated.values()) == [{0: 0.5, 3: 0.5}, {1: 1.0}]
    children = [j async for j in client.jobs(parent_job_id=parent.id)]
    assert {c.id for c in children} == set(job.child_job_ids)


async def test_dry_run(client: Client, emu: Emulator) -> None:
    job = await client.submit(bell(), backend="qpu.aria-1", dry_run=True)
    assert await finished(client, emu, job.id) is JobStatus.COMPLETED
    cost = await client.cost(job.id)
    assert cost.dry_run is True and cost.cost is None
    assert cost.estimated_cost.value == 97.5


async def test_failed_job_raises_job_failed(client: Client, emu: Emulator) -> None:
    wide = Circuit(qubits=26).h(25)
    job = await client.submit(wide, backend="qpu.aria-1")
    assert await finished(client, emu, job.id) is JobStatus.FAILED
    with pytest.raises(JobFailed) as failed:
        await client.result(job.id)
    assert "NotEnoughQubits" in str(failed.value)


async def test_listing_pages_through_everything(client: Client) -> None:
    ids = [(await client.submit(bell())).id for _ in range(7)]
    listed = [job.id async for job in client.jobs(page_size=3)]
    assert listed == list(reversed(ids))
    picked = [job.id async for job in client.jobs(ids=[ids[0], ids[4]])]
    assert picked == [ids[4], ids[0]]


async def test_estimate(client: Client) -> None:
    estimate = await client.estimate(
        backend="qpu.forte-1", shots=100, one_qubit_gates=10, two_qubit_gates=10
    )
    assert estimate.total_cost == 97.5 and estimate.unit == "usd"
    assert estimate.context is not None and estimate.context.two_qubit_gates == 10


async def test_cancel_and_delete_one_and_many() -> None:
    clock = ManualClock()
    async with (
        Emulator(clock=clock) as emu,
        Client(emu.api_key, emu.url, retry=RetryPolicy.no_wait()) as client,
    ):
        jobs = [await client.submit(bell(), backend="qpu.forte-1") for _ in range(4)]
        assert (await client.cancel(jobs[0])).status == "canceled"
        bulk = await client.cancel_many(jobs[1:3])
        assert bulk.status == "canceled" and set(bulk.ids) == {jobs[1].id, jobs[2].id}
        assert (await client.get_job(jobs[3])).status is JobStatus.READY
        assert (await client.delete(jobs[0])).status == "deleted"
        with pytest.raises(NotFoundError):
            await client.get_job(jobs[0])
        deleted = await client.delete_many(jobs[1:])
        assert deleted.status == "deleted" and len(deleted.ids) == 3
        assert emu.jobs() == []


async def test_sessions(client: Client) -> None:
    session = await client.create_session(
        "qpu.forte-1", job_count_limit=3, cost_limit=Money(value=50.0, unit="usd")
    )
    assert session.active is True and session.status == "created"
    job = await client.submit(bell(), backend="qpu.forte-1", session_id=session.id, dry_run=True)
    assert job.session_id == session.id
    assert (await client.get_session(session.id)).status == "started"
    assert [s.id for s in await client.sessions(active=True)] == [session.id]
    ended = await client.end_session(session.id)
    assert ended.active is False
    assert await client.sessions(active=True) == []


# ----------------------------------------------------------------------------- errors


async def test_bad_key_is_an_authentication_error() -> None:
    async with (
        Emulator(api_keys=["good"]) as emu,
        Client("bad", emu.url, retry=RetryPolicy.never()) as client,
    ):
        with pytest.raises(AuthenticationError):
            await client.whoami()
        assert len(await client.backends()) == 4


async def test_400_reaches_the_client_with_its_validation_keys(client: Client) -> None:
    with pytest.raises(BadRequestError) as bad:
        await client.create_job(
            {
                "type": "ionq.circuit.v1",
                "backend": "simulator",
                "input": {"circuit": [{"gate": "rx", "target": 0}]},
            }
        )
    assert "input.circuit[0].rotation" in str(bad.value)


async def test_429_is_retried_with_retry_after(emu: Emulator) -> None:
    async with Client(emu.api_key, emu.url, retry=RetryPolicy.no_wait(max_attempts=3)) as client:
        emu.set_faults(p_429=1.0, retry_after_s=0.0)
        with pytest.raises(RateLimitError):
            await client.whoami()
        assert emu.stats.faults["429"] == 3


async def test_a_run_of_5xx_is_retried_then_raised(emu: Emulator) -> None:
    async with Client(emu.api_key, emu.url, retry=RetryPolicy.no_wait(max_attempts=2)) as client:
        emu.set_faults(p_503=1.0)
        with pytest.raises(ServerError):
            await client.get_job("00000000-0000-7000-8000-000000000000")


async def test_submit_is_not_resent_after_a_drop_after_store(emu: Emulator) -> None:
    async with Client(emu.api_key, emu.url, retry=RetryPolicy.no_wait()) as client:
        emu.set_faults(FaultConfig(p_drop_after_store=1.0))
        with pytest.raises(IonQConnectionError):
            await client.submit(bell(), metadata={"token": "once"})
        assert emu.count_jobs_with_metadata("token", "once") == 1
