"""The ``ionq-async`` command: every endpoint from a shell, for people and for programs.

Commands: ``backends``, ``whoami``, ``submit FILE...``, ``run FILE...``, ``status ID``,
``result ID``, ``cost ID``, ``estimate``, ``jobs``, ``cancel ID...``, ``emulator`` and
``demo``. Tables are drawn with rich; ``--json`` on any command prints machine-readable
JSON on stdout and nothing else. Progress bars go to stderr, and only to a terminal.

Configuration: ``--api-key`` or ``IONQ_API_KEY`` (never printed), ``--base-url`` or
``IONQ_API_URL`` (plain ``http://`` only to loopback, unless ``--allow-insecure-http``), and
``--emulator`` to aim any command at an in-process emulator (which brings its own key).
An error prints one line, ``ionq-async: <ErrorType>: <message>``, on stderr; ``--debug``
adds the traceback.

Exit codes::

    0    success
    1    a job failed or was canceled, or did not finish within --timeout
    2    usage: an unknown command or option, or a setting that is not allowed
    3    API or authentication: no API key, a rejected key, an unknown job id, or any
         other error answer from the API (or an answer that breaks the API's promises)
    4    network: the server could not be reached, the connection dropped, a timeout
    5    invalid input: a file that cannot be read, is not JSON or holds an invalid
         circuit, or a value the API would reject (shots, metadata)
    70   internal error: a bug in ionq-async (run with --debug and report it)
    130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import sys
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import anyio
from attrs import field, frozen
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from . import __version__
from ._converter import converter
from ._limits import CIRCUIT_TYPE, JOB_TYPES, MULTI_CIRCUIT_TYPE
from ._retry import RetryPolicy
from ._transport import check_base_url, redact_urls
from .batch import BatchProgress, BatchRun, Outcome
from .circuits import Circuit, circuits_from_multi_json
from .emulator.__main__ import add_emulator_arguments, emulator_from_args, serve
from .exceptions import (
    APIError,
    CircuitError,
    ConfigurationError,
    InvalidRequestError,
    IonQError,
    JobError,
    JobFailed,
    JournalError,
    ResponseError,
    TransportError,
)
from .models import Job, JobStatus
from .results import Result, to_bitstrings

__all__ = ["ExitCode", "build_parser", "exit_code_for", "main"]

PROG = "ionq-async"
_ID_WIDTH = 36  # a UUID
DEFAULT_ROWS = 16
"""How many outcomes a counts or probabilities table shows (``--json`` gives them all)."""


class ExitCode(enum.IntEnum):
    """The documented exit codes of ``ionq-async``."""

    OK = 0
    JOB_FAILED = 1
    USAGE = 2
    API = 3
    NETWORK = 4
    INVALID_INPUT = 5
    INTERNAL = 70
    INTERRUPTED = 130


EPILOG = """\
exit codes:
  0    success
  1    a job failed or was canceled, or did not finish within --timeout
  2    usage: an unknown command or option, or a setting that is not allowed
  3    API or authentication: no API key, a rejected key, an unknown job id, or any
       other error answer from the API
  4    network: the server could not be reached, the connection dropped, a timeout
  5    invalid input: a file that cannot be read, is not JSON or holds an invalid
       circuit, or a value the API would reject
  70   internal error (a bug: run with --debug and report it)
  130  interrupted

environment:
  IONQ_API_KEY   the API key (or --api-key); never printed
  IONQ_API_URL   the base URL (or --base-url), default https://api.ionq.co/v0.4
"""


class InputFileError(IonQError):
    """A file given on the command line cannot be read or is not a job input (exit 5)."""


class MissingKeyError(ConfigurationError):
    """No API key was given for a command that needs one (exit 3)."""


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code the command ends with after ``error``."""
    match error:
        case JobError():
            return ExitCode.JOB_FAILED
        case MissingKeyError():
            return ExitCode.API
        case InputFileError() | CircuitError() | InvalidRequestError() | JournalError():
            return ExitCode.INVALID_INPUT
        case ConfigurationError():
            return ExitCode.USAGE
        case TransportError():
            return ExitCode.NETWORK
        case APIError() | ResponseError():
            return ExitCode.API
        case KeyboardInterrupt():
            return ExitCode.INTERRUPTED
        case _:
            return ExitCode.INTERNAL


# ---------------------------------------------------------------------------------------
# Output: JSON for programs, rich tables for people.


def _json_default(value: object) -> Any:
    if isinstance(value, datetime):
        return converter.unstructure(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | frozenset | set):
        return list(value)
    return str(value)


def to_jsonable(value: object) -> Any:
    """A model, or plain data holding models, as JSON-ready data in the API's wire form."""
    return converter.unstructure(value)


class Output:
    """Where a command's answer goes: JSON or a table on stdout, notes on stderr."""

    def __init__(self, *, json_mode: bool) -> None:
        self.json_mode = json_mode
        # No file given: rich looks up sys.stdout / sys.stderr when it writes.
        self.console = Console(highlight=False)
        self.err = Console(stderr=True, highlight=False)

    def json(self, data: Any) -> None:
        """Print ``data`` as JSON on stdout."""
        sys.stdout.write(json.dumps(data, indent=2, default=_json_default) + "\n")
        sys.stdout.flush()

    def table(self, table: Table) -> None:
        """Print a rich table on stdout."""
        self.console.print(table)

    def note(self, message: str) -> None:
        """A remark for people on stderr (never in JSON mode)."""
        if not self.json_mode:
            # One line however narrow the terminal: notes hold ids to copy.
            self.err.print(Text(message), style="dim", soft_wrap=True)

    @property
    def interactive(self) -> bool:
        """True when a live progress display may be drawn on stderr."""
        return not self.json_mode and self.err.is_terminal


