"""``run FILE...``: every circuit of the files as one batch; counts, or a row per circuit."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

from attrs import frozen
from rich.table import Table
from rich.text import Text

from ..batch import Outcome
from ..circuits import Circuit
from ..client import Client
from .exit_codes import InputFileError
from .inputs import JobInput, load_job_input
from .options import run_options
from .render import Output, distribution_json, make_table, result_table
from .runner import failure_json, left_running_note, run_batch

__all__ = ["RunItem", "cmd_run", "outcome_json", "outcomes_table", "run_items"]


@frozen(kw_only=True)
class RunItem:
    """One circuit of a ``run``: where it came from and what to call it."""

    source: str
    label: str
    circuit: Circuit


def run_items(inputs: Sequence[JobInput]) -> list[RunItem]:
    """Every circuit of the given files, labelled ``file`` or ``file#i`` (multi-circuit)."""
    items = []
    for job_input in inputs:
        if not job_input.circuits:
            raise InputFileError(
                f"{job_input.source}: {job_input.payload.get('type') if job_input.payload else ''}"
                " jobs are not circuits; use submit"
            )
        for index, circuit in enumerate(job_input.circuits):
            label = f"{job_input.source}#{index}" if job_input.multi else job_input.source
            items.append(RunItem(source=job_input.source, label=label, circuit=circuit))
    return items


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


def _top(entry: Mapping[str, Any], count: int = 3) -> str | None:
    values = entry.get("bitstring_counts") or entry.get("bitstrings")
    if not values:
        return None
    best = sorted(values.items(), key=lambda item: (-item[1], item[0]))[:count]
    shown = "  ".join(
        f"{bits}: {value}" if isinstance(value, int) else f"{bits}: {value:.3f}"
        for bits, value in best
    )
    return shown + ("  …" if len(values) > count else "")


def outcomes_table(entries: Sequence[Mapping[str, Any]]) -> Table:
    """One row per circuit: source, status, the most frequent outcomes or the error."""
    rows = []
    for entry in entries:
        error = entry.get("error")
        detail = f"{error['type']}: {error['message']}" if error else _top(entry)
        rows.append((entry["source"], entry["status"], detail, entry.get("job_id")))
    return make_table(None, ["circuit", "status", "top outcomes / error", "job id"], rows)


async def cmd_run(client: Client, ns: argparse.Namespace, out: Output) -> int:
    """``run FILE...``: submit, wait and print counts; many circuits run as one batch."""
    inputs = [load_job_input(source) for source in ns.files]
    items = run_items(inputs)
    options = run_options(inputs, ns)
    if ns.concurrency is not None:
        options["concurrency"] = ns.concurrency
    if ns.journal is not None:
        options["journal"] = ns.journal
    report = await run_batch(
        client,
        [item.circuit for item in items],
        out,
        options=options,
        timeout_s=ns.timeout,
        title="run",
        show_progress=len(items) > 1,
        name_left_running=not ns.emulator,  # an in-process emulator's jobs end with it
    )
    entries = [
        outcome_json(
            item.label,
            report.outcomes.get(index),
            options.get("shots"),
            index,
            job_id=report.job_ids.get(index),
        )
        for index, item in enumerate(items)
    ]
    if out.json_mode:
        out.json({"results": entries, "summary": report.summary()})
    elif len(items) == 1 and report.outcomes.get(0) is not None and report.outcomes[0].ok:
        outcome = report.outcomes[0]
        assert outcome.result is not None
        shots = options.get("shots") or outcome.result.shots
        table = result_table(outcome.result, shots, ns.rows, items[0].label)
        table.caption = f"job {outcome.result.job.id}" + (
            f"; {table.caption}" if table.caption else ""
        )
        out.table(table)
    else:
        out.table(outcomes_table(entries))
        out.console.print(Text(report.summary_line()))
    left = report.unfinished_job_ids
    if left and not ns.emulator:  # an in-process emulator's jobs end with it
        out.note(left_running_note(left))
    return report.exit_code()
