"""Time the emulator's state-vector simulator on seeded random circuits.

Run ``python benchmarks/bench_simulator.py [--quick]``. Prints figures only.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from functools import partial

import numpy as np

from ionq_async.circuits import Gate
from ionq_async.emulator.simulator import (
    ideal_probabilities,
    noisy_histogram,
    simulate_statevector,
)

_ONE_QUBIT = ("h", "x", "y", "z", "s", "t", "v", "si", "ti", "vi")
_ROTATIONS = ("rx", "ry", "rz")
_TWO_QUBIT = ("cnot", "xx", "zz", "swap", "cz")


def random_circuit(num_qubits: int, num_gates: int, seed: int) -> list[Gate]:
    """A seeded mix of 1-qubit gates, rotations and 2-qubit gates (about 40% 2-qubit)."""
    rng = np.random.default_rng(seed)
    gates: list[Gate] = []
    for _ in range(num_gates):
        kind = rng.random()
        if kind < 0.35:
            name = str(rng.choice(_ONE_QUBIT))
            gates.append(Gate(gate=name, targets=(int(rng.integers(num_qubits)),)))
        elif kind < 0.6:
            name = str(rng.choice(_ROTATIONS))
            angle = float(rng.uniform(-math.pi, math.pi))
            gates.append(Gate(gate=name, targets=(int(rng.integers(num_qubits)),), rotation=angle))
        else:
            a, b = (int(q) for q in rng.choice(num_qubits, size=2, replace=False))
            name = str(rng.choice(_TWO_QUBIT))
            if name == "cnot":
                gates.append(Gate(gate="x", targets=(b,), controls=(a,)))
            elif name == "cz":
                gates.append(Gate(gate="z", targets=(b,), controls=(a,)))
            elif name == "swap":
                gates.append(Gate(gate="swap", targets=(a, b)))
            else:
                angle = float(rng.uniform(-math.pi, math.pi))
                gates.append(Gate(gate=name, targets=(a, b), rotation=angle))
    return gates


def _best_of(repeats: int, run: Callable[[], object]) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main(quick: bool = False) -> dict[str, float]:
    """Print and return seconds per simulation (best of a few runs), keyed by case name.

    "state vector" is the simulation alone; "ideal probabilities dict" adds building the
    sparse ``{state: probability}`` answer, which dominates for dense outputs.
    """
    sizes = (10, 16, 20) if quick else (10, 16, 20, 24)
    repeats = 1 if quick else 3
    figures: dict[str, float] = {}
    print(f"{'case':<28}{'qubits':>8}{'gates':>8}{'seconds':>12}")
    for num_qubits in sizes:
        gates = random_circuit(num_qubits, 10 * num_qubits, seed=num_qubits)
        cases = (
            ("state vector", "statevector", partial(simulate_statevector, num_qubits, gates)),
            ("ideal probabilities dict", "ideal", partial(ideal_probabilities, num_qubits, gates)),
        )
        for label, key, run in cases:
            seconds = _best_of(repeats, run)
            figures[f"{key}_{num_qubits}q"] = seconds
            print(f"{label:<28}{num_qubits:>8}{len(gates):>8}{seconds:>12.4f}")
    noisy_cases = [(10, "aria-1"), (16, "forte-1")]
    if not quick:
        noisy_cases.append((20, "aria-1"))
    for num_qubits, model in noisy_cases:
        gates = random_circuit(num_qubits, 10 * num_qubits, seed=num_qubits)
        seconds = _best_of(
            1,
            partial(noisy_histogram, num_qubits, gates, 100_000, model=model, seed=7),
        )
        figures[f"noisy_{model}_{num_qubits}q_100000shots"] = seconds
        label = f"noisy {model} 1e5 shots"
        print(f"{label:<28}{num_qubits:>8}{len(gates):>8}{seconds:>12.4f}")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip 24 qubits, one repeat")
    main(quick=parser.parse_args().quick)
