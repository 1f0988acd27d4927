"""``run FILE...``: every circuit of the files as one journaled batch, and what it printed.

A bad file is one row (``invalid``, with its problem) and the others run (exit 1 at the
end); ``--strict`` refuses the whole run up front instead. The batch keeps a journal
(:mod:`.journals`); the first Ctrl-C prints the outcomes so far (valid JSON with
``--json``) and the commands that resume or cancel the rest (``--cancel-on-interrupt``
cancels them at once). Up to ``--rows`` circuits are listed one per row (``--top``
outcomes each); a bigger batch prints a summary (counts by status, the failures, and the
file holding every result). Rows are plain lines, never wrapped into columns, unless
stdout is a terminal wide enough for a table.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
from rich.table import Table
from yarl import URL

from .._batch.pricing import is_free_backend
from .._journal import read_journal
from ..batch import BatchProgress, Outcome
from ..client import Client
from ..exceptions import JournalError
from ..tables import to_rows
from .exit_codes import ExitCode, exit_code_for, fail
from .inputs import BadFile, RunItem, load_run_inputs, run_items
from .journals import (
    Manifest,
    batch_key,
    default_journal_path,
    display_path,
    remove_journal,
    state_directory,
    write_manifest,
)
from .options import run_options
from .parser import DEFAULT_TOP, PROG
from .render import Output, distribution_json, make_table, result_table
from .runner import BatchReport, failure_json, left_running_note, run_batch
from .spending import authorize, price_items, print_estimate

__all__ = [
    "BadFile",
    "RunItem",
    "bad_file_json",
    "cmd_run",
    "count_statuses",
    "interrupt_lines",
    "load_run_inputs",
    "outcome_json",
    "outcomes_table",
    "print_outcomes",
    "run_items",
    "write_results",
]

ROW_TOP = 3
"""Outcomes shown per circuit in a row (``--top`` changes it)."""
DEFAULT_API_URL = "https://api.ionq.co/v0.4"
MAX_IDS_SHOWN = 10
"""More jobs left running than this are written to a file for ``cancel --from-file``."""


def outcome_json(
    label: str,
    outcome: Outcome | None,
    shots: int | None,
    index: int,
    *,
    job_id: str | None = None,
) -> dict[str, Any]:
    """One circuit's outcome as JSON: counts (or probabilities without shots), or the error.

    ``job_id`` names the job of a circuit without an outcome, if it has one.
    """
    entry: dict[str, Any] = {"index": index, "source": label}
    if outcome is None:
        entry["status"] = "unfinished"
        entry["job_id"] = job_id
        return entry
    entry["name"] = outcome.name
    entry["job_id"] = outcome.job.id if outcome.job is not None else None
    if outcome.result is not None:
        entry["status"] = "completed"
        entry.update(distribution_json(outcome.result, shots or outcome.result.shots))
        entry.pop("job_id", None)
        entry["job_id"] = outcome.result.job.id if outcome.job is None else outcome.job.id
    else:
        status = outcome.job.status.value if outcome.job is not None else "not submitted"
        entry["status"] = status if status in ("failed", "canceled") else "failed"
        entry["error"] = failure_json(outcome.error)
    return entry


def _write_csv(path: str, items: Sequence[Any], report: Any, bad: Sequence[BadFile]) -> None:
    """Every circuit's outcome as the long-form rows of :func:`ionq_async.to_rows` (one
    per circuit and state; a failed circuit one row with its error), plus a row for each
    circuit without an outcome and each bad file; ``source`` names the file."""
    outcomes = report.outcomes if report is not None else {}
    rows: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        outcome = outcomes.get(index)
        if outcome is None:
            job_id = report.job_ids.get(index) if report is not None else None
            rows.append({"index": index, "source": item.label, "status": "unfinished",
                         "job_id": job_id})  # fmt: skip
            continue
        for row in to_rows([outcome]):
            rows.append({"source": item.label, **row})
    for refused in bad:
        error = failure_json(refused.error) or {}
        rows.append({"source": refused.source, "status": "invalid",
                     "error_type": error.get("type"), "error": error.get("message")})  # fmt: skip
    fields: dict[str, None] = {}
    for row in rows:
        fields.update(dict.fromkeys(row))
    try:
        with open(path, "w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=list(fields))
            writer.writeheader()
            writer.writerows(rows)
    except OSError as error:
        fail(f"cannot write {path}: {error.strerror or error}")


def bad_file_json(bad: BadFile) -> dict[str, Any]:
    """A file that could not run, as a row of the results."""
    return {
        "index": None,
        "source": bad.source,
        "status": "invalid",
        "job_id": None,
        "error": failure_json(bad.error),
    }


def _top(entry: Mapping[str, Any], count: int) -> str | None:
    values = entry.get("bitstring_counts") or entry.get("bitstrings")
    if not values:
        return None
    best = sorted(values.items(), key=lambda item: (-item[1], item[0]))[:count]
    shown = "  ".join(
        f"{bits}: {value}" if isinstance(value, int) else f"{bits}: {value:.3f}"
        for bits, value in best
    )
    return shown + ("  …" if len(values) > count else "")


def _detail(entry: Mapping[str, Any], top: int) -> str | None:
    error = entry.get("error")
    if error:
        return f"{error['type']}: {error['message']}"
    return _top(entry, top)


def outcomes_table(entries: Sequence[Mapping[str, Any]], top: int = ROW_TOP) -> Table:
    """One row per circuit: source, status, the most frequent outcomes or the error."""
    rows = [
        (entry["source"], entry["status"], _detail(entry, top), entry.get("job_id"))
        for entry in entries
    ]
    return make_table(None, ["circuit", "status", "top outcomes / error", "job id"], rows)


def _plain_line(entry: Mapping[str, Any], top: int) -> str:
    parts = [str(entry["source"]), str(entry["status"])]
    if entry.get("job_id"):
        parts.append(f"job {entry['job_id']}")
    detail = _detail(entry, top)
    if detail:
        parts.append(detail)
    return "  ".join(parts)


def count_statuses(entries: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many circuits ended in each status, most common first."""
    return dict(Counter(str(entry["status"]) for entry in entries).most_common())


