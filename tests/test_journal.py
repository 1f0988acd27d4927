"""The batch journal's guards, against the emulator over loopback.

One run at a time: a journal in use is locked, and a second run of the batch (another
task, another process) is refused with a JournalError before it sends anything. Every
failure of the file itself (a folder, a missing folder, a full or read-only disk, a write
that fails later) is a JournalError naming the path, and no job is sent without its token
on disk.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import os
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)
from batch_helpers import SetPollSchedules, when_submitted

from ionq_async import BatchProgress, BatchRun, Circuit, Client, JournalError, Outcome
from ionq_async._journal import Journal, TokenRecord
from ionq_async._retry import RetryPolicy
from ionq_async.batch import TOKEN_METADATA_KEY, PollSchedule
from ionq_async.emulator import Emulator, EmulatorConfig, ManualClock
from ionq_async.exceptions import AuthenticationError

FAST = PollSchedule(initial_s=0.005, factor=1.5, max_s=0.05, jitter=0.1, max_predicted_s=0.05)

COUNT = 30


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    # Resumed runs wait for jobs: poll every few milliseconds, not on the real schedule.
    poll_schedules(FAST, FAST)


def basis_circuits(count: int = COUNT) -> list[Circuit]:
    """Circuits whose only outcome is their own index."""
    circuits = []
    for index in range(count):
        circuit = Circuit(qubits=6, name=f"c{index}")
        for bit in range(6):
            if index >> bit & 1:
                circuit.x(bit)
        circuits.append(circuit)
    return circuits


def all_matched(outcomes: list[Outcome], count: int = COUNT) -> bool:
    return sorted(o.index for o in outcomes) == list(range(count)) and all(
        o.unwrap().probabilities == {o.index: 1.0} for o in outcomes
    )


def client_for(emu: Emulator, api_key: str | None = None) -> Client:
    return Client(api_key=api_key or emu.api_key, base_url=emu.url, retry=RetryPolicy.no_wait())


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    """An emulator whose jobs finish at once; it accepts one key only."""
    config = EmulatorConfig(time_scale=0.0)
    async with Emulator(config=config, api_keys=["the-emulators-key"]) as emulator:
        yield emulator


WAIT_S = 30.0
"""How long a test waits for a worker thread's signal before calling it a hang."""


def is_file(fd: int, path: Path) -> bool:
    """Whether ``fd`` is open on the file at ``path``."""
    return path.exists() and os.path.samestat(os.fstat(fd), path.stat())


def journal_tokens(path: Path) -> set[str]:
    lines = path.read_text().splitlines()
    return {record["token"] for record in map(json.loads, lines) if record["type"] == "token"}


def emulator_tokens(emu: Emulator) -> Counter[str]:
    return Counter((job["metadata"] or {}).get(TOKEN_METADATA_KEY) for job in emu.jobs())


# ---------------------------------------------------------------------------------------
# One run at a time.


