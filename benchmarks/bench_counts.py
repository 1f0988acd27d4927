"""Time probabilities -> counts on a dense 2^20-outcome distribution.

Run ``python benchmarks/bench_counts.py [--quick]``. Prints figures next to the target
(largest-remainder counts in at most 200 ms); never passes or fails.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from ionq_async.results import counts_from_probabilities, parse_probabilities, sample_counts

TARGET_MS = 200.0
OUTCOMES = 2**20


def _median_ms(repeats: int, run: Callable[[], object]) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def distribution(outcomes: int = OUTCOMES, seed: int = 2024) -> dict[int, float]:
    """A seeded dense distribution over ``outcomes`` states, keys in ascending order."""
    weights = np.random.default_rng(seed).random(outcomes)
    return dict(enumerate((weights / weights.sum()).tolist()))


def main(quick: bool = False) -> dict[str, float]:
    """Print and return median milliseconds per call, keyed by case name."""
    repeats = 3 if quick else 7
    probabilities = distribution()
    shuffled_keys = list(probabilities)
    np.random.default_rng(1).shuffle(shuffled_keys)
    shuffled = {key: probabilities[key] for key in shuffled_keys}
    wire = {str(key): value for key, value in probabilities.items()}

    cases: list[tuple[str, Callable[[], object], bool]] = [
        ("counts_1k_shots", lambda: counts_from_probabilities(probabilities, 1_000), True),
        ("counts_1M_shots", lambda: counts_from_probabilities(probabilities, 1_000_000), True),
        ("counts_1k_shots_unsorted", lambda: counts_from_probabilities(shuffled, 1_000), True),
        ("sample_1k_shots_seeded", lambda: sample_counts(probabilities, 1_000, seed=7), False),
        ("parse_wire_probabilities", lambda: parse_probabilities(wire), False),
    ]
    figures: dict[str, float] = {}
    print(f"{OUTCOMES} outcomes, median of {repeats} runs")
    print(f"{'case':<28}{'ms':>10}   target")
    for name, run, has_target in cases:
        milliseconds = _median_ms(repeats, run)
        figures[name] = milliseconds
        target = f"at most {TARGET_MS:.0f} ms" if has_target else "-"
        print(f"{name:<28}{milliseconds:>10.1f}   {target}")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    main(quick=parser.parse_args().quick)
