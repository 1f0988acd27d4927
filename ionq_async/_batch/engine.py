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
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Final, ParamSpec, TypeVar

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._failures import is_transient_failure
from .._flow import AdaptiveLimiter, Throttle
from .._journal import Journal, TokenRecord
from .._limits import CIRCUIT_TYPE
from .._retry import Attempts, backoff_s, counting, retry_after_beyond_budget
from .._spend import _CENT as BUDGET_SLACK
from .._spend import Spend, record_cost
from ..exceptions import (
    BatchTimeoutError,
    BudgetExceededError,
    CircuitError,
    ConfigurationError,
    InvalidRequestError,
    IonQError,
    JobCanceled,
    JobFailed,
    JournalError,
    RateLimitError,
    ResponseError,
    ServerError,
    TransportError,
    WaitTimeoutError,
)
from ..models import Job, JobStats, JobStatus, Money
from ..readout import Readout
from ..results import Result, job_width, validate_probabilities
from . import values
from .api import BatchAPI
from .intake import CircuitIntake, Intake
from .planning import (
    InputReader,
    Item,
    Packer,
    Unit,
    as_circuit,
    batch_fingerprint,
    input_width,
    known_length,
    pack_size,
    token_lookups,
    unit_digest,
    unit_input,
)
from .poller import MAX_POLL_FAILURE_S, Poller
from .pricing import (
    Pricer,
    budget_amount,
    check_budget,
    estimate_batch,
    is_free_backend,
    unit_shape,
)
from .tokens import TokenResolver, is_ambiguous
from .values import (
    FATAL_ERRORS,
    TOKEN_METADATA_KEY,
    BatchProgress,
    Outcome,
    PackLimits,
)

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
        circuits: Iterable[Any] | AsyncIterable[Any] | None,
        jobs: Sequence[Job | str] | None,
        options: Mapping[str, Any],
        intake: Intake | None = None,
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
        memory: bool = False,
        max_cost: float | Money | None = None,
        retry_failed: int = 0,
        client_spend: Spend | None = None,
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
        self.memory = memory
        if isinstance(retry_failed, bool) or not isinstance(retry_failed, int) or retry_failed < 0:
            raise ConfigurationError(f"retry_failed must be an integer >= 0, got {retry_failed!r}")
        self.retry_failed = retry_failed
        self.max_cost = max_cost
        self.budget: float | None = None if max_cost is None else budget_amount(max_cost)[0]
        self.budget_reached = False
        # The batch's costs: each unit carries its own (estimate, billed cost) and these
        # sums follow them. A record per job in a Spend kept 300 bytes a job for the whole
        # batch, and summing it for every progress report was O(jobs) each time.
        self.currency: str | None = None
        self.estimated_cost = 0.0
        self.actual_cost = 0.0
        self.committed_cost = 0.0  # actual costs where billed, estimates elsewhere
        self.client_spend = client_spend
        self.pricer = Pricer(client.estimate)
        self.source = circuits
        self.client = client
        self.reader = InputReader(circuits) if circuits is not None else None
        self.intake: Intake = intake if intake is not None else CircuitIntake()
        self.given_jobs: Sequence[Job | str] | None = jobs
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
        self.total: int | None = known_length(circuits) if jobs is None else len(jobs)
        # Circuits read and not yet delivered, and units whose job has not finished: what
        # the batch holds at any time (bounded by the slots, whatever the input's size).
        self.held: dict[int, Item] = {}
        self.units: dict[int, Unit] = {}
        # Read from its module when the batch starts (tests set it there).
        self.slots = anyio.Semaphore(max(values.MAX_HELD_CIRCUITS, max_in_flight))
        self.input_done = False
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
        self._next_unit = 0

    def _mark_submitted(self, unit: Unit) -> None:
        self.submitted += len(unit.items)
        self.waiting += len(unit.items)
        for item in unit.items:
            item.submitted = True

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
            estimated_cost=self.estimated_cost,
            actual_cost=self.actual_cost,
        )

    def _set_cost(
        self,
        unit: Unit,
        estimated: float | None,
        actual: float | None,
        currency: str | None,
    ) -> None:
        """Set a unit's estimate and billed cost (None: unknown), and the sums with them."""
        for amount in (estimated, actual):
            if amount is not None and not (math.isfinite(amount) and amount >= 0):
                # What the server said, about one job: that job's problem, not the batch's.
                raise ResponseError(
                    f"the server priced job {unit.job_id or 'to be created'} at {amount!r}, "
                    "not a finite amount >= 0"
                )
        if currency is not None:
            if self.currency is None:
                self.currency = currency
            elif currency != self.currency:
                raise ResponseError(
                    f"a cost in {currency!r} among costs in {self.currency!r}: amounts in "
                    "different units are not summed"
                )
        for sign, (old_estimate, old_actual) in (
            (-1.0, (unit.estimated, unit.actual)),
            (1.0, (estimated, actual)),
        ):
            self.estimated_cost += sign * (old_estimate or 0.0)
            self.actual_cost += sign * (old_actual or 0.0)
            committed = old_actual if old_actual is not None else (old_estimate or 0.0)
            self.committed_cost += sign * committed
        unit.estimated, unit.actual = estimated, actual

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
                if self.cancel_remote and (self.held or self.units):
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
        for index in sorted(self.held):
            owner = self.held[index].unit
            job: Job | None = None
            error: IonQError
            if owner is not None and owner.job_id is not None:
                job = self._last_known(owner)
                assert job is not None
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
        # The input not read yet: read (not converted, never sent), one outcome each.
        while self.reader is not None:
            index = self.reader.read
            try:
                more, raw = await self.reader.next()
            except Exception:  # the input broke: nothing more to give outcomes to
                break
            if not more:
                break
            self.held[index] = self.intake.unprepared(index, raw)
            await self._emit(index, None, None, BatchTimeoutError(index, timeout_s))
        self._input_ended()

    async def _work(self, finished: MemoryObjectReceiveStream[Finished]) -> None:
        async with anyio.create_task_group() as group:
            self.group = group
            group.start_soon(self.poller.run)
            # A few finishers fetch the results of the jobs that end: 10,000 jobs ending
            # at once wait as 10,000 small tuples, not as 10,000 tasks.
            for _ in range(FINISHERS):
                group.start_soon(self._finisher, finished)
            if self.given_jobs is not None:
                await self._feed_jobs()
            else:
                await self._feed_circuits()
            self._input_ended()
            await self.all_done.wait()
            group.cancel_scope.cancel()

    def _input_ended(self) -> None:
        """The whole input is read: the batch ends with its last delivery."""
        self.input_done = True
        if self.reader is not None:
            self.total = self.reader.read
        if not self.held:
            self.all_done.set()

    async def _watch_for_duplicates(self, unit: Unit) -> None:
        """After a re-send, look for a first attempt stored late, a few times, and cancel it."""
        delay = LATE_STORE_GRACE_S
        for _ in range(DUPLICATE_WATCHES):
            await anyio.sleep(delay)
            if unit.finished:
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
            unit.duplicates = (*unit.duplicates, job.id)
            self.duplicates_canceled += 1
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
            unit = self.units.get(key)
            if unit is None:
                continue  # already finished
            if unit.resent:
                # One last look before the outcome is made, so that it can name them.
                await self._cancel_duplicates(unit)
            if isinstance(item, Job):
                await self._finish(key, item)
            else:
                await self._finish_with_error(key, item)
            # A finisher waiting for the next job must not keep this one's circuits alive
            # (64 finishers holding a pack of 5,000 each would be 320,000 circuits).
            del unit, item

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
            for unit in self.units.values()
            if unit.token is not None and unit.job_id is None and not unit.finished
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
        assert self.given_jobs is not None
        seen: dict[str, int] = {}
        for index, given in enumerate(self.given_jobs):
            job_id = given.id if isinstance(given, Job) else str(given)
            first = seen.setdefault(job_id, index)
            if first != index:
                # One job waited for under two indices: the second would replace the
                # first in the poller, whose outcome would then never come.
                raise InvalidRequestError(
                    f"job {job_id} is given twice (at {first} and {index}); give each job once"
                )
            item = Item(index, None, None)
            self.held[index] = item
            unit = Unit(index, [item])
            self.units[index] = unit
            await self.in_flight.acquire()
            self._mark_submitted(unit)
            if isinstance(given, Job):
                unit.job_id, unit.job = given.id, given
                if given.is_terminal:
                    self._on_terminal(index, given)
                    continue
                self.poller.add(index, given.id, given, immediate=True)
            else:
                unit.job_id = str(given)
                self.poller.add(index, unit.job_id, None, immediate=True)
        self._changed()

    # -- run_many: circuits ---------------------------------------------------------------------

    async def _feed_circuits(self) -> None:
        """Read the input as there is room, make units of it and start their submissions.

        One slot per circuit read and not yet delivered bounds what the batch holds; an
        item that cannot be made into a circuit (or, packed, is invalid) gets its error
        outcome at once and the batch goes on.
        """
        assert self.reader is not None
        if self.budget is not None and isinstance(self.source, Sequence):
            await self._check_budget_up_front(self.source)
        if self.journal_path is not None:
            await self._open_journal()
        packer = Packer(self.pack_limits) if self.pack_limits is not None else None
        while True:
            await self.slots.acquire()
            index = self.reader.read
            try:
                more, raw = await self.reader.next()
            except Exception as error:
                # The input itself broke (a generator raised): its item's outcome says so,
                # and what was read before still runs to its end.
                failure = CircuitError(f"reading item {index} of the input failed: {error!r}")
                failure.__cause__ = error
                await self._emit(self._hold(Item(index, None, None)), None, None, failure)
                break
            if not more:
                self.slots.release()
                break
            try:
                item = self.intake.prepare(index, raw)
            except CircuitError as error:
                await self._emit(self._hold(self.intake.unprepared(index, raw)), None, None, error)
                continue
            self._hold(item)
            if packer is None:
                await self._dispatch([item])
                continue
            try:
                parsed = as_circuit(item.sent)
                parsed.validate()
            except CircuitError as error:
                await self._emit(index, None, None, error)
                continue
            full = packer.add(item, pack_size(parsed))
            if full is not None:
                await self._dispatch(full)
        if packer is not None and (rest := packer.flush()) is not None:
            await self._dispatch(rest)

    def _price_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.options.items() if k not in ("backend", "shots")}

    async def _check_budget_up_front(self, circuits: Sequence[Any]) -> None:
        """A whole input known up front is priced first: over the budget, the batch raises
        BudgetExceededError (carrying the estimate) before any job is created."""
        assert self.max_cost is not None
        estimate = await estimate_batch(
            self.client.estimate,
            circuits,
            backend=self.backend,
            shots=self.options.get("shots"),
            pack=self.pack_limits if self.pack_limits is not None else False,
            compare_mitigation=False,
            pricer=self.pricer,
            **self._price_options(),
        )
        check_budget(estimate, self.max_cost)

    async def _within_budget(self, unit: Unit, *, check: bool = True) -> bool:
        """Price the unit's job (free backends ask nothing) and reserve its estimate; False,
        with each of its circuits given a BudgetExceededError, if creating it would take the
        committed cost (actual costs where known, estimates elsewhere) over the budget."""
        if is_free_backend(self.backend):
            return True  # the simulator costs nothing: no request, no reservation
        settings = self.options.get("settings")
        mitigation = self.options.get("debiasing")
        if mitigation is None and isinstance(settings, Mapping):
            debiasing = (settings.get("error_mitigation") or {}).get("debiasing")
            mitigation = debiasing if isinstance(debiasing, bool) else None
        try:
            shape = unit_shape(
                [item.sent for item in unit.items],
                backend=self.backend,
                shots=self.options.get("shots"),
                error_mitigation=mitigation if isinstance(mitigation, bool) else None,
            )
        except (IonQError, TypeError, ValueError):
            return True  # a circuit submit() refuses: its own error is its outcome
        try:
            cost, currency, _ = await self.pricer.price(shape)
        except FATAL_ERRORS:
            raise
        except IonQError as error:
            if self.budget is None or not check:
                # Only the cost figures need the price: the job goes ahead (or exists).
                logger.warning(
                    "pricing job %d failed (its cost is not tracked): %r", unit.number, error
                )
                return True
            # A budget cannot be kept for a job whose price is unknown: not created.
            error.add_note(
                "with max_cost set, a job whose price cannot be estimated is not created"
            )
            for item in unit.items:
                await self._emit(item.index, None, None, error)
            self.units.pop(unit.number, None)
            return False
        if (
            check
            and self.budget is not None
            and cost > 0
            # Spend.would_cross's rule on the running sum (it sums every record: O(jobs)
            # for every job of a batch with a budget).
            and (self.budget_reached or self.committed_cost + cost > self.budget + BUDGET_SLACK)
        ):
            self.budget_reached = True
            for item in unit.items:
                refused = BudgetExceededError(
                    self.budget,
                    committed=self.committed_cost,
                    next_cost=cost,
                    currency=currency,
                    index=item.index,
                )
                await self._emit(item.index, None, None, refused)
            self.units.pop(unit.number, None)
            return False
        if cost > 0:
            self._set_cost(unit, cost, unit.actual, currency)
        return True

    def _hold(self, item: Item) -> int:
        item.holds_slot = True
        self.held[item.index] = item
        return item.index

    async def _dispatch(self, items: list[Item]) -> None:
        """Make a unit of ``items`` and start it: submit it, or resume it from the journal."""
        unit = Unit(self._next_unit, items)
        self._next_unit += 1
        self.units[unit.number] = unit
        assert self.group is not None
        if self.journal is not None:
            state = self.journal.state
            record = state.tokens.pop(unit.number, None)
            if record is not None:
                if record.indices != unit.indices or record.digest != unit_digest(unit):
                    raise JournalError(
                        f"journal {self.journal.path}: job {unit.number} of the batch "
                        f"(circuits {unit.indices[0]}..{unit.indices[-1]}) differs from the "
                        "one it recorded: the input changed since (resume with the same "
                        "circuits in the same order, or give this batch a new journal path)"
                    )
                unit.token, unit.token_at = record.token, record.at
                unit.resumed_token = True
                # Made (or maybe made) before the crash: its price counts, whatever the budget.
                await self._within_budget(unit, check=False)
                job_id = state.job_ids.pop(unit.number, None)
                await self.in_flight.acquire()
                if job_id is not None:
                    # Created before the crash: wait for it.
                    unit.job_id = job_id
                    self._mark_submitted(unit)
                    self._changed()
                    self.poller.add(unit.number, job_id, None, immediate=True)
                else:
                    # The crash came between sending and recording: look the token up
                    # before sending it again.
                    self.group.start_soon(self._resume, unit)
                return
        if not await self._within_budget(unit):
            return
        await self.in_flight.acquire()
        await self.limiter.acquire()
        self.group.start_soon(self._submit, unit)

    async def _open_journal(self) -> None:
        assert self.journal_path is not None
        batch = batch_fingerprint(self.options, self.pack_limits)
        # Locked for the batch's life (another run of it gets JournalError) and closed in
        # run()'s finally; a cancelled open closes the journal itself.
        self.journal = await Journal.open_async(self.journal_path, batch=batch)

    async def _resume(self, unit: Unit) -> None:
        """A unit whose creation was under way at a crash: adopt its job or create it."""
        assert unit.token is not None
        try:
            # Concurrent lookups of resumed units share sweeps.
            found = await self.resolver.find(unit.token, unit.token_at)
        except FATAL_ERRORS:
            raise
        except IonQError as error:
            error.add_note(
                f"resuming: job {unit.number}'s creation was under way at the crash and its "
                f"token {unit.token} could not be looked up; it may have made a job"
            )
            await self._emit_all(unit, None, error)
            self._unit_finished(unit)
            return
        if found is not None:
            await self._adopt(unit, found)
            return
        await self.limiter.acquire()
        await self._submit(unit)

    async def _adopt(self, unit: Unit, job: Job) -> None:
        # Only its id is kept: the poller has the job while it waits (see _last_known).
        unit.job_id = job.id
        if self.client_spend is not None and unit.estimated is not None:
            record_cost(
                self.client_spend, job.id, self.backend, estimated=unit.estimated, unit=None
            )
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
            if unit.job_id is None:
                self._set_cost(unit, None, None, None)  # a reservation that made no job
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
        circuit = unit_input(unit)

        async def create_once() -> Job:
            unit.token_at = time.time()
            if unit.first_at is None:
                unit.first_at = unit.token_at
            if self.journal is not None:
                await self.journal.record_token(
                    TokenRecord(
                        unit=unit.number,
                        indices=unit.indices,
                        token=token,
                        at=unit.token_at,
                        # Computed for the record, not kept: the unit may wait for hours.
                        digest=unit_digest(unit),
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
        job = self._last_known(unit, error)
        for index in unit.indices:
            await self._emit(index, job, None, error)
        self._unit_finished(unit)

    def _last_known(self, unit: Unit, error: IonQError | None = None) -> Job | None:
        """The unit's job for an outcome that ends it without a final answer.

        A job waited for is the poller's: the unit keeps its id alone (100,000 jobs in
        flight would be 100,000 Job objects held twice). The job is the one the batch was
        given (as_completed), else the one the error carries (the last the poller saw),
        else one naming its id, waiting.
        """
        if unit.job is not None:
            return unit.job
        if unit.job_id is None:
            return None
        carried = getattr(error, "job", None)
        if isinstance(carried, Job) and carried.id == unit.job_id:
            return carried
        return Job(id=unit.job_id, status=JobStatus.SUBMITTED, backend=self.backend)

    async def _finish(self, key: int, job: Job) -> None:
        unit = self.units[key]
        unit.job = job
        packed = len(unit.indices) > 1
        if job.status is JobStatus.FAILED and self._retry(unit, job):
            return
        try:
            await self._note_actual_cost(unit, job)
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
                item = unit.items[0]
                index = item.index
                try:
                    probabilities = await self._fetch(
                        self.client._probabilities, job, num_qubits=self._width(item, job)
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
                        readout=self._readout(item),
                        shot_states=await self._memory(job.id),
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
        for item, child_id in zip(unit.items, children, strict=True):
            index = item.index
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
                        self.client._probabilities, child, num_qubits=self._width(item, child)
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
                        readout=self._readout(item),
                        shot_states=await self._memory(child.id),
                    )
                    await self._emit(index, parent, result, None)
            else:
                await self._emit(index, parent, None, error_of_parent)

    async def _children_listed(self, parent: Job) -> list[Job]:
        return [job async for job in self.client.jobs(parent_job_id=parent.id, page_size=1000)]

    def _retry(self, unit: Unit, job: Job) -> bool:
        """Send a unit whose job failed transiently again (a new job, with a new token),
        while ``retry_failed`` allows; False for a permanent failure or retries spent."""
        if unit.attempts > self.retry_failed or not is_transient_failure(job):
            return False
        assert self.group is not None
        logger.info(
            "job %s failed with %s: sending its circuits again (retry %d of %d)",
            job.id,
            job.failure.code if job.failure is not None else "?",
            unit.attempts,
            self.retry_failed,
        )
        unit.attempts += 1
        unit.failed_jobs = (*unit.failed_jobs, job.id)
        unit.token = None
        unit.job_id = None
        unit.job = None
        unit.first_at = None
        unit.resent = False
        self.waiting -= len(unit.items)
        self.submitted -= len(unit.items)

        async def again() -> None:
            await self.limiter.acquire()
            await self._submit(unit)

        self.group.start_soon(again)
        return True

    async def _note_actual_cost(self, unit: Unit, job: Job) -> None:
        """With a budget, a finished QPU job's cost as billed (one request) replaces its
        estimate in the committed cost; simulator jobs cost nothing and ask nothing."""
        if self.budget is None or is_free_backend(self.backend):
            return
        cost = await self._fetch(self.client.cost, job)
        estimated = cost.estimated_cost
        billed = cost.cost if cost.cost is not None and not cost.dry_run else None
        if billed is not None and billed.unit != estimated.unit:
            raise ResponseError(
                f"a job's cost is in {billed.unit!r} but its estimate in {estimated.unit!r}"
            )
        self._set_cost(
            unit,
            estimated.value,
            billed.value if billed is not None else None,
            estimated.unit,
        )
        if self.client_spend is not None:
            actual = cost.cost.value if cost.cost is not None and not cost.dry_run else None
            record_cost(
                self.client_spend,
                job.id,
                self.backend,
                estimated=cost.estimated_cost.value,
                actual=actual,
                unit=cost.estimated_cost.unit,
            )
        self._changed()

    def _width(self, item: Item, job: Job) -> int | None:
        """The width the item's results are checked against: its circuit's as sent
        (trusted over the answer's ``stats``), else the job's own."""
        if item.sent is not None:
            return input_width(item.sent)
        return job_width(job)

    def _readout(self, item: Item) -> Readout | None:
        """The readout of the item's circuit as sent (its results are keyed by it)."""
        readout = getattr(item.sent, "readout", None)
        return readout if isinstance(readout, Readout) else None

    async def _memory(self, job_id: str) -> list[int] | None:
        """Every shot of a finished job, when the batch asked for memory (one request)."""
        if not self.memory:
            return None
        return await self._fetch(self.client.shots, job_id)

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
        for item, child_id in zip(unit.items, children, strict=True):
            index = item.index
            answer = by_child.get(child_id)
            if isinstance(answer, ResponseError):
                await self._emit(index, job, None, answer)
                continue
            if answer is not None:
                child = self._child_job(job, child_id, item)
                try:
                    # The circuit's own width: the parent's is the widest circuit's.
                    width = child.stats.qubits if child.stats is not None else None
                    validate_probabilities(answer, num_qubits=width, job_id=child_id)
                except ResponseError as invalid:
                    await self._emit(index, job, None, invalid)
                else:
                    try:
                        shot_states = await self._memory(child_id)
                    except FATAL_ERRORS:
                        raise
                    except IonQError as memory_error:
                        note_finished_job(memory_error, child)
                        await self._emit(index, job, None, memory_error)
                        continue
                    result = Result(
                        job=child,
                        probabilities=answer,
                        shots=shots,
                        readout=self._readout(item),
                        shot_states=shot_states,
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

    def _child_job(self, parent: Job, child_id: str, item: Item) -> Job:
        """The child job of a completed pack that ran the item's circuit, without asking.

        Its width is the circuit's own (the parent's is the widest circuit's), so the
        result's bitstrings are as long as they would be had the circuit run alone.
        """
        circuit = as_circuit(item.sent)
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
        item = self.held.get(index)
        if item is None or item.delivering:
            return  # delivered already, or being delivered
        item.delivering = True
        # A circuit's own name; a job made elsewhere (as_completed) goes by the job's.
        name = item.name if self.reader is not None or job is None else job.name
        outcome = Outcome(
            index=index,
            name=name,
            circuit=item.circuit,
            job=job,
            result=result,
            error=error,
            duplicates_canceled=item.unit.duplicates if item.unit is not None else (),
            parameters=item.parameters,
            attempts=item.unit.attempts if item.unit is not None else 1,
            failed_jobs=item.unit.failed_jobs if item.unit is not None else (),
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
            # not delivered, so still held; a timeout gives this circuit its outcome.
            item.delivering = False
            raise
        # Held until the stream has it: the batch ends with its last *delivery*, never
        # while a send still waits behind a slow consumer.
        del self.held[index]
        if item.submitted:
            self.waiting -= 1
        if error is None:
            self.completed += 1
        else:
            self.failed += 1
        if item.holds_slot:
            item.holds_slot = False
            self.slots.release()
        self._changed()
        if self.input_done and not self.held:
            self.all_done.set()

    def _unit_finished(self, unit: Unit) -> None:
        if not unit.finished:
            unit.finished = True
            self.units.pop(unit.number, None)
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
