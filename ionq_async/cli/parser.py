"""The command line's grammar: every command and option, and the values they may take."""

from __future__ import annotations

import argparse
import math
from typing import Any

from .. import __version__
from ..emulator.__main__ import add_emulator_arguments
from .exit_codes import fail, invalid

__all__ = [
    "DEFAULT_ESTIMATE_BACKEND",
    "DEFAULT_ROWS",
    "DEFAULT_TOP",
    "EPILOG",
    "PROG",
    "build_parser",
    "check_options",
]

PROG = "ionq-async"
DEFAULT_ROWS = 16
"""How many outcomes a ``result`` table shows (``--json`` gives them all)."""
DEFAULT_RUN_ROWS = 20
"""How many circuits ``run`` lists one per row; a bigger batch gets a summary."""
DEFAULT_TOP = 16
"""How many outcomes ``run`` shows of a single circuit (3 per row for many)."""
DEFAULT_ESTIMATE_BACKEND = "qpu.forte-1"
"""What ``estimate`` prices when neither ``--backend`` nor a payload file names one."""
_PACK_HELP = "send consecutive circuits as multi-circuit jobs (one QPU job minimum each)"

EPILOG = """\
exit codes:
  0    success
  1    a job failed or was canceled, did not finish within --timeout, or a file of
       a run was refused (the others ran)
  2    usage: an unknown command or option, or a setting that is not allowed
  3    API or authentication: no API key, a rejected key, an unknown job id, or any
       other error answer from the API
  4    network: the server could not be reached, the connection dropped, a timeout
  5    invalid input: a file that cannot be read, is not JSON or holds an invalid
       circuit, or a value the API would reject
  6    not confirmed: QPU jobs not sent because no one confirmed their cost (off a
       terminal without --yes, or not answered yes)
  7    over budget: the projected cost is over --max-cost (nothing sent), or circuits
       were left unsent so as not to cross it
  70   internal error (a bug: run with --debug and report it)
  130  interrupted

environment:
  IONQ_API_KEY   the API key (or --api-key); never printed
  IONQ_API_URL   the base URL (or --base-url), default https://api.ionq.co/v0.4

The connection and output options are accepted before or after COMMAND.
`ionq-async COMMAND --help` shows a command's own options and examples.
"""

_SHARED_NOTE = (
    f"shared options (--api-key, --base-url, --emulator, --json, --debug, ...): see `{PROG} --help`"
)

_EXAMPLES = {
    "backends": [f"{PROG} backends", f"{PROG} backends --json"],
    "whoami": [f"{PROG} whoami"],
    "submit": [
        f"{PROG} submit bell.json --shots 1000",
        f"{PROG} submit job.json -b qpu.forte-1 --yes --json | jq -r '.[].id'",
    ],
    "run": [
        f"{PROG} run bell.json --shots 1000",
        f"{PROG} run circuits/*.json -b qpu.forte-1 --shots 500   # one batch, journaled",
        f"{PROG} run *.json --strict --json > results.json",
        f"{PROG} run circuits/*.json -b qpu.aria-1 --pack --max-cost 500 --yes",
    ],
    "resume": [
        f"{PROG} resume                      # the newest journal",
        f"{PROG} resume ~/.local/state/ionq-async/run-0123456789ab.jsonl --json",
    ],
    "status": [f"{PROG} status JOB_ID"],
    "result": [
        f"{PROG} result JOB_ID --counts --top 8",
        f"{PROG} result JOB_ID --memory --json",
    ],
    "cost": [f"{PROG} cost JOB_ID"],
    "estimate": [
        f"{PROG} estimate circuits/*.json -b qpu.aria-1 --shots 1000   # a whole batch",
        f"{PROG} estimate circuits/*.json -b qpu.aria-1 --pack --debiasing --json",
        f"{PROG} estimate --circuit bell.json --shots 1000",
        f"{PROG} estimate -b qpu.aria-1 --qubits 5 --1q-gates 20 --2q-gates 10 --shots 100",
    ],
    "jobs": [f"{PROG} jobs --status running", f"{PROG} jobs -n 100 --json"],
    "cancel": [
        f"{PROG} cancel JOB_ID [JOB_ID ...]",
        f"{PROG} cancel --journal ~/.local/state/ionq-async/run-0123456789ab.jsonl",
        f"{PROG} jobs --status running --json | jq -r '.[].id' | {PROG} cancel",
    ],
    "emulator": [f"{PROG} emulator --port 8000", f"{PROG} emulator --time-scale 0 --debug"],
    "demo": [f"{PROG} demo", f"{PROG} demo --circuits 1000 --fast --json"],
}


