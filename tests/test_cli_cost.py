"""The command line asks before spending: the projected cost of QPU jobs, a confirmation on
a terminal (``--yes`` skips it, refused off a terminal), ``--max-cost``, ``--estimate-only``
and ``estimate FILE...``.

Against the emulator over loopback (its QPUs have made-up prices: qpu.aria-1 charges at
least 97.50 usd a job); jobs are counted with the emulator's own counters. Confirmation on
a terminal is answered in a child process on a real pseudo-terminal, and in-process with
``can_ask`` patched where it is defined (``ionq_async.cli.spending``).
"""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)
from batch_helpers import SetPollSchedules

import ionq_async
from ionq_async.batch import Outcome, PollSchedule
from ionq_async.cli import ExitCode, exit_code_for, main
from ionq_async.cli.runner import BatchReport
from ionq_async.emulator import Emulator, EmulatorConfig
from ionq_async.exceptions import BudgetExceededError

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
BELL_QASM = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
h q[0];
cx q[0], q[1];
"""
QPU = "qpu.aria-1"
JOB_MINIMUM_USD = 97.50
ESTIMATE_ROUTE = ("GET", "/v0.4/jobs/estimate")
FAST_POLLING = PollSchedule(initial_s=0.005, factor=1.5, max_s=0.05, jitter=0.1)
CHILD_TIMEOUT_S = 60.0
PACKAGE_ROOT = str(Path(ionq_async.__file__).resolve().parents[1])


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own key and URL never leak into a test."""
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("IONQ_API_URL", raising=False)


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    """QPU jobs are polled every few milliseconds, not on the real 1 s schedule."""
    poll_schedules(FAST_POLLING, FAST_POLLING)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A fresh emulator per test (its counters start at zero), jobs complete at once."""
    with (
        start_blocking_portal("asyncio") as portal,
        portal.wrap_async_context_manager(Emulator(config=EmulatorConfig(time_scale=0.0))) as emu,
    ):
        yield emu


@pytest.fixture
def cli(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``ionq-async ARGS`` against the emulator: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--base-url", emu.url, "--api-key", emu.api_key, *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """Four Bell circuits, a GHZ circuit and an OpenQASM 2 Bell circuit, by name."""
    paths = {}
    for name, data in {
        **{f"bell{i}.json": BELL for i in range(4)},
        "ghz3.json": GHZ3,
        "bell.qasm": BELL_QASM,
    }.items():
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
        paths[name] = str(path)
    return paths


def estimates_asked(emu: Emulator) -> int:
    return emu.stats.requests(*ESTIMATE_ROUTE)


def bells(files: dict[str, str], count: int = 4) -> list[str]:
    return [files[f"bell{i}.json"] for i in range(count)]


# ---------------------------------------------------------------------------------------
# Off a terminal: the projected cost is printed, and nothing is sent without --yes.


def test_a_qpu_run_off_a_terminal_is_refused_without_yes_and_creates_no_job(
    cli: Any, emu: Emulator, files: dict[str, str], tmp_path: Path
) -> None:
    code, out, err = cli("run", *bells(files, 2), "-b", QPU, "--shots", "1000")
    assert code == ExitCode.NOT_CONFIRMED == 6
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == (
        "ionq-async: projected cost: 195.00 usd for 2 jobs on qpu.aria-1 (debiasing not asked for)"
    )
    assert lines[1].startswith("ionq-async: SpendingNotConfirmedError: 2 jobs for 195.00 usd")
    assert "pass --yes" in lines[1]
    assert emu.stats.jobs_created == 0
    # Refused before the batch began: no journal, no manifest left behind.
    state = Path(os.environ["XDG_STATE_HOME"])
    assert not state.exists() or not any(state.rglob("*.json*"))


def test_a_qpu_submit_off_a_terminal_is_refused_without_yes(
    cli: Any, emu: Emulator, files: dict[str, str]
) -> None:
    code, _, err = cli("submit", files["ghz3.json"], "-b", QPU, "--json")
    assert code == ExitCode.NOT_CONFIRMED
    assert "projected cost: 97.50 usd for 1 job on qpu.aria-1" in err
    assert emu.stats.jobs_created == 0


def test_yes_sends_the_jobs_after_printing_their_projected_cost(
    cli: Any, emu: Emulator, files: dict[str, str]
) -> None:
    code, out, err = cli("run", *bells(files, 2), "-b", QPU, "--shots", "1000", "--yes", "--json")
    assert code == ExitCode.OK, err
    assert [row["status"] for row in json.loads(out)["results"]] == ["completed"] * 2
    assert "projected cost: 195.00 usd for 2 jobs on qpu.aria-1" in err
    assert emu.stats.jobs_created == 2


def test_debiasing_says_what_it_adds(cli: Any, emu: Emulator, files: dict[str, str]) -> None:
    code, _, err = cli("submit", files["bell0.json"], "-b", QPU, "--shots", "1000", "--debiasing")
    assert code == ExitCode.NOT_CONFIRMED
    [line] = [line for line in err.splitlines() if "projected cost" in line]
    assert line.endswith("(debiasing adds 24.38 usd)")  # the emulator's 1.25 x, over 97.50


def test_a_simulator_run_prints_no_cost_and_asks_nothing(
    cli: Any, emu: Emulator, files: dict[str, str]
) -> None:
    code, _out, err = cli("run", *bells(files, 2), "--shots", "100", "--json")
    assert code == ExitCode.OK, err
    assert "cost" not in err
    assert estimates_asked(emu) == 0
    assert emu.stats.jobs_created == 2


def test_a_qpu_dry_run_is_free_and_asks_nothing(
    cli: Any, emu: Emulator, files: dict[str, str]
) -> None:
    code, _, err = cli("submit", files["bell0.json"], "-b", QPU, "--dry-run", "--json")
    assert code == ExitCode.OK, err
    assert "cost" not in err
    assert emu.stats.jobs_created == 1


# ---------------------------------------------------------------------------------------
# On a terminal: the question, answered.


def _on_a_terminal(emu: Emulator, args: list[str], answer: bytes) -> tuple[int, str]:
    """``ionq-async ARGS`` in a child whose stdin, stdout and stderr are a pseudo-terminal;
    ``answer`` is typed once the question shows. Returns (exit code, everything shown)."""
    import pty

    main_fd, child_fd = pty.openpty()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")])),
        "COLUMNS": "200",
        "TERM": "dumb",
    }
    connection = ["--base-url", emu.url, "--api-key", emu.api_key]
    child = subprocess.Popen(
        [sys.executable, "-m", "ionq_async", *connection, *args],
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
        env=env,
        close_fds=True,
    )
    os.close(child_fd)
    seen = b""

    def read_until(done: Callable[[], bool]) -> None:
        nonlocal seen
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        while not done():
            assert time.monotonic() < deadline, seen.decode(errors="replace")
            ready, _, _ = select.select([main_fd], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(main_fd, 65536)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    return
                seen += chunk

    try:
        read_until(lambda: b"[y/N] " in seen)
        os.write(main_fd, answer)
        read_until(lambda: False)  # until the child closes the terminal
        code = child.wait(timeout=CHILD_TIMEOUT_S)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(main_fd)
    return code, seen.decode(errors="replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_on_a_terminal_yes_sends_the_jobs(emu: Emulator, files: dict[str, str]) -> None:
    code, shown = _on_a_terminal(emu, ["submit", *bells(files, 2), "-b", QPU], b"y\n")
    assert code == ExitCode.OK, shown
    assert "Send 2 jobs for 195.00 usd? [y/N] " in shown
    assert emu.stats.jobs_created == 2


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_on_a_terminal_no_sends_nothing(emu: Emulator, files: dict[str, str]) -> None:
    code, shown = _on_a_terminal(emu, ["submit", *bells(files, 2), "-b", QPU], b"n\n")
    assert code == ExitCode.NOT_CONFIRMED, shown
    assert "not confirmed" in shown
    assert emu.stats.jobs_created == 0


@pytest.mark.parametrize(
    ("answer", "jobs", "code"),
    [
        ("y\n", 1, ExitCode.OK),
        ("YES\n", 1, ExitCode.OK),
        ("\n", 0, ExitCode.NOT_CONFIRMED),  # Enter: the default is no
        ("nope\n", 0, ExitCode.NOT_CONFIRMED),
        ("", 0, ExitCode.NOT_CONFIRMED),  # end of input
    ],
)
def test_the_answer_decides(
    cli: Any,
    emu: Emulator,
    files: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    jobs: int,
    code: int,
) -> None:
    monkeypatch.setattr("ionq_async.cli.spending.can_ask", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    got, _, err = cli("run", files["ghz3.json"], "-b", QPU, "--json")
    assert got == code, err
    assert "Send 1 job for 97.50 usd? [y/N] " in err
    assert emu.stats.jobs_created == jobs


def test_yes_asks_nothing_even_on_a_terminal(
    cli: Any, emu: Emulator, files: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ionq_async.cli.spending.can_ask", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # an answer read would be "no"
    code, _, err = cli("submit", files["ghz3.json"], "-b", QPU, "--yes", "--json")
    assert code == ExitCode.OK, err
    assert "[y/N]" not in err
    assert emu.stats.jobs_created == 1


# ---------------------------------------------------------------------------------------
# --max-cost.


def test_over_max_cost_nothing_is_created_and_one_line_says_why(
    cli: Any, emu: Emulator, files: dict[str, str]
) -> None:
    code, out, err = cli("run", *bells(files, 3), "-b", QPU, "--max-cost", "200", "--yes")
    assert code == ExitCode.OVER_BUDGET == 7
    assert out == ""
    assert err.splitlines()[1:] == [
        "ionq-async: BudgetExceededError: the batch's estimated cost 292.50 usd is over its "
        "budget of 200.00 usd (3 jobs); no job was created"
    ]
    assert emu.stats.jobs_created == 0


def test_over_max_cost_nothing_is_asked(
    cli: Any, emu: Emulator, files: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ionq_async.cli.spending.can_ask", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    code, _, err = cli("submit", *bells(files, 3), "-b", QPU, "--max-cost", "200")
    assert code == ExitCode.OVER_BUDGET
    assert "[y/N]" not in err
    assert emu.stats.jobs_created == 0


def test_a_job_that_cannot_be_priced_is_not_sent_under_max_cost(
    cli: Any, emu: Emulator, files: dict[str, str], tmp_path: Path
) -> None:
    variational = tmp_path / "variational.json"
    payload = {"type": "ionq.variational.v1", "backend": QPU, "input": {"data": 1}}
    variational.write_text(json.dumps(payload), encoding="utf-8")
    args = ["submit", files["bell0.json"], str(variational), "-b", QPU, "--yes"]
    code, _, err = cli(*args, "--max-cost", "1000")
    assert code == ExitCode.NOT_CONFIRMED
    assert "at least 97.50 usd for 2 jobs" in err
    assert "variational.json: cannot be priced, so --max-cost cannot hold it" in err
    assert emu.stats.jobs_created == 0


def test_within_max_cost_the_batch_runs_with_its_budget(
    cli: Any, emu: Emulator, files: dict[str, str]
) -> None:
    code, out, err = cli("run", *bells(files, 3), "-b", QPU, "--max-cost", "300", "--yes", "--json")
    assert code == ExitCode.OK, err
    assert json.loads(out)["summary"]["completed"] == 3
    assert emu.stats.jobs_created == 3


def test_packing_brings_a_batch_under_its_budget(
    cli: Any, emu: Emulator, files: dict[str, str]
) -> None:
    code, out, err = cli(
        "run", *bells(files), "-b", QPU, "--pack", "--max-cost", "100", "--yes", "--json"
    )
    assert code == ExitCode.OK, err
    assert "projected cost: 97.50 usd for 1 job on qpu.aria-1" in err
    assert json.loads(out)["summary"]["completed"] == 4
    assert emu.stats.jobs_created == 1  # one multi-circuit job (its children are the API's)


def test_a_circuit_left_unsent_by_the_budget_is_a_row_and_exits_7() -> None:
    # While a batch runs, circuits the budget stops are outcomes carrying the error.
    stopped = BudgetExceededError(100.0, committed=97.5, next_cost=97.5, currency="usd", index=1)
    outcome = Outcome(index=1, name=None, circuit=BELL, job=None, result=None, error=stopped)
    report = BatchReport(total=2, outcomes={1: outcome}, elapsed_s=1.0, timed_out=False)
    assert report.exit_code() == ExitCode.OVER_BUDGET
    assert report.summary()["failures"] == [
        {"type": "BudgetExceededError", "message": str(stopped)}
    ]


def test_the_new_errors_have_their_own_exit_codes() -> None:
    from ionq_async.cli.exit_codes import SpendingNotConfirmedError

    assert exit_code_for(SpendingNotConfirmedError("not sent")) == 6
    assert exit_code_for(BudgetExceededError(1.0, committed=1.0, next_cost=1.0)) == 7


def test_a_negative_max_cost_is_a_usage_error(cli: Any, files: dict[str, str]) -> None:
    code, _, err = cli("run", files["bell0.json"], "-b", QPU, "--max-cost", "-1")
    assert code == ExitCode.USAGE
    assert "--max-cost must be a non-negative amount" in err


# ---------------------------------------------------------------------------------------
# --estimate-only and estimate FILE...


def test_estimate_only_creates_no_job_and_asks_once_per_distinct_shape(
    cli: Any, emu: Emulator, files: dict[str, str]
) -> None:
    code, out, err = cli(
        "run", *bells(files), files["ghz3.json"], "-b", QPU, "--shots", "1000",
        "--estimate-only", "--json",
    )  # fmt: skip
    assert code == ExitCode.OK, err
    priced = json.loads(out)
    assert (priced["total"], priced["currency"], priced["jobs"]) == (487.5, "usd", 5)
    assert [(s["qubits"], s["jobs"], s["total"]) for s in priced["shapes"]] == [
        (2, 4, 390.0),
        (3, 1, 97.5),
    ]
    assert estimates_asked(emu) == 2  # two distinct shapes, five circuits
    assert emu.stats.jobs_created == 0


def test_estimate_only_prints_a_table_of_shapes(
    cli: Any, emu: Emulator, files: dict[str, str]
) -> None:
    code, out, _ = cli("submit", *bells(files, 2), "-b", QPU, "--estimate-only")
    assert code == ExitCode.OK
    assert out.splitlines() == [
        "2 jobs on qpu.aria-1: circuit, 2 qubits, 1 1q + 1 2q gates, 100 shots, "
        "debiasing off: 97.50 usd each, 195.00 usd",
        "total: 195.00 usd for 2 jobs on qpu.aria-1 (debiasing not asked for), "
        "2 circuit(s), nothing sent",
    ]
    assert emu.stats.jobs_created == 0


def test_estimate_files_prices_a_whole_batch_as_run_reads_it(
    cli: Any, emu: Emulator, files: dict[str, str]
) -> None:
    pytest.importorskip("openqasm3")
    code, out, err = cli(
        "estimate", *bells(files, 3), files["bell.qasm"], files["ghz3.json"], "-b", QPU, "--json"
    )
    assert code == ExitCode.OK, err
    priced = json.loads(out)
    assert (priced["total"], priced["jobs"], priced["circuits"]) == (487.5, 5, 5)
    assert estimates_asked(emu) == 2  # the OpenQASM Bell circuit has the JSON ones' shape
    assert emu.stats.jobs_created == 0


def test_estimate_files_respects_pack(cli: Any, emu: Emulator, files: dict[str, str]) -> None:
    code, out, err = cli(
        "estimate", *bells(files), files["ghz3.json"], "-b", QPU, "--pack", "--json"
    )
    assert code == ExitCode.OK, err
    priced = json.loads(out)
    assert (priced["total"], priced["jobs"], priced["circuits"]) == (97.5, 1, 5)
    assert [s["type"] for s in priced["shapes"]] == ["ionq.multi-circuit.v1"]
    assert estimates_asked(emu) == 1


def test_estimate_files_defaults_to_a_qpu(cli: Any, files: dict[str, str]) -> None:
    code, out, _ = cli("estimate", files["bell0.json"], "--json")
    assert code == ExitCode.OK
    assert json.loads(out)["backend"] == "qpu.forte-1"


def test_estimate_by_size_still_works(cli: Any, emu: Emulator) -> None:
    code, out, err = cli("estimate", "--qubits", "2", "--shots", "100", "--json")
    assert code == ExitCode.OK, err
    priced = json.loads(out)
    assert priced["estimate_context"]["backend"] == "qpu.forte-1"  # the default, as before
    assert priced["estimated_total_cost"] == JOB_MINIMUM_USD
    assert estimates_asked(emu) == 1


def test_estimate_files_refuses_size_options(cli: Any, files: dict[str, str]) -> None:
    code, _, err = cli("estimate", files["bell0.json"], "--qubits", "3")
    assert code == ExitCode.USAGE
    assert "--qubits describes one job by its size" in err


def test_estimate_files_refuses_a_bad_file(cli: Any, files: dict[str, str], tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.json")
    code, _, err = cli("estimate", files["bell0.json"], missing)
    assert code == ExitCode.INVALID_INPUT
    assert "missing.json: cannot read" in err
