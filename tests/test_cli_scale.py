"""``run`` at scale and the first ten minutes: bad files, big batches, narrow output, help
that fits a screen, and errors that point to the fix. Against an emulator over loopback."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)
from batch_helpers import SetPollSchedules

from ionq_async.batch import PollSchedule
from ionq_async.cli import ExitCode, build_parser, main
from ionq_async.emulator import BackgroundEmulator, Emulator, EmulatorConfig

BELL = {
    "qubits": 2,
    "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}],
}
WIDE = {"qubits": 5, "circuit": [{"gate": "h", "target": 4}]}
FAST_POLLING = PollSchedule(initial_s=0.005, factor=1.5, max_s=0.05, jitter=0.1)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("IONQ_API_URL", raising=False)


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    poll_schedules(FAST_POLLING, FAST_POLLING)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """Jobs end at once; at most 4 qubits are simulated (a 5-qubit circuit fails)."""
    config = EmulatorConfig(time_scale=0.0, max_simulated_qubits=4)
    with BackgroundEmulator(config=config) as emulator:
        yield emulator


def write(folder: Path, name: str, data: Any) -> str:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return int(code), out.getvalue(), err.getvalue()


def connected(emu: Emulator, *argv: str) -> tuple[int, str, str]:
    return cli("--base-url", emu.url, "--api-key", emu.api_key, *argv)


# -- one bad file is one bad row --------------------------------------------------------


def test_a_mixed_batch_runs_the_good_files_and_lists_each_bad_one(
    emu: Emulator, tmp_path: Path
) -> None:
    good = write(tmp_path, "good.json", BELL)
    typo = write(tmp_path, "typo.json", "{not json")
    missing = str(tmp_path / "missing.json")
    payload = write(tmp_path, "var.json", {"type": "ionq.variational.v1", "input": {"data": 1}})
    other = write(tmp_path, "other.json", BELL)
    code, out, _ = connected(emu, "run", good, typo, missing, payload, other, "--json")
    assert code == ExitCode.JOB_FAILED
    report = json.loads(out)
    rows = report["results"]
    assert [row["source"] for row in rows] == [good, typo, missing, payload, other]
    assert [row["status"] for row in rows] == [
        "completed",
        "invalid",
        "invalid",
        "invalid",
        "completed",
    ]
    assert "not valid JSON" in rows[1]["error"]["message"]
    assert "cannot read" in rows[2]["error"]["message"]
    assert "use submit" in rows[3]["error"]["message"]
    assert report["summary"]["invalid"] == 3
    code, out, _ = connected(emu, "run", good, typo)
    assert code == ExitCode.JOB_FAILED
    [bad_line] = [line for line in out.splitlines() if line.startswith(typo)]
    assert "invalid" in bad_line and "not valid JSON" in bad_line


def test_strict_refuses_the_whole_run_before_anything_is_sent(
    emu: Emulator, tmp_path: Path
) -> None:
    good = write(tmp_path, "good.json", BELL)
    typo = write(tmp_path, "typo.json", "{not json")
    empty = write(tmp_path, "empty.json", {})
    jobs_before = len(emu.jobs())
    code, out, err = connected(emu, "run", good, typo, empty, "--strict", "--json")
    assert code == ExitCode.INVALID_INPUT
    assert out == ""
    assert "2 of 3 files cannot run" in err and typo in err and empty in err
    assert len(emu.jobs()) == jobs_before


# -- output that scales --------------------------------------------------------------------


def test_a_5000_file_run_prints_a_bounded_summary_and_writes_every_result(
    emu: Emulator, tmp_path: Path
) -> None:
    files = [write(tmp_path, f"c{i:04}.json", BELL) for i in range(4998)]
    files.insert(1000, write(tmp_path, "bad-a.json", "[1, 2]"))
    files.insert(3000, write(tmp_path, "wide.json", WIDE))
    code, out, err = connected(emu, "run", *files, "--shots", "10")
    assert code == ExitCode.JOB_FAILED
    lines = out.splitlines()
    assert len(lines) <= 20 + 5  # --rows (20) problems at most, plus the summary lines
    assert lines[0] == "5000 circuits: 4998 completed, 1 invalid, 1 failed"
    assert any(line.lstrip().startswith(f"{files[1000]}  invalid") for line in lines)
    assert any("NotEnoughQubits" in line for line in lines)
    [where] = [line for line in lines if line.startswith("every result: ")]
    full = Path(where.removeprefix("every result: ").split(" (")[0])
    assert len(json.loads(full.read_text(encoding="utf-8"))["results"]) == 5000
    assert len(err.splitlines()) <= 3  # the journal's line, the batch's, a skipped file


def test_rows_counts_circuits_and_top_counts_outcomes(emu: Emulator, tmp_path: Path) -> None:
    files = [write(tmp_path, f"c{i}.json", BELL) for i in range(3)]
    code, out, _ = connected(emu, "run", *files, "--top", "1")
    assert code == ExitCode.OK
    rows = [line for line in out.splitlines() if line.startswith(str(tmp_path))]
    assert len(rows) == 3
    assert all(line.endswith("…") and line.count(": ") == 1 for line in rows)
    code, out, _ = connected(emu, "run", *files, "--rows", "2")
    assert code == ExitCode.OK
    assert out.splitlines()[0] == "3 circuits: 3 completed"
    assert not any(line.startswith(str(tmp_path)) for line in out.splitlines())


def test_a_narrow_terminal_never_wraps_ids_or_errors(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    files = [write(tmp_path, "bell.json", BELL), write(tmp_path, "wide.json", WIDE)]
    code, out, _ = connected(emu, "run", *files, "--no-journal")
    assert code == ExitCode.JOB_FAILED
    _, out_json, _ = connected(emu, "run", *files, "--no-journal", "--json")
    failed = json.loads(out_json)["results"][1]
    assert failed["status"] == "failed"
    lines = out.splitlines()
    assert sum(len(UUID.findall(line)) for line in lines) >= 2  # each id whole on a line
    assert any(failed["error"]["message"].split(": ", 1)[1] in line for line in lines)
    assert not any(set(line) & set("│┃") for line in lines)  # no table columns


# -- errors that point to the fix ---------------------------------------------------------


def test_a_base_url_without_the_version_path_suggests_it(emu: Emulator) -> None:
    bare = emu.url.removesuffix("/v0.4")
    code, _, err = cli("--base-url", bare, "--api-key", emu.api_key, "backends")
    assert code == ExitCode.API
    assert f"ionq-async: hint: the base URL has no /v0.4: did you mean {bare}/v0.4?" in err


def test_a_loopback_emulator_needs_no_key(emu: Emulator, tmp_path: Path) -> None:
    code, out, err = cli("--base-url", emu.url, "--json", "run", write(tmp_path, "b.json", BELL))
    assert code == ExitCode.OK, err
    assert json.loads(out)["results"][0]["status"] == "completed"


def test_a_loopback_server_wanting_a_key_says_exactly_what_to_pass() -> None:
    with BackgroundEmulator(api_keys=["only-this-key"]) as strict:
        code, _, err = cli("--base-url", strict.url, "jobs")
    assert code == ExitCode.API
    assert "AuthenticationError" in err
    assert "hint: no API key was given" in err and "--api-key KEY" in err


@pytest.mark.parametrize("command", ["status", "result", "cost", "cancel"])
def test_job_commands_refuse_a_fresh_in_process_emulator(command: str) -> None:
    code, _, err = cli("--emulator", command, "01a247de-9bc2-79ec-9343-dfd963735d44")
    assert code == ExitCode.USAGE
    assert "knows no job" in err


# -- help that helps ----------------------------------------------------------------------


def help_text(*argv: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", "100")
    code, out, _ = cli(*argv, "--help")
    assert code == 0
    return out


def subcommands() -> list[str]:
    import argparse

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    raise AssertionError("no subcommands")


@pytest.mark.parametrize("command", subcommands())
def test_each_commands_help_fits_a_screen_with_examples(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = help_text(command, monkeypatch=monkeypatch)
    assert len(text.splitlines()) <= 50
    assert "examples:\n" in text
    if command not in ("emulator", "demo"):
        assert "--api-key" not in text.split("examples:")[0]  # shared options: once, on top
        assert "see `ionq-async --help`" in text


def test_demo_help_lists_no_connection_options(monkeypatch: pytest.MonkeyPatch) -> None:
    text = help_text("demo", monkeypatch=monkeypatch)
    for flag in ("--api-key", "--base-url", "--emulator", "--retries", "--request-timeout"):
        assert flag not in text
    assert "--json" in text


def test_every_option_has_help_text(monkeypatch: pytest.MonkeyPatch) -> None:
    estimate = help_text("estimate", monkeypatch=monkeypatch)
    assert re.search(r"--1q-gates N\s+number of single-qubit gates", estimate)
    assert re.search(r"--2q-gates N\s+number of two-qubit gates", estimate)
    emulator = help_text("emulator", monkeypatch=monkeypatch)
    assert re.search(r"--debug\s+print a traceback with an error", emulator)
    top = help_text(monkeypatch=monkeypatch)
    assert "--api-key KEY" in top and "resume" in top
