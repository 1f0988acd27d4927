"""The ``ionq-async`` command: every command against the emulator, output and exit codes.

Commands run in-process through ``main([...])``; the emulator serves them from its own
event loop in a worker thread (an anyio blocking portal), over a real loopback socket.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)
from batch_helpers import SetPollSchedules
from conftest import readline_within

from ionq_async._payload import merge_payload
from ionq_async.batch import PollSchedule
from ionq_async.cli import ExitCode, build_parser, exit_code_for, main
from ionq_async.emulator import Emulator, EmulatorConfig
from ionq_async.exceptions import (
    AuthenticationError,
    CircuitError,
    ConfigurationError,
    IonQConnectionError,
    JobFailed,
    NotFoundError,
)
from ionq_async.models import Failure, Job, JobStatus

BELL = {
    "gateset": "qis",
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
SECRET = "sk-test-0123456789abcdef-never-print-me"
FAST_POLLING = PollSchedule(initial_s=0.005, factor=1.5, max_s=0.05, jitter=0.1)
HANG_GUARD_S = 30.0


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own key and URL never leak into a test."""
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("IONQ_API_URL", raising=False)


@pytest.fixture(autouse=True)
def state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``run``'s default journals go to a folder of the test's own, never the user's."""
    folder = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    return folder / "ionq-async"


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    """Commands poll every few milliseconds, not on the real 100 ms / 1 s schedules."""
    poll_schedules(FAST_POLLING, FAST_POLLING)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[BlockingPortal, Emulator]]:
    """One emulator for the module, on its own loop in a worker thread; jobs are instant."""
    with (
        start_blocking_portal("asyncio") as portal,
        portal.wrap_async_context_manager(Emulator(config=EmulatorConfig(time_scale=0.0))) as emu,
    ):
        yield portal, emu


@pytest.fixture
def server(served: tuple[BlockingPortal, Emulator]) -> Emulator:
    """The module's emulator."""
    return served[1]


async def _simulations_done(emu: Emulator) -> None:
    with anyio.fail_after(HANG_GUARD_S):
        await emu.wait_for_simulations()


@pytest.fixture
def simulations_done(served: tuple[BlockingPortal, Emulator]) -> Callable[[], None]:
    """Block until every simulation submitted so far has finished (its result is ready)."""
    portal, emu = served
    return lambda: portal.call(_simulations_done, emu)


@pytest.fixture
def cli(server: Any, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run a command against the emulator; returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--base-url", server.url, "--api-key", server.api_key, *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def cli_json(cli: Any) -> Any:
    """Run a command with --json; returns the parsed stdout (and checks exit 0)."""

    def run(*args: str) -> Any:
        code, out, err = cli(*args, "--json")
        assert code == 0, err
        return json.loads(out)

    return run


def write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------------------------------
# Usage, help and exit codes (no server needed).


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for line in ("0    success", "1    a job failed", "2    usage", "3    API", "4    network"):
        assert line in out
    assert "5    invalid input" in out


def test_every_command_is_listed_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--help"])
    out = capsys.readouterr().out
    for command in [
        "backends",
        "whoami",
        "submit",
        "run",
        "status",
        "result",
        "cost",
        "estimate",
        "jobs",
        "cancel",
        "emulator",
        "demo",
    ]:
        assert command in out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == ExitCode.USAGE
    assert "invalid choice" in capsys.readouterr().err


def test_missing_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == ExitCode.USAGE
    assert "ID" in capsys.readouterr().err


def test_common_options_work_before_and_after_the_command() -> None:
    parser = build_parser()
    before = parser.parse_args(["--json", "--emulator", "backends"])
    after = parser.parse_args(["backends", "--json", "--emulator"])
    assert (before.json, before.emulator) == (after.json, after.emulator) == (True, True)
    neither = parser.parse_args(["backends"])
    assert (neither.json, neither.emulator, neither.api_key) == (False, False, None)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (JobFailed(Job(id="j", status=JobStatus.FAILED, failure=Failure(code="X"))), 1),
        (ConfigurationError("plain http"), 2),
        (AuthenticationError("bad key", status=401), 3),
        (NotFoundError("no such job", status=404), 3),
        (IonQConnectionError("refused"), 4),
        (CircuitError("bad gate"), 5),
        (RuntimeError("bug"), 70),
    ],
)
def test_each_kind_of_error_has_its_documented_exit_code(error: Exception, code: int) -> None:
    assert exit_code_for(error) == code


def test_a_missing_key_gives_one_clear_line_and_exit_3(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["whoami"])
    err = capsys.readouterr().err
    assert code == ExitCode.API
    assert err.count("\n") == 1
    assert "no API key" in err
    assert "IONQ_API_KEY" in err
    assert "Traceback" not in err


