"""The batch engine's pure parts: packing plan, poll schedules, AIMD limiter, journal, outcomes."""

from __future__ import annotations

import json
import math
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)
from hypothesis import given
from hypothesis import strategies as st

from ionq_async._batch import values as batch_values
from ionq_async._batch.planning import plan_units, unit_input
from ionq_async._batch.poller import (
    MAX_IDS_PER_POLL,
    MAX_POLL_URL_BYTES,
    PollEntry,
    Poller,
    poll_chunks,
)
from ionq_async._batch.tokens import TokenResolver, is_ambiguous
from ionq_async._batch.values import (
    QPU_SCHEDULE,
    SIMULATOR_SCHEDULE,
    TOKEN_METADATA_KEY,
    BatchProgress,
    Outcome,
    PackLimits,
    PollSchedule,
    plan_packs,
)
from ionq_async._flow import AdaptiveLimiter, Throttle
from ionq_async._journal import Journal, TokenRecord
from ionq_async.circuits import Circuit
from ionq_async.exceptions import (
    BadRequestError,
    ConfigurationError,
    IonQConnectionError,
    IonQError,
    IonQTimeoutError,
    JobFailed,
    JournalError,
    RateLimitError,
    ServerError,
)
from ionq_async.models import Failure, Job, JobStatus
from ionq_async.results import Result

# -- packing ---------------------------------------------------------------------------


def test_packs_keep_input_order_and_cover_every_circuit() -> None:
    packs = plan_packs([(10, 100)] * 12, PackLimits(max_circuits=5))
    assert packs == [(0, 1, 2, 3, 4), (5, 6, 7, 8, 9), (10, 11)]


def test_packs_respect_the_gate_limit() -> None:
    packs = plan_packs([(60, 10), (60, 10), (60, 10)], PackLimits(max_gates=150))
    assert packs == [(0, 1), (2,)]


def test_packs_respect_the_byte_limit() -> None:
    packs = plan_packs([(1, 400), (1, 400), (1, 400)], PackLimits(max_bytes=1000))
    assert packs == [(0, 1), (2,)]


def test_a_circuit_over_a_limit_alone_gets_its_own_pack() -> None:
    packs = plan_packs([(1, 10), (500, 10), (1, 10)], PackLimits(max_gates=100))
    assert packs == [(0,), (1,), (2,)]


def test_default_pack_limits_are_the_apis() -> None:
    limits = PackLimits()
    assert limits.max_circuits == 5_000
    assert limits.max_gates == 150_000
    assert limits.max_bytes < 10_000_000


@given(
    st.lists(st.tuples(st.integers(0, 200), st.integers(1, 500)), max_size=60),
    st.integers(1, 10),
    st.integers(1, 400),
    st.integers(1, 2000),
)
def test_every_pack_is_within_limits_unless_it_is_one_oversized_circuit(
    sizes: list[tuple[int, int]], max_circuits: int, max_gates: int, max_bytes: int
) -> None:
    limits = PackLimits(max_circuits=max_circuits, max_gates=max_gates, max_bytes=max_bytes)
    packs = plan_packs(sizes, limits)
    assert [i for pack in packs for i in pack] == list(range(len(sizes)))
    for pack in packs:
        if len(pack) == 1:
            continue
        assert len(pack) <= max_circuits
        assert sum(sizes[i][0] for i in pack) <= max_gates
        assert sum(sizes[i][1] for i in pack) <= max_bytes


# -- poll schedules --------------------------------------------------------------------


def test_the_simulator_is_polled_sooner_than_a_qpu() -> None:
    assert PollSchedule.for_backend("simulator") is SIMULATOR_SCHEDULE
    assert PollSchedule.for_backend(None) is SIMULATOR_SCHEDULE
    assert PollSchedule.for_backend("qpu.forte-1") is QPU_SCHEDULE
    assert SIMULATOR_SCHEDULE.initial_s < QPU_SCHEDULE.initial_s
    assert SIMULATOR_SCHEDULE.max_s < QPU_SCHEDULE.max_s


