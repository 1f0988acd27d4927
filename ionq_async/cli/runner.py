"""The batch runner: ``run_many`` behind a live progress bar, and what the batch produced.

Shared by ``run`` (:mod:`.run`) and ``demo`` (:mod:`.demo`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio
from attrs import field, frozen
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from ..batch import BatchProgress, BatchRun, Outcome
from ..circuits import Circuit
from ..client import Client
from ..exceptions import JobFailed
from .exit_codes import ExitCode, exit_code_for
from .parser import PROG
from .render import Output

__all__ = [
    "BatchDisplay",
    "BatchReport",
    "failure_json",
    "left_running_note",
    "run_batch",
    "time_limit",
    "unfinished_job_ids",
]


class BatchDisplay:
    """A live progress bar of a batch on stderr: submitted, running, done, failed, rate."""

    def __init__(
        self,
        out: Output,
        total: int,
        title: str,
        *,
        enabled: bool,
        on_all_submitted: Callable[[BatchProgress], None] | None = None,
    ) -> None:
        self.enabled = enabled and out.interactive
        self._total = total
        self._on_all_submitted = on_all_submitted
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=out.err,
            disable=not self.enabled,
        )
        self._task = self._progress.add_task(title, total=total, counts="starting")

    def __enter__(self) -> BatchDisplay:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def update(self, progress: BatchProgress) -> None:
        """Show new counts (called by the batch engine whenever one changes)."""
        counts = (
            f"submitted {progress.submitted} · running {progress.waiting} · "
            f"done {progress.completed} · failed {progress.failed} · "
            f"{progress.rate_per_s:.1f} jobs/s"
        )
        self._progress.update(self._task, completed=progress.done, counts=counts)
        # Every circuit has a job or an outcome: from now on the batch only waits.
        if (
            self._on_all_submitted is not None
            and progress.waiting > 0
            and progress.waiting + progress.done >= self._total
        ):
            announce, self._on_all_submitted = self._on_all_submitted, None
            announce(progress)


@frozen(kw_only=True)
class BatchReport:
    """What a batch produced: outcomes by circuit index, the final counts, the time taken."""

    total: int
    outcomes: Mapping[int, Outcome]
    elapsed_s: float
    timed_out: bool
    job_ids: Mapping[int, str] = field(factory=dict)
    """The job of every circuit without an outcome that got one, by circuit index."""
    interrupted: BaseException | None = None
    """The cancellation that stopped the batch (Ctrl-C), to raise again once reported."""

    @property
    def completed(self) -> int:
        """Circuits with a result."""
        return sum(1 for o in self.outcomes.values() if o.ok)

    @property
    def failed(self) -> list[Outcome]:
        """Outcomes without a result, in circuit order."""
        return [self.outcomes[i] for i in sorted(self.outcomes) if not self.outcomes[i].ok]

    @property
    def unfinished(self) -> int:
        """Circuits without an outcome (only after a timeout)."""
        return self.total - len(self.outcomes)

    @property
    def unfinished_job_ids(self) -> list[str]:
        """Jobs created for circuits without an outcome: still on the server, maybe running."""
        return unfinished_job_ids(self.total, self.outcomes, self.job_ids)

    @property
    def jobs_per_s(self) -> float:
        """Outcomes per second of wall time."""
        return len(self.outcomes) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """The counts as JSON-ready data."""
        return {
            "total": self.total,
            "completed": self.completed,
            "failed": len(self.failed),
            "unfinished": self.unfinished,
            "failures": [failure_json(o.error) for o in self.failed],
            "elapsed_s": round(self.elapsed_s, 3),
            "jobs_per_s": round(self.jobs_per_s, 2),
        }

    def summary_line(self) -> str:
        """The counts in one sentence."""
        parts = [f"completed: {self.completed}/{self.total}", f"failed: {len(self.failed)}"]
        if self.unfinished:
            parts.append(f"unfinished: {self.unfinished}")
        parts.append(f"{self.elapsed_s:.2f} s, {self.jobs_per_s:.1f} jobs/s")
        return ", ".join(parts)

    def exit_code(self) -> ExitCode:
        """0 if every circuit has a result; else the code of the first failed circuit's error."""
        for outcome in self.failed:
            if outcome.error is not None:
                return exit_code_for(outcome.error)
        if self.unfinished:
            return ExitCode.JOB_FAILED
        return ExitCode.OK