def test_unreachable_server_is_a_network_error(capsys: pytest.CaptureFixture[str]) -> None:
    # Port 9 (discard) on loopback: nothing listens there, the connection is refused.
    args = ["--base-url", "http://127.0.0.1:9/v0.4", "--api-key", SECRET, "--retries", "0"]
    code = main([*args, "whoami"])
    err = capsys.readouterr().err
    assert code == ExitCode.NETWORK
    assert err.startswith("ionq-async: IonQConnectionError")
    assert SECRET not in err


def test_plain_http_to_a_remote_host_is_refused_as_a_usage_error_naming_the_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["--base-url", "http://example.com/v0.4", "--api-key", SECRET, "whoami"])
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE
    assert err == (
        "ionq-async: ConfigurationError: refusing plain http:// to example.com: the API key "
        "would travel unencrypted; use https://, or add --allow-insecure-http if you really "
        "mean it\n"
    )
    assert SECRET not in err


def test_a_base_url_that_is_not_http_keeps_the_clients_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["--base-url", "ftp://example.com/v0.4", "--api-key", SECRET, "whoami"])
    assert code == ExitCode.USAGE
    assert "base URL must be http(s)://host[/path]" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform != "linux", reason="Linux routes 0.0.0.0 to loopback")
def test_allow_insecure_http_lets_plain_http_reach_a_host_that_is_not_loopback(
    server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # 0.0.0.0 is not a loopback address, yet on Linux a connection to it reaches the
    # emulator listening on 127.0.0.1: a non-loopback URL with no network involved.
    url = server.url.replace("127.0.0.1", "0.0.0.0")
    args = ["--base-url", url, "--api-key", server.api_key, "--json", "whoami"]
    assert main(args) == ExitCode.USAGE
    assert "add --allow-insecure-http" in capsys.readouterr().err
    assert main([*args, "--allow-insecure-http"]) == 0
    assert "key_id" in json.loads(capsys.readouterr().out)


def test_a_file_that_is_not_json_is_invalid_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "broken.json", "{not json")
    code = main(["--api-key", SECRET, "--base-url", "http://127.0.0.1:9/v0.4", "submit", path])
    err = capsys.readouterr().err
    assert code == ExitCode.INVALID_INPUT
    assert "InputFileError" in err
    assert "broken.json: not valid JSON (line 1" in err


def test_a_missing_file_is_invalid_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nope.json")
    code = main(["--api-key", SECRET, "--base-url", "http://127.0.0.1:9/v0.4", "run", missing])
    assert code == ExitCode.INVALID_INPUT
    assert "nope.json: cannot read" in capsys.readouterr().err


def test_an_invalid_circuit_is_invalid_input_naming_file_and_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path, "bad.json", {"qubits": 2, "circuit": [{"gate": "hadamard", "target": 0}]}
    )
    code = main(["--api-key", SECRET, "--base-url", "http://127.0.0.1:9/v0.4", "submit", path])
    err = capsys.readouterr().err
    assert code == ExitCode.INVALID_INPUT
    assert "CircuitError" in err
    assert "bad.json" in err
    assert "gate 0" in err


def test_a_json_object_that_is_no_job_input_is_invalid_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "other.json", {"hello": "world"})
    code = main(["--api-key", SECRET, "--base-url", "http://127.0.0.1:9/v0.4", "submit", path])
    assert code == ExitCode.INVALID_INPUT
    assert "neither a circuit input" in capsys.readouterr().err


def test_command_line_options_override_a_payloads_own_fields() -> None:
    payload = {
        "type": "ionq.circuit.v1",
        "backend": "qpu.aria-1",
        "shots": 10,
        "noise": {"model": "aria-1", "seed": 1},
        "metadata": {"a": "1"},
        "input": BELL,
    }
    merged = merge_payload(
        payload,
        {"backend": "simulator", "shots": 500, "noise_seed": 7, "metadata": {"b": "2"}},
    )
    assert merged["backend"] == "simulator"
    assert merged["shots"] == 500
    assert merged["noise"] == {"model": "aria-1", "seed": 7}
    assert merged["metadata"] == {"a": "1", "b": "2"}
    assert merged["input"] == BELL
    assert payload["shots"] == 10  # the file's payload is left alone


# ---------------------------------------------------------------------------------------
# Every command against the emulator.


@pytest.fixture(scope="module")
def strict_server() -> Iterator[Any]:
    """An emulator that accepts one key only, with real (short) job durations."""
    config = EmulatorConfig(qpu_queue_s=30.0, qpu_run_s=30.0)
    with (
        start_blocking_portal("asyncio") as portal,
        portal.wrap_async_context_manager(
            Emulator(api_keys=["the-right-key"], config=config)
        ) as emu,
    ):
        yield emu


def test_backends_lists_the_simulator_as_json(cli_json: Any) -> None:
    backends = cli_json("backends")
    by_name = {b["backend"]: b for b in backends}
    assert by_name["simulator"]["qubits"] == 29
    assert "qpu.forte-1" in by_name


