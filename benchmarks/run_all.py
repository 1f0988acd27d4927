"""Every benchmark in one command, figures side by side with their targets.

``python benchmarks/run_all.py`` is the quick mode (under two minutes); ``--full`` gives
the figures for the README table. Each benchmark module exposes ``main(quick)``; a module
that is missing or fails is reported and the others still run. Figures only: nothing
here passes or fails on time.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# (module, what it measures); bench_batch comes first because it needs the quietest machine.
BENCHMARKS = [
    ("benchmarks.bench_batch", "batch engine: throughput, requests/job, CPU, RSS"),
    ("benchmarks.bench_counts", "counts from a 2^20-outcome distribution"),
    ("benchmarks.bench_simulator", "emulator simulator"),
    ("benchmarks.bench_emulator", "emulator throughput"),
    ("benchmarks.bench_ratelimit", "batch engine against a server rate limit (429 storm)"),
    ("benchmarks.bench_sweep", "conversion cost per circuit; a packed sweep's peak RSS"),
    ("benchmarks.bench_lag", "result-delivery lag, realistic jobs at 50 ms RTT (time-scaled)"),
    ("benchmarks.bench_json", "does orjson cut client CPU per job on large answers?"),
    ("benchmarks.bench_memory", "unpacked jobs all in flight: peak RSS; journal resume"),
]


def _summary(name: str, figures: Any) -> list[str]:
    """One-line figures per benchmark for the closing table."""
    if not isinstance(figures, dict):
        return []
    lines: list[str] = []
    if name == "benchmarks.bench_batch":
        ratios = figures.get("ratios", {})
        rm = figures.get("run_many", {})
        pk = figures.get("run_many_packed", {})
        rss = figures.get("rss", {})
        lines += [
            f"run_many vs sequential           {ratios.get('run_many_vs_sequential', 0):>10.1f} x"
            "   target >= 50 x",
            f"run_many vs aiohttp gather       {ratios.get('run_many_vs_gather', 0):>10.2f} x"
            "   target >= 1 x",
            f"requests per job, unpacked       {rm.get('requests_per_job', 0):>10.3f}"
            "     target <= 2.3",
            f"requests per job, pack=True      {pk.get('requests_per_job', 0):>10.4f}"
            "     target <= 0.05",
            f"client CPU per job               {rm.get('cpu_ms_per_job', 0):>10.3f} ms"
            "  target <= 1.5 ms",
            f"RSS growth, 10,000 in flight     {rss.get('growth_mb', 0):>10.1f} MB"
            "  target <= 50 MB",
        ]
    elif name == "benchmarks.bench_counts":
        for case, value in figures.items():
            if isinstance(value, int | float) and case.startswith("counts"):
                lines.append(f"{case:<32} {value:>10.1f} ms  target <= 200 ms")
    elif name == "benchmarks.bench_ratelimit":
        for rate, run in figures.get("limits", {}).items():
            lines.append(
                f"limit {rate:>4}/s: {run['jobs_per_s']:>6.1f} jobs/s, efficiency "
                f"{run['efficiency']:.2f}, {run['per_job_429']:.3f} 429s/job "
                f"({run['share_429'] * 100:.1f} % of answers)   target -"
            )
        for defect in figures.get("defects", []):
            lines.append(f"DEFECT: {defect}")
    elif name == "benchmarks.bench_sweep":
        for case, micros in figures.get("conversion_us", {}).items():
            lines.append(f"{case:<32} {micros:>10.1f} us   target -")
        sweep = figures.get("sweep", {})
        lines.append(
            f"sweep of {sweep.get('points', 0):>9,} points: peak RSS "
            f"{sweep.get('peak_mb', 0):>7.1f} MB  target < 250 MB"
        )
    elif name == "benchmarks.bench_lag":
        for client, f in figures.get("clients", {}).items():
            lines.append(
                f"{client:<24} lag {f['lag_median_s']:>6.2f} / {f['lag_p95_s']:>6.2f} s"
                f" (median / p95), {f['requests_per_job']:>5.2f} req/job"
                + (
                    "   target < 1 / < 3 s, <= 2.3 req/job"
                    if client == "run_many (default)"
                    else "   target -"
                )
            )
        for note in figures.get("notes", []):
            lines.append(f"NOTE: {note}")
    elif name == "benchmarks.bench_json":
        for case, by_stage in figures.get("cases", {}).items():
            fetch = by_stage.get("fetch", {})
            if "candidate" not in fetch:
                continue
            cut = (1 - fetch["candidate"] / fetch["json"]) * 100 if fetch["json"] else 0.0
            lines.append(
                f"{case:<26} fetch {fetch['json']:>8.2f} -> {fetch['candidate']:>8.2f} ms"
                f" with orjson ({cut:.1f} % less)   adopt if > 20 %"
            )
        if figures.get("disagreements"):
            lines.append(f"DEFECT: orjson candidate differs on {figures['disagreements']}")
    elif name == "benchmarks.bench_memory":
        hold, resume = figures.get("hold", {}), figures.get("resume", {})
        jobs = figures.get("jobs", 0)
        lines.append(
            f"peak client RSS, {jobs:,} jobs in flight {hold.get('peak_mb', 0):>7.1f} MB"
            "   target < 250 MB (at 100,000: --full)"
        )
        first = resume.get("first_s")
        lines.append(
            "resume: call to first outcome    "
            + (f"{first:>7.2f} s" if first is not None else "   none")
            + "   target: seconds"
        )
        lines.append(f"resume: peak client RSS         {resume.get('peak_mb', 0):>7.1f} MB")
        lines.append(f"jobs created again on resume    {figures.get('resent', 0):>7d}   must be 0")
    else:
        for case, value in figures.items():
            if isinstance(value, int | float):
                lines.append(f"{case:<32} {value:>10.3f}")
    return lines


def main(quick: bool = True) -> dict[str, Any]:
    """Run every benchmark present and print all figures; return them by module."""
    results: dict[str, Any] = {}
    started = time.perf_counter()
    for name, what in BENCHMARKS:
        print(f"\n== {name.split('.')[-1]}: {what} ==", flush=True)
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            print(f"  (not present: {error})")
            continue
        run = getattr(module, "main", None)
        if run is None:
            print("  (no main(quick) function)")
            continue
        begun = time.perf_counter()
        try:
            results[name] = run(quick=quick)
        except Exception:
            print("  FAILED to run:")
            traceback.print_exc()
            continue
        print(f"  ({time.perf_counter() - begun:.1f} s)")
    print(
        f"\n== all figures ({'quick' if quick else 'full'} mode, "
        f"{time.perf_counter() - started:.0f} s) =="
    )
    for name, figures in results.items():
        for line in _summary(name, figures):
            print(f"  {name.split('.')[-1]:<16} {line}")
    return results


def _cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the README figures (slower)")
    parser.add_argument("--quick", action="store_true", help="quick mode (the default)")
    args = parser.parse_args()
    main(quick=not args.full)


if __name__ == "__main__":
    _cli()
