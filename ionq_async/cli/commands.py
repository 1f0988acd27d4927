"""The commands that ask the API directly, one request or a few, and print its answer.

``backends``, ``whoami``, ``submit``, ``status``, ``result``, ``cost``, ``estimate``,
``jobs`` and ``cancel``; ``run`` (a batch) lives in :mod:`.run`.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.text import Text

from .._payload import merge_payload
from ..client import Client
from ..models import Job, JobCreated, JobStatus, Money
from ..results import Result
from .exit_codes import ExitCode, InputFileError, fail
from .inputs import JobInput, load_job_input, load_run_inputs, run_items
from .journals import find_journal_jobs
from .options import merge_options, submit_options
from .parser import DEFAULT_ESTIMATE_BACKEND
from .render import (
    Output,
    distribution_json,
    duration_text,
    fields_table,
    make_table,
    result_table,
    to_jsonable,
)
from .spending import authorize, price_files, price_items, print_estimate

__all__ = [
    "cmd_backends",
    "cmd_cancel",
    "cmd_cost",
    "cmd_estimate",
    "cmd_jobs",
    "cmd_result",
    "cmd_status",
    "cmd_submit",
    "cmd_whoami",
]


async def cmd_backends(client: Client, ns: argparse.Namespace, out: Output) -> int:
    """``backends``: every backend, its status and qubits."""
    backends = await client.backends()
    if out.json_mode:
        out.json(to_jsonable(list(backends)))
        return ExitCode.OK
    rows = [
        (b.backend, b.status, b.qubits, duration_text(b.average_queue_time), b.degraded)
        for b in backends
    ]
    out.table(make_table(None, ["backend", "status", "qubits", "avg queue", "degraded"], rows))
    models = sorted({m for b in backends for m in b.noise_models or ()})
    if models:
        out.console.print(Text("simulator noise models: " + ", ".join(models)))
    return ExitCode.OK


async def cmd_whoami(client: Client, ns: argparse.Namespace, out: Output) -> int:
    """``whoami``: the key's id, name and project (never the key itself)."""
    me = await client.whoami()
    if out.json_mode:
        out.json(to_jsonable(me))
        return ExitCode.OK
    out.table(
        fields_table(
            None,
            [("key id", me.key_id), ("key name", me.key_name), ("project id", me.project_id)],
        )
    )
    return ExitCode.OK


async def _submit_one(
    client: Client, job_input: JobInput, options: Mapping[str, Any]
) -> Job | JobCreated:
    if job_input.payload is not None:
        return await client.create_job(merge_payload(job_input.payload, options))
    # The input as written (names, registers and all); it was validated when read.
    assert job_input.data is not None  # a JobInput holds a payload or circuit data
    return await client.submit(job_input.data, **options)


async def cmd_submit(client: Client, ns: argparse.Namespace, out: Output) -> int:
    """``submit FILE...``: create one job per file; print the ids."""
    inputs = [load_job_input(source) for source in ns.files]
    options = submit_options(ns)
    projection = await price_files(client, inputs, options, every=ns.estimate_only)
    if ns.estimate_only:
        print_estimate(projection, out)
        return ExitCode.OK
    authorize(projection, yes=ns.yes, max_cost=ns.max_cost)
    rows = []
    for job_input in inputs:
        job = await _submit_one(client, job_input, options)
        rows.append({"file": job_input.source, "id": job.id, "status": job.status.value})
    if out.json_mode:
        out.json(rows)
    else:
        out.table(make_table(None, ["file", "job id", "status"], [tuple(r.values()) for r in rows]))
    return ExitCode.OK