def print_outcomes(
    out: Output,
    entries: Sequence[Mapping[str, Any]],
    *,
    rows: int,
    top: int | None,
    full_results: Path | None,
    summary_line: str,
) -> None:
    """Rows (a table on a wide terminal, plain lines otherwise), or a summary when many."""
    row_top = top or ROW_TOP
    if len(entries) <= rows:
        if out.wide:
            out.table(outcomes_table(entries, row_top))
        else:
            for entry in entries:
                out.line(_plain_line(entry, row_top))
        out.line(summary_line)
        return
    counts = count_statuses(entries)
    out.line(f"{len(entries)} circuits: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    problems = [e for e in entries if e["status"] not in ("completed",)]
    for entry in problems[:rows]:
        out.line("  " + _plain_line(entry, row_top))
    if len(problems) > rows:
        out.line(f"  … and {len(problems) - rows} more not completed (--rows N shows more)")
    out.line(summary_line)
    if full_results is not None:
        out.line(f"every result: {display_path(full_results)} (the JSON of --json)")


def _api_host(ns: argparse.Namespace) -> str:
    base_url = ns.base_url or os.environ.get("IONQ_API_URL") or DEFAULT_API_URL
    try:
        return URL(base_url).host or ""
    except (TypeError, ValueError):
        return ""


def _journal_path(
    ns: argparse.Namespace, items: Sequence[RunItem], options: Mapping[str, Any]
) -> tuple[Path | None, bool, str]:
    """The journal (None: none), whether it is a default one, and the batch's key."""
    key = batch_key(
        [item.label for item in items],
        [item.circuit.to_json() for item in items],
        options,
        _api_host(ns),
    )
    if ns.emulator or ns.no_journal:
        return None, False, key  # an in-process emulator's jobs end with it
    if ns.journal is not None:
        return Path(ns.journal), False, key
    return default_journal_path(key), True, key


def _status(message: str) -> None:
    """A line on stderr in every mode (stdout stays the answer's)."""
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.stderr.flush()


def interrupt_lines(
    journal: Path | None, left: Sequence[str], *, canceled: bool, ids_file: Path | None
) -> dict[str, str]:
    """What to run next after an interruption: resume and cancel commands."""
    lines: dict[str, str] = {}
    if journal is not None:
        if not canceled:
            lines["resume"] = f"{PROG} resume {display_path(journal)}"
            lines["cancel"] = f"{PROG} cancel --journal {display_path(journal)}"
    elif left and not canceled:
        if ids_file is not None:
            lines["cancel"] = f"{PROG} cancel --from-file {display_path(ids_file)}"
        else:
            lines["cancel"] = f"{PROG} cancel {' '.join(left)}"
    return lines


def _write_ids(path: Path, ids: Sequence[str]) -> Path | None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text("".join(f"{job_id}\n" for job_id in ids), encoding="utf-8")
    except OSError as error:
        _status(f"cannot write {path}: {error.strerror or error}")
        return None
    return path


def write_results(path: Path, data: Any, out: Output) -> Path | None:
    """Write the full results JSON (as --json prints it) to ``path``; None if it fails."""
    import json

    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    except OSError as error:
        out.note(f"cannot write the results to {path}: {error.strerror or error}")
        return None
    return path


async def _cancel_left(client: Client, left: Sequence[str]) -> int:
    """Cancel the jobs left running (after Ctrl-C with --cancel-on-interrupt)."""
    with anyio.CancelScope(shield=True):
        answer = await client.cancel_many(left)
    return len(answer.ids)


async def cmd_run(client: Client, ns: argparse.Namespace, out: Output) -> int:
    """``run FILE...``: submit, wait and print counts; many circuits run as one batch."""
    inputs, bad = load_run_inputs(ns.files, strict=ns.strict)
    items = run_items(inputs)
    options = run_options(inputs, ns)
    if ns.concurrency is not None:
        options["concurrency"] = ns.concurrency
    if ns.pack:
        options["pack"] = True
    journal, default_journal, key = _journal_path(ns, items, options)
    for problem in bad:
        out.note(f"skipped: {problem.error}")
    if items and (ns.estimate_only or _may_cost(options)):
        projection = await price_items(
            client, [item.circuit for item in items], [item.label for item in items], options
        )
        if ns.estimate_only:
            print_estimate(projection, out)
            return _exit_code(None, bad)
        authorize(projection, yes=ns.yes, max_cost=ns.max_cost)
    if ns.max_cost is not None:
        # Not part of the batch's key: the same batch under another budget resumes.
        options["max_cost"] = ns.max_cost
    report: BatchReport | None = None
    if items:
        if journal is not None:
            resuming = journal.exists() and journal.stat().st_size > 0
            write_manifest(
                journal,
                Manifest(
                    labels=tuple(item.label for item in items),
                    shots=options.get("shots"),
                    backend=options.get("backend"),
                ),
            )
            options["journal"] = str(journal)
            _status(
                f"journal {display_path(journal)}"
                + (" (resuming it: jobs it names are not sent again)" if resuming else "")
            )

        def announce(progress: BatchProgress) -> None:
            # Without a progress bar, the one sign that the batch only waits now.
            if journal is not None and not out.interactive:
                _status(
                    f"submitted {progress.submitted} job(s), waiting; "
                    "Ctrl-C stops waiting (the jobs keep running, to resume)"
                )

        try:
            report = await run_batch(
                client,
                [item.circuit for item in items],
                out,
                options=options,
                timeout_s=ns.timeout,
                title="run",
                show_progress=len(items) > 1,
                name_left_running=not ns.emulator,  # an in-process emulator's jobs end with it
                keep_interrupt=True,
                on_all_submitted=announce,
            )
        except Exception:
            if journal is not None and default_journal:
                _forget_if_unused(journal)
            raise
    shots = options.get("shots")
    entries = [
        outcome_json(
            item.label,
            report.outcomes.get(index) if report else None,
            shots,
            index,
            job_id=report.job_ids.get(index) if report else None,
        )
        for index, item in enumerate(items)
    ]
    entries = _in_file_order(ns.files, items, entries, bad)
    if getattr(ns, "csv", None):
        _write_csv(ns.csv, items, report, bad)
    summary: dict[str, Any] = report.summary() if report is not None else _empty_summary()
    if bad:
        summary["invalid"] = len(bad)
        summary["invalid_files"] = [
            {"source": b.source, **(failure_json(b.error) or {})} for b in bad
        ]
    left = report.unfinished_job_ids if report is not None else []
    interrupted = report.interrupted if report is not None else None
    canceled = 0
    if interrupted is not None and ns.cancel_on_interrupt and left:
        canceled = await _cancel_left(client, left)
    extra: dict[str, Any] = {}
    if interrupted is not None:
        ids_file = None
        if journal is None and len(left) > MAX_IDS_SHOWN:
            ids_file = _write_ids(state_directory() / f"left-{key}.ids", left)
        extra = {
            "interrupted": True,
            "journal": str(journal) if journal is not None else None,
            **interrupt_lines(journal, left, canceled=canceled > 0, ids_file=ids_file),
        }
        if canceled:
            extra["canceled"] = canceled
    data = {"results": entries, "summary": summary, **extra}
    if out.json_mode:
        out.json(data)
    elif (
        len(entries) == 1
        and report is not None
        and report.outcomes.get(0) is not None
        and report.outcomes[0].ok
    ):
        outcome = report.outcomes[0]
        assert outcome.result is not None
        result_shots = shots or outcome.result.shots
        table = result_table(outcome.result, result_shots, ns.top or DEFAULT_TOP, items[0].label)
        table.caption = f"job {outcome.result.job.id}" + (
            f"; {table.caption}" if table.caption else ""
        )
        out.table(table)
    else:
        full = None
        if len(entries) > ns.rows:
            folder = journal.parent if journal is not None else state_directory()
            full = write_results(folder / f"results-{key}.json", data, out)
        line = report.summary_line() if report is not None else "nothing ran"
        if bad:
            line += f", invalid files: {len(bad)}"
        print_outcomes(out, entries, rows=ns.rows, top=ns.top, full_results=full, summary_line=line)
    if interrupted is not None:
        _report_interrupt(extra, left, canceled, journal)
        raise interrupted
    if report is not None and journal is not None and default_journal and not report.unfinished:
        remove_journal(journal)  # every circuit has its outcome: nothing left to resume
    elif report is not None and left and not ns.emulator:  # after --timeout
        if journal is not None:
            shown = display_path(journal)
            _status(
                f"{len(left)} job(s) left running on the server: `{PROG} resume {shown}` "
                f"waits for them, `{PROG} cancel --journal {shown}` cancels them"
            )
        elif len(left) > MAX_IDS_SHOWN:
            ids_file = _write_ids(state_directory() / f"left-{key}.ids", left)
            if ids_file is not None:
                _status(
                    f"{len(left)} jobs were left running on the server: "
                    f"`{PROG} cancel --from-file {display_path(ids_file)}` cancels them"
                )
        else:
            out.note(left_running_note(left))
    return _exit_code(report, bad)


def _may_cost(options: Mapping[str, Any]) -> bool:
    """Whether the batch's jobs may cost money (a QPU backend, not a dry run)."""
    backend = str(options.get("backend") or "simulator")
    return not is_free_backend(backend) and options.get("dry_run") is not True


def _report_interrupt(
    extra: Mapping[str, Any], left: Sequence[str], canceled: int, journal: Path | None
) -> None:
    if canceled:
        _status(f"interrupted: {canceled} job(s) asked to cancel")
        if journal is not None:
            _status(
                "jobs being created at the interrupt may exist too: "
                f"`{PROG} cancel --journal {display_path(journal)}` finds them"
            )
        return
    _status(f"interrupted: {len(left)} job(s) keep running on the server")
    for what in ("resume", "cancel"):
        if what in extra:
            _status(f"{what}: {extra[what]}")


def _forget_if_unused(journal: Path) -> None:
    """Remove a default journal that records no job creation (the batch failed first)."""
    try:
        if journal.exists() and not read_journal(journal).tokens:
            remove_journal(journal)
        elif not journal.exists():
            remove_journal(journal)  # its manifest
    except JournalError:
        pass  # kept: resume or cancel will say what is wrong with it


def _empty_summary() -> dict[str, Any]:
    return {"total": 0, "completed": 0, "failed": 0, "unfinished": 0, "failures": []}


def _in_file_order(
    files: Sequence[str],
    items: Sequence[RunItem],
    entries: list[dict[str, Any]],
    bad: Sequence[BadFile],
) -> list[dict[str, Any]]:
    """Rows of bad files where their files stand among the others."""
    if not bad:
        return entries
    by_source: dict[str, list[dict[str, Any]]] = {}
    for item, entry in zip(items, entries, strict=True):
        by_source.setdefault(item.source, []).append(entry)
    bad_by_source = {b.source: b for b in bad}
    ordered: list[dict[str, Any]] = []
    for source in dict.fromkeys(files):
        if source in bad_by_source:
            ordered.append(bad_file_json(bad_by_source[source]))
        ordered.extend(by_source.get(source, []))
    return ordered


def _exit_code(report: BatchReport | None, bad: Sequence[BadFile]) -> int:
    if report is None:
        return exit_code_for(bad[0].error) if bad else ExitCode.OK
    code = report.exit_code()
    if bad and code == ExitCode.OK:
        return ExitCode.JOB_FAILED
    return code
