"""Bounded memory with every job of a big unpacked batch in flight, and its journal's resume.

Run ``python benchmarks/bench_memory.py [--full]`` (quick: 10,000 jobs; full: the issue's
100,000). Prints figures next to the targets of issue 15 item 5; never passes or fails.

The emulator runs in a process of its own on a manual clock that only the benchmark
moves (``--serve-emulator``; ``/advance`` moves it), so every job stays queued until all of
them exist. Each client runs in a child process of its own, so that its peak RSS
(``VmHWM``) is its own:

1. **In flight** (``--hold-child``): ``run_many`` over a generator of N Bell circuits,
   one job each (``pack=False``), ``max_in_flight=N`` and a ``journal``, on a QPU
   backend by default (``--backend simulator`` for the simulator: its poll schedule asks
   about every waiting job far more often, which costs client CPU, not memory). Once all
   N jobs are created and the poller has had its first look at each, the RSS is read and
   the batch is interrupted (the consumer leaves), as Ctrl-C would: every job still waits.
2. The clock is moved past every job's end.
3. **Resume** (``--resume-child``): a new process reads the journal alone
   (``read_journal``: open, parse, state), then runs the same ``run_many`` on the same
   journal and input until every circuit has its outcome: the time from the call to the
   first outcome and to the last, how many jobs it created (the emulator's count: it
   must be 0, nothing is sent again), and its peak RSS.

Targets: peak client RSS under 250 MB with 100,000 unpacked jobs in flight; the journal
of such a batch resumes in seconds, not minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_PEAK_RSS_MB = 250.0
TARGET_RESUME_S = 10.0  # "seconds, not minutes", read as: its first outcome within 10 s
QUICK_JOBS = 10_000
FULL_JOBS = 100_000
QUEUE_S = 3_600.0  # every job waits this long on the manual clock: until it is moved
SHOTS = 100
BACKEND = "qpu.aria-1"


def bell() -> Any:
    """The Bell pair every job runs (a fresh circuit each, as a generator makes them)."""
    from ionq_async.circuits import Circuit

    return Circuit(qubits=2).h(0).cnot(0, 1)


def circuits(count: int) -> Iterator[Any]:
    """The batch's input: a generator, never a list."""
    for _ in range(count):
        yield bell()


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


# ---------------------------------------------------------------------------------------
# The emulator process (``--serve-emulator``): the API on a manual clock, plus a small
# control server (stats, and moving the clock).


