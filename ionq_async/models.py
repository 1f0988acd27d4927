"""Typed values for everything the IonQ API v0.4 returns.

These are plain attrs value classes: they hold no wire rules. Field renames (``1q`` ->
``one_qubit``), timestamps, enums, omitted ``None`` values and unknown keys from newer
servers are handled by the one converter in ``ionq_async._converter``. Every class that
the API may extend has an ``extra`` mapping holding the keys this version does not know.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from attrs import field, frozen

from ._limits import MULTI_CIRCUIT_TYPE

__all__ = [
    "Artifact",
    "ArtifactDescriptor",
    "Backend",
    "BulkJobsAnswer",
    "Characterization",
    "CharacterizationPage",
    "Cost",
    "Estimate",
    "EstimateContext",
    "Failure",
    "GateCounts",
    "Job",
    "JobAnswer",
    "JobCreated",
    "JobPage",
    "JobResults",
    "JobStats",
    "JobStatus",
    "Money",
    "Noise",
    "Session",
    "SessionList",
    "SessionSettings",
    "WhoAmI",
]


def _empty_extra() -> dict[str, Any]:
    return {}


class JobStatus(enum.StrEnum):
    """The lifecycle of a job: submitted -> ready -> started -> completed | failed | canceled."""

    SUBMITTED = "submitted"
    READY = "ready"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        """True for completed, failed and canceled: the job will not change again."""
        return self in _TERMINAL

    @classmethod
    def _missing_(cls, value: object) -> JobStatus | None:
        # API v0.3 said "running" where v0.4 says "started"; accept it from older servers.
        if value == "running":
            return cls.STARTED
        return None


_TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})


@frozen(kw_only=True)
class Money:
    """An amount of money or credit, e.g. ``Money(value=24.83, unit="usd")``."""

    value: float
    unit: str


@frozen(kw_only=True)
class Noise:
    """A simulator noise model (``ideal``, ``aria-1``, ``forte-1``, ...) and optional seed."""

    model: str = "ideal"
    seed: int | None = None


@frozen(kw_only=True)
class Failure:
    """Why a job failed: a code such as ``TooManyShots`` and a human-readable message.

    The API has sent the text as ``message`` (v0.4 spec) and as ``error`` (v0.3 and live
    answers); both are kept, and :attr:`text` gives whichever is present.
    """

    code: str | None = None
    message: str | None = None
    error: str | None = None
    extra: Mapping[str, Any] = field(factory=_empty_extra)

    @property
    def text(self) -> str:
        """The failure's message, from ``message`` or ``error``."""
        return self.message or self.error or ""


@frozen(kw_only=True)
class GateCounts:
    """Numbers of one-qubit and two-qubit gates (``1q`` and ``2q`` on the wire)."""

    one_qubit: int | None = None
    two_qubit: int | None = None


@frozen(kw_only=True)
class JobStats:
    """What the server counted in a job: qubits, circuits and gates."""

    qubits: int | None = None
    circuits: int | None = None
    gate_counts: GateCounts | None = None
    kwh: float | None = None
    predicted_quantum_compute_time_us: float | None = None
    billed_quantum_compute_time_us: float | None = None
    extra: Mapping[str, Any] = field(factory=_empty_extra)


@frozen(kw_only=True)
class ArtifactDescriptor:
    """A downloadable result artifact: ``GET /jobs/{id}/artifacts/{id}``."""

    id: str
    format: str | None = None
    media_type: str | None = None


@frozen(kw_only=True)
class Artifact:
    """A downloaded artifact, decoded by its content type: JSON as Python values, text as
    ``str``, anything else as ``bytes``."""

    id: str
    job_id: str
    media_type: str | None
    data: Any


@frozen(kw_only=True)
class JobResults:
    """Where a completed job's results are.

    The API sends two generations side by side: legacy ``{"probabilities": {"url": ...}}``
    entries (kept in :attr:`urls`, by result kind) and format-keyed artifact descriptors
    (kept in :attr:`artifacts`, by format identifier).
    """

    urls: Mapping[str, str] = field(factory=dict)
    artifacts: Mapping[str, ArtifactDescriptor] = field(factory=dict)

    @property
    def probabilities_url(self) -> str | None:
        """The root-relative URL of the probabilities, such as ``/v0.4/jobs/ID/results/...``."""
        return self.urls.get("probabilities")


@frozen(kw_only=True)
class Job:
    """A job as ``GET /jobs/{id}`` returns it (list items lack ``child_job_ids``)."""

    id: str
    status: JobStatus
    type: str | None = None
    backend: str | None = None
    name: str | None = None
    dry_run: bool | None = None
    submitter_id: str | None = None
    project_id: str | None = None
    parent_job_id: str | None = None
    child_job_ids: tuple[str, ...] | None = None
    session_id: str | None = None
    metadata: Mapping[str, str] | None = None
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    predicted_wait_time_ms: float | None = None
    predicted_execution_duration_ms: float | None = None
    execution_duration_ms: float | None = None
    shots: int | None = None
    noise: Noise | None = None
    failure: Failure | None = None
    cost_model: str | None = None
    settings: Mapping[str, Any] | None = None
    stats: JobStats | None = None
    output: Mapping[str, Any] | None = None
    results: JobResults | None = None
    warning: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(factory=_empty_extra)

    @property
    def is_terminal(self) -> bool:
        """True once the job is completed, failed or canceled."""
        return self.status.is_terminal

    @property
    def is_parent(self) -> bool:
        """True for a multi-circuit job that has child jobs."""
        return bool(self.child_job_ids) or self.type == MULTI_CIRCUIT_TYPE


