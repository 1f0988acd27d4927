"""``python -m ionq_async.emulator``: serve the emulated API until Ctrl-C.

The argument parser is shared with the project's CLI (``ionq-async emulator``):
:func:`add_emulator_arguments` adds the flags to any parser, :func:`emulator_from_args`
builds the :class:`Emulator` from the parsed namespace, and :func:`serve` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

from .config import EmulatorConfig
from .faults import FaultConfig
from .server import Emulator

__all__ = ["add_emulator_arguments", "build_parser", "emulator_from_args", "main", "serve"]


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a probability must be between 0 and 1: {text!r}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _positive(text: str) -> float:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _latency_ms(text: str) -> tuple[float, float]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2:
        raise argparse.ArgumentTypeError("give MS or MIN,MAX in milliseconds")
    low, high = (_non_negative(p) for p in parts)
    if high < low:
        raise argparse.ArgumentTypeError("MIN must not exceed MAX")
    return low, high


def _durations(text: str) -> tuple[float, ...]:
    values = tuple(_non_negative(p.strip()) for p in text.split(",") if p.strip())
    if not values:
        raise argparse.ArgumentTypeError("give one or more seconds, comma-separated")
    return values


def _fraction(text: str) -> float:
    value = _non_negative(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be below 1: {text!r}")
    return value


def add_emulator_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the emulator's flags (host, port, keys, durations, faults) to ``parser``."""
    net = parser.add_argument_group("server")
    net.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    net.add_argument("--port", type=int, default=0, help="TCP port (default 0: a free port)")
    net.add_argument(
        "--api-key",
        dest="api_keys",
        action="append",
        metavar="KEY",
        help="accept only this key (repeatable; default: any non-empty key)",
    )
    timing = parser.add_argument_group("job lifecycle")
    timing.add_argument(
        "--time-scale",
        type=_non_negative,
        default=1.0,
        help="multiply every duration (0: jobs finish at once)",
    )
    timing.add_argument(
        "--simulator-queue-s",
        type=_non_negative,
        default=None,
        metavar="S",
        help="seconds a simulator job waits in the queue (default 0.01)",
    )
    timing.add_argument(
        "--simulator-run-s",
        type=_non_negative,
        default=None,
        metavar="S",
        help="seconds a simulator job runs (default 0.02)",
    )
    timing.add_argument(
        "--qpu-queue-s",
        type=_non_negative,
        default=None,
        metavar="S",
        help="seconds a QPU job waits in the queue (default 2)",
    )
    timing.add_argument(
        "--qpu-run-s",
        type=_non_negative,
        default=None,
        metavar="S",
        help="seconds a QPU job runs (default 3)",
    )
    timing.add_argument(
        "--duration-median-s",
        type=_positive,
        default=None,
        metavar="S",
        help="draw each job's run time from a seeded lognormal with this median",
    )
    timing.add_argument(
        "--duration-sigma",
        type=_non_negative,
        default=None,
        metavar="SIGMA",
        help="spread of that lognormal: standard deviation of log(run time) (default 0)",
    )
    timing.add_argument(
        "--durations-s",
        type=_durations,
        default=None,
        metavar="S,S,...",
        help="explicit run times, used in turn by job order (beats --duration-median-s)",
    )
    timing.add_argument(
        "--queue-per-job-s",
        type=_non_negative,
        default=None,
        metavar="S",
        help="extra queue time per job already waiting on the backend (default 0)",
    )
    timing.add_argument(
        "--prediction-error",
        type=_fraction,
        default=None,
        metavar="E",
        help="relative error of predicted wait/execution times, uniform in [-E, E] (default 0)",
    )
    timing.add_argument("--seed", type=int, default=0, help="seed for simulations and faults")
    timing.add_argument(
        "--cancel-completed",
        choices=("keep", "cancel"),
        default=None,
        help="what cancelling a completed job does (default: keep)",
    )
    faults = parser.add_argument_group("faults")
    faults.add_argument(
        "--fault-429",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability of a 429 with Retry-After",
    )
    faults.add_argument(
        "--retry-after-s",
        type=_non_negative,
        default=1.0,
        metavar="S",
        help="Retry-After of the random 429s (default 1)",
    )
    faults.add_argument(
        "--fault-5xx",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability of a 500, 502 or 503 (split evenly)",
    )
    faults.add_argument(
        "--fault-500", type=_probability, default=0.0, metavar="P", help="probability of a 500"
    )
    faults.add_argument(
        "--fault-502", type=_probability, default=0.0, metavar="P", help="probability of a 502"
    )
    faults.add_argument(
        "--fault-503", type=_probability, default=0.0, metavar="P", help="probability of a 503"
    )
    faults.add_argument(
        "--fault-drop-before",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability of closing the connection before handling",
    )
    faults.add_argument(
        "--fault-drop-after",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability of closing the connection after storing a new job",
    )
    faults.add_argument(
        "--fault-job-transient",
        type=_probability,
        default=0.0,
        metavar="P",
        help="share of jobs failing with a transient code, seeded",
    )
    faults.add_argument(
        "--fault-job-permanent",
        type=_probability,
        default=0.0,
        metavar="P",
        help="share of jobs failing with a permanent code, seeded",
    )
    faults.add_argument(
        "--latency-ms",
        type=_latency_ms,
        default=(0.0, 0.0),
        metavar="MIN,MAX",
        help="added latency per request, uniform in [MIN, MAX] ms",
    )
    faults.add_argument(
        "--rate-limit",
        type=_positive,
        default=None,
        metavar="RPS",
        help="requests per second per key, answered with 429 beyond",
    )
    faults.add_argument("--rate-limit-burst", type=int, default=None, metavar="N")
    return parser


