"""The engine behind one BatchRun: plan, submit exactly once, poll, finish and emit outcomes.

It talks to the API only through :class:`~ionq_async._batch.api.BatchAPI` (the client
satisfies it) and never imports the client.
"""

from __future__ import annotations

import logging
import math
import numbers
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, ParamSpec, TypeVar

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._flow import AdaptiveLimiter, Throttle
from .._journal import Journal, TokenRecord
from .._limits import CIRCUIT_TYPE
from .._retry import Attempts, backoff_s, counting, retry_after_beyond_budget
from ..exceptions import (
    BatchTimeoutError,
    ConfigurationError,
    InvalidRequestError,
    IonQError,
    JobCanceled,
    JobFailed,
    RateLimitError,
    ResponseError,
    ServerError,
    TransportError,
    WaitTimeoutError,
)
from ..models import Job, JobStats, JobStatus
from ..readout import Readout
from ..results import Result, job_width, validate_probabilities
from .api import BatchAPI
from .planning import (
    Unit,
    as_circuit,
    circuit_input,
    circuit_name,
    fingerprint,
    input_width,
    plan_units,
    token_lookups,
    unit_input,
)
from .poller import MAX_POLL_FAILURE_S, Poller
from .tokens import TokenResolver, is_ambiguous
from .values import FATAL_ERRORS, TOKEN_METADATA_KEY, BatchProgress, Outcome, PackLimits

__all__ = ["DUPLICATE_WATCHES", "LATE_STORE_GRACE_S", "Engine"]

logger = logging.getLogger("ionq_async.batch")

P = ParamSpec("P")
T = TypeVar("T")

LATE_STORE_GRACE_S: Final = 10.0
"""After an ambiguous job creation found nothing by token, wait this long and look again
before sending it again: the server may still be storing the first attempt."""

DUPLICATE_WATCHES: Final = 3
"""Token sweeps after a re-send (at 1, 2 and 4 grace periods) that look for a first
attempt stored even later; one more is made just before the circuit's outcome."""


Finished = tuple[int, "Job | IonQError"]
"""A unit whose job ended (or could not be polled): its number and the job or the error."""

FINISHERS: Final = 64
"""Tasks per batch that turn ended jobs into outcomes (fetching their results)."""