def test_backends_draws_a_table_for_people(cli: Any) -> None:
    code, out, _ = cli("backends")
    assert code == 0
    assert "simulator" in out
    assert "qubits" in out


def test_whoami_shows_the_key_id_never_the_key(cli: Any, server: Any) -> None:
    code, out, err = cli("whoami", "--json")
    assert code == 0
    me = json.loads(out)
    assert set(me) >= {"key_id", "project_id"}
    assert server.api_key not in out + err


def test_submit_prints_the_new_job_ids(cli_json: Any, tmp_path: Path) -> None:
    bell = write(tmp_path, "bell.json", BELL)
    ghz = write(tmp_path, "ghz.json", GHZ3)
    created = cli_json("submit", bell, ghz)
    assert [row["file"] for row in created] == [bell, ghz]
    assert all(row["status"] == "submitted" for row in created)
    assert len({row["id"] for row in created}) == 2


def test_submit_reads_a_circuit_from_stdin(cli_json: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(BELL)))
    [created] = cli_json("submit", "-")
    assert created["file"] == "-"
    assert cli_json("status", created["id"])["backend"] == "simulator"


def test_submit_sends_the_job_options(cli_json: Any, tmp_path: Path) -> None:
    bell = write(tmp_path, "bell.json", BELL)
    [created] = cli_json(
        "submit", bell, "--shots", "200", "--name", "opts", "--noise-model", "aria-1",
        "--noise-seed", "3", "--metadata", "team=qa",
    )  # fmt: skip
    job = cli_json("status", created["id"])
    assert job["name"] == "opts"
    assert job["shots"] == 200
    assert job["noise"] == {"model": "aria-1", "seed": 3}
    assert job["metadata"]["team"] == "qa"


def test_submit_sends_a_whole_payload_with_command_line_overrides(
    cli_json: Any, tmp_path: Path
) -> None:
    payload = {"type": "ionq.circuit.v1", "backend": "simulator", "shots": 50, "name": "file",
               "input": BELL}  # fmt: skip
    path = write(tmp_path, "payload.json", payload)
    [created] = cli_json("submit", path, "--shots", "300")
    job = cli_json("status", created["id"])
    assert (job["name"], job["shots"]) == ("file", 300)


def test_submit_dry_run_creates_a_dry_run_job(cli_json: Any, tmp_path: Path) -> None:
    [created] = cli_json("submit", write(tmp_path, "bell.json", BELL), "--dry-run")
    assert cli_json("status", created["id"])["dry_run"] is True


def test_status_of_an_unknown_job_is_an_api_error(cli: Any) -> None:
    code, out, err = cli("status", "00000000-0000-0000-0000-000000000000")
    assert code == ExitCode.API
    assert out == ""
    assert err.startswith("ionq-async: NotFoundError: 404")
    assert err.count("\n") == 1


def test_status_draws_the_jobs_fields(cli: Any, cli_json: Any, tmp_path: Path) -> None:
    [created] = cli_json("submit", write(tmp_path, "bell.json", BELL), "--name", "shown")
    code, out, _ = cli("status", created["id"])
    assert code == 0
    assert "shown" in out
    assert "simulator" in out


def test_run_one_file_prints_counts(cli: Any, cli_json: Any, tmp_path: Path) -> None:
    bell = write(tmp_path, "bell.json", BELL)
    report = cli_json("run", bell, "--shots", "1000")
    [entry] = report["results"]
    assert entry["status"] == "completed"
    assert entry["bitstring_counts"] == {"00": 500, "11": 500}
    assert entry["counts"] == {"0": 500, "3": 500}
    assert report["summary"]["completed"] == 1
    code, out, _ = cli("run", bell, "--shots", "1000")
    assert code == 0
    assert "11" in out
    assert "500" in out


def test_run_many_files_goes_through_the_batch_engine(cli: Any, tmp_path: Path) -> None:
    files = [write(tmp_path, f"c{i}.json", BELL if i % 2 else GHZ3) for i in range(6)]
    code, out, err = cli("run", *files, "--shots", "100", "--json")
    assert code == 0
    # No progress bar when the output is JSON: only the journal's and the batch's lines.
    assert [line.split(" ", 2)[1] for line in err.splitlines()] == ["journal", "submitted"]
    report = json.loads(out)
    assert [e["source"] for e in report["results"]] == files
    assert report["results"][0]["bitstring_counts"] == {"000": 50, "111": 50}
    assert report["summary"]["completed"] == 6
    assert report["summary"]["jobs_per_s"] > 0


def test_run_many_draws_one_row_per_circuit_and_a_summary(cli: Any, tmp_path: Path) -> None:
    files = [write(tmp_path, f"c{i}.json", BELL) for i in range(3)]
    code, out, _ = cli("run", *files, "--shots", "10")
    assert code == 0
    assert out.count("completed") >= 3
    assert "completed: 3/3" in out


