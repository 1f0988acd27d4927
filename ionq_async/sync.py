"""A blocking facade of :class:`~ionq_async.client.Client` for code that cannot ``await``.

::

    from ionq_async.sync import SyncClient

    with SyncClient() as client:                        # key: argument or IONQ_API_KEY
        result = client.run(Circuit(qubits=2).h(0).cnot(0, 1), shots=1000)
        for outcome in client.run_many(circuits, shots=100):
            ...

Every method has the same name, arguments and return value as the client's, without
``await``; async iterators become blocking iterators (``jobs()``, ``run_many()``,
``as_completed()``). The client and its event loop live in a worker thread started by an
anyio blocking portal, so the facade works in plain scripts *and* when called from a
thread that already runs an event loop, such as a Jupyter cell without ``await`` (where
``asyncio.run`` would fail). In a notebook, top-level ``await`` on the async
:class:`~ionq_async.client.Client` works as it is; this facade is for code that cannot
await.

A call blocks the calling thread, and with it any loop running there. So a call whose
server runs on that very loop (an in-process ``Emulator`` started with ``await`` in a
notebook) could never be answered: it raises ``ConfigurationError`` at once instead, saying
to use ``await`` or ``BackgroundEmulator``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import weakref
from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from . import _loop_servers
from ._batch import check_submit_options
from ._batch.poller import MAX_POLL_FAILURE_S
from ._batch.pricing import DEFAULT_ESTIMATE_CONCURRENCY, BatchEstimate
from ._batch.values import BatchProgress, Outcome, PackLimits, PollSchedule
from ._payload import CircuitInput
from ._retry import RetryPolicy
from ._sessions import DEFAULT_END_TIMEOUT_S, SessionScope
from ._spend import Spend
from ._transport import DEFAULT_MAX_RESPONSE_BYTES, TransportStats
from .client import Client
from .exceptions import ClientClosedError, ConfigurationError, IonQTimeoutError
from .models import (
    Artifact,
    Backend,
    BulkJobsAnswer,
    Characterization,
    CharacterizationPage,
    Cost,
    Estimate,
    Job,
    JobAnswer,
    JobCreated,
    JobPage,
    JobStatus,
    Money,
    Session,
    WhoAmI,
)
from .results import Result

__all__ = ["SyncClient"]

T = TypeVar("T")


class _Pump:
    """Moves one async iterable's items, from a single task in the portal, to a stream.

    One task owns the iteration from start to end, so an iterator that holds a task group
    or a cancel scope across items stays inside the task that entered it.
    """

    def __init__(self) -> None:
        self.scope = anyio.CancelScope()
        self.finished = anyio.Event()
        self.error: BaseException | None = None
        send, receive = anyio.create_memory_object_stream[Any](max_buffer_size=0)
        self.send: MemoryObjectSendStream[Any] = send
        self.receive: MemoryObjectReceiveStream[Any] = receive

    async def run(self, make: Callable[[], AsyncIterable[Any]]) -> None:
        try:
            with self.scope:
                async with self.send:
                    iterable = make()
                    try:
                        async for item in iterable:
                            await self.send.send(item)
                    finally:
                        aclose = getattr(iterable, "aclose", None)
                        if aclose is not None:
                            with anyio.CancelScope(shield=True):
                                await aclose()
        except anyio.BrokenResourceError:
            pass  # the blocking side stopped listening
        except Exception as error:  # handed to the blocking side, raised there
            self.error = error
        finally:
            self.finished.set()

    async def stop(self) -> None:
        self.scope.cancel()
        await self.finished.wait()
        self.receive.close()


class _Resources:
    """What a SyncClient owns: the client, its portal and the open iterators' pumps."""

    def __init__(
        self,
        client: Client,
        portal: BlockingPortal,
        portal_cm: AbstractContextManager[BlockingPortal],
    ) -> None:
        self.client: Client | None = client
        self.portal: BlockingPortal | None = portal
        self.portal_cm: AbstractContextManager[BlockingPortal] | None = portal_cm
        self.pumps: set[_Pump] = set()


