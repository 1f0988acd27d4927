"""The simulation runner: seeds, a pool of worker threads, and running one circuit.

A job's simulation starts in a worker thread the moment the job is accepted; the store
reads the finished future when the job's scheduled completion time has passed. The
simulation itself is :func:`simulate`, looked up at submit time (tests replace it).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
from collections.abc import Callable, Iterable, Mapping

from ionq_async.results import counts_from_probabilities

from . import simulator
from ._backends import BackendSpec
from ._validation import CircuitSpec
from .records import JobRecord, SimulationOutcome

__all__ = ["SimulationRunner", "child_seed", "job_seed", "simulate", "wait_for"]

_SEED_MASK = 0x7FFFFFFF


def job_seed(*, config_seed: int, seq: int, noise_seed: int | None) -> int:
    """The seed of a job's simulation: its noise seed, else one derived from the config's."""
    if noise_seed is not None:
        return noise_seed
    return (config_seed * 1_000_003 + seq) & _SEED_MASK


def child_seed(base_seed: int, index: int) -> int:
    """The seed of the ``index``-th circuit of a multi-circuit job seeded ``base_seed``."""
    return (base_seed + index) & _SEED_MASK


def simulate(
    spec: CircuitSpec,
    *,
    backend: BackendSpec,
    noise_model: str | None,
    shots: int,
    seed: int,
    max_qubits: int,
) -> SimulationOutcome:
    """Run one circuit: exact probabilities on the ideal simulator, shots elsewhere.

    An OpenQASM 3 program with mid-circuit measurement runs exactly (qasm3.py); shots on
    a QPU or a noise model are drawn from its exact probabilities.
    """
    if spec.qubits > max_qubits:
        raise simulator.TooManyQubitsError(
            f"the emulator simulates at most {max_qubits} qubits; this circuit has {spec.qubits}"
        )
    if spec.program is not None:
        exact = spec.program.probabilities()
        if backend.is_simulator and noise_model in (None, "ideal"):
            histogram = counts_from_probabilities(exact, shots)
            return SimulationOutcome(probabilities=exact, histogram=histogram, seed=seed)
        drawn = _sample(exact, shots, seed)
        drawn = {state: drawn[state] for state in sorted(drawn)}
        return SimulationOutcome(
            probabilities={state: count / shots for state, count in drawn.items()},
            histogram=drawn,
            seed=seed,
        )
    circuit = spec.circuit
    if circuit is None:  # pragma: no cover - only runnable specs are simulated
        raise simulator.SimulationError("nothing to simulate")
    gates, gateset = circuit.gates, circuit.gateset
    model = noise_model if backend.is_simulator else simulator.noise_model_for_backend(backend.name)
    if model is None or model == "ideal":
        probabilities = simulator.ideal_probabilities(spec.qubits, gates, gateset=gateset)
        if backend.is_simulator:
            histogram = counts_from_probabilities(probabilities, shots)
            return SimulationOutcome(probabilities=probabilities, histogram=histogram, seed=seed)
        histogram = _sample(probabilities, shots, seed)
    else:
        histogram = simulator.noisy_histogram(
            spec.qubits, gates, shots, model=model, seed=seed, gateset=gateset
        )
    histogram = {state: histogram[state] for state in sorted(histogram) if histogram[state]}
    probabilities = {state: count / shots for state, count in histogram.items()}
    return SimulationOutcome(probabilities=probabilities, histogram=histogram, seed=seed)


def _sample(probabilities: Mapping[int, float], shots: int, seed: int) -> dict[int, int]:
    states = sorted(probabilities)
    drawn = random.Random(seed).choices(states, [probabilities[s] for s in states], k=shots)
    counts: dict[int, int] = {}
    for state in drawn:
        counts[state] = counts.get(state, 0) + 1
    return counts


async def wait_for(futures: Iterable[concurrent.futures.Future[SimulationOutcome]]) -> None:
    """Wait (without blocking the loop) until every one of ``futures`` is done."""
    pending = [asyncio.wrap_future(f) for f in futures if not f.done()]
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


class SimulationRunner:
    """Runs simulations in worker threads and stamps each record when its run finishes."""

    def __init__(self, *, workers: int, max_qubits: int, clock: Callable[[], float]) -> None:
        self._max_qubits = max_qubits
        self._clock = clock
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="ionq-emulator-sim"
        )

    def start(self, record: JobRecord, spec: CircuitSpec, seed: int) -> None:
        """Start simulating ``spec`` for ``record`` (nothing for dry runs and failed jobs)."""
        if record.dry_run or record.failure is not None or not spec.runnable:
            return
        future = self._executor.submit(
            simulate,
            spec,
            backend=record.backend,
            noise_model=record.noise_model,
            shots=record.shots,
            seed=seed,
            max_qubits=self._max_qubits,
        )

        def finished(_: concurrent.futures.Future[SimulationOutcome]) -> None:
            record.simulated_at = self._clock()

        record.future = future
        future.add_done_callback(finished)

    def close(self) -> None:
        """Stop the worker threads; pending simulations are dropped."""
        self._executor.shutdown(wait=False, cancel_futures=True)