def test_run_of_a_multi_circuit_file_gives_one_result_per_circuit(
    cli_json: Any, tmp_path: Path
) -> None:
    multi = write(tmp_path, "multi.json", {"gateset": "qis", "circuits": [BELL, GHZ3]})
    report = cli_json("run", multi, "--shots", "10")
    assert [e["source"] for e in report["results"]] == [f"{multi}#0", f"{multi}#1"]
    assert report["results"][1]["bitstring_counts"] == {"000": 5, "111": 5}


def test_run_with_a_job_that_fails_exits_1_and_names_the_reason(cli: Any, tmp_path: Path) -> None:
    wide = {"qubits": 64, "circuit": [{"gate": "h", "target": 0}]}
    files = [write(tmp_path, "bell.json", BELL), write(tmp_path, "wide.json", wide)]
    code, out, _ = cli("run", *files, "--json")
    report = json.loads(out)
    assert code == ExitCode.JOB_FAILED
    bell, failed = report["results"]
    assert bell["status"] == "completed"
    assert failed["status"] == "failed"
    assert failed["error"]["type"] == "JobFailed"
    assert failed["error"]["code"] == "NotEnoughQubits"
    assert report["summary"]["failed"] == 1


def test_result_gives_probabilities_or_counts(
    cli_json: Any, simulations_done: Callable[[], None], tmp_path: Path
) -> None:
    [created] = cli_json("submit", write(tmp_path, "bell.json", BELL), "--shots", "100")
    simulations_done()  # jobs take no emulated time; their results are ready once simulated
    probabilities = cli_json("result", created["id"])
    assert probabilities["probabilities"] == pytest.approx({"0": 0.5, "3": 0.5})
    assert probabilities["bitstrings"] == pytest.approx({"00": 0.5, "11": 0.5})
    counts = cli_json("result", created["id"], "--shots", "10")
    assert counts["bitstring_counts"] == {"00": 5, "11": 5}
    own = cli_json("result", created["id"], "--counts")
    assert (own["shots"], own["counts"]) == (100, {"0": 50, "3": 50})


def test_result_draws_a_table(
    cli: Any, cli_json: Any, simulations_done: Callable[[], None], tmp_path: Path
) -> None:
    [created] = cli_json("submit", write(tmp_path, "bell.json", BELL))
    simulations_done()
    code, out, _ = cli("result", created["id"], "--shots", "1000")
    assert code == 0
    assert "bitstring" in out
    assert "500" in out


def test_result_of_a_multi_circuit_job_lists_each_circuit(
    cli_json: Any, simulations_done: Callable[[], None], tmp_path: Path
) -> None:
    multi = write(tmp_path, "multi.json", {"gateset": "qis", "circuits": [BELL, GHZ3]})
    [created] = cli_json("submit", multi, "--shots", "100")
    simulations_done()
    answer = cli_json("result", created["id"], "--counts")
    assert [child["bitstring_counts"] for child in answer["children"]] == [
        {"00": 50, "11": 50},
        {"000": 50, "111": 50},
    ]


def test_result_of_a_failed_job_exits_1(
    cli: Any, cli_json: Any, simulations_done: Callable[[], None], tmp_path: Path
) -> None:
    wide = write(tmp_path, "wide.json", {"qubits": 64, "circuit": [{"gate": "h", "target": 0}]})
    [created] = cli_json("submit", wide)
    simulations_done()  # too wide: it fails at once, with nothing to simulate
    code, _, err = cli("result", created["id"])
    assert code == ExitCode.JOB_FAILED
    assert "JobFailed" in err
    assert "NotEnoughQubits" in err


def test_cost_shows_the_estimated_cost(cli: Any, cli_json: Any, tmp_path: Path) -> None:
    [created] = cli_json("submit", write(tmp_path, "bell.json", BELL))
    cost = cli_json("cost", created["id"])
    assert set(cost) >= {"dry_run", "estimated_cost"}
    code, out, _ = cli("cost", created["id"])
    assert code == 0
    assert "estimated cost" in out


def test_estimate_sends_the_job_size(cli: Any, cli_json: Any) -> None:
    estimate = cli_json(
        "estimate", "--backend", "qpu.forte-1", "--qubits", "5", "--shots", "100",
        "--1q-gates", "10", "--2q-gates", "4", "--error-mitigation",
    )  # fmt: skip
    context = estimate.get("estimate_context") or estimate["input_values"]
    assert context["qubits"] == 5
    assert context["shots"] == 100
    assert (context["1q_gates"], context["2q_gates"]) == (10, 4)
    assert context["error_mitigation"] is True
    code, out, _ = cli("estimate", "--backend", "qpu.forte-1", "--qubits", "5")
    assert code == 0
    assert "estimated cost" in out


def test_estimate_can_take_its_sizes_from_a_circuit_file(cli_json: Any, tmp_path: Path) -> None:
    ghz = write(tmp_path, "ghz.json", GHZ3)
    estimate = cli_json("estimate", "--circuit", ghz, "--shots", "100")
    context = estimate.get("estimate_context") or estimate["input_values"]
    assert (context["qubits"], context["1q_gates"], context["2q_gates"]) == (3, 1, 2)


