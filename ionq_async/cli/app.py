"""Running a command: parse, check, dispatch to its handler, one line and a code per error."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence

import anyio

from .._transport import redact_urls
from ..client import Client
from ..emulator.__main__ import emulator_from_args, serve
from ..exceptions import ConfigurationError
from . import render
from .commands import (
    cmd_backends,
    cmd_cancel,
    cmd_cost,
    cmd_estimate,
    cmd_jobs,
    cmd_result,
    cmd_status,
    cmd_submit,
    cmd_whoami,
)
from .connect import open_client
from .demo import demo_command
from .exit_codes import ExitCode, exit_code_for, hints
from .parser import PROG, build_parser, check_options
from .resume import cmd_resume
from .run import cmd_run

__all__ = ["HANDLERS", "Handler", "main"]

Handler = Callable[[Client, argparse.Namespace, render.Output], Awaitable[int]]

HANDLERS: dict[str, Handler] = {
    "backends": cmd_backends,
    "whoami": cmd_whoami,
    "submit": cmd_submit,
    "run": cmd_run,
    "resume": cmd_resume,
    "status": cmd_status,
    "result": cmd_result,
    "cost": cmd_cost,
    "estimate": cmd_estimate,
    "jobs": cmd_jobs,
    "cancel": cmd_cancel,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ionq-async`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
    except SystemExit as done:
        # --help, --version and usage errors; argparse has printed what it had to say.
        return done.code if isinstance(done.code, int) else ExitCode.USAGE
    # Looked up on its module when called, so a test can patch render.Output.
    out = render.Output(json_mode=ns.json)
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
        for line in hints(error):
            print(redact_urls(f"{PROG}: {line}"), file=sys.stderr)
        return code


def _single(error: BaseException) -> BaseException:
    """The one error inside nested exception groups, if there is exactly one."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


async def _dispatch(ns: argparse.Namespace, out: render.Output) -> int:
    check_options(ns)
    if ns.command == "demo":
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
