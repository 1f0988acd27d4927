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
import heapq
import json
import logging
import os
import struct
import sys
import threading
import time
from collections.abc import Iterator, MutableMapping
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
    """What an existing journal says: tokens per unit and the job ids known so far.

    Read from a file, both are views of one compact store (:class:`_Records`, 65 bytes a
    unit in the forms the engine writes); the engine pops each unit from them as it
    resumes it.
    """

    tokens: MutableMapping[int, TokenRecord]
    job_ids: MutableMapping[int, str]

    @property
    def pending_units(self) -> list[int]:
        """Units whose creation was attempted but whose job id was never recorded."""
        return sorted(unit for unit in self.tokens if unit not in self.job_ids)


_SLOT = struct.Struct("<B16s16sd16sq")
"""One unit in :class:`_Records`: flags, token, digest, attempt time, job id, its index."""

_HAS_TOKEN, _HAS_JOB, _ONE_INDEX, _HAS_DIGEST = 1, 2, 4, 8

_DENSE_GAP = 1 << 16
"""A unit this far past the last slot is kept in the overflow dicts (no huge gap of slots)."""


def _hex16(text: str) -> bytes | None:
    """32 lowercase hex digits (a token or digest as the engine writes them) as 16 bytes."""
    if len(text) != 32:
        return None
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return None
    return raw if raw.hex() == text else None


def _uuid16(text: str) -> bytes | None:
    """A job id in the canonical UUID form (lowercase, dashed) as its 16 bytes, else None."""
    if len(text) != 36 or text[8] != "-" or text[13] != "-" or text[18] != "-" or text[23] != "-":
        return None
    return _hex16(text[:8] + text[9:13] + text[14:18] + text[19:23] + text[24:])


def _uuid_text(raw: bytes) -> str:
    digits = raw.hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