def test_jobs_lists_filters_and_limits(cli_json: Any, tmp_path: Path) -> None:
    created = cli_json("submit", *(write(tmp_path, f"b{i}.json", BELL) for i in range(3)))
    assert len(cli_json("jobs", "--limit", "2")) == 2
    picked = cli_json("jobs", "--id", created[0]["id"], "--id", created[1]["id"])
    assert {job["id"] for job in picked} == {created[0]["id"], created[1]["id"]}


def test_jobs_draws_a_table(cli: Any) -> None:
    code, out, _ = cli("jobs", "--limit", "3")
    assert code == 0
    assert "status" in out


def test_cancel_cancels_running_jobs(
    strict_server: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = ["--base-url", strict_server.url, "--api-key", "the-right-key", "--json"]
    bell = write(tmp_path, "bell.json", BELL)
    assert main([*base, "submit", bell, bell, bell, "--backend", "qpu.forte-1", "--yes"]) == 0
    ids = [row["id"] for row in json.loads(capsys.readouterr().out)]
    assert main([*base, "cancel", ids[0]]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"id": ids[0], "status": "canceled", "note": "canceled"}
    ]
    assert main([*base, "cancel", ids[1], ids[2]]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert {row["id"] for row in answer} == {ids[1], ids[2]}
    assert main([*base, "status", ids[2]]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "canceled"


def test_run_stops_waiting_at_the_timeout_and_exits_1(
    strict_server: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bell = write(tmp_path, "bell.json", BELL)
    args = ["--base-url", strict_server.url, "--api-key", "the-right-key", "--json"]
    code = main([*args, "run", bell, bell, "-b", "qpu.forte-1", "--timeout", "0", "--yes"])
    report = json.loads(capsys.readouterr().out)
    assert code == ExitCode.JOB_FAILED
    assert [entry["status"] for entry in report["results"]] == ["unfinished", "unfinished"]
    assert report["summary"]["unfinished"] == 2


def test_a_rejected_key_is_an_api_error_and_is_never_printed(
    strict_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--base-url", strict_server.url, "--api-key", SECRET, "whoami"])
    err = capsys.readouterr().err
    assert code == ExitCode.API
    assert err.startswith("ionq-async: AuthenticationError: 401")
    assert err.count("\n") == 1
    assert SECRET not in err


def test_debug_adds_a_traceback_that_still_hides_the_key(
    strict_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--base-url", strict_server.url, "--api-key", SECRET, "--debug", "whoami"])
    captured = capsys.readouterr()
    assert code == ExitCode.API
    assert "Traceback" in captured.err
    assert SECRET not in captured.out + captured.err


def test_the_key_from_the_environment_is_used_and_never_printed(
    server: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IONQ_API_KEY", server.api_key)
    monkeypatch.setenv("IONQ_API_URL", server.url)
    for args in (["whoami"], ["whoami", "--json"], ["jobs", "--debug"], ["backends"]):
        assert main(args) == 0
        captured = capsys.readouterr()
        assert server.api_key not in captured.out + captured.err


def test_the_emulator_option_needs_no_key_and_prints_only_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["--emulator", "--json", "backends"]) == 0
    captured = capsys.readouterr()
    assert {b["backend"] for b in json.loads(captured.out)} >= {"simulator"}
    bell = write(tmp_path, "bell.json", BELL)
    assert main(["run", bell, "--shots", "100", "--emulator", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["results"][0]["bitstring_counts"] == {"00": 50, "11": 50}
    assert captured.err == ""


def test_the_emulator_command_takes_the_emulators_own_flags() -> None:
    ns = build_parser().parse_args(
        ["emulator", "--port", "8123", "--time-scale", "0", "--fault-429", "0.1"]
    )
    assert (ns.port, ns.time_scale, ns.fault_429) == (8123, 0.0, 0.1)


def test_the_emulator_command_serves_until_interrupted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "ionq_async", "emulator", "--port", "0", "--time-scale", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = readline_within(process.stdout).strip()
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/v0.4")
        assert main(["--base-url", url, "--json", "backends"]) == 0
        assert "simulator" in capsys.readouterr().out
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize(
    "command",
    [["run", "bell.json"], ["submit", "bell.json"], ["jobs"], ["estimate", "--qubits", "2"]],
)  # fmt: skip
def test_without_key_or_emulator_a_command_names_the_key_and_suggests_the_emulator(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "bell.json", BELL)
    code = main(command)
    err = capsys.readouterr().err
    assert code == ExitCode.API
    assert err.count("\n") == 1
    assert err.startswith("ionq-async: MissingKeyError: no API key")
    assert "IONQ_API_KEY" in err
    assert "--emulator" in err


@pytest.mark.parametrize(
    "command",
    [["status", "some-id"], ["result", "some-id"], ["cost", "some-id"], ["cancel", "some-id"]],
)
def test_without_key_a_command_naming_a_job_does_not_suggest_a_fresh_emulator(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # A new in-process emulator knows no jobs: --emulator could never find this one.
    code = main(command)
    err = capsys.readouterr().err
    assert code == ExitCode.API
    assert err == "ionq-async: MissingKeyError: no API key: pass --api-key or set IONQ_API_KEY\n"


def test_a_base_url_without_a_key_still_asks_for_the_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["--base-url", "https://api.example.com/v0.4", "status", "some-id"])
    assert code == ExitCode.API
    assert "IONQ_API_KEY" in capsys.readouterr().err


def test_run_of_many_files_draws_a_live_progress_bar_on_a_terminal(
    server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from rich.console import Console

    import ionq_async.cli.render as render_module

    screen = io.StringIO()
    real_output = render_module.Output

    class TerminalOutput(real_output):  # type: ignore[misc, valid-type]
        def __init__(self, *, json_mode: bool) -> None:
            super().__init__(json_mode=json_mode)
            self.err = Console(file=screen, force_terminal=True, width=200)

    monkeypatch.setattr(render_module, "Output", TerminalOutput)
    files = [write(tmp_path, f"c{i}.json", BELL) for i in range(5)]
    code = main(["--base-url", server.url, "--api-key", server.api_key, "run", *files])
    assert code == 0
    drawn = screen.getvalue()
    for part in ("submitted 5", "running", "done 5", "failed 0", "jobs/s"):
        assert part in drawn
    assert "completed: 5/5" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["status", "result", "cost", "cancel"])
def test_an_unknown_job_id_is_an_api_error_for_every_command_that_takes_one(
    cli: Any, command: str
) -> None:
    code, out, err = cli(command, "00000000-0000-0000-0000-000000000000")
    assert code == ExitCode.API
    assert out == ""
    assert err.startswith("ionq-async: NotFoundError: 404")
    assert err.count("\n") == 1


# ---------------------------------------------------------------------------------------
# Option values: checked before anything is sent.


def test_result_with_zero_shots_is_invalid_input_in_one_line(
    cli: Any, cli_json: Any, simulations_done: Callable[[], None], tmp_path: Path
) -> None:
    [created] = cli_json("submit", write(tmp_path, "bell.json", BELL))
    simulations_done()
    code, out, err = cli("result", created["id"], "--shots", "0")
    assert code == ExitCode.INVALID_INPUT
    assert out == ""
    assert err == "ionq-async: InvalidRequestError: --shots must be at least 1, got 0\n"


def test_result_with_more_shots_than_counts_can_hold_is_invalid_input(
    cli: Any, cli_json: Any, simulations_done: Callable[[], None], tmp_path: Path
) -> None:
    [created] = cli_json("submit", write(tmp_path, "bell.json", BELL))
    simulations_done()
    code, _, err = cli("result", created["id"], "--shots", str(2**53 + 1))
    assert code == ExitCode.INVALID_INPUT
    assert err.startswith("ionq-async: InvalidRequestError: shots must be at most 2**53")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["result", "some-id", "--shots", "0"], "--shots must be at least 1, got 0"),
        (["run", "bell.json", "--shots", "0"], "--shots must be at least 1, got 0"),
        (["submit", "bell.json", "-s", "-5"], "--shots must be at least 1, got -5"),
        (["estimate", "--shots", "0"], "--shots must be at least 1, got 0"),
        (["estimate", "--qubits", "0"], "--qubits must be at least 1, got 0"),
        (["estimate", "--1q-gates", "-1"], "--1q-gates must be at least 0, got -1"),
        (["estimate", "--2q-gates", "-2"], "--2q-gates must be at least 0, got -2"),
    ],
)
def test_a_bad_value_for_the_api_is_invalid_input_before_any_request(
    command: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "bell.json", BELL)
    # Nothing listens on port 9: a request would make this a network error (exit 4).
    code = main(["--api-key", SECRET, "--base-url", "http://127.0.0.1:9/v0.4", *command])
    assert code == ExitCode.INVALID_INPUT
    assert capsys.readouterr().err == f"ionq-async: InvalidRequestError: {message}\n"


def test_demo_with_zero_shots_is_invalid_input_before_the_emulator_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--shots", "0"]) == ExitCode.INVALID_INPUT
    assert capsys.readouterr().err == (
        "ionq-async: InvalidRequestError: --shots must be at least 1, got 0\n"
    )


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["result", "some-id", "--rows", "0"], "--rows must be at least 1, got 0"),
        (["run", "bell.json", "--rows", "-1"], "--rows must be at least 1, got -1"),
        (["run", "bell.json", "--concurrency", "0"], "--concurrency must be at least 1, got 0"),
        (["run", "bell.json", "--timeout", "-1"], "--timeout must not be negative, got -1.0"),
        (["run", "bell.json", "--timeout", "nan"], "--timeout must not be negative, got nan"),
        (["jobs", "--limit", "0"], "--limit must be at least 1, got 0"),
        (["--retries", "-1", "jobs"], "--retries must be at least 0, got -1"),
        (["jobs", "--request-timeout", "0"], "--request-timeout must be positive, got 0.0"),
    ],
)
def test_a_bad_setting_of_the_command_itself_is_a_usage_error(
    command: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "bell.json", BELL)
    code = main(["--api-key", SECRET, "--base-url", "http://127.0.0.1:9/v0.4", *command])
    assert code == ExitCode.USAGE
    assert capsys.readouterr().err == f"ionq-async: ConfigurationError: {message}\n"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--api-key", SECRET, "--base-url", "https://api.example.com/v0.4"],
         "--api-key/--base-url do not apply"),
        (["--retries", "0"], "--retries does not apply"),
        (["--allow-insecure-http"], "--allow-insecure-http does not apply"),
    ],
)  # fmt: skip
def test_demo_refuses_connection_options_it_would_ignore(
    options: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["demo", *options], [*options, "demo"]):
        assert main(argv) == ExitCode.USAGE
        err = capsys.readouterr().err
        assert err == (
            f"ionq-async: ConfigurationError: demo always runs on its own in-process "
            f"emulator; {named}\n"
        )
        assert SECRET not in err