async def run_batch(
    client: Client,
    circuits: Sequence[Circuit],
    out: Output,
    *,
    options: Mapping[str, Any],
    timeout_s: float | None,
    title: str,
    show_progress: bool,
    name_left_running: bool = False,
    keep_interrupt: bool = False,
    on_all_submitted: Callable[[BatchProgress], None] | None = None,
) -> BatchReport:
    """Run circuits through ``client.run_many`` with a live progress bar; collect outcomes.

    With ``keep_interrupt``, an interruption (Ctrl-C cancels the command's task) ends the
    batch with a report of the outcomes so far, whose ``interrupted`` the caller raises
    again once it has said what it has. With ``name_left_running``, an error that stops
    the batch first says on stderr which jobs were created and are still on the server.
    ``on_all_submitted`` is called once, when every circuit has a job or an outcome.
    """
    outcomes: dict[int, Outcome] = {}
    started = time.monotonic()
    batch: BatchRun | None = None
    interrupted: BaseException | None = None
    timed_out = False
    try:
        with (
            BatchDisplay(
                out,
                len(circuits),
                title,
                enabled=show_progress,
                on_all_submitted=on_all_submitted,
            ) as display,
            time_limit(timeout_s) as scope,
        ):
            batch = client.run_many(circuits, progress=display.update, **options)
            async with batch:
                async for outcome in batch:
                    outcomes[outcome.index] = outcome
        timed_out = scope.cancelled_caught
    except (anyio.get_cancelled_exc_class(), KeyboardInterrupt) as stop:
        # Ctrl-C: asyncio's runner cancels the command's task (a KeyboardInterrupt comes
        # from a signal handler of our own or a test).
        if not keep_interrupt:
            if batch is not None and name_left_running:
                left = unfinished_job_ids(len(circuits), outcomes, batch.job_ids)
                if left:
                    out.err.print(Text(left_running_note(left)), soft_wrap=True)
            raise
        interrupted = stop
    except BaseException:
        if batch is not None and name_left_running:
            left = unfinished_job_ids(len(circuits), outcomes, batch.job_ids)
            if left:
                # On stderr even in JSON mode: stdout gets nothing from a stopped run.
                out.err.print(Text(left_running_note(left)), soft_wrap=True)
        raise
    return BatchReport(
        total=len(circuits),
        outcomes=outcomes,
        elapsed_s=time.monotonic() - started,
        timed_out=timed_out,
        job_ids=batch.job_ids if batch is not None else {},
        interrupted=interrupted,
    )


def time_limit(timeout_s: float | None) -> anyio.CancelScope:
    """The scope that stops a batch after ``timeout_s`` seconds (None: no limit)."""
    return anyio.move_on_after(timeout_s)


def unfinished_job_ids(
    total: int, outcomes: Mapping[int, Outcome], job_ids: Mapping[int, str]
) -> list[str]:
    """Ids of jobs created for circuits without an outcome, once each, in circuit order."""
    ids = (job_ids.get(i) for i in range(total) if i not in outcomes)
    return list(dict.fromkeys(job_id for job_id in ids if job_id is not None))


def failure_json(error: BaseException | None) -> dict[str, Any] | None:
    """An error as JSON: its type, message and (for failed jobs) the API's failure code."""
    if error is None:
        return None
    data: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
    if isinstance(error, JobFailed):
        if error.code is not None:
            data["code"] = error.code
        if error.job.failure is not None and error.job.failure.text:
            data["reason"] = error.job.failure.text
    return data


def left_running_note(left: Sequence[str]) -> str:
    """The line that names jobs left on the server and the command that cancels them."""
    jobs, them = ("1 job was", "it") if len(left) == 1 else (f"{len(left)} jobs were", "them")
    return (
        f"{jobs} left running on the server: {' '.join(left)}; "
        f"`{PROG} cancel {' '.join(left)}` cancels {them}"
    )
