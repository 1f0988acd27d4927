"""Error-mitigation output of debiased jobs: symmetrized variants and their aggregations.

IonQ's debiasing runs a circuit as several *variants* (the same logical circuit on other
qubit assignments and with symmetrizing gates), then combines their results. The API
shows the variants in a job's ``output.error_mitigation.debiasing.variants`` (each with
an id, a ``qubit_map`` and its own shots and results) and serves combined results by
method: ``GET .../results/probabilities?aggregation=average|voting|dnl|majority``
(``sharpen=true`` is ``voting``) and histogram artifacts in
``output.error_mitigation.aggregations``.

The emulator's method (made up, deterministic, documented here; not IonQ's algorithms):

- **Which jobs.** A job (or multi-circuit child) with ``settings.error_mitigation.debiasing``
  on whose shots are drawn: a QPU job, or a simulator job with a noise model. An ideal
  simulator job has nothing to mitigate and gets no variants.
- **Variants.** :data:`VARIANT_COUNT` of them. The job's per-shot states (drawn once from
  its probabilities with its seed, the same list ``/results/shots`` serves) are dealt in
  order: shot ``i`` belongs to variant ``i % VARIANT_COUNT``. So each variant's histogram
  is its share of the job's, the variants' histograms add up to the job's, and their
  shot-weighted average is exactly the job's probabilities. Variant ``v`` has id
  ``uuid5(job id, v)`` and ``qubit_map`` ``[(q + v * n) % backend qubits for q < n]``
  (logical qubit ``q`` ran on that physical qubit; ``n`` is the circuit's width).
  Variant results are logical (already un-symmetrized), keyed like the job's.
- **Aggregations** (probabilities over the job's states):

  - ``average``: the shot-weighted mean of the variants: the job's own probabilities.
    The default, and what ``output.error_mitigation.debiasing.aggregation_method`` names.
  - ``voting`` (``sharpen=true``): each variant votes for every state it saw at least half
    as often as its most frequent one; a state's probability is its share of the votes.
    Sharpens toward the dominant outcomes and drops rare (noise) states.
  - ``majority``: the states seen in more than half of the variants, at their average
    probabilities, renormalized.
  - ``dnl``: each state's median probability across the variants (a variant without the
    state counts 0), renormalized: robust to one bad variant.

  When no state qualifies (``majority``/``dnl`` over very spread shots), the average.

  Their histogram artifacts (``ionq.result.histogram.json.v2``) are these probabilities
  as counts over the job's shots (largest remainder, so they sum to the shots).
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Mapping, Sequence
from typing import Final

from attrs import frozen

__all__ = [
    "AGGREGATIONS",
    "DEFAULT_AGGREGATION",
    "VARIANT_COUNT",
    "Variant",
    "aggregate",
    "qubit_map",
    "split_variants",
    "variant_count",
    "variant_id",
    "variant_shots",
]

VARIANT_COUNT: Final = 4
"""How many symmetrized variants a debiased job runs in the emulator."""
AGGREGATIONS: Final = ("average", "voting", "dnl", "majority")
"""The aggregation methods, as the API names them (``AggregationsOutput``)."""
DEFAULT_AGGREGATION: Final = "average"


@frozen(kw_only=True)
class Variant:
    """One variant of a debiased job: its id, qubit map and its share of the shots."""

    id: str
    index: int
    qubit_map: tuple[int, ...]
    shot_states: tuple[int, ...]

    @property
    def shots(self) -> int:
        """How many shots this variant ran."""
        return len(self.shot_states)

    def histogram(self) -> dict[int, int]:
        """Counts by state, in ascending state order."""
        counts: dict[int, int] = {}
        for state in self.shot_states:
            counts[state] = counts.get(state, 0) + 1
        return {state: counts[state] for state in sorted(counts)}

    def probabilities(self) -> dict[int, float]:
        """Counts over this variant's shots."""
        total = self.shots
        return {state: count / total for state, count in self.histogram().items()}


def variant_id(job_id: str, index: int) -> str:
    """The stable id of a job's ``index``-th variant."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ionq-emulator/{job_id}/variant/{index}"))


def variant_count(shots: int) -> int:
    """How many variants a job of ``shots`` shots has."""
    return min(VARIANT_COUNT, shots) or 1


def variant_shots(shots: int, index: int) -> int:
    """How many of a job's ``shots`` its ``index``-th variant ran."""
    return len(range(index, shots, variant_count(shots)))


def qubit_map(index: int, qubits: int, backend_qubits: int) -> tuple[int, ...]:
    """The physical qubit of each logical qubit in the ``index``-th variant."""
    size = max(backend_qubits, qubits)
    return tuple((q + index * qubits) % size for q in range(qubits))


def split_variants(
    job_id: str, shot_states: Sequence[int], *, qubits: int, backend_qubits: int
) -> list[Variant]:
    """The job's shots dealt into :data:`VARIANT_COUNT` variants (shot ``i`` to ``i % K``)."""
    count = variant_count(len(shot_states))
    out = []
    for index in range(count):
        out.append(
            Variant(
                id=variant_id(job_id, index),
                index=index,
                qubit_map=qubit_map(index, qubits, backend_qubits),
                shot_states=tuple(shot_states[index::count]),
            )
        )
    return out


def aggregate(
    method: str, variants: Sequence[Variant], probabilities: Mapping[int, float]
) -> dict[int, float]:
    """The variants combined by ``method`` (one of :data:`AGGREGATIONS`).

    ``probabilities`` are the job's own (the ``average``, given rather than recomputed so
    it is exactly what ``/results/probabilities`` serves).
    """
    if method == "average":
        return dict(probabilities)
    distributions = [v.probabilities() for v in variants if v.shots]
    if not distributions:
        return dict(probabilities)
    states = sorted({state for d in distributions for state in d})
    weights: dict[int, float] = {}
    if method == "voting":
        for distribution in distributions:
            top = max(distribution.values())
            for state, p in distribution.items():
                if p >= top / 2:
                    weights[state] = weights.get(state, 0.0) + 1.0
    elif method == "majority":
        for state in states:
            seen = [d[state] for d in distributions if state in d]
            if len(seen) * 2 > len(distributions):
                weights[state] = sum(seen) / len(distributions)
    elif method == "dnl":
        for state in states:
            median = statistics.median(d.get(state, 0.0) for d in distributions)
            if median > 0:
                weights[state] = median
    else:
        raise ValueError(f"unknown aggregation {method!r}")
    if not weights:  # no state qualified (every one rare): keep the average
        return dict(probabilities)
    total = sum(weights.values())
    return {state: weights[state] / total for state in sorted(weights)}
