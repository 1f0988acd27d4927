"""Golden files: what the command line, the emulator's routes and one seeded batch print,
recorded before issue 10's move and compared byte for byte after it.

Four scenarios, each run once per test session (module fixtures) and checked file by file:

- ``golden/help/``: ``ionq-async --help`` and ``--version``, every subcommand's ``--help``
  (the list is read from the parser and kept in ``commands.txt``) and
  ``python -m ionq_async.emulator --help``, at 100 columns.
- ``golden/cli/``: every command's ``--json`` output (and its table) against emulators on
  a :class:`ManualClock`, with their error cases: exit code, stdout and stderr.
- ``golden/routes/``: every emulator route's status and JSON body, for success and for the
  main error answers, over a real loopback socket; one file per route.
- ``golden/run_many.txt``: the outcomes and the journal bytes of one seeded
  ``client.run_many(..., pack=..., journal=...)``.

Values random by nature (job and session ids, request ids, client tokens, wall-clock
timestamps of the journal, ports, real-time durations and rates) become placeholders
numbered in order of first appearance within a file (``<id-1>``, ``<request-id-1>``,
``<token-1>``, ``<ts-1>``, ``<port>``, ``<duration>``, ``<rate>``); see
``golden_helpers.py``. Emulator timestamps come from the manual clock and are compared as
they are. Nothing in ``ionq_async`` is patched: seeds and clocks are public options, and
commands that wait poll on their real schedules (a tenth of a second or so each).

Recording (only when a change of output is intended, never to make a failure go away)::

    IONQ_UPDATE_GOLDEN=1 python -m pytest -q -p no:randomly tests/test_golden.py

then read ``git diff tests/golden`` line by line. Help output is argparse's, which differs
between Python minor versions: those goldens were recorded on Python 3.11 (CI's) and are
skipped on any other version.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import attrs
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from golden_helpers import GOLDEN_DIR, Normalizer, check_golden, render_json, updating

import ionq_async
from ionq_async.batch import PackLimits
from ionq_async.cli import build_parser, main
from ionq_async.emulator import Emulator, EmulatorConfig, ManualClock

HELP_PYTHON = (3, 11)
"""The Python minor version the help goldens were recorded on (argparse's layout varies)."""

COLUMNS = "100"
CLI_KEY = "golden-cli-key"
ROUTE_KEY = "golden-route-key"
BATCH_KEY = "golden-batch-key"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"

# A job's lifecycle on the manual clock: submitted, ready after 0.5 s, started after 1.5 s,
# completed after 3.5 s (simulator) or 30.5 s (QPU).
LIFECYCLE = EmulatorConfig(
    submit_s=0.5,
    simulator_queue_s=1.0,
    simulator_run_s=2.0,
    qpu_queue_s=10.0,
    qpu_run_s=20.0,
    dry_run_s=1.0,
    max_simulated_qubits=4,
    max_body_bytes=64 * 1024,
)
# Jobs that finish as soon as they are simulated, for commands that wait (run, run_many);
# every timestamp is still the manual clock's.
INSTANT = EmulatorConfig(time_scale=0.0, max_simulated_qubits=4)

BELL: dict[str, Any] = {
    "qubits": 2,
    "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}],
}
GHZ3: dict[str, Any] = {
    "qubits": 3,
    "circuit": [
        {"gate": "h", "target": 0},
        {"gate": "cnot", "control": 0, "target": 1},
        {"gate": "cnot", "control": 1, "target": 2},
    ],
}
TILTED: dict[str, Any] = {
    "qubits": 2,
    "circuit": [{"gate": "ry", "target": 0, "rotation": 0.7}, {"gate": "x", "target": 1}],
}
WIDE: dict[str, Any] = {
    "qubits": 5,
    "circuit": [{"gate": "h", "target": q} for q in range(5)],
}
MULTI: dict[str, Any] = {
    "circuits": [
        {"name": "bell", **BELL},
        {"name": "tilted", **TILTED},
    ]
}
PAYLOAD: dict[str, Any] = {
    "type": "ionq.circuit.v1",
    "backend": "qpu.aria-1",
    "shots": 200,
    "name": "from-payload",
    "input": GHZ3,
}
INPUT_FILES: dict[str, Any] = {
    "bell.json": BELL,
    "ghz3.json": GHZ3,
    "tilted.json": TILTED,
    "wide.json": WIDE,
    "multi.json": MULTI,
    "payload.json": PAYLOAD,
    "variational.json": {"type": "ionq.variational.v1", "input": {"data": 1}},
    "empty.json": {},
    "list.json": [1, 2],
    "bad-gate.json": {"qubits": 1, "circuit": [{"gate": "h", "target": 4}]},
    "not-json.json": "{not json",
}


@contextlib.contextmanager
def fixed_terminal(folder: Path) -> Iterator[None]:
    """100 columns, no colour, no developer key or URL, and ``folder`` as the working directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", COLUMNS)
        patch.setenv("LINES", "50")
        patch.setenv("NO_COLOR", "1")
        patch.setenv("TERM", "dumb")
        for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "PYTHON_COLORS"):
            patch.delenv(name, raising=False)
        for name in ("IONQ_API_KEY", "IONQ_API_URL"):
            patch.delenv(name, raising=False)
        # Default journals go to the user state folder: a home of the test's own, printed
        # as "~/.local/state/..." whatever the machine (XDG_STATE_HOME would change it).
        patch.setenv("HOME", str(folder / "home"))
        patch.delenv("XDG_STATE_HOME", raising=False)
        patch.chdir(folder)
        yield


def run_cli(argv: Sequence[str]) -> tuple[int, str, str]:
    """``ionq-async argv`` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return int(code), out.getvalue(), err.getvalue()


def transcript(command: str, code: int, out: str, err: str) -> str:
    """One invocation as a golden block: the command line, exit code, stdout, stderr."""
    return (
        f"$ {command}\n"
        f"exit {code}\n"
        f"--- stdout\n{out}"
        f"{'' if not out or out.endswith(chr(10)) else chr(10) + '(no newline at end)' + chr(10)}"
        f"--- stderr\n{err}"
        f"{'' if not err or err.endswith(chr(10)) else chr(10) + '(no newline at end)' + chr(10)}"
        "\n"
    )


def subcommands() -> list[str]:
    """The subcommands ``build_parser()`` defines, in its order."""
    parser = build_parser()
    for action in parser._actions:  # argparse has no public way to list subparsers
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    raise AssertionError("the parser has no subcommands")


# ---------------------------------------------------------------------------------------
# Scenario 1: help.


@pytest.fixture(scope="module")
def help_goldens(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every --help output, by golden file name."""
    folder = tmp_path_factory.mktemp("help")
    goldens: dict[str, str] = {}
    with fixed_terminal(folder):
        names = subcommands()
        goldens["help/commands.txt"] = "".join(f"{name}\n" for name in names)
        goldens["help/ionq-async.txt"] = transcript(
            "ionq-async --help", *run_cli(["--help"])
        ) + transcript("ionq-async --version", *run_cli(["--version"]))
        for name in names:
            goldens[f"help/ionq-async-{name}.txt"] = transcript(
                f"ionq-async {name} --help", *run_cli([name, "--help"])
            )
        # The child imports the same copy of the package as this test does.
        package_root = str(Path(ionq_async.__file__).resolve().parents[1])
        path = [package_root, *filter(None, [os.environ.get("PYTHONPATH")])]
        done = subprocess.run(
            [sys.executable, "-m", "ionq_async.emulator", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(path)},
        )
        goldens["help/python-m-ionq_async.emulator.txt"] = transcript(
            "python -m ionq_async.emulator --help", done.returncode, done.stdout, done.stderr
        )
    return goldens


# ---------------------------------------------------------------------------------------
# Scenario 2: the command line against emulators on a manual clock.


class Served:
    """An emulator on its own loop in a worker thread, with its manual clock."""

    def __init__(self, portal: BlockingPortal, emulator: Emulator, clock: ManualClock) -> None:
        self.portal = portal
        self.emulator = emulator
        self.clock = clock

    def settle(self) -> None:
        """Wait until every simulation submitted so far has finished."""
        self.portal.call(self.emulator.wait_for_simulations)

    def advance(self, seconds: float) -> None:
        """Simulations finish first, so a job's times never depend on thread timing."""
        self.settle()
        self.clock.advance(seconds)


@contextlib.contextmanager
def served(portal: BlockingPortal, config: EmulatorConfig, key: str) -> Iterator[Served]:
    """A started emulator on ``portal``'s loop, driven by a fresh manual clock."""
    clock = ManualClock()
    emulator = Emulator(api_keys=[key], config=config, clock=clock)
    with portal.wrap_async_context_manager(emulator):
        yield Served(portal, emulator, clock)


class CliSession:
    """Runs commands against one emulator and gathers their transcripts by golden file."""

    def __init__(self, server: Served, key: str) -> None:
        self.server = server
        self.key = key
        self.files: dict[str, list[str]] = {}

    def run(self, golden: str, *args: str, connect: bool = True) -> tuple[int, str, str]:
        """``ionq-async args`` (connected to the emulator unless ``connect`` is False)."""
        prefix = ["--base-url", self.server.emulator.url, "--api-key", self.key] if connect else []
        code, out, err = run_cli([*prefix, *args])
        shown = " ".join(args)
        self.files.setdefault(golden, []).append(transcript(f"ionq-async {shown}", code, out, err))
        return code, out, err

    def json(self, golden: str, *args: str) -> Any:
        """``run`` with ``--json``; the parsed stdout (exit 0 expected)."""
        code, out, err = self.run(golden, *args, "--json")
        assert code == 0, err
        return json.loads(out)

    def note(self, golden: str, text: str) -> None:
        """A line saying what happened between commands (the clock moved, ...)."""
        self.files.setdefault(golden, []).append(f"# {text}\n\n")

    def goldens(self, folder: Path) -> dict[str, str]:
        """The normalized text of each golden file."""
        out = {}
        for name, blocks in self.files.items():
            normalize = Normalizer({str(folder): "<tmp>"})
            out[name] = normalize("".join(blocks))
        return out


def lifecycle_commands(cli: CliSession) -> None:
    """backends, whoami, submit, status, result, cost, estimate, jobs and cancel."""
    server = cli.server
    cli.json("cli/backends.txt", "backends")
    cli.run("cli/backends.txt", "backends")

    cli.json("cli/whoami.txt", "whoami")
    cli.run("cli/whoami.txt", "whoami")
    cli.run("cli/whoami.txt", "--base-url", server.emulator.url, "whoami", "--json", connect=False)
    cli.run(
        "cli/whoami.txt",
        "--base-url",
        server.emulator.url,
        "--api-key",
        "wrong-key",
        "whoami",
        "--json",
        connect=False,
    )

    # submit: one file, several with options, a job payload, a multi-circuit input.
    (bell,) = cli.json("cli/submit.txt", "submit", "bell.json")
    noisy = cli.json(
        "cli/submit.txt",
        "submit",
        "bell.json",
        "ghz3.json",
        "--shots",
        "100",
        "--name",
        "golden",
        "--metadata",
        "team=qa",
        "--noise-model",
        "aria-1",
        "--noise-seed",
        "7",
    )
    (qpu,) = cli.json("cli/submit.txt", "submit", "payload.json", "--yes")  # a QPU job: paid
    (multi,) = cli.json("cli/submit.txt", "submit", "multi.json", "--shots", "50")
    (wide,) = cli.json("cli/submit.txt", "submit", "wide.json")
    (dry,) = cli.json("cli/submit.txt", "submit", "tilted.json", "--dry-run")
    cli.run("cli/submit.txt", "submit", "tilted.json", "--shots", "10")
    for args in (
        ["missing.json"],
        ["not-json.json"],
        ["empty.json"],
        ["list.json"],
        ["bad-gate.json"],
        ["bell.json", "--shots", "0"],
        ["bell.json", "--metadata", "novalue"],
        ["bell.json", "--backend", "qpu.nowhere"],
    ):
        cli.run("cli/submit.txt", "submit", *args, "--json")
    # QPU jobs cost money: refused off a terminal without --yes, priced by --estimate-only.
    cli.run("cli/submit.txt", "submit", "ghz3.json", "-b", "qpu.aria-1")
    cli.run(
        "cli/submit.txt", "submit", "bell.json", "ghz3.json", "-b", "qpu.aria-1", "--estimate-only"
    )

    # status: through the lifecycle on the manual clock.
    cli.json("cli/status.txt", "status", bell["id"])
    cli.note("cli/status.txt", "clock +0.5 s")
    server.advance(0.5)
    cli.json("cli/status.txt", "status", bell["id"])
    cli.note("cli/status.txt", "clock +1.0 s")
    server.advance(1.0)
    cli.json("cli/status.txt", "status", bell["id"])
    cli.run("cli/status.txt", "status", bell["id"])
    cli.run("cli/result.txt", "result", bell["id"], "--json")
    cli.run("cli/cost.txt", "cost", qpu["id"], "--json")
    cli.note("cli/status.txt", "clock +2.0 s (simulator jobs complete)")
    server.advance(2.0)
    for job in (bell, *noisy, multi, wide, dry, qpu):
        cli.json("cli/status.txt", "status", job["id"])
    cli.run("cli/status.txt", "status", bell["id"])
    cli.run("cli/status.txt", "status", wide["id"])
    cli.run("cli/status.txt", "status", multi["id"])
    cli.run("cli/status.txt", "status", UNKNOWN_ID, "--json")

    # result: probabilities, counts, a multi-circuit parent, failures.
    cli.json("cli/result.txt", "result", bell["id"])
    cli.json("cli/result.txt", "result", bell["id"], "--counts")
    cli.json("cli/result.txt", "result", noisy[1]["id"], "--counts")
    cli.json("cli/result.txt", "result", noisy[0]["id"], "--shots", "10")
    cli.json("cli/result.txt", "result", multi["id"])
    cli.json("cli/result.txt", "result", multi["id"], "--counts")
    cli.run("cli/result.txt", "result", bell["id"])
    cli.run("cli/result.txt", "result", noisy[1]["id"], "--counts", "--rows", "3")
    cli.run("cli/result.txt", "result", multi["id"], "--shots", "8")
    cli.run("cli/result.txt", "result", wide["id"], "--json")
    cli.run("cli/result.txt", "result", dry["id"], "--json")
    cli.run("cli/result.txt", "result", qpu["id"], "--json")
    cli.run("cli/result.txt", "result", UNKNOWN_ID, "--json")
    cli.run("cli/result.txt", "result", bell["id"], "--rows", "0", "--json")

    # cost: simulator, QPU before and after completion, dry run, unknown.
    cli.json("cli/cost.txt", "cost", bell["id"])
    cli.json("cli/cost.txt", "cost", dry["id"])
    cli.note("cli/cost.txt", "clock +30 s (the QPU job completes)")
    server.advance(30.0)
    cli.json("cli/cost.txt", "cost", qpu["id"])
    cli.run("cli/cost.txt", "cost", qpu["id"])
    cli.run("cli/cost.txt", "cost", UNKNOWN_ID, "--json")
    cli.json("cli/result.txt", "result", qpu["id"], "--counts")

    # estimate.
    cli.json(
        "cli/estimate.txt",
        "estimate",
        "--qubits",
        "2",
        "--shots",
        "100",
        "--1q-gates",
        "3",
        "--2q-gates",
        "1",
    )
    cli.json("cli/estimate.txt", "estimate", "--circuit", "ghz3.json", "--error-mitigation")
    cli.json("cli/estimate.txt", "estimate", "-b", "simulator", "--shots", "1000")
    cli.run("cli/estimate.txt", "estimate", "--circuit", "multi.json", "--shots", "500")
    cli.run("cli/estimate.txt", "estimate", "--shots", "0", "--json")
    cli.run("cli/estimate.txt", "estimate", "-b", "qpu.nowhere", "--json")
    cli.run("cli/estimate.txt", "estimate", "--circuit", "variational.json", "--json")
    # estimate FILE...: a batch priced as run would send it.
    batch = ["bell.json", "ghz3.json", "multi.json", "-b", "qpu.aria-1", "--shots", "1000"]
    cli.json("cli/estimate.txt", "estimate", *batch)
    cli.run("cli/estimate.txt", "estimate", *batch, "--pack", "--debiasing")
    cli.run("cli/estimate.txt", "estimate", "bell.json", "--qubits", "2", "--json")

    # jobs.
    cli.json("cli/jobs.txt", "jobs")
    cli.json("cli/jobs.txt", "jobs", "-n", "2")
    cli.json("cli/jobs.txt", "jobs", "--status", "failed")
    cli.json("cli/jobs.txt", "jobs", "--parent", multi["id"])
    cli.json("cli/jobs.txt", "jobs", "--id", bell["id"], "--id", qpu["id"])
    cli.json("cli/jobs.txt", "jobs", "-b", "qpu.aria-1")
    cli.run("cli/jobs.txt", "jobs", "-n", "4")
    cli.run("cli/jobs.txt", "jobs", "--status", "bogus", "--json")
    cli.run("cli/jobs.txt", "jobs", "-n", "0", "--json")

    # cancel: queued jobs one by one and in bulk, a completed job, an unknown id.
    queued = cli.json("cli/cancel.txt", "submit", "bell.json", "ghz3.json", "tilted.json")
    cli.json("cli/cancel.txt", "cancel", queued[0]["id"])
    cli.json("cli/cancel.txt", "cancel", queued[1]["id"], queued[2]["id"], UNKNOWN_ID)
    cli.json("cli/cancel.txt", "status", queued[0]["id"])
    cli.json("cli/cancel.txt", "cancel", bell["id"])
    cli.run("cli/cancel.txt", "cancel", queued[0]["id"])
    cli.run("cli/cancel.txt", "cancel", UNKNOWN_ID, "--json")


def run_commands(cli: CliSession) -> None:
    """``run``: one file, several files (one batch), failures, a journal, --emulator."""
    golden = "cli/run.txt"
    cli.run(golden, "run", "bell.json", "--json")
    cli.run(golden, "run", "bell.json", "--shots", "100", "--json")
    cli.run(golden, "run", "ghz3.json", "--noise-model", "aria-1", "--noise-seed", "5", "--json")
    cli.run(golden, "run", "bell.json", "--shots", "100")
    cli.run(golden, "run", "payload.json", "--backend", "simulator", "--json")
    golden = "cli/run-many.txt"
    cli.run(golden, "run", "bell.json", "ghz3.json", "multi.json", "--shots", "50", "--json")
    cli.run(golden, "run", "bell.json", "wide.json", "tilted.json", "--json")
    cli.run(golden, "run", "bell.json", "multi.json", "--shots", "20")
    cli.run(golden, "run", "bell.json", "tilted.json", "--journal", "run.jsonl", "--json")
    golden = "cli/run-errors.txt"
    cli.run(golden, "run", "wide.json", "--json")
    cli.run(golden, "run", "variational.json", "--json")
    cli.run(golden, "run", "bell.json", "missing.json", "--json")
    cli.run(golden, "run", "bell.json", "--concurrency", "0", "--json")
    cli.run(golden, "run", "bell.json", "--timeout", "-1", "--json")
    cli.run(golden, "run", "bell.json", "--backend", "qpu.nowhere", "--json")
    cli.run(golden, "run", "bell.json", "--backend", "qpu.aria-1", "--json")  # no --yes
    over = ["bell.json", "ghz3.json", "--backend", "qpu.aria-1", "--max-cost", "100", "--yes"]
    cli.run(golden, "run", *over, "--json")
    golden = "cli/run-emulator.txt"
    cli.run(golden, "run", "bell.json", "tilted.json", "--emulator", "--json", connect=False)
    cli.run(golden, "run", "bell.json", "--emulator", "--shots", "64", connect=False)


@pytest.fixture(scope="module")
def cli_goldens(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every CLI transcript, by golden file name."""
    folder = tmp_path_factory.mktemp("cli")
    for name, data in INPUT_FILES.items():
        text = data if isinstance(data, str) else json.dumps(data)
        (folder / name).write_text(text, encoding="utf-8")
    goldens: dict[str, str] = {}
    with fixed_terminal(folder), start_blocking_portal("asyncio") as portal:
        with served(portal, LIFECYCLE, CLI_KEY) as server:
            cli = CliSession(server, CLI_KEY)
            lifecycle_commands(cli)
            goldens.update(cli.goldens(folder))
        with served(portal, INSTANT, CLI_KEY) as server:
            cli = CliSession(server, CLI_KEY)
            run_commands(cli)
            goldens.update(cli.goldens(folder))
    return goldens


# ---------------------------------------------------------------------------------------
# Scenario 3: every emulator route over a loopback socket.

# Every route of the emulator's router: (method, template, golden file).
ROUTES: list[tuple[str, str, str]] = [
    ("GET", "/backends", "get-backends"),
    ("GET", "/backends/{backend}", "get-backend"),
    ("GET", "/backends/{backend}/characterizations", "get-characterizations"),
    ("GET", "/backends/{backend}/characterizations/{characterization_id}", "get-characterization"),
    ("GET", "/whoami", "get-whoami"),
    ("POST", "/jobs", "post-jobs"),
    ("GET", "/jobs", "get-jobs"),
    ("DELETE", "/jobs", "delete-jobs"),
    ("GET", "/jobs/estimate", "get-jobs-estimate"),
    ("PUT", "/jobs/status/cancel", "put-jobs-status-cancel"),
    ("GET", "/jobs/{job_id}", "get-job"),
    ("DELETE", "/jobs/{job_id}", "delete-job"),
    ("PUT", "/jobs/{job_id}/status/cancel", "put-job-status-cancel"),
    ("GET", "/jobs/{job_id}/cost", "get-job-cost"),
    ("GET", "/jobs/{job_id}/results/probabilities", "get-job-results-probabilities"),
    (
        "GET",
        "/jobs/{job_id}/results/probabilities/aggregated",
        "get-job-results-probabilities-aggregated",
    ),
    ("GET", "/jobs/{job_id}/results/histogram", "get-job-results-histogram"),
    ("GET", "/jobs/{job_id}/results/shots", "get-job-results-shots"),
    ("GET", "/jobs/{job_id}/artifacts/{artifact_id}", "get-job-artifact"),
    ("POST", "/sessions", "post-sessions"),
    ("GET", "/sessions", "get-sessions"),
    ("GET", "/sessions/{session_id}", "get-session"),
    ("POST", "/sessions/{session_id}/end", "post-session-end"),
    ("GET", "/sessions/{session_id}/jobs", "get-session-jobs"),
]
UNROUTED = "unrouted"
"""Requests no route serves (unknown paths, wrong methods, outside /v0.4)."""


class RouteRecorder:
    """Sends requests to one emulator and gathers status and body by route golden file."""

    def __init__(self, emulator: Emulator, clock: ManualClock, http: aiohttp.ClientSession):
        self.emulator = emulator
        self.clock = clock
        self.http = http
        self.files: dict[str, list[str]] = {}

    async def call(
        self,
        golden: str,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | str | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        key: str | None = ROUTE_KEY,
        headers: dict[str, str] | None = None,
        prefix: str = "/v0.4",
    ) -> Any:
        """One request; records it under ``golden`` and returns the decoded body."""
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"apiKey {key}"
        body: bytes | str | None = data
        if json_body is not None:
            body = json.dumps(json_body)
            sent.setdefault("Content-Type", "application/json")
        url = self.emulator.root_url + prefix + path
        async with self.http.request(
            method, url, data=body, params=params, headers=sent
        ) as response:
            raw = await response.read()
            status = response.status
            content_type = response.headers.get("Content-Type")
        query = "&".join(f"{k}={v}" for k, v in params or ())
        lines = [f"### {method} {prefix}{path}{'?' + query if query else ''}"]
        if key is None:
            lines.append("(no key)")
        elif key != ROUTE_KEY:
            lines.append(f"(key {key!r})")
        for name, value in (headers or {}).items():
            lines.append(f"({name}: {value})")
        if json_body is not None:
            lines.append("request body: " + json.dumps(json_body))
        elif data is not None:
            shown = data if isinstance(data, str) else data.decode("utf-8", "replace")
            lines.append(f"request body ({len(shown)} characters): {shown[:60]!r}")
        lines.append(f"{status} {content_type}")
        text = raw.decode("utf-8")
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
            lines.append("body (not JSON): " + text)
        else:
            if text == json.dumps(decoded):
                lines.append(render_json(decoded))
            else:  # not the compact form aiohttp writes: keep every byte
                lines.append("body (raw): " + text)
        self.files.setdefault(golden, []).append("\n".join(lines) + "\n\n")
        return decoded

    def note(self, golden: str, text: str) -> None:
        """A line saying what happened between requests."""
        self.files.setdefault(golden, []).append(f"# {text}\n\n")

    async def advance(self, seconds: float) -> None:
        """Let simulations finish, then move the clock."""
        await self.emulator.wait_for_simulations()
        self.clock.advance(seconds)

    def goldens(self) -> dict[str, str]:
        """The normalized text of each golden file."""
        return {
            f"routes/{name}.txt": Normalizer()("".join(blocks))
            for name, blocks in self.files.items()
        }


def _job_body(circuit: Any, **fields: Any) -> dict[str, Any]:
    return {"type": "ionq.circuit.v1", "backend": "simulator", "input": circuit, **fields}


async def exercise_routes(api: RouteRecorder) -> None:
    """Success and the main error answers of every route, in a fixed order."""
    # Backends and characterizations (open routes).
    await api.call("get-backends", "GET", "/backends", key=None)
    await api.call("get-backend", "GET", "/backends/qpu.forte-1", key=None)
    await api.call("get-backend", "GET", "/backends/simulator")
    await api.call("get-backend", "GET", "/backends/qpu.forte-enterprise-1")
    await api.call("get-backend", "GET", "/backends/qpu.qpu")
    characterizations = "get-characterizations"
    page = await api.call(
        characterizations,
        "GET",
        "/backends/qpu.aria-1/characterizations",
        params=[("limit", "1"), ("page", "2")],
        key=None,
    )
    await api.call(
        characterizations,
        "GET",
        "/backends/qpu.forte-1/characterizations",
        params=[("limit", "1"), ("start", "2025-12-31"), ("end", "2026-01-01")],
    )
    await api.call(
        characterizations,
        "GET",
        "/backends/qpu.aria-1/characterizations",
        params=[("start", "2020-01-01"), ("end", "2020-01-02")],
    )
    for bad in (("limit", "0"), ("limit", "11"), ("page", "x"), ("start", "yesterday")):
        await api.call(
            characterizations, "GET", "/backends/qpu.aria-1/characterizations", params=[bad]
        )
    await api.call(characterizations, "GET", "/backends/qpu.qpu/characterizations")
    first = page["characterizations"][0]["id"]
    await api.call("get-characterization", "GET", f"/backends/qpu.aria-1/characterizations/{first}")
    await api.call(
        "get-characterization", "GET", f"/backends/qpu.aria-1/characterizations/{UNKNOWN_ID}"
    )
    await api.call("get-characterization", "GET", f"/backends/qpu.qpu/characterizations/{first}")

    # Who am I, and authentication.
    await api.call("get-whoami", "GET", "/whoami")
    await api.call("get-whoami", "GET", "/whoami", key=None)
    await api.call("get-whoami", "GET", "/whoami", key="wrong-key")
    await api.call(
        "get-whoami", "GET", "/whoami", key=None, headers={"Authorization": f"Bearer {ROUTE_KEY}"}
    )

    # Creating jobs.
    post = "post-jobs"
    bell = (await api.call(post, "POST", "/jobs", json_body=_job_body(BELL, name="bell")))["id"]
    noisy = (
        await api.call(
            post,
            "POST",
            "/jobs",
            json_body=_job_body(
                GHZ3,
                shots=20,
                noise={"model": "aria-1", "seed": 3},
                metadata={"team": "qa"},
            ),
        )
    )["id"]
    qpu = (
        await api.call(
            post,
            "POST",
            "/jobs",
            json_body=_job_body(
                TILTED,
                backend="qpu.aria-1",
                shots=100,
                settings={"error_mitigation": {"debiasing": False}},
            ),
        )
    )["id"]
    multi = (
        await api.call(
            post,
            "POST",
            "/jobs",
            json_body={
                "type": "ionq.multi-circuit.v1",
                "backend": "simulator",
                "shots": 10,
                "input": MULTI,
            },
        )
    )["id"]
    wide = (await api.call(post, "POST", "/jobs", json_body=_job_body(WIDE)))["id"]
    dry = (await api.call(post, "POST", "/jobs", json_body=_job_body(BELL, dry_run=True)))["id"]
    doomed = (await api.call(post, "POST", "/jobs", json_body=_job_body(GHZ3)))["id"]
    for bad in (
        {"type": "ionq.circuit.v1", "backend": "simulator"},
        _job_body(BELL, shots=0),
        _job_body(BELL, backend="qpu.nowhere"),
        _job_body(BELL, type="ionq.nothing.v1"),
        _job_body({"qubits": 1, "circuit": [{"gate": "h", "target": 3}]}),
        _job_body(BELL, metadata={"k": 5}),
        _job_body(BELL, backend="qpu.aria-1", shots=100_000),
        _job_body(BELL, session_id=UNKNOWN_ID),
        [1, 2, 3],
    ):
        await api.call(post, "POST", "/jobs", json_body=bad)
    await api.call(post, "POST", "/jobs", data="{not json", headers={"Content-Type": "text/plain"})
    await api.call(post, "POST", "/jobs", data="")
    await api.call(post, "POST", "/jobs", data="x" * (65 * 1024))
    await api.call(post, "POST", "/jobs", json_body=_job_body(BELL), key=None)

    # One job through its lifecycle; results not ready yet.
    get_job = "get-job"
    await api.call(get_job, "GET", f"/jobs/{bell}")
    await api.call("get-job-results-probabilities", "GET", f"/jobs/{bell}/results/probabilities")
    api.note(get_job, "clock +0.5 s")
    await api.advance(0.5)
    await api.call(get_job, "GET", f"/jobs/{bell}")
    api.note(get_job, "clock +1.0 s")
    await api.advance(1.0)
    await api.call(get_job, "GET", f"/jobs/{bell}")
    await api.call("get-job-cost", "GET", f"/jobs/{qpu}/cost")

    # Cancel a queued job, then the rest of the lifecycle.
    cancel = "put-job-status-cancel"
    await api.call(cancel, "PUT", f"/jobs/{doomed}/status/cancel")
    await api.call(cancel, "PUT", f"/jobs/{UNKNOWN_ID}/status/cancel")
    api.note(get_job, "clock +2.0 s (simulator jobs complete)")
    await api.advance(2.0)
    for job_id in (bell, noisy, multi, wide, dry, doomed, qpu):
        await api.call(get_job, "GET", f"/jobs/{job_id}")
    await api.call(get_job, "GET", f"/jobs/{UNKNOWN_ID}")
    await api.call(get_job, "GET", f"/jobs/{bell}", key=None)
    await api.call(cancel, "PUT", f"/jobs/{bell}/status/cancel")

    # Listing.
    children = [c for c in (await api.call(get_job, "GET", f"/jobs/{multi}"))["child_job_ids"]]
    await api.call(get_job, "GET", f"/jobs/{children[1]}")
    lists = "get-jobs"
    await api.call(lists, "GET", "/jobs")
    first_page = await api.call(lists, "GET", "/jobs", params=[("limit", "3")])
    await api.call(lists, "GET", "/jobs", params=[("limit", "3"), ("next", first_page["next"])])
    await api.call(lists, "GET", "/jobs", params=[("status", "completed")])
    await api.call(lists, "GET", "/jobs", params=[("target", "qpu.aria-1")])
    await api.call(lists, "GET", "/jobs", params=[("parent_job_id", multi)])
    await api.call(lists, "GET", "/jobs", params=[("ids", f"{bell},{qpu},{UNKNOWN_ID}")])
    await api.call(lists, "GET", "/jobs", params=[("ids", bell), ("ids", noisy)])
    await api.call(
        lists,
        "GET",
        "/jobs",
        params=[("limit", "1")],
        headers={"User-Agent": "cirq/1.7.0 (python/3.11.7)"},
    )
    await api.call(
        lists, "GET", "/jobs", params=[("ids", bell)], headers={"User-Agent": "cirq/1.7.0"}
    )
    await api.call(lists, "GET", "/jobs", json_body={"limit": 2})
    for bad in (("status", "done"), ("limit", "0"), ("limit", "many"), ("next", UNKNOWN_ID)):
        await api.call(lists, "GET", "/jobs", params=[bad])
    await api.call(lists, "GET", "/jobs", key=None)

    # Cost and estimates.
    cost = "get-job-cost"
    for job_id in (bell, noisy, dry, doomed, qpu, multi):
        await api.call(cost, "GET", f"/jobs/{job_id}/cost")
    await api.call(cost, "GET", f"/jobs/{UNKNOWN_ID}/cost")
    estimate = "get-jobs-estimate"
    await api.call(
        estimate,
        "GET",
        "/jobs/estimate",
        params=[
            ("backend", "qpu.forte-1"),
            ("qubits", "4"),
            ("shots", "500"),
            ("1q_gates", "30"),
            ("2q_gates", "12"),
            ("error_mitigation", "true"),
        ],
    )
    await api.call(estimate, "GET", "/jobs/estimate", params=[("backend", "simulator")])
    await api.call(estimate, "GET", "/jobs/estimate", params=[("backend", "qpu.aria-1")])
    await api.call(estimate, "GET", "/jobs/estimate")
    for bad in (
        ("backend", "qpu.nowhere"),
        ("shots", "0"),
        ("shots", "lots"),
        ("qubits", "0"),
        ("1q_gates", "-1"),
        ("error_mitigation", "maybe"),
    ):
        params = [("backend", "qpu.aria-1"), bad] if bad[0] != "backend" else [bad]
        await api.call(estimate, "GET", "/jobs/estimate", params=params)

    # Results.
    results = "get-job-results-probabilities"
    await api.call(results, "GET", f"/jobs/{bell}/results/probabilities")
    await api.call(results, "GET", f"/jobs/{noisy}/results/probabilities")
    await api.call(results, "GET", f"/jobs/{multi}/results/probabilities")
    await api.call(results, "GET", f"/jobs/{wide}/results/probabilities")
    await api.call(results, "GET", f"/jobs/{dry}/results/probabilities")
    await api.call(results, "GET", f"/jobs/{qpu}/results/probabilities")
    await api.call(results, "GET", f"/jobs/{UNKNOWN_ID}/results/probabilities")
    aggregated = "get-job-results-probabilities-aggregated"
    await api.call(aggregated, "GET", f"/jobs/{multi}/results/probabilities/aggregated")
    await api.call(aggregated, "GET", f"/jobs/{bell}/results/probabilities/aggregated")
    await api.call(aggregated, "GET", f"/jobs/{UNKNOWN_ID}/results/probabilities/aggregated")
    histogram = "get-job-results-histogram"
    await api.call(histogram, "GET", f"/jobs/{bell}/results/histogram")
    await api.call(histogram, "GET", f"/jobs/{noisy}/results/histogram")
    await api.call(histogram, "GET", f"/jobs/{multi}/results/histogram")
    await api.call(histogram, "GET", f"/jobs/{UNKNOWN_ID}/results/histogram")
    shots = "get-job-results-shots"
    await api.call(shots, "GET", f"/jobs/{noisy}/results/shots")
    await api.call(shots, "GET", f"/jobs/{children[0]}/results/shots")
    await api.call(shots, "GET", f"/jobs/{wide}/results/shots")
    artifact = "get-job-artifact"
    for name in ("probabilities", "probabilities-aggregate", "histogram", "shots", "nothing"):
        await api.call(artifact, "GET", f"/jobs/{noisy}/artifacts/{name}")
    await api.call(artifact, "GET", f"/jobs/{multi}/artifacts/probabilities-aggregate")
    await api.call(artifact, "GET", f"/jobs/{UNKNOWN_ID}/artifacts/probabilities")

    api.note(get_job, "clock +30 s (the QPU job completes)")
    await api.advance(30.0)
    await api.call(get_job, "GET", f"/jobs/{qpu}")
    await api.call(cost, "GET", f"/jobs/{qpu}/cost")
    await api.call(histogram, "GET", f"/jobs/{qpu}/results/histogram")

    # Sessions.
    sessions = "post-sessions"
    session = (
        await api.call(
            sessions,
            "POST",
            "/sessions",
            json_body={
                "backend": "simulator",
                "settings": {
                    "job_count_limit": 2,
                    "duration_limit_min": 10,
                    "cost_limit": {"unit": "usd", "value": 5},
                },
            },
        )
    )["id"]
    other = (await api.call(sessions, "POST", "/sessions", json_body={"backend": "qpu.aria-1"}))[
        "id"
    ]
    for bad in (
        {},
        {"backend": "qpu.nowhere"},
        {"backend": "simulator", "settings": []},
        {"backend": "simulator", "settings": {"job_count_limit": 0}},
        {"backend": "simulator", "settings": {"duration_limit_min": -1}},
        {"backend": "simulator", "settings": {"cost_limit": {"unit": "usd"}}},
        {"backend": "simulator", "settings": {"cost_limit": {"value": 1}}},
        [],
    ):
        await api.call(sessions, "POST", "/sessions", json_body=bad)
    await api.call(sessions, "POST", "/sessions", data="")
    in_session = (
        await api.call(post, "POST", "/jobs", json_body=_job_body(BELL, session_id=session))
    )["id"]
    await api.call(post, "POST", "/jobs", json_body=_job_body(BELL, session_id=other))
    await api.call(post, "POST", "/jobs", json_body=_job_body(GHZ3, session_id=session))
    await api.call(post, "POST", "/jobs", json_body=_job_body(GHZ3, session_id=session))
    await api.call("get-sessions", "GET", "/sessions")
    await api.call("get-sessions", "GET", "/sessions", params=[("active", "true")])
    await api.call("get-sessions", "GET", "/sessions", params=[("active", "sometimes")])
    await api.call("get-session", "GET", f"/sessions/{session}")
    await api.call("get-session", "GET", f"/sessions/{UNKNOWN_ID}")
    await api.call("get-session-jobs", "GET", f"/sessions/{session}/jobs")
    await api.call("get-session-jobs", "GET", f"/sessions/{UNKNOWN_ID}/jobs")
    end = "post-session-end"
    await api.call(end, "POST", f"/sessions/{other}/end")
    await api.call(end, "POST", f"/sessions/{other}/end")
    await api.call(end, "POST", f"/sessions/{UNKNOWN_ID}/end")
    await api.call(post, "POST", "/jobs", json_body=_job_body(BELL, session_id=other))
    api.note("get-sessions", "clock +600 s (the first session's duration limit passes)")
    await api.advance(600.0)
    await api.call("get-sessions", "GET", "/sessions", params=[("active", "false")])
    await api.call("get-session", "GET", f"/sessions/{session}")
    await api.call(get_job, "GET", f"/jobs/{in_session}")

    # Bulk cancel and delete, then single delete.
    fresh = [
        (await api.call("put-jobs-status-cancel", "POST", "/jobs", json_body=_job_body(BELL)))["id"]
        for _ in range(2)
    ]
    bulk_cancel = "put-jobs-status-cancel"
    await api.call(
        bulk_cancel, "PUT", "/jobs/status/cancel", json_body={"ids": [*fresh, UNKNOWN_ID, bell]}
    )
    for bad_ids in ({}, {"ids": []}, {"ids": [1]}, {"ids": "x"}, [1]):
        await api.call(bulk_cancel, "PUT", "/jobs/status/cancel", json_body=bad_ids)
    await api.call(bulk_cancel, "PUT", "/jobs/status/cancel", data="")
    bulk_delete = "delete-jobs"
    await api.call(bulk_delete, "DELETE", "/jobs", json_body={"ids": [*fresh, UNKNOWN_ID]})
    await api.call(bulk_delete, "DELETE", "/jobs", json_body={"ids": []})
    await api.call(bulk_delete, "DELETE", "/jobs", json_body={"ids": [*fresh]})
    delete = "delete-job"
    await api.call(delete, "DELETE", f"/jobs/{multi}")
    await api.call(delete, "DELETE", f"/jobs/{multi}")
    await api.call(delete, "GET", f"/jobs/{children[0]}")
    await api.call(delete, "DELETE", f"/jobs/{UNKNOWN_ID}")
    await api.call(delete, "DELETE", f"/jobs/{bell}", key=None)

    # Nothing serves these.
    await api.call(UNROUTED, "GET", "/calibrations/current")
    await api.call(UNROUTED, "PATCH", f"/jobs/{bell}")
    await api.call(UNROUTED, "POST", "/backends")
    await api.call(UNROUTED, "GET", "/backends", prefix="/v0.3")
    await api.call(UNROUTED, "GET", "/", prefix="")


async def _routes_scenario() -> tuple[dict[str, str], set[tuple[str, str]]]:
    clock = ManualClock()
    async with (
        Emulator(api_keys=[ROUTE_KEY], config=LIFECYCLE, clock=clock) as emulator,
        aiohttp.ClientSession() as http,
    ):
        recorder = RouteRecorder(emulator, clock, http)
        await exercise_routes(recorder)
        hit = {key for key, count in emulator.stats.requests_by_route.items() if count}
        return recorder.goldens(), hit


@pytest.fixture(scope="module")
def routes_goldens() -> tuple[dict[str, str], set[tuple[str, str]]]:
    """Every route golden by file name, and the (method, route template) pairs served."""
    return anyio.run(_routes_scenario, backend="asyncio")


# ---------------------------------------------------------------------------------------
# Scenario 4: one seeded, packed, journaled run_many.

BATCH_CIRCUITS: list[Any] = [
    {"name": "bell", **BELL},
    {"name": "ghz3", **GHZ3},
    {"name": "bad", "qubits": 1, "circuit": [{"gate": "h", "target": 2}]},
    {"name": "wide", **WIDE},
    {"name": "tilted", **TILTED},
    {"name": "flip", "qubits": 1, "circuit": [{"gate": "x", "target": 0}]},
]


def _plain(value: Any) -> Any:
    """A model's fields as JSON-ready data (datetimes, enums and mappings made plain)."""
    if attrs.has(type(value)):
        return {f.name: _plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "value") and hasattr(value, "name"):  # an enum
        return value.value
    return str(value)


def outcome_record(outcome: ionq_async.Outcome) -> dict[str, Any]:
    """What a golden shows of one Outcome."""
    record: dict[str, Any] = {
        "index": outcome.index,
        "name": outcome.name,
        "ok": outcome.ok,
        "job": _plain(outcome.job),
        "duplicates_canceled": list(outcome.duplicates_canceled),
    }
    if outcome.result is not None:
        result = outcome.result
        record["result"] = {
            "job": _plain(result.job),
            "shots": result.shots,
            "num_qubits": result.num_qubits,
            "probabilities": {str(k): v for k, v in sorted(result.probabilities.items())},
            "counts": {str(k): v for k, v in sorted(result.counts().items())},
        }
    if outcome.error is not None:
        error = outcome.error
        record["error"] = {"type": type(error).__name__, "message": str(error)}
    return record


async def _run_many_scenario(folder: Path) -> str:
    journal = folder / "batch.jsonl"
    clock = ManualClock()
    async with (
        Emulator(api_keys=[BATCH_KEY], config=INSTANT, clock=clock) as emulator,
        ionq_async.Client(api_key=BATCH_KEY, base_url=emulator.url) as client,
    ):
        outcomes = []
        # One unit in flight at a time: the journal's records come in one order.
        run = client.run_many(
            BATCH_CIRCUITS,
            pack=PackLimits(max_circuits=2),
            journal=str(journal),
            concurrency=1,
            max_in_flight=1,
            backend="simulator",
            shots=100,
            noise_model="aria-1",
            noise_seed=11,
            metadata={"batch": "golden"},
        )
        async with run:
            async for outcome in run:
                outcomes.append(outcome_record(outcome))
        progress = run.progress
        job_ids = {str(k): v for k, v in sorted(run.job_ids.items())}
    summary = {
        "arrival_order": [o["index"] for o in outcomes],
        "job_ids": job_ids,
        "progress": {
            "total": progress.total,
            "submitted": progress.submitted,
            "waiting": progress.waiting,
            "completed": progress.completed,
            "failed": progress.failed,
            "duplicates_canceled": progress.duplicates_canceled,
        },
    }
    journal_text = journal.read_bytes().decode("utf-8")
    return (
        "# client.run_many(6 circuits, pack=PackLimits(max_circuits=2), journal=..., "
        "concurrency=1, max_in_flight=1, shots=100, noise aria-1 seed 11)\n"
        "## summary\n"
        + render_json(summary)
        + "\n## outcomes, in arrival order\n"
        + "".join(render_json(o) + "\n" for o in outcomes)
        + "## journal (its bytes, between the markers)\n"
        + "<<<\n"
        + journal_text
        + ">>>\n"
    )


@pytest.fixture(scope="module")
def run_many_golden(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The normalized golden text of the seeded batch."""
    folder = tmp_path_factory.mktemp("batch")
    text = anyio.run(_run_many_scenario, folder, backend="asyncio")
    return Normalizer({str(folder): "<tmp>"})(text)


# ---------------------------------------------------------------------------------------
# The tests: one per golden file.

HELP_FILES = sorted(p.relative_to(GOLDEN_DIR).as_posix() for p in GOLDEN_DIR.glob("help/*.txt"))
CLI_FILES = sorted(p.relative_to(GOLDEN_DIR).as_posix() for p in GOLDEN_DIR.glob("cli/*.txt"))
ROUTE_FILES = [f"routes/{name}.txt" for _, _, name in ROUTES] + [f"routes/{UNROUTED}.txt"]

needs_help_python = pytest.mark.skipif(
    sys.version_info[:2] != HELP_PYTHON,
    reason=f"argparse's help layout differs by version; recorded on {HELP_PYTHON}",
)


def _check_all(produced: dict[str, str], expected_names: list[str], folder: str) -> None:
    if updating():
        for stale in sorted(set(expected_names) - set(produced)):
            (GOLDEN_DIR / stale).unlink()
        for name, text in produced.items():
            check_golden(name, text)
        return
    assert sorted(produced) == expected_names, f"the {folder} scenario's files changed"


@needs_help_python
def test_help_golden_files_are_the_ones_produced(help_goldens: dict[str, str]) -> None:
    _check_all(help_goldens, HELP_FILES, "help")


@needs_help_python
@pytest.mark.parametrize("name", HELP_FILES)
def test_help_output_is_unchanged(name: str, help_goldens: dict[str, str]) -> None:
    check_golden(name, help_goldens[name])


def test_cli_golden_files_are_the_ones_produced(cli_goldens: dict[str, str]) -> None:
    _check_all(cli_goldens, CLI_FILES, "cli")


@pytest.mark.parametrize("name", CLI_FILES)
def test_cli_output_is_unchanged(name: str, cli_goldens: dict[str, str]) -> None:
    check_golden(name, cli_goldens[name])


def test_every_route_is_exercised(
    routes_goldens: tuple[dict[str, str], set[tuple[str, str]]],
) -> None:
    goldens, hit = routes_goldens
    _check_all(goldens, sorted(ROUTE_FILES), "routes")
    for method, template, _ in ROUTES:
        assert (method, "/v0.4" + template) in hit, f"{method} {template} was never served"


@pytest.mark.parametrize("name", ROUTE_FILES)
def test_route_answers_are_unchanged(
    name: str, routes_goldens: tuple[dict[str, str], set[tuple[str, str]]]
) -> None:
    check_golden(name, routes_goldens[0][name])


def test_seeded_packed_batch_outcomes_and_journal_are_unchanged(run_many_golden: str) -> None:
    check_golden("run_many.txt", run_many_golden)
