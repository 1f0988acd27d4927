"""The core client against the emulator over real loopback sockets: every endpoint, and the faults.

These tests pin the contract between the two halves of the project: what the client
sends, the emulator accepts, and what the emulator answers, the client reads.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator

import pytest

from ionq_async._retry import RetryPolicy
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.emulator import Emulator, EmulatorConfig, FaultConfig, ManualClock
from ionq_async.exceptions import (
    AuthenticationError,
    BadRequestError,
    InvalidRequestError,
    IonQConnectionError,
    IonQError,
    JobFailed,
    NotFoundError,
    RateLimitError,
    ResponseError,
    ResultsNotReadyError,
    ServerError,
)
from ionq_async.models import JobStatus, Money

SECRET = "emu-SECRET-key-0c8d7e6f5a4b"


def bell() -> Circuit:
    return Circuit(qubits=2).h(0).cnot(0, 1)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("IONQ_API_URL", raising=False)


@pytest.fixture
async def instant_emulator() -> AsyncIterator[Emulator]:
    """An emulator whose jobs complete as soon as their simulation does."""
    async with Emulator(api_keys=[SECRET], config=EmulatorConfig(time_scale=0.0)) as emu:
        yield emu


@pytest.fixture
async def client(instant_emulator: Emulator) -> AsyncIterator[Client]:
    async with Client(
        api_key=SECRET, base_url=instant_emulator.url, retry=RetryPolicy.no_wait()
    ) as c:
        yield c


@pytest.fixture
async def slow_client(manual_emulator: Emulator) -> AsyncIterator[Client]:
    """A client of an emulator whose jobs move on only when ``manual_clock`` advances."""
    async with Client(
        api_key=manual_emulator.api_key, base_url=manual_emulator.url, retry=RetryPolicy.no_wait()
    ) as c:
        yield c


async def finished(emulator: Emulator, client: Client, job_id: str) -> JobStatus:
    """Wait for the emulator's simulations, check the job has ended, and return its status."""
    await emulator.wait_for_simulations()
    job = await client.get_job(job_id)
    assert job.is_terminal
    return job.status


async def test_backends_and_one_backend(client: Client) -> None:
    backends = await client.backends()
    assert [b.backend for b in backends] == [
        "simulator",
        "qpu.aria-1",
        "qpu.forte-1",
        "qpu.forte-enterprise-1",
    ]
    assert (await client.backend("simulator")).backend == "simulator"
    aria = await client.backend("qpu.aria-1")
    assert aria.qubits == 25 and aria.status == "available"


async def test_backends_work_without_a_key(instant_emulator: Emulator) -> None:
    async with Client(base_url=instant_emulator.url) as keyless:
        assert await keyless.backends()


async def test_characterizations_and_one_by_id(client: Client) -> None:
    qpu = next(b.backend for b in await client.backends() if b.backend.startswith("qpu."))
    page = await client.characterizations(qpu, limit=2)
    assert page.characterizations
    first = page.characterizations[0]
    assert (await client.characterization(qpu, first.id)).id == first.id
    forte = await client.characterizations("qpu.forte-1", limit=2)
    assert len(forte.characterizations) == 2 and forte.pages == 2
    first = forte.characterizations[0]
    again = await client.characterization("qpu.forte-1", first.id)
    assert again.id == first.id and again.qubits == 36


async def test_whoami(client: Client) -> None:
    who = await client.whoami()
    assert who.key_id and who.project_id


async def test_a_wrong_key_is_an_authentication_error(instant_emulator: Emulator) -> None:
    async with Client(
        api_key="not-the-key", base_url=instant_emulator.url, retry=RetryPolicy.never()
    ) as wrong:
        with pytest.raises(AuthenticationError):
            await wrong.whoami()
        # Listing backends needs no key, so a wrong one does not stop it either.
        assert len(await wrong.backends()) == 4