def _job_fields(job: Job) -> list[tuple[str, object]]:
    failure = None
    if job.failure is not None:
        failure = ": ".join(part for part in (job.failure.code, job.failure.text) if part)
    noise = None
    if job.noise is not None:
        noise = job.noise.model + (
            f" (seed {job.noise.seed})" if job.noise.seed is not None else ""
        )
    fields: list[tuple[str, object]] = [
        ("id", job.id),
        ("name", job.name),
        ("status", job.status),
        ("type", job.type),
        ("backend", job.backend),
        ("shots", job.shots),
        ("noise", noise),
        ("dry run", job.dry_run),
        ("qubits", job.stats.qubits if job.stats else None),
        ("submitted", job.submitted_at),
        ("started", job.started_at),
        ("completed", job.completed_at),
        ("predicted wait", duration_text(job.predicted_wait_time_ms)),
        ("execution time", duration_text(job.execution_duration_ms)),
    ]
    if job.child_job_ids:
        fields.append(("child jobs", len(job.child_job_ids)))
    if job.parent_job_id:
        fields.append(("parent job", job.parent_job_id))
    if job.session_id:
        fields.append(("session", job.session_id))
    if failure:
        fields.append(("failure", failure))
    return fields


async def cmd_status(client: Client, ns: argparse.Namespace, out: Output) -> int:
    """``status ID``: one job's state."""
    job = await client.get_job(ns.job_id)
    if out.json_mode:
        out.json(to_jsonable(job))
    else:
        out.table(fields_table(None, _job_fields(job)))
    return ExitCode.OK


async def cmd_result(client: Client, ns: argparse.Namespace, out: Output) -> int:
    """``result ID``: probabilities, or counts for a number of shots."""
    job = await client.get_job(ns.job_id)
    if job.is_parent and job.status is JobStatus.COMPLETED:
        return await _parent_result(client, job, ns, out)
    result = await client.result(job, memory=ns.memory)
    shots = ns.shots
    if ns.counts:
        shots = result.shots
        if shots is None:
            fail(f"job {result.job.id} has no shot count; give --shots N")
    if out.json_mode:
        out.json(distribution_json(result, shots))
    else:
        out.table(result_table(result, shots, ns.rows, f"job {result.job.id}"))
        if ns.memory:
            out.line(f"memory ({len(result.memory)} shots, in order):")
            out.line(" ".join(result.memory))
    return ExitCode.OK


async def _parent_result(client: Client, job: Job, ns: argparse.Namespace, out: Output) -> int:
    """A multi-circuit job's result: one distribution per child job, in circuit order."""
    by_child = await client.aggregated_probabilities(job)
    shots = ns.shots if ns.shots is not None else (job.shots if ns.counts else None)
    if ns.counts and shots is None:
        fail(f"job {job.id} has no shot count; give --shots N")
    # The children carry their own widths (the parent's is the widest circuit's).
    children = {child.id: child async for child in client.jobs(parent_job_id=job.id)}
    results = [
        Result(
            job=children.get(child) or Job(id=child, status=JobStatus.COMPLETED),
            probabilities=p,
            shots=job.shots,
        )
        for child, p in by_child.items()
    ]
    if out.json_mode:
        out.json(
            {
                "job_id": job.id,
                "children": [distribution_json(result, shots) for result in results],
            }
        )
        return ExitCode.OK
    for index, result in enumerate(results):
        title = f"job {job.id}, circuit {index} (job {result.job.id})"
        out.table(result_table(result, shots, ns.rows, title))
    return ExitCode.OK


async def cmd_cost(client: Client, ns: argparse.Namespace, out: Output) -> int:
    """``cost ID``: estimated and, once billed, actual cost."""
    cost = await client.cost(ns.job_id)
    if out.json_mode:
        out.json(to_jsonable(cost))
        return ExitCode.OK

    def money(value: Money | None) -> str | None:
        return None if value is None else f"{value.value:g} {value.unit}"

    out.table(
        fields_table(
            f"job {ns.job_id}",
            [
                ("dry run", cost.dry_run),
                ("estimated cost", money(cost.estimated_cost)),
                ("cost", money(cost.cost)),
            ],
        )
    )
    return ExitCode.OK