def test_intervals_grow_by_the_factor_up_to_the_cap() -> None:
    schedule = PollSchedule(initial_s=0.1, factor=2.0, max_s=1.0, jitter=0.0)
    rng = random.Random(0)
    assert [schedule.interval_s(n, rng) for n in range(6)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    )


def test_jitter_stays_within_its_fraction() -> None:
    schedule = PollSchedule(initial_s=1.0, factor=1.0, max_s=1.0, jitter=0.2)
    rng = random.Random(1)
    draws = [schedule.interval_s(0, rng) for _ in range(500)]
    assert min(draws) >= 0.8
    assert max(draws) <= 1.2
    assert len(set(draws)) > 400


def test_a_huge_attempt_number_does_not_overflow() -> None:
    assert SIMULATOR_SCHEDULE.interval_s(10_000, random.Random(0)) <= 1.2


def _job(status: JobStatus, **fields: object) -> Job:
    return Job(id="j", status=status, **fields)  # type: ignore[arg-type]


def test_a_queued_job_with_a_prediction_is_polled_just_after_its_predicted_end() -> None:
    schedule = PollSchedule(initial_s=0.1, factor=1.5, max_s=1.0, jitter=0.0, max_predicted_s=30)
    job = _job(
        JobStatus.READY, predicted_wait_time_ms=4000.0, predicted_execution_duration_ms=1000.0
    )
    assert schedule.delay_s(0, job, random.Random(0)) == pytest.approx(5.0 * 1.05 + 0.01)


def test_a_running_job_counts_its_negative_wait_as_time_already_run() -> None:
    schedule = PollSchedule(initial_s=0.1, factor=1.5, max_s=1.0, jitter=0.0, max_predicted_s=30)
    job = _job(
        JobStatus.STARTED, predicted_wait_time_ms=-300.0, predicted_execution_duration_ms=500.0
    )
    assert schedule.delay_s(0, job, random.Random(0)) == pytest.approx(0.2 * 1.05 + 0.01)


def test_a_prediction_is_capped() -> None:
    schedule = PollSchedule(initial_s=0.1, factor=1.5, max_s=1.0, jitter=0.0, max_predicted_s=30)
    job = _job(JobStatus.READY, predicted_wait_time_ms=3_600_000.0)
    assert schedule.delay_s(0, job, random.Random(0)) == pytest.approx(30.0)


def test_an_overdue_job_is_asked_about_in_proportion_to_how_late_it_is() -> None:
    # Before: past its predicted end a job fell back to the growing interval of its
    # attempt count (up to max_s at once), however slightly late it was.
    schedule = PollSchedule(initial_s=0.1, factor=1.5, max_s=1.0, jitter=0.0)

    def late_by(seconds: float) -> Job:
        wait_ms = -(seconds + 0.01) * 1000
        return _job(
            JobStatus.STARTED, predicted_wait_time_ms=wait_ms, predicted_execution_duration_ms=10.0
        )

    rng = random.Random(0)
    assert schedule.delay_s(6, late_by(0.89), rng) == pytest.approx(0.1)  # at least initial_s
    assert schedule.delay_s(6, late_by(5.0), rng) == pytest.approx(0.5)  # overdue_factor 0.1
    assert schedule.delay_s(6, late_by(60.0), rng) == pytest.approx(1.0)  # at most max_s


def test_a_running_job_subtracts_the_time_since_it_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = 1_750_000_000.0
    # The wall clock the prediction reads (time.time in ionq_async._batch.values), frozen.
    monkeypatch.setattr(batch_values, "time", SimpleNamespace(time=lambda: now))
    schedule = PollSchedule(initial_s=0.01, factor=1.5, max_s=1.0, jitter=0.0, max_predicted_s=60)
    started = datetime.fromtimestamp(now - 20.0, tz=UTC)
    job = _job(
        JobStatus.STARTED,
        predicted_wait_time_ms=0.0,
        predicted_execution_duration_ms=30_000.0,
        started_at=started,
    )
    assert schedule.delay_s(0, job, random.Random(0)) == pytest.approx(10.0 * 1.05 + 0.01)


