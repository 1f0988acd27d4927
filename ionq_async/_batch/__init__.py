"""The batch engine: wait for jobs, run circuits, and stream the outcomes of many at once.

The engine is written against :class:`~ionq_async._batch.api.BatchAPI` (a Protocol of the
endpoint calls it needs) and never imports the client; the client's ``wait``, ``run``,
``run_many``, ``as_completed`` and ``gather`` delegate here.

How a batch runs (:meth:`~ionq_async.client.Client.run_many`):

- **Read and plan** (``planning``, ``intake``). The input (any iterable or async
  iterable) is read lazily, only as far as the batch has room: at most
  ``max(20,000, max_in_flight)`` circuits are held between being read and their outcome
  being delivered, so a generator of a million circuits is never held as a list. Each
  item is converted as it is read (a Qiskit, Cirq or OpenQASM circuit; for
  ``run_sweep``, a parameter set bound to the template); one that cannot be becomes an
  error outcome at once. Circuits are grouped into *units*, one job each: one circuit,
  or with ``pack=True`` consecutive circuits up to 5,000 circuits / 150,000 gates /
  10 MB per ``ionq.multi-circuit.v1`` job.
- **Submit** (``engine``). A feeder hands units to short-lived submit tasks, bounded by
  the jobs in flight (``max_in_flight``) and by an adaptive limit on creations in flight
  that halves on a 429 and grows back by one per window of successes (AIMD, in
  :mod:`ionq_async._flow`).
- **Never twice** (``tokens``). Every creation carries a token in
  ``metadata["ionq_async_token"]``. After an ambiguous failure (no answer after the
  request left, a read timeout, a 5xx) the token is looked up with ``GET /jobs`` before
  anything is sent again; lookups of many units share one sweep. With a journal the token
  is on disk before the request leaves and the job id right after it is known
  (:mod:`ionq_async._journal`).
- **Poll** (``poller``). One poller task refreshes every waiting job with
  ``GET /jobs?ids=...`` in chunks of at most 100 ids (URLs stay under ~6 KB). Each job has
  its own schedule that grows with jitter from short to a cap and skips ahead to the job's
  predicted end; jobs that come due close together share a request. Ids a server leaves
  out of its answer are fetched one by one, and a server that ignores ``ids`` altogether
  is polled per job from then on.
- **Stream** (``engine``). A finished job is queued for one of a few finisher tasks, which
  fetches its probabilities and makes it an :class:`Outcome`; failed and canceled jobs
  become outcomes carrying ``JobFailed`` / ``JobCanceled``. Waiting jobs hold no task,
  only a small entry in the poller.

Lifetime (``handle``; why a handle rather than an async generator): an async generator
that owns a task group is finalized whenever the garbage collector gets to it, possibly in
another task, after the consumer ``break``-s. :class:`BatchRun` instead starts one
supervisor task on first use; the supervisor owns an anyio task group with every worker
and writes outcomes into a memory object stream. ``aclose()``, ``async with`` exit,
cancellation of the consumer while it awaits the next outcome, ``Client.aclose()`` and (as
a last resort) garbage collection of an abandoned handle all cancel that supervisor; all
but the last also wait for it, so no task or request outlives the loop. The engine works
ahead of the consumer (up to 1,024 outcomes buffered), so a handle that stays referenced
after a ``break`` keeps working until it is closed: hence ``async with`` whenever the
handle is kept in a variable.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from typing import Any

import anyio

from .._flow import Throttle
from .._spend import Spend
from ..models import Job, Money
from .api import BatchAPI
from .engine import Engine
from .handle import BatchRun, LiveBatches
from .intake import CircuitIntake, Intake, SweepIntake
from .poller import MAX_POLL_FAILURE_S
from .values import BatchProgress, Outcome, PackLimits
from .waiting import wait_for_job

__all__ = [
    "MAX_POLL_FAILURE_S",
    "BatchAPI",
    "BatchRun",
    "LiveBatches",
    "check_submit_options",
    "start_as_completed",
    "start_run_many",
    "start_run_sweep",
    "wait_for_job",
]


def check_submit_options(
    submit: Callable[..., Any], options: Mapping[str, Any], *, caller: str
) -> None:
    """Raise one TypeError naming an option ``submit()`` does not take, before anything runs.

    Checked when the batch is made: an unknown option must not start a batch that then
    fails once per circuit inside the engine.
    """
    parameters = inspect.signature(submit).parameters
    valid = sorted(
        name
        for name, parameter in parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    )
    for name in options:
        if name in valid:
            continue
        close = difflib.get_close_matches(name, valid, n=2)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise TypeError(
            f"{caller}() got an unexpected option {name!r}{hint} "
            f"(the options of submit(): {', '.join(valid)})"
        )


def _start(api: BatchAPI, throttle: Throttle, batches: LiveBatches, **engine: Any) -> BatchRun:
    """An Engine on a fresh outcome stream, behind its handle (nothing runs yet)."""
    send, receive = anyio.create_memory_object_stream[Outcome](max_buffer_size=1024)
    try:
        run = Engine(api, send=send, throttle=throttle, **engine)
    except BaseException:
        send.close()
        receive.close()
        raise
    return BatchRun(run, receive, batches)


def start_run_many(
    api: BatchAPI,
    throttle: Throttle,
    batches: LiveBatches,
    circuits: Iterable[Any] | AsyncIterable[Any],
    *,
    intake: Intake | None = None,
    concurrency: int,
    max_in_flight: int,
    journal: str | None,
    cancel_remote: bool,
    pack: bool | PackLimits,
    progress: Callable[[BatchProgress], None] | None,
    timeout_s: float | None,
    max_poll_failure_s: float,
    options: Mapping[str, Any],
    memory: bool = False,
    max_cost: float | Money | None = None,
    retry_failed: int = 0,
    client_spend: Spend | None = None,
) -> BatchRun:
    """The handle of a batch of circuits (nothing runs before it is iterated or entered)."""
    return _start(
        api,
        throttle,
        batches,
        circuits=circuits,
        jobs=None,
        intake=intake if intake is not None else CircuitIntake(),
        options=options,
        concurrency=concurrency,
        max_in_flight=max_in_flight,
        journal_path=None if journal is None else str(journal),
        cancel_remote=cancel_remote,
        pack=pack,
        progress=progress,
        timeout_s=timeout_s,
        max_poll_failure_s=max_poll_failure_s,
        memory=memory,
        max_cost=max_cost,
        retry_failed=retry_failed,
        client_spend=client_spend,
    )


def start_run_sweep(
    api: BatchAPI,
    throttle: Throttle,
    batches: LiveBatches,
    circuit: Any,
    parameter_sets: Iterable[Any] | AsyncIterable[Any],
    **run_many: Any,
) -> BatchRun:
    """The handle of a sweep: one circuit bound to each parameter set, run as a batch.

    The template is converted (and refused, with a typed error) now; the parameter sets
    are read lazily like ``run_many``'s circuits.
    """
    return start_run_many(
        api, throttle, batches, parameter_sets, intake=SweepIntake(circuit), **run_many
    )


def start_as_completed(
    api: BatchAPI,
    throttle: Throttle,
    batches: LiveBatches,
    jobs: Iterable[Job | str],
    *,
    max_in_flight: int,
    cancel_remote: bool,
    progress: Callable[[BatchProgress], None] | None,
    timeout_s: float | None,
    max_poll_failure_s: float,
) -> BatchRun:
    """The handle of a batch of jobs made elsewhere, in completion order."""
    return _start(
        api,
        throttle,
        batches,
        circuits=None,
        jobs=list(jobs),
        options={},
        concurrency=1,
        max_in_flight=max_in_flight,
        journal_path=None,
        cancel_remote=cancel_remote,
        pack=False,
        progress=progress,
        timeout_s=timeout_s,
        max_poll_failure_s=max_poll_failure_s,
    )
