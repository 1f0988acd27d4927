"""Exactly one outcome per circuit at scale: a packed batch from a generator.

Run ``python benchmarks/scale_outcomes.py --circuits 100000 --runs 3`` (or
``nox -s scale -- ...``). The emulator runs in its own process, as a real server would.
Prints, per run: circuits, outcomes, missing and duplicated circuits, what progress said
and the wall time. Exit status 1 if any outcome was missing or duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator

from ionq_async.circuits import Circuit
from ionq_async.client import Client


def circuits(count: int) -> Iterator[Circuit]:
    """Small two-qubit circuits, made one at a time."""
    for index in range(count):
        circuit = Circuit(qubits=2, name=f"c{index}")
        if index & 1:
            circuit.x(0)
        if index & 2:
            circuit.x(1)
        yield circuit


async def one_run(url: str, count: int) -> tuple[int, int, int, int, float]:
    """(outcomes, missing, duplicates, progress.done, seconds) of one packed batch."""
    started = time.perf_counter()
    seen: Counter[int] = Counter()
    async with (
        Client(api_key="scale-test-key", base_url=url) as client,
        client.run_many(circuits(count), pack=True, shots=100) as run,
    ):
        async for outcome in run:
            seen[outcome.index] += 1
        done = run.progress.done
    missing = sum(1 for index in range(count) if index not in seen)
    duplicates = sum(n - 1 for n in seen.values() if n > 1)
    return sum(seen.values()), missing, duplicates, done, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--circuits", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    server = subprocess.Popen(
        [sys.executable, "-m", "ionq_async.emulator", "--port", "0", "--time-scale", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        found = re.search(r"http://\S+", server.stdout.readline())
        if found is None:
            print("the emulator did not print its URL", file=sys.stderr)
            return 2
        bad = 0
        print("run  circuits  outcomes  missing  duplicates  progress.done  seconds")
        for number in range(1, args.runs + 1):
            outcomes, missing, duplicates, done, seconds = asyncio.run(
                one_run(found.group(0), args.circuits)
            )
            bad += missing + duplicates
            print(
                f"{number:>3}  {args.circuits:>8}  {outcomes:>8}  {missing:>7}  "
                f"{duplicates:>10}  {done:>13}  {seconds:>7.1f}"
            )
        return 1 if bad else 0
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
