"""The batch journal: an append-only JSONL file that makes a crashed batch resumable.

One record per line, each written, flushed and ``fsync``-ed before the engine acts on it:

- ``{"type": "header", "version": 2, "batch": <fingerprint>, "created_at": t}`` comes
  first and names the batch by its options and packing; opening the journal for a batch
  with other options raises :class:`~ionq_async.exceptions.JournalError`.
- ``{"type": "token", "unit": u, "indices": [...], "digest": d, "token": tok, "at": t}``
  is written *before* the job creation request of unit ``u`` (one job: one circuit, or
  several when packed) is sent; ``digest`` is a hash of the unit's circuits as sent (the
  engine reads its input lazily, so a batch is checked unit by unit: a resumed unit whose
  circuits differ from the journal's is a ``JournalError``); ``at`` is the wall-clock time
  (epoch seconds) of the attempt.
- ``{"type": "job", "unit": u, "token": tok, "job_id": id}`` is written as soon as the
  job id is known, before any waiting.

On resume a unit with a ``job`` record is waited for; a unit with only a ``token`` record
crashed mid-creation, so the engine looks its token up on the server before sending it
again; a unit with neither is submitted. A torn last line (a crash mid-write) is dropped.

Appends from many tasks are group-committed: whoever holds the lock writes every record
queued so far with one ``fsync``, so a burst of submissions costs a few syncs, not one
each. File I/O runs in a worker thread so the event loop never blocks on the disk.

One run at a time: :meth:`Journal.open` takes an exclusive OS lock on the file before it
reads or writes anything and holds it until :meth:`Journal.close`, so a second run of the
batch (another process, or another task of this one) gets a ``JournalError`` saying the
journal is in use instead of submitting everything again. On POSIX the lock is
``flock``, which belongs to the open file: it excludes a second ``open`` in the same
process too, where ``fcntl``/``lockf`` record locks would not. On Windows it is a
``msvcrt.locking`` lock on one byte far past the records (CI runs Linux only). The lock
is advisory on POSIX (only journals honour it) and may be unsupported on some network
file systems; then opening fails with a ``JournalError`` rather than running unguarded.

Every failure of the file itself (a folder, a missing folder, a read-only or full disk,
an I/O error) is a ``JournalError`` naming the path, chained to the ``OSError``.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from attrs import frozen

from .exceptions import JournalError

__all__ = ["Journal", "JournalState", "TokenRecord", "read_journal"]

JOURNAL_VERSION = 2

logger = logging.getLogger("ionq_async.batch")


@frozen(kw_only=True)
class TokenRecord:
    """A job creation that was about to be sent: its unit, circuits, token and time."""

    unit: int
    indices: tuple[int, ...]
    token: str
    at: float
    digest: str = ""


@frozen(kw_only=True)
class JournalState:
    """What an existing journal says: tokens per unit and the job ids known so far."""

    tokens: dict[int, TokenRecord]
    job_ids: dict[int, str]

    @property
    def pending_units(self) -> list[int]:
        """Units whose creation was attempted but whose job id was never recorded."""
        return sorted(unit for unit in self.tokens if unit not in self.job_ids)


_READ_CHUNK = 1 << 20
"""Bytes read from a journal at a time: its lines are folded into the state as they come,
so resuming a long batch never holds the whole file, nor a list of all its records."""


class _StateReader:
    """Folds a journal's records into its :class:`JournalState`, one line at a time."""

    def __init__(self, path: Path, batch: str | None) -> None:
        self.path = path
        self.batch = batch  # None: any batch's journal (read_journal)
        self.started = False
        self.tokens: dict[int, TokenRecord] = {}
        self.job_ids: dict[int, str] = {}

    def line(self, line: bytes) -> None:
        if not line.strip():
            return
        path = self.path
        try:
            record = json.loads(line)
        except ValueError as error:
            raise JournalError(f"journal {path} has an unreadable line: {error}") from error
        if not isinstance(record, dict):
            raise JournalError(f"journal {path} has a line that is not a JSON object")
        if not self.started:
            self._header(record)
            self.started = True
            return
        try:
            self._record(record)
        except (KeyError, TypeError, ValueError) as error:
            raise JournalError(f"journal {path} has a malformed record: {error!r}") from error

    def _header(self, header: dict[str, Any]) -> None:
        path = self.path
        if header.get("type") != "header":
            raise JournalError(f"journal {path} does not start with a header record")
        if header.get("version") != JOURNAL_VERSION:
            raise JournalError(
                f"journal {path} has version {header.get('version')!r}, not {JOURNAL_VERSION} "
                "(written by another release of ionq-async: finish that batch with it, "
                "or give this one a new journal path)"
            )
        if self.batch is not None and header.get("batch") != self.batch:
            raise JournalError(f"journal {path} belongs to a different batch (its options differ)")

    def _record(self, record: dict[str, Any]) -> None:
        path = self.path
        kind = record.get("type")
        unit = int(record["unit"])
        if unit < 0:
            raise JournalError(f"journal {path} names unit {unit}, outside this batch")
        if kind == "token":
            self.tokens[unit] = TokenRecord(
                unit=unit,
                indices=tuple(int(i) for i in record["indices"]),
                token=str(record["token"]),
                at=float(record["at"]),
                digest=str(record.get("digest", "")),
            )
        elif kind == "job":
            token = self.tokens.get(unit)
            if token is None or token.token != record["token"]:
                raise JournalError(f"journal {path}: job of unit {unit} has no token record")
            self.job_ids[unit] = str(record["job_id"])
        else:
            raise JournalError(f"journal {path} has a record of unknown type {kind!r}")

    def state(self) -> JournalState:
        if not self.started:
            raise JournalError(f"journal {self.path} does not start with a header record")
        return JournalState(tokens=self.tokens, job_ids=self.job_ids)


