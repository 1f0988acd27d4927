"""The batch engine against a server-side rate limit (a "429 storm"): throughput and 429s.

Run ``python benchmarks/bench_ratelimit.py [--full]`` (quick by default). A batch of Bell
jobs runs with ``run_many`` (default client, default retry policy, ``concurrency=64``)
against the emulator's per-key token bucket (``FaultConfig(rate_limit_per_s=...,
rate_limit_burst=20)``), which answers 429 with ``Retry-After`` once the key goes over
the rate. Jobs finish at once (``time_scale=0``), so the limit is the only brake.

The emulator runs in-process, in the client's own event loop (the way the test suite runs
it): simpler than a separate process, and at a few hundred requests per second its CPU
share is small; the figures here are rates and counts, not client CPU.

Measured per limit (a fresh emulator and client for every run):

- wall time and jobs/s; the floor on wall time that the limit allows for the requests
  the batch actually had served, ``(served - burst) / rate`` where ``served`` counts the
  rate-limited requests answered with anything but 429; the best jobs/s that floor gives,
  and ``efficiency = floor / wall``;
- 429 answers in all, 429s per job and the share of all answers that were 429 (the figure
  ``tests/test_batch_emulator.py`` cannot assert, as it depends on the machine's speed);
- that every job completed and ``jobs_created == jobs`` (a DEFECT line if not).

Prints figures; never passes or fails. No targets exist for these figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.emulator import Emulator, EmulatorConfig, FaultConfig

LIMITS_PER_S = (100.0, 400.0)
BURST = 20
CONCURRENCY = 64
SHOTS = 100
OPEN_ROUTE_PREFIX = "/v0.4/backends"  # the emulator does not rate-limit these


def bell() -> Circuit:
    """The Bell pair every benchmark job runs."""
    return Circuit(qubits=2).h(0).cnot(0, 1)


async def _run(jobs: int, rate_per_s: float) -> dict[str, Any]:
    """One batch of ``jobs`` against a fresh emulator limited to ``rate_per_s``."""
    faults = FaultConfig(rate_limit_per_s=rate_per_s, rate_limit_burst=BURST)
    circuits = [bell() for _ in range(jobs)]
    completed = 0
    errors: dict[str, int] = {}
    first_error = ""
    async with (
        Emulator(config=EmulatorConfig(time_scale=0.0), faults=faults) as emu,
        Client(api_key=emu.api_key, base_url=emu.url) as client,
    ):
        started = time.perf_counter()
        async for outcome in client.run_many(circuits, shots=SHOTS, concurrency=CONCURRENCY):
            if outcome.ok:
                completed += 1
            else:
                name = type(outcome.error).__name__
                errors[name] = errors.get(name, 0) + 1
                # The message names the request that gave up (no key in it).
                first_error = first_error or str(outcome.error)[:300]
        wall_s = time.perf_counter() - started
        stats = emu.stats
        answered_429 = stats.responses_by_status[429]
        limited_requests = sum(
            count
            for (_method, route), count in stats.requests_by_route.items()
            if not route.startswith(OPEN_ROUTE_PREFIX)
        )
        figures: dict[str, Any] = {
            "jobs": jobs,
            "rate_per_s": rate_per_s,
            "completed": completed,
            "errors": errors,
            "first_error": first_error,
            "jobs_created": stats.jobs_created,
            "wall_s": wall_s,
            "requests_total": stats.requests_total,
            "answered_429": answered_429,
            "served": limited_requests - answered_429,
            "creates": stats.requests("POST", "/v0.4/jobs"),
            "lists": stats.requests("GET", "/v0.4/jobs"),
            "client_rate_limited": client.stats.rate_limited,
            "client_requests_sent": client.stats.requests_sent,
            "client_retries": client.stats.retries,
        }
    served = figures["served"]
    floor_s = max(0.0, served - BURST) / rate_per_s
    figures |= {
        "jobs_per_s": jobs / wall_s,
        "floor_s": floor_s,
        "best_jobs_per_s": jobs / floor_s if floor_s > 0 else float("inf"),
        "efficiency": floor_s / wall_s,
        "served_per_job": served / jobs,
        "per_job_429": answered_429 / jobs,
        "share_429": answered_429 / figures["requests_total"] if figures["requests_total"] else 0.0,
    }
    return figures


def _defects(run: dict[str, Any]) -> list[str]:
    """What a run got wrong: jobs lost, duplicated or failed; 429s the client missed."""
    found: list[str] = []
    jobs = run["jobs"]
    if run["completed"] != jobs:
        found.append(
            f"only {run['completed']} of {jobs} jobs completed; errors {run['errors']}; "
            f"first: {run['first_error']}"
        )
    if run["jobs_created"] != jobs:
        found.append(f"jobs_created == {run['jobs_created']}, expected {jobs}")
    if run["client_rate_limited"] != run["answered_429"]:
        found.append(
            f"client counted {run['client_rate_limited']} 429s, emulator sent {run['answered_429']}"
        )
    return found


def main(quick: bool = True) -> dict[str, Any]:
    """Run every limit, print the table, and return the figures."""
    jobs = 300 if quick else 1_000
    repeats = 1 if quick else 3
    figures: dict[str, Any] = {"jobs": jobs, "repeats": repeats, "limits": {}}
    print(
        f"Rate-limit storm: {jobs:,} Bell jobs, run_many concurrency={CONCURRENCY}, default "
        f"retry policy, emulator in-process (time_scale=0, burst {BURST})"
        + ("" if repeats == 1 else f"; {repeats} runs per limit, a fresh emulator each")
    )
    header = (
        f"  {'limit/s':>7}{'run':>4}{'wall s':>8}{'jobs/s':>8}{'best/s':>8}{'eff':>6}"
        f"{'served':>8}{'req/job':>8}{'429s':>6}{'429/job':>8}{'429 %':>7}"
        f"{'done':>6}{'created':>8}  target"
    )
    print(header)
    all_defects: list[str] = []
    for rate in LIMITS_PER_S:
        runs = []
        for index in range(repeats):
            run = asyncio.run(_run(jobs, rate))
            runs.append(run)
            print(
                f"  {rate:>7.0f}{index + 1:>4}{run['wall_s']:>8.2f}{run['jobs_per_s']:>8.1f}"
                f"{run['best_jobs_per_s']:>8.1f}{run['efficiency']:>6.2f}"
                f"{run['served']:>8}{run['served_per_job']:>8.3f}{run['answered_429']:>6}"
                f"{run['per_job_429']:>8.3f}{run['share_429'] * 100:>6.1f}%"
                f"{run['completed']:>6}{run['jobs_created']:>8}  -",
                flush=True,
            )
            for defect in _defects(run):
                all_defects.append(f"limit {rate:.0f}/s run {index + 1}: {defect}")
        # The run of median wall time stands for the limit (the only run in quick mode).
        median = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
        figures["limits"][f"{rate:.0f}"] = {
            **median,
            "runs": runs,
            "answered_429_all_runs": [r["answered_429"] for r in runs],
            "efficiency_mean": statistics.fmean(r["efficiency"] for r in runs),
        }
    print(
        "  served: rate-limited requests answered other than 429; best/s: jobs/s if those "
        f"came at exactly the limit (floor = (served - {BURST}) / limit); eff = floor / wall"
    )
    if all_defects:
        print("  " + "!" * 70)
        for defect in all_defects:
            print(f"  DEFECT: {defect}")
        print("  " + "!" * 70)
    else:
        print(
            f"  every job completed and jobs_created == {jobs:,} in every run; "
            "client and emulator agree on the 429 count"
        )
    figures["defects"] = all_defects
    return figures


def _cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="1,000 jobs, 3 runs per limit")
    parser.add_argument("--quick", action="store_true", help="quick mode (the default)")
    args = parser.parse_args()
    main(quick=not args.full)


if __name__ == "__main__":
    _cli()
