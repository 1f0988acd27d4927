"""The batch journal: an append-only JSONL file that makes a crashed batch resumable.

One record per line, each written, flushed and ``fsync``-ed before the engine acts on it:

- ``{"type": "header", "version": 1, "batch": <fingerprint>, "units": n, "created_at": t}``
  comes first and names the batch (a hash of its circuits and options); opening the
  journal for any other batch raises :class:`~ionq_async.exceptions.JournalError`.
- ``{"type": "token", "unit": u, "indices": [...], "token": tok, "at": t}`` is written
  *before* the job creation request of unit ``u`` (one job: one circuit, or several when
  packed) is sent; ``at`` is the wall-clock time (epoch seconds) of the attempt.
- ``{"type": "job", "unit": u, "token": tok, "job_id": id}`` is written as soon as the
  job id is known, before any waiting.

On resume a unit with a ``job`` record is waited for; a unit with only a ``token`` record
crashed mid-creation, so the engine looks its token up on the server before sending it
again; a unit with neither is submitted. A torn last line (a crash mid-write) is dropped.

Appends from many tasks are group-committed: whoever holds the lock writes every record
queued so far with one ``fsync``, so a burst of submissions costs a few syncs, not one
each. File I/O runs in a worker thread so the event loop never blocks on the disk.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from attrs import frozen

from .exceptions import JournalError

__all__ = ["Journal", "JournalState", "TokenRecord"]

JOURNAL_VERSION = 1


@frozen(kw_only=True)
class TokenRecord:
    """A job creation that was about to be sent: its unit, circuits, token and time."""

    unit: int
    indices: tuple[int, ...]
    token: str
    at: float


@frozen(kw_only=True)
class JournalState:
    """What an existing journal says: tokens per unit and the job ids known so far."""

    tokens: dict[int, TokenRecord]
    job_ids: dict[int, str]

    @property
    def pending_units(self) -> list[int]:
        """Units whose creation was attempted but whose job id was never recorded."""
        return sorted(unit for unit in self.tokens if unit not in self.job_ids)


def _read_records(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Parse the journal's complete lines; return them and the byte length they span."""
    data = path.read_bytes()
    records: list[dict[str, Any]] = []
    good_end = 0
    position = 0
    while position < len(data):
        newline = data.find(b"\n", position)
        if newline == -1:
            # A crash mid-write leaves a line without its newline: it never counted.
            break
        line = data[position:newline]
        position = newline + 1
        if not line.strip():
            good_end = position
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise JournalError(f"journal {path} has an unreadable line: {error}") from error
        if not isinstance(record, dict):
            raise JournalError(f"journal {path} has a line that is not a JSON object")
        records.append(record)
        good_end = position
    return records, good_end


def _state_from_records(
    records: Sequence[dict[str, Any]], path: Path, batch: str, units: int
) -> JournalState:
    if not records or records[0].get("type") != "header":
        raise JournalError(f"journal {path} does not start with a header record")
    header = records[0]
    if header.get("version") != JOURNAL_VERSION:
        raise JournalError(f"journal {path} has version {header.get('version')!r}, not 1")
    if header.get("batch") != batch or header.get("units") != units:
        raise JournalError(
            f"journal {path} belongs to a different batch (its circuits or options differ)"
        )
    tokens: dict[int, TokenRecord] = {}
    job_ids: dict[int, str] = {}
    try:
        for record in records[1:]:
            kind = record.get("type")
            unit = int(record["unit"])
            if not 0 <= unit < units:
                raise JournalError(f"journal {path} names unit {unit}, outside this batch")
            if kind == "token":
                tokens[unit] = TokenRecord(
                    unit=unit,
                    indices=tuple(int(i) for i in record["indices"]),
                    token=str(record["token"]),
                    at=float(record["at"]),
                )
            elif kind == "job":
                if unit not in tokens or tokens[unit].token != record["token"]:
                    raise JournalError(f"journal {path}: job of unit {unit} has no token record")
                job_ids[unit] = str(record["job_id"])
            else:
                raise JournalError(f"journal {path} has a record of unknown type {kind!r}")
    except (KeyError, TypeError, ValueError) as error:
        raise JournalError(f"journal {path} has a malformed record: {error!r}") from error
    return JournalState(tokens=tokens, job_ids=job_ids)


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

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, batch: str, units: int) -> Journal:
        """Open (and check) the journal of this batch, creating it with a header if new."""
        target = Path(path)
        exists = target.exists() and target.stat().st_size > 0
        if exists:
            records, good_end = _read_records(target)
            state = _state_from_records(records, target, batch, units)
            fd = os.open(target, os.O_WRONLY)
            try:
                # Drop a torn tail so the next record starts on a line of its own.
                os.ftruncate(fd, good_end)
                os.lseek(fd, 0, os.SEEK_END)
            except OSError:
                os.close(fd)
                raise
            return cls(target, fd, state)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        try:
            header = {
                "type": "header",
                "version": JOURNAL_VERSION,
                "batch": batch,
                "units": units,
                "created_at": time.time(),
            }
            os.write(fd, _dumps(header))
            os.fsync(fd)
            _sync_directory(target.parent)
        except OSError:
            os.close(fd)
            raise
        return cls(target, fd, JournalState(tokens={}, job_ids={}))

    async def record_token(self, record: TokenRecord) -> None:
        """Durably record that unit ``record.unit`` is about to be created with this token."""
        self.state.tokens[record.unit] = record
        await self._append(
            {
                "type": "token",
                "unit": record.unit,
                "indices": list(record.indices),
                "token": record.token,
                "at": record.at,
            }
        )

    async def record_job(self, unit: int, token: str, job_id: str) -> None:
        """Durably record the job id that unit ``unit`` (created with ``token``) got."""
        self.state.job_ids[unit] = job_id
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
                    else JournalError(f"cannot write journal {self.path}: {error}")
                )
                self._failed = failed
                raise failed from (None if failed is error else error)
            self._written += count

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            raise JournalError(f"journal {self.path} is closed")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)
        self.syncs += 1

    def close(self) -> None:
        """Close the file (records already appended are on disk)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


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
