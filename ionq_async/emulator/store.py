"""Jobs and sessions of the emulator and their lifecycle on an injectable clock.

A job's lifecycle is computed from the clock instead of timers: each job gets scheduled
times when it is created (``submitted -> ready -> started -> completed``), and its status
is read off those times whenever it is asked for. The simulation starts in a worker
thread (``runner.py``) the moment the job is accepted; a job reports ``completed`` only
once its scheduled completion time has passed *and* its simulation has finished. Tests
pass a :class:`~ionq_async.emulator.ManualClock` and advance it instead of sleeping.

The store holds records (``records.py``) and changes them; listing (``listing.py``),
JSON (``rendering.py``) and prices (``pricing.py``) live in their own modules.
"""

from __future__ import annotations

import heapq
import random
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from attrs import evolve

from ionq_async._limits import CIRCUIT_TYPE, MULTI_CIRCUIT_TYPE

from ._backends import BackendSpec
from ._validation import JobRequest
from .config import EmulatorConfig
from .listing import JobFilter, page_of_jobs
from .pricing import child_cost_usd, circuit_price_usd, debiased, job_cost_usd
from .records import (
    JobRecord,
    JobState,
    SessionRecord,
    SimulationOutcome,
    has_results,
    new_id,
)
from .runner import SimulationRunner, child_seed, job_seed, wait_for

__all__ = ["Conflict", "JobStore", "NotFound"]


class NotFound(Exception):
    """No such job or session (or its results are not ready)."""