@frozen(kw_only=True)
class JobCreated:
    """The answer to ``POST /jobs``: the new job's id and first status."""

    id: str
    status: JobStatus = JobStatus.SUBMITTED
    session_id: str | None = None
    extra: Mapping[str, Any] = field(factory=_empty_extra)


@frozen(kw_only=True)
class JobPage:
    """One page of ``GET /jobs``; ``next`` is the cursor of the following page or None."""

    jobs: tuple[Job, ...]
    next: str | None = None


@frozen(kw_only=True)
class JobAnswer:
    """The answer to cancelling or deleting one job: ``{id, status}``."""

    id: str
    status: str


@frozen(kw_only=True)
class BulkJobsAnswer:
    """The answer to a bulk cancel or delete: ``{ids, status}``."""

    ids: tuple[str, ...]
    status: str


@frozen(kw_only=True)
class Backend:
    """A backend from ``GET /backends``: a QPU or the simulator."""

    backend: str
    status: str | None = None
    qubits: int | None = None
    average_queue_time: float | None = None
    last_updated: datetime | None = None
    degraded: bool | None = None
    characterization_id: str | None = None
    kw: float | None = None
    location: str | None = None
    supported_gates: tuple[str, ...] | None = None
    supported_native_gates: tuple[str, ...] | None = None
    supported_error_mitigations: tuple[str, ...] | None = None
    noise_models: tuple[str, ...] | None = None
    extra: Mapping[str, Any] = field(factory=_empty_extra)


@frozen(kw_only=True)
class WhoAmI:
    """The API key in use: its id, name and project."""

    key_id: str | None = None
    key_name: str | None = None
    project_id: str | None = None
    extra: Mapping[str, Any] = field(factory=_empty_extra)


@frozen(kw_only=True)
class Characterization:
    """A backend's measured qubit properties at one date."""

    id: str
    backend: str | None = None
    date: datetime | None = None
    qubits: int | None = None
    connectivity: tuple[tuple[int, ...], ...] | None = None
    fidelity: Mapping[str, Any] | None = None
    timing: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(factory=_empty_extra)


@frozen(kw_only=True)
class CharacterizationPage:
    """One page of a backend's characterizations and the number of pages."""

    characterizations: tuple[Characterization, ...]
    pages: int | None = None


@frozen(kw_only=True)
class Cost:
    """A job's estimated cost and, once billed, its actual cost."""

    dry_run: bool
    estimated_cost: Money
    cost: Money | None = None
    extra: Mapping[str, Any] = field(factory=_empty_extra)


@frozen(kw_only=True)
class EstimateContext:
    """The inputs an estimate was computed for (``input_values`` or ``estimate_context``)."""

    backend: str | None = None
    type: str | None = None
    qubits: int | None = None
    shots: int | None = None
    one_qubit_gates: int | None = None
    two_qubit_gates: int | None = None
    error_mitigation: bool | None = None
    organization: str | None = None
    project: str | None = None


@frozen(kw_only=True)
class Estimate:
    """A cost estimate from ``GET /jobs/estimate``, in either of the API's two shapes.

    The legacy shape has ``input_values``, ``estimated_cost`` and ``cost_unit`` (times in
    seconds); the newer one has ``estimate_context``, ``estimated_total_cost`` and
    ``estimated_unit`` (times in milliseconds). Both are kept as sent; :attr:`total_cost`,
    :attr:`unit` and :attr:`context` read whichever is present.
    """

    estimated_at: datetime | None = None
    input_values: EstimateContext | None = None
    estimate_context: EstimateContext | None = None
    estimated_cost: float | None = None
    estimated_total_cost: float | None = None
    cost_unit: str | None = None
    estimated_unit: str | None = None
    estimated_execution_time: float | None = None
    current_predicted_queue_time: float | None = None
    estimated_quantum_compute_time_us: float | None = None
    rate_information: Mapping[str, Any] | None = None
    rate_card: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(factory=_empty_extra)

    @property
    def total_cost(self) -> float | None:
        """The estimated cost, from the newer field if present, else the legacy one."""
        if self.estimated_total_cost is not None:
            return self.estimated_total_cost
        return self.estimated_cost

    @property
    def unit(self) -> str | None:
        """The currency or credit unit of :attr:`total_cost`."""
        return self.estimated_unit or self.cost_unit

    @property
    def context(self) -> EstimateContext | None:
        """The inputs the estimate was computed for."""
        return self.estimate_context or self.input_values


@frozen(kw_only=True)
class SessionSettings:
    """Limits of a session: job count, duration, cost and expiry."""

    job_count_limit: int | None = None
    duration_limit_min: float | None = None
    cost_limit: Money | None = None
    expires_at: datetime | None = None


@frozen(kw_only=True)
class Session:
    """A reserved session on a backend that jobs may be submitted into."""

    id: str
    created_at: datetime | None = None
    organization_id: str | None = None
    backend: str | None = None
    project_id: str | None = None
    creator_id: str | None = None
    ended_at: datetime | None = None
    ender_id: str | None = None
    settings: SessionSettings | None = None
    active: bool | None = None
    status: str | None = None
    started_at: datetime | None = None
    extra: Mapping[str, Any] = field(factory=_empty_extra)


@frozen(kw_only=True)
class SessionList:
    """The answer to ``GET /sessions``."""

    sessions: tuple[Session, ...]
    organization_id: str | None = None