def _shut_down(resources: _Resources) -> None:
    """Close the client and stop the portal's thread (once; from close() or a finalizer)."""
    client, portal, portal_cm = resources.client, resources.portal, resources.portal_cm
    resources.client = resources.portal = resources.portal_cm = None
    if portal is None or portal_cm is None or client is None:
        return
    try:
        # Iterators still open (not exhausted, not closed) would keep the loop alive.
        for pump in list(resources.pumps):
            portal.call(pump.stop)
        portal.call(client.aclose)
    finally:
        resources.pumps.clear()
        portal_cm.__exit__(None, None, None)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in the calling thread (a notebook cell's: the kernel's)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _host_and_port(base_url: str) -> tuple[str, int] | None:
    parts = urlsplit(base_url)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.hostname is None:
        return None
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _refuse_to_block_the_loop_that_must_answer(base_url: str) -> None:
    """ConfigurationError if the calling thread's running loop serves ``base_url``.

    The call would block that loop until it ends, so the server (an Emulator started with
    ``await`` in a notebook) could never answer: without this check the call would wait
    for its timeout, retries included, and then name no cause.
    """
    loop = _running_loop()
    address = _host_and_port(base_url)
    if loop is None or address is None or not _loop_servers.serves(loop, *address):
        return
    raise ConfigurationError(
        f"this SyncClient call would block the event loop running in this thread, and that "
        f"loop is the one serving {base_url} (an in-process server such as an Emulator "
        f"started with `await` or `async with`, as in a notebook cell): it could never "
        f"answer, and the call would only end at its timeout. On this loop use the async "
        f"Client with `await` (`async with Client(api_key, base_url) as client: await "
        f"client.backends()`), or run the emulator on its own thread with "
        f"`BackgroundEmulator` (`with BackgroundEmulator() as emu, SyncClient(emu.api_key, "
        f"emu.url) as client: ...`)"
    )


def _explain_a_timeout_on_a_running_loop(error: IonQTimeoutError, base_url: str) -> None:
    """Add a note naming the likely cause to a timeout of a call made on a running loop.

    The registry knows only servers that record themselves (the emulator). Another local
    server on the caller's own loop would time out too; it cannot be told apart from a
    slow one, so the timeout says what to check rather than being refused in advance.
    """
    address = _host_and_port(base_url)
    if _running_loop() is None or address is None or not _loop_servers.is_loopback_host(address[0]):
        return
    error.add_note(
        f"This call blocked a thread whose event loop is running (a notebook cell runs on "
        f"the kernel's loop) while it waited on {address[0]}:{address[1]}, a local address. "
        f"If that server runs on this same loop (started with `await` or `async with`), it "
        f"cannot answer while the call blocks: use the async Client with `await`, or run "
        f"the server on its own thread (ionq_async.emulator.BackgroundEmulator)."
    )