async def test_submit_wait_and_read_every_result(
    instant_emulator: Emulator, client: Client
) -> None:
    job = await client.submit(bell(), shots=1000, name="bell", metadata={"run": "1"})
    assert job.status is JobStatus.SUBMITTED
    assert await finished(instant_emulator, client, job.id) is JobStatus.COMPLETED
    fetched = await client.get_job(job.id)
    assert fetched.status is JobStatus.COMPLETED
    assert fetched.metadata == {"run": "1"}
    assert fetched.name == "bell"
    assert fetched.stats is not None and fetched.stats.qubits == 2
    assert fetched.results is not None
    assert fetched.results.probabilities_url == f"/v0.4/jobs/{job.id}/results/probabilities"
    # By Job and by id: both ways in reach the same distribution.
    assert await client.probabilities(job) == {0: 0.5, 3: 0.5}
    assert await client.probabilities(job.id) == {0: 0.5, 3: 0.5}
    result = await client.result(job.id)
    assert result.counts() == {0: 500, 3: 500}
    cost = await client.cost(job.id)
    assert cost.estimated_cost == Money(value=0.0, unit="usd")


async def test_noise_model_and_seed_round_trip(instant_emulator: Emulator, client: Client) -> None:
    job = await client.submit(bell(), shots=200, noise_model="aria-1", noise_seed=3)
    await finished(instant_emulator, client, job.id)
    fetched = await client.get_job(job.id)
    assert fetched.noise is not None
    assert (fetched.noise.model, fetched.noise.seed) == ("aria-1", 3)
    probabilities = await client.probabilities(job)
    assert sum(probabilities.values()) == pytest.approx(1.0)


async def test_multi_circuit_job_aggregates_children_in_order(
    instant_emulator: Emulator, client: Client
) -> None:
    # The two-qubit flip pins the bit order: qubit 0 is the least significant bit.
    circuits = [bell(), Circuit(qubits=1).x(0), Circuit(qubits=2).x(0)]
    parent = await client.submit(circuits, shots=100)
    await finished(instant_emulator, client, parent.id)
    fetched = await client.get_job(parent)
    assert fetched.is_parent and fetched.child_job_ids is not None
    aggregated = await client.aggregated_probabilities(parent)
    assert list(aggregated) == list(fetched.child_job_ids)
    assert list(aggregated.values()) == [{0: 0.5, 3: 0.5}, {1: 1.0}, {1: 1.0}]
    assert await client.aggregated_probabilities(parent.id) == aggregated
    children = [job.id async for job in client.jobs(parent_job_id=parent.id)]
    assert sorted(children) == sorted(fetched.child_job_ids)
    # One distribution per child is not one distribution: each way in says where to look.
    with pytest.raises(InvalidRequestError, match="aggregated_probabilities"):
        await client.probabilities(fetched)
    with pytest.raises(ResponseError, match="aggregated_probabilities"):
        await client.probabilities(parent.id)
    first = await client.get_job(fetched.child_job_ids[0])
    assert await client.probabilities(first) == {0: 0.5, 3: 0.5}


async def test_a_dry_run_is_accepted(instant_emulator: Emulator, client: Client) -> None:
    job = await client.submit(bell(), backend="qpu.aria-1", dry_run=True)
    assert await finished(instant_emulator, client, job.id) is JobStatus.COMPLETED
    fetched = await client.get_job(job)
    assert fetched.dry_run is True and fetched.status is JobStatus.COMPLETED
    assert fetched.results is None
    assert (await client.cost(fetched)).estimated_cost.value > 0
    cost = await client.cost(job.id)
    assert cost.dry_run is True and cost.cost is None
    assert cost.estimated_cost.value == 97.5
    # Never "not ready yet": a dry run has no results to wait for.
    with pytest.raises(InvalidRequestError, match="dry run"):
        await client.result(job.id)


async def test_a_failed_job_raises_job_failed(instant_emulator: Emulator, client: Client) -> None:
    too_many_shots = await client.submit(bell(), backend="qpu.aria-1", shots=1_000_000)
    too_wide = await client.submit(Circuit(qubits=26).h(25), backend="qpu.aria-1")
    for job, code in ((too_many_shots, "TooManyShots"), (too_wide, "NotEnoughQubits")):
        assert await finished(instant_emulator, client, job.id) is JobStatus.FAILED
        with pytest.raises(JobFailed) as caught:
            await client.result(job)
        assert caught.value.code == code
        assert code in str(caught.value)


async def test_jobs_pages_through_everything(client: Client) -> None:
    ids = [(await client.submit(bell())).id for _ in range(12)]
    listed = [job.id async for job in client.jobs(page_size=5)]
    # Newest first, each job once, across pages that end on a partial one.
    assert listed == list(reversed(ids))
    assert len([job async for job in client.jobs(limit=7, page_size=5)]) == 7


