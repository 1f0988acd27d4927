"""A long batch's journal resumes without holding the whole file or a list of its records.

Resuming read the journal into one bytes object, then parsed every line into a list of
dicts, then built the state: a 100,000-job batch's journal took several times its size in
memory at once. It is now read a chunk at a time, each line folded into the state as it
comes; these tests pin the memory that costs and that chunking changes nothing read.
"""

from __future__ import annotations

import json
import tracemalloc
import uuid
from pathlib import Path

import pytest

from ionq_async import _journal
from ionq_async._journal import Journal, TokenRecord, read_journal
from ionq_async.exceptions import JournalError

BATCH = "b" * 64
UNITS = 20_000


def write_journal(path: Path, units: int, *, jobs: bool = True, tail: bytes = b"") -> None:
    """A format-2 journal of ``units`` one-circuit units, written as the engine writes it."""
    Journal.open(path, batch=BATCH).close()  # the header
    lines = []
    for unit in range(units):
        token = uuid.UUID(int=unit).hex
        lines.append(
            {
                "type": "token",
                "unit": unit,
                "indices": [unit],
                "digest": f"{unit:032x}",
                "token": token,
                "at": 1_767_225_600.0 + unit,
            }
        )
        if jobs:
            lines.append(
                {
                    "type": "job",
                    "unit": unit,
                    "token": token,
                    "job_id": str(uuid.UUID(int=~unit & (2**128 - 1))),
                }
            )
    with path.open("ab") as file:
        for line in lines:
            file.write((json.dumps(line, separators=(",", ":"), sort_keys=True) + "\n").encode())
        file.write(tail)


def test_opening_a_long_journal_holds_little_more_than_its_state(tmp_path: Path) -> None:
    path = tmp_path / "long.journal"
    write_journal(path, UNITS)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        journal = Journal.open(path, batch=BATCH)
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    try:
        assert len(journal.state.tokens) == UNITS and len(journal.state.job_ids) == UNITS
    finally:
        journal.close()
    # Before: the file's bytes, a list of 40,000 parsed records and the state (a dict of
    # TokenRecords, some 540 bytes a unit), all at once: a 42 MB peak for this 6 MB file.
    # Now a chunk or two at a time, into 65-byte slots.
    assert size > 5_000_000
    assert peak < 8_000_000, (peak, retained)
    assert retained / UNITS < 120, retained


def test_read_journal_holds_little_more_than_its_state(tmp_path: Path) -> None:
    path = tmp_path / "long.journal"
    write_journal(path, UNITS)
    tracemalloc.start()
    try:
        state = read_journal(path)
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(state.job_ids) == UNITS
    assert peak < 8_000_000, (peak, retained)
    assert retained / UNITS < 120, retained


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
def test_any_chunk_size_reads_the_same_state_and_drops_the_same_torn_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    whole = tmp_path / "whole.journal"
    write_journal(whole, 30, tail=b'{"type":"job","unit":3')
    monkeypatch.setattr(_journal, "_READ_CHUNK", 1 << 20)
    expected = read_journal(whole)
    torn = whole.read_bytes()

    path = tmp_path / "chunked.journal"
    path.write_bytes(torn)
    monkeypatch.setattr(_journal, "_READ_CHUNK", chunk)
    assert read_journal(path) == expected
    journal = Journal.open(path, batch=BATCH)
    try:
        assert journal.state == expected
    finally:
        journal.close()
    # The torn last line is gone from the file, and only it.
    assert path.read_bytes() == torn[: torn.rindex(b"\n") + 1]


def test_blank_lines_are_skipped_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "blank.journal"
    write_journal(path, 3, tail=b"\n\n  \n")
    monkeypatch.setattr(_journal, "_READ_CHUNK", 5)
    state = read_journal(path)
    assert sorted(state.job_ids) == [0, 1, 2]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "does not start with a header"),
        (b'{"type":"header"', "does not start with a header"),  # torn header only
        (b'{"type":"token","unit":0}\n', "does not start with a header"),
        (b'{"type":"header","version":1,"batch":"x"}\n', "has version 1"),
        (b"[1]\n", "not a JSON object"),
        (b"{nope\n", "unreadable line"),
    ],
)
def test_damaged_journals_are_refused_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.journal"
    path.write_bytes(content)
    monkeypatch.setattr(_journal, "_READ_CHUNK", 3)
    with pytest.raises(JournalError, match=message):
        read_journal(path)


def test_a_record_after_a_long_one_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A record longer than the chunk (a pack of many circuits) spans several reads.
    path = tmp_path / "pack.journal"
    Journal.open(path, batch=BATCH).close()
    token = uuid.uuid4().hex
    record = {
        "type": "token",
        "unit": 0,
        "indices": list(range(5_000)),
        "digest": "d",
        "token": token,
        "at": 1.0,
    }
    with path.open("ab") as file:
        file.write((json.dumps(record) + "\n").encode())
        file.write(
            (json.dumps({"type": "job", "unit": 0, "token": token, "job_id": "j"}) + "\n").encode()
        )
    monkeypatch.setattr(_journal, "_READ_CHUNK", 1000)
    journal = Journal.open(path, batch=BATCH)
    try:
        assert journal.state.tokens[0].indices == tuple(range(5_000))
        assert journal.state.job_ids == {0: "j"}
    finally:
        journal.close()


