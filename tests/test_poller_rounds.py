"""The poller's rounds: when a job is watched, what one request carries, how often rounds come.

These read the poller's schedule decisions (due times, the entries a round takes) rather
than waiting for them; nothing here sleeps.
"""

from __future__ import annotations

import time

import anyio
import anyio.lowlevel
import pytest
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)

from ionq_async._batch.poller import MAX_IDS_PER_POLL, Poller
from ionq_async._batch.values import PollSchedule
from ionq_async._flow import Throttle
from ionq_async.client import Client
from ionq_async.exceptions import IonQError
from ionq_async.models import Job, JobPage, JobStatus

SCHEDULE = PollSchedule(initial_s=1.0, factor=1.5, max_s=15.0, jitter=0.0, max_predicted_s=300.0)


def _predicted(job_id: str, seconds: float, status: JobStatus = JobStatus.READY) -> Job:
    """A job predicted to end ``seconds`` from now (negative: that long ago)."""
    return Job(
        id=job_id,
        status=status,
        predicted_wait_time_ms=0.0 if seconds >= 0 else seconds * 1000.0 - 10.0,
        predicted_execution_duration_ms=seconds * 1000.0 if seconds >= 0 else 10.0,
    )


def _poller(client: Client, schedule: PollSchedule = SCHEDULE, **callbacks: object) -> Poller:
    def on_terminal(key: int, job: Job) -> None:
        pytest.fail(f"job {key} ended: {job!r}")

    def on_error(key: int, error: IonQError) -> None:
        pytest.fail(f"job {key}: {error!r}")

    return Poller(
        client,
        on_terminal=callbacks.get("on_terminal", on_terminal),  # type: ignore[arg-type]
        on_error=callbacks.get("on_error", on_error),  # type: ignore[arg-type]
        throttle=Throttle(client.stats, [], open_tokens=64),
        schedule=schedule,
    )


@pytest.fixture
def client() -> Client:
    return Client(api_key="unused", base_url="http://127.0.0.1:9/v0.4")


async def test_a_job_is_left_alone_until_a_quarter_of_its_predicted_duration_before_its_end(
    client: Client,
) -> None:
    # Before: asked about just after its predicted end (105 s), so a job ending a little
    # early (predictions are off by tens of percent) waited until then.
    poller = _poller(client)
    now = anyio.current_time()
    poller.add(0, "long", _predicted("long", 100.0))
    (entry,) = (poller._peek(),)
    assert entry is not None
    assert entry.due - now == pytest.approx(75.0, abs=0.5)
    assert poller.watched == 0


async def test_near_its_predicted_end_a_job_is_watched_every_round(client: Client) -> None:
    poller = _poller(client)
    now = anyio.current_time()
    poller.add(0, "soon", _predicted("soon", 0.5))  # within a quarter of its duration
    entry = poller._peek()
    assert entry is not None
    assert poller.watched == 1
    # One watched job: rounds stretch to watch_max_s (5 x initial_s by default).
    assert entry.due - now == pytest.approx(5.0, abs=0.5)


async def test_rounds_come_every_initial_s_while_many_jobs_are_watched(client: Client) -> None:
    poller = _poller(client)
    now = anyio.current_time()
    for key in range(60):
        poller.add(key, f"j{key}", _predicted(f"j{key}", 0.5))
    poller.add(100, "far", _predicted("far", 1000.0))
    assert poller.watched == 60
    # The first few were scheduled while few jobs were watched (5 s); the others 1 s out.
    soonest = poller._peek()
    assert soonest is not None
    assert soonest.due - now == pytest.approx(SCHEDULE.initial_s, abs=0.5)
    # That round asks about every watched job, whenever each was due, and fills the rest
    # of its request with the job due soonest after them.
    taken = poller._take_due(soonest.due)
    assert sorted(entry.key for entry in taken) == [*range(60), 100]


def test_the_round_interval_grows_as_fewer_jobs_are_watched() -> None:
    intervals = [SCHEDULE.watch_interval_s(n) for n in (500, 50, 8, 2, 1, 0)]
    assert intervals == pytest.approx([1.0, 1.0, 2.5, 5.0, 5.0, 5.0])
    wide = PollSchedule(initial_s=1.0, factor=1.5, max_s=15.0, watch_max_s=2.0)
    assert wide.watch_interval_s(1) == pytest.approx(2.0)


