"""Emulator throughput: ``GET /jobs/{id}`` answered per second under 50 concurrent workers.

Run ``python benchmarks/bench_emulator.py [--quick]``. Two set-ups are measured:

- ``in_process``: the emulator runs in a background thread of this process (the way the
  test suite uses it), so client and server share the interpreter;
- ``subprocess``: ``python -m ionq_async.emulator`` in its own process, the client here.

It also times a status request while a large simulation runs, to show that simulation
stays off the event loop. Prints figures; never passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import aiohttp

from ionq_async.emulator import BackgroundEmulator, EmulatorConfig

WORKERS = 50
BELL = {
    "qubits": 2,
    "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}],
}


async def _create_job(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> str:
    body = {"type": "ionq.circuit.v1", "backend": "simulator", "input": BELL}
    async with session.post(f"{url}/jobs", json=body, headers=headers) as response:
        response.raise_for_status()
        return str((await response.json())["id"])


async def _hammer(url: str, api_key: str, requests_total: int) -> float:
    """Requests per second for ``requests_total`` GET /jobs/{id} over WORKERS workers."""
    headers = {"Authorization": f"apiKey {api_key}"}
    connector = aiohttp.TCPConnector(limit=WORKERS)
    async with aiohttp.ClientSession(connector=connector) as session:
        job_id = await _create_job(session, url, headers)
        target = f"{url}/jobs/{job_id}"
        remaining = requests_total

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                async with session.get(target, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"unexpected status {response.status}")

        async def warm() -> None:
            async with session.get(target, headers=headers) as response:
                await response.read()

        # Open the pool's connections before timing.
        await asyncio.gather(*(warm() for _ in range(WORKERS)))
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(WORKERS)))
        return requests_total / (time.perf_counter() - started)


async def _status_latency_during_big_simulation(url: str, api_key: str) -> dict[str, float]:
    """Median and worst GET /jobs/{id} latency while a 22-qubit circuit simulates."""
    headers = {"Authorization": f"apiKey {api_key}"}
    gates: list[dict[str, Any]] = []
    for layer in range(6):
        gates += [{"gate": "h", "target": q} for q in range(22)]
        gates += [
            {"gate": "cnot", "control": q, "target": (q + 1 + layer) % 22} for q in range(0, 22, 2)
        ]
    big = {
        "type": "ionq.circuit.v1",
        "backend": "simulator",
        "input": {"qubits": 22, "circuit": gates},
    }
    async with aiohttp.ClientSession() as session:
        small = await _create_job(session, url, headers)
        async with session.post(f"{url}/jobs", json=big, headers=headers) as response:
            big_id = (await response.json())["id"]
        latencies = []
        status = ""
        deadline = time.perf_counter() + 60
        while status != "completed" and time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.get(f"{url}/jobs/{small}", headers=headers) as response:
                await response.read()
            latencies.append((time.perf_counter() - started) * 1000)
            async with session.get(f"{url}/jobs/{big_id}", headers=headers) as response:
                status = (await response.json())["status"]
            await asyncio.sleep(0.005)
    return {
        "status_latency_median_ms": statistics.median(latencies),
        "status_latency_max_ms": max(latencies),
        "status_polls_during_simulation": float(len(latencies)),
    }


def _in_process(requests_total: int) -> dict[str, float]:
    with BackgroundEmulator(config=EmulatorConfig(time_scale=0.0)) as emu:
        rps = asyncio.run(_hammer(emu.url, emu.api_key, requests_total))
        latency = asyncio.run(_status_latency_during_big_simulation(emu.url, emu.api_key))
    return {"in_process_rps": rps, **latency}


def _subprocess(requests_total: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ionq_async.emulator", "--port", "0", "--time-scale", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        rps = asyncio.run(_hammer(url, "bench-key", requests_total))
    finally:
        process.terminate()
        process.wait(timeout=15)
        if process.stdout is not None:
            process.stdout.close()
    return {"subprocess_rps": rps}


def main(quick: bool = False) -> dict[str, float]:
    """Measure and print the emulator's request rate; returns the figures."""
    requests_total = 2_000 if quick else 20_000
    figures = {**_in_process(requests_total), **_subprocess(requests_total)}
    print(f"GET /jobs/{{id}}, {WORKERS} concurrent workers, {requests_total} requests")
    print(f"  in-process emulator (shared interpreter): {figures['in_process_rps']:8.0f} req/s")
    print(f"  emulator in its own process:              {figures['subprocess_rps']:8.0f} req/s")
    print(
        "  status latency while a 22-qubit job simulates: "
        f"median {figures['status_latency_median_ms']:.1f} ms, "
        f"max {figures['status_latency_max_ms']:.1f} ms "
        f"over {figures['status_polls_during_simulation']:.0f} polls"
    )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    main(quick=parser.parse_args().quick)
