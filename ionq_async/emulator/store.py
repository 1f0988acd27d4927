"""Jobs and sessions of the emulator, their lifecycle, and the job JSON the API returns.

A job's lifecycle is computed from the (injectable) clock instead of timers: each job
gets scheduled times when it is created (``submitted -> ready -> started ->
completed``), and its status is read off those times whenever it is asked for. The
simulation starts in a worker thread the moment the job is accepted; a job reports
``completed`` only once its scheduled completion time has passed *and* its simulation
has finished. Tests pass a :class:`ManualClock` and advance it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Literal

from attrs import define, field, frozen, validators

from ionq_async._converter import format_timestamp
from ionq_async._limits import CIRCUIT_TYPE, MULTI_CIRCUIT_TYPE
from ionq_async.results import counts_from_probabilities

from . import simulator
from ._backends import BackendSpec
from ._validation import CircuitSpec, JobRequest

__all__ = [
    "EmulatorConfig",
    "JobStore",
    "ManualClock",
    "SimulationOutcome",
]

_MIB: Final = 1024 * 1024
_ORGANIZATION_ID: Final = "6a1f1b5e-0c5e-4a8e-9b40-3d5e2f0c7a11"
_PROJECT_ID: Final = "1333d459-cf47-4a5e-acc1-8d4eb4f7b025"
_FORMAT_PROBABILITIES: Final = "ionq.result.probabilities.json.v1"
_FORMAT_AGGREGATE: Final = "ionq.result.probabilities-aggregate.json.v1"
_FORMAT_HISTOGRAM: Final = "ionq.result.histogram.json.v1"
_FORMAT_SHOTS: Final = "ionq.result.shots.json.v1"

ORGANIZATION_ID: Final = _ORGANIZATION_ID
PROJECT_ID: Final = _PROJECT_ID


class ManualClock:
    """A clock that only moves when told to: ``clock()`` reads it, ``advance(s)`` moves it.

    Time is in epoch seconds (it also stamps ``submitted_at`` and friends); it starts at
    2026-01-01T00:00:00Z unless given ``start``.
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self._lock = threading.Lock()
        self._now = float(start)

    def __call__(self) -> float:
        """The current time in epoch seconds."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds``; returns the new time."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        """Jump to ``now`` (epoch seconds), which must not be in the past."""
        with self._lock:
            if now < self._now:
                raise ValueError("a clock cannot go backwards")
            self._now = float(now)


def _non_negative(_instance: object, attribute: Any, value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative, got {value!r}")


@frozen(kw_only=True)
class EmulatorConfig:
    """How the emulator behaves: job durations, limits and API choices the docs leave open.

    Every duration is multiplied by ``time_scale`` (0 makes every job instant). The
    defaults finish ideal-simulator jobs within tens of milliseconds and give QPU jobs a
    few seconds of queue and run time.
    """

    time_scale: float = field(default=1.0, validator=_non_negative)
    submit_s: float = field(default=0.0, validator=_non_negative)
    simulator_queue_s: float = field(default=0.01, validator=_non_negative)
    simulator_run_s: float = field(default=0.02, validator=_non_negative)
    qpu_queue_s: float = field(default=2.0, validator=_non_negative)
    qpu_run_s: float = field(default=3.0, validator=_non_negative)
    dry_run_s: float = field(default=0.01, validator=_non_negative)
    seed: int = 0
    simulation_workers: int = field(default=2, validator=validators.ge(1))
    max_simulated_qubits: int = field(default=24, validator=validators.ge(1))
    qpu_max_shots: int = field(default=10_000, validator=validators.ge(1))
    cancel_completed: Literal["keep", "cancel"] = field(
        default="keep", validator=validators.in_(("keep", "cancel"))
    )
    """Cancelling a completed job: ``keep`` (a no-op answering its real status, as
    qiskit-ionq expects) or ``cancel`` (it becomes canceled, as cirq-ionq describes)."""
    null_next: Literal["null", "omit", "omit-for-cirq"] = field(
        default="omit-for-cirq", validator=validators.in_(("null", "omit", "omit-for-cirq"))
    )
    """The last page of ``GET /jobs``: send ``"next": null`` as the spec says, leave the key
    out, or leave it out only for cirq (whose ``list_jobs`` stops only on a missing key)."""
    default_page_size: int = field(default=25, validator=validators.ge(1))
    max_page_size: int = field(default=1000, validator=validators.ge(1))
    max_body_bytes: int = field(default=10 * _MIB, validator=validators.ge(1))

    def scaled(self, seconds: float) -> float:
        """A duration after ``time_scale``."""
        return seconds * self.time_scale


@frozen(kw_only=True)
class SimulationOutcome:
    """What a circuit's simulation produced: probabilities and a histogram over ``shots``."""

    probabilities: dict[int, float]
    histogram: dict[int, int]
    seed: int

    def shots(self) -> list[int]:
        """One measured basis state per shot, in a seeded random order."""
        out: list[int] = []
        for state, count in self.histogram.items():
            out.extend([state] * count)
        random.Random(self.seed).shuffle(out)
        return out