def _cell(value: object) -> Text:
    if value is None:
        return Text("-", style="dim")
    if isinstance(value, datetime):
        return Text(value.strftime("%Y-%m-%d %H:%M:%S"))
    if isinstance(value, enum.Enum):
        return Text(str(value.value))
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    if isinstance(value, float):
        return Text(f"{value:.6g}")
    return Text(str(value))


def make_table(
    title: str | None, columns: Sequence[str], rows: Sequence[Sequence[object]]
) -> Table:
    """A rich table whose cells are plain text (never markup), ``-`` for missing values."""
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        if column.endswith("id"):
            # Ids are copied into the next command: never wrap or shorten them.
            table.add_column(column, no_wrap=True, min_width=_ID_WIDTH)
        elif column == "backend":
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    return table


def fields_table(title: str | None, fields: Sequence[tuple[str, object]]) -> Table:
    """A two-column table of names and values."""
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in fields:
        table.add_row(Text(name), _cell(value))
    return table


def _ms(value: float | None) -> str | None:
    if value is None:
        return None
    seconds = value / 1000
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


# ---------------------------------------------------------------------------------------
# Reading job inputs from files.


@frozen(kw_only=True)
class JobInput:
    """One file's content: circuits (from an ``input`` form) or a whole job payload."""

    source: str
    circuits: tuple[Circuit, ...] = ()
    multi: bool = False
    data: Mapping[str, Any] | None = None
    payload: Mapping[str, Any] | None = None


