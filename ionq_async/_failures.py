"""Which failed jobs may be sent again: the API's failure codes, transient or permanent (pure).

A failed QPU job costs nothing, but a resubmitted one that fails again for the same reason
costs a queue wait, and one that then runs costs money: only a failure that says nothing
about the job itself is worth another try. The codes are the ``Failure.code`` enum of
IonQ's OpenAPI description (``reference/ionq-api-notes.md`` section 6.2). A code this
release does not know is treated as permanent: never spend a retry on a guess.
"""

from __future__ import annotations

from typing import Final

from .models import Failure, Job, JobStatus

__all__ = ["PERMANENT_FAILURE_CODES", "TRANSIENT_FAILURE_CODES", "is_transient_failure"]

TRANSIENT_FAILURE_CODES: Final = frozenset(
    {
        "InternalError",  # the service failed, not the job
        "QuantumComputerError",  # the machine faulted during the run
        "SimulationError",  # the simulator service failed
        "SystemCancel",  # canceled by the system (maintenance, calibration)
        "UnknownBillingError",  # billing could not be settled; the job itself was fine
    }
)
"""Failure codes that say nothing about the job: sending it again may succeed."""

PERMANENT_FAILURE_CODES: Final = frozenset(
    {
        "InvalidInput",
        "CompilationError",
        "ContractExpiredError",  # the account, not the moment: it fails again
        "DebiasingError",  # debiasing refused this circuit and these shots
        "NotEnoughQubits",
        "OptimizationError",
        "PreflightError",
        "QuantumCircuitComplexityError",
        "QuotaExhaustedError",  # another try spends from a quota that is gone
        "SimulationTimeout",  # the same circuit takes as long again
        "TooLongPredictedExecutionTime",
        "TooManyControls",
        "TooManyGates",
        "TooManyShots",
        "UnsupportedGate",
    }
)
"""Failure codes about the job itself: the same job fails the same way again."""


def is_transient_failure(job: Job | Failure | str | None) -> bool:
    """Whether a failed job may succeed if sent again (a new job, with a new token).

    Takes the failed :class:`~ionq_async.models.Job` (False unless its status is
    ``failed``), its :class:`~ionq_async.models.Failure`, or the failure code. Unknown
    codes, a missing code and the permanent codes (``NotEnoughQubits``, ``TooManyShots``,
    ...) are False.
    """
    if isinstance(job, Job):
        if job.status is not JobStatus.FAILED:
            return False
        failure = job.failure
        code = failure.code if failure is not None else None
    elif isinstance(job, Failure):
        code = job.code
    else:
        code = job
    return code in TRANSIENT_FAILURE_CODES
