"""The batch engine's public values, kept importable from their first home.

The engine lives in :mod:`ionq_async._batch` (one concern per module) and flow control in
:mod:`ionq_async._flow`; the client's ``wait``, ``run``, ``run_many``, ``as_completed``
and ``gather`` use them. This module only re-exports the public names: patch a name in
the module that defines it, never here.
"""

from __future__ import annotations

from ._batch.handle import BatchRun
from ._batch.values import (
    TOKEN_METADATA_KEY,
    BatchProgress,
    Outcome,
    PackLimits,
    PollSchedule,
    plan_packs,
)
from ._flow import AdaptiveLimiter, RatePacer

__all__ = [
    "TOKEN_METADATA_KEY",
    "AdaptiveLimiter",
    "BatchProgress",
    "BatchRun",
    "Outcome",
    "PackLimits",
    "PollSchedule",
    "RatePacer",
    "plan_packs",
]
