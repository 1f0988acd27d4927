"""Before QPU jobs are sent: their projected cost, the budget, and a person's yes.

``run`` and ``submit`` price what they would send (:meth:`Client.estimate_batch`: one
estimate per distinct job shape), print one line on stderr (total, currency, jobs, what
debiasing adds), refuse a projection over ``--max-cost`` (:class:`BudgetExceededError`,
exit 7, nothing sent) and then ask on a terminal ("Send 12 jobs for 1,170.00 usd?
[y/N]"). ``--yes`` skips the question; off a terminal, where nothing can be asked, the
command refuses without ``--yes`` (:class:`SpendingNotConfirmedError`, exit 6): money is
never spent silently. Free jobs (the simulator, dry runs) print nothing and ask nothing.
``--estimate-only`` and ``estimate FILE...`` print the projection by job shape instead.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TextIO

from attrs import frozen

from .._batch.pricing import BatchEstimate, check_budget, is_free_backend
from .._limits import CIRCUIT_TYPE, MULTI_CIRCUIT_TYPE, QASM3_TYPE
from .._payload import merge_payload, payload_options
from ..client import Client
from ..exceptions import ResponseError
from ..programs import Qasm3Program
from .exit_codes import SpendingNotConfirmedError
from .inputs import JobInput
from .parser import PROG
from .render import Output, make_table
from .runner import failure_json

__all__ = [
    "Projection",
    "ask",
    "authorize",
    "can_ask",
    "estimate_json",
    "price_files",
    "price_items",
    "print_estimate",
    "projection_line",
    "status",
]

_NOT_PRICED_OPTIONS = frozenset({"concurrency", "journal", "max_cost"})
"""run options that are not the jobs' own (estimate_batch does not take them)."""
_NEUTRAL_OPTIONS = frozenset({"name", "metadata", "session_id"})
"""Job options that never change a price: files differing only in these are one group."""
_SHORT_TYPES = {CIRCUIT_TYPE: "circuit", MULTI_CIRCUIT_TYPE: "multi-circuit", QASM3_TYPE: "qasm3"}


@frozen(kw_only=True)
class Projection:
    """What a command's jobs would cost: one estimate, each circuit's label, and the jobs
    that cannot be priced here (``unpriced``: a file and its job type)."""

    estimate: BatchEstimate
    labels: tuple[str, ...]
    unpriced: tuple[tuple[str, str], ...] = ()

    @property
    def free(self) -> bool:
        """Nothing costs anything: print nothing, ask nothing."""
        return self.estimate.free and not self.unpriced

    @property
    def jobs(self) -> int:
        """Jobs that would be created (priced or not)."""
        return len(self.estimate.jobs) + len(self.unpriced)

    @property
    def lower_bound(self) -> bool:
        """The total leaves something out (unpriced jobs, OpenQASM 3 gates not counted)."""
        return bool(self.unpriced or self.estimate.approximate)


def _money(amount: float, currency: str | None) -> str:
    return f"{amount:,.2f}" + (f" {currency}" if currency else "")


def _cents(amount: float) -> float:
    """A sum of prices without float noise (24.379999999999995 is 24.38)."""
    return round(amount, 6)


def _jobs(count: int) -> str:
    return f"{count:,} job{'s' if count != 1 else ''}"


def _debiasing(estimate: BatchEstimate) -> str:
    paid = [shape.shape for shape in estimate.shapes if not is_free_backend(shape.shape.backend)]
    if estimate.debiasing:
        return f"debiasing adds {_money(estimate.mitigation_extra, estimate.currency)}"
    if paid and all(shape.error_mitigation is False for shape in paid):
        return "debiasing off"
    return "debiasing not asked for"


def projection_line(projection: Projection) -> str:
    """The one line said before sending: total, currency, jobs, what debiasing adds."""
    estimate = projection.estimate
    amount = ("at least " if projection.lower_bound else "") + _money(
        estimate.total, estimate.currency
    )
    line = f"projected cost: {amount} for {_jobs(projection.jobs)} on {estimate.backend}"
    notes = [_debiasing(estimate)]
    if projection.unpriced:
        notes.append(
            f"{len(projection.unpriced)} not priced: "
            + ", ".join(f"{source} ({job_type})" for source, job_type in projection.unpriced)
        )
    return f"{line} ({'; '.join(notes)})"


def status(message: str) -> None:
    """A line on stderr in every mode, ``--json`` included (stdout stays the answer's)."""
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.stderr.flush()


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):  # closed or replaced streams
        return False


def can_ask() -> bool:
    """Whether a person can be asked: stdin and stderr are both terminals."""
    return _is_terminal(sys.stdin) and _is_terminal(sys.stderr)