async def cmd_estimate(client: Client, ns: argparse.Namespace, out: Output) -> int:
    """``estimate FILE...``: a batch of files priced as ``run`` would send them; without
    files, one job described by its size (``--qubits``, gate counts or ``--circuit``)."""
    if ns.files:
        return await _estimate_files(client, ns, out)
    qubits, one, two = ns.qubits, ns.one_qubit_gates, ns.two_qubit_gates
    if ns.circuit is not None:
        job_input = load_job_input(ns.circuit)
        if not job_input.circuits:
            raise InputFileError(f"{ns.circuit}: holds no circuit")
        widest = max(c.num_qubits for c in job_input.circuits)
        counts = [c.gate_counts() for c in job_input.circuits]
        qubits = widest if qubits is None else qubits
        one = sum(c[0] for c in counts) if one is None else one
        two = sum(c[1] for c in counts) if two is None else two
    options = {
        "qubits": qubits,
        "shots": ns.shots,
        "one_qubit_gates": one,
        "two_qubit_gates": two,
        "error_mitigation": ns.error_mitigation,
    }
    estimate = await client.estimate(
        backend=ns.backend or DEFAULT_ESTIMATE_BACKEND,
        **{key: value for key, value in options.items() if value is not None},
    )
    if out.json_mode:
        out.json(to_jsonable(estimate))
        return ExitCode.OK
    context = estimate.context
    backend = context.backend if context else ns.backend or DEFAULT_ESTIMATE_BACKEND
    fields: list[tuple[str, object]] = [("backend", backend)]
    if context is not None:
        fields += [
            ("qubits", context.qubits),
            ("shots", context.shots),
            ("1q gates", context.one_qubit_gates),
            ("2q gates", context.two_qubit_gates),
            ("error mitigation", context.error_mitigation),
        ]
    total = estimate.total_cost
    fields += [
        ("estimated cost", None if total is None else f"{total:g} {estimate.unit or ''}".strip()),
        ("estimated at", estimate.estimated_at),
    ]
    out.table(fields_table(None, fields))
    return ExitCode.OK


async def _estimate_files(client: Client, ns: argparse.Namespace, out: Output) -> int:
    """Every circuit of the files, priced as ``run FILE... --pack`` would send them."""
    inputs, _ = load_run_inputs(ns.files, strict=True)  # a price missing a file misleads
    items = run_items(inputs)
    given = {"backend": ns.backend, "shots": ns.shots, "debiasing": ns.error_mitigation}
    options = merge_options(inputs, {k: v for k, v in given.items() if v is not None})
    options.setdefault("backend", DEFAULT_ESTIMATE_BACKEND)
    if ns.pack:
        options["pack"] = True
    projection = await price_items(
        client, [item.circuit for item in items], [item.label for item in items], options
    )
    print_estimate(projection, out)
    return ExitCode.OK


async def cmd_jobs(client: Client, ns: argparse.Namespace, out: Output) -> int:
    """``jobs``: recent jobs, filtered."""
    filters = {
        "status": ns.status,
        "backend": ns.backend,
        "session_id": ns.session,
        "parent_job_id": ns.parent,
        "ids": ns.ids,
    }
    jobs = []
    async for job in client.jobs(
        limit=ns.limit, **{key: value for key, value in filters.items() if value is not None}
    ):
        jobs.append(job)
        if len(jobs) >= ns.limit:
            break
    if out.json_mode:
        out.json(to_jsonable(jobs))
        return ExitCode.OK
    rows = [(j.id, j.status, j.backend, j.name, j.submitted_at) for j in jobs]
    out.table(make_table(None, ["id", "status", "backend", "name", "submitted"], rows))
    return ExitCode.OK


CHUNK = 100
"""Ids per ``GET /jobs?ids=`` and per bulk cancel (URLs and bodies stay small)."""