def _read_json(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise InputFileError(f"{source}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise InputFileError(f"{source}: not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputFileError(
            f"{source}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None


def _circuits_of(source: str, data: Mapping[str, Any]) -> tuple[tuple[Circuit, ...], bool]:
    try:
        if "circuits" in data and "circuit" not in data:
            return tuple(circuits_from_multi_json(data)), True
        return (Circuit.from_json(data),), False
    except CircuitError as error:
        raise CircuitError(f"{source}: {error}") from None


def load_job_input(source: str) -> JobInput:
    """Read a file (``-`` is stdin) holding a circuit ``input`` or a whole job payload."""
    data = _read_json(source)
    if not isinstance(data, Mapping):
        raise InputFileError(f"{source}: expected a JSON object, got {type(data).__name__}")
    if "input" in data:
        job_input = data["input"]
        if not isinstance(job_input, Mapping):
            raise InputFileError(f"{source}: 'input' must be a JSON object")
        job_type = data.get("type")
        if job_type is None:
            job_type = MULTI_CIRCUIT_TYPE if "circuits" in job_input else CIRCUIT_TYPE
        payload = {"type": job_type, **data}
        circuits: tuple[Circuit, ...] = ()
        multi = False
        if job_type in JOB_TYPES:
            # Check the circuits here, so a bad file fails before anything is sent.
            circuits, multi = _circuits_of(source, job_input)
        return JobInput(source=source, circuits=circuits, multi=multi, payload=payload)
    if "circuit" in data or "circuits" in data:
        circuits, multi = _circuits_of(source, data)
        return JobInput(source=source, circuits=circuits, multi=multi, data=data)
    raise InputFileError(
        f"{source}: neither a circuit input (with 'circuit' or 'circuits') "
        "nor a job payload (with 'input')"
    )


# ---------------------------------------------------------------------------------------
# The parser.


def _add_common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # The same options are accepted before and after the command name. On the
    # sub-parsers their default is SUPPRESS, so an option given before the command is not
    # overwritten by the sub-parser's default.
    def default(value: object) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("connection and output")
    group.add_argument(
        "--api-key",
        metavar="KEY",
        default=default(None),
        help="API key (default: $IONQ_API_KEY); never printed",
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        default=default(None),
        help="API base URL (default: $IONQ_API_URL or https://api.ionq.co/v0.4)",
    )
    group.add_argument(
        "--allow-insecure-http",
        action="store_true",
        default=default(False),
        help="allow a plain http:// base URL to a host other than loopback (the key is "
        "sent unencrypted)",
    )
    group.add_argument(
        "--emulator",
        action="store_true",
        default=default(False),
        help="run against an in-process emulator (no key, no network)",
    )
    group.add_argument(
        "--retries",
        type=int,
        metavar="N",
        default=default(None),
        help="retries after network errors, 429 and 5xx answers (default 4)",
    )
    group.add_argument(
        "--request-timeout",
        type=float,
        metavar="SECONDS",
        default=default(None),
        help="time limit of one HTTP request (default 30)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print machine-readable JSON on stdout, and nothing else",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=default(False),
        help="print a traceback with an error",
    )


def _add_job_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("job options (override a payload file's own)")
    group.add_argument("-b", "--backend", help="backend (default: simulator)")
    group.add_argument("-s", "--shots", type=int, help="number of shots")
    group.add_argument("--name", help="job name")
    group.add_argument(
        "--noise-model", metavar="MODEL", help="simulator noise model (ideal, aria-1, ...)"
    )
    group.add_argument("--noise-seed", metavar="SEED", type=int, help="simulator noise seed")
    group.add_argument(
        "--debiasing",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="error mitigation by debiasing (QPUs; at least 500 shots)",
    )
    group.add_argument(
        "--dry-run", action="store_true", default=None, help="compile only, do not execute"
    )
    group.add_argument("--session", metavar="ID", help="submit into this session")
    group.add_argument(
        "--metadata",
        metavar="KEY=VALUE",
        action="append",
        default=None,
        help="job metadata (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``ionq-async`` argument parser."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="An asyncio-first client for the IonQ Quantum Cloud API v0.4.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_common_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, *, common: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if common:
            _add_common_options(sub, suppress=True)
        return sub

    command("backends", "list the backends and their status")
    command("whoami", "show the API key's id, name and project (never the key)")

    sub = command("submit", "submit jobs from circuit or job-payload JSON files")
    sub.add_argument("files", nargs="+", metavar="FILE", help="JSON file, or - for stdin")
    _add_job_options(sub)

    sub = command("run", "submit, wait and print counts (many files: one concurrent batch)")
    sub.add_argument("files", nargs="+", metavar="FILE", help="JSON file, or - for stdin")
    _add_job_options(sub)
    sub.add_argument(
        "--concurrency",
        type=int,
        default=None,
        metavar="N",
        help="job creations in flight at once (default 64)",
    )
    sub.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop waiting after this long; unfinished circuits exit 1",
    )
    sub.add_argument("--journal", metavar="PATH", help="journal file making the batch resumable")
    sub.add_argument(
        "--rows",
        type=int,
        default=DEFAULT_ROWS,
        metavar="N",
        help=f"outcomes shown in a table ({DEFAULT_ROWS}; --json gives all)",
    )

    sub = command("status", "show a job")
    sub.add_argument("job_id", metavar="ID")

    sub = command("result", "show a job's probabilities, or counts for a number of shots")
    sub.add_argument("job_id", metavar="ID")
    how = sub.add_mutually_exclusive_group()
    how.add_argument("-s", "--shots", type=int, help="show counts for this many shots")
    how.add_argument("--counts", action="store_true", help="show counts for the job's shots")
    sub.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="outcomes shown in the table")

    sub = command("cost", "show a job's estimated and actual cost")
    sub.add_argument("job_id", metavar="ID")

    sub = command("estimate", "estimate the cost of a job before submitting it")
    sub.add_argument("-b", "--backend", default="qpu.forte-1", help="default: qpu.forte-1")
    sub.add_argument("--qubits", type=int, help="number of qubits")
    sub.add_argument("-s", "--shots", type=int, help="number of shots")
    sub.add_argument("--1q-gates", dest="one_qubit_gates", type=int, metavar="N")
    sub.add_argument("--2q-gates", dest="two_qubit_gates", type=int, metavar="N")
    sub.add_argument("--error-mitigation", action=argparse.BooleanOptionalAction, default=None)
    sub.add_argument(
        "--circuit",
        metavar="FILE",
        help="take qubits and gate counts from this circuit (options still override)",
    )

    sub = command("jobs", "list jobs, newest first")
    sub.add_argument("--status", help="only jobs in this status")
    sub.add_argument("-b", "--backend", help="only jobs on this backend")
    sub.add_argument("--session", metavar="ID", help="only jobs of this session")
    sub.add_argument("--parent", metavar="ID", help="only children of this multi-circuit job")
    sub.add_argument(
        "--id", dest="ids", action="append", metavar="ID", help="only these jobs (repeatable)"
    )
    sub.add_argument("-n", "--limit", type=int, default=25, help="at most this many (25)")

    sub = command("cancel", "cancel jobs")
    sub.add_argument("job_ids", nargs="+", metavar="ID")

    # The emulator has its own --api-key (keys it accepts), so not the common options.
    sub = command("emulator", "serve the offline emulator of the API until Ctrl-C", common=False)
    sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    add_emulator_arguments(sub)

    sub = command("demo", "run ~200 circuits on an in-process emulator (no key, no network)")
    sub.add_argument("--circuits", type=int, default=200, metavar="N", help="how many (200)")
    sub.add_argument("-s", "--shots", type=int, default=1000, help="shots per circuit (1000)")
    sub.add_argument(
        "--fast", action="store_true", help="jobs complete at once (as in the test suite)"
    )
    return parser


# ---------------------------------------------------------------------------------------
# Running a command.

KEYLESS_COMMANDS = frozenset({"backends", "emulator", "demo"})
JOB_ID_COMMANDS = frozenset({"status", "result", "cost", "cancel"})
"""Commands that name an existing job: a fresh ``--emulator`` can never know it."""

# Values the API (or the counts they ask for) would judge: a bad one is invalid input
# (exit 5), as a bad --shots already is when the client checks it.
_INPUT_MINIMUMS = {
    "shots": ("--shots", 1),
    "qubits": ("--qubits", 1),
    "one_qubit_gates": ("--1q-gates", 0),
    "two_qubit_gates": ("--2q-gates", 0),
}
# Settings of the command itself: a bad one is a usage error (exit 2).
_SETTING_MINIMUMS = {
    "rows": ("--rows", 1),
    "limit": ("--limit", 1),
    "concurrency": ("--concurrency", 1),
    "retries": ("--retries", 0),
}
_DEMO_IGNORES = {
    "api_key": "--api-key",
    "base_url": "--base-url",
    "allow_insecure_http": "--allow-insecure-http",
    "retries": "--retries",
    "request_timeout": "--request-timeout",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ionq-async`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
    except SystemExit as done:
        # --help, --version and usage errors; argparse has printed what it had to say.
        return done.code if isinstance(done.code, int) else ExitCode.USAGE
    out = Output(json_mode=ns.json)
    try:
        return int(anyio.run(_dispatch, ns, out, backend="asyncio"))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Exception as caught:  # one line per error; the traceback only when asked
        error = _single(caught)
        # URLs lose their query values and user names here too: a key may sit in either.
        if ns.debug:
            sys.stderr.write(redact_urls("".join(traceback.format_exception(error))))
        code = exit_code_for(error)
        hint = " (run with --debug for the traceback)" if code == ExitCode.INTERNAL else ""
        message = redact_urls(f"{PROG}: {type(error).__name__}: {error}{hint}")
        print(message, file=sys.stderr)
        return code


def _single(error: BaseException) -> BaseException:
    """The one error inside nested exception groups, if there is exactly one."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


def fail(message: str) -> NoReturn:
    """Stop the command with a usage error (exit 2)."""
    raise ConfigurationError(message)


def invalid(message: str) -> NoReturn:
    """Stop the command with an invalid-input error (exit 5)."""
    raise InvalidRequestError(message)


def check_options(ns: argparse.Namespace) -> None:
    """Refuse bad option values before anything starts: exit 5 for input, 2 for settings."""
    for attribute, (flag, minimum) in _INPUT_MINIMUMS.items():
        value = getattr(ns, attribute, None)
        if value is not None and value < minimum:
            invalid(f"{flag} must be at least {minimum}, got {value}")
    for attribute, (flag, minimum) in _SETTING_MINIMUMS.items():
        value = getattr(ns, attribute, None)
        if value is not None and value < minimum:
            fail(f"{flag} must be at least {minimum}, got {value}")
    request_timeout = getattr(ns, "request_timeout", None)
    if request_timeout is not None and not request_timeout > 0:
        fail(f"--request-timeout must be positive, got {request_timeout}")
    timeout = getattr(ns, "timeout", None)
    if timeout is not None and not timeout >= 0:
        fail(f"--timeout must not be negative, got {timeout}")
    if ns.command == "demo":
        given = [
            flag
            for name, flag in _DEMO_IGNORES.items()
            if getattr(ns, name, None) is not None and getattr(ns, name) is not False
        ]
        if given:
            fail(
                "demo always runs on its own in-process emulator; "
                f"{'/'.join(given)} {'does' if len(given) == 1 else 'do'} not apply"
            )


Handler = Callable[[Any, argparse.Namespace, Output], Awaitable[int]]


async def _dispatch(ns: argparse.Namespace, out: Output) -> int:
    check_options(ns)
    if ns.command == "demo":
        from ._demo import demo_command

        return await demo_command(ns, out)
    if ns.command == "emulator":
        try:
            emulator = emulator_from_args(ns)
        except ValueError as error:
            raise ConfigurationError(str(error)) from None
        await serve(emulator)
        return ExitCode.OK
    handler: Handler = HANDLERS[ns.command]
    async with open_client(ns) as client:
        return await handler(client, ns, out)


@asynccontextmanager
async def open_client(ns: argparse.Namespace) -> AsyncIterator[Any]:
    """A Client configured from the options, or aimed at an in-process emulator."""
    from .client import Client

    options: dict[str, Any] = {}
    if ns.retries is not None:
        options["retry"] = RetryPolicy(max_attempts=ns.retries + 1)
    if ns.request_timeout is not None:
        options["timeout_s"] = ns.request_timeout
    if ns.emulator:
        from .emulator import Emulator

        async with (
            Emulator() as emu,
            Client(api_key=emu.api_key, base_url=emu.url, **options) as client,
        ):
            yield client
        return
    api_key = ns.api_key or os.environ.get("IONQ_API_KEY") or None
    base_url = ns.base_url or os.environ.get("IONQ_API_URL") or None
    if api_key is None and ns.command not in KEYLESS_COMMANDS:
        if ns.command in JOB_ID_COMMANDS:
            raise MissingKeyError("no API key: pass --api-key or set IONQ_API_KEY")
        raise MissingKeyError("no API key: pass --api-key, set IONQ_API_KEY, or add --emulator")
    if base_url is not None and not ns.allow_insecure_http:
        _check_plain_http(base_url)
    async with Client(
        api_key=api_key, base_url=base_url, allow_insecure_http=ns.allow_insecure_http, **options
    ) as client:
        yield client


def _check_plain_http(base_url: str) -> None:
    """Refuse plain http:// to a host other than loopback, naming the command line's flag."""
    # The client's own message names its keyword argument, which a shell user cannot pass.
    try:
        check_base_url(base_url, allow_insecure_http=False)
    except ConfigurationError:
        # Any other problem with the URL is reported as the client words it.
        url = check_base_url(base_url, allow_insecure_http=True)
        fail(
            f"refusing plain http:// to {url.host}: the API key would travel unencrypted; "
            "use https://, or add --allow-insecure-http if you really mean it"
        )


# ---------------------------------------------------------------------------------------
# Commands.


async def cmd_backends(client: Any, ns: argparse.Namespace, out: Output) -> int:
    """``backends``: every backend, its status and qubits."""
    backends = await client.backends()
    if out.json_mode:
        out.json(to_jsonable(list(backends)))
        return ExitCode.OK
    rows = [
        (b.backend, b.status, b.qubits, _ms(b.average_queue_time), b.degraded) for b in backends
    ]
    out.table(make_table(None, ["backend", "status", "qubits", "avg queue", "degraded"], rows))
    models = sorted({m for b in backends for m in b.noise_models or ()})
    if models:
        out.console.print(Text("simulator noise models: " + ", ".join(models)))
    return ExitCode.OK


async def cmd_whoami(client: Any, ns: argparse.Namespace, out: Output) -> int:
    """``whoami``: the key's id, name and project (never the key itself)."""
    me = await client.whoami()
    if out.json_mode:
        out.json(to_jsonable(me))
        return ExitCode.OK
    out.table(
        fields_table(
            None,
            [("key id", me.key_id), ("key name", me.key_name), ("project id", me.project_id)],
        )
    )
    return ExitCode.OK


def _metadata(ns: argparse.Namespace) -> dict[str, str] | None:
    if not ns.metadata:
        return None
    pairs: dict[str, str] = {}
    for item in ns.metadata:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--metadata expects KEY=VALUE, got {item!r}")
        pairs[key] = value
    return pairs


def submit_options(ns: argparse.Namespace) -> dict[str, Any]:
    """The job options given on the command line, as ``Client.submit`` keywords."""
    options = {
        "backend": ns.backend,
        "shots": ns.shots,
        "name": ns.name,
        "noise_model": ns.noise_model,
        "noise_seed": ns.noise_seed,
        "debiasing": ns.debiasing,
        "dry_run": ns.dry_run,
        "session_id": ns.session,
        "metadata": _metadata(ns),
    }
    return {key: value for key, value in options.items() if value is not None}


def apply_options(payload: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """A job payload with the command line's options written over its own fields."""
    merged = dict(payload)
    merged.setdefault("backend", "simulator")
    for key in ("backend", "shots", "name", "dry_run"):
        if key in options:
            merged[key] = options[key]
    if "session_id" in options:
        merged["session_id"] = options["session_id"]
    if "noise_model" in options or "noise_seed" in options:
        noise = dict(merged.get("noise") or {})
        if "noise_model" in options:
            noise["model"] = options["noise_model"]
        if "noise_seed" in options:
            noise["seed"] = options["noise_seed"]
        noise.setdefault("model", "ideal")
        merged["noise"] = noise
    if "debiasing" in options:
        settings = dict(merged.get("settings") or {})
        mitigation = dict(settings.get("error_mitigation") or {})
        mitigation["debiasing"] = options["debiasing"]
        settings["error_mitigation"] = mitigation
        merged["settings"] = settings
    if "metadata" in options:
        merged["metadata"] = {**(merged.get("metadata") or {}), **options["metadata"]}
    return merged


def payload_options(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A payload's job fields as ``Client.submit`` keywords (the inverse of apply_options)."""
    options: dict[str, Any] = {}
    for key in ("backend", "shots", "name", "dry_run", "session_id", "metadata"):
        if payload.get(key) is not None:
            options[key] = payload[key]
    noise = payload.get("noise")
    if isinstance(noise, Mapping):
        if noise.get("model") is not None:
            options["noise_model"] = noise["model"]
        if noise.get("seed") is not None:
            options["noise_seed"] = noise["seed"]
    if isinstance(payload.get("settings"), Mapping):
        options["settings"] = payload["settings"]
    return options


async def _submit_one(client: Any, job_input: JobInput, options: Mapping[str, Any]) -> Any:
    if job_input.payload is not None:
        return await client.create_job(apply_options(job_input.payload, options))
    # The input as written (names, registers and all); it was validated when read.
    return await client.submit(job_input.data, **options)


async def cmd_submit(client: Any, ns: argparse.Namespace, out: Output) -> int:
    """``submit FILE...``: create one job per file; print the ids."""
    inputs = [load_job_input(source) for source in ns.files]
    options = submit_options(ns)
    rows = []
    for job_input in inputs:
        job = await _submit_one(client, job_input, options)
        rows.append({"file": job_input.source, "id": job.id, "status": job.status.value})
    if out.json_mode:
        out.json(rows)
    else:
        out.table(make_table(None, ["file", "job id", "status"], [tuple(r.values()) for r in rows]))
    return ExitCode.OK


def _job_fields(job: Any) -> list[tuple[str, object]]:
    failure = None
    if job.failure is not None:
        failure = ": ".join(part for part in (job.failure.code, job.failure.text) if part)
    noise = None
    if job.noise is not None:
        noise = job.noise.model + (
            f" (seed {job.noise.seed})" if job.noise.seed is not None else ""
        )
    fields: list[tuple[str, object]] = [
        ("id", job.id),
        ("name", job.name),
        ("status", job.status),
        ("type", job.type),
        ("backend", job.backend),
        ("shots", job.shots),
        ("noise", noise),
        ("dry run", job.dry_run),
        ("qubits", job.stats.qubits if job.stats else None),
        ("submitted", job.submitted_at),
        ("started", job.started_at),
        ("completed", job.completed_at),
        ("predicted wait", _ms(job.predicted_wait_time_ms)),
        ("execution time", _ms(job.execution_duration_ms)),
    ]
    if job.child_job_ids:
        fields.append(("child jobs", len(job.child_job_ids)))
    if job.parent_job_id:
        fields.append(("parent job", job.parent_job_id))
    if job.session_id:
        fields.append(("session", job.session_id))
    if failure:
        fields.append(("failure", failure))
    return fields


async def cmd_status(client: Any, ns: argparse.Namespace, out: Output) -> int:
    """``status ID``: one job's state."""
    job = await client.get_job(ns.job_id)
    if out.json_mode:
        out.json(to_jsonable(job))
    else:
        out.table(fields_table(None, _job_fields(job)))
    return ExitCode.OK


def _distribution_rows(
    values: Mapping[int, float] | Mapping[int, int], num_qubits: int, rows: int
) -> list[tuple[object, ...]]:
    ordered = sorted(values.items(), key=lambda item: (-item[1], item[0]))
    bitstrings = to_bitstrings(dict(ordered[:rows]), num_qubits)
    return [
        (bits, key, value)
        for (bits, value), (key, _) in zip(bitstrings.items(), ordered, strict=False)
    ]


def distribution_json(result: Any, shots: int | None) -> dict[str, Any]:
    """A result as JSON: probabilities, or counts for ``shots``; keys as the API writes them."""
    data: dict[str, Any] = {
        "job_id": result.job.id,
        "num_qubits": result.num_qubits,
        "probabilities": {str(k): v for k, v in sorted(result.probabilities.items())},
    }
    if shots is not None:
        counts = result.counts(shots)
        data["shots"] = shots
        data["counts"] = {str(k): v for k, v in sorted(counts.items())}
        data["bitstring_counts"] = to_bitstrings(counts, result.num_qubits)
    else:
        data["bitstrings"] = result.bitstrings()
    return data


def _result_table(result: Any, shots: int | None, rows: int, title: str | None) -> Table:
    if shots is None:
        values: Mapping[int, Any] = result.probabilities
        heading = "probability"
    else:
        values = result.counts(shots)
        heading = f"count (of {shots})"
    table_rows = _distribution_rows(values, result.num_qubits, rows)
    table = make_table(title, ["bitstring (q0 right)", "state", heading], table_rows)
    hidden = len(values) - len(table_rows)
    if hidden > 0:
        table.caption = f"{hidden} more outcome(s); --rows N or --json to see them"
    return table


async def cmd_result(client: Any, ns: argparse.Namespace, out: Output) -> int:
    """``result ID``: probabilities, or counts for a number of shots."""
    job = await client.get_job(ns.job_id)
    if job.is_parent and job.status is JobStatus.COMPLETED:
        return await _parent_result(client, job, ns, out)
    result = await client.result(job)
    shots = ns.shots
    if ns.counts:
        shots = result.shots
        if shots is None:
            fail(f"job {result.job.id} has no shot count; give --shots N")
    if out.json_mode:
        out.json(distribution_json(result, shots))
    else:
        out.table(_result_table(result, shots, ns.rows, f"job {result.job.id}"))
    return ExitCode.OK


async def _parent_result(client: Any, job: Job, ns: argparse.Namespace, out: Output) -> int:
    """A multi-circuit job's result: one distribution per child job, in circuit order."""
    by_child = await client.aggregated_probabilities(job)
    shots = ns.shots if ns.shots is not None else (job.shots if ns.counts else None)
    if ns.counts and shots is None:
        fail(f"job {job.id} has no shot count; give --shots N")
    # The children carry their own widths (the parent's is the widest circuit's).
    children = {child.id: child async for child in client.jobs(parent_job_id=job.id)}
    results = [
        Result(
            job=children.get(child) or Job(id=child, status=JobStatus.COMPLETED),
            probabilities=p,
            shots=job.shots,
        )
        for child, p in by_child.items()
    ]
    if out.json_mode:
        out.json(
            {
                "job_id": job.id,
                "children": [distribution_json(result, shots) for result in results],
            }
        )
        return ExitCode.OK
    for index, result in enumerate(results):
        title = f"job {job.id}, circuit {index} (job {result.job.id})"
        out.table(_result_table(result, shots, ns.rows, title))
    return ExitCode.OK


async def cmd_cost(client: Any, ns: argparse.Namespace, out: Output) -> int:
    """``cost ID``: estimated and, once billed, actual cost."""
    cost = await client.cost(ns.job_id)
    if out.json_mode:
        out.json(to_jsonable(cost))
        return ExitCode.OK

    def money(value: Any) -> str | None:
        return None if value is None else f"{value.value:g} {value.unit}"

    out.table(
        fields_table(
            f"job {ns.job_id}",
            [
                ("dry run", cost.dry_run),
                ("estimated cost", money(cost.estimated_cost)),
                ("cost", money(cost.cost)),
            ],
        )
    )
    return ExitCode.OK


async def cmd_estimate(client: Any, ns: argparse.Namespace, out: Output) -> int:
    """``estimate``: the cost of a job described by its size."""
    qubits, one, two = ns.qubits, ns.one_qubit_gates, ns.two_qubit_gates
    if ns.circuit is not None:
        job_input = load_job_input(ns.circuit)
        if not job_input.circuits:
            raise InputFileError(f"{ns.circuit}: holds no circuit")
        widest = max(c.num_qubits for c in job_input.circuits)
        counts = [c.gate_counts() for c in job_input.circuits]
        qubits = widest if qubits is None else qubits
        one = sum(c[0] for c in counts) if one is None else one
        two = sum(c[1] for c in counts) if two is None else two
    options = {
        "qubits": qubits,
        "shots": ns.shots,
        "one_qubit_gates": one,
        "two_qubit_gates": two,
        "error_mitigation": ns.error_mitigation,
    }
    estimate = await client.estimate(
        backend=ns.backend, **{key: value for key, value in options.items() if value is not None}
    )
    if out.json_mode:
        out.json(to_jsonable(estimate))
        return ExitCode.OK
    context = estimate.context
    fields: list[tuple[str, object]] = [("backend", context.backend if context else ns.backend)]
    if context is not None:
        fields += [
            ("qubits", context.qubits),
            ("shots", context.shots),
            ("1q gates", context.one_qubit_gates),
            ("2q gates", context.two_qubit_gates),
            ("error mitigation", context.error_mitigation),
        ]
    total = estimate.total_cost
    fields += [
        ("estimated cost", None if total is None else f"{total:g} {estimate.unit or ''}".strip()),
        ("estimated at", estimate.estimated_at),
    ]
    out.table(fields_table(None, fields))
    return ExitCode.OK


async def cmd_jobs(client: Any, ns: argparse.Namespace, out: Output) -> int:
    """``jobs``: recent jobs, filtered."""
    filters = {
        "status": ns.status,
        "backend": ns.backend,
        "session_id": ns.session,
        "parent_job_id": ns.parent,
        "ids": ns.ids,
    }
    jobs = []
    async for job in client.jobs(
        limit=ns.limit, **{key: value for key, value in filters.items() if value is not None}
    ):
        jobs.append(job)
        if len(jobs) >= ns.limit:
            break
    if out.json_mode:
        out.json(to_jsonable(jobs))
        return ExitCode.OK
    rows = [(j.id, j.status, j.backend, j.name, j.submitted_at) for j in jobs]
    out.table(make_table(None, ["id", "status", "backend", "name", "submitted"], rows))
    return ExitCode.OK


async def cmd_cancel(client: Any, ns: argparse.Namespace, out: Output) -> int:
    """``cancel ID...``: cancel jobs (many at once in one request)."""
    ids = list(dict.fromkeys(ns.job_ids))
    if len(ids) == 1:
        answer = await client.cancel(ids[0])
        rows = [{"id": answer.id, "status": answer.status}]
    else:
        bulk = await client.cancel_many(ids)
        rows = [{"id": job_id, "status": bulk.status} for job_id in bulk.ids]
    if out.json_mode:
        out.json(rows)
    else:
        out.table(make_table(None, ["job id", "status"], [(r["id"], r["status"]) for r in rows]))
    return ExitCode.OK


# ``run`` lives with the batch display below.


@frozen(kw_only=True)
class RunItem:
    """One circuit of a ``run``: where it came from and what to call it."""

    source: str
    label: str
    circuit: Circuit


def run_items(inputs: Sequence[JobInput]) -> list[RunItem]:
    """Every circuit of the given files, labelled ``file`` or ``file#i`` (multi-circuit)."""
    items = []
    for job_input in inputs:
        if not job_input.circuits:
            raise InputFileError(
                f"{job_input.source}: {job_input.payload.get('type') if job_input.payload else ''}"
                " jobs are not circuits; use submit"
            )
        for index, circuit in enumerate(job_input.circuits):
            label = f"{job_input.source}#{index}" if job_input.multi else job_input.source
            items.append(RunItem(source=job_input.source, label=label, circuit=circuit))
    return items


def run_options(inputs: Sequence[JobInput], ns: argparse.Namespace) -> dict[str, Any]:
    """One set of job options for every circuit: the payloads' own, then the command line's."""
    from_payloads = [payload_options(i.payload) for i in inputs if i.payload is not None]
    base: dict[str, Any] = {}
    if from_payloads:
        base = from_payloads[0]
        for other, job_input in zip(from_payloads[1:], inputs[1:], strict=False):
            if other != base:
                fail(
                    f"{job_input.source}: its job fields differ from the other payloads'; "
                    "run them separately or give the options on the command line"
                )
    return {**base, **submit_options(ns)}


class BatchDisplay:
    """A live progress bar of a batch on stderr: submitted, running, done, failed, rate."""

    def __init__(self, out: Output, total: int, title: str, *, enabled: bool) -> None:
        self.enabled = enabled and out.interactive
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=out.err,
            disable=not self.enabled,
        )
        self._task = self._progress.add_task(title, total=total, counts="starting")

    def __enter__(self) -> BatchDisplay:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def update(self, progress: BatchProgress) -> None:
        """Show new counts (called by the batch engine whenever one changes)."""
        counts = (
            f"submitted {progress.submitted} · running {progress.waiting} · "
            f"done {progress.completed} · failed {progress.failed} · "
            f"{progress.rate_per_s:.1f} jobs/s"
        )
        self._progress.update(self._task, completed=progress.done, counts=counts)


@frozen(kw_only=True)
class BatchReport:
    """What a batch produced: outcomes by circuit index, the final counts, the time taken."""

    total: int
    outcomes: Mapping[int, Outcome]
    elapsed_s: float
    timed_out: bool
    job_ids: Mapping[int, str] = field(factory=dict)
    """The job of every circuit that got one, by circuit index (outcome or not)."""

    @property
    def completed(self) -> int:
        """Circuits with a result."""
        return sum(1 for o in self.outcomes.values() if o.ok)

    @property
    def failed(self) -> list[Outcome]:
        """Outcomes without a result, in circuit order."""
        return [self.outcomes[i] for i in sorted(self.outcomes) if not self.outcomes[i].ok]

    @property
    def unfinished(self) -> int:
        """Circuits without an outcome (only after a timeout)."""
        return self.total - len(self.outcomes)

    @property
    def unfinished_job_ids(self) -> list[str]:
        """Jobs created for circuits without an outcome: still on the server, maybe running."""
        return unfinished_job_ids(self.total, self.outcomes, self.job_ids)

    @property
    def jobs_per_s(self) -> float:
        """Outcomes per second of wall time."""
        return len(self.outcomes) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """The counts as JSON-ready data."""
        return {
            "total": self.total,
            "completed": self.completed,
            "failed": len(self.failed),
            "unfinished": self.unfinished,
            "failures": [failure_json(o.error) for o in self.failed],
            "elapsed_s": round(self.elapsed_s, 3),
            "jobs_per_s": round(self.jobs_per_s, 2),
        }

    def summary_line(self) -> str:
        """The counts in one sentence."""
        parts = [f"completed: {self.completed}/{self.total}", f"failed: {len(self.failed)}"]
        if self.unfinished:
            parts.append(f"unfinished: {self.unfinished}")
        parts.append(f"{self.elapsed_s:.2f} s, {self.jobs_per_s:.1f} jobs/s")
        return ", ".join(parts)

    def exit_code(self) -> ExitCode:
        """0 if every circuit has a result; else the code of the first failed circuit's error."""
        for outcome in self.failed:
            if outcome.error is not None:
                return exit_code_for(outcome.error)
        if self.unfinished:
            return ExitCode.JOB_FAILED
        return ExitCode.OK


async def run_batch(
    client: Any,
    circuits: Sequence[Circuit],
    out: Output,
    *,
    options: Mapping[str, Any],
    timeout_s: float | None,
    title: str,
    show_progress: bool,
    name_left_running: bool = False,
) -> BatchReport:
    """Run circuits through ``client.run_many`` with a live progress bar; collect outcomes.

    With ``name_left_running``, an interruption (Ctrl-C) or an error that stops the batch
    first says on stderr which jobs were created and are still on the server.
    """
    outcomes: dict[int, Outcome] = {}
    started = time.monotonic()
    batch: BatchRun | None = None
    try:
        with (
            BatchDisplay(out, len(circuits), title, enabled=show_progress) as display,
            time_limit(timeout_s) as scope,
        ):
            batch = client.run_many(circuits, progress=display.update, **options)
            async with batch:
                async for outcome in batch:
                    outcomes[outcome.index] = outcome
    except BaseException:
        if batch is not None and name_left_running:
            left = unfinished_job_ids(len(circuits), outcomes, batch.job_ids)
            if left:
                # On stderr even in JSON mode: stdout gets nothing from a stopped run.
                out.err.print(Text(left_running_note(left)), soft_wrap=True)
        raise
    return BatchReport(
        total=len(circuits),
        outcomes=outcomes,
        elapsed_s=time.monotonic() - started,
        timed_out=scope.cancelled_caught,
        job_ids=batch.job_ids if batch is not None else {},
    )


def time_limit(timeout_s: float | None) -> anyio.CancelScope:
    """The scope that stops a batch after ``timeout_s`` seconds (None: no limit)."""
    return anyio.move_on_after(timeout_s)


def unfinished_job_ids(
    total: int, outcomes: Mapping[int, Outcome], job_ids: Mapping[int, str]
) -> list[str]:
    """Ids of jobs created for circuits without an outcome, once each, in circuit order."""
    ids = (job_ids.get(i) for i in range(total) if i not in outcomes)
    return list(dict.fromkeys(job_id for job_id in ids if job_id is not None))


def failure_json(error: BaseException | None) -> dict[str, Any] | None:
    """An error as JSON: its type, message and (for failed jobs) the API's failure code."""
    if error is None:
        return None
    data: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
    if isinstance(error, JobFailed):
        if error.code is not None:
            data["code"] = error.code
        if error.job.failure is not None and error.job.failure.text:
            data["reason"] = error.job.failure.text
    return data


def outcome_json(
    label: str,
    outcome: Outcome | None,
    shots: int | None,
    index: int,
    *,
    job_id: str | None = None,
) -> dict[str, Any]:
    """One circuit's outcome as JSON: counts (or probabilities without shots), or the error.

    ``job_id`` names the job of a circuit without an outcome, if it has one.
    """
    entry: dict[str, Any] = {"index": index, "source": label}
    if outcome is None:
        entry["status"] = "unfinished"
        entry["job_id"] = job_id
        return entry
    entry["name"] = outcome.name
    entry["job_id"] = outcome.job.id if outcome.job is not None else None
    if outcome.result is not None:
        entry["status"] = "completed"
        entry.update(distribution_json(outcome.result, shots or outcome.result.shots))
        entry.pop("job_id", None)
        entry["job_id"] = outcome.result.job.id if outcome.job is None else outcome.job.id
    else:
        status = outcome.job.status.value if outcome.job is not None else "not submitted"
        entry["status"] = status if status in ("failed", "canceled") else "failed"
        entry["error"] = failure_json(outcome.error)
    return entry


def _top(entry: Mapping[str, Any], count: int = 3) -> str | None:
    values = entry.get("bitstring_counts") or entry.get("bitstrings")
    if not values:
        return None
    best = sorted(values.items(), key=lambda item: (-item[1], item[0]))[:count]
    shown = "  ".join(
        f"{bits}: {value}" if isinstance(value, int) else f"{bits}: {value:.3f}"
        for bits, value in best
    )
    return shown + ("  …" if len(values) > count else "")


def outcomes_table(entries: Sequence[Mapping[str, Any]]) -> Table:
    """One row per circuit: source, status, the most frequent outcomes or the error."""
    rows = []
    for entry in entries:
        error = entry.get("error")
        detail = f"{error['type']}: {error['message']}" if error else _top(entry)
        rows.append((entry["source"], entry["status"], detail, entry.get("job_id")))
    return make_table(None, ["circuit", "status", "top outcomes / error", "job id"], rows)


async def cmd_run(client: Any, ns: argparse.Namespace, out: Output) -> int:
    """``run FILE...``: submit, wait and print counts; many circuits run as one batch."""
    inputs = [load_job_input(source) for source in ns.files]
    items = run_items(inputs)
    options = run_options(inputs, ns)
    if ns.concurrency is not None:
        options["concurrency"] = ns.concurrency
    if ns.journal is not None:
        options["journal"] = ns.journal
    report = await run_batch(
        client,
        [item.circuit for item in items],
        out,
        options=options,
        timeout_s=ns.timeout,
        title="run",
        show_progress=len(items) > 1,
        name_left_running=not ns.emulator,  # an in-process emulator's jobs end with it
    )
    entries = [
        outcome_json(
            item.label,
            report.outcomes.get(index),
            options.get("shots"),
            index,
            job_id=report.job_ids.get(index),
        )
        for index, item in enumerate(items)
    ]
    if out.json_mode:
        out.json({"results": entries, "summary": report.summary()})
    elif len(items) == 1 and report.outcomes.get(0) is not None and report.outcomes[0].ok:
        outcome = report.outcomes[0]
        assert outcome.result is not None
        shots = options.get("shots") or outcome.result.shots
        table = _result_table(outcome.result, shots, ns.rows, items[0].label)
        table.caption = f"job {outcome.result.job.id}" + (
            f"; {table.caption}" if table.caption else ""
        )
        out.table(table)
    else:
        out.table(outcomes_table(entries))
        out.console.print(Text(report.summary_line()))
    left = report.unfinished_job_ids
    if left and not ns.emulator:  # an in-process emulator's jobs end with it
        out.note(left_running_note(left))
    return report.exit_code()


def left_running_note(left: Sequence[str]) -> str:
    """The line that names jobs left on the server and the command that cancels them."""
    jobs, them = ("1 job was", "it") if len(left) == 1 else (f"{len(left)} jobs were", "them")
    return (
        f"{jobs} left running on the server: {' '.join(left)}; "
        f"`{PROG} cancel {' '.join(left)}` cancels {them}"
    )


HANDLERS: dict[str, Handler] = {
    "backends": cmd_backends,
    "whoami": cmd_whoami,
    "submit": cmd_submit,
    "run": cmd_run,
    "status": cmd_status,
    "result": cmd_result,
    "cost": cmd_cost,
    "estimate": cmd_estimate,
    "jobs": cmd_jobs,
    "cancel": cmd_cancel,
}