@contextlib.contextmanager
def _ctrl_c_raises() -> Iterator[None]:
    # asyncio's runner turns the first Ctrl-C into a cancellation of the command's task,
    # which a blocked read of stdin never sees; while asking, Ctrl-C raises
    # KeyboardInterrupt in the read instead (exit 130, nothing sent).
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def ask(question: str) -> bool:
    """Ask on stderr, read one line of stdin: True for ``y`` or ``yes`` (Enter is no).

    The event loop waits while the person thinks: nothing else runs before the answer.
    """
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    with _ctrl_c_raises():
        answer = sys.stdin.readline()
    if not answer:  # end of input (Ctrl-D): no
        sys.stderr.write("\n")
    return answer.strip().lower() in ("y", "yes")


def authorize(projection: Projection, *, yes: bool, max_cost: float | None) -> None:
    """Say what the jobs will cost, hold them to ``max_cost``, and get a yes for them.

    Free jobs pass silently. Over the budget: BudgetExceededError (nothing sent). Then
    ``yes`` (``--yes``) or a person's answer at the terminal; off a terminal without
    ``--yes``: SpendingNotConfirmedError.
    """
    if projection.free:
        return
    status(projection_line(projection))
    estimate = projection.estimate
    if max_cost is not None:
        check_budget(estimate, max_cost)
        if projection.unpriced:
            # As run_many under a budget: a job whose price is unknown is not created.
            sources = ", ".join(source for source, _ in projection.unpriced)
            raise SpendingNotConfirmedError(
                f"{sources}: cannot be priced, so --max-cost cannot hold "
                f"{'it' if len(projection.unpriced) == 1 else 'them'}; nothing was sent "
                "(submit without --max-cost to send anyway)"
            )
    if yes:
        return
    amount = ("at least " if projection.lower_bound else "") + _money(
        estimate.total, estimate.currency
    )
    what = f"{_jobs(projection.jobs)} for {amount}"
    if not can_ask():
        raise SpendingNotConfirmedError(
            f"{what} not sent: there is no terminal to confirm the cost on; pass --yes to "
            "send them (--estimate-only prices without sending)"
        )
    if not ask(f"Send {what}?"):
        raise SpendingNotConfirmedError(f"{what} not sent: not confirmed")


def _estimate_options(options: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in options.items() if key not in _NOT_PRICED_OPTIONS}


async def price_items(
    client: Client, circuits: Sequence[Any], labels: Sequence[str], options: Mapping[str, Any]
) -> Projection:
    """``run``'s circuits priced as ``run_many(circuits, **options)`` would send them."""
    estimate = await client.estimate_batch(circuits, **_estimate_options(options))
    return Projection(estimate=estimate, labels=tuple(labels))


def _priceable(payload: Mapping[str, Any]) -> Any | None:
    """What a payload file's job would be priced as: its circuit input, an OpenQASM 3
    program, or None (a job type the estimate cannot size)."""
    job_type = payload.get("type")
    job_input = payload.get("input")
    if not isinstance(job_input, Mapping):
        return None
    if job_type in (CIRCUIT_TYPE, MULTI_CIRCUIT_TYPE):
        return job_input
    if job_type == QASM3_TYPE:
        source, qubits = job_input.get("data"), job_input.get("qubits")
        if isinstance(source, str) and isinstance(qubits, int) and not isinstance(qubits, bool):
            return Qasm3Program(source=source, num_qubits=qubits)
    return None


def _group_key(options: Mapping[str, Any]) -> str:
    priced = {k: v for k, v in options.items() if k not in _NEUTRAL_OPTIONS}
    return json.dumps(priced, sort_keys=True, default=str)


async def price_files(
    client: Client, inputs: Sequence[JobInput], options: Mapping[str, Any], *, every: bool
) -> Projection:
    """``submit``'s jobs, one per file, priced with each file's own fields under ``options``.

    Files with the same priced options are one ``estimate_batch``. Without ``every``, free
    jobs (simulator, dry runs) are not looked at: their payloads stay the API's to judge.
    """
    groups: dict[str, tuple[dict[str, Any], list[tuple[str, Any]]]] = {}
    unpriced: list[tuple[str, str]] = []
    unpriced_backends: list[str] = []
    for job_input in inputs:
        if job_input.payload is not None:
            merged = merge_payload(job_input.payload, options)
            job_options = payload_options(merged)
            item = _priceable(merged)
            job_type = str(merged.get("type"))
        else:
            job_options = dict(options)
            item = job_input.data
            job_type = CIRCUIT_TYPE
        backend = str(job_options.get("backend", "simulator"))
        free = is_free_backend(backend) or job_options.get("dry_run") is True
        if free and not every:
            continue
        if item is None:
            if not free:
                unpriced.append((job_input.source, job_type))
                unpriced_backends.append(backend)
            continue
        _, members = groups.setdefault(_group_key(job_options), (job_options, []))
        members.append((job_input.source, item))
    estimates: list[BatchEstimate] = []
    labels: list[str] = []
    for job_options, members in groups.values():
        estimates.append(
            await client.estimate_batch(
                [item for _, item in members], **_estimate_options(job_options)
            )
        )
        labels += [source for source, _ in members]
    return Projection(
        estimate=_combined(estimates, unpriced_backends),
        labels=tuple(labels),
        unpriced=tuple(unpriced),
    )


