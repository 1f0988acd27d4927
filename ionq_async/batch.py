"""The batch engine (placeholder until the batch-engine work lands)."""

from __future__ import annotations


class BatchMethods:
    """Batch methods mixed into Client: wait, run, run_many, as_completed, gather."""