async def _serve_emulator() -> None:
    from aiohttp import web

    from ionq_async.emulator import Emulator, EmulatorConfig, ManualClock

    clock = ManualClock(start=time.time())
    config = EmulatorConfig(
        simulator_queue_s=QUEUE_S, simulator_run_s=1.0, qpu_queue_s=QUEUE_S, qpu_run_s=1.0
    )
    async with Emulator(config=config, clock=clock) as emu:

        async def stats(_request: web.Request) -> web.Response:
            s = emu.stats
            return web.json_response(
                {
                    "requests_total": s.requests_total,
                    "by_route": {f"{m} {r}": n for (m, r), n in s.requests_by_route.items()},
                    "jobs_created": s.jobs_created,
                }
            )

        async def advance(request: web.Request) -> web.Response:
            clock.advance(float(request.query["s"]))
            return web.json_response({})

        app = web.Application()
        app.router.add_get("/stats", stats)
        app.router.add_post("/advance", advance)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(emu.url, f"http://127.0.0.1:{port}", emu.api_key, flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


class EmulatorProcess:
    """The emulator in a child process; ``stats()`` reads its counters."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-emulator"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if len(line) != 3:
            self.close()
            raise RuntimeError("the emulator process did not start")
        self.url, self.control_url, self.api_key = line

    def stats(self) -> dict[str, Any]:
        import requests

        answer = requests.get(self.control_url + "/stats", timeout=60)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def advance(self, seconds: float) -> None:
        import requests

        answer = requests.post(self.control_url + "/advance", params={"s": seconds}, timeout=60)
        answer.raise_for_status()

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def emulator_process() -> Iterator[EmulatorProcess]:
    process = EmulatorProcess()
    try:
        yield process
    finally:
        process.close()


def _run_options(count: int, journal: str, backend: str) -> dict[str, Any]:
    # The same options in both children: the journal's header names the batch by them.
    return {
        "pack": False,
        "max_in_flight": count,
        "concurrency": 64,
        "journal": journal,
        "shots": SHOTS,
        "backend": backend,
    }


# ---------------------------------------------------------------------------------------
# The clients


async def _hold_child(url: str, api_key: str, count: int, journal: str, backend: str) -> Any:
    """Every job in flight at once, then an interruption (the consumer leaves)."""
    from ionq_async import Client

    async with Client(api_key=api_key, base_url=url) as client:
        baseline_mb = _rss_mb("VmRSS")
        started = time.perf_counter()
        all_in_flight = asyncio.Event()
        peak_waiting = 0

        def progress(state: Any) -> None:
            nonlocal peak_waiting
            peak_waiting = max(peak_waiting, state.waiting)
            if state.submitted >= count:
                all_in_flight.set()

        run = client.run_many(
            circuits(count), progress=progress, **_run_options(count, journal, backend)
        )

        async def consume() -> None:
            async for outcome in run:
                outcome.unwrap()  # none may end before the clock moves

        async with run:
            consumer = asyncio.create_task(consume())
            waiter = asyncio.create_task(all_in_flight.wait())
            await asyncio.wait({consumer, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if consumer.done():
                consumer.result()  # raises the batch's error
            created_s = time.perf_counter() - started
            # Let the poller have its first look at every job (a second after creation).
            await asyncio.sleep(5.0)
            in_flight_mb = _rss_mb("VmRSS")
            consumer.cancel()
        # Leaving the ``async with`` ended the batch, as Ctrl-C would: the jobs still wait.
    return {
        "baseline_mb": baseline_mb,
        "peak_waiting": peak_waiting,
        "created_s": created_s,
        "in_flight_mb": in_flight_mb,
        "peak_mb": _rss_mb("VmHWM"),
    }


async def _resume_child(url: str, api_key: str, count: int, journal: str, backend: str) -> Any:
    """The same batch on the same journal: how soon do outcomes come, what does it hold."""
    from ionq_async import Client
    from ionq_async._journal import read_journal

    started = time.perf_counter()
    state = read_journal(journal)
    read_s = time.perf_counter() - started
    recorded = len(state.job_ids)
    del state
    read_peak_mb = _rss_mb("VmHWM")
    async with Client(api_key=api_key, base_url=url) as client:
        baseline_mb = _rss_mb("VmRSS")
        first_s: float | None = None
        done = failed = 0
        started = time.perf_counter()
        async with client.run_many(circuits(count), **_run_options(count, journal, backend)) as run:
            async for outcome in run:
                if first_s is None:
                    first_s = time.perf_counter() - started
                if outcome.ok:
                    done += 1
                else:
                    failed += 1
        all_s = time.perf_counter() - started
    return {
        "read_s": read_s,
        "recorded_jobs": recorded,
        "read_peak_mb": read_peak_mb,
        "baseline_mb": baseline_mb,
        "first_s": first_s,
        "all_s": all_s,
        "completed": done,
        "failed": failed,
        "peak_mb": _rss_mb("VmHWM"),
    }


def _child(*args: str) -> dict[str, Any]:
    answer = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        timeout=3_600,
        check=False,
    )
    if answer.returncode != 0:
        raise RuntimeError(f"the client child {args[0]} failed:\n{answer.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(answer.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------------------------------
# Report


def _verdict(value: float, target: float) -> str:
    return "meets" if value < target else "MISSES"


def main(quick: bool = True, backend: str = BACKEND, jobs: int | None = None) -> dict[str, Any]:
    """Run both children against one emulator, print the figures, and return them."""
    count = jobs or (QUICK_JOBS if quick else FULL_JOBS)
    print(
        f"Memory: {count:,} unpacked Bell jobs on {backend} in flight at once "
        f"(max_in_flight={count:,}, journal on), emulator on a manual clock in its own process"
    )
    with tempfile.TemporaryDirectory() as folder, emulator_process() as emu:
        journal = str(Path(folder) / "batch.journal")
        hold = _child("--hold-child", emu.url, emu.api_key, str(count), journal, backend)
        created = emu.stats()["jobs_created"]
        journal_bytes = Path(journal).stat().st_size
        emu.advance(QUEUE_S + 10.0)  # every job ends: the resume finds them done
        resume = _child("--resume-child", emu.url, emu.api_key, str(count), journal, backend)
        stats = emu.stats()
    resent = stats["jobs_created"] - created
    print(
        f"  in flight: {hold['peak_waiting']:,} jobs waiting at once, all {created:,} created "
        f"in {hold['created_s']:.1f} s; RSS after imports {hold['baseline_mb']:.1f} MB"
    )
    print(
        f"  peak client RSS, every job in flight {hold['peak_mb']:>8.1f} MB   target < "
        f"{TARGET_PEAK_RSS_MB:.0f} MB: {_verdict(hold['peak_mb'], TARGET_PEAK_RSS_MB)} "
        f"(RSS then {hold['in_flight_mb']:.1f} MB)"
    )
    print(
        f"  interrupted with every job waiting; journal {journal_bytes / 1e6:.1f} MB "
        f"({resume['recorded_jobs']:,} job records); then every job ends on the server"
    )
    print(
        f"  resume: read_journal alone {resume['read_s']:.2f} s "
        f"(peak RSS {resume['read_peak_mb']:.1f} MB)"
    )
    first = resume["first_s"] if resume["first_s"] is not None else float("nan")
    print(
        f"  resume: call to first outcome        {first:>8.2f} s   target: seconds "
        f"(< {TARGET_RESUME_S:.0f} s): {_verdict(first, TARGET_RESUME_S)}"
    )
    print(
        f"  resume: call to all {resume['completed'] + resume['failed']:,} outcomes"
        f"      {resume['all_s']:>8.2f} s   ({resume['completed']:,} ok, "
        f"{resume['failed']:,} failed; {resent} jobs created again, must be 0)"
    )
    print(
        f"  peak client RSS (resume, to the end) {resume['peak_mb']:>8.1f} MB   target < "
        f"{TARGET_PEAK_RSS_MB:.0f} MB: {_verdict(resume['peak_mb'], TARGET_PEAK_RSS_MB)}"
    )
    print(f"  emulator requests in all: {stats['requests_total']:,}")
    return {"jobs": count, "hold": hold, "resume": resume, "resent": resent}


def _cli() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] == "--serve-emulator":
        asyncio.run(_serve_emulator())
        return
    if len(sys.argv) >= 2 and sys.argv[1] == "--hold-child":
        url, key, count, journal, backend = sys.argv[2:7]
        answer = asyncio.run(_hold_child(url, key, int(count), journal, backend))
        print(json.dumps(answer))
        return
    if len(sys.argv) >= 2 and sys.argv[1] == "--resume-child":
        url, key, count, journal, backend = sys.argv[2:7]
        print(json.dumps(asyncio.run(_resume_child(url, key, int(count), journal, backend))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help=f"{FULL_JOBS:,} jobs (slow)")
    parser.add_argument("--jobs", type=int, default=None, help="another number of jobs")
    parser.add_argument(
        "--backend",
        default=BACKEND,
        help=f"the jobs' backend (default {BACKEND}: polling jobs an hour from their end "
        "costs little; on the simulator every job is asked about far more often)",
    )
    args = parser.parse_args()
    main(quick=not args.full, backend=args.backend, jobs=args.jobs)


if __name__ == "__main__":
    _cli()