class Engine:
    """The state and workers of one batch; owned by the supervisor task of a BatchRun."""

    def __init__(
        self,
        client: BatchAPI,
        *,
        circuits: Sequence[Any] | None,
        jobs: Sequence[Job | str] | None,
        options: Mapping[str, Any],
        concurrency: int,
        max_in_flight: int,
        journal_path: str | None,
        cancel_remote: bool,
        pack: bool | PackLimits,
        progress: Callable[[BatchProgress], None] | None,
        send: MemoryObjectSendStream[Outcome],
        throttle: Throttle,
        timeout_s: float | None = None,
        max_poll_failure_s: float = MAX_POLL_FAILURE_S,
    ) -> None:
        if concurrency < 1 or max_in_flight < 1:
            raise ConfigurationError("concurrency and max_in_flight must be at least 1")
        for name, value in (("timeout_s", timeout_s), ("max_poll_failure_s", max_poll_failure_s)):
            if value is not None and not (
                isinstance(value, int | float) and math.isfinite(value) and value > 0
            ):
                raise ConfigurationError(
                    f"{name} must be a positive number of seconds, got {value!r}"
                )
        self.timeout_s = timeout_s
        self.client = client
        self.circuits: Sequence[Any] = circuits if circuits is not None else ()
        self.given_jobs: Sequence[Job | str] = jobs if jobs is not None else ()
        self.options = dict(options)
        self.backend: str = str(self.options.get("backend", "simulator"))
        self.limiter = AdaptiveLimiter(concurrency, cooldown_s=0.2)
        self.in_flight = anyio.Semaphore(max_in_flight)
        self.journal_path = journal_path
        self.journal: Journal | None = None
        self.cancel_remote = cancel_remote
        self.pack_limits: PackLimits | None = (
            pack if isinstance(pack, PackLimits) else (PackLimits() if pack else None)
        )
        self.progress_callback = progress
        self.send = send
        self.total = len(self.circuits) if circuits is not None else len(self.given_jobs)
        self.units: list[Unit] = []
        self.finished_units: set[int] = set()
        self.remaining = self.total
        self.all_done = anyio.Event()
        self.submitted = self.waiting = self.completed = self.failed = 0
        self.started_at = time.time()
        self.started_monotonic = time.monotonic()
        self.resolver = TokenResolver(client, backend=self.backend)
        self.throttle = throttle
        self.poller = Poller(
            client,
            on_terminal=self._on_terminal,
            on_error=self._on_poll_error,
            throttle=self.throttle,
            max_failing_s=max_poll_failure_s,
        )
        self.group: anyio.abc.TaskGroup | None = None
        self._finish_send: MemoryObjectSendStream[Finished] | None = None
        self.duplicates_canceled = 0
        self._duplicates_of: dict[int, tuple[str, ...]] = {}
        self._emitted: set[int] = set()
        self._submitted_indices: set[int] = set()

    def _mark_submitted(self, unit: Unit) -> None:
        self.submitted += len(unit.indices)
        self.waiting += len(unit.indices)
        self._submitted_indices.update(unit.indices)

    # -- progress ---------------------------------------------------------------------------

    def snapshot(self) -> BatchProgress:
        """The progress so far."""
        return BatchProgress(
            total=self.total,
            submitted=self.submitted,
            waiting=self.waiting,
            completed=self.completed,
            failed=self.failed,
            started_at=self.started_at,
            elapsed_s=time.monotonic() - self.started_monotonic,
            duplicates_canceled=self.duplicates_canceled,
        )

    def _changed(self) -> None:
        if self.progress_callback is not None:
            self.progress_callback(self.snapshot())

    # -- the whole run ------------------------------------------------------------------------

    async def run(self) -> None:
        """Submit, poll and stream until every circuit has an outcome."""
        self.throttle.attach(self._on_rate_limited)
        finish_send, finish_receive = anyio.create_memory_object_stream[Finished](math.inf)
        self._finish_send = finish_send
        try:
            with finish_send, finish_receive:
                await self._run_workers(finish_receive)
        finally:
            self._finish_send = None
            self.throttle.detach(self._on_rate_limited)
            self.send.close()
            try:
                if self.cancel_remote and self.remaining:
                    await self._cancel_unfinished()
            finally:
                if self.journal is not None:
                    self.journal.close()

    async def _run_workers(self, finished: MemoryObjectReceiveStream[Finished]) -> None:
        with anyio.move_on_after(self.timeout_s) as deadline:
            await self._work(finished)
        if deadline.cancelled_caught:
            await self._time_out()

    async def _time_out(self) -> None:
        """``timeout_s`` ran out: every circuit without an outcome gets a typed one.

        A circuit with a job gets WaitTimeoutError (the job is left running unless
        ``cancel_remote``); one without gets BatchTimeoutError (naming its token when its
        creation was under way, since a job may then exist).
        """
        timeout_s = self.timeout_s or 0.0
        canceled = False
        if self.cancel_remote:
            await self._cancel_unfinished()
            canceled = True
        unit_of: dict[int, Unit] = {}
        for unit in self.units:
            for index in unit.indices:
                unit_of[index] = unit
        for index in range(self.total):
            if index in self._emitted:
                continue
            owner = unit_of.get(index)
            job: Job | None = None
            error: IonQError
            if owner is not None and owner.job_id is not None:
                job = owner.job or Job(id=owner.job_id, status=JobStatus.SUBMITTED)
                error = WaitTimeoutError(job, timeout_s)
                if canceled:
                    error.add_note(f"cancel_remote: job {job.id} was asked to cancel")
                else:
                    error.add_note(
                        f"job {job.id} may still run on the server: "
                        f"client.cancel({job.id!r}) stops it, client.result({job.id!r}) "
                        "fetches it later"
                    )
            else:
                token = owner.token if owner is not None else None
                error = BatchTimeoutError(index, timeout_s, token=token)
            await self._emit(index, job, None, error)

    async def _work(self, finished: MemoryObjectReceiveStream[Finished]) -> None:
        async with anyio.create_task_group() as group:
            self.group = group
            group.start_soon(self.poller.run)
            # A few finishers fetch the results of the jobs that end: 10,000 jobs ending
            # at once wait as 10,000 small tuples, not as 10,000 tasks.
            for _ in range(FINISHERS):
                group.start_soon(self._finisher, finished)
            if self.total:
                if self.given_jobs:
                    await self._feed_jobs()
                else:
                    await self._feed_circuits()
                await self.all_done.wait()
            group.cancel_scope.cancel()

    async def _watch_for_duplicates(self, unit: Unit) -> None:
        """After a re-send, look for a first attempt stored late, a few times, and cancel it."""
        delay = LATE_STORE_GRACE_S
        for _ in range(DUPLICATE_WATCHES):
            await anyio.sleep(delay)
            if unit.number in self.finished_units:
                return
            await self._cancel_duplicates(unit)
            delay *= 2

    async def _cancel_duplicates(self, unit: Unit) -> None:
        """Cancel every other job that carries this unit's token; count and log each."""
        if unit.token is None or unit.job_id is None:
            return
        try:
            jobs = await self.resolver.find_every(unit.token, unit.first_at or unit.token_at)
        except FATAL_ERRORS:
            raise
        except IonQError as error:
            logger.warning(
                "unit %d: looking for a duplicate of job %s failed: %r",
                unit.number,
                unit.job_id,
                error,
            )
            return
        for job in jobs:
            if job.id == unit.job_id or job.id in unit.duplicates:
                continue
            unit.duplicates.append(job.id)
            self.duplicates_canceled += 1
            for index in unit.indices:
                self._duplicates_of[index] = tuple(unit.duplicates)
            self._changed()
            logger.warning(
                "unit %d: job %s is a late-stored first attempt of job %s; canceling it",
                unit.number,
                job.id,
                unit.job_id,
            )
            if job.is_terminal:
                continue
            try:
                await self.client.cancel(job.id)
            except FATAL_ERRORS:
                raise
            except IonQError as error:
                logger.warning("canceling duplicate job %s failed: %r", job.id, error)

    async def _finisher(self, finished: MemoryObjectReceiveStream[Finished]) -> None:
        async for key, item in finished:
            unit = self.units[key]
            if unit.resent:
                # One last look before the outcome is made, so that it can name them.
                await self._cancel_duplicates(unit)
            if isinstance(item, Job):
                await self._finish(key, item)
            else:
                await self._finish_with_error(key, item)

    async def _cancel_unfinished(self) -> None:
        """Cancel, with the bulk endpoint, every job of this batch that has not finished.

        That is the jobs being waited for and also those whose creation was under way
        when the batch stopped (the request may have created the job although its answer
        never came): their tokens are looked up first, in one sweep. Shielded, and given
        at most 10 seconds.
        """
        ids = list(self.poller.waiting_ids)
        unanswered = [
            unit
            for unit in self.units
            if unit.token is not None
            and unit.job_id is None
            and unit.number not in self.finished_units
        ]
        if not ids and not unanswered:
            return
        with anyio.CancelScope(shield=True), anyio.move_on_after(10.0):
            try:
                # The jobs known to be waiting first: a slow token sweep must not use up
                # the time they need.
                if ids:
                    await self.client.cancel_many(ids)
                found = await self.resolver.find_all(token_lookups(unanswered))
                more = [job.id for job in found if job is not None and not job.is_terminal]
                if more:
                    ids.extend(more)
                    await self.client.cancel_many(more)
            except IonQError as error:
                logger.warning("cancelling %d unfinished jobs failed: %r", len(ids), error)

    # -- as_completed: jobs made elsewhere --------------------------------------------------------

    async def _feed_jobs(self) -> None:
        for index, item in enumerate(self.given_jobs):
            unit = Unit(index, (index,))
            self.units.append(unit)
            await self.in_flight.acquire()
            self._mark_submitted(unit)
            if isinstance(item, Job):
                unit.job_id, unit.job = item.id, item
                if item.is_terminal:
                    self._on_terminal(index, item)
                    continue
                self.poller.add(index, item.id, item, immediate=True)
            else:
                unit.job_id = str(item)
                self.poller.add(index, unit.job_id, None, immediate=True)
        self._changed()

    # -- run_many: circuits ---------------------------------------------------------------------

    async def _feed_circuits(self) -> None:
        units, invalid = plan_units(self.circuits, self.pack_limits)
        self.units = units
        for index, error in invalid:
            await self._emit(index, None, None, error)
        if not units:
            return
        to_submit: list[Unit] = list(units)
        if self.journal_path is not None:
            to_submit = await self._open_journal(units, {i for i, _ in invalid})
        self._changed()
        assert self.group is not None
        for unit in to_submit:
            await self.in_flight.acquire()
            await self.limiter.acquire()
            self.group.start_soon(self._submit, unit)

    async def _open_journal(self, units: list[Unit], invalid: set[int]) -> list[Unit]:
        inputs = []
        for index, circuit in enumerate(self.circuits):
            inputs.append(None if index in invalid else circuit_input(circuit))
        batch = fingerprint(inputs, {**self.options, "pack": bool(self.pack_limits)}, units)
        assert self.journal_path is not None
        # Locked for the batch's life (another run of it gets JournalError) and closed in
        # run()'s finally; a cancelled open closes the journal itself.
        journal = await Journal.open_async(self.journal_path, batch=batch, units=len(units))
        self.journal = journal
        state = journal.state
        to_submit: list[Unit] = []
        # Units with a job id: wait for them. Units with only a token: the crash came
        # between sending and recording, so look the token up before sending it again.
        lookups: list[Unit] = []
        for unit in units:
            record = state.tokens.get(unit.number)
            if record is not None:
                unit.token, unit.token_at = record.token, record.at
                unit.resumed_token = True
            job_id = state.job_ids.get(unit.number)
            if job_id is not None:
                unit.job_id = job_id
                await self.in_flight.acquire()
                self._mark_submitted(unit)
                self.poller.add(unit.number, job_id, None, immediate=True)
            elif record is not None:
                lookups.append(unit)
            else:
                to_submit.append(unit)
        # Every pending token joins one sweep: look them up together, then submit the rest.
        resumed: list[Unit] = []
        found = await self.resolver.find_all(token_lookups(lookups))
        for unit, job in zip(lookups, found, strict=True):
            if job is None:
                resumed.append(unit)
                continue
            await self.in_flight.acquire()
            await self._adopt(unit, job)
        return resumed + to_submit

    async def _adopt(self, unit: Unit, job: Job) -> None:
        unit.job_id, unit.job = job.id, job
        if self.journal is not None and unit.token is not None:
            await self.journal.record_job(unit.number, unit.token, job.id)
        self._mark_submitted(unit)
        self._changed()
        self.poller.add(unit.number, job.id, job)

    async def _submit(self, unit: Unit) -> None:
        holding_limiter = True
        try:
            job = await self._create(unit)
            self.limiter.release()
            holding_limiter = False
            self.limiter.on_success()
            await self._adopt(unit, job)
            if unit.resent and self.group is not None:
                self.group.start_soon(self._watch_for_duplicates, unit)
        except FATAL_ERRORS:
            raise
        except IonQError as error:
            for index in unit.indices:
                await self._emit(index, None, None, error)
            self._unit_finished(unit)
        finally:
            if holding_limiter:
                self.limiter.release()

    async def _create(self, unit: Unit) -> Job:
        """Create the unit's job exactly once, looking its token up after ambiguous failures."""
        if unit.token is None:
            unit.token = uuid.uuid4().hex
        token = unit.token
        metadata = dict(self.options.get("metadata") or {})
        metadata[TOKEN_METADATA_KEY] = token
        options = {k: v for k, v in self.options.items() if k != "metadata"}
        circuit = unit_input(self.circuits, unit)

        async def create_once() -> Job:
            unit.token_at = time.time()
            if unit.first_at is None:
                unit.first_at = unit.token_at
            if self.journal is not None:
                await self.journal.record_token(
                    TokenRecord(
                        unit=unit.number, indices=unit.indices, token=token, at=unit.token_at
                    )
                )
            return await self.throttle.call(
                self.client.submit, circuit, metadata=metadata, **options
            )

        async def look_up(error: TransportError | ServerError) -> Job | None:
            if not is_ambiguous(error):
                return None  # a 429 or a connection never opened: nothing was created
            found = await self.resolver.find(token, unit.token_at)
            if found is None:
                # The answer may be lost while the server is still storing the job: give it
                # a grace period before sending the circuit again.
                await anyio.sleep(LATE_STORE_GRACE_S)
                found = await self.resolver.find(token, unit.first_at or unit.token_at)
            if found is not None:
                logger.debug("unit %d: job %s found by token", unit.number, found.id)
                return found
            # Sent again with the same token; a first attempt stored later still is watched
            # for (and canceled) by _watch_for_duplicates / _cancel_duplicates.
            unit.resent = True
            return None

        return await self._patiently(create_once, after_failure=look_up)

    async def _patiently(
        self,
        once: Callable[[], Awaitable[T]],
        *,
        after_failure: Callable[[TransportError | ServerError], Awaitable[T | None]] | None = None,
        patience: int = 1,
    ) -> T:
        """``once()`` again after failures, with one count of attempts shared with the transport.

        The budget is ``patience`` times the client's ``max_attempts``; the transport counts
        its own tries into it (:class:`~ionq_async._retry.Attempts`), so the two never
        multiply. A 429 while other requests of the client are served costs an eighth of an
        attempt (the server is rationing, not refusing). 5xx and connection failures first
        ask ``after_failure`` (job creation looks its token up there, counting nothing; an
        answer ends the loop), then back off.
        """
        policy = self.client.retry_policy
        attempts = Attempts(
            patience * max(1, policy.max_attempts),
            rationed_cost=1 / _RATIONED_ROUNDS_PER_ATTEMPT,
        )
        with counting(attempts):
            while True:
                made_before = attempts.made
                try:
                    return await once()
                except RateLimitError as error:
                    # The server asks for a wait no request of the policy would make: asking
                    # again would only collect the same refusal.
                    if retry_after_beyond_budget(error.retry_after, policy):
                        raise
                    self._count_if_uncounted(attempts, made_before)
                    if attempts.spent:
                        raise
                    # No sleep of our own: the 429 closed the transport's gate for its
                    # Retry-After, and the next attempt waits there with every other request.
                except (TransportError, ServerError) as error:
                    self._count_if_uncounted(attempts, made_before)
                    if after_failure is not None:
                        with counting(None):
                            found = await after_failure(error)
                        if found is not None:
                            return found
                    if attempts.spent:
                        raise
                    await anyio.sleep(_create_backoff_s(self.client, math.ceil(attempts.made)))

    def _count_if_uncounted(self, attempts: Attempts, made_before: float) -> None:
        # Every failure reaching here came from a try the transport counted; should one
        # not have been counted, count it here, so the loop cannot go on for ever.
        if attempts.made <= made_before:
            attempts.made = made_before + 1.0

    # -- finishing --------------------------------------------------------------------------------

    async def _fetch(
        self, function: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """A GET for a finished job, twice as patient as any one request.

        The job is done on the server: a 429, 5xx or lost connection must not turn it into
        a failed outcome while the client's retry budget, taken twice, is not spent.
        """
        return await self._patiently(
            lambda: self.throttle.call(function, *args, **kwargs), patience=FETCH_PATIENCE
        )

    def _on_rate_limited(self, limiting: bool) -> None:
        # Shrink only when 429s are a real share of the answers (a server limiting our
        # rate), as the pacer does: halving for each odd 429 a server sends whatever the
        # rate would hold a batch near one creation in flight.
        if limiting:
            self.limiter.on_rate_limited()

    def _on_terminal(self, key: int, job: Job) -> None:
        assert self._finish_send is not None
        self._finish_send.send_nowait((key, job))

    def _on_poll_error(self, key: int, error: IonQError) -> None:
        assert self._finish_send is not None
        self._finish_send.send_nowait((key, error))

    async def _finish_with_error(self, key: int, error: IonQError) -> None:
        unit = self.units[key]
        for index in unit.indices:
            await self._emit(index, unit.job, None, error)
        self._unit_finished(unit)

    async def _finish(self, key: int, job: Job) -> None:
        unit = self.units[key]
        unit.job = job
        packed = len(unit.indices) > 1
        try:
            if packed and job.status is not JobStatus.COMPLETED:
                # One bad circuit fails the whole parent: ask each child what became of it.
                await self._finish_children(unit, job)
            elif job.status is JobStatus.FAILED:
                await self._emit_all(unit, job, JobFailed(job))
            elif job.status is JobStatus.CANCELED:
                await self._emit_all(unit, job, JobCanceled(job))
            elif packed:
                await self._finish_packed(unit, job)
            else:
                index = unit.indices[0]
                try:
                    probabilities = await self._fetch(
                        self.client._probabilities, job, num_qubits=self._width(index, job)
                    )
                except InvalidRequestError as error:
                    # Raised for what the job's own answer says (a parent, a dry run), not
                    # for anything the caller passed: this circuit's outcome, not the batch's.
                    await self._emit(index, job, None, error)
                else:
                    result = Result(
                        job=job,
                        probabilities=probabilities,
                        shots=self._shots(job),
                        readout=self._readout(index),
                    )
                    await self._emit(index, job, result, None)
        except FATAL_ERRORS:
            raise
        except IonQError as error:
            await self._emit_all(unit, job, error)
        self._unit_finished(unit)

    async def _children_of(self, unit: Unit, job: Job) -> list[str]:
        children = list(job.child_job_ids or ())
        if len(children) != len(unit.indices):
            # List items leave child_job_ids out; the job itself has them.
            children = list((await self._fetch(self.client.get_job, job.id)).child_job_ids or ())
        if len(children) != len(unit.indices):
            raise ResponseError(
                f"job {job.id} has {len(children)} children for {len(unit.indices)} circuits"
            )
        return children

    async def _finish_children(self, unit: Unit, parent: Job) -> None:
        """Outcomes of a failed or canceled parent, one per child as if run alone."""
        error_of_parent: IonQError = (
            JobFailed(parent) if parent.status is JobStatus.FAILED else JobCanceled(parent)
        )
        children = await self._children_of(unit, parent)
        states = {listed.id: listed for listed in await self._fetch(self._children_listed, parent)}
        for index, child_id in zip(unit.indices, children, strict=True):
            child = states.get(child_id)
            if child is None:
                await self._emit(index, parent, None, error_of_parent)
            elif child.status is JobStatus.CANCELED:
                await self._emit(index, parent, None, JobCanceled(child))
            elif child.status is JobStatus.FAILED:
                await self._emit(index, parent, None, JobFailed(child))
            elif child.status is JobStatus.COMPLETED:
                try:
                    # The circuit's own width, as _child_job gives it.
                    probabilities = await self._fetch(
                        self.client._probabilities, child, num_qubits=self._width(index, child)
                    )
                except InvalidRequestError as error:
                    # The child's answer calls it a parent or a dry run: its own outcome.
                    await self._emit(index, parent, None, error)
                except FATAL_ERRORS:
                    raise
                except IonQError as error:
                    note_finished_job(error, child)
                    await self._emit(index, parent, None, error)
                else:
                    shots = self._shots(parent)
                    result = Result(
                        job=child,
                        probabilities=probabilities,
                        shots=shots,
                        readout=self._readout(index),
                    )
                    await self._emit(index, parent, result, None)
            else:
                await self._emit(index, parent, None, error_of_parent)

    async def _children_listed(self, parent: Job) -> list[Job]:
        return [job async for job in self.client.jobs(parent_job_id=parent.id, page_size=1000)]

    def _width(self, index: int, job: Job) -> int | None:
        """The width results of circuit ``index`` are checked against: the circuit's as sent
        (trusted over the answer's ``stats``), else the job's own."""
        if self.circuits:
            return input_width(self.circuits[index])
        return job_width(job)

    def _readout(self, index: int) -> Readout | None:
        """The readout of circuit ``index`` as sent (its results are keyed by it)."""
        if not self.circuits:
            return None
        readout = getattr(self.circuits[index], "readout", None)
        return readout if isinstance(readout, Readout) else None

    def _shots(self, job: Job) -> int | None:
        """The job's shots as its answer gives them, else as asked; ResponseError if < 1."""
        if job.shots is not None:
            if job.shots < 1:
                raise ResponseError(f"job {job.id} reports {job.shots} shots", body=job.shots)
            return job.shots
        shots = self.options.get("shots")
        # NumPy integers too (numbers.Integral), as submit() accepts them.
        if isinstance(shots, numbers.Integral) and not isinstance(shots, bool):
            return int(shots)
        return None

    async def _emit_all(self, unit: Unit, job: Job | None, error: IonQError) -> None:
        for index in unit.indices:
            await self._emit(index, job, None, error)

    async def _finish_packed(self, unit: Unit, job: Job) -> None:
        # Each child's answer is read on its own: a bad one fails its circuit alone.
        by_child = await self._fetch(self.client._child_probabilities, job)
        children = list(job.child_job_ids or ())
        if len(children) != len(unit.indices):
            # The aggregated answer lists children in circuit order (as qiskit and cirq
            # rely on); ask the parent only if the count does not match.
            if len(by_child) == len(unit.indices):
                children = list(by_child)
            else:
                children = await self._children_of(unit, job)
        shots = self._shots(job)
        for index, child_id in zip(unit.indices, children, strict=True):
            answer = by_child.get(child_id)
            if isinstance(answer, ResponseError):
                await self._emit(index, job, None, answer)
                continue
            if answer is not None:
                child = self._child_job(job, child_id, index)
                try:
                    # The circuit's own width: the parent's is the widest circuit's.
                    width = child.stats.qubits if child.stats is not None else None
                    validate_probabilities(answer, num_qubits=width, job_id=child_id)
                except ResponseError as invalid:
                    await self._emit(index, job, None, invalid)
                else:
                    result = Result(
                        job=child, probabilities=answer, shots=shots, readout=self._readout(index)
                    )
                    await self._emit(index, job, result, None)
                continue
            error: IonQError
            try:
                child = await self._fetch(self.client.get_job, child_id)
            except FATAL_ERRORS:
                raise
            except IonQError as lookup_error:
                error = lookup_error
            else:
                if child.status is JobStatus.FAILED:
                    error = JobFailed(child)
                elif child.status is JobStatus.CANCELED:
                    error = JobCanceled(child)
                else:
                    error = ResponseError(f"no probabilities for child job {child_id}")
            await self._emit(index, job, None, error)

    def _child_job(self, parent: Job, child_id: str, index: int) -> Job:
        """The child job of a completed pack that ran circuit ``index``, without asking.

        Its width is the circuit's own (the parent's is the widest circuit's), so the
        result's bitstrings are as long as they would be had the circuit run alone.
        """
        circuit = as_circuit(self.circuits[index])
        return Job(
            id=child_id,
            status=JobStatus.COMPLETED,
            type=CIRCUIT_TYPE,
            backend=parent.backend,
            name=circuit.name,
            parent_job_id=parent.id,
            session_id=parent.session_id,
            shots=parent.shots,
            noise=parent.noise,
            submitted_at=parent.submitted_at,
            completed_at=parent.completed_at,
            stats=JobStats(qubits=circuit.num_qubits, circuits=1),
        )

    async def _emit(
        self, index: int, job: Job | None, result: Result | None, error: IonQError | None
    ) -> None:
        """Deliver one circuit's outcome to the consumer's stream, then count it.

        An outcome counts (in progress and towards the end of the batch) only once the
        stream holds it. Counting before the send let the batch end, and cancel sends
        still waiting behind a slow consumer, as soon as the *last count* was made: the
        first send to finish after it set ``all_done`` while others were still queued, and
        their outcomes were lost. Now the batch ends when the last delivery is made.
        """
        if index in self._emitted:
            return
        self._emitted.add(index)
        circuit = self.circuits[index] if self.circuits else None
        name = circuit_name(circuit) if circuit is not None else (job.name if job else None)
        outcome = Outcome(
            index=index,
            name=name,
            circuit=circuit,
            job=job,
            result=result,
            error=error,
            duplicates_canceled=self._duplicates_of.get(index, ()),
        )
        if error is not None:
            note_finished_job(error, job)
        try:
            await self.send.send(outcome)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            # The consumer is gone: nobody wants the rest.
            if self.group is not None:
                self.group.cancel_scope.cancel()
            return
        except BaseException:
            # Cancelled before the stream took it (the batch is stopping or timed out):
            # not delivered, so not emitted; a timeout gives this circuit its outcome.
            self._emitted.discard(index)
            raise
        if index in self._submitted_indices:
            self.waiting -= 1
        if error is None:
            self.completed += 1
        else:
            self.failed += 1
        self.remaining -= 1
        self._changed()
        if self.remaining <= 0:
            self.all_done.set()

    def _unit_finished(self, unit: Unit) -> None:
        if unit.number not in self.finished_units:
            self.finished_units.add(unit.number)
            self.in_flight.release()


def note_finished_job(error: IonQError, job: Job | None) -> None:
    """Say where a completed job's results are when only fetching them failed."""
    if job is None or job.status is not JobStatus.COMPLETED:
        return
    if isinstance(error, JobFailed | JobCanceled):
        # A completed parent whose circuit's own child job failed: nothing to fetch.
        return
    if job.is_parent:
        how = f"client.aggregated_probabilities({job.id!r})"
    else:
        how = f"client.result({job.id!r})"
    note = f"job {job.id} completed on the server: {how} fetches it later"
    if note not in getattr(error, "__notes__", ()):
        error.add_note(note)


_RATIONED_ROUNDS_PER_ATTEMPT = 8
"""429s while other requests are served that count as one attempt."""

FETCH_PATIENCE: Final = 2
"""A finished job's results get the client's retry budget this many times over."""


def _create_backoff_s(client: BatchAPI, attempt: int) -> float:
    # The client's own retry policy (tests set it to zero) paces re-sent creations.
    policy = client.retry_policy
    return backoff_s(attempt, policy, random.Random())