async def test_an_overdue_job_is_asked_about_less_often_the_later_it_is(client: Client) -> None:
    # Before: past its predicted end a job fell back to the growing interval, so a job a
    # second late could wait 15 s; now the wait is a tenth of how late it is.
    poller = _poller(client)
    now = anyio.current_time()
    for key in range(60):  # enough watched jobs that rounds come every initial_s
        poller.add(key, f"w{key}", _predicted(f"w{key}", 0.5))
    poller.add(100, "late", _predicted("late", -80.0, JobStatus.STARTED))
    late = poller._entries["late"]
    assert late.watching
    assert late.due - now == pytest.approx(8.0, abs=0.5)


async def test_a_round_fills_its_request_with_the_jobs_due_soonest(client: Client) -> None:
    # Before: a round asked only about the jobs due, one id in a request with room for 100.
    poller = _poller(client)
    poller.add(0, "due-now", None, immediate=True)
    for key in range(1, 200):
        poller.add(key, f"later-{key}", _predicted(f"later-{key}", 100.0 + key))
    taken = poller._take_due(anyio.current_time())
    assert len(taken) == MAX_IDS_PER_POLL
    assert taken[0].job_id == "due-now"
    # The spare room goes to the jobs due soonest.
    assert [entry.job_id for entry in taken[1:]] == [f"later-{k}" for k in range(1, 100)]


async def test_a_server_that_ignores_ids_gets_no_fill(client: Client) -> None:
    poller = _poller(client)
    poller.ids_supported = False  # each job would cost a request of its own
    poller.add(0, "due-now", None, immediate=True)
    for key in range(1, 20):
        poller.add(key, f"later-{key}", _predicted(f"later-{key}", 100.0))
    taken = poller._take_due(anyio.current_time())
    assert [entry.job_id for entry in taken] == ["due-now"]


