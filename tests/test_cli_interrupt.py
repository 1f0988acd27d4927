"""Ctrl-C on ``run``, then ``resume`` and ``cancel``: nothing lost, nothing sent twice.

A real SIGINT goes to ``python -m ionq_async run ...`` in a subprocess, against an
emulator on a manual clock (its jobs never end until the test moves the clock), once the
command has said on stderr that every circuit has its job. ``resume`` and ``cancel`` then
run in-process against the same emulator.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)
from conftest import readline_within

import ionq_async
from ionq_async._journal import Journal, JournalState, TokenRecord, read_journal
from ionq_async.batch import TOKEN_METADATA_KEY
from ionq_async.cli import ExitCode, main
from ionq_async.emulator import BackgroundEmulator, Emulator, EmulatorConfig, ManualClock
from ionq_async.exceptions import JournalError

BELL = {
    "qubits": 2,
    "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}],
}
GHZ3 = {
    "qubits": 3,
    "circuit": [
        {"gate": "h", "target": 0},
        {"gate": "cnot", "control": 0, "target": 1},
        {"gate": "cnot", "control": 1, "target": 2},
    ],
}
CHILD_TIMEOUT_S = 60.0
PACKAGE_ROOT = str(Path(ionq_async.__file__).resolve().parents[1])


@pytest.fixture(autouse=True)
def state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Journals go to the test's own state folder (for the child process too)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("IONQ_API_URL", raising=False)
    return tmp_path / "state" / "ionq-async"


@pytest.fixture
def served() -> Iterator[tuple[Emulator, ManualClock]]:
    """An emulator in a thread whose jobs stay queued until the clock is moved."""
    clock = ManualClock(start=time.time())
    with BackgroundEmulator(clock=clock, config=EmulatorConfig()) as emu:
        yield emu, clock


def write(folder: Path, name: str, data: Any) -> str:
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return int(code), out.getvalue(), err.getvalue()


def connection(emu: Emulator) -> list[str]:
    return ["--base-url", emu.url, "--api-key", emu.api_key]


def interrupted_run(emu: Emulator, *args: str) -> tuple[int, str, list[str]]:
    """``run args`` in a child; SIGINT once it says every circuit has its job."""
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")])),
        "COLUMNS": "200",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "ionq_async", *connection(emu), "run", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stderr is not None
        seen: list[str] = []
        while True:
            line = readline_within(child.stderr)
            assert line, f"the child ended before submitting: {''.join(seen)}"
            seen.append(line)
            if " submitted " in line:
                break
        child.send_signal(signal.SIGINT)
        out, rest = child.communicate(timeout=CHILD_TIMEOUT_S)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return child.returncode, out, [*(s.rstrip("\n") for s in seen), *rest.splitlines()]


def line_after(lines: list[str], prefix: str) -> str:
    [found] = [line for line in lines if line.startswith(prefix)]
    return found.removeprefix(prefix)


def test_ctrl_c_prints_json_outcomes_and_resume_waits_without_resubmitting(
    served: tuple[Emulator, ManualClock], tmp_path: Path, state_folder: Path
) -> None:
    emu, clock = served
    files = [write(tmp_path, f"c{i}.json", BELL if i % 2 else GHZ3) for i in range(3)]
    code, out, err = interrupted_run(emu, *files, "--shots", "100", "--json")
    assert code == ExitCode.INTERRUPTED
    report = json.loads(out)  # valid JSON, although interrupted
    assert report["interrupted"] is True
    assert [row["status"] for row in report["results"]] == ["unfinished"] * 3
    ids = [row["job_id"] for row in report["results"]]
    assert len(set(ids)) == 3
    journal = Path(report["journal"])
    assert journal.parent == state_folder
    assert line_after(err, "ionq-async: journal ").endswith(journal.name)
    assert line_after(err, "ionq-async: resume: ") == f"ionq-async resume {journal}"
    assert line_after(err, "ionq-async: cancel: ") == f"ionq-async cancel --journal {journal}"
    assert err[-1] == "ionq-async: interrupted"
    assert len(emu.jobs()) == 3

    clock.advance(3600)  # every job ends
    code, out, _ = cli(*connection(emu), "resume", str(journal), "--json")
    assert code == ExitCode.OK
    resumed = json.loads(out)
    assert [row["status"] for row in resumed["results"]] == ["completed"] * 3
    assert [row["job_id"] for row in resumed["results"]] == ids
    assert [row["source"] for row in resumed["results"]] == files  # named by the manifest
    assert resumed["results"][0]["shots"] == 100
    assert len(emu.jobs()) == 3  # nothing was sent again
    assert not journal.exists()  # nothing left to resume


def test_ctrl_c_in_a_table_run_lists_rows_and_resume_finds_the_newest_journal(
    served: tuple[Emulator, ManualClock], tmp_path: Path
) -> None:
    emu, clock = served
    files = [write(tmp_path, f"c{i}.json", BELL) for i in range(2)]
    code, out, err = interrupted_run(emu, *files)
    assert code == ExitCode.INTERRUPTED
    rows = [line for line in out.splitlines() if line.startswith(str(tmp_path))]
    assert [row.split()[1] for row in rows] == ["unfinished", "unfinished"]
    assert "ionq-async: interrupted: 2 job(s) keep running on the server" in err
    clock.advance(3600)
    code, out, _ = cli(*connection(emu), "resume")
    assert code == ExitCode.OK
    assert out.count("completed") >= 2
    assert len(emu.jobs()) == 2


def test_cancel_on_interrupt_cancels_the_jobs_left(
    served: tuple[Emulator, ManualClock], tmp_path: Path
) -> None:
    emu, _ = served
    files = [write(tmp_path, f"c{i}.json", BELL) for i in range(2)]
    code, out, err = interrupted_run(emu, *files, "--cancel-on-interrupt", "--json")
    assert code == ExitCode.INTERRUPTED
    report = json.loads(out)
    assert report["canceled"] == 2
    assert "resume" not in report
    assert "ionq-async: interrupted: 2 job(s) asked to cancel" in err
    assert {job["status"] for job in emu.jobs()} == {"canceled"}


def test_cancel_journal_cancels_every_job_of_an_interrupted_run(
    served: tuple[Emulator, ManualClock], tmp_path: Path
) -> None:
    emu, _ = served
    files = [write(tmp_path, f"c{i}.json", BELL) for i in range(3)]
    code, out, _ = interrupted_run(emu, *files, "--json")
    assert code == ExitCode.INTERRUPTED
    journal = json.loads(out)["journal"]
    code, out, _ = cli(*connection(emu), "--json", "cancel", "--journal", journal)
    assert code == ExitCode.OK
    assert {row["note"] for row in json.loads(out)} == {"canceled"}
    assert {job["status"] for job in emu.jobs()} == {"canceled"}


def test_resume_finds_a_job_whose_creation_was_under_way_by_its_token(
    served: tuple[Emulator, ManualClock], tmp_path: Path
) -> None:
    emu, clock = served
    code, out, _ = cli(
        *connection(emu),
        "--json",
        "submit",
        write(tmp_path, "bell.json", BELL),
        "--metadata",
        f"{TOKEN_METADATA_KEY}=tok-under-way",
    )
    assert code == 0
    [created] = json.loads(out)
    # The crash came between sending the creation and recording its job id.
    journal = tmp_path / "crashed.jsonl"
    opened = Journal.open(journal, batch="some-batch")
    try:
        import anyio

        anyio.run(
            opened.record_token,
            TokenRecord(unit=0, indices=(0,), token="tok-under-way", at=time.time() - 5),
        )
    finally:
        opened.close()
    clock.advance(3600)
    code, out, err = cli(*connection(emu), "resume", str(journal), "--json")
    assert code == ExitCode.OK, err
    [row] = json.loads(out)["results"]
    assert row["job_id"] == created["id"] and row["status"] == "completed"
    assert row["source"] == "circuit 0"  # no manifest: a journal written by a program
    assert "1 looked up by token" in err
    assert len(emu.jobs()) == 1
    assert journal.exists()  # not in the state folder: the user's file stays


def test_resume_refuses_a_journal_that_a_running_batch_holds(tmp_path: Path) -> None:
    journal = tmp_path / "busy.jsonl"
    opened = Journal.open(journal, batch="running")
    try:
        code, _, err = cli("--base-url", "http://127.0.0.1:9/v0.4", "resume", str(journal))
    finally:
        opened.close()
    assert code == ExitCode.INVALID_INPUT
    assert "is in use by another run" in err


def test_read_journal_reads_any_batch_without_writing(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    opened = Journal.open(journal, batch="fingerprint")
    opened.close()
    before = journal.read_bytes()
    assert read_journal(journal) == JournalState(tokens={}, job_ids={})
    assert journal.read_bytes() == before
    (tmp_path / "empty.jsonl").write_bytes(b"")
    with pytest.raises(JournalError, match="does not start with a header"):
        read_journal(tmp_path / "empty.jsonl")


def test_resume_without_a_journal_in_the_state_folder_says_how_to_name_one() -> None:
    code, _, err = cli("--base-url", "http://127.0.0.1:9/v0.4", "resume")
    assert code == ExitCode.USAGE
    assert "no journal in" in err and "ionq-async resume JOURNAL" in err


def test_cancel_reads_ids_on_stdin_and_names_jobs_already_finished(
    served: tuple[Emulator, ManualClock], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu, clock = served
    bell = write(tmp_path, "bell.json", BELL)
    code, out, _ = cli(*connection(emu), "--json", "submit", bell, bell)
    first, second = (row["id"] for row in json.loads(out))
    clock.advance(3600)
    emu_done = {job["id"]: job["status"] for job in emu.jobs()}
    assert emu_done[first] == "completed"
    code, out, _ = cli(*connection(emu), "--json", "submit", bell)
    [queued] = (row["id"] for row in json.loads(out))
    unknown = "00000000-0000-4000-8000-000000000000"
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{first}\n# a comment\n{queued} {unknown}\n"))
    code, out, _ = cli(*connection(emu), "--json", "cancel")
    assert code == ExitCode.OK  # as the API's bulk cancel: an unknown id is its row
    rows = {row["id"]: row for row in json.loads(out)}
    assert rows[first]["note"] == "already completed: nothing to cancel"
    assert rows[queued]["note"] == "canceled"
    assert rows[unknown]["note"] == "not found"
    # One id by hand, already finished: said so, not a silent success.
    code, out, _ = cli(*connection(emu), "cancel", second)
    assert code == ExitCode.OK
    assert "already completed: nothing to cancel" in out


def test_cancel_from_file(served: tuple[Emulator, ManualClock], tmp_path: Path) -> None:
    emu, _ = served
    bell = write(tmp_path, "bell.json", BELL)
    code, out, _ = cli(*connection(emu), "--json", "submit", bell, bell)
    ids = [row["id"] for row in json.loads(out)]
    id_file = tmp_path / "ids.txt"
    id_file.write_text("\n".join(ids) + "\n", encoding="utf-8")
    code, out, _ = cli(*connection(emu), "--json", "cancel", "--from-file", str(id_file))
    assert code == ExitCode.OK
    assert [row["status"] for row in json.loads(out)] == ["canceled", "canceled"]


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_ctrl_c_on_a_terminal_stops_the_progress_bar_and_says_how_to_resume(
    served: tuple[Emulator, ManualClock], tmp_path: Path
) -> None:
    import pty
    import select

    emu, clock = served
    files = [write(tmp_path, f"c{i}.json", BELL) for i in range(2)]
    main_fd, child_fd = pty.openpty()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")])),
        "COLUMNS": "120",
        "TERM": "xterm",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "ionq_async", *connection(emu), "run", *files],
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
        env=env,
        close_fds=True,
    )
    os.close(child_fd)
    seen = b""

    def read_until(marker: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        while marker not in seen:
            assert time.monotonic() < deadline, seen.decode(errors="replace")
            ready, _, _ = select.select([main_fd], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(main_fd, 65536)
                except OSError:  # the child closed the terminal
                    chunk = b""
                assert chunk or marker in seen, seen.decode(errors="replace")
                seen += chunk

    try:
        read_until(b"running 2")  # the live progress bar: both jobs exist
        child.send_signal(signal.SIGINT)
        read_until(b"ionq-async: interrupted\r\n")
        assert child.wait(timeout=CHILD_TIMEOUT_S) == ExitCode.INTERRUPTED
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(main_fd)
    text = seen.decode(errors="replace")
    assert "ionq-async: interrupted: 2 job(s) keep running on the server" in text
    [resume] = re.findall(r"resume: (ionq-async resume \S+)", text)
    clock.advance(3600)
    code, out, _ = cli(*connection(emu), "--json", *resume.split()[1:])
    assert code == ExitCode.OK
    assert [row["status"] for row in json.loads(out)["results"]] == ["completed"] * 2
    assert len(emu.jobs()) == 2