HEX = "0123456789abcdef" * 2  # a token or digest as the engine writes them
JOB = "019b76da-a800-726f-80c5-05dc18881130"  # a job id in the canonical UUID form


@pytest.mark.parametrize(
    "record",
    [
        TokenRecord(unit=0, indices=(0,), token=HEX, at=1.5, digest=HEX[::-1]),
        TokenRecord(unit=0, indices=(0,), token=HEX, at=1.5),  # no digest (older lines)
        TokenRecord(unit=0, indices=(3, 4, 9), token=HEX, at=2.0, digest=HEX),  # a pack
        TokenRecord(unit=0, indices=(), token=HEX, at=2.0, digest=HEX),
        TokenRecord(unit=0, indices=(0,), token=HEX.upper(), at=1.0, digest=HEX),
        TokenRecord(unit=0, indices=(0,), token="t0", at=1.0, digest="d" * 31),
        TokenRecord(
            unit=0, indices=(0,), token=HEX, at=1.0, digest="not hex at all, 32 chars!!!!!!!"
        ),
    ],
)
@pytest.mark.parametrize("job_id", [JOB, JOB.upper(), "job-0", "{" + JOB + "}"])
async def test_every_form_of_record_reads_back_as_written(
    tmp_path: Path, record: TokenRecord, job_id: str
) -> None:
    path = tmp_path / "forms.journal"
    journal = Journal.open(path, batch=BATCH)
    await journal.record_token(record)
    await journal.record_job(0, record.token, job_id)
    await journal.record_token(TokenRecord(unit=1, indices=(1,), token=HEX, at=3.0))
    journal.close()
    for state in (read_journal(path), Journal.open(path, batch=BATCH).state):
        assert state.tokens[0] == record and type(state.tokens[0].token) is str
        assert state.job_ids == {0: job_id}
        assert list(state.tokens) == [0, 1] and len(state.tokens) == 2
        assert state.pending_units == [1]
        assert 0 in state.tokens and 5 not in state.tokens and 1 not in state.job_ids


async def test_a_later_token_record_of_a_unit_replaces_the_earlier_in_any_form(
    tmp_path: Path,
) -> None:
    path = tmp_path / "again.journal"
    journal = Journal.open(path, batch=BATCH)
    first = TokenRecord(unit=2, indices=(2,), token=HEX, at=1.0, digest=HEX)
    second = TokenRecord(unit=2, indices=(2,), token="retry-token", at=2.0, digest=HEX)
    third = TokenRecord(unit=2, indices=(2,), token=HEX[::-1], at=3.0, digest=HEX)
    await journal.record_token(first)
    await journal.record_token(second)
    await journal.record_job(2, "retry-token", JOB)
    await journal.record_token(third)  # retry_failed: a new token for the same unit
    journal.close()
    state = read_journal(path)
    assert dict(state.tokens) == {2: third}
    assert dict(state.job_ids) == {2: JOB}  # the job of an earlier token stays recorded


async def test_units_are_popped_once_as_the_engine_resumes_them(tmp_path: Path) -> None:
    path = tmp_path / "pop.journal"
    write_journal(path, 5)
    journal = Journal.open(path, batch=BATCH)
    try:
        state = journal.state
        token = state.tokens.pop(3, None)
        assert token is not None and token.indices == (3,)
        assert state.tokens.pop(3, None) is None
        assert state.job_ids.pop(3, None) == str(uuid.UUID(int=~3 & (2**128 - 1)))
        assert state.job_ids.pop(3, None) is None
        assert list(state.tokens) == [0, 1, 2, 4] and len(state.job_ids) == 4
        assert state.tokens.pop(99, None) is None and state.tokens.get(-1) is None
    finally:
        journal.close()


async def test_a_unit_far_past_the_others_is_kept_without_a_gap_of_slots(
    tmp_path: Path,
) -> None:
    path = tmp_path / "far.journal"
    journal = Journal.open(path, batch=BATCH)
    far = 10**12
    await journal.record_token(TokenRecord(unit=0, indices=(0,), token=HEX, at=1.0))
    await journal.record_token(TokenRecord(unit=far, indices=(far,), token=HEX, at=1.0))
    await journal.record_job(far, HEX, JOB)
    journal.close()
    tracemalloc.start()
    try:
        state = read_journal(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000
    assert list(state.tokens) == [0, far] and state.job_ids == {far: JOB}
    assert state.tokens[far].indices == (far,)