def test_without_predictions_the_interval_grows() -> None:
    schedule = PollSchedule(initial_s=0.1, factor=1.5, max_s=1.0, jitter=0.0)
    job = _job(JobStatus.STARTED)
    assert schedule.delay_s(2, job, random.Random(0)) == pytest.approx(0.225)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"initial_s": 0.0}, "initial_s must be a positive number of seconds, got 0.0"),
        ({"initial_s": math.nan}, "initial_s must be a positive number of seconds"),
        ({"factor": 0.5}, "factor must be at least 1, got 0.5"),
        ({"max_s": 0.01}, "max_s must be at least initial_s, got 0.01"),
        ({"jitter": 1.0}, "jitter must be in [0, 1), got 1.0"),
        ({"max_predicted_s": -1.0}, "max_predicted_s must not be negative, got -1.0"),
    ],
)
def test_a_bad_poll_schedule_is_refused_naming_the_field(
    fields: dict[str, float], problem: str
) -> None:
    settings = {"initial_s": 0.1, "factor": 1.5, "max_s": 1.0, **fields}
    with pytest.raises(ConfigurationError) as caught:
        PollSchedule(**settings)
    assert problem in str(caught.value)


@pytest.mark.parametrize("name", ["max_circuits", "max_gates", "max_bytes"])
@pytest.mark.parametrize("value", [0, -5, 2.5, True])
def test_bad_pack_limits_are_refused_naming_the_field(name: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=f"PackLimits: {name} must be an integer >= 1"):
        PackLimits(**{name: value})  # type: ignore[arg-type]


# -- poll chunks -------------------------------------------------------------------------


def test_poll_chunks_hold_at_most_100_ids() -> None:
    entries = [PollEntry(i, f"{i:036d}", None, SIMULATOR_SCHEDULE) for i in range(250)]
    chunks = list(poll_chunks(entries))
    assert [len(c) for c in chunks] == [MAX_IDS_PER_POLL, MAX_IDS_PER_POLL, 50]


def test_poll_chunks_keep_urls_short_for_long_ids() -> None:
    entries = [PollEntry(i, "x" * 200, None, SIMULATOR_SCHEDULE) for i in range(100)]
    for chunk in poll_chunks(entries):
        assert sum(len(e.job_id) + 5 for e in chunk) <= MAX_POLL_URL_BYTES