@frozen(kw_only=True)
class _State:
    status: str
    started_at: float | None = None
    finished_at: float | None = None
    failure: tuple[str, str] | None = None
    outcome: SimulationOutcome | None = None

    @property
    def terminal(self) -> bool:
        return self.status in ("completed", "failed", "canceled")


@define(kw_only=True)
class JobRecord:
    """One stored job (a single circuit, a multi-circuit parent, or one of its children)."""

    id: str
    seq: int
    type: str
    backend: BackendSpec
    name: str | None
    shots: int
    noise_model: str | None
    noise_seed: int | None
    settings: dict[str, Any]
    metadata: dict[str, str] | None
    dry_run: bool
    session_id: str | None
    submitter_id: str
    parent_id: str | None = None
    child_ids: list[str] | None = None
    qubits: int
    circuits: int
    one_qubit_gates: int
    two_qubit_gates: int
    failure: tuple[str, str] | None = None
    estimated_cost_usd: float = 0.0
    submitted_at: float
    ready_at: float
    started_at: float | None
    due_at: float
    canceled_at: float | None = None
    future: concurrent.futures.Future[SimulationOutcome] | None = None
    simulated_at: float | None = None

    @property
    def is_parent(self) -> bool:
        """True for a multi-circuit job with children."""
        return self.child_ids is not None