def _read_state(fd: int, path: Path, batch: str | None) -> tuple[JournalState, int, int]:
    """The state of the journal behind ``fd`` (read from its start, a chunk at a time),
    the byte length of its complete lines, and the bytes read in all.

    A last line without its newline (a crash mid-write) never counted and is skipped.
    ``batch`` None accepts any batch's journal.
    """
    reader = _StateReader(path, batch)
    os.lseek(fd, 0, os.SEEK_SET)
    pending = b""
    complete = total = 0
    while chunk := os.read(fd, _READ_CHUNK):
        total += len(chunk)
        data = pending + chunk if pending else chunk
        end = data.rfind(b"\n")
        if end == -1:
            pending = data
            continue
        for line in data[:end].split(b"\n"):
            reader.line(line)
        complete += end + 1
        pending = data[end + 1 :]
    return reader.state(), complete, total


def read_journal(path: str | os.PathLike[str]) -> JournalState:
    """What a journal holds, read without its batch's fingerprint and without writing.

    For the command line's ``resume`` and ``cancel --journal``: the journal's lock is
    taken while reading, so a journal still held by a running batch is refused with a
    ``JournalError`` saying so; a torn last line is ignored (and left in the file for the
    batch's own resume to drop).
    """
    if not os.fspath(path):
        raise JournalError("the journal path is empty")
    target = Path(path)
    try:
        fd = os.open(target, os.O_RDONLY | _O_BINARY)
    except OSError as error:
        raise JournalError(f"cannot open journal {target}: {_reason(error)}") from error
    try:
        _lock(fd, target)
        try:
            # Only a file with bytes in it is read (a device such as /dev/full never ends).
            if os.fstat(fd).st_size == 0:
                raise JournalError(f"journal {target} does not start with a header record")
            state, _, _ = _read_state(fd, target, None)
        except OSError as error:
            raise JournalError(f"cannot read journal {target}: {_reason(error)}") from error
        return state
    finally:
        # Closing the descriptor releases the lock (flock belongs to the open file).
        os.close(fd)


