"""The demo: a seeded batch of varied circuits run on an in-process emulator.

``ionq-async demo`` starts the emulator on a free loopback port, runs about 200 circuits
(Bell states, GHZ states up to 10 qubits, small random circuits and one circuit that is
deliberately too wide for the backend) through ``run_many``, and reports what happened.
No key and no network are needed.
"""

from __future__ import annotations

import argparse
import math
import random
from typing import Any

from rich.text import Text

from ..batch import Outcome
from ..circuits import Circuit
from ..client import Client
from ..emulator import Emulator, EmulatorConfig
from ..exceptions import CircuitError, ConfigurationError, JobFailed
from .exit_codes import ExitCode
from .render import Output, fields_table, make_table
from .runner import BatchReport, failure_json, run_batch

__all__ = ["DEMO_SEED", "INVALID_NAME", "demo_circuits", "demo_command"]

DEMO_SEED = 2024
"""The seed of the demo's random circuits (the demo is the same on every run)."""

INVALID_NAME = "too-wide"
"""The name of the demo's one deliberately invalid circuit."""

INVALID_QUBITS = 64
"""The width of the invalid circuit: more qubits than any emulated backend has."""

_ONE_QUBIT = ("h", "x", "y", "z", "s", "t", "si", "ti", "v")
_ROTATIONS = ("rx", "ry", "rz")


def bell(variant: int = 0) -> Circuit:
    """One of the four Bell states: 0 = Φ+, 1 = Φ-, 2 = Ψ+, 3 = Ψ-."""
    circuit = Circuit(qubits=2, name=["bell-phi+", "bell-phi-", "bell-psi+", "bell-psi-"][variant])
    if variant in (2, 3):
        circuit.x(1)
    circuit.h(0).cnot(0, 1)
    if variant in (1, 3):
        circuit.z(0)
    return circuit


def ghz(qubits: int) -> Circuit:
    """The GHZ state on ``qubits`` qubits: half all zeros, half all ones."""
    circuit = Circuit(qubits=qubits, name=f"ghz-{qubits}").h(0)
    for target in range(1, qubits):
        circuit.cnot(target - 1, target)
    return circuit


def random_circuit(rng: random.Random, index: int) -> Circuit:
    """A small random qis circuit: 2 to 5 qubits, 3 to 12 gates."""
    qubits = rng.randint(2, 5)
    circuit = Circuit(qubits=qubits, name=f"random-{index}")
    for _ in range(rng.randint(3, 12)):
        kind = rng.random()
        target = rng.randrange(qubits)
        if kind < 0.45:
            getattr(circuit, rng.choice(_ONE_QUBIT))(target)
        elif kind < 0.7:
            angle = rng.uniform(-math.pi, math.pi)
            getattr(circuit, rng.choice(_ROTATIONS))(angle, target)
        else:
            other = rng.choice([q for q in range(qubits) if q != target])
            if kind < 0.92:
                circuit.cnot(other, target)
            else:
                circuit.swap(other, target)
    return circuit


def too_wide() -> Circuit:
    """A circuit wider than any backend: the server fails its job with NotEnoughQubits."""
    return Circuit(qubits=INVALID_QUBITS, name=INVALID_NAME).h(0).cnot(0, INVALID_QUBITS - 1)


def demo_circuits(count: int = 200, *, seed: int = DEMO_SEED) -> list[Circuit]:
    """``count`` seeded circuits: Bell states, GHZ 2..10, random ones and one invalid one.

    The invalid circuit sits in the middle of the batch, so the stream is seen to go on
    past a failed job. ``count`` must be at least 2 (one valid circuit and the invalid one).
    """
    if count < 2:
        raise ValueError(f"the demo needs at least 2 circuits, got {count}")
    fixed = [bell(variant) for variant in range(4)] + [ghz(n) for n in range(2, 11)]
    valid = fixed[: count - 1]
    rng = random.Random(seed)
    while len(valid) < count - 1:
        valid.append(random_circuit(rng, len(valid)))
    middle = len(valid) // 2
    return [*valid[:middle], too_wide(), *valid[middle:]]


# ---------------------------------------------------------------------------------------
# Running the demo (``ionq-async demo``).

SAMPLE_NAMES = ("bell-phi+", "bell-psi-", "ghz-3", "ghz-10")
"""Circuits whose counts the demo shows (those present), with the most varied random one."""

