"""The batch engine against the emulator over loopback: the runs the issue asks for."""

from __future__ import annotations

import gc
import json
import math
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)
from batch_helpers import (
    SetPollSchedules,
    all_batch_tasks_ended,
    batch_tasks,
    quiet,
    settle,
    when_submitted,
)

from ionq_async import _flow as flow
from ionq_async._retry import RetryPolicy
from ionq_async._transport import RateLimitEvent
from ionq_async.batch import TOKEN_METADATA_KEY, Outcome, PollSchedule
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.emulator import Emulator, EmulatorConfig, FaultConfig, ManualClock
from ionq_async.exceptions import JobFailed

# Predictions are capped too: the emulator predicts in the (often manual) time of its own
# clock, and waiting them out would sleep for seconds of real time.
FAST = PollSchedule(initial_s=0.005, factor=1.5, max_s=0.05, jitter=0.1, max_predicted_s=0.05)


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    # Keep the tests quick: poll every few milliseconds whatever the backend.
    poll_schedules(FAST, FAST)


def angle(index: int) -> float:
    return math.pi * (index + 1) / 1002


def distinct_circuit(index: int) -> Circuit:
    """Basis state ``index`` on qubits 0-9 and a rotation by a per-index angle on qubit 10."""
    circuit = Circuit(qubits=11, name=f"c{index}")
    for bit in range(10):
        if index >> bit & 1:
            circuit.x(bit)
    return circuit.ry(angle(index), 10)


def expected(index: int) -> dict[int, float]:
    theta = angle(index)
    return {index: math.cos(theta / 2) ** 2, index + 1024: math.sin(theta / 2) ** 2}


def too_wide(index: int) -> Circuit:
    """A circuit the 29-qubit simulator fails with NotEnoughQubits."""
    return Circuit(qubits=30, name=f"wide{index}").x(29)


def matches(outcome: Outcome) -> bool:
    probabilities = outcome.unwrap().probabilities
    want = expected(outcome.index)
    return probabilities.keys() == want.keys() and all(
        math.isclose(probabilities[k], v, abs_tol=1e-9) for k, v in want.items()
    )


async def resume_and_check_nothing_twice(
    emu: Emulator,
    clock: ManualClock,
    circuits: Sequence[Circuit | dict[str, Any]],
    journal: Path,
) -> None:
    """Run the batch again with its journal: every circuit ends matched, no job twice."""
    clock.advance(60.0)
    async with client_for(emu) as client:
        progress, submitted = when_submitted(len(circuits))
        run = client.run_many(circuits, journal=str(journal), progress=progress)
        async with run:
            await submitted.wait()
            clock.advance(60.0)  # the jobs created on resume finish too
            outcomes = [o async for o in run]
    tokens = Counter((job["metadata"] or {}).get(TOKEN_METADATA_KEY) for job in emu.jobs())
    assert sorted(o.index for o in outcomes) == list(range(len(circuits)))
    assert all(matches(o) for o in outcomes)
    assert emu.stats.jobs_created == len(circuits)
    assert set(tokens.values()) == {1}


def client_for(emu: Emulator, retry: RetryPolicy | None = None) -> Client:
    return Client(api_key=emu.api_key, base_url=emu.url, retry=retry or RetryPolicy.no_wait())


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(config=EmulatorConfig(time_scale=0.0)) as emulator:
        yield emulator


async def test_a_thousand_circuits_come_back_matched_to_their_distributions(
    emu: Emulator,
) -> None:
    circuits = [distinct_circuit(i) for i in range(1000)]
    async with client_for(emu) as client:
        outcomes = [o async for o in client.run_many(circuits, shots=100)]
    assert sorted(o.index for o in outcomes) == list(range(1000))
    assert all(o.circuit is circuits[o.index] and o.name == f"c{o.index}" for o in outcomes)
    assert all(matches(o) for o in outcomes)
    assert emu.stats.jobs_created == 1000
    # Status comes from GET /jobs?ids= lists, never job by job, and each result is fetched
    # once. How many list requests that takes depends on the machine's speed, so it is a
    # benchmark figure (benchmarks/bench_batch.py), not an assertion; the batching itself
    # is pinned by test_batch_units.py::test_one_poll_cycle_asks_about_every_due_job_...
    assert emu.stats.requests("GET", "/v0.4/jobs/{job_id}") == 0
    assert emu.stats.requests("GET", "/v0.4/jobs/{job_id}/results/probabilities") == 1000