# ---------------------------------------------------------------------------------------
# A run stopped by --timeout names the jobs it leaves on the server.


def stop_once_all_submitted(monkeypatch: pytest.MonkeyPatch, *, interrupt: bool) -> None:
    """Stop ``run`` as soon as every circuit has a job, whatever the clock says.

    Without ``interrupt`` it is ``--timeout`` firing; with it, Ctrl-C (KeyboardInterrupt).
    """
    import ionq_async.cli.runner as runner_module

    scopes: list[anyio.CancelScope] = []

    @contextlib.contextmanager
    def time_limit(timeout_s: float | None) -> Iterator[anyio.CancelScope]:
        assert timeout_s is not None or interrupt
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            yield scope
        if interrupt and scope.cancelled_caught:
            raise KeyboardInterrupt

    class Display(runner_module.BatchDisplay):
        def update(self, progress: Any) -> None:
            super().update(progress)
            if progress.submitted == progress.total:
                scopes[-1].cancel()

    monkeypatch.setattr(runner_module, "time_limit", time_limit)
    monkeypatch.setattr(runner_module, "BatchDisplay", Display)


@pytest.fixture
def timeout_once_all_submitted(monkeypatch: pytest.MonkeyPatch) -> None:
    """``run --timeout`` fires as soon as every circuit has a job."""
    stop_once_all_submitted(monkeypatch, interrupt=False)


