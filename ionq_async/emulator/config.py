"""The emulator's configuration: job durations, limits and the API choices the docs leave open."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from typing import Any, Final, Literal

from attrs import field, frozen, validators

__all__ = ["EmulatorConfig"]

_MIB: Final = 1024 * 1024


def _probability(_instance: object, attribute: Any, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be a probability in [0, 1], got {value!r}")


def _non_negative(_instance: object, attribute: Any, value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative, got {value!r}")


def _fraction(_instance: object, attribute: Any, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{attribute.name} must be in [0, 1), got {value!r}")


def _durations(value: Iterable[float] | None) -> tuple[float, ...] | None:
    if value is None:
        return None
    out = tuple(float(v) for v in value)
    if not out:
        raise ValueError("durations_s must name at least one duration (or be None)")
    bad = [v for v in out if not (math.isfinite(v) and v >= 0)]
    if bad:
        raise ValueError(f"durations_s must be non-negative seconds, got {bad[0]!r}")
    return out


@frozen(kw_only=True)
class EmulatorConfig:
    """How the emulator behaves: job durations, limits and API choices the docs leave open.

    Every duration is multiplied by ``time_scale`` (0 makes every job instant). The
    defaults finish ideal-simulator jobs within tens of milliseconds and give QPU jobs a
    few seconds of queue and run time.
    """

    time_scale: float = field(default=1.0, validator=_non_negative)
    submit_s: float = field(default=0.0, validator=_non_negative)
    simulator_queue_s: float = field(default=0.01, validator=_non_negative)
    simulator_run_s: float = field(default=0.02, validator=_non_negative)
    qpu_queue_s: float = field(default=2.0, validator=_non_negative)
    qpu_run_s: float = field(default=3.0, validator=_non_negative)
    dry_run_s: float = field(default=0.01, validator=_non_negative)
    seed: int = 0
    simulation_workers: int = field(default=2, validator=validators.ge(1))
    max_simulated_qubits: int = field(default=24, validator=validators.ge(1))
    qpu_max_shots: int = field(default=10_000, validator=validators.ge(1))
    cancel_completed: Literal["keep", "cancel"] = field(
        default="keep", validator=validators.in_(("keep", "cancel"))
    )
    """Cancelling a completed job: ``keep`` (a no-op answering its real status, as
    qiskit-ionq expects) or ``cancel`` (it becomes canceled, as cirq-ionq describes)."""
    null_next: Literal["null", "omit", "omit-for-cirq"] = field(
        default="omit-for-cirq", validator=validators.in_(("null", "omit", "omit-for-cirq"))
    )
    """The last page of ``GET /jobs``: send ``"next": null`` as the spec says, leave the key
    out, or leave it out only for cirq (whose ``list_jobs`` stops only on a missing key)."""
    default_page_size: int = field(default=25, validator=validators.ge(1))
    max_page_size: int = field(default=1000, validator=validators.ge(1))
    max_body_bytes: int = field(default=10 * _MIB, validator=validators.ge(1))
    ideal_shots: Literal["sampled", "none"] = field(
        default="sampled", validator=validators.in_(("sampled", "none"))
    )
    """Per-shot results of ideal-simulator jobs: ``sampled`` (the emulator's convenience: a
    histogram of the job's ``shots`` by largest remainder, dealt into a seeded order) or
    ``none`` (as IonQ documents: the ideal simulator gives exact probabilities only, so its
    shots and histogram, legacy and v2, are a 404 and its results list neither)."""
    job_failure_transient: float = field(default=0.0, validator=_probability)
    """The share of jobs (seeded by ``seed`` and the job's order) that fail with a transient
    code (``QuantumComputerError``): worth sending again."""
    job_failure_permanent: float = field(default=0.0, validator=_probability)
    """The share of jobs that fail with a permanent code (``TooManyGates``): never worth
    sending again."""

    duration_median_s: float | None = field(default=None)
    """Draw each job's run time from a lognormal with this median (seconds, before
    ``time_scale``) instead of ``simulator_run_s``/``qpu_run_s``; seeded by ``seed`` and
    the job's order. None (the default) keeps the fixed run times."""
    duration_sigma: float = field(default=0.0, validator=_non_negative)
    """The lognormal's spread: the standard deviation of the log of the run time (1.0
    puts 5% of jobs beyond 5x the median; 0 gives every job the median)."""
    durations_s: tuple[float, ...] | None = field(default=None, converter=_durations)
    """Explicit run times (seconds, before ``time_scale``), used in turn by job order
    (cycled); takes precedence over ``duration_median_s``."""
    queue_per_job_s: float = field(default=0.0, validator=_non_negative)
    """Queue growth: a new job waits its backend's queue time plus this many seconds per
    job already waiting on that backend (submitted, not started). 0 keeps the fixed queue."""
    prediction_error: float = field(default=0.0, validator=_fraction)
    """Relative error of the predicted wait and execution times the job answers carry:
    each prediction is the true duration times ``1 + e``, ``e`` uniform in
    ``[-prediction_error, +prediction_error]`` (seeded). 0 predicts exactly."""

    def __attrs_post_init__(self) -> None:
        if self.job_failure_transient + self.job_failure_permanent > 1.0:
            raise ValueError("job_failure_transient + job_failure_permanent must be at most 1")
        median = self.duration_median_s
        if median is not None and not (math.isfinite(median) and median > 0):
            raise ValueError(f"duration_median_s must be a positive number, got {median!r}")

    def scaled(self, seconds: float) -> float:
        """A duration after ``time_scale``."""
        return seconds * self.time_scale

    def run_s(self, seq: int, *, simulator: bool) -> float:
        """The run time (before ``time_scale``) of the job created ``seq``-th (1-based).

        ``durations_s`` in turn if given, else a seeded lognormal draw around
        ``duration_median_s``, else the backend's fixed run time.
        """
        if self.durations_s is not None:
            return self.durations_s[(seq - 1) % len(self.durations_s)]
        if self.duration_median_s is not None:
            rng = random.Random(f"{self.seed}:duration:{seq}")
            return self.duration_median_s * math.exp(self.duration_sigma * rng.gauss(0.0, 1.0))
        return self.simulator_run_s if simulator else self.qpu_run_s

    def prediction_factors(self, seq: int) -> tuple[float, float]:
        """The (wait, execution) factors of the ``seq``-th job's predictions: ``1 + e``."""
        if not self.prediction_error:
            return 1.0, 1.0
        rng = random.Random(f"{self.seed}:prediction:{seq}")
        err = self.prediction_error
        return 1.0 + rng.uniform(-err, err), 1.0 + rng.uniform(-err, err)