@define(kw_only=True)
class SessionRecord:
    """One session."""

    id: str
    backend: str
    created_at: float
    creator_id: str
    job_count_limit: int | None = None
    duration_limit_min: float | None = None
    cost_limit: dict[str, Any] | None = None
    started_at: float | None = None
    ended_at: float | None = None
    ender_id: str | None = None
    job_count: int = 0

    def expires_at(self) -> float | None:
        """When the session ends on its own, if it has a duration limit."""
        if self.duration_limit_min is None:
            return None
        return self.created_at + self.duration_limit_min * 60.0

    def ended(self, now: float) -> bool:
        """True once ended by request or by its duration limit."""
        expiry = self.expires_at()
        return self.ended_at is not None or (expiry is not None and now >= expiry)


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return format_timestamp(datetime.fromtimestamp(seconds, tz=UTC))


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _new_id(now: float) -> str:
    """A UUIDv7-shaped id: 48 bits of milliseconds, then random bits."""
    millis = int(now * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis << 80) | (0x7 << 76) | ((rand >> 68) & 0xFFF) << 64
    value |= (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def submitter_id_for(key_identity: str) -> str:
    """A stable 24-hex-digit submitter id for an API key identity (never the key)."""
    return hashlib.sha256(("submitter:" + key_identity).encode()).hexdigest()[:24]


def simulate(
    spec: CircuitSpec,
    *,
    backend: BackendSpec,
    noise_model: str | None,
    shots: int,
    seed: int,
    max_qubits: int,
) -> SimulationOutcome:
    """Run one circuit: exact probabilities on the ideal simulator, shots elsewhere."""
    circuit = spec.circuit
    if circuit is None:  # pragma: no cover - only runnable specs are simulated
        raise simulator.SimulationError("nothing to simulate")
    if spec.qubits > max_qubits:
        raise simulator.TooManyQubitsError(
            f"the emulator simulates at most {max_qubits} qubits; this circuit has {spec.qubits}"
        )
    gates, gateset = circuit.gates, circuit.gateset
    model = noise_model if backend.is_simulator else simulator.noise_model_for_backend(backend.name)
    if model is None or model == "ideal":
        probabilities = simulator.ideal_probabilities(spec.qubits, gates, gateset=gateset)
        if backend.is_simulator:
            histogram = counts_from_probabilities(probabilities, shots)
            return SimulationOutcome(probabilities=probabilities, histogram=histogram, seed=seed)
        histogram = _sample(probabilities, shots, seed)
    else:
        histogram = simulator.noisy_histogram(
            spec.qubits, gates, shots, model=model, seed=seed, gateset=gateset
        )
    histogram = {state: histogram[state] for state in sorted(histogram) if histogram[state]}
    probabilities = {state: count / shots for state, count in histogram.items()}
    return SimulationOutcome(probabilities=probabilities, histogram=histogram, seed=seed)


def _sample(probabilities: Mapping[int, float], shots: int, seed: int) -> dict[int, int]:
    states = sorted(probabilities)
    drawn = random.Random(seed).choices(states, [probabilities[s] for s in states], k=shots)
    counts: dict[int, int] = {}
    for state in drawn:
        counts[state] = counts.get(state, 0) + 1
    return counts


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
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.simulation_workers, thread_name_prefix="ionq-emulator-sim"
        )
        self.jobs_created = 0

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Stop the worker threads; pending simulations are dropped."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def wait_for_simulations(self) -> None:
        """Wait (without blocking the loop) until every simulation started so far is done."""
        with self._lock:
            futures = [r.future for r in self._jobs.values() if r.future is not None]
        pending = [asyncio.wrap_future(f) for f in futures if not f.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def _timeline(
        self, backend: BackendSpec, now: float, *, dry_run: bool, failed: bool
    ) -> tuple[float, float | None, float]:
        config = self.config
        ready = now + config.scaled(config.submit_s)
        if failed:
            return ready, None, ready
        if dry_run:
            return ready, None, ready + config.scaled(config.dry_run_s)
        if backend.is_simulator:
            queue, run = config.simulator_queue_s, config.simulator_run_s
        else:
            queue, run = config.qpu_queue_s, config.qpu_run_s
        started = ready + config.scaled(queue)
        return ready, started, started + config.scaled(run)

    def queue_estimate_s(self, backend: BackendSpec) -> float:
        """The queue time a new job on ``backend`` would wait (for backends and estimates)."""
        queue = self.config.simulator_queue_s if backend.is_simulator else self.config.qpu_queue_s
        return self.config.scaled(queue)

    def run_estimate_s(self, backend: BackendSpec) -> float:
        """The run time of a job on ``backend``."""
        run = self.config.simulator_run_s if backend.is_simulator else self.config.qpu_run_s
        return self.config.scaled(run)

    # ------------------------------------------------------------------ creating jobs

    def check_session(self, session_id: str | None, backend: str) -> None:
        """Raise Conflict unless a job may be submitted into this session."""
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

    def create_job(self, request: JobRequest, *, submitter_id: str) -> JobRecord:
        """Store a new job (and its children) and start its simulations."""
        with self._lock:
            self.check_session(request.session_id, request.backend.name)
            now = self.clock()
            backend = request.backend
            ready, started, due = self._timeline(
                backend, now, dry_run=request.dry_run, failed=request.failure is not None
            )
            seq = self._take_seq()
            base_seed = (
                request.noise_seed
                if request.noise_seed is not None
                else (self.config.seed * 1_000_003 + seq) & 0x7FFFFFFF
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
                "ready_at": ready,
                "started_at": started,
                "due_at": due,
            }
            prices = [
                backend.price_usd(
                    shots=request.shots,
                    one_qubit_gates=spec.one_qubit_gates,
                    two_qubit_gates=spec.two_qubit_gates,
                )
                for spec in request.circuits
            ]
            total_price = sum(prices)
            if backend.is_qpu:
                total_price = max(total_price, backend.job_cost_minimum_usd)
            record = JobRecord(
                id=_new_id(now),
                seq=seq,
                type=request.type,
                name=request.name,
                metadata=request.metadata,
                qubits=request.qubits,
                circuits=len(request.circuits),
                one_qubit_gates=sum(s.one_qubit_gates for s in request.circuits),
                two_qubit_gates=sum(s.two_qubit_gates for s in request.circuits),
                estimated_cost_usd=round(total_price, 2),
                **common,
            )
            self._store(record)
            if request.type == MULTI_CIRCUIT_TYPE:
                record.child_ids = []
                for index, (spec, price) in enumerate(zip(request.circuits, prices, strict=True)):
                    failure = request.failure or spec.failure
                    ready, started, due = self._timeline(
                        backend, now, dry_run=request.dry_run, failed=failure is not None
                    )
                    times = {"ready_at": ready, "started_at": started, "due_at": due}
                    child = JobRecord(
                        id=_new_id(now),
                        seq=self._take_seq(),
                        type=CIRCUIT_TYPE,
                        name=spec.name,
                        metadata=None,
                        qubits=spec.qubits,
                        circuits=1,
                        one_qubit_gates=spec.one_qubit_gates,
                        two_qubit_gates=spec.two_qubit_gates,
                        estimated_cost_usd=round(price, 2),
                        parent_id=record.id,
                        **{**common, **times, "failure": failure},
                    )
                    self._store(child)
                    record.child_ids.append(child.id)
                    self._start_simulation(child, spec, (base_seed + index) & 0x7FFFFFFF)
            else:
                self._start_simulation(record, request.circuits[0], base_seed)
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

    def _start_simulation(self, record: JobRecord, spec: CircuitSpec, seed: int) -> None:
        if record.dry_run or record.failure is not None or spec.circuit is None:
            return
        future = self._executor.submit(
            simulate,
            spec,
            backend=record.backend,
            noise_model=record.noise_model,
            shots=record.shots,
            seed=seed,
            max_qubits=self.config.max_simulated_qubits,
        )

        def finished(_: concurrent.futures.Future[SimulationOutcome]) -> None:
            record.simulated_at = self.clock()

        record.future = future
        future.add_done_callback(finished)

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

    def _leaf_state(self, record: JobRecord, now: float) -> _State:
        if record.canceled_at is not None:
            started = record.started_at
            if started is not None and started > record.canceled_at:
                started = None  # canceled while still queued
            return _State(status="canceled", started_at=started, finished_at=record.canceled_at)
        if record.failure is not None:
            if now < record.ready_at:
                return _State(status="submitted")
            return _State(status="failed", finished_at=record.ready_at, failure=record.failure)
        if now < record.ready_at:
            return _State(status="submitted")
        if record.dry_run:
            if now < record.due_at:
                return _State(status="ready")
            return _State(status="completed", finished_at=record.due_at)
        assert record.started_at is not None
        if now < record.started_at:
            return _State(status="ready")
        future = record.future
        if now < record.due_at or future is None or not future.done():
            return _State(status="started", started_at=record.started_at)
        finished = max(record.due_at, record.simulated_at or record.due_at)
        if future.cancelled():  # pragma: no cover - only on shutdown
            return _State(
                status="failed",
                started_at=record.started_at,
                finished_at=finished,
                failure=("SystemCancel", "the emulator shut down"),
            )
        error = future.exception()
        if error is not None:
            code = getattr(error, "failure_code", "SimulationError")
            return _State(
                status="failed",
                started_at=record.started_at,
                finished_at=finished,
                failure=(str(code), str(error) or type(error).__name__),
            )
        return _State(
            status="completed",
            started_at=record.started_at,
            finished_at=finished,
            outcome=future.result(),
        )

    def _children(self, record: JobRecord) -> list[JobRecord]:
        return [self._jobs[c] for c in record.child_ids or () if c in self._jobs]

    def state(self, record: JobRecord, now: float | None = None) -> _State:
        """The job's status and times at ``now`` (default: the clock)."""
        now = self.clock() if now is None else now
        with self._lock:
            if not record.is_parent:
                return self._leaf_state(record, now)
            if record.canceled_at is not None:
                return _State(status="canceled", finished_at=record.canceled_at)
            states = [self._leaf_state(child, now) for child in self._children(record)]
        if not states:
            return _State(status="canceled", finished_at=record.canceled_at or now)
        starts = [s.started_at for s in states if s.started_at is not None]
        started_at = min(starts) if starts else None
        if all(s.terminal for s in states):
            finished_at = max(s.finished_at or 0.0 for s in states)
            if all(s.status == "completed" for s in states):
                return _State(status="completed", started_at=started_at, finished_at=finished_at)
            for index, s in enumerate(states):
                if s.status == "failed" and s.failure is not None:
                    code, message = s.failure
                    if record.failure is None:
                        message = f"circuit {index}: {message}"
                    return _State(
                        status="failed",
                        started_at=started_at,
                        finished_at=finished_at,
                        failure=(code, message),
                    )
            return _State(status="canceled", started_at=started_at, finished_at=finished_at)
        if any(s.status != "submitted" and s.status != "ready" for s in states):
            return _State(status="started", started_at=started_at)
        if any(s.status == "ready" for s in states):
            return _State(status="ready")
        return _State(status="submitted")

    def status(self, job_id: str) -> str:
        """The job's status now."""
        return self.state(self.get(job_id)).status

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
        *,
        ids: Iterable[str] | None = None,
        status: str | None = None,
        targets: Iterable[str] | None = None,
        session_id: str | None = None,
        parent_job_id: str | None = None,
        submitter_id: str | None = None,
        limit: int,
        cursor: str | None = None,
    ) -> tuple[list[JobRecord], str | None]:
        """One page of jobs, newest first, and the cursor of the next page (or None)."""
        now = self.clock()
        with self._lock:
            if ids is not None:
                wanted = {i for i in ids}
                candidates = [self._jobs[i] for i in wanted if i in self._jobs]
                candidates.sort(key=lambda r: r.seq, reverse=True)
            else:
                candidates = list(reversed(self._jobs.values()))
            below = self._seq_of[cursor] if cursor is not None else None
            target_set = set(targets) if targets else None
            page: list[JobRecord] = []
            for record in candidates:
                if below is not None and record.seq > below:
                    continue
                if target_set is not None and record.backend.name not in target_set:
                    continue
                if session_id is not None and record.session_id != session_id:
                    continue
                if parent_job_id is not None and record.parent_id != parent_job_id:
                    continue
                if submitter_id is not None and record.submitter_id != submitter_id:
                    continue
                if status is not None and self.state(record, now).status != status:
                    continue
                if len(page) == limit:
                    return page, record.id
                page.append(record)
            return page, None

    # ------------------------------------------------------------------ JSON

    def job_json(self, record: JobRecord, *, list_item: bool = False) -> dict[str, Any]:
        """The job as ``GET /jobs/{id}`` returns it (``list_item``: as in ``GET /jobs``)."""
        state = self.state(record)
        now = self.clock()
        terminal = state.terminal
        started_at = state.started_at
        execution_ms: int | None = None
        if state.status == "completed":
            if record.dry_run:
                execution_ms = 0
            elif started_at is not None and state.finished_at is not None:
                execution_ms = _ms(state.finished_at - started_at)
        predicted_wait: int | None = None
        predicted_run: int | None = None
        if not terminal:
            start = record.started_at if record.started_at is not None else record.due_at
            predicted_wait = _ms(start - now)
            predicted_run = _ms(record.due_at - start)
        stats: dict[str, Any] = {
            "qubits": record.qubits,
            "circuits": record.circuits,
            "gate_counts": {"1q": record.one_qubit_gates, "2q": record.two_qubit_gates},
        }
        if record.backend.is_qpu:
            stats["predicted_quantum_compute_time_us"] = (
                _ms(record.due_at - (record.started_at or record.due_at)) * 1000
            )
            if state.status == "completed" and execution_ms is not None:
                stats["billed_quantum_compute_time_us"] = execution_ms * 1000
        failure: dict[str, str] | None = None
        if state.status == "failed" and state.failure is not None:
            code, message = state.failure
            failure = {"code": code, "message": message, "error": message}
        noise: dict[str, Any] | None = None
        if record.backend.is_simulator:
            noise = {"model": record.noise_model or "ideal"}
            if record.noise_seed is not None:
                noise["seed"] = record.noise_seed
        out: dict[str, Any] = {
            "id": record.id,
            "status": state.status,
            "type": record.type,
            "backend": record.backend.name,
            "dry_run": record.dry_run,
            "submitter_id": record.submitter_id,
            "project_id": _PROJECT_ID,
            "parent_job_id": record.parent_id,
            "child_job_ids": list(record.child_ids) if record.child_ids is not None else None,
            "session_id": record.session_id,
            "metadata": dict(record.metadata) if record.metadata is not None else None,
            "name": record.name,
            "submitted_at": _iso(record.submitted_at),
            "started_at": _iso(started_at),
            "completed_at": _iso(state.finished_at) if terminal else None,
            "predicted_wait_time_ms": predicted_wait,
            "predicted_execution_duration_ms": predicted_run,
            "execution_duration_ms": execution_ms,
            "shots": record.shots,
            "noise": noise,
            "failure": failure,
            "cost_model": "2QGE_operations" if record.backend.is_qpu else "QCT",
            "settings": dict(record.settings),
            "stats": stats,
            "output": {},
            "results": self._results_json(record) if self._has_results(record, state) else None,
        }
        if list_item:
            del out["child_job_ids"]
        return out

    def _has_results(self, record: JobRecord, state: _State) -> bool:
        return state.status == "completed" and not record.dry_run

    def _results_json(self, record: JobRecord) -> dict[str, Any]:
        base = f"/v0.4/jobs/{record.id}/results"
        if record.is_parent:
            return {
                _FORMAT_AGGREGATE: _descriptor("probabilities-aggregate", _FORMAT_AGGREGATE),
                "probabilities": {"url": f"{base}/probabilities/aggregated"},
            }
        return {
            _FORMAT_PROBABILITIES: _descriptor("probabilities", _FORMAT_PROBABILITIES),
            _FORMAT_HISTOGRAM: _descriptor("histogram", _FORMAT_HISTOGRAM),
            _FORMAT_SHOTS: _descriptor("shots", _FORMAT_SHOTS),
            "probabilities": {"url": f"{base}/probabilities"},
            "histogram": {"url": f"{base}/histogram"},
            "shots": {"url": f"{base}/shots"},
        }

    # ------------------------------------------------------------------ results

    def outcomes(self, record: JobRecord) -> list[tuple[str, SimulationOutcome]]:
        """(job id, outcome) of a completed job, or of each child of a completed parent."""
        state = self.state(record)
        if not self._has_results(record, state):
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

    def cost_json(self, record: JobRecord) -> dict[str, Any]:
        """``GET /jobs/{id}/cost``: the estimate, and the actual cost once completed."""
        state = self.state(record)
        out: dict[str, Any] = {
            "dry_run": record.dry_run,
            "estimated_cost": {"value": record.estimated_cost_usd, "unit": "usd"},
        }
        if state.status == "completed" and not record.dry_run:
            out["cost"] = {"value": record.estimated_cost_usd, "unit": "usd"}
        return out

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
                id=_new_id(now),
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

    def session_json(self, session: SessionRecord) -> dict[str, Any]:
        """The session as the API returns it."""
        now = self.clock()
        ended = session.ended(now)
        ended_at = (
            session.ended_at
            if session.ended_at is not None
            else (session.expires_at() if ended else None)
        )
        settings: dict[str, Any] = {}
        if session.job_count_limit is not None:
            settings["job_count_limit"] = session.job_count_limit
        if session.duration_limit_min is not None:
            settings["duration_limit_min"] = session.duration_limit_min
        if session.cost_limit is not None:
            settings["cost_limit"] = session.cost_limit
        expiry = session.expires_at()
        if expiry is not None:
            settings["expires_at"] = _iso(expiry)
        if ended:
            status = "ended"
        elif session.started_at is not None:
            status = "started"
        else:
            status = "created"
        return {
            "id": session.id,
            "created_at": _iso(session.created_at),
            "organization_id": _ORGANIZATION_ID,
            "backend": session.backend,
            "project_id": _PROJECT_ID,
            "creator_id": session.creator_id,
            "ended_at": _iso(ended_at),
            "ender_id": session.ender_id,
            "settings": settings,
            "active": not ended,
            "status": status,
            "started_at": _iso(session.started_at),
        }

    # ------------------------------------------------------------------ helpers for tests

    def iter_metadata(self) -> Iterator[Mapping[str, str]]:
        """The metadata of every stored job that has some."""
        for record in self.records():
            if record.metadata is not None:
                yield record.metadata

    def backend_json(self, backend: BackendSpec) -> dict[str, Any]:
        """A backend as ``GET /backends`` lists it."""
        out: dict[str, Any] = {
            "backend": backend.name,
            "status": "available",
            "qubits": backend.qubits,
            "average_queue_time": _ms(self.queue_estimate_s(backend)),
            "last_updated": _iso(self.clock()),
        }
        if backend.reports_degraded:
            out["degraded"] = False
        if backend.characterization_count:
            out["characterization_id"] = characterization_id(backend.name, 0)
        if backend.location is not None:
            out["location"] = backend.location
        out["supported_gates"] = sorted(
            {
                "x",
                "y",
                "z",
                "rx",
                "ry",
                "rz",
                "h",
                "s",
                "si",
                "v",
                "vi",
                "t",
                "ti",
                "not",
                "cnot",
                "swap",
                "xx",
                "yy",
                "zz",
                "pauliexp",
            }
        )
        out["supported_native_gates"] = sorted(backend.native_gates)
        if backend.is_qpu:
            out["supported_error_mitigations"] = ["debiasing"]
        if backend.is_simulator:
            out["noise_models"] = sorted(simulator.NOISE_MODELS)
        return out