def test_run_stopped_by_the_timeout_names_the_jobs_left_on_the_server(
    strict_server: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    timeout_once_all_submitted: None,
) -> None:  # fmt: skip
    bell = write(tmp_path, "bell.json", BELL)
    base = ["--base-url", strict_server.url, "--api-key", "the-right-key"]
    run = ["run", bell, bell, "-b", "qpu.forte-1", "--timeout", "600", "--no-journal", "--yes"]
    assert main([*base, *run, "--json"]) == ExitCode.JOB_FAILED
    captured = capsys.readouterr()
    [cost] = captured.err.splitlines()  # no hint: JSON consumers get the ids in the rows
    assert cost.startswith("ionq-async: projected cost: 195.00 usd for 2 jobs")
    rows = json.loads(captured.out)["results"]
    assert [row["status"] for row in rows] == ["unfinished", "unfinished"]
    ids = [row["job_id"] for row in rows]
    assert len(set(ids)) == 2
    for job_id in ids:  # the jobs exist, and they are still waiting on the server
        assert main([*base, "--json", "status", job_id]) == 0
        assert json.loads(capsys.readouterr().out)["status"] in ("submitted", "ready")
    assert main([*base, "--json", "cancel", *ids]) == 0
    capsys.readouterr()

    assert main([*base, *run]) == ExitCode.JOB_FAILED
    captured = capsys.readouterr()
    assert "unfinished: 2" in captured.out
    _, hint = captured.err.splitlines()
    assert hint.startswith("2 jobs were left running on the server: ")
    left = hint.split(": ", 1)[1].split(";")[0].split()
    assert len(left) == 2
    assert all(job_id in captured.out for job_id in left)  # the table's job id column
    assert hint.endswith(f"; `ionq-async cancel {' '.join(left)}` cancels them")
    assert main([*base, "--json", "cancel", *left]) == 0
    assert {row["status"] for row in json.loads(capsys.readouterr().out)} == {"canceled"}