async def test_completion_order_follows_durations_not_submission() -> None:
    clock = ManualClock()
    config = EmulatorConfig(simulator_queue_s=1.0, simulator_run_s=1.0)
    async with Emulator(config=config, clock=clock) as emu, client_for(emu) as client:
        # Odd circuits fail at once; even ones need two (manual) seconds.
        circuits = [too_wide(i) if i % 2 else distinct_circuit(i) for i in range(20)]
        order: list[int] = []
        async for outcome in client.run_many(circuits):
            order.append(outcome.index)
            if len(order) == 10:
                clock.advance(5.0)
    assert set(order[:10]) == set(range(1, 20, 2))
    assert set(order[10:]) == set(range(0, 20, 2))
    assert order != sorted(order)


async def test_as_completed_yields_fast_jobs_before_slow_ones_submitted_first() -> None:
    clock = ManualClock()
    async with Emulator(config=EmulatorConfig(), clock=clock) as emu, client_for(emu) as client:
        slow = [await client.submit(distinct_circuit(i), backend="qpu.forte-1") for i in range(3)]
        fast = [await client.submit(distinct_circuit(i)) for i in range(3, 6)]
        clock.advance(1.0)  # the simulator's jobs are done, the QPU's are queued
        order: list[int] = []
        async for outcome in client.as_completed([*slow, *fast]):
            order.append(outcome.index)
            if len(order) == 3:
                clock.advance(60.0)
    assert set(order[:3]) == {3, 4, 5}
    assert set(order[3:]) == {0, 1, 2}


async def test_one_failing_circuit_among_many_gives_one_error(emu: Emulator) -> None:
    circuits = [distinct_circuit(i) for i in range(200)]
    circuits[137] = too_wide(137)
    async with client_for(emu) as client:
        outcomes = {o.index: o async for o in client.run_many(circuits)}
    failed = outcomes.pop(137)
    assert isinstance(failed.error, JobFailed)
    assert failed.error.code == "NotEnoughQubits"
    assert failed.job is not None and failed.result is None
    assert all(matches(o) for o in outcomes.values())


# The rate limit of the 429 tests: a bucket of 20 requests refilled at 400 a second of the
# emulator's manual clock, so it refills only when a test moves that clock (a refused
# request is told Retry-After: 0.0025).
STORM = FaultConfig(rate_limit_per_s=400.0, rate_limit_burst=20)
STORM_RETRY = RetryPolicy(max_attempts=30, initial_backoff_s=0.01, max_backoff_s=0.2)


async def test_a_429_storm_ends_with_every_job_done_and_every_429_seen() -> None:
    clock = ManualClock()
    circuits = [distinct_circuit(i) for i in range(300)]
    async with (
        Emulator(config=EmulatorConfig(time_scale=0.0), faults=STORM, clock=clock) as emu,
        client_for(emu, STORM_RETRY) as client,
    ):

        def refill(_event: RateLimitEvent) -> None:
            # Time passes only once the client has been refused: each 429 it sees refills
            # the bucket (one burst's worth of manual time). So the 21st request is refused
            # whatever the machine's speed, and the batch cannot stall.
            clock.advance(STORM.burst / 400.0)

        client.transport.rate_limit_listeners.append(refill)
        outcomes = [o async for o in client.run_many(circuits, concurrency=64)]
        seen_by_client = client.stats.rate_limited
    assert len(outcomes) == 300
    assert all(matches(o) for o in outcomes)
    answered_429 = emu.stats.responses_by_status[429]
    assert answered_429 >= 1
    assert answered_429 == seen_by_client
    assert emu.stats.jobs_created == 300
    # How few 429s there are depends on the machine's speed (how many requests are in
    # flight when the bucket runs dry), so it is a benchmark figure
    # (benchmarks/bench_ratelimit.py), not an assertion.