def _dumps(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n").encode()


class Journal:
    """An append-only, fsync-ed JSONL journal of one batch (see the module docstring)."""

    def __init__(self, path: Path, fd: int, state: JournalState) -> None:
        self.path = path
        self.state = state
        self._fd: int | None = fd
        self._lock = anyio.Lock()
        self._queue: list[bytes] = []
        self._queued = 0  # records ever queued
        self._written = 0  # records ever written and synced
        self._failed: JournalError | None = None
        self.syncs = 0
        # A task cancelled by asyncio's Task.cancel leaves its write running in the worker
        # thread; close() must not pull the descriptor from under it (the number may be
        # reused by another file at once). These say whether a write runs, under a lock.
        self._io_state = threading.Lock()
        self._writes_running = 0
        self._close_after_writes = False

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, batch: str) -> Journal:
        """Lock and check the journal of this batch, creating it with a header if new.

        Raises :class:`~ionq_async.exceptions.JournalError`, naming the path, when another
        run holds the journal, when it belongs to another batch or is damaged, and when
        the file cannot be opened, read or written (the ``OSError`` is its cause).
        """
        if not os.fspath(path):
            raise JournalError("the journal path is empty")
        target = Path(path)
        try:
            fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND | _O_BINARY, 0o600)
        except OSError as error:
            raise JournalError(f"cannot open journal {target}: {_reason(error)}") from error
        try:
            _lock(fd, target)
            state = _load_or_start(fd, target, batch=batch)
        except BaseException as error:
            # Closing the descriptor releases the lock if this open took it.
            try:
                os.close(fd)
            except OSError as close_error:
                error.add_note(f"closing journal {target} failed too: {_reason(close_error)}")
            raise
        return cls(target, fd, state)

    @classmethod
    async def open_async(cls, path: str | os.PathLike[str], *, batch: str) -> Journal:
        """:meth:`open` in a worker thread, never leaving the journal's lock behind.

        The open cannot be interrupted once its thread runs, and a task cancelled
        meanwhile (asyncio's ``Task.cancel`` goes through anyio's shield) never gets the
        journal: it is then closed as soon as it is open, so the lock dies with the run.
        """
        handoff = _Handoff()
        try:
            return await anyio.to_thread.run_sync(handoff.open, path, batch)
        except BaseException:
            handoff.abandon()
            raise

    async def record_token(self, record: TokenRecord) -> None:
        """Durably record that unit ``record.unit`` is about to be created with this token.

        (``state`` stays what the file held when it was opened: a long batch does not keep
        every record in memory.)
        """
        await self._append(
            {
                "type": "token",
                "unit": record.unit,
                "indices": list(record.indices),
                "digest": record.digest,
                "token": record.token,
                "at": record.at,
            }
        )

    async def record_job(self, unit: int, token: str, job_id: str) -> None:
        """Durably record the job id that unit ``unit`` (created with ``token``) got."""
        await self._append({"type": "job", "unit": unit, "token": token, "job_id": job_id})

    async def _append(self, record: dict[str, Any]) -> None:
        self._queue.append(_dumps(record))
        self._queued += 1
        mine = self._queued
        async with self._lock:
            if self._failed is not None:
                # A failed write may have held this record too: it is not on disk.
                raise self._failed
            if self._written >= mine:
                return  # an earlier holder of the lock wrote it with its own batch
            batch, self._queue = self._queue, []
            count = len(batch)
            try:
                await anyio.to_thread.run_sync(self._write, b"".join(batch))
            except (OSError, JournalError) as error:
                failed = (
                    error
                    if isinstance(error, JournalError)
                    else JournalError(f"cannot write journal {self.path}: {_reason(error)}")
                )
                self._failed = failed
                raise failed from (None if failed is error else error)
            self._written += count

    def _write(self, data: bytes) -> None:
        with self._io_state:
            fd = self._fd
            if fd is None:
                raise JournalError(f"journal {self.path} is closed")
            self._writes_running += 1
        try:
            _write_all(fd, data)
            os.fsync(fd)
            self.syncs += 1
        finally:
            with self._io_state:
                self._writes_running -= 1
                close_now = self._close_after_writes and not self._writes_running
            if close_now:
                # close() came while this write ran for a cancelled task: nobody is left
                # to raise to, so a failure is logged.
                try:
                    self._release(fd)
                except JournalError as error:
                    logger.warning("%s", error)

    def close(self) -> None:
        """Release the lock and close the file (records already appended are on disk).

        A write still running for a cancelled task closes the file when it ends.
        """
        with self._io_state:
            fd, self._fd = self._fd, None
            if fd is None:
                return
            if self._writes_running:
                self._close_after_writes = True
                return
        self._release(fd)

    def _release(self, fd: int) -> None:
        try:
            # Unlocked explicitly: a forked child sharing the descriptor must not keep it.
            _unlock(fd)
        except OSError as error:
            failure: OSError | None = error
        else:
            failure = None
        try:
            os.close(fd)
        except OSError as error:
            failure = failure or error
        if failure is not None:
            raise JournalError(f"cannot close journal {self.path}: {_reason(failure)}") from failure