async def test_job_page_by_ids(client: Client) -> None:
    ids = [(await client.submit(bell())).id for _ in range(5)]
    page = await client.job_page(ids=ids[:2], limit=100)
    assert sorted(job.id for job in page.jobs) == sorted(ids[:2])
    picked = [job.id async for job in client.jobs(ids=[ids[0], ids[4]])]
    assert picked == [ids[4], ids[0]]


async def test_cost_and_estimate(instant_emulator: Emulator, client: Client) -> None:
    job = await client.submit(bell(), backend="qpu.aria-1", shots=100)
    await finished(instant_emulator, client, job.id)
    cost = await client.cost(job)
    assert cost.estimated_cost.value >= 0
    estimate = await client.estimate(
        backend="qpu.aria-1", qubits=2, shots=100, one_qubit_gates=1, two_qubit_gates=1
    )
    assert estimate.total_cost is not None
    assert estimate.context is not None
    assert estimate.context.two_qubit_gates == 1
    forte = await client.estimate(
        backend="qpu.forte-1", shots=100, one_qubit_gates=10, two_qubit_gates=10
    )
    assert forte.total_cost == 97.5 and forte.unit == "usd"
    assert forte.context is not None and forte.context.two_qubit_gates == 10


async def test_results_before_completion_are_not_ready(slow_client: Client) -> None:
    job = await slow_client.submit(bell(), backend="qpu.aria-1", shots=100)
    with pytest.raises(ResultsNotReadyError):
        await slow_client.probabilities(job)
    with pytest.raises(ResultsNotReadyError):
        await slow_client.result(job)
    simulated = await slow_client.submit(bell())
    with pytest.raises(ResultsNotReadyError):
        await slow_client.probabilities(simulated.id)


async def test_cancel_and_delete(slow_client: Client) -> None:
    job = await slow_client.submit(bell(), backend="qpu.aria-1", shots=100)
    assert (await slow_client.cancel(job)).status == "canceled"
    assert (await slow_client.get_job(job)).status is JobStatus.CANCELED
    assert (await slow_client.delete(job)).status == "deleted"
    with pytest.raises(NotFoundError):
        await slow_client.get_job(job)


async def test_bulk_cancel_and_delete(
    manual_emulator: Emulator, manual_clock: ManualClock, slow_client: Client
) -> None:
    jobs = [await slow_client.submit(bell(), backend="qpu.forte-1", shots=100) for _ in range(4)]
    # Past the submit delay, inside the QPU queue: every job is waiting, none has run.
    manual_clock.advance(1.0)
    cancelled = await slow_client.cancel_many(jobs[:3])
    assert cancelled.status == "canceled"
    assert sorted(cancelled.ids) == sorted(job.id for job in jobs[:3])
    assert (await slow_client.get_job(jobs[3])).status is JobStatus.READY
    # A job that was never cancelled is deleted along with the cancelled ones.
    deleted = await slow_client.delete_many(job.id for job in jobs)
    assert deleted.status == "deleted"
    assert sorted(deleted.ids) == sorted(job.id for job in jobs)
    page = await slow_client.job_page(ids=jobs)
    assert page.jobs == ()
    assert manual_emulator.jobs() == []


async def test_sessions_lifecycle(client: Client) -> None:
    session = await client.create_session(
        "qpu.aria-1", job_count_limit=5, cost_limit=Money(value=1000.0, unit="usd")
    )
    assert session.active is True and session.status == "created"
    assert (await client.get_session(session.id)).id == session.id
    assert session.id in [s.id for s in await client.sessions()]
    job = await client.submit(bell(), backend="qpu.aria-1", shots=100, session_id=session.id)
    assert job.session_id == session.id
    assert (await client.get_session(session.id)).status == "started"
    assert [j.id async for j in client.jobs(session_id=session.id)] == [job.id]
    dry = await client.submit(bell(), backend="qpu.aria-1", session_id=session.id, dry_run=True)
    assert dry.session_id == session.id
    assert [s.id for s in await client.sessions(active=True)] == [session.id]
    ended = await client.end_session(session)
    assert ended.active is False
    assert await client.sessions(active=True) == []


async def test_unknown_job_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError):
        await client.get_job("00000000-0000-7000-8000-000000000000")