def build_parser(prog: str = "python -m ionq_async.emulator") -> argparse.ArgumentParser:
    """The standalone parser of ``python -m ionq_async.emulator``."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Serve an offline emulator of the IonQ API v0.4."
    )
    return add_emulator_arguments(parser)


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """The EmulatorConfig the parsed flags describe."""
    changes: dict[str, object] = {
        "time_scale": args.time_scale,
        "seed": args.seed,
        "job_failure_transient": args.fault_job_transient,
        "job_failure_permanent": args.fault_job_permanent,
    }
    for name in (
        "simulator_queue_s",
        "simulator_run_s",
        "qpu_queue_s",
        "qpu_run_s",
        "cancel_completed",
        "duration_median_s",
        "duration_sigma",
        "durations_s",
        "queue_per_job_s",
        "prediction_error",
    ):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    return EmulatorConfig(**changes)  # type: ignore[arg-type]


def faults_from_args(args: argparse.Namespace) -> FaultConfig:
    """The FaultConfig the parsed flags describe."""
    share = args.fault_5xx / 3.0
    low_ms, high_ms = args.latency_ms
    return FaultConfig(
        seed=args.seed,
        p_429=args.fault_429,
        retry_after_s=args.retry_after_s,
        p_500=args.fault_500 + share,
        p_502=args.fault_502 + share,
        p_503=args.fault_503 + share,
        p_drop_before_store=args.fault_drop_before,
        p_drop_after_store=args.fault_drop_after,
        latency_s=(low_ms / 1000.0, high_ms / 1000.0),
        rate_limit_per_s=args.rate_limit,
        rate_limit_burst=args.rate_limit_burst,
    )


def emulator_from_args(args: argparse.Namespace) -> Emulator:
    """An (unstarted) Emulator built from flags added by :func:`add_emulator_arguments`."""
    return Emulator(
        host=args.host,
        port=args.port,
        api_keys=args.api_keys,
        config=config_from_args(args),
        faults=faults_from_args(args),
    )


async def serve(emulator: Emulator, *, out: TextIO | None = None) -> None:
    """Start ``emulator``, print its URL, and serve until SIGINT or SIGTERM."""
    out = out if out is not None else sys.stdout
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
    try:
        async with emulator:
            print(emulator.url, file=out, flush=True)
            print(
                f"IonQ API emulator listening on {emulator.url} (Ctrl-C stops it)",
                file=sys.stderr,
                flush=True,
            )
            await stop.wait()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator from command-line arguments; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        emulator = emulator_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    try:
        asyncio.run(serve(emulator))
    except KeyboardInterrupt:
        pass
    except OSError as error:
        print(f"error: cannot serve on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