async def test_dropped_connections_after_the_job_is_stored_leave_no_duplicates() -> None:
    faults = FaultConfig(p_drop_after_store=0.2, seed=7)
    async with Emulator(config=EmulatorConfig(time_scale=0.0), faults=faults) as emu:
        async with client_for(emu) as client:
            outcomes = [o async for o in client.run_many([distinct_circuit(i) for i in range(200)])]
        tokens = Counter((job["metadata"] or {}).get(TOKEN_METADATA_KEY) for job in emu.jobs())
    # Each of the 200 creations draws its drop from a seeded stream that the polls share,
    # so which draws it gets depends on timing; about 40 drops are expected and none at
    # all has a chance of 0.8 ** 200 (~4e-20) whatever the interleaving.
    assert emu.stats.dropped_connections > 0
    assert all(matches(o) for o in outcomes)
    assert len(tokens) == 200
    assert set(tokens.values()) == {1}


async def _run_until_submitted(
    client: Client, circuits: list[Circuit], journal: Path, count: int
) -> None:
    progress, submitted = when_submitted(count)
    run = client.run_many(circuits, journal=str(journal), concurrency=8, progress=progress)
    async with run:
        await submitted.wait()


async def test_a_stopped_batch_resumes_from_its_journal_without_duplicates(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    journal = tmp_path / "batch.jsonl"
    circuits = [distinct_circuit(i) for i in range(120)]
    async with Emulator(config=EmulatorConfig(), clock=clock) as emu:
        async with client_for(emu) as client:
            # "Crash" part way: the batch is stopped after 50 jobs exist.
            await _run_until_submitted(client, circuits, journal, 50)
        created_before = emu.stats.jobs_created
        # Part way, whatever the speed: the batch is stopped within a few passes of the
        # event loop (which the emulator shares) after the 50th job, with at most 8
        # creations in flight, and no job finishes on the manual clock meanwhile.
        assert 50 <= created_before < 120
        # A crash between sending a creation and recording its id: drop the last id.
        lines = journal.read_text().splitlines()
        last = max(i for i, line in enumerate(lines) if json.loads(line)["type"] == "job")
        journal.write_text("\n".join(lines[:last] + lines[last + 1 :]) + "\n")
        await resume_and_check_nothing_twice(emu, clock, circuits, journal)


async def test_breaking_out_leaves_nothing_running_and_cancel_remote_cancels_jobs() -> None:
    clock = ManualClock()
    async with Emulator(config=EmulatorConfig(), clock=clock) as emu:
        async with client_for(emu) as client:
            progress, submitted = when_submitted(60)
            run = client.run_many(
                [distinct_circuit(i) for i in range(60)], cancel_remote=True, progress=progress
            )
            async with run:
                await submitted.wait()
            await settle()
            assert batch_tasks() == []
            await quiet()
            requests = emu.stats.requests_total
            await quiet()
            assert emu.stats.requests_total == requests
        assert emu.stats.requests_total == requests  # nothing either while the client closed
        statuses = Counter(job["status"] for job in emu.jobs())
    assert statuses == {"canceled": 60}
    assert emu.stats.requests("PUT", "/v0.4/jobs/status/cancel") == 1


async def test_a_dropped_iterator_stops_its_work(emu: Emulator) -> None:
    async with client_for(emu) as client:
        async for _ in client.run_many([distinct_circuit(i) for i in range(300)]):
            running = batch_tasks()
            break
        [supervisor] = [t for t in running if getattr(t.get_coro(), "__name__", "") == "_supervise"]
        gc.collect()  # in case a reference cycle still holds the dropped handle
        await all_batch_tasks_ended()
        # Stopped, not run to its end: the batch's task was cancelled.
        assert supervisor.cancelled()
        await quiet()
        requests = emu.stats.requests_total
        await quiet()
        assert emu.stats.requests_total == requests
    assert emu.stats.requests_total == requests


async def test_cancelling_the_consuming_task_stops_within_a_second(emu: Emulator) -> None:
    async with client_for(emu) as client:
        ten_seen = anyio.Event()

        async def consume() -> None:
            seen = 0
            async for _ in client.run_many([distinct_circuit(i) for i in range(500)]):
                seen += 1
                if seen == 10:
                    ten_seen.set()

        async with anyio.create_task_group() as group:
            group.start_soon(consume)
            await ten_seen.wait()
            group.cancel_scope.cancel()
        assert batch_tasks() == []
        await quiet()
        requests = emu.stats.requests_total
        await quiet()
        assert emu.stats.requests_total == requests
    assert emu.stats.requests_total == requests


async def test_pack_gives_the_same_outcomes_as_one_job_per_circuit(emu: Emulator) -> None:
    circuits = [distinct_circuit(i) for i in range(300)]
    async with client_for(emu) as client:
        plain = {o.index: o async for o in client.run_many(circuits)}
        packed = {o.index: o async for o in client.run_many(circuits, pack=True)}
    assert plain.keys() == packed.keys() == set(range(300))
    for index in range(300):
        assert matches(packed[index]) and matches(plain[index])
        assert packed[index].name == plain[index].name
        assert packed[index].circuit is plain[index].circuit
    parents = [job for job in emu.jobs() if job["type"] == "ionq.multi-circuit.v1"]
    assert len(parents) == 1


async def test_packs_split_at_the_circuit_limit(emu: Emulator) -> None:
    from ionq_async.batch import PackLimits

    circuits = [distinct_circuit(i) for i in range(25)]
    async with client_for(emu) as client:
        packed = {
            o.index: o async for o in client.run_many(circuits, pack=PackLimits(max_circuits=10))
        }
    assert all(matches(o) for o in packed.values())
    parents = [job for job in emu.jobs() if job["type"] == "ionq.multi-circuit.v1"]
    assert sorted(len(p["child_job_ids"]) for p in parents) == [5, 10, 10]


async def test_a_failing_circuit_in_a_pack_fails_alone(emu: Emulator) -> None:
    circuits = [distinct_circuit(i) for i in range(300)]
    circuits[42] = too_wide(42)
    async with client_for(emu) as client:
        plain = {o.index: o async for o in client.run_many(circuits)}
        packed = {o.index: o async for o in client.run_many(circuits, pack=True)}
    assert plain.keys() == packed.keys() == set(range(300))
    for outcome in (plain.pop(42), packed.pop(42)):
        assert isinstance(outcome.error, JobFailed)
        assert outcome.error.code == "NotEnoughQubits"
    assert all(matches(o) for o in packed.values())
    assert all(matches(o) for o in plain.values())


async def test_packed_results_have_their_own_circuits_width_and_child_job(emu: Emulator) -> None:
    bell = Circuit(qubits=2, name="bell").h(0).cnot(0, 1)
    ghz = Circuit(qubits=10, name="ghz").h(0)
    for target in range(1, 10):
        ghz.cnot(target - 1, target)
    async with client_for(emu) as client:
        plain = {o.index: o async for o in client.run_many([bell, ghz], shots=1000)}
        packed = {o.index: o async for o in client.run_many([bell, ghz], shots=1000, pack=True)}
    for index in (0, 1):
        counts = packed[index].unwrap().bitstring_counts()
        assert counts == plain[index].unwrap().bitstring_counts()
    assert packed[0].unwrap().bitstring_counts() == {"00": 500, "11": 500}
    parent = packed[0].job
    assert parent is not None
    [stored] = [job for job in emu.jobs() if job["id"] == parent.id]
    children = [packed[i].unwrap().job for i in (0, 1)]
    assert [child.id for child in children] == stored["child_job_ids"]
    assert all(child.parent_job_id == parent.id for child in children)


async def test_a_429_storm_shrinks_the_limit_of_creations_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # (How it grows back is specified with a fake clock in tests/test_batch_units.py.)
    # The throttle's clock stands still, so its window of "the last second" holds every
    # request of the run: whether 429s are a large enough share (>= 20 % of >= 50
    # requests) does not depend on how fast this machine sends them. The client makes its
    # throttle with the clock of the module that defines it.
    monkeypatch.setattr(flow, "time", SimpleNamespace(monotonic=lambda: 0.0))
    # Nothing moves the emulator's clock: after the burst of 20 every request is refused.
    clock = ManualClock()
    async with (
        Emulator(config=EmulatorConfig(), faults=STORM, clock=clock) as emu,
        client_for(emu, STORM_RETRY) as client,
    ):
        run = client.run_many([distinct_circuit(i) for i in range(300)], concurrency=64)
        assert run.concurrency == 64
        shrunk = anyio.Event()

        def on_rate_limited(_event: object) -> None:
            # Told of every 429 (after the client's throttle, once the batch runs).
            if run.concurrency < 64:
                shrunk.set()

        client.transport.rate_limit_listeners.append(on_rate_limited)
        async with run:
            with anyio.fail_after(30):
                await shrunk.wait()
            shrunk_to = run.concurrency
    assert shrunk_to < 64


CRASHING_BATCH = """
import asyncio, json, sys, time
from ionq_async.client import Client

async def main(url, key, circuits_path, journal_path):
    circuits = json.loads(open(circuits_path).read())

    def progress(state):
        if state.submitted >= 30:
            print("30 submitted", flush=True)
            # Freeze the event loop mid-run until the test kills us: no request goes out
            # after this line, whatever the speed of either process.
            time.sleep(600)

    async with Client(api_key=key, base_url=url) as client:
        async for _ in client.run_many(circuits, journal=journal_path, concurrency=8,
                                       progress=progress):
            pass

asyncio.run(main(*sys.argv[1:]))
"""


async def test_a_batch_killed_mid_run_resumes_from_its_journal_without_duplicates(
    tmp_path: Path,
) -> None:
    import signal
    import sys

    clock = ManualClock()  # no job finishes while the first process lives
    journal = tmp_path / "batch.jsonl"
    circuits = [distinct_circuit(i).to_json() for i in range(120)]
    circuits_path = tmp_path / "circuits.json"
    circuits_path.write_text(json.dumps(circuits))
    async with Emulator(config=EmulatorConfig(), clock=clock) as emu:
        command = [sys.executable, "-c", CRASHING_BATCH, emu.url, emu.api_key,
                   str(circuits_path), str(journal)]  # fmt: skip
        async with await anyio.open_process(command) as process:
            assert process.stdout is not None
            try:
                with anyio.fail_after(30):
                    line = await process.stdout.receive()
                assert line.startswith(b"30 submitted")
            finally:
                process.send_signal(signal.SIGKILL)  # no clean-up of any kind
                await process.wait()
        created_before = emu.stats.jobs_created
        # The child froze right after its 30th job was recorded; at most its other
        # creations in flight then (concurrency=8) may still have been stored.
        assert 30 <= created_before <= 30 + 8
        await resume_and_check_nothing_twice(emu, clock, circuits, journal)


@pytest.mark.parametrize("pack", [False, True])
async def test_the_handle_names_the_job_of_every_circuit(emu: Emulator, pack: bool) -> None:
    circuits = [distinct_circuit(i) for i in range(12)]
    seen: dict[int, str] = {}
    outcomes = []
    async with client_for(emu) as client, client.run_many(circuits, pack=pack) as run:
        async for outcome in run:
            # While the batch runs, the handle names the job of each circuit still waiting.
            seen.update(run.job_ids)
            outcomes.append(outcome)
        # Finished circuits are their outcomes' business: the batch keeps none of them.
        assert run.job_ids == {}
    assert all(seen.get(o.index, o.job.id) == o.job.id for o in outcomes if o.job is not None)
    job_ids = {o.index: o.job.id for o in outcomes if o.job is not None}
    assert sorted(job_ids) == list(range(12))
    # Packed circuits share their parent's id; unpacked ones have one job each.
    assert len(set(job_ids.values())) == (1 if pack else 12)
    if pack:
        assert set(seen) == set(range(12))  # the pack's other circuits still waited
    top_level = {job["id"] for job in emu.jobs() if not job.get("parent_job_id")}
    assert set(job_ids.values()) == top_level