async def test_one_poll_cycle_asks_about_every_due_job_in_chunks_of_100(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ionq_async.client import Client
    from ionq_async.models import JobPage

    client = Client(api_key="unused", base_url="http://127.0.0.1:9/v0.4")
    asked: list[list[str]] = []

    async def job_page(*, ids: list[str], limit: int) -> JobPage:
        asked.append(list(ids))
        assert limit == len(ids)
        return JobPage(jobs=tuple(Job(id=i, status=JobStatus.COMPLETED) for i in ids))

    monkeypatch.setattr(client, "job_page", job_page)
    finished: list[int] = []
    all_done = anyio.Event()

    def on_terminal(key: int, job: Job) -> None:
        assert job.id == f"job-{key}"
        finished.append(key)
        if len(finished) == 250:
            all_done.set()

    def on_error(key: int, error: IonQError) -> None:
        pytest.fail(f"job {key}: {error!r}")

    throttle = Throttle(client.stats, [], open_tokens=64)
    poller = Poller(
        client, on_terminal=on_terminal, on_error=on_error, throttle=throttle,
        schedule=PollSchedule(initial_s=3600.0, factor=1.0, max_s=3600.0, jitter=0.0),
    )  # fmt: skip
    for key in range(250):
        poller.add(key, f"job-{key}", None, immediate=True)
    async with anyio.create_task_group() as group:
        group.start_soon(poller.run)
        with anyio.fail_after(60):
            await all_done.wait()
        group.cancel_scope.cancel()
    # 250 waiting jobs cost three list requests, never one request per job.
    assert [len(ids) for ids in asked] == [MAX_IDS_PER_POLL, MAX_IDS_PER_POLL, 50]
    assert sorted(i for ids in asked for i in ids) == sorted(f"job-{k}" for k in range(250))
    assert sorted(finished) == list(range(250))
    assert (poller.list_requests, poller.single_requests, len(poller)) == (3, 0, 0)


# -- the AIMD limiter ---------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiting_halves_the_limit_once_per_cooldown() -> None:
    clock = _Clock()
    limiter = AdaptiveLimiter(32, cooldown_s=1.0, clock=clock)
    limiter.on_rate_limited()
    limiter.on_rate_limited()  # the same storm
    assert limiter.slots == 16
    clock.now = 2.0
    limiter.on_rate_limited()
    assert limiter.slots == 8
    assert limiter.decreases == 2


def test_the_limit_never_drops_below_the_minimum() -> None:
    clock = _Clock()
    limiter = AdaptiveLimiter(4, minimum=2, cooldown_s=0.0, clock=clock)
    for step in range(10):
        clock.now = float(step)
        limiter.on_rate_limited()
    assert limiter.slots == 2


def test_the_limit_grows_back_by_about_one_slot_per_window_of_successes() -> None:
    limiter = AdaptiveLimiter(32, cooldown_s=0.0)
    limiter.on_rate_limited()
    assert limiter.slots == 16
    for _ in range(16):
        limiter.on_success()
    assert limiter.slots == 16 or limiter.slots == 17
    for _ in range(2000):
        limiter.on_success()
    assert limiter.slots == 32


async def test_acquire_waits_for_a_free_slot() -> None:
    limiter = AdaptiveLimiter(2)
    await limiter.acquire()
    await limiter.acquire()
    got_third = anyio.Event()

    async def third() -> None:
        await limiter.acquire()
        got_third.set()

    async with anyio.create_task_group() as group:
        group.start_soon(third)
        await anyio.wait_all_tasks_blocked()
        assert not got_third.is_set()
        limiter.release()
        await got_third.wait()
    assert limiter.in_use == 2


async def test_a_shrunken_limit_holds_new_acquirers_until_enough_slots_free() -> None:
    limiter = AdaptiveLimiter(4, cooldown_s=0.0)
    for _ in range(4):
        await limiter.acquire()
    limiter.on_rate_limited()  # 2 slots now, 4 in use
    got = anyio.Event()

    async def acquirer() -> None:
        await limiter.acquire()
        got.set()

    async with anyio.create_task_group() as group:
        group.start_soon(acquirer)
        limiter.release()
        limiter.release()
        await anyio.wait_all_tasks_blocked()
        assert not got.is_set()  # 2 in use = 2 slots
        limiter.release()
        await got.wait()


# -- ambiguity ------------------------------------------------------------------------------


def test_which_creation_failures_may_have_created_the_job() -> None:
    assert is_ambiguous(IonQConnectionError("dropped", request_sent=True))
    assert is_ambiguous(IonQTimeoutError("read timeout"))
    assert is_ambiguous(ServerError("boom", status=502))
    assert not is_ambiguous(IonQConnectionError("refused", request_sent=False))
    assert not is_ambiguous(RateLimitError("slow down", status=429))
    assert not is_ambiguous(BadRequestError("bad", status=400))


# -- outcomes and progress -----------------------------------------------------------------


def test_an_ok_outcome_unwraps_to_its_result() -> None:
    job = _job(JobStatus.COMPLETED)
    result = Result(job=job, probabilities={0: 1.0}, shots=10)
    outcome = Outcome(index=3, name="a", circuit=None, job=job, result=result, error=None)
    assert outcome.ok
    assert outcome.unwrap() is result


def test_a_failed_outcome_raises_its_error_on_unwrap() -> None:
    job = _job(JobStatus.FAILED, failure=Failure(code="TooManyShots", message="no"))
    outcome = Outcome(index=0, name=None, circuit=None, job=job, result=None, error=JobFailed(job))
    assert not outcome.ok
    with pytest.raises(JobFailed, match="TooManyShots"):
        outcome.unwrap()


def test_progress_reports_done_and_rate() -> None:
    progress = BatchProgress(
        total=10, submitted=8, waiting=3, completed=4, failed=1, started_at=0.0, elapsed_s=2.0
    )
    assert progress.done == 5
    assert progress.rate_per_s == pytest.approx(2.5)


# -- the journal -----------------------------------------------------------------------------


def _record(unit: int, token: str) -> TokenRecord:
    return TokenRecord(unit=unit, indices=(unit,), token=token, at=1000.0 + unit)


async def test_a_new_journal_starts_with_a_header(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    journal = Journal.open(path, batch="abc")
    journal.close()
    (header,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert header["type"] == "header"
    assert header["batch"] == "abc"
    assert header["version"] == 2
    assert "units" not in header  # a lazily read input has no count up front


async def test_a_reopened_journal_gives_tokens_and_job_ids(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    journal = Journal.open(path, batch="abc")
    await journal.record_token(_record(0, "t0"))
    await journal.record_job(0, "t0", "job-0")
    await journal.record_token(_record(1, "t1"))
    journal.close()
    state = Journal.open(path, batch="abc").state
    assert state.job_ids == {0: "job-0"}
    assert state.tokens[1].token == "t1"
    assert state.tokens[1].at == 1001.0
    assert state.pending_units == [1]


async def test_a_journal_of_another_batch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    Journal.open(path, batch="abc").close()
    with pytest.raises(JournalError, match="different batch"):
        Journal.open(path, batch="xyz")


async def test_a_journal_of_another_release_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text('{"type":"header","version":1,"batch":"abc","units":3,"created_at":0}\n')
    with pytest.raises(JournalError, match=r"version 1, not 2.*new journal path"):
        Journal.open(path, batch="abc")


async def test_a_token_record_keeps_the_digest_of_its_circuits(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    journal = Journal.open(path, batch="abc")
    record = TokenRecord(unit=0, indices=(0, 1), token="t0", at=1.0, digest="d" * 32)
    await journal.record_token(record)
    journal.close()
    assert Journal.open(path, batch="abc").state.tokens == {0: record}


async def test_a_torn_last_line_is_dropped_and_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    journal = Journal.open(path, batch="abc")
    await journal.record_token(_record(0, "t0"))
    journal.close()
    with path.open("ab") as file:
        file.write(b'{"type":"job","unit":0,"tok')  # the crash came mid-write
    journal = Journal.open(path, batch="abc")
    assert journal.state.job_ids == {}
    await journal.record_job(0, "t0", "job-0")
    journal.close()
    assert Journal.open(path, batch="abc").state.job_ids == {0: "job-0"}


async def test_a_corrupt_journal_line_raises_journal_error(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    Journal.open(path, batch="abc").close()
    with path.open("ab") as file:
        file.write(b"not json\n")
    with pytest.raises(JournalError, match="unreadable"):
        Journal.open(path, batch="abc")


async def test_a_job_record_without_its_token_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    Journal.open(path, batch="abc").close()
    with path.open("ab") as file:
        file.write(b'{"type":"job","unit":0,"token":"t","job_id":"j"}\n')
    with pytest.raises(JournalError, match="no token record"):
        Journal.open(path, batch="abc")


async def test_concurrent_appends_share_syncs_and_all_land(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    journal = Journal.open(path, batch="abc")
    async with anyio.create_task_group() as group:
        for unit in range(200):
            group.start_soon(journal.record_token, _record(unit, f"t{unit}"))
    journal.close()
    assert journal.syncs < 200
    state = Journal.open(path, batch="abc").state
    assert sorted(state.tokens) == list(range(200))


def test_timestamps_in_job_lists_are_comparable_with_attempt_times() -> None:
    # The token sweep compares a job's submitted_at with a wall-clock attempt time.
    job = _job(JobStatus.READY, submitted_at=datetime(2025, 1, 1, tzinfo=UTC))
    assert job.submitted_at is not None
    assert job.submitted_at.timestamp() == 1735689600.0


# -- a whole pack, as sent ----------------------------------------------------------------


def _packed_bodies(circuits: list[Circuit]) -> list[bytes]:
    """The POST /jobs bodies a packed batch of ``circuits`` would send, as the client does."""
    from ionq_async._payload import job_payload

    units, invalid = plan_units(circuits, PackLimits())
    assert invalid == []
    metadata = {TOKEN_METADATA_KEY: "0" * 32}
    return [
        json.dumps(
            job_payload(unit_input(unit), shots=100, metadata=metadata),
            separators=(",", ":"),
            allow_nan=False,
        ).encode()
        for unit in units
    ]


def test_packs_of_long_native_gates_and_non_ascii_names_stay_under_ten_megabytes() -> None:
    # About 100 bytes a native gate, and names of non-ASCII letters that take 6 bytes a
    # letter as JSON: far from the gate limit, the byte limit decides.
    phases = (0.12345678901234567, 0.98765432109876543)
    circuits = []
    for index in range(200):
        circuit = Circuit(qubits=2, gateset="native", name="ü" * 8_000 + str(index))
        for _ in range(100):
            circuit.ms(phases, 0, 1, 0.24999999999999999)
        circuits.append(circuit)
    bodies = _packed_bodies(circuits)
    assert len(bodies) >= 2
    assert max(len(body) for body in bodies) <= 10_000_000
    # Full packs: nothing is split much earlier than the limit asks.
    assert max(len(body) for body in bodies) > 8_000_000


async def test_after_a_failed_write_no_append_claims_its_record_is_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal.open(tmp_path / "batch.jsonl", batch="abc")
    real_write = journal._write
    writes = 0

    def fail_first(data: bytes) -> None:
        nonlocal writes
        writes += 1
        if writes == 1:
            raise OSError(28, "No space left on device")
        real_write(data)

    monkeypatch.setattr(journal, "_write", fail_first)
    returned: list[int] = []
    failed: list[int] = []

    async def append(unit: int) -> None:
        try:
            await journal.record_token(_record(unit, f"t{unit}"))
        except JournalError:
            failed.append(unit)
        else:
            returned.append(unit)

    async with anyio.create_task_group() as group:
        for unit in range(50):
            group.start_soon(append, unit)
    journal.close()
    assert returned == []  # the first write held some of them: none may pass for durable
    assert sorted(failed) == list(range(50))


# -- the token resolver -------------------------------------------------------------------


async def test_finding_many_tokens_takes_one_sweep_and_leaves_nothing_pending() -> None:
    listed = [
        Job(id=f"job-{n}", status=JobStatus.READY, metadata={TOKEN_METADATA_KEY: f"t{n}"})
        for n in range(5)
    ]

    class Lister:
        calls = 0

        async def jobs(self, **_options: object) -> Any:
            Lister.calls += 1
            for job in listed:
                yield job

    resolver = TokenResolver(Lister(), backend=None)
    now = time.time()
    found = await resolver.find_all([("t3", now), ("t0", now), ("missing", now)])
    assert [job.id if job else None for job in found] == ["job-3", "job-0", None]
    assert (resolver.sweeps, Lister.calls) == (1, 1)
    # Nothing left over to drag a later sweep back to these attempts' times.
    assert resolver.outstanding == 0
    assert (await resolver.find("t4", now)).id == "job-4"  # type: ignore[union-attr]
    assert resolver.sweeps == 2
