"""The emulator's configuration: job durations, limits and the API choices the docs leave open."""

from __future__ import annotations

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
    job_failure_transient: float = field(default=0.0, validator=_probability)
    """The share of jobs (seeded by ``seed`` and the job's order) that fail with a transient
    code (``QuantumComputerError``): worth sending again."""
    job_failure_permanent: float = field(default=0.0, validator=_probability)
    """The share of jobs that fail with a permanent code (``TooManyGates``): never worth
    sending again."""

    def __attrs_post_init__(self) -> None:
        if self.job_failure_transient + self.job_failure_permanent > 1.0:
            raise ValueError("job_failure_transient + job_failure_permanent must be at most 1")

    def scaled(self, seconds: float) -> float:
        """A duration after ``time_scale``."""
        return seconds * self.time_scale