class Conflict(Exception):
    """A request that names something the store cannot use (an ended session, ...)."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(problem)


class JobStore:
    """Every job and session of one emulator; safe to read from any thread."""

    def __init__(self, config: EmulatorConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self._lock = threading.RLock()
        self._jobs: dict[str, JobRecord] = {}
        self._seq_of: dict[str, int] = {}  # kept after deletion, so cursors stay valid
        self._sessions: dict[str, SessionRecord] = {}
        self._next_seq = 0
        self._queued: dict[str, list[float]] = {}  # start times of waiting jobs, per backend
        self._runner = SimulationRunner(
            workers=config.simulation_workers, max_qubits=config.max_simulated_qubits, clock=clock
        )
        self.jobs_created = 0

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Stop the worker threads; pending simulations are dropped."""
        self._runner.close()

    async def wait_for_simulations(self) -> None:
        """Wait (without blocking the loop) until every simulation started so far is done."""
        with self._lock:
            futures = [r.future for r in self._jobs.values() if r.future is not None]
        await wait_for(futures)

    def _timeline(
        self, backend: BackendSpec, now: float, seq: int, *, dry_run: bool, failed: bool
    ) -> dict[str, Any]:
        """The job's scheduled times (``ready_at``, ``started_at``, ``due_at``) and, when
        predictions carry an error, the times its answers predict.

        The queue model: all started jobs run side by side; a new job waits its backend's
        queue time plus ``queue_per_job_s`` per job already waiting on that backend.
        """
        config = self.config
        ready = now + config.scaled(config.submit_s)
        times: dict[str, Any] = {"ready_at": ready, "started_at": None}
        if failed:
            times["due_at"] = ready
            return times
        if dry_run:
            times["due_at"] = ready + config.scaled(config.dry_run_s)
            return times
        simulator = backend.is_simulator
        queue = config.simulator_queue_s if simulator else config.qpu_queue_s
        if config.queue_per_job_s:
            queue += config.queue_per_job_s * self._waiting_on(backend.name, now)
        run = config.run_s(seq, simulator=simulator)
        started = ready + config.scaled(queue)
        due = started + config.scaled(run)
        if config.queue_per_job_s:
            heapq.heappush(self._queued.setdefault(backend.name, []), started)
        times["started_at"] = started
        times["due_at"] = due
        if config.prediction_error:
            wait_factor, run_factor = config.prediction_factors(seq)
            predicted_start = ready + config.scaled(queue) * wait_factor
            times["predicted_start_at"] = predicted_start
            times["predicted_due_at"] = predicted_start + config.scaled(run) * run_factor
        return times

    def _waiting_on(self, backend: str, now: float) -> int:
        """Jobs on ``backend`` submitted and not started at ``now`` (for the queue model)."""
        starts = self._queued.setdefault(backend, [])
        while starts and starts[0] <= now:
            heapq.heappop(starts)
        return len(starts)

    def queue_estimate_s(self, backend: BackendSpec) -> float:
        """The queue time a new job on ``backend`` would wait (for backends and estimates)."""
        queue = self.config.simulator_queue_s if backend.is_simulator else self.config.qpu_queue_s
        if self.config.queue_per_job_s:
            with self._lock:
                queue += self.config.queue_per_job_s * self._waiting_on(backend.name, self.clock())
        return self.config.scaled(queue)

    def run_estimate_s(self, backend: BackendSpec) -> float:
        """The run time of a job on ``backend``."""
        run = self.config.simulator_run_s if backend.is_simulator else self.config.qpu_run_s
        return self.config.scaled(run)

    # ------------------------------------------------------------------ creating jobs

    def check_session(
        self, session_id: str | None, backend: str, cost: float | None = None
    ) -> None:
        """Raise Conflict unless a job (of ``cost`` USD, if given) may be submitted into
        this session: not ended, same backend, within its job count and cost limits."""
        if session_id is None:
            return
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise Conflict("session_id", f"no session {session_id!r}")
            if session.ended(self.clock()):
                raise Conflict("session_id", "the session has ended")
            if session.backend != backend:
                raise Conflict("backend", f"the session runs on {session.backend}")
            limit = session.job_count_limit
            if limit is not None and session.job_count >= limit:
                raise Conflict("session_id", f"the session's job count limit ({limit}) is reached")
            cost_limit = session.cost_limit
            if cost_limit is not None and cost is not None:
                spent = sum(
                    record.estimated_cost_usd
                    for record in self._jobs.values()
                    if record.session_id == session_id
                    and record.parent_id is None
                    and not record.dry_run
                )
                if spent + cost > float(cost_limit["value"]) + 1e-9:
                    raise Conflict(
                        "session_id",
                        f"the session's cost limit ({cost_limit['value']} "
                        f"{cost_limit['unit']}) would be exceeded: {spent:.2f} spent, "
                        f"this job {cost:.2f}",
                    )

    def _injected_failure(self, seq: int) -> tuple[str, str] | None:
        """The failure a seeded share of jobs gets (``job_failure_*`` in the config)."""
        transient = self.config.job_failure_transient
        permanent = self.config.job_failure_permanent
        if not transient and not permanent:
            return None
        draw = random.Random(f"{self.config.seed}:failure:{seq}").random()
        if draw < transient:
            return ("QuantumComputerError", "the trapped-ion system faulted during the run")
        if draw < transient + permanent:
            return ("TooManyGates", "the circuit has more gates than the system accepts")
        return None

    def create_job(self, request: JobRequest, *, submitter_id: str) -> JobRecord:
        """Store a new job (and its children) and start its simulations."""
        with self._lock:
            backend = request.backend
            prices = [
                circuit_price_usd(
                    backend,
                    shots=request.shots,
                    one_qubit_gates=spec.one_qubit_gates,
                    two_qubit_gates=spec.two_qubit_gates,
                )
                for spec in request.circuits
            ]
            job_cost = job_cost_usd(backend, prices, debiasing=debiased(request.settings))
            # A dry run costs nothing: it never counts against a session's cost limit.
            self.check_session(
                request.session_id, backend.name, cost=None if request.dry_run else job_cost
            )
            now = self.clock()
            seq = self._take_seq()
            if request.failure is None and not request.dry_run:
                injected = self._injected_failure(seq)
                if injected is not None:
                    request = evolve(request, failure=injected)
            times = self._timeline(
                backend, now, seq, dry_run=request.dry_run, failed=request.failure is not None
            )
            base_seed = job_seed(
                config_seed=self.config.seed, seq=seq, noise_seed=request.noise_seed
            )
            common: dict[str, Any] = {
                "backend": backend,
                "shots": request.shots,
                "noise_model": request.noise_model,
                "noise_seed": request.noise_seed,
                "settings": request.settings,
                "dry_run": request.dry_run,
                "session_id": request.session_id,
                "submitter_id": submitter_id,
                "failure": request.failure,
                "submitted_at": now,
            }
            record = JobRecord(
                id=new_id(now),
                seq=seq,
                type=request.type,
                name=request.name,
                metadata=request.metadata,
                qubits=request.qubits,
                circuits=len(request.circuits),
                one_qubit_gates=sum(s.one_qubit_gates for s in request.circuits),
                two_qubit_gates=sum(s.two_qubit_gates for s in request.circuits),
                estimated_cost_usd=job_cost,
                spec=request.circuits[0] if request.type != MULTI_CIRCUIT_TYPE else None,
                **common,
                **times,
            )
            self._store(record)
            if request.type == MULTI_CIRCUIT_TYPE:
                record.child_ids = []
                for index, (spec, price) in enumerate(zip(request.circuits, prices, strict=True)):
                    failure = request.failure or spec.failure
                    child_seq = self._take_seq()
                    times = self._timeline(
                        backend, now, child_seq, dry_run=request.dry_run, failed=failure is not None
                    )
                    child = JobRecord(
                        id=new_id(now),
                        seq=child_seq,
                        type=CIRCUIT_TYPE,
                        name=spec.name,
                        metadata=None,
                        qubits=spec.qubits,
                        circuits=1,
                        one_qubit_gates=spec.one_qubit_gates,
                        two_qubit_gates=spec.two_qubit_gates,
                        estimated_cost_usd=child_cost_usd(price),
                        parent_id=record.id,
                        spec=spec,
                        **{**common, **times, "failure": failure},
                    )
                    self._store(child)
                    record.child_ids.append(child.id)
                    self._runner.start(child, spec, child_seed(base_seed, index))
            else:
                self._runner.start(record, request.circuits[0], base_seed)
            if request.session_id is not None:
                session = self._sessions[request.session_id]
                session.job_count += 1
                if session.started_at is None:
                    session.started_at = now
            self.jobs_created += 1
            return record

    def _take_seq(self) -> int:
        self._next_seq += 1
        return self._next_seq

    def _store(self, record: JobRecord) -> None:
        self._jobs[record.id] = record
        self._seq_of[record.id] = record.seq

    # ------------------------------------------------------------------ reading state

    def get(self, job_id: str) -> JobRecord:
        """The stored job, or NotFound."""
        with self._lock:
            record = self._jobs.get(job_id)
        if record is None:
            raise NotFound(job_id)
        return record

    def records(self) -> list[JobRecord]:
        """Every stored job, oldest first."""
        with self._lock:
            return list(self._jobs.values())

    def _leaf_state(self, record: JobRecord, now: float) -> JobState:
        if record.canceled_at is not None:
            started = record.started_at
            if started is not None and started > record.canceled_at:
                started = None  # canceled while still queued
            return JobState(status="canceled", started_at=started, finished_at=record.canceled_at)
        if record.failure is not None:
            if now < record.ready_at:
                return JobState(status="submitted")
            return JobState(status="failed", finished_at=record.ready_at, failure=record.failure)
        if now < record.ready_at:
            return JobState(status="submitted")
        if record.dry_run:
            if now < record.due_at:
                return JobState(status="ready")
            return JobState(status="completed", finished_at=record.due_at)
        assert record.started_at is not None
        if now < record.started_at:
            return JobState(status="ready")
        future = record.future
        if now < record.due_at or future is None or not future.done():
            return JobState(status="started", started_at=record.started_at)
        finished = max(record.due_at, record.simulated_at or record.due_at)
        if future.cancelled():  # pragma: no cover - only on shutdown
            return JobState(
                status="failed",
                started_at=record.started_at,
                finished_at=finished,
                failure=("SystemCancel", "the emulator shut down"),
            )
        error = future.exception()
        if error is not None:
            code = getattr(error, "failure_code", "SimulationError")
            return JobState(
                status="failed",
                started_at=record.started_at,
                finished_at=finished,
                failure=(str(code), str(error) or type(error).__name__),
            )
        return JobState(
            status="completed",
            started_at=record.started_at,
            finished_at=finished,
            outcome=future.result(),
        )

    def _children(self, record: JobRecord) -> list[JobRecord]:
        return [self._jobs[c] for c in record.child_ids or () if c in self._jobs]

    def state(self, record: JobRecord, now: float | None = None) -> JobState:
        """The job's status and times at ``now`` (default: the clock)."""
        now = self.clock() if now is None else now
        with self._lock:
            if not record.is_parent:
                return self._leaf_state(record, now)
            if record.canceled_at is not None:
                return JobState(status="canceled", finished_at=record.canceled_at)
            states = [self._leaf_state(child, now) for child in self._children(record)]
        if not states:
            return JobState(status="canceled", finished_at=record.canceled_at or now)
        starts = [s.started_at for s in states if s.started_at is not None]
        started_at = min(starts) if starts else None
        if all(s.terminal for s in states):
            finished_at = max(s.finished_at or 0.0 for s in states)
            if all(s.status == "completed" for s in states):
                return JobState(status="completed", started_at=started_at, finished_at=finished_at)
            for index, s in enumerate(states):
                if s.status == "failed" and s.failure is not None:
                    code, message = s.failure
                    if record.failure is None:
                        message = f"circuit {index}: {message}"
                    return JobState(
                        status="failed",
                        started_at=started_at,
                        finished_at=finished_at,
                        failure=(code, message),
                    )
            return JobState(status="canceled", started_at=started_at, finished_at=finished_at)
        if any(s.status != "submitted" and s.status != "ready" for s in states):
            return JobState(status="started", started_at=started_at)
        if any(s.status == "ready" for s in states):
            return JobState(status="ready")
        return JobState(status="submitted")

    def status(self, job_id: str) -> str:
        """The job's status now."""
        return self.state(self.get(job_id)).status

    def outcomes(self, record: JobRecord) -> list[tuple[str, SimulationOutcome]]:
        """(job id, outcome) of a completed job, or of each child of a completed parent."""
        state = self.state(record)
        if not has_results(record, state):
            raise NotFound(record.id)
        if not record.is_parent:
            assert state.outcome is not None
            return [(record.id, state.outcome)]
        out = []
        now = self.clock()
        with self._lock:
            children = self._children(record)
        for child in children:
            child_state = self._leaf_state(child, now)
            if child_state.outcome is not None:
                out.append((child.id, child_state.outcome))
        return out

    # ------------------------------------------------------------------ changing jobs

    def cancel(self, job_id: str) -> str:
        """Cancel a job that has not finished; returns its status afterwards."""
        with self._lock:
            record = self.get(job_id)
            now = self.clock()
            state = self.state(record, now)
            if state.status == "completed" and self.config.cancel_completed == "cancel":
                pass
            elif state.terminal:
                return state.status
            for target in [record, *self._children(record)]:
                if target.canceled_at is None:
                    target_state = self.state(target, now)
                    if target_state.terminal and not (
                        target_state.status == "completed"
                        and self.config.cancel_completed == "cancel"
                    ):
                        continue
                    target.canceled_at = now
                    if target.future is not None:
                        target.future.cancel()
            return "canceled"

    def delete(self, job_id: str) -> None:
        """Delete a job (and a parent's children); later reads answer 404."""
        with self._lock:
            record = self.get(job_id)
            for child in self._children(record):
                self._drop(child)
            self._drop(record)

    def _drop(self, record: JobRecord) -> None:
        if record.future is not None:
            record.future.cancel()
        self._jobs.pop(record.id, None)

    # ------------------------------------------------------------------ listing

    def has_cursor(self, cursor: str) -> bool:
        """True if ``cursor`` names a job this store created."""
        with self._lock:
            return cursor in self._seq_of

    def list_jobs(
        self,
        wanted: JobFilter,
        *,
        ids: Iterable[str] | None = None,
        limit: int,
        cursor: str | None = None,
    ) -> tuple[list[JobRecord], str | None]:
        """One page of the jobs ``wanted`` picks (of ``ids`` if given), newest first, and
        the cursor of the next page (or None)."""
        now = self.clock()
        with self._lock:
            if ids is not None:
                wanted_ids = {i for i in ids}
                candidates = [self._jobs[i] for i in wanted_ids if i in self._jobs]
                candidates.sort(key=lambda r: r.seq, reverse=True)
            else:
                candidates = list(reversed(self._jobs.values()))
            return page_of_jobs(
                candidates,
                wanted,
                status_of=lambda record: self.state(record, now).status,
                limit=limit,
                below_seq=self._seq_of[cursor] if cursor is not None else None,
            )

    # ------------------------------------------------------------------ sessions

    def create_session(
        self,
        *,
        backend: str,
        creator_id: str,
        job_count_limit: int | None,
        duration_limit_min: float | None,
        cost_limit: dict[str, Any] | None,
    ) -> SessionRecord:
        """Open a session on ``backend``."""
        with self._lock:
            now = self.clock()
            session = SessionRecord(
                id=new_id(now),
                backend=backend,
                created_at=now,
                creator_id=creator_id,
                job_count_limit=job_count_limit,
                duration_limit_min=duration_limit_min,
                cost_limit=cost_limit,
            )
            self._sessions[session.id] = session
            return session

    def get_session(self, session_id: str) -> SessionRecord:
        """The session, or NotFound."""
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None:
            raise NotFound(session_id)
        return session

    def sessions(self) -> list[SessionRecord]:
        """Every session, newest first."""
        with self._lock:
            return list(reversed(self._sessions.values()))

    def end_session(self, session_id: str, *, ender_id: str) -> SessionRecord:
        """End a session (no-op if it has ended)."""
        with self._lock:
            session = self.get_session(session_id)
            if session.ended_at is None:
                now = self.clock()
                expiry = session.expires_at()
                session.ended_at = min(now, expiry) if expiry is not None else now
                session.ender_id = ender_id
            return session

    # ------------------------------------------------------------------ helpers for tests

    def iter_metadata(self) -> Iterator[Mapping[str, str]]:
        """The metadata of every stored job that has some."""
        for record in self.records():
            if record.metadata is not None:
                yield record.metadata