def _combined(estimates: Sequence[BatchEstimate], more_backends: Sequence[str]) -> BatchEstimate:
    """Several estimates as one (files of a ``submit`` with different backends or shots);
    ``more_backends`` are those of jobs that could not be priced."""
    if len(estimates) == 1 and set(more_backends) <= {estimates[0].backend}:
        return estimates[0]
    currencies = sorted({e.currency for e in estimates if e.currency is not None})
    if len(currencies) > 1:
        raise ResponseError(f"estimates came back in different units: {currencies}")
    named = {e.backend for e in estimates} | set(more_backends)
    backends = sorted(named, key=lambda b: (is_free_backend(b), b))
    plain = [e.without_mitigation for e in estimates]
    without = None
    if any(value is not None for value in plain):
        without = sum(
            e.total if value is None else value for e, value in zip(estimates, plain, strict=True)
        )
    return BatchEstimate(
        backend=", ".join(backends) or "simulator",
        shots=max((e.shots for e in estimates), default=0),
        total=sum(e.total for e in estimates),
        currency=currencies[0] if currencies else None,
        jobs=tuple(job for e in estimates for job in e.jobs),
        circuits=tuple(circuit for e in estimates for circuit in e.circuits),
        shapes=tuple(shape for e in estimates for shape in e.shapes),
        debiasing=any(e.debiasing for e in estimates),
        without_mitigation=without,
        estimates=tuple(answer for e in estimates for answer in e.estimates),
    )


def estimate_json(projection: Projection) -> dict[str, Any]:
    """The projection as JSON: totals, each distinct job shape, and what was left out."""
    estimate = projection.estimate
    labels = projection.labels
    return {
        "backend": estimate.backend,
        "total": _cents(estimate.total),
        "currency": estimate.currency,
        "lower_bound": projection.lower_bound,
        "jobs": projection.jobs,
        "circuits": len(estimate.circuits),
        "debiasing": estimate.debiasing,
        "mitigation_extra": _cents(estimate.mitigation_extra),
        "raised_by": list(estimate.raised_by),
        "estimate_requests": estimate.requests,
        "shapes": [
            {
                "backend": shape.shape.backend,
                "type": shape.shape.type,
                "qubits": shape.shape.qubits,
                "1q_gates": shape.shape.one_qubit_gates,
                "2q_gates": shape.shape.two_qubit_gates,
                "shots": shape.shape.shots,
                "error_mitigation": shape.shape.error_mitigation,
                "jobs": shape.jobs,
                "cost_per_job": shape.cost,
                "total": _cents(shape.total),
            }
            for shape in estimate.shapes
        ],
        "approximate": [
            labels[position]
            for position, circuit in enumerate(estimate.circuits)
            if circuit.approximate
        ],
        "refused": [
            {"source": labels[position], "error": failure_json(circuit.error)}
            for position, circuit in enumerate(estimate.circuits)
            if circuit.error is not None
        ],
        "unpriced": [
            {"source": source, "type": job_type} for source, job_type in projection.unpriced
        ],
    }


def _on_off(value: bool | None) -> str:
    # None leaves error_mitigation out of the estimate request: priced without it.
    return "on" if value else "off"


def print_estimate(projection: Projection, out: Output) -> None:
    """The projection for people (a table by job shape and its totals), or its JSON."""
    if out.json_mode:
        out.json(estimate_json(projection))
        return
    estimate = projection.estimate
    currency = estimate.currency
    rows = [
        (
            shape.shape.backend,
            _SHORT_TYPES.get(shape.shape.type, shape.shape.type),
            shape.shape.qubits,
            shape.shape.one_qubit_gates,
            shape.shape.two_qubit_gates,
            shape.shape.shots,
            _on_off(shape.shape.error_mitigation),
            shape.jobs,
            _money(shape.cost, currency),
            _money(shape.total, currency),
        )
        for shape in estimate.shapes
    ]
    if out.wide:
        columns = ["backend", "type", "qubits", "1q gates", "2q gates", "shots", "debiasing"]
        out.table(make_table(None, [*columns, "jobs", "per job", "total"], rows))
    else:
        for backend, kind, qubits, one, two, shots, debiasing, jobs, each, total in rows:
            gates = "" if one is None else f", {one} 1q + {two} 2q gates"
            out.line(
                f"{_jobs(jobs)} on {backend}: {kind}, {qubits} qubits{gates}, {shots} shots, "
                f"debiasing {debiasing}: {each} each, {total}"
            )
    line = projection_line(projection).removeprefix("projected cost: ")
    out.line(f"total: {line}, {len(estimate.circuits):,} circuit(s), nothing sent")
    for position, circuit in enumerate(estimate.circuits):
        if circuit.error is not None:
            out.line(f"  refused: {projection.labels[position]}: {circuit.error}")