EXPECTED_FAILURE_CODES = frozenset({"NotEnoughQubits"})
"""Why the invalid circuit may fail: the server's code (or a client-side CircuitError)."""


def _is_expected_failure(outcome: Outcome) -> bool:
    if outcome.name != INVALID_NAME or outcome.error is None:
        return False
    if isinstance(outcome.error, CircuitError):
        return True
    return isinstance(outcome.error, JobFailed) and outcome.error.code in EXPECTED_FAILURE_CODES


async def demo_command(ns: argparse.Namespace, out: Output) -> int:
    """Run the demo as ``ionq-async demo`` does; 0 when exactly the expected failure happened."""
    if ns.circuits < 2:
        raise ConfigurationError(f"--circuits must be at least 2, got {ns.circuits}")
    circuits = demo_circuits(ns.circuits)
    config = EmulatorConfig(time_scale=0.0) if ns.fast else EmulatorConfig()
    out.note(f"starting the emulator and running {len(circuits)} circuits ...")
    async with (
        Emulator(config=config) as emu,
        Client(api_key=emu.api_key, base_url=emu.url) as client,
    ):
        report = await run_batch(
            client,
            circuits,
            out,
            options={"shots": ns.shots},
            timeout_s=None,
            title="demo",
            show_progress=True,
        )
        requests = _request_count(emu)
    unexpected = [o for o in report.failed if not _is_expected_failure(o)]
    ok = not unexpected and len(report.failed) == 1 and report.unfinished == 0
    samples = [
        o
        for name in SAMPLE_NAMES
        for o in report.outcomes.values()
        if o.name == name and o.result is not None
    ]
    randoms = [
        o
        for _, o in sorted(report.outcomes.items())
        if o.result is not None and (o.name or "").startswith("random-")
    ]
    if randoms:
        # The random circuit with the most outcomes shows more than a textbook state.
        samples.append(max(randoms, key=_outcome_count))
    summary = {
        **report.summary(),
        "failures": [
            {"index": o.index, "name": o.name, **(failure_json(o.error) or {})}
            for o in report.failed
        ],
        "requests": requests,
        "requests_per_job": round(requests / max(1, report.total), 2),
        "expected_failure_seen": any(_is_expected_failure(o) for o in report.failed),
        "ok": ok,
    }
    if out.json_mode:
        out.json(
            {
                **summary,
                "samples": [
                    {
                        "name": o.name,
                        "job_id": o.job.id if o.job is not None else None,
                        "bitstring_counts": o.result.bitstring_counts(ns.shots),
                    }
                    for o in samples
                    if o.result is not None
                ],
            }
        )
    else:
        _print_report(out, samples, summary, report, ns.shots)
    return ExitCode.OK if ok else ExitCode.JOB_FAILED


def _outcome_count(outcome: Outcome) -> int:
    return len(outcome.result.probabilities) if outcome.result is not None else 0


def _request_count(emu: Emulator) -> int:
    """Requests the emulator answered, by its own counter."""
    return emu.stats.requests_total


def _print_report(
    out: Output,
    samples: list[Outcome],
    summary: dict[str, Any],
    report: BatchReport,
    shots: int,
) -> None:
    rows = []
    for outcome in samples:
        assert outcome.result is not None
        counts = outcome.result.bitstring_counts(shots)
        best = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:4]
        shown = "  ".join(f"{bits}: {count}" for bits, count in best)
        if len(counts) > len(best):
            shown += f"  … ({len(counts)} outcomes)"
        rows.append((outcome.name, outcome.result.num_qubits, shown))
    out.table(
        make_table(f"a few results ({shots} shots each)", ["circuit", "qubits", "counts"], rows)
    )
    failures = "; ".join(
        f"{f['name']}: {f.get('code') or f['type']}"
        + (f", {f['reason']}" if f.get("reason") else "")
        for f in summary["failures"]
    )
    lines = [
        ("completed", f"{report.completed} of {report.total}"),
        ("failed", f"{len(report.failed)}" + (f" ({failures})" if failures else "")),
        ("time", f"{report.elapsed_s:.2f} s"),
        ("jobs per second", f"{report.jobs_per_s:.1f}"),
        ("requests per job", f"{summary['requests_per_job']:.2f} ({summary['requests']} requests)"),
    ]
    out.table(fields_table("summary", lines))
    if summary["ok"]:
        out.console.print(
            Text("The one failure is the deliberately invalid circuit, as expected.", style="green")
        )
    else:
        out.console.print(Text("Unexpected failures: see above.", style="red"))