def test_run_stopped_by_the_timeout_names_its_one_job_in_the_singular(
    strict_server: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    timeout_once_all_submitted: None,
) -> None:  # fmt: skip
    bell = write(tmp_path, "bell.json", BELL)
    base = ["--base-url", strict_server.url, "--api-key", "the-right-key"]
    run = ["run", bell, "-b", "qpu.aria-1", "--timeout", "600", "--no-journal", "--yes"]
    code = main([*base, *run])
    captured = capsys.readouterr()
    assert code == ExitCode.JOB_FAILED
    assert "unfinished" in captured.out
    cost, hint = captured.err.splitlines()
    assert cost.startswith("ionq-async: projected cost: 97.50 usd for 1 job on qpu.aria-1")
    job_id = hint.split(": ", 1)[1].split(";")[0]
    assert job_id in captured.out
    assert hint == (
        f"1 job was left running on the server: {job_id}; `ionq-async cancel {job_id}` cancels it"
    )
    assert main([*base, "--json", "cancel", job_id]) == 0


def test_a_timed_out_run_on_the_in_process_emulator_gives_no_cancel_hint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, timeout_once_all_submitted: None
) -> None:
    # The emulator, and every job on it, is gone when the command ends.
    bell = write(tmp_path, "bell.json", BELL)
    code = main(["--emulator", "run", bell, "-b", "qpu.aria-1", "--timeout", "600", "--yes"])
    captured = capsys.readouterr()
    assert code == ExitCode.JOB_FAILED
    assert "unfinished" in captured.out
    [cost] = captured.err.splitlines()  # the projected cost, and no cancel hint
    assert cost.startswith("ionq-async: projected cost: ")


@pytest.fixture
def ctrl_c_once_all_submitted(monkeypatch: pytest.MonkeyPatch) -> None:
    """``run`` is interrupted (as Ctrl-C would) as soon as every circuit has a job."""
    stop_once_all_submitted(monkeypatch, interrupt=True)


@pytest.mark.parametrize("json_mode", [False, True])
def test_an_interrupted_run_prints_its_outcomes_and_the_jobs_left_on_the_server(
    strict_server: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    ctrl_c_once_all_submitted: None, json_mode: bool,
) -> None:  # fmt: skip
    bell = write(tmp_path, "bell.json", BELL)
    base = ["--base-url", strict_server.url, "--api-key", "the-right-key"]
    run = ["run", bell, bell, "--backend", "qpu.forte-1", "--no-journal", "--yes"]
    assert main([*base, *run, *(["--json"] if json_mode else [])]) == ExitCode.INTERRUPTED
    captured = capsys.readouterr()
    if json_mode:
        report = json.loads(captured.out)  # valid JSON, even interrupted
        assert report["interrupted"] is True
        assert [row["status"] for row in report["results"]] == ["unfinished", "unfinished"]
        left = [row["job_id"] for row in report["results"]]
    else:
        assert captured.out.count("unfinished") >= 2
        left = []
    cost, status, cancel, interrupted = captured.err.splitlines()
    assert cost.startswith("ionq-async: projected cost: 195.00 usd for 2 jobs")
    assert interrupted == "ionq-async: interrupted"
    assert status == "ionq-async: interrupted: 2 job(s) keep running on the server"
    assert cancel.startswith("ionq-async: cancel: ionq-async cancel ")
    named = cancel.removeprefix("ionq-async: cancel: ionq-async cancel ").split()
    assert len(set(named)) == 2
    assert not left or named == left
    assert main([*base, "--json", "cancel", *named]) == 0
    assert {row["status"] for row in json.loads(capsys.readouterr().out)} == {"canceled"}


# -- URLs are printed without their secrets ------------------------------------------------

URL_SECRET = "url-token-5b7e1c9d0a"


@pytest.mark.parametrize("debug", [[], ["--debug"]], ids=["plain", "debug"])
@pytest.mark.parametrize(
    "shape",
    [
        "{url}?key={secret}",
        "{url}?limit=1&key={secret}#frag",
        "{url}?{secret}",
        "{url}#{secret}",
        "http://user:{secret}@{host}/v0.4?key={secret}",
    ],
)
def test_a_secret_in_the_base_url_is_never_printed(
    server: Any, capsys: pytest.CaptureFixture[str], shape: str, debug: list[str]
) -> None:
    host = server.url.split("//", 1)[1].split("/", 1)[0]
    base_url = shape.format(url=server.url, host=host, secret=URL_SECRET)
    code = main(["--base-url", base_url, "--api-key", server.api_key, *debug, "whoami"])
    captured = capsys.readouterr()
    assert code == ExitCode.USAGE
    assert "ConfigurationError" in captured.err
    assert URL_SECRET not in captured.out + captured.err


def test_the_base_url_is_shown_with_its_query_names_but_not_their_values(
    server: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IONQ_API_URL", f"{server.url}?key={URL_SECRET}")
    code = main(["--api-key", server.api_key, "whoami"])
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE
    assert f"{server.url}?key=***" in err
    assert URL_SECRET not in err