async def test_watched_jobs_are_counted_until_they_end(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = {"a": [0.001, None], "b": [-1.0, 0.001, None]}  # seconds left; None: completed

    async def job_page(*, ids: list[str], limit: int) -> JobPage:
        jobs = []
        for job_id in ids:
            left = answers[job_id].pop(0) if len(answers[job_id]) > 1 else None
            if left is None:
                jobs.append(Job(id=job_id, status=JobStatus.COMPLETED))
            else:
                status = JobStatus.STARTED if left < 0 else JobStatus.READY
                jobs.append(_predicted(job_id, left, status))
        return JobPage(jobs=tuple(jobs))

    monkeypatch.setattr(client, "job_page", job_page)
    ended: list[int] = []
    done = anyio.Event()
    seen_watching: list[int] = []

    def on_terminal(key: int, job: Job) -> None:
        ended.append(key)
        if len(ended) == 2:
            done.set()

    fast = PollSchedule(initial_s=0.001, factor=1.0, max_s=0.001, jitter=0.0, overdue_factor=0.0)
    poller = _poller(client, fast, on_terminal=on_terminal)
    poller.add(0, "a", None, immediate=True)
    poller.add(1, "b", None, immediate=True)
    async with anyio.create_task_group() as group:
        group.start_soon(poller.run)
        with anyio.fail_after(30):
            while not done.is_set():
                seen_watching.append(poller.watched)
                await anyio.lowlevel.checkpoint()
        group.cancel_scope.cancel()
    assert sorted(ended) == [0, 1]
    assert max(seen_watching) >= 1
    assert poller.watched == 0
    assert len(poller) == 0


async def test_a_zero_prediction_cap_never_polls_in_a_busy_loop(client: Client) -> None:
    capped = PollSchedule(initial_s=1.0, factor=1.5, max_s=15.0, max_predicted_s=0.0)
    poller = _poller(client, capped)
    now = anyio.current_time()
    poller.add(0, "long", _predicted("long", 100.0))
    entry = poller._peek()
    assert entry is not None
    assert entry.due - now >= capped.initial_s - 0.01


async def test_the_poller_keeps_the_times_of_a_jobs_answer_not_the_answer(
    client: Client,
) -> None:
    # Before: each waiting job's whole last answer (metadata, timestamps, settings: some
    # 1.6 KB parsed) was kept until the job ended; 100,000 waiting jobs held 160 MB of them.
    import tracemalloc
    from datetime import UTC, datetime

    poller = _poller(client)
    start = datetime(2026, 12, 6, tzinfo=UTC)

    def answer(key: int) -> Job:
        return Job(
            id=f"{key:036d}",
            status=JobStatus.READY,
            type="ionq.circuit.v1",
            backend="qpu.aria-1",
            name=f"circuit {key}",
            submitter_id="someone",
            project_id="a-project",
            metadata={"ionq_async_token": f"{key:032x}", "readout": f"[{key}]"},
            submitted_at=start,
            started_at=None,
            predicted_wait_time_ms=1_000_000.0,
            predicted_execution_duration_ms=60_000.0 + key,
            shots=1000,
            settings={"error_mitigation": {"debiasing": False}},
        )

    ids = [f"{key:036d}" for key in range(2_000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for key, job_id in enumerate(ids):
            poller.add(key, job_id, answer(key))
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(poller) == 2_000
    per_job = kept / 2_000
    assert per_job < 700, f"{per_job:.0f} bytes kept per waiting job"
    entry = poller._entries[ids[7]]
    assert entry.times is not None
    assert entry.times.end == pytest.approx(time.time() + 1_000 + 60.007, abs=5)


# -- answers that do not behave (found in review) ------------------------------------------


async def test_a_prediction_that_never_counts_down_is_treated_as_late(client: Client) -> None:
    # A queued job whose answers say "10 s left" again and again stayed watched and was
    # asked about every round, for as long as the queue lasted (19.8 requests a job).
    poller = _poller(client)
    for key in range(60):  # rounds every initial_s
        poller.add(key, f"w{key}", _predicted(f"w{key}", 0.5))
    poller.add(100, "stuck", _predicted("stuck", 10.0))
    stuck = poller._entries["stuck"]
    now = anyio.current_time()
    stuck.first_end = now - 60.0  # first predicted to end 60 s ago; it still says 10 s
    poller._update(stuck, _predicted("stuck", 10.0))
    assert stuck.watching
    assert stuck.gap == pytest.approx(6.0, abs=0.1)  # a tenth of how late it is
    soonest = poller._peek()
    assert soonest is not None and soonest.job_id != "stuck"
    taken = {entry.job_id for entry in poller._take_due(soonest.due)}
    assert "w0" in taken
    assert "stuck" not in taken


async def test_a_job_added_without_an_answer_takes_its_backends_schedule(
    monkeypatch: pytest.MonkeyPatch, client: Client
) -> None:
    # Resumed jobs and ids given to as_completed come without a Job: they kept the
    # simulator's schedule (rounds every 0.1 s) even on a QPU.
    from ionq_async._batch import values

    poller = Poller(
        client,
        on_terminal=lambda key, job: None,
        on_error=lambda key, error: None,
        throttle=Throttle(client.stats, [], open_tokens=64),
    )
    poller.add(0, "resumed", None, immediate=True)
    entry = poller._entries["resumed"]
    assert entry.schedule is values.SIMULATOR_SCHEDULE
    answer = Job(
        id="resumed",
        status=JobStatus.READY,
        backend="qpu.forte-1",
        predicted_wait_time_ms=0.0,
        predicted_execution_duration_ms=600_000.0,
    )
    poller._update(entry, answer)
    assert entry.schedule is values.QPU_SCHEDULE


async def test_a_server_that_ignores_ids_gets_each_jobs_own_schedule(client: Client) -> None:
    # Each ask is a request of its own there: watching in rounds cost 3x the requests.
    poller = _poller(client)
    poller.ids_supported = False
    now = anyio.current_time()
    poller.add(0, "soon", _predicted("soon", 0.5))
    entry = poller._entries["soon"]
    assert not entry.watching and poller.watched == 0
    # Just after its predicted end (the single-job rule), not at a round's pace.
    assert entry.due - now == pytest.approx(max(SCHEDULE.initial_s, 0.5 * 1.05), abs=0.1)


async def test_adding_a_job_again_replaces_it_without_leaving_it_watched(
    client: Client,
) -> None:
    poller = _poller(client)
    poller.add(0, "a", _predicted("a", 0.5))
    assert poller.watched == 1
    poller.add(1, "a", _predicted("a", 100.0))
    assert poller.watched == 0
    assert len(poller) == 1


async def test_a_job_given_up_on_gets_no_second_outcome(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After an outage gave up on every job, a late "not found" for one of them reported
    # it again (the engine then looked up a unit already finished).
    from ionq_async.exceptions import NotFoundError

    errors: list[int] = []
    poller = _poller(client, on_error=lambda key, error: errors.append(key))
    poller.add(0, "gone", None)
    entry = poller._entries["gone"]
    poller._entries.clear()  # what giving up does

    async def get_job(job: object) -> Job:
        raise NotFoundError("no such job", status=404)

    monkeypatch.setattr(client, "get_job", get_job)
    await poller._poll_single(entry)
    assert errors == []


async def test_a_job_that_queued_longer_than_predicted_is_not_late_once_it_runs(
    client: Client,
) -> None:
    # Its first prediction (10 s of queue) had passed long before it started; each answer
    # while it runs predicts its end well, yet it was taken for late for its whole run and
    # asked about every 10-15 s (lag p95 14 s).
    poller = _poller(client)
    poller.add(0, "slow-queue", _predicted("slow-queue", 10.0))
    entry = poller._entries["slow-queue"]
    entry.first_end = anyio.current_time() - 100.0  # it has queued 100 s past that
    poller._update(entry, _predicted("slow-queue", 300.0, JobStatus.STARTED))
    assert entry.gap == 0.0
    assert not entry.watching  # 300 s to go: watched from a quarter before its end
    assert entry.due - anyio.current_time() > 100.0


async def test_after_giving_up_new_jobs_get_their_own_patience(client: Client) -> None:
    # After an outage gave up on every job, a job added later was given up on at its
    # first failed poll: the outage's start was still on record.
    from ionq_async.exceptions import ServerError

    errors: list[int] = []
    poller = _poller(client, on_error=lambda key, error: errors.append(key))
    poller.max_failing_s = 1000.0
    poller.add(0, "old", None)
    poller._failing_since = anyio.current_time() - 2000.0  # failing for 2,000 s
    poller._failed(ServerError("down", status=503), [poller._entries["old"]])
    assert errors == [0]
    poller.add(1, "new", None)
    poller._failed(ServerError("down", status=503), [poller._entries["new"]])
    assert errors == [0]
    assert len(poller) == 1


async def test_watched_jobs_skipped_by_the_fill_stay_scheduled(client: Client) -> None:
    poller = _poller(client)
    for key in range(60):
        poller.add(key, f"w{key}", _predicted(f"w{key}", 0.5))
    poller.add(100, "due-now", None, immediate=True)
    now = anyio.current_time()
    taken = poller._take_due(now)
    assert [entry.job_id for entry in taken] == ["due-now"]  # watched ones asked just now
    # Every job not taken still has its place in the schedule (a watched job popped by the
    # fill and dropped would never be asked about again).
    scheduled = {job_id for due, job_id in poller._heap if poller._entries[job_id].due == due}
    assert scheduled >= {f"w{key}" for key in range(60)}
    for key in range(60):
        poller._forget(poller._entries[f"w{key}"])
    assert poller._on_time == 0
    assert poller._round_s(SCHEDULE) == pytest.approx(5.0)


async def test_a_job_queued_twice_is_asked_about_once_a_round(client: Client) -> None:
    # Two heap items for one job at the same time (it was added again at that instant)
    # put its id twice in one request (and, without ids, cost two requests).
    poller = _poller(client)
    poller.add(0, "a", None, immediate=True)
    entry = poller._entries["a"]
    poller._schedule(entry, entry.due)  # a second item, same due
    taken = poller._take_due(anyio.current_time())
    assert [e.job_id for e in taken] == ["a"]
