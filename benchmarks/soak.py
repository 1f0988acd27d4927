"""A long fault campaign: many jobs through run_many against a misbehaving emulator.

Run ``python benchmarks/soak.py --jobs 10000 --seed 1`` (or ``nox -s soak -- --jobs ...``).
Prints the jobs run, the faults the emulator injected by kind, the client's retries, the
duplicate jobs found on the emulator, lost and failed outcomes, mismatched results and the
wall time. It reports; it never passes or fails on time (the exit status is 1 only if an
outcome was lost, duplicated or wrong, so a CI job can still notice a broken engine).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ionq_async._retry import RetryPolicy
from ionq_async.batch import TOKEN_METADATA_KEY, BatchProgress, Outcome
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.emulator import Emulator, EmulatorConfig, FaultConfig

BASIS_QUBITS = 14  # 16,384 distinct basis states; larger batches reuse them, angles differ


def rotation_angle(index: int, jobs: int) -> float:
    """A per-circuit angle in (0, pi)."""
    return math.pi * (index + 1) / (jobs + 2)


def soak_circuit(index: int, jobs: int) -> Circuit:
    """Basis state ``index mod 2**14`` on qubits 0-13 and a per-index rotation on qubit 14."""
    circuit = Circuit(qubits=BASIS_QUBITS + 1, name=f"soak-{index}")
    state = index % 2**BASIS_QUBITS
    for bit in range(BASIS_QUBITS):
        if state >> bit & 1:
            circuit.x(bit)
    return circuit.ry(rotation_angle(index, jobs), BASIS_QUBITS)


def expected_probabilities(index: int, jobs: int) -> dict[int, float]:
    """The ideal distribution of ``soak_circuit(index, jobs)``."""
    half = rotation_angle(index, jobs) / 2
    state = index % 2**BASIS_QUBITS
    return {state: math.cos(half) ** 2, state + 2**BASIS_QUBITS: math.sin(half) ** 2}


def matches(outcome: Outcome, jobs: int) -> bool:
    """True if the outcome carries its own circuit's distribution."""
    if outcome.result is None:
        return False
    got = outcome.result.probabilities
    want = expected_probabilities(outcome.index, jobs)
    return got.keys() == want.keys() and all(
        math.isclose(got[state], p, abs_tol=1e-9) for state, p in want.items()
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line of the soak campaign."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="circuits to run (10,000)")
    parser.add_argument("--seed", type=int, default=1, help="fault seed (1)")
    parser.add_argument("--p-5xx", type=float, default=0.10, help="share of 5xx answers (0.10)")
    parser.add_argument("--p-429", type=float, default=0.05, help="share of 429 answers (0.05)")
    parser.add_argument(
        "--p-drop-before", type=float, default=0.02, help="connections dropped before storing"
    )
    parser.add_argument(
        "--p-drop-after", type=float, default=0.02, help="job creations dropped after storing"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=5.0, help="random latency up to this (5 ms)"
    )
    parser.add_argument(
        "--retry-after-s", type=float, default=0.05, help="Retry-After of a 429 (0.05 s)"
    )
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="emulator job durations x this (1.0)"
    )
    parser.add_argument("--concurrency", type=int, default=64, help="job creations in flight")
    parser.add_argument("--pack", action="store_true", help="pack circuits into multi-circuit jobs")
    parser.add_argument(
        "--progress-every-s", type=float, default=10.0, help="progress line interval on stderr"
    )
    return parser


class ProgressPrinter:
    """Prints a progress line to stderr at most every ``every_s`` seconds."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.last = time.monotonic()

    def __call__(self, progress: BatchProgress) -> None:
        now = time.monotonic()
        if self.every_s <= 0 or now - self.last < self.every_s:
            return
        self.last = now
        print(
            f"  {progress.elapsed_s:7.1f} s  {progress.done:,}/{progress.total:,} done, "
            f"{progress.submitted:,} submitted, {progress.rate_per_s:,.1f} outcomes/s",
            file=sys.stderr,
            flush=True,
        )


def faults_from(args: argparse.Namespace) -> FaultConfig:
    """The campaign's faults: 5xx split evenly between 500, 502 and 503."""
    share = args.p_5xx / 3
    return FaultConfig(
        seed=args.seed,
        p_500=share,
        p_502=share,
        p_503=share,
        p_429=args.p_429,
        retry_after_s=args.retry_after_s,
        p_drop_before_store=args.p_drop_before,
        p_drop_after_store=args.p_drop_after,
        latency_s=(0.0, args.latency_ms / 1000),
    )