async def test_a_400_reaches_the_client_with_its_validation_keys(client: Client) -> None:
    with pytest.raises(BadRequestError):
        await client.create_job({"type": "ionq.circuit.v1", "backend": "simulator"})
    with pytest.raises(BadRequestError) as bad:
        await client.create_job(
            {
                "type": "ionq.circuit.v1",
                "backend": "simulator",
                "input": {"circuit": [{"gate": "rx", "target": 0}]},
            }
        )
    assert "input.circuit[0].rotation" in str(bad.value)


# -- faults -------------------------------------------------------------------------------


async def test_persistent_429s_exhaust_the_retry_budget(
    instant_emulator: Emulator, client: Client
) -> None:
    instant_emulator.set_faults(p_429=1.0, retry_after_s=0.0)
    with pytest.raises(RateLimitError):
        await client.whoami()
    # The default budget is five attempts, and each one was sent and answered 429.
    assert client.stats.rate_limited == 5
    assert client.stats.requests_sent == 5
    assert instant_emulator.stats.faults["429"] == 5
    async with Client(
        api_key=SECRET, base_url=instant_emulator.url, retry=RetryPolicy.no_wait(max_attempts=3)
    ) as thrifty:
        with pytest.raises(RateLimitError):
            await thrifty.whoami()
        assert thrifty.stats.requests_sent == 3
    assert instant_emulator.stats.faults["429"] == 5 + 3


async def test_transient_5xx_on_reads_are_retried_through(
    instant_emulator: Emulator, client: Client
) -> None:
    instant_emulator.set_faults(p_503=0.5, seed=1)
    for _ in range(10):
        await client.whoami()
    assert client.stats.server_errors > 0
    # Every 503 cost exactly one extra request; the seeded faults fix how many there were.
    assert client.stats.requests_sent == 10 + client.stats.server_errors
    assert instant_emulator.stats.faults["503"] == client.stats.server_errors


async def test_a_run_of_5xx_is_retried_then_raised(instant_emulator: Emulator) -> None:
    async with Client(
        api_key=SECRET, base_url=instant_emulator.url, retry=RetryPolicy.no_wait(max_attempts=2)
    ) as client:
        instant_emulator.set_faults(p_503=1.0)
        with pytest.raises(ServerError):
            await client.get_job("00000000-0000-7000-8000-000000000000")
        assert client.stats.requests_sent == 2
        assert instant_emulator.stats.faults["503"] == 2


async def test_a_connection_dropped_after_storing_is_not_re_sent(
    instant_emulator: Emulator, client: Client
) -> None:
    # Replacing the faults with a whole FaultConfig works as well as changing fields.
    instant_emulator.set_faults(FaultConfig(p_drop_after_store=1.0))
    with pytest.raises(IonQConnectionError) as caught:
        await client.submit(bell(), metadata={"token": "t-1"})
    assert caught.value.request_sent is True
    assert client.stats.requests_sent == 1
    assert instant_emulator.count_jobs_with_metadata("token", "t-1") == 1


async def test_a_5xx_on_job_creation_is_not_re_sent(
    instant_emulator: Emulator, client: Client
) -> None:
    instant_emulator.set_faults(p_503=1.0)
    with pytest.raises(ServerError):
        await client.submit(bell())
    assert client.stats.requests_sent == 1


async def test_a_whole_session_at_debug_never_logs_the_key(
    instant_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[IonQError] = []
    async with Client(
        api_key=SECRET, base_url=instant_emulator.url, retry=RetryPolicy.no_wait()
    ) as c:
        await c.backends()
        await c.whoami()
        job = await c.submit(bell(), shots=100)
        await finished(instant_emulator, c, job.id)
        await c.result(job)
        await c.cost(job)
        _ = [j async for j in c.jobs(limit=3)]
        await c.delete(job)
        for call in (c.get_job(job), c.probabilities("nope")):
            try:
                await call
            except IonQError as error:
                errors.append(error)
        instant_emulator.set_faults(p_429=1.0, retry_after_s=0.0)
        try:
            await c.whoami()
        except IonQError as error:
            errors.append(error)
        instant_emulator.set_faults(p_drop_after_store=1.0)
        try:
            await c.submit(bell())
        except IonQError as error:
            errors.append(error)
        texts = [repr(c), repr(vars(c.transport))]
    assert len(errors) == 4
    formatter = logging.Formatter("%(name)s %(message)s")
    assert caplog.records
    for record in caplog.records:
        assert SECRET not in formatter.format(record)
    for caught in errors:
        texts += [str(caught), repr(caught), "".join(traceback.format_exception(caught))]
    assert all(SECRET not in text for text in texts)
