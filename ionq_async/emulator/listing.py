"""Listing jobs: the filters of ``GET /jobs``, its pages and cursors, and its last page.

A cursor is the id of the first job of the next page; pages run newest first by the
job's sequence number, which the store keeps even after a job is deleted, so a cursor
stays valid when its job is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final, Literal

from attrs import frozen

from .records import JobRecord

__all__ = ["JOB_STATUSES", "JobFilter", "omit_null_next", "page_of_jobs"]

JOB_STATUSES: Final = frozenset(
    {"submitted", "ready", "started", "completed", "failed", "canceled"}
)
"""The statuses ``GET /jobs?status=`` accepts."""


@frozen(kw_only=True)
class JobFilter:
    """Which jobs a listing shows; None (or empty ``targets``) means no condition."""

    status: str | None = None
    targets: frozenset[str] | None = None
    session_id: str | None = None
    parent_job_id: str | None = None
    submitter_id: str | None = None

    def matches(self, record: JobRecord, status_of: Callable[[JobRecord], str]) -> bool:
        """True if ``record`` passes every condition (its status is asked for last)."""
        if self.targets is not None and record.backend.name not in self.targets:
            return False
        if self.session_id is not None and record.session_id != self.session_id:
            return False
        if self.parent_job_id is not None and record.parent_id != self.parent_job_id:
            return False
        if self.submitter_id is not None and record.submitter_id != self.submitter_id:
            return False
        return self.status is None or status_of(record) == self.status


def page_of_jobs(
    newest_first: Iterable[JobRecord],
    wanted: JobFilter,
    *,
    status_of: Callable[[JobRecord], str],
    limit: int,
    below_seq: int | None,
) -> tuple[list[JobRecord], str | None]:
    """Up to ``limit`` matching jobs at or below ``below_seq``, and the next page's cursor."""
    page: list[JobRecord] = []
    for record in newest_first:
        if below_seq is not None and record.seq > below_seq:
            continue
        if not wanted.matches(record, status_of):
            continue
        if len(page) == limit:
            return page, record.id
        page.append(record)
    return page, None


def omit_null_next(mode: Literal["null", "omit", "omit-for-cirq"], user_agent: str) -> bool:
    """True if the last page leaves out ``next`` (per ``EmulatorConfig.null_next``)."""
    if mode == "omit":
        return True
    if mode == "omit-for-cirq":
        return user_agent.startswith("cirq/")
    return False
