"""Every client method against the emulator over real loopback sockets, faults included."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator

import pytest

from ionq_async._retry import RetryPolicy
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.emulator import Emulator, EmulatorConfig
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


async def finished(emulator: Emulator, client: Client, job_id: str) -> None:
    await emulator.wait_for_simulations()
    assert (await client.get_job(job_id)).is_terminal


async def test_backends_and_one_backend(client: Client) -> None:
    backends = await client.backends()
    names = [b.backend for b in backends]
    assert "simulator" in names
    assert (await client.backend("simulator")).backend == "simulator"


async def test_backends_work_without_a_key(instant_emulator: Emulator) -> None:
    async with Client(base_url=instant_emulator.url) as keyless:
        assert await keyless.backends()


async def test_characterizations_and_one_by_id(client: Client) -> None:
    qpu = next(b.backend for b in await client.backends() if b.backend.startswith("qpu."))
    page = await client.characterizations(qpu, limit=2)
    assert page.characterizations
    first = page.characterizations[0]
    assert (await client.characterization(qpu, first.id)).id == first.id


async def test_whoami(client: Client) -> None:
    assert (await client.whoami()).key_id


async def test_a_wrong_key_is_an_authentication_error(instant_emulator: Emulator) -> None:
    async with Client(api_key="not-the-key", base_url=instant_emulator.url) as wrong:
        with pytest.raises(AuthenticationError):
            await wrong.whoami()


async def test_submit_wait_and_read_the_result(instant_emulator: Emulator, client: Client) -> None:
    job = await client.submit(bell(), shots=1000, name="bell", metadata={"run": "1"})
    assert job.status is JobStatus.SUBMITTED
    await finished(instant_emulator, client, job.id)
    fetched = await client.get_job(job.id)
    assert fetched.status is JobStatus.COMPLETED
    assert fetched.metadata == {"run": "1"}
    assert fetched.name == "bell"
    assert await client.probabilities(job) == {0: 0.5, 3: 0.5}
    result = await client.result(job.id)
    assert result.counts() == {0: 500, 3: 500}


async def test_noisy_simulation_with_a_seed(instant_emulator: Emulator, client: Client) -> None:
    job = await client.submit(bell(), shots=200, noise_model="aria-1", noise_seed=3)
    await finished(instant_emulator, client, job.id)
    probabilities = await client.probabilities(job)
    assert sum(probabilities.values()) == pytest.approx(1.0)


async def test_multi_circuit_job_aggregates_children_in_order(
    instant_emulator: Emulator, client: Client
) -> None:
    parent = await client.submit([bell(), Circuit(qubits=1).x(0)], shots=100)
    await finished(instant_emulator, client, parent.id)
    fetched = await client.get_job(parent)
    assert fetched.child_job_ids is not None
    aggregated = await client.aggregated_probabilities(parent)
    assert list(aggregated) == list(fetched.child_job_ids)
    assert list(aggregated.values()) == [{0: 0.5, 3: 0.5}, {1: 1.0}]
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
    await finished(instant_emulator, client, job.id)
    fetched = await client.get_job(job)
    assert fetched.dry_run is True and fetched.status is JobStatus.COMPLETED
    assert fetched.results is None
    assert (await client.cost(fetched)).estimated_cost.value > 0
    # Never "not ready yet": a dry run has no results to wait for.
    with pytest.raises(InvalidRequestError, match="dry run"):
        await client.result(job.id)


async def test_a_failed_job_raises_job_failed(instant_emulator: Emulator, client: Client) -> None:
    job = await client.submit(bell(), backend="qpu.aria-1", shots=1_000_000)
    await finished(instant_emulator, client, job.id)
    with pytest.raises(JobFailed) as caught:
        await client.result(job)
    assert caught.value.code == "TooManyShots"


async def test_jobs_pages_through_everything(client: Client) -> None:
    submitted = {(await client.submit(bell())).id for _ in range(12)}
    listed = [job.id async for job in client.jobs(page_size=5)]
    assert len(listed) == len(set(listed))
    assert submitted <= set(listed)
    assert len([job async for job in client.jobs(limit=7, page_size=5)]) == 7


async def test_job_page_by_ids(client: Client) -> None:
    ids = [(await client.submit(bell())).id for _ in range(3)]
    page = await client.job_page(ids=ids[:2], limit=100)
    assert sorted(job.id for job in page.jobs) == sorted(ids[:2])


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


async def test_results_before_completion_are_not_ready(slow_client: Client) -> None:
    job = await slow_client.submit(bell(), backend="qpu.aria-1", shots=100)
    with pytest.raises(ResultsNotReadyError):
        await slow_client.probabilities(job)
    with pytest.raises(ResultsNotReadyError):
        await slow_client.result(job)


async def test_cancel_and_delete(slow_client: Client) -> None:
    job = await slow_client.submit(bell(), backend="qpu.aria-1", shots=100)
    assert (await slow_client.cancel(job)).status == "canceled"
    assert (await slow_client.get_job(job)).status is JobStatus.CANCELED
    assert (await slow_client.delete(job)).status == "deleted"
    with pytest.raises(NotFoundError):
        await slow_client.get_job(job)


async def test_bulk_cancel_and_delete(slow_client: Client) -> None:
    jobs = [await slow_client.submit(bell(), backend="qpu.aria-1", shots=100) for _ in range(3)]
    cancelled = await slow_client.cancel_many(jobs)
    assert sorted(cancelled.ids) == sorted(job.id for job in jobs)
    deleted = await slow_client.delete_many(job.id for job in jobs)
    assert deleted.status == "deleted"
    page = await slow_client.job_page(ids=jobs)
    assert page.jobs == ()


async def test_sessions_lifecycle(client: Client) -> None:
    session = await client.create_session(
        "qpu.aria-1", job_count_limit=5, cost_limit=Money(value=10.0, unit="usd")
    )
    assert (await client.get_session(session.id)).id == session.id
    assert session.id in [s.id for s in await client.sessions()]
    job = await client.submit(bell(), backend="qpu.aria-1", shots=100, session_id=session.id)
    assert [j.id async for j in client.jobs(session_id=session.id)] == [job.id]
    ended = await client.end_session(session)
    assert ended.active is False
    assert session.id not in [s.id for s in await client.sessions(active=True)]


async def test_unknown_job_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError):
        await client.get_job("00000000-0000-7000-8000-000000000000")


async def test_the_emulator_validation_comes_back_as_bad_request(client: Client) -> None:
    with pytest.raises(BadRequestError):
        await client.create_job({"type": "ionq.circuit.v1", "backend": "simulator"})


# -- faults -------------------------------------------------------------------------------


async def test_persistent_429s_exhaust_the_retry_budget(
    instant_emulator: Emulator, client: Client
) -> None:
    instant_emulator.set_faults(p_429=1.0, retry_after_s=0.0)
    with pytest.raises(RateLimitError):
        await client.whoami()
    assert client.stats.rate_limited == 5
    assert client.stats.requests_sent == 5


async def test_transient_5xx_on_reads_are_retried_through(
    instant_emulator: Emulator, client: Client
) -> None:
    instant_emulator.set_faults(p_503=0.5, seed=1)
    for _ in range(10):
        await client.whoami()
    assert client.stats.server_errors > 0


async def test_a_connection_dropped_after_storing_is_not_re_sent(
    instant_emulator: Emulator, client: Client
) -> None:
    instant_emulator.set_faults(p_drop_after_store=1.0)
    with pytest.raises(IonQConnectionError) as caught:
        await client.submit(bell(), metadata={"token": "t-1"})
    assert caught.value.request_sent is True
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