class _Handoff:
    """Gives an opened journal to its caller, or closes it if the caller has gone."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = False
        self._journal: Journal | None = None

    def open(self, path: str | os.PathLike[str], batch: str) -> Journal:
        journal = Journal.open(path, batch=batch)
        with self._lock:
            if not self._abandoned:
                self._journal = journal
                return journal
        _close_unwanted(journal)
        return journal

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            journal, self._journal = self._journal, None
        if journal is not None:
            _close_unwanted(journal)


def _close_unwanted(journal: Journal) -> None:
    # Nobody is left to raise to (the run was cancelled), so a failure is logged.
    try:
        journal.close()
    except JournalError as error:
        logger.warning("closing the journal of a cancelled batch failed: %s", error)


def _load_or_start(fd: int, path: Path, *, batch: str) -> JournalState:
    """Read the locked journal's state, or write the header of a new (empty) one."""
    try:
        # Only a file with bytes in it is read (a device such as /dev/full never ends).
        size = os.fstat(fd).st_size
        read = _read_state(fd, path, batch) if size > 0 else None
    except OSError as error:
        raise JournalError(f"cannot read journal {path}: {_reason(error)}") from error
    if read is not None:
        state, good_end, total = read
        if good_end < total:
            try:
                # Drop a torn tail so the next record starts on a line of its own.
                os.ftruncate(fd, good_end)
            except OSError as error:
                raise JournalError(
                    f"cannot drop the torn last line of journal {path}: {_reason(error)}"
                ) from error
        return state
    header = {
        "type": "header",
        "version": JOURNAL_VERSION,
        "batch": batch,
        "created_at": time.time(),
    }
    try:
        _write_all(fd, _dumps(header))
        os.fsync(fd)
    except OSError as error:
        failed = JournalError(f"cannot write journal {path}: {_reason(error)}")
        try:
            # Empty again, not holding a torn header that would make the next run refuse it.
            os.ftruncate(fd, 0)
        except OSError as truncate_error:
            failed.add_note(f"emptying journal {path} again failed too: {_reason(truncate_error)}")
        raise failed from error
    _sync_directory(path.parent)
    return JournalState(tokens={}, job_ids={})


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _reason(error: OSError) -> str:
    """What went wrong, without repeating the path the message names already."""
    return error.strerror or str(error)


_O_BINARY: int = getattr(os, "O_BINARY", 0)  # Windows: no newline translation

if sys.platform == "win32":
    import msvcrt

    # Windows byte-range locks are mandatory: lock one byte far past any record, so other
    # programs can still read the journal while a run holds it.
    _LOCK_OFFSET = 2**31 - 2

    def _try_lock(fd: int) -> bool:
        """Take the journal's lock without waiting; False if another holder has it."""
        os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except PermissionError:
            return False
        except OSError as error:
            if error.errno == errno.EDEADLK:  # what LK_NBLCK reports for "locked"
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        """Take the journal's lock without waiting; False if another holder has it."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _lock(fd: int, path: Path) -> None:
    """Hold the journal's exclusive lock, or raise JournalError saying it is in use."""
    try:
        locked = _try_lock(fd)
    except OSError as error:
        raise JournalError(f"cannot lock journal {path}: {_reason(error)}") from error
    if not locked:
        raise JournalError(
            f"journal {path} is in use by another run, which holds its lock "
            "(wait for that run to end, or give this one another journal path)"
        )


def _sync_directory(directory: Path) -> None:
    # Make the new file's directory entry durable too; not every platform allows it.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