async def test_two_runs_started_at_once_with_one_journal_submit_each_circuit_once(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "batch.jsonl"
    circuits = basis_circuits()
    clock = ManualClock()  # no job finishes until the clock moves: both runs overlap
    async with Emulator(config=EmulatorConfig(), clock=clock) as emu, client_for(emu) as client:
        outcomes: list[Outcome] = []
        refused: list[JournalError] = []
        submitted = [0, 0]
        decided = anyio.Event()

        def decide() -> None:
            # One run has every job and the other was refused, or (the bug) both have all.
            if max(submitted) == COUNT and (refused or min(submitted) == COUNT):
                decided.set()

        def progress_of(number: int) -> Callable[[BatchProgress], None]:
            def progress(state: BatchProgress) -> None:
                submitted[number] = state.submitted
                decide()

            return progress

        async def consume(run: BatchRun) -> None:
            try:
                async for outcome in run:
                    outcomes.append(outcome)
            except JournalError as error:
                refused.append(error)
                decide()

        runs = [
            client.run_many(circuits, journal=str(journal), progress=progress_of(number))
            for number in range(2)
        ]
        async with anyio.create_task_group() as group:
            for run in runs:
                group.start_soon(consume, run)
            await decided.wait()
            clock.advance(60.0)  # the winner's jobs finish
    assert len(refused) == 1
    assert str(journal) in str(refused[0])
    assert "in use" in str(refused[0])
    assert all_matched(outcomes)
    assert emu.stats.jobs_created == COUNT


async def stop_once_submitted(client: Client, journal: Path) -> None:
    progress, submitted = when_submitted(COUNT)
    async with client.run_many(basis_circuits(), journal=str(journal), progress=progress):
        await submitted.wait()


async def complete(client: Client, journal: Path) -> None:
    assert all_matched(await client.gather(basis_circuits(), journal=str(journal)))


async def fail_on_the_key(client: Client, journal: Path) -> None:
    with pytest.raises(AuthenticationError):
        await client.gather(basis_circuits(), journal=str(journal))


@pytest.mark.parametrize(
    "first_run",
    [complete, stop_once_submitted, fail_on_the_key],
    ids=["completed", "stopped", "failed"],
)
async def test_once_a_run_has_ended_its_journal_resumes_in_the_same_process(
    emu: Emulator,
    tmp_path: Path,
    first_run: Callable[[Client, Path], Awaitable[None]],
) -> None:
    journal = tmp_path / "batch.jsonl"
    key = "not-the-emulators-key" if first_run is fail_on_the_key else None
    async with client_for(emu, key) as client:
        await first_run(client, journal)
    async with client_for(emu) as client:
        outcomes = await client.gather(basis_circuits(), journal=str(journal))
    assert all_matched(outcomes)
    assert emu.stats.jobs_created == COUNT
    assert set(emulator_tokens(emu).values()) == {1}


# The child runs the same batch with the same journal against the test's emulator, says
# so once every job is created (its journal is open and locked), and waits to be killed.
HOLDER = """
import asyncio, json, sys

from ionq_async import Client

async def main() -> None:
    url, journal, circuits = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    submitted = asyncio.Event()

    def progress(state):
        if state.submitted == len(circuits):
            submitted.set()

    async with Client(base_url=url) as client:
        async with client.run_many(circuits, journal=journal, progress=progress):
            await submitted.wait()
            print("holding", flush=True)
            await asyncio.Event().wait()  # until killed

asyncio.run(main())
"""


async def test_a_journal_held_by_another_process_is_refused_and_resumes_once_it_is_gone(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "batch.jsonl"
    circuits = basis_circuits()
    clock = ManualClock()  # the child's jobs stay unfinished while it holds the journal
    async with Emulator(config=EmulatorConfig(), clock=clock) as emu:
        batch_json = json.dumps([circuit.to_json() for circuit in circuits])
        async with await anyio.open_process(
            [sys.executable, "-c", HOLDER, emu.url, str(journal), batch_json],
            stderr=None,  # the child's errors go to the test's captured output
            env={**os.environ, "IONQ_API_KEY": emu.api_key},
        ) as child:
            try:
                assert child.stdout is not None
                with anyio.fail_after(WAIT_S):  # a hang fails the test; no timing is relied on
                    line = await BufferedByteReceiveStream(child.stdout).receive_until(b"\n", 100)
                assert line == b"holding"
                assert emu.stats.jobs_created == COUNT
                async with client_for(emu) as client:
                    # (Without the lock this run would wait for the child's jobs for ever.)
                    with anyio.fail_after(WAIT_S), pytest.raises(JournalError) as refused:
                        await client.gather(circuits, journal=str(journal))
                assert "in use" in str(refused.value)
                assert str(journal) in str(refused.value)
                assert emu.stats.jobs_created == COUNT
            finally:
                child.kill()
                await child.wait()
        # The OS dropped the dead child's lock: the batch resumes and sends nothing again.
        clock.advance(60.0)
        async with client_for(emu) as client:
            outcomes = await client.gather(circuits, journal=str(journal))
    assert all_matched(outcomes)
    assert emu.stats.jobs_created == COUNT


async def test_a_run_cancelled_while_its_journal_opens_does_not_keep_the_lock(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "batch.jsonl"
    # Threading events: the open runs in a worker thread that the cancelled run has left.
    syncing = threading.Event()
    may_sync = threading.Event()
    unlocked = threading.Event()
    real_fsync, real_flock = os.fsync, fcntl.flock

    def held_fsync(fd: int) -> None:
        # The new journal's header is not synced until the run that opens it is gone.
        if is_file(fd, journal) and not may_sync.is_set():
            syncing.set()
            may_sync.wait(WAIT_S)
        real_fsync(fd)

    def watched_flock(fd: int, operation: int) -> None:
        real_flock(fd, operation)
        if operation == fcntl.LOCK_UN and is_file(fd, journal):
            unlocked.set()

    monkeypatch.setattr(os, "fsync", held_fsync)
    monkeypatch.setattr(fcntl, "flock", watched_flock)
    async with client_for(emu) as client:
        async with client.run_many(basis_circuits(), journal=str(journal)):
            assert await anyio.to_thread.run_sync(syncing.wait, WAIT_S)
        # The run is closed (cancelled) while its journal is still opening.
        may_sync.set()
        assert await anyio.to_thread.run_sync(unlocked.wait, WAIT_S)
        outcomes = await client.gather(basis_circuits(), journal=str(journal))
    assert all_matched(outcomes)
    assert emu.stats.jobs_created == COUNT


async def test_closing_a_journal_under_a_cancelled_tasks_write_waits_for_that_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "batch.jsonl"
    journal = Journal.open(path, batch="abc")
    writing, may_write, unlocked = threading.Event(), threading.Event(), threading.Event()
    write_errors: list[OSError] = []
    real_write, real_flock = os.write, fcntl.flock

    def held_write(fd: int, data: bytes) -> int:
        if not is_file(fd, path):
            return real_write(fd, data)
        writing.set()
        may_write.wait(WAIT_S)
        try:
            return real_write(fd, data)
        except OSError as error:  # a descriptor closed (or reused) under the write
            write_errors.append(error)
            raise

    def watched_flock(fd: int, operation: int) -> None:
        real_flock(fd, operation)
        if operation == fcntl.LOCK_UN:
            unlocked.set()

    monkeypatch.setattr(os, "write", held_write)
    monkeypatch.setattr(fcntl, "flock", watched_flock)
    record = TokenRecord(unit=0, indices=(0,), token="t0", at=1.0)
    task = asyncio.get_running_loop().create_task(journal.record_token(record))
    assert await anyio.to_thread.run_sync(writing.wait, WAIT_S)
    task.cancel()  # asyncio's cancel: the task ends, its write goes on in the thread
    with pytest.raises(asyncio.CancelledError):
        await task
    journal.close()
    may_write.set()
    assert await anyio.to_thread.run_sync(unlocked.wait, WAIT_S)
    assert write_errors == []
    reopened = Journal.open(path, batch="abc")
    reopened.close()
    assert reopened.state.tokens == {0: record}


# ---------------------------------------------------------------------------------------
# File failures are JournalErrors naming the path, raised before any job is sent.


def _folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return tmp_path


def _in_a_missing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return tmp_path / "missing" / "batch.jsonl"


def _on_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    full = Path("/dev/full")  # every write fails with ENOSPC
    if not full.exists():
        pytest.skip("no /dev/full on this machine")
    return full


def _on_a_read_only_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Tests run as root, whom chmod does not stop: the file system answers EROFS instead.
    path = tmp_path / "batch.jsonl"
    real_open = os.open

    def read_only_open(file: str | os.PathLike[str], flags: int, *args: int, **kw: int) -> int:
        writing = flags & (os.O_WRONLY | os.O_RDWR)
        if writing and isinstance(file, str | os.PathLike) and Path(file) == path:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(file))
        return real_open(file, flags, *args, **kw)

    monkeypatch.setattr(os, "open", read_only_open)
    return path


@pytest.mark.parametrize(
    ("make_path", "reason"),
    [
        (_folder, "Is a directory"),
        (_in_a_missing_folder, "No such file or directory"),
        (_on_a_full_disk, "No space left on device"),
        (_on_a_read_only_disk, "Read-only file system"),
    ],
    ids=["a folder", "in a missing folder", "a full disk", "a read-only disk"],
)
async def test_a_journal_that_cannot_be_opened_stops_the_run_before_any_job(
    emu: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_path: Callable[[Path, pytest.MonkeyPatch], Path],
    reason: str,
) -> None:
    path = make_path(tmp_path, monkeypatch)
    async with client_for(emu) as client:
        with pytest.raises(JournalError) as stopped:
            await client.gather(basis_circuits(), journal=str(path))
    assert str(path) in str(stopped.value)
    assert reason in str(stopped.value)
    assert isinstance(stopped.value.__cause__, OSError)  # the batch keeps the cause
    assert emu.stats.jobs_created == 0


@pytest.mark.parametrize(
    "make_path",
    [_folder, _in_a_missing_folder, _on_a_full_disk, _on_a_read_only_disk],
    ids=["a folder", "in a missing folder", "a full disk", "a read-only disk"],
)
def test_a_journal_open_failure_is_chained_to_its_os_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_path: Callable[[Path, pytest.MonkeyPatch], Path],
) -> None:
    path = make_path(tmp_path, monkeypatch)
    with pytest.raises(JournalError) as failed:
        Journal.open(path, batch="abc")
    assert str(path) in str(failed.value)
    assert isinstance(failed.value.__cause__, OSError)


async def test_a_journal_whose_header_could_not_be_written_serves_the_next_run(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "batch.jsonl"
    real_write = os.write

    def disk_fills_mid_header(fd: int, data: bytes) -> int:
        if not is_file(fd, journal):
            return real_write(fd, data)
        if journal.stat().st_size == 0:
            return real_write(fd, bytes(data[:10]))  # part of the header fits
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    async with client_for(emu) as client:
        with monkeypatch.context() as patched:
            patched.setattr(os, "write", disk_fills_mid_header)
            with pytest.raises(JournalError, match="No space left on device"):
                await client.gather(basis_circuits(), journal=str(journal))
        assert emu.stats.jobs_created == 0
        # Space was freed: the same command works, with no torn header in its way.
        outcomes = await client.gather(basis_circuits(), journal=str(journal))
    assert all_matched(outcomes)
    assert emu.stats.jobs_created == COUNT


def fail_journal_writes(
    monkeypatch: pytest.MonkeyPatch, journal: Path, record_type: str, failure: str
) -> None:
    """Make the journal's disk fail once a record of ``record_type`` is written."""
    real_write, real_fsync = os.write, os.fsync
    marker = f'"type":"{record_type}"'.encode()
    failing = False

    def write(fd: int, data: bytes) -> int:
        nonlocal failing
        if is_file(fd, journal) and marker in bytes(data):
            failing = True
            if failure == "write":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    def fsync(fd: int) -> None:
        if failing and failure == "fsync" and is_file(fd, journal):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_fsync(fd)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize(
    ("failure", "reason"),
    [("write", "No space left on device"), ("fsync", "Input/output error")],
    ids=["full disk", "fsync I/O error"],
)
async def test_a_failed_token_write_stops_the_run_before_any_job(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str, reason: str
) -> None:
    journal = tmp_path / "batch.jsonl"
    fail_journal_writes(monkeypatch, journal, "token", failure)
    async with client_for(emu) as client:
        with pytest.raises(JournalError) as stopped:
            await client.gather(basis_circuits(), journal=str(journal))
    assert str(journal) in str(stopped.value)
    assert reason in str(stopped.value)
    assert emu.stats.jobs_created == 0


@pytest.mark.parametrize("failure", ["write", "fsync"])
async def test_a_journal_write_failure_is_chained_to_its_os_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    path = tmp_path / "batch.jsonl"
    journal = Journal.open(path, batch="abc")
    fail_journal_writes(monkeypatch, path, "token", failure)
    try:
        with pytest.raises(JournalError) as failed:
            await journal.record_token(TokenRecord(unit=0, indices=(0,), token="t0", at=1.0))
    finally:
        journal.close()
    assert str(path) in str(failed.value)
    assert isinstance(failed.value.__cause__, OSError)


async def test_a_failed_job_id_write_stops_the_run_and_nothing_is_sent_after_it(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "batch.jsonl"
    fail_journal_writes(monkeypatch, journal, "job", "write")
    async with client_for(emu) as client:
        with pytest.raises(JournalError) as stopped:
            await client.gather(basis_circuits(), journal=str(journal), concurrency=2)
    assert str(journal) in str(stopped.value)
    # The first job id could not be written: besides its job, only the two creations that
    # held the other slots may have gone out, each with its token on disk before it.
    assert 1 <= emu.stats.jobs_created <= 3
    assert set(emulator_tokens(emu)) <= journal_tokens(journal)