class SyncClient:
    """A blocking client with the same methods as :class:`~ionq_async.client.Client`.

    Use it as ``with SyncClient(...) as client:`` or call :meth:`close` when done. The
    constructor takes the client's arguments (except ``session``: an aiohttp session
    belongs to the event loop that made it). It works from plain code and from inside a
    running event loop (Jupyter), because the client runs on its own loop in a worker
    thread; calls block the calling thread until the answer is in. A call to a server that
    runs on the calling thread's own loop (an Emulator started with ``await`` there) raises
    ConfigurationError at once: that server could not answer while the call blocks.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 10.0,
        max_connections: int = 64,
        max_concurrent_requests: int = 64,
        retry: RetryPolicy | None = None,
        allow_insecure_http: bool = False,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        # Made here, so bad settings (a missing key is not one) raise in the caller's frame.
        client = Client(
            api_key,
            base_url,
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
            max_connections=max_connections,
            max_concurrent_requests=max_concurrent_requests,
            retry=retry,
            allow_insecure_http=allow_insecure_http,
            max_response_bytes=max_response_bytes,
        )
        portal_cm: AbstractContextManager[BlockingPortal] = start_blocking_portal("asyncio")
        portal = portal_cm.__enter__()
        try:
            portal.call(client.__aenter__)
        except BaseException as error:
            portal_cm.__exit__(type(error), error, error.__traceback__)
            raise
        self._resources = _Resources(client, portal, portal_cm)
        # Closes a SyncClient that was dropped or left open at exit (a script that never
        # calls close() must still end: the portal's context would otherwise be finalized
        # at interpreter shutdown, and block there).
        self._finalizer = weakref.finalize(self, _shut_down, self._resources)

    def __repr__(self) -> str:
        state = "open" if self._client is not None else "closed"
        return f"<ionq_async.SyncClient base_url={self.base_url!r} {state}>"

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the client and stop its event loop thread; idempotent."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._resources.client is None

    @property
    def _client(self) -> Client | None:
        return self._resources.client

    @property
    def _portal(self) -> BlockingPortal | None:
        return self._resources.portal

    @property
    def _pumps(self) -> set[_Pump]:
        return self._resources.pumps

    @property
    def client(self) -> Client:
        """The async client underneath (use it only on the facade's own loop)."""
        return self._open()[0]

    @property
    def base_url(self) -> str:
        """The API base URL in use."""
        return self._client.base_url if self._client is not None else ""

    @property
    def stats(self) -> TransportStats:
        """Counters of requests sent, retries, 429s seen and gate closures."""
        return self._open()[0].stats

    def _open(self) -> tuple[Client, BlockingPortal]:
        if self._client is None or self._portal is None:
            raise ClientClosedError("this SyncClient is closed")
        return self._client, self._portal

    def _call(self, make: Callable[[Client], Awaitable[T]]) -> T:
        client, portal = self._open()
        _refuse_to_block_the_loop_that_must_answer(client.base_url)

        async def call() -> T:
            return await make(client)

        try:
            return portal.call(call)
        except IonQTimeoutError as error:
            _explain_a_timeout_on_a_running_loop(error, client.base_url)
            raise

    def _iterate(self, make: Callable[[Client], AsyncIterable[T]]) -> Iterator[T]:
        client, portal = self._open()
        _refuse_to_block_the_loop_that_must_answer(client.base_url)
        pump: _Pump = portal.call(_Pump)
        self._pumps.add(pump)
        portal.start_task_soon(pump.run, lambda: make(client))
        try:
            while True:
                if self._portal is not portal:
                    raise ClientClosedError("the SyncClient was closed during the iteration")
                try:
                    item = portal.call(pump.receive.receive)
                except anyio.EndOfStream:
                    break
                yield item
            if isinstance(pump.error, IonQTimeoutError):
                _explain_a_timeout_on_a_running_loop(pump.error, client.base_url)
            if pump.error is not None:
                raise pump.error
        finally:
            if self._portal is portal:
                portal.call(pump.stop)
            self._pumps.discard(pump)

    # -- backends and the key -----------------------------------------------------------

    def backends(self) -> list[Backend]:
        """Every backend (QPUs and the simulator) with its status; needs no key."""
        return self._call(lambda c: c.backends())

    def backend(self, name: str) -> Backend:
        """One backend by name, such as ``qpu.forte-1``; needs no key."""
        return self._call(lambda c: c.backend(name))

    def characterizations(
        self,
        backend: str,
        *,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        limit: int | None = None,
        page: int | None = None,
    ) -> CharacterizationPage:
        """One page of a backend's characterizations, optionally between two dates."""
        return self._call(
            lambda c: c.characterizations(backend, start=start, end=end, limit=limit, page=page)
        )

    def characterization(self, backend: str, characterization_id: str) -> Characterization:
        """One characterization of a backend by id."""
        return self._call(lambda c: c.characterization(backend, characterization_id))

    def whoami(self) -> WhoAmI:
        """The key in use: its id, name and project."""
        return self._call(lambda c: c.whoami())

    # -- jobs ---------------------------------------------------------------------------

    def submit(
        self,
        circuit: CircuitInput,
        *,
        backend: str = "simulator",
        shots: int | None = None,
        name: str | None = None,
        noise_model: str | None = None,
        noise_seed: int | None = None,
        debiasing: bool | None = None,
        dry_run: bool = False,
        session_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Job:
        """Submit a circuit (or several, as one multi-circuit job); return the new job."""
        return self._call(
            lambda c: c.submit(
                circuit,
                backend=backend,
                shots=shots,
                name=name,
                noise_model=noise_model,
                noise_seed=noise_seed,
                debiasing=debiasing,
                dry_run=dry_run,
                session_id=session_id,
                metadata=metadata,
                settings=settings,
            )
        )

    def create_job(self, payload: Mapping[str, Any]) -> JobCreated:
        """``POST /jobs`` with a whole payload as given."""
        return self._call(lambda c: c.create_job(payload))

    def get_job(self, job: Job | str) -> Job:
        """The job's current state."""
        return self._call(lambda c: c.get_job(job))

    def job_page(
        self,
        *,
        status: JobStatus | str | None = None,
        backend: str | Sequence[str] | None = None,
        ids: Iterable[Job | str] | str | None = None,
        session_id: str | None = None,
        parent_job_id: Job | str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> JobPage:
        """One page of ``GET /jobs``; ``page.next`` is the cursor of the next page or None."""
        return self._call(
            lambda c: c.job_page(
                status=status,
                backend=backend,
                ids=ids,
                session_id=session_id,
                parent_job_id=parent_job_id,
                limit=limit,
                cursor=cursor,
            )
        )

    def jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        backend: str | Sequence[str] | None = None,
        ids: Iterable[Job | str] | str | None = None,
        session_id: str | None = None,
        parent_job_id: Job | str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[Job]:
        """Every job matching the filters, page after page, as a blocking iterator."""
        return self._iterate(
            lambda c: c.jobs(
                status=status,
                backend=backend,
                ids=ids,
                session_id=session_id,
                parent_job_id=parent_job_id,
                limit=limit,
                page_size=page_size,
            )
        )

    def probabilities(
        self,
        job: Job | str,
        *,
        sharpen: bool | None = None,
        aggregation: str | None = None,
        variant: str | None = None,
    ) -> dict[int, float]:
        """A completed job's probabilities ``{state: p}`` (qubit 0 the least significant bit)."""
        return self._call(
            lambda c: c.probabilities(
                job, sharpen=sharpen, aggregation=aggregation, variant=variant
            )
        )

    def shots(self, job: Job | str, *, variant: str | None = None) -> list[int]:
        """A completed job's state of every shot, in order."""
        return self._call(lambda c: c.shots(job, variant=variant))

    def histogram(self, job: Job | str, *, variant: str | None = None) -> dict[int, int]:
        """A completed job's counts ``{state: count}`` as the API gives them."""
        return self._call(lambda c: c.histogram(job, variant=variant))

    def compiled_circuit(self, job: Job | str, lang: str = "native") -> Any:
        """The circuit as the API compiled it (``native`` JSON or ``qasm3`` text)."""
        return self._call(lambda c: c.compiled_circuit(job, lang))

    def artifact(self, job: Job | str, artifact_id: str) -> Artifact:
        """One of a job's artifacts, decoded by its content type."""
        return self._call(lambda c: c.artifact(job, artifact_id))

    def mitigation_variants(self, job: Job | str) -> list[str]:
        """The ids of a job's error-mitigation variants ([] without any)."""
        return self._call(lambda c: c.mitigation_variants(job))

    def aggregated_probabilities(self, job: Job | str) -> dict[str, dict[int, float]]:
        """A multi-circuit parent's probabilities by child job id, in circuit order."""
        return self._call(lambda c: c.aggregated_probabilities(job))

    def result(
        self, job: Job | str, *, memory: bool = False, aggregation: str | None = None
    ) -> Result:
        """The result of a completed job; JobFailed or JobCanceled if it has none."""
        return self._call(lambda c: c.result(job, memory=memory, aggregation=aggregation))

    @property
    def spend(self) -> Spend:
        """Estimated and actual cost of the jobs this client's batches created."""
        return self._open()[0].spend

    def estimate_batch(
        self,
        circuits: Iterable[Any],
        *,
        backend: str = "simulator",
        shots: int | None = None,
        pack: bool | PackLimits = False,
        concurrency: int = DEFAULT_ESTIMATE_CONCURRENCY,
        **options: Any,
    ) -> BatchEstimate:
        """Price a batch as run_many would send it (one request per distinct job shape)."""
        return self._call(
            lambda c: c.estimate_batch(
                circuits,
                backend=backend,
                shots=shots,
                pack=pack,
                concurrency=concurrency,
                **options,
            )
        )

    def session(
        self,
        *,
        backend: str,
        max_cost: float | Money | None = None,
        max_jobs: int | None = None,
        duration_limit_min: float | None = None,
        currency: str = "usd",
        end_timeout_s: float = DEFAULT_END_TIMEOUT_S,
    ) -> AbstractContextManager[SessionScope]:
        """``with client.session(backend=...) as session:``, ended on every way out."""
        client, portal = self._open()
        return portal.wrap_async_context_manager(
            client.session(
                backend=backend,
                max_cost=max_cost,
                max_jobs=max_jobs,
                duration_limit_min=duration_limit_min,
                currency=currency,
                end_timeout_s=end_timeout_s,
            )
        )

    def cost(self, job: Job | str) -> Cost:
        """A job's estimated cost and, once billed, its actual cost."""
        return self._call(lambda c: c.cost(job))

    def estimate(
        self,
        *,
        backend: str,
        qubits: int | None = None,
        shots: int | None = None,
        one_qubit_gates: int | None = None,
        two_qubit_gates: int | None = None,
        error_mitigation: bool | None = None,
        type: str | None = None,
    ) -> Estimate:
        """A cost estimate before submitting (``GET /jobs/estimate``)."""
        return self._call(
            lambda c: c.estimate(
                backend=backend,
                qubits=qubits,
                shots=shots,
                one_qubit_gates=one_qubit_gates,
                two_qubit_gates=two_qubit_gates,
                error_mitigation=error_mitigation,
                type=type,
            )
        )

    def cancel(self, job: Job | str) -> JobAnswer:
        """Cancel a job."""
        return self._call(lambda c: c.cancel(job))

    def delete(self, job: Job | str) -> JobAnswer:
        """Delete a job; later reads of it answer 404."""
        return self._call(lambda c: c.delete(job))

    def cancel_many(self, jobs: Iterable[Job | str]) -> BulkJobsAnswer:
        """Cancel several jobs in one request."""
        return self._call(lambda c: c.cancel_many(jobs))

    def delete_many(self, jobs: Iterable[Job | str]) -> BulkJobsAnswer:
        """Delete several jobs in one request."""
        return self._call(lambda c: c.delete_many(jobs))

    # -- sessions -----------------------------------------------------------------------

    def create_session(
        self,
        backend: str,
        *,
        job_count_limit: int | None = None,
        duration_limit_min: float | None = None,
        cost_limit: Money | None = None,
    ) -> Session:
        """Open a session on a backend, with optional limits."""
        return self._call(
            lambda c: c.create_session(
                backend,
                job_count_limit=job_count_limit,
                duration_limit_min=duration_limit_min,
                cost_limit=cost_limit,
            )
        )

    def get_session(self, session: Session | str) -> Session:
        """One session by id."""
        return self._call(lambda c: c.get_session(session))

    def sessions(self, *, active: bool | None = None) -> list[Session]:
        """The organization's sessions, optionally only the active (or ended) ones."""
        return self._call(lambda c: c.sessions(active=active))

    def end_session(self, session: Session | str) -> Session:
        """End a session; jobs already in it still run."""
        return self._call(lambda c: c.end_session(session))

    # -- batches ------------------------------------------------------------------------

    def wait(
        self,
        job: Job | str,
        *,
        timeout_s: float | None = None,
        cancel_on_timeout: bool = False,
        schedule: PollSchedule | None = None,
    ) -> Job:
        """Block until the job is completed; JobFailed, JobCanceled or WaitTimeoutError."""
        return self._call(
            lambda c: c.wait(
                job, timeout_s=timeout_s, cancel_on_timeout=cancel_on_timeout, schedule=schedule
            )
        )

    def run(self, circuit: Any, **options: Any) -> Result:
        """Submit one circuit, wait for it, and return its Result (``submit()``'s options)."""
        return self._call(lambda c: c.run(circuit, **options))

    def run_many(
        self,
        circuits: Iterable[Any],
        *,
        concurrency: int = 64,
        max_in_flight: int = 10_000,
        journal: str | None = None,
        cancel_remote: bool = False,
        pack: bool | PackLimits = False,
        progress: Callable[[BatchProgress], None] | None = None,
        timeout_s: float | None = None,
        max_poll_failure_s: float = MAX_POLL_FAILURE_S,
        memory: bool = False,
        max_cost: float | Money | None = None,
        retry_failed: int = 0,
        **options: Any,
    ) -> Iterator[Outcome]:
        """Run many circuits; iterate for one Outcome per circuit, in completion order.

        ``circuits`` is read lazily (a generator is never held as a list), from the
        facade's event loop thread: leave it alone while the batch runs. Stopping the
        iteration early (``break``, or closing the iterator) stops the batch.
        ``progress`` is called from the facade's event loop thread. An option ``submit()``
        does not take is a TypeError now.
        """
        check_submit_options(self.submit, options, caller="run_many")
        return self._iterate(
            lambda c: c.run_many(
                circuits,
                concurrency=concurrency,
                max_in_flight=max_in_flight,
                journal=journal,
                cancel_remote=cancel_remote,
                pack=pack,
                progress=progress,
                timeout_s=timeout_s,
                max_poll_failure_s=max_poll_failure_s,
                memory=memory,
                max_cost=max_cost,
                retry_failed=retry_failed,
                **options,
            )
        )

    def run_sweep(
        self,
        circuit: Any,
        parameter_sets: Iterable[Any],
        *,
        concurrency: int = 64,
        max_in_flight: int = 10_000,
        journal: str | None = None,
        cancel_remote: bool = False,
        pack: bool | PackLimits = False,
        progress: Callable[[BatchProgress], None] | None = None,
        timeout_s: float | None = None,
        max_poll_failure_s: float = MAX_POLL_FAILURE_S,
        memory: bool = False,
        max_cost: float | Money | None = None,
        retry_failed: int = 0,
        **options: Any,
    ) -> Iterator[Outcome]:
        """One parameterized circuit at each parameter set, as :meth:`Client.run_sweep`;
        iterate for one Outcome per set (``outcome.parameters``), in completion order.

        ``parameter_sets`` is read lazily from the facade's event loop thread.
        """
        check_submit_options(self.submit, options, caller="run_sweep")
        return self._iterate(
            lambda c: c.run_sweep(
                circuit,
                parameter_sets,
                concurrency=concurrency,
                max_in_flight=max_in_flight,
                journal=journal,
                cancel_remote=cancel_remote,
                pack=pack,
                progress=progress,
                timeout_s=timeout_s,
                max_poll_failure_s=max_poll_failure_s,
                memory=memory,
                max_cost=max_cost,
                retry_failed=retry_failed,
                **options,
            )
        )

    def as_completed(
        self,
        jobs: Iterable[Job | str],
        *,
        max_in_flight: int = 100_000,
        cancel_remote: bool = False,
        progress: Callable[[BatchProgress], None] | None = None,
        timeout_s: float | None = None,
        max_poll_failure_s: float = MAX_POLL_FAILURE_S,
    ) -> Iterator[Outcome]:
        """Outcomes of jobs submitted elsewhere (Jobs or ids), in completion order."""
        items = list(jobs)
        return self._iterate(
            lambda c: c.as_completed(
                items,
                max_in_flight=max_in_flight,
                cancel_remote=cancel_remote,
                progress=progress,
                timeout_s=timeout_s,
                max_poll_failure_s=max_poll_failure_s,
            )
        )

    def gather(self, circuits: Iterable[Any], **options: Any) -> list[Outcome]:
        """Run many circuits and return every outcome in input order."""
        # Client.run_many checks the options (run_many's keywords are options here too).
        return self._call(lambda c: c.gather(circuits, **options))