def _descriptor(artifact_id: str, fmt: str) -> dict[str, str]:
    return {"id": artifact_id, "format": fmt, "media_type": "application/json"}


def characterization_id(backend: str, index: int) -> str:
    """The stable id of a backend's ``index``-th characterization (0 = the newest)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ionq-emulator/{backend}/characterization/{index}"))


def characterizations(backend: BackendSpec, now: float) -> list[dict[str, Any]]:
    """A backend's characterizations, newest first: one a day, made up but stable in shape."""
    day = 86_400.0
    today = now - (now % day)
    out = []
    for index in range(backend.characterization_count):
        n = backend.qubits
        out.append(
            {
                "id": characterization_id(backend.name, index),
                "backend": backend.name,
                "date": _iso(today - index * day),
                "qubits": n,
                "connectivity": [[a, b] for a in range(n) for b in range(a + 1, n)],
                "fidelity": {
                    "spam": {"median": 0.9962, "stderr": 0},
                    "1q": {"median": 0.9998},
                    "2q": {"median": 0.9952 if "forte" in backend.name else 0.9867},
                },
                "timing": {
                    "t1": 100.0,
                    "t2": 1.0,
                    "1q": 0.000135,
                    "2q": 0.0006,
                    "readout": 0.0003,
                    "reset": 0.00002,
                },
            }
        )
    return out


def default_clock() -> float:
    """The wall clock in epoch seconds."""
    return time.time()