def _read_ids(source: str) -> list[str]:
    """Job ids from a file (``-``: stdin), one a line; blank lines and ``#`` comments skipped."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise InputFileError(f"{source}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise InputFileError(f"{source}: not UTF-8 text") from None
    ids: list[str] = []
    for line in text.splitlines():
        word = line.split("#", 1)[0].strip()
        if word:
            ids.extend(word.split())
    return ids


async def _cancel_ids(client: Client, ns: argparse.Namespace, out: Output) -> list[str]:
    ids = list(ns.job_ids)
    if ns.journal is not None:
        jobs = await find_journal_jobs(client, Path(ns.journal), backend=None)
        if jobs.looked_up:
            out.note(f"{jobs.looked_up} job creation(s) of the journal looked up by token")
        ids += jobs.ids
    if ns.from_file is not None:
        ids += _read_ids(ns.from_file)
    if not ns.job_ids and ns.journal is None and ns.from_file is None:
        if sys.stdin is None or sys.stdin.isatty():
            fail("no job to cancel: give IDs, --journal PATH, --from-file FILE, or ids on stdin")
        ids += _read_ids("-")
    return list(dict.fromkeys(ids))


def _cancel_note(status: JobStatus) -> str:
    return f"already {status.value}: nothing to cancel"


async def cmd_cancel(client: Client, ns: argparse.Namespace, out: Output) -> int:
    """``cancel``: cancel jobs given by id, by a run's journal, in a file or on stdin.

    A job that has already finished is not canceled (the row says so). One id given alone
    and unknown is the API's 404 (exit 3); among many, its row says ``not found``.
    """
    ids = await _cancel_ids(client, ns, out)
    single = len(ids) == 1 and ns.journal is None and ns.from_file is None
    rows: list[dict[str, Any]] = []
    if single:
        # One id typed by hand: an unknown one is the API's 404, as for status.
        job = await client.get_job(ids[0])
        if job.status.is_terminal:
            rows.append(
                {"id": job.id, "status": job.status.value, "note": _cancel_note(job.status)}
            )
        else:
            answer = await client.cancel(job)
            rows.append({"id": answer.id, "status": answer.status, "note": "canceled"})
    else:
        known: dict[str, Job] = {}
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            async for job in client.jobs(ids=chunk):
                known[job.id] = job
        running = [
            job_id for job_id in ids if job_id in known and not known[job_id].status.is_terminal
        ]
        canceled: dict[str, str] = {}
        for start in range(0, len(running), CHUNK):
            bulk = await client.cancel_many(running[start : start + CHUNK])
            canceled.update(dict.fromkeys(bulk.ids, bulk.status))
        for job_id in ids:
            found = known.get(job_id)
            if found is None:
                rows.append({"id": job_id, "status": None, "note": "not found"})
            elif job_id in canceled:
                rows.append({"id": job_id, "status": canceled[job_id], "note": "canceled"})
            elif found.status.is_terminal:
                note = _cancel_note(found.status)
                rows.append({"id": job_id, "status": found.status.value, "note": note})
            else:
                rows.append({"id": job_id, "status": found.status.value, "note": "not canceled"})
    missing = sum(1 for row in rows if row["note"] == "not found")
    if out.json_mode:
        out.json(rows)
    elif len(rows) <= ns.rows:
        out.rows(["job id", "status", "note"], [tuple(r.values()) for r in rows])
    else:
        counts = Counter(str(row["note"]) for row in rows)
        out.line(
            f"{len(rows)} jobs: " + ", ".join(f"{n} {note}" for note, n in counts.most_common())
        )
        for row in rows:
            if row["note"] == "not found":
                out.line(f"  not found: {row['id']}")
    if missing:
        # As the API's bulk cancel: the others are handled, the unknown ones named.
        out.note(f"{missing} job id(s) not found (typed wrong, or deleted)")
    return ExitCode.OK
