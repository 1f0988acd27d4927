"""``resume [JOURNAL]``: wait for an interrupted run's jobs and print its results.

Nothing is submitted: the jobs the journal names are waited for with
``Client.as_completed``; a creation that was under way at the interruption (a token
without a job id) is looked up on the server by its token. A circuit whose job was never
made is reported ``not submitted`` (running the same ``run`` command again sends only
those). The rows and the JSON are ``run``'s; the circuits are named by the manifest
``run`` wrote next to the journal (``circuit N`` without one).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio

from ..batch import BatchRun, Outcome
from ..client import Client
from .exit_codes import ExitCode, exit_code_for
from .journals import (
    JournalJobs,
    display_path,
    find_journal_jobs,
    newest_journal,
    read_manifest,
    remove_journal,
    state_directory,
)
from .parser import PROG
from .render import Output
from .run import outcome_json, print_outcomes, write_results
from .runner import BatchDisplay, time_limit

__all__ = ["cmd_resume"]

NOT_SUBMITTED = "not submitted"


def _status(message: str) -> None:
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.stderr.flush()


async def _wait(
    client: Client, ids: list[str], out: Output, timeout_s: float | None
) -> tuple[dict[int, Outcome], BaseException | None]:
    """Outcomes of ``ids`` by position, and the Ctrl-C that stopped the wait (if any)."""
    outcomes: dict[int, Outcome] = {}
    if not ids:
        return outcomes, None
    batch: BatchRun | None = None
    try:
        with (
            BatchDisplay(out, len(ids), "resume", enabled=len(ids) > 1) as display,
            time_limit(timeout_s),
        ):
            batch = client.as_completed(ids, progress=display.update)
            async with batch:
                async for outcome in batch:
                    outcomes[outcome.index] = outcome
    except anyio.get_cancelled_exc_class() as stop:
        return outcomes, stop
    return outcomes, None


def _circuit_count(jobs: JournalJobs, labels: tuple[str, ...]) -> int:
    highest = max((i for indices in jobs.units.values() for i in indices), default=-1)
    return max(len(labels), highest + 1)


async def cmd_resume(client: Client, ns: argparse.Namespace, out: Output) -> int:
    """``resume [JOURNAL]``: the results of an interrupted run, without resubmitting."""
    path = Path(ns.journal) if ns.journal is not None else newest_journal()
    manifest = read_manifest(path)
    jobs = await find_journal_jobs(client, path, backend=manifest.backend if manifest else None)
    ids = jobs.ids
    looked_up = f" ({jobs.looked_up} looked up by token)" if jobs.looked_up else ""
    _status(f"journal {display_path(path)}: waiting for {len(ids)} job(s){looked_up}")
    started = time.monotonic()
    by_position, interrupted = await _wait(client, ids, out, ns.timeout)
    elapsed_s = time.monotonic() - started
    by_job = {ids[position]: outcome for position, outcome in by_position.items()}
    labels = manifest.labels if manifest is not None else ()
    total = _circuit_count(jobs, labels)
    job_of: dict[int, str | None] = {}
    for unit, indices in jobs.units.items():
        for index in indices:
            job_of[index] = jobs.job_ids.get(unit)
    shots = manifest.shots if manifest is not None else None
    entries = []
    for index in range(total):
        label = labels[index] if index < len(labels) else f"circuit {index}"
        job_id = job_of.get(index)
        if job_id is None:
            entries.append(
                {
                    "index": index,
                    "source": label,
                    "status": NOT_SUBMITTED,
                    "job_id": None,
                    "error": {
                        "type": "NotSubmitted",
                        "message": f"circuit {index} has no job: it never reached the server "
                        f"(the same `{PROG} run` command sends only such circuits)",
                    },
                }
            )
            continue
        entries.append(outcome_json(label, by_job.get(job_id), shots, index, job_id=job_id))
    summary = _summary(entries, elapsed_s)
    data: dict[str, Any] = {"results": entries, "summary": summary, "journal": str(path)}
    if interrupted is not None:
        data["interrupted"] = True
        data["resume"] = f"{PROG} resume {display_path(path)}"
        data["cancel"] = f"{PROG} cancel --journal {display_path(path)}"
    if out.json_mode:
        out.json(data)
    else:
        full = None
        if len(entries) > ns.rows:
            full = write_results(path.with_name(path.stem + ".results.json"), data, out)
        print_outcomes(
            out,
            entries,
            rows=ns.rows,
            top=ns.top,
            full_results=full,
            summary_line=_summary_line(summary),
        )
    if interrupted is not None:
        _status(f"interrupted: `{data['resume']}` waits again; `{data['cancel']}` cancels")
        raise interrupted
    unfinished = summary["unfinished"]
    if not unfinished and _in_state_directory(path):
        remove_journal(path)  # every circuit has its outcome: nothing left to resume
    return _exit_code(entries, by_job)


def _summary(entries: list[dict[str, Any]], elapsed_s: float) -> dict[str, Any]:
    failed = [e for e in entries if e["status"] not in ("completed", "unfinished")]
    return {
        "total": len(entries),
        "completed": sum(1 for e in entries if e["status"] == "completed"),
        "failed": len(failed),
        "unfinished": sum(1 for e in entries if e["status"] == "unfinished"),
        "failures": [e.get("error") for e in failed],
        "elapsed_s": round(elapsed_s, 3),
    }


def _summary_line(summary: Mapping[str, Any]) -> str:
    parts = [
        f"completed: {summary['completed']}/{summary['total']}",
        f"failed: {summary['failed']}",
    ]
    if summary["unfinished"]:
        parts.append(f"unfinished: {summary['unfinished']}")
    return ", ".join(parts)


def _in_state_directory(path: Path) -> bool:
    try:
        path.resolve().relative_to(state_directory().resolve())
    except (ValueError, OSError):
        return False
    return True


def _exit_code(entries: list[dict[str, Any]], by_job: Mapping[str, Outcome]) -> int:
    for outcome in by_job.values():
        if outcome.error is not None:
            return exit_code_for(outcome.error)
    if any(e["status"] != "completed" for e in entries):
        return ExitCode.JOB_FAILED
    return ExitCode.OK
