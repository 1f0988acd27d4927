"""Circuits from where users write them: conversion cost, and a huge sweep in bounded memory.

Run ``python benchmarks/bench_sweep.py [--full]`` (quick: 20,000 points; full: the
issue's 1,000,000). Prints figures next to targets; never passes or fails.

- **Conversion cost per circuit**: a 4-qubit, 12-gate circuit with two parameters given
  as a Qiskit ``QuantumCircuit`` (``from_qiskit``: Qiskit's transpiler into IonQ's gates),
  a ``cirq.Circuit`` (``from_cirq``), OpenQASM 2 text (``from_qasm``), and our builder's
  ``bind`` of one sweep point, each followed by ``to_json`` (what is sent).
- **A packed sweep from a generator**: ``client.run_sweep(template, generator, pack=True)``
  over N parameter points, outcomes consumed as they come, against the emulator in a
  process of its own (``bench_batch``'s). The client runs in a child process so that its
  peak RSS (``VmHWM``) is its own; the input is never a list (the engine reads it only as
  far as ``MAX_HELD_CIRCUITS`` allows). Target: peak client RSS under 250 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_batch import emulator_process

TARGET_PEAK_RSS_MB = 250.0
QUICK_POINTS = 20_000
FULL_POINTS = 1_000_000


def _template() -> Any:
    import ionq_async as ionq

    theta, phi = ionq.Parameter("theta"), ionq.Parameter("phi")
    circuit = ionq.Circuit(4, name="sweep")
    for qubit in range(4):
        circuit.h(qubit)
    circuit.rx(theta, 0).ry(phi, 1).cx(0, 1).cx(1, 2).cx(2, 3).rz(theta, 3)
    circuit.ry(phi, 2).cz(0, 3)
    return circuit


def _per_circuit_us(make: Callable[[int], Any], count: int) -> float:
    make(0)  # warm up (imports, caches)
    started = time.perf_counter()
    for index in range(count):
        make(index)
    return (time.perf_counter() - started) / count * 1e6


def conversion_costs(quick: bool) -> dict[str, float]:
    """Microseconds per circuit from each source to the JSON that is sent."""
    import ionq_async as ionq

    figures: dict[str, float] = {}
    template = _template()
    figures["builder bind + to_json"] = _per_circuit_us(
        lambda i: template.bind(theta=i * 1e-3, phi=0.5).to_json(), 5_000 if quick else 20_000
    )
    qasm = (
        'OPENQASM 2.0; include "qelib1.inc"; qreg q[4]; creg c[4];'
        " h q[0]; h q[1]; h q[2]; h q[3]; rx(0.1) q[0]; ry(0.2) q[1];"
        " cx q[0],q[1]; cx q[1],q[2]; cx q[2],q[3]; rz(0.1) q[3]; ry(0.2) q[2]; cz q[0],q[3];"
        " measure q -> c;"
    )
    figures["from_qasm (2.0) + to_json"] = _per_circuit_us(
        lambda i: ionq.from_qasm(qasm).to_json(), 100 if quick else 500
    )
    try:
        import qiskit
    except ImportError:
        print("  (qiskit not installed: pip install 'ionq-async[qiskit]')")
    else:
        circuit = qiskit.QuantumCircuit(4, 4)
        for qubit in range(4):
            circuit.h(qubit)
        circuit.rx(0.1, 0)
        circuit.ry(0.2, 1)
        circuit.cx(0, 1)
        circuit.cx(1, 2)
        circuit.cx(2, 3)
        circuit.rz(0.1, 3)
        circuit.ry(0.2, 2)
        circuit.cz(0, 3)
        circuit.measure(range(4), range(4))
        figures["from_qiskit + to_json"] = _per_circuit_us(
            lambda i: ionq.from_qiskit(circuit).to_json(), 50 if quick else 200
        )
    try:
        import cirq
    except ImportError:
        print("  (cirq not installed: pip install 'ionq-async[cirq]')")
    else:
        q = cirq.LineQubit.range(4)
        cirq_circuit = cirq.Circuit(
            [cirq.H(x) for x in q],
            cirq.rx(0.1).on(q[0]),
            cirq.ry(0.2).on(q[1]),
            cirq.CNOT(q[0], q[1]),
            cirq.CNOT(q[1], q[2]),
            cirq.CNOT(q[2], q[3]),
            cirq.rz(0.1).on(q[3]),
            cirq.ry(0.2).on(q[2]),
            cirq.CZ(q[0], q[3]),
            cirq.measure(*q, key="m"),
        )
        figures["from_cirq + to_json"] = _per_circuit_us(
            lambda i: ionq.from_cirq(cirq_circuit).to_json(), 100 if quick else 500
        )
    return figures


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def _sweep_child(url: str, api_key: str, points: int) -> dict[str, Any]:
    from ionq_async import Client

    template = _template()

    def sets() -> Iterator[dict[str, float]]:
        for index in range(points):
            yield {"theta": index * math.pi / points, "phi": 0.25}

    async with Client(api_key=api_key, base_url=url) as client:
        baseline_kb = _rss_kb("VmRSS")
        started = time.perf_counter()
        cpu = time.process_time()
        done = failed = 0
        async with client.run_sweep(template, sets(), pack=True, shots=100) as run:
            async for outcome in run:
                if outcome.ok:
                    done += 1
                else:
                    failed += 1
        seconds = time.perf_counter() - started
        return {
            "points": points,
            "completed": done,
            "failed": failed,
            "seconds": seconds,
            "points_per_s": points / seconds,
            "client_cpu_us_per_point": (time.process_time() - cpu) / points * 1e6,
            "baseline_mb": baseline_kb / 1024,
            "peak_mb": _rss_kb("VmHWM") / 1024,
        }


def sweep_memory(points: int) -> dict[str, Any]:
    """Peak RSS of a client process running a packed sweep of ``points`` from a generator."""
    with emulator_process(queue_s=0.0, run_s=0.0) as emu:
        answer = subprocess.run(
            [sys.executable, __file__, "--sweep-child", emu.url, emu.api_key, str(points)],
            capture_output=True,
            text=True,
            timeout=3_600,
            check=False,
        )
        stats = emu.stats()
    if answer.returncode != 0:
        raise RuntimeError(f"the sweep child failed:\n{answer.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(answer.stdout.strip().splitlines()[-1])
    result["requests"] = stats["requests_total"]
    result["jobs_created"] = stats["jobs_created"]
    return result


def main(quick: bool = True) -> dict[str, Any]:
    print("conversion cost per circuit (to the JSON that is sent):")
    costs = conversion_costs(quick)
    for name, micros in costs.items():
        print(f"  {name:<28} {micros:>10.1f} us")
    points = QUICK_POINTS if quick else FULL_POINTS
    print(f"packed sweep of {points:,} points from a generator (client in its own process):")
    sweep = sweep_memory(points)
    verdict = "meets" if sweep["peak_mb"] < TARGET_PEAK_RSS_MB else "MISSES"
    print(
        f"  {sweep['completed']:,} completed, {sweep['failed']:,} failed in "
        f"{sweep['seconds']:.1f} s ({sweep['points_per_s']:,.0f} points/s); "
        f"{sweep['jobs_created']} jobs, {sweep['requests']} requests"
    )
    print(f"  client CPU per point          {sweep['client_cpu_us_per_point']:>10.1f} us")
    print(f"  client RSS after imports      {sweep['baseline_mb']:>10.1f} MB")
    print(
        f"  peak client RSS               {sweep['peak_mb']:>10.1f} MB"
        f"   target < {TARGET_PEAK_RSS_MB:.0f} MB: {verdict}"
    )
    return {"conversion_us": costs, "sweep": sweep}


def _cli() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] == "--sweep-child":
        url, key, points = sys.argv[2:5]
        print(json.dumps(asyncio.run(_sweep_child(url, key, int(points)))), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="1,000,000 points (slow)")
    args = parser.parse_args()
    main(quick=not args.full)


if __name__ == "__main__":
    _cli()