async def campaign(args: argparse.Namespace) -> dict[str, Any]:
    """Run the batch and return every figure the report prints."""
    jobs = args.jobs
    circuits = [soak_circuit(i, jobs) for i in range(jobs)]
    retry = RetryPolicy(
        max_attempts=12, initial_backoff_s=0.01, max_backoff_s=0.5, max_retry_after_s=1.0
    )
    config = EmulatorConfig(time_scale=args.time_scale, seed=args.seed)
    started = time.perf_counter()
    async with Emulator(config=config, faults=faults_from(args)) as emu:
        async with Client(api_key=emu.api_key, base_url=emu.url, retry=retry) as client:
            outcomes = [
                outcome
                async for outcome in client.run_many(
                    circuits,
                    shots=100,
                    concurrency=args.concurrency,
                    pack=args.pack,
                    progress=ProgressPrinter(args.progress_every_s),
                )
            ]
            stats = client.stats
        wall_s = time.perf_counter() - started
        stored = emu.jobs()
        emulator_stats = emu.stats
        tokens = Counter(
            (job.get("metadata") or {}).get(TOKEN_METADATA_KEY)
            for job in stored
            if job.get("parent_job_id") is None  # packed children carry no token of their own
        )
        per_index = Counter(outcome.index for outcome in outcomes)
        return {
            "jobs": jobs,
            "wall_s": wall_s,
            "requests_total": emulator_stats.requests_total,
            "job_creations_sent": emulator_stats.requests("POST", "/v0.4/jobs"),
            "jobs_stored": emulator_stats.jobs_created,
            "faults": dict(sorted(emulator_stats.faults.items())),
            "dropped_connections": emulator_stats.dropped_connections,
            "client_requests": stats.requests_sent,
            "client_retries": stats.retries,
            "client_rate_limited": stats.rate_limited,
            "client_server_errors": stats.server_errors,
            "client_connection_errors": stats.connection_errors,
            "gate_closures": stats.gate_closures,
            "duplicates": sum(n - 1 for n in tokens.values() if n > 1),
            "untokened_jobs": tokens.get(None, 0),
            "lost_outcomes": sum(1 for i in range(jobs) if per_index[i] == 0),
            "repeated_outcomes": sum(n - 1 for n in per_index.values() if n > 1),
            "failed_outcomes": sum(1 for o in outcomes if o.error is not None),
            "error_kinds": dict(
                Counter(type(o.error).__name__ for o in outcomes if o.error is not None)
            ),
            "mismatched_results": sum(
                1 for o in outcomes if o.error is None and not matches(o, jobs)
            ),
        }


def report(figures: dict[str, Any]) -> None:
    """Print the figures, one per line."""
    jobs, wall_s = figures["jobs"], figures["wall_s"]
    print(f"jobs                      {jobs:,}")
    print(f"wall time                 {wall_s:.1f} s ({jobs / wall_s:,.0f} jobs/s)")
    print(f"requests seen by emulator {figures['requests_total']:,}")
    print(f"job creations sent        {figures['job_creations_sent']:,}")
    print(f"jobs stored               {figures['jobs_stored']:,}")
    print("faults injected by kind:")
    for kind, count in figures["faults"].items():
        print(f"  {kind:<24}{count:,}")
    print(f"  {'connections dropped':<24}{figures['dropped_connections']:,}")
    print(f"client requests sent      {figures['client_requests']:,}")
    print(f"client retries            {figures['client_retries']:,}")
    print(f"  429s seen               {figures['client_rate_limited']:,}")
    print(f"  5xx seen                {figures['client_server_errors']:,}")
    print(f"  connection errors       {figures['client_connection_errors']:,}")
    print(f"  back-off gate closures  {figures['gate_closures']:,}")
    print(f"duplicate jobs            {figures['duplicates']:,}")
    print(f"jobs without a token      {figures['untokened_jobs']:,}")
    print(f"lost outcomes             {figures['lost_outcomes']:,}")
    print(f"repeated outcomes         {figures['repeated_outcomes']:,}")
    print(f"failed outcomes           {figures['failed_outcomes']:,} {figures['error_kinds']}")
    print(f"mismatched results        {figures['mismatched_results']:,}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the campaign, print the report; 1 if any outcome was lost, doubled or wrong."""
    args = build_parser().parse_args(argv)
    figures = asyncio.run(campaign(args))
    report(figures)
    broken = (
        figures["duplicates"]
        + figures["lost_outcomes"]
        + figures["repeated_outcomes"]
        + figures["mismatched_results"]
    )
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