class _Records:
    """Every unit's latest token record and its job id, as a journal's state holds them.

    A dict of TokenRecords took some 540 bytes a unit (54 MB for a 100,000-job batch, held
    from the journal's opening until the engine has resumed every unit). Records in the
    forms the engine writes (hex tokens and digests, one index, UUID job ids) take one
    65-byte slot of a bytearray, indexed by unit; any other form is kept as it is in the
    overflow dicts. Each unit's token and job id are in exactly one place.
    """

    def __init__(self) -> None:
        self._slots = bytearray()
        self._tokens: dict[int, TokenRecord] = {}
        self._jobs: dict[int, str] = {}
        self._indices: dict[int, tuple[int, ...]] = {}  # slotted tokens with other than 1
        self.token_count = 0
        self.job_count = 0

    def _offset(self, unit: int, *, grow: bool = False) -> int | None:
        if unit < 0:
            return None
        offset = unit * _SLOT.size
        if offset < len(self._slots):
            return offset
        if not grow or unit - len(self._slots) // _SLOT.size > _DENSE_GAP:
            return None
        self._slots.extend(bytes(offset + _SLOT.size - len(self._slots)))
        return offset

    def _fields(self, unit: int) -> tuple[int | None, tuple[Any, ...]]:
        offset = self._offset(unit)
        if offset is None:
            return None, (0, b"", b"", 0.0, b"", 0)
        return offset, _SLOT.unpack_from(self._slots, offset)

    def token(self, unit: int) -> TokenRecord | None:
        if unit in self._tokens:
            return self._tokens[unit]
        offset, (flags, token, digest, at, _, index) = self._fields(unit)
        if offset is None or not flags & _HAS_TOKEN:
            return None
        return TokenRecord(
            unit=unit,
            indices=(index,) if flags & _ONE_INDEX else self._indices[unit],
            token=token.hex(),
            at=at,
            digest=digest.hex() if flags & _HAS_DIGEST else "",
        )

    def token_text(self, unit: int) -> str | None:
        """The unit's latest token alone (a job record is checked against it)."""
        if unit in self._tokens:
            return self._tokens[unit].token
        offset, (flags, token, *_) = self._fields(unit)
        if offset is None or not flags & _HAS_TOKEN:
            return None
        return str(token.hex())

    def has_token(self, unit: int) -> bool:
        if unit in self._tokens:
            return True
        offset, fields = self._fields(unit)
        return offset is not None and bool(fields[0] & _HAS_TOKEN)

    def set_token(self, record: TokenRecord) -> None:
        self.add_token(
            record.unit, record.indices, record.token, record.at, record.digest, record=record
        )

    def add_token(
        self,
        unit: int,
        indices: tuple[int, ...],
        token_text: str,
        at: float,
        digest_text: str,
        *,
        record: TokenRecord | None = None,
    ) -> None:
        """A unit's token record (replacing any earlier one); a TokenRecord is made only
        for a form the slots do not take."""
        self.drop_token(unit)
        token = _hex16(token_text)
        digest = _hex16(digest_text) if digest_text else b""
        offset = self._offset(unit, grow=True) if token is not None and digest is not None else None
        if offset is None or token is None or digest is None:
            self._tokens[unit] = record or TokenRecord(
                unit=unit, indices=indices, token=token_text, at=at, digest=digest_text
            )
        else:
            flags, _, _, _, job, _ = _SLOT.unpack_from(self._slots, offset)
            flags = (flags & _HAS_JOB) | _HAS_TOKEN | (_HAS_DIGEST if digest else 0)
            index = 0
            if len(indices) == 1:
                flags |= _ONE_INDEX
                index = indices[0]
            else:
                self._indices[unit] = indices
            _SLOT.pack_into(self._slots, offset, flags, token, digest, at, job, index)
        self.token_count += 1

    def drop_token(self, unit: int) -> bool:
        if self._tokens.pop(unit, None) is not None:
            self.token_count -= 1
            return True
        offset, (flags, _, _, _, job, _) = self._fields(unit)
        if offset is None or not flags & _HAS_TOKEN:
            return False
        self._indices.pop(unit, None)
        _SLOT.pack_into(self._slots, offset, flags & _HAS_JOB, b"", b"", 0.0, job, 0)
        self.token_count -= 1
        return True

    def job(self, unit: int) -> str | None:
        if unit in self._jobs:
            return self._jobs[unit]
        offset, (flags, _, _, _, job, _) = self._fields(unit)
        if offset is None or not flags & _HAS_JOB:
            return None
        return _uuid_text(job)

    def set_job(self, unit: int, job_id: str) -> None:
        self.drop_job(unit)
        raw = _uuid16(job_id)
        offset = self._offset(unit, grow=True) if raw is not None else None
        if offset is None or raw is None:
            self._jobs[unit] = job_id
        else:
            fields = list(_SLOT.unpack_from(self._slots, offset))
            fields[0] |= _HAS_JOB
            fields[4] = raw
            _SLOT.pack_into(self._slots, offset, *fields)
        self.job_count += 1

    def drop_job(self, unit: int) -> bool:
        if self._jobs.pop(unit, None) is not None:
            self.job_count -= 1
            return True
        offset, fields = self._fields(unit)
        if offset is None or not fields[0] & _HAS_JOB:
            return False
        _SLOT.pack_into(self._slots, offset, fields[0] & ~_HAS_JOB, *fields[1:4], b"", fields[5])
        self.job_count -= 1
        return True

    def units(self, flag: int, others: dict[int, Any]) -> Iterator[int]:
        """Units with ``flag`` in their slot, or in ``others``, in ascending order."""
        slotted = (
            unit
            for unit in range(len(self._slots) // _SLOT.size)
            if self._slots[unit * _SLOT.size] & flag
        )
        return heapq.merge(slotted, sorted(others))


class _TokenView(MutableMapping[int, TokenRecord]):
    """The token records of :class:`_Records`, as a mapping by unit."""

    def __init__(self, records: _Records) -> None:
        self._records = records

    def __getitem__(self, unit: int) -> TokenRecord:
        record = self._records.token(unit) if isinstance(unit, int) and unit >= 0 else None
        if record is None:
            raise KeyError(unit)
        return record

    def __setitem__(self, unit: int, record: TokenRecord) -> None:
        if record.unit != unit:
            raise ValueError(f"the record of unit {record.unit} filed under unit {unit}")
        self._records.set_token(record)

    def __delitem__(self, unit: int) -> None:
        if not (isinstance(unit, int) and unit >= 0 and self._records.drop_token(unit)):
            raise KeyError(unit)

    def __contains__(self, unit: object) -> bool:
        return isinstance(unit, int) and unit >= 0 and self._records.has_token(unit)

    def __iter__(self) -> Iterator[int]:
        return self._records.units(_HAS_TOKEN, self._records._tokens)

    def __len__(self) -> int:
        return self._records.token_count

    def __repr__(self) -> str:
        return f"<{len(self)} token records>"


class _JobView(MutableMapping[int, str]):
    """The job ids of :class:`_Records`, as a mapping by unit."""

    def __init__(self, records: _Records) -> None:
        self._records = records

    def __getitem__(self, unit: int) -> str:
        job_id = self._records.job(unit) if isinstance(unit, int) and unit >= 0 else None
        if job_id is None:
            raise KeyError(unit)
        return job_id

    def __setitem__(self, unit: int, job_id: str) -> None:
        self._records.set_job(unit, job_id)

    def __delitem__(self, unit: int) -> None:
        if not (isinstance(unit, int) and unit >= 0 and self._records.drop_job(unit)):
            raise KeyError(unit)

    def __contains__(self, unit: object) -> bool:
        return isinstance(unit, int) and unit >= 0 and self._records.job(unit) is not None

    def __iter__(self) -> Iterator[int]:
        return self._records.units(_HAS_JOB, self._records._jobs)

    def __len__(self) -> int:
        return self._records.job_count

    def __repr__(self) -> str:
        return f"<{len(self)} job ids>"


_decode = json.JSONDecoder().decode

_READ_CHUNK = 1 << 20
"""Bytes read from a journal at a time: its lines are folded into the state as they come,
so resuming a long batch never holds the whole file, nor a list of all its records."""


class _StateReader:
    """Folds a journal's records into its :class:`JournalState`, one line at a time."""

    def __init__(self, path: Path, batch: str | None) -> None:
        self.path = path
        self.batch = batch  # None: any batch's journal (read_journal)
        self.started = False
        self.records = _Records()

    def line(self, line: bytes) -> None:
        if not line.strip():
            return
        path = self.path
        try:
            record = _decode(line.decode())
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
            self.records.add_token(
                unit,
                tuple(int(i) for i in record["indices"]),
                str(record["token"]),
                float(record["at"]),
                str(record.get("digest", "")),
            )
        elif kind == "job":
            if self.records.token_text(unit) != record["token"]:
                raise JournalError(f"journal {path}: job of unit {unit} has no token record")
            self.records.set_job(unit, str(record["job_id"]))
        else:
            raise JournalError(f"journal {path} has a record of unknown type {kind!r}")

    def state(self) -> JournalState:
        if not self.started:
            raise JournalError(f"journal {self.path} does not start with a header record")
        return JournalState(tokens=_TokenView(self.records), job_ids=_JobView(self.records))


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