class _WideHelp(argparse.RawDescriptionHelpFormatter):
    """Options up to 34 columns wide keep their help on the same line."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=36)


def _epilog(name: str, *, shared: bool = True) -> str:
    lines = ["examples:", *(f"  {example}" for example in _EXAMPLES[name])]
    if shared:
        lines += ["", _SHARED_NOTE]
    return "\n".join(lines) + "\n"


def _add_common_options(
    parser: argparse.ArgumentParser, *, suppress: bool, output: bool = True
) -> None:
    # The same options are accepted before and after the command name. On the
    # sub-parsers their default is SUPPRESS, so an option given before the command is not
    # overwritten by the sub-parser's default, and their help is hidden: they are shown
    # once, in the top-level help.
    def default(value: object) -> Any:
        return argparse.SUPPRESS if suppress else value

    def described(text: str) -> str:
        return argparse.SUPPRESS if suppress else text

    group = parser.add_argument_group("connection and output (before or after COMMAND)")
    group.add_argument(
        "--api-key",
        metavar="KEY",
        default=default(None),
        help=described("API key (default: $IONQ_API_KEY); never printed"),
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        default=default(None),
        help=described("API base URL (default: $IONQ_API_URL or https://api.ionq.co/v0.4)"),
    )
    group.add_argument(
        "--allow-insecure-http",
        action="store_true",
        default=default(False),
        help=described(
            "allow a plain http:// base URL to a host other than loopback (the key is "
            "sent unencrypted)"
        ),
    )
    group.add_argument(
        "--emulator",
        action="store_true",
        default=default(False),
        help=described("run against a fresh in-process emulator (no key, no network)"),
    )
    group.add_argument(
        "--retries",
        type=int,
        metavar="N",
        default=default(None),
        help=described("retries after network errors, 429 and 5xx answers (default 4)"),
    )
    group.add_argument(
        "--request-timeout",
        type=float,
        metavar="SECONDS",
        default=default(None),
        help=described("time limit of one HTTP request (default 30)"),
    )
    if output:
        _add_output_options(group, suppress=suppress)


def _add_output_options(
    group: argparse._ActionsContainer, *, suppress: bool, shown: bool = False
) -> None:
    hidden = suppress and not shown
    group.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help=argparse.SUPPRESS
        if hidden
        else "print machine-readable JSON on stdout, and nothing else",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help=argparse.SUPPRESS if hidden else "print a traceback with an error",
    )


def _add_job_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("job options (override a payload file's own)")
    group.add_argument("-b", "--backend", help="backend (default: simulator)")
    group.add_argument("-s", "--shots", type=int, metavar="N", help="number of shots")
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


def _add_spending_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "cost (QPU backends: the projected cost is printed, and asked about on a terminal)"
    )
    group.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="send without asking (needed off a terminal, where nothing can be asked)",
    )
    group.add_argument(
        "--max-cost",
        type=float,
        metavar="AMOUNT",
        help="a budget in the estimate's currency: over it nothing is sent (exit 7)",
    )
    group.add_argument(
        "--estimate-only",
        action="store_true",
        help="print the projected cost by job shape and exit without sending",
    )


def _add_waiting_options(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    group = parser.add_argument_group("waiting and output")
    group.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop waiting after this long; unfinished circuits exit 1",
    )
    group.add_argument(
        "--cancel-on-interrupt",
        action="store_true",
        help="on Ctrl-C, cancel the jobs still running (default: leave them, to resume)",
    )
    group.add_argument(
        "--rows",
        type=int,
        default=DEFAULT_RUN_ROWS,
        metavar="N",
        help=f"circuits listed one per row ({DEFAULT_RUN_ROWS}); more get a summary",
    )
    group.add_argument(
        "--top",
        type=int,
        default=None,
        metavar="K",
        help=f"outcomes shown per circuit ({DEFAULT_TOP} for one circuit, 3 per row)",
    )
    group.add_argument(
        "--csv",
        metavar="PATH",
        help="also write every outcome state as a CSV row",
    )
    return group


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

    def command(
        name: str, help_text: str, *, common: bool = True, usage: str | None = None
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            usage=usage,
            help=help_text,
            description=help_text,
            epilog=_epilog(name, shared=common),
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
    _add_spending_options(sub)

    # Its options are many: the usage line names none of them, so the help fits a screen.
    sub = command(
        "run",
        "submit, wait and print results (many files: one journaled batch)",
        usage=f"{PROG} run [options] FILE [FILE ...]",
    )
    sub.add_argument(
        "files", nargs="+", metavar="FILE", help="JSON or OpenQASM file, or - for stdin"
    )
    _add_job_options(sub)
    _add_spending_options(sub)
    batch = sub.add_argument_group("batch")
    batch.add_argument("--pack", action="store_true", help=_PACK_HELP)
    batch.add_argument(
        "--concurrency",
        type=int,
        default=None,
        metavar="N",
        help="job creations in flight at once (default 64)",
    )
    batch.add_argument(
        "--journal",
        metavar="PATH",
        help="journal file (default: one per batch in the user state folder)",
    )
    batch.add_argument(
        "--no-journal", action="store_true", help="keep no journal (Ctrl-C cannot resume)"
    )
    batch.add_argument(
        "--strict",
        action="store_true",
        help="refuse the whole run if any file is bad (default: a bad file is one row)",
    )
    _add_waiting_options(sub)

    sub = command("resume", "wait for an interrupted run's jobs and print its results")
    sub.add_argument(
        "journal",
        nargs="?",
        metavar="JOURNAL",
        help="the run's journal (default: the newest in the user state folder)",
    )
    _add_waiting_options(sub)

    sub = command("status", "show a job")
    sub.add_argument("job_id", metavar="ID")

    sub = command("result", "show a job's probabilities, or counts for a number of shots")
    sub.add_argument("job_id", metavar="ID")
    how = sub.add_mutually_exclusive_group()
    how.add_argument("-s", "--shots", type=int, help="show counts for this many shots")
    how.add_argument("--counts", action="store_true", help="show counts for the job's shots")
    sub.add_argument(
        "--rows",
        "--top",
        type=int,
        default=DEFAULT_ROWS,
        metavar="N",
        help=f"outcomes shown in the table ({DEFAULT_ROWS}; --json gives all)",
    )
    sub.add_argument(
        "--memory",
        action="store_true",
        help="also fetch and print every shot, in order (one more request)",
    )

    sub = command("cost", "show a job's estimated and actual cost")
    sub.add_argument("job_id", metavar="ID")

    sub = command(
        "estimate", "estimate the cost of a batch of circuit files, or of one job by its size"
    )
    sub.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="price these files as `run FILE...` would send them (JSON or OpenQASM)",
    )
    sub.add_argument(
        "-b",
        "--backend",
        help="default: the payload files' own, else qpu.forte-1",
    )
    sub.add_argument("-s", "--shots", type=int, metavar="N", help="number of shots")
    sub.add_argument(
        "--error-mitigation",
        "--debiasing",
        dest="error_mitigation",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="price error mitigation (debiasing) in",
    )
    sub.add_argument("--pack", action="store_true", help=_PACK_HELP)
    size = sub.add_argument_group("one job by its size (without FILE)")
    size.add_argument("--qubits", type=int, metavar="N", help="number of qubits")
    size.add_argument(
        "--1q-gates",
        dest="one_qubit_gates",
        type=int,
        metavar="N",
        help="number of single-qubit gates",
    )
    size.add_argument(
        "--2q-gates",
        dest="two_qubit_gates",
        type=int,
        metavar="N",
        help="number of two-qubit gates",
    )
    size.add_argument(
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

    sub = command("cancel", "cancel jobs: by id, a run's journal, a file of ids, or ids on stdin")
    sub.add_argument("job_ids", nargs="*", metavar="ID", help="job ids (none: read stdin)")
    sub.add_argument(
        "--journal",
        metavar="PATH",
        help="every job of this run's journal (jobs being created at a stop too)",
    )
    sub.add_argument(
        "--from-file", metavar="FILE", help="ids in this file, one a line (- for stdin)"
    )
    sub.add_argument(
        "--rows",
        type=int,
        default=DEFAULT_RUN_ROWS,
        metavar="N",
        help=f"jobs listed one per row ({DEFAULT_RUN_ROWS}); more get a summary",
    )

    # The emulator has its own --api-key (keys it accepts), so not the common options.
    sub = command(
        "emulator",
        "serve the offline emulator of the API until Ctrl-C",
        common=False,
        usage=f"{PROG} emulator [options]",
    )
    # Wide enough that each option and its help share a line: the help fits a screen.
    sub.formatter_class = _WideHelp
    sub.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print a traceback with an error",
    )
    add_emulator_arguments(sub)

    # The demo brings its own emulator: no connection options, only the output ones.
    sub = command(
        "demo", "run ~200 circuits on an in-process emulator (no key, no network)", common=False
    )
    sub.add_argument("--circuits", type=int, default=200, metavar="N", help="how many (200)")
    sub.add_argument(
        "-s", "--shots", type=int, default=1000, metavar="N", help="shots per circuit (1000)"
    )
    sub.add_argument(
        "--fast", action="store_true", help="jobs complete at once (as in the test suite)"
    )
    _add_output_options(sub, suppress=True, shown=True)
    # Parsed (hidden) only to be refused by name: the demo's emulator needs none of them.
    _add_common_options(sub, suppress=True, output=False)
    return parser


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
    "top": ("--top", 1),
    "limit": ("--limit", 1),
    "concurrency": ("--concurrency", 1),
    "retries": ("--retries", 0),
}
_SIZE_OPTIONS = {
    "qubits": "--qubits",
    "one_qubit_gates": "--1q-gates",
    "two_qubit_gates": "--2q-gates",
    "circuit": "--circuit",
}
_DEMO_IGNORES = {
    "api_key": "--api-key",
    "base_url": "--base-url",
    "allow_insecure_http": "--allow-insecure-http",
    "retries": "--retries",
    "request_timeout": "--request-timeout",
}


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
    if getattr(ns, "journal", None) is not None and getattr(ns, "no_journal", False):
        fail("--journal and --no-journal cannot both be given")
    timeout = getattr(ns, "timeout", None)
    if timeout is not None and not timeout >= 0:
        fail(f"--timeout must not be negative, got {timeout}")
    max_cost = getattr(ns, "max_cost", None)
    if max_cost is not None and not (math.isfinite(max_cost) and max_cost >= 0):
        fail(f"--max-cost must be a non-negative amount, got {max_cost}")
    if ns.command == "estimate" and ns.files:
        sized = [
            flag for name, flag in _SIZE_OPTIONS.items() if getattr(ns, name, None) is not None
        ]
        if sized:
            fail(
                f"{'/'.join(sized)} {'describes' if len(sized) == 1 else 'describe'} one job "
                "by its size; with FILE the files' own circuits are priced (give one or the "
                "other)"
            )
    if ns.command == "estimate" and not ns.files and ns.pack:
        fail("--pack prices a batch of files: give FILE...")
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
