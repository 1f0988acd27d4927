"""The asynchronous client: its lifecycle and one method per endpoint of the API v0.4.

::

    async with ionq_async.Client() as client:          # key: argument or IONQ_API_KEY
        job = await client.submit(ionq_async.Circuit(qubits=2).h(0).cnot(0, 1), shots=1000)

Every method that names a job accepts a :class:`~ionq_async.models.Job` or its id. Every
answer is read with the shared converter; an answer that does not have the promised shape
raises :class:`~ionq_async.exceptions.ResponseError`. Requests, retries, the back-off
gate and the error mapping live in :mod:`ionq_async._transport`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar

import cattrs

from ._answers import (
    COMPILED_LANGS,
    check_aggregation,
    decode_raw,
    read_histogram,
    read_shots,
    variant_ids,
)
from ._batch import (
    MAX_POLL_FAILURE_S,
    BatchRun,
    LiveBatches,
    check_submit_options,
    start_as_completed,
    start_run_many,
    start_run_sweep,
    wait_for_job,
)
from ._batch.pricing import DEFAULT_ESTIMATE_CONCURRENCY, BatchEstimate, estimate_batch
from ._batch.values import BatchProgress, Outcome, PackLimits, PollSchedule
from ._converter import converter
from ._flow import Throttle
from ._limits import MAX_SHOTS
from ._payload import CircuitInput, _check_backend, _check_int, _session_id, job_payload
from ._retry import RetryPolicy
from ._sessions import DEFAULT_END_TIMEOUT_S, SessionScope
from ._spend import Spend
from ._transport import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RESPONSE_BYTES,
    Transport,
    TransportStats,
    path_of,
)
from .exceptions import (
    ConfigurationError,
    InvalidRequestError,
    IonQError,
    JobCanceled,
    JobFailed,
    ResponseError,
    ResultsNotReadyError,
)
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
    Noise,
    Session,
    SessionList,
    WhoAmI,
)
from .readout import readout_of
from .results import (
    Result,
    job_width,
    parse_probabilities,
    read_probabilities,
    validate_probabilities,
)

if TYPE_CHECKING:
    import aiohttp

__all__ = ["Client"]

T = TypeVar("T")


# ---------------------------------------------------------------------------------------
# Argument checks (pure); the job payload is built in _payload.


def _job_id(job: Job | str) -> str:
    if isinstance(job, Job):
        return job.id
    if isinstance(job, str):
        if not job.strip():
            raise InvalidRequestError("a job id must not be empty")
        return job
    raise TypeError(f"expected a Job or a job id string, got {type(job).__name__}")


def _job_ids(jobs: Iterable[Job | str] | Job | str) -> list[str]:
    if isinstance(jobs, Job | str):
        return [_job_id(jobs)]
    # Keep the caller's order; the API gains nothing from duplicates.
    return list(dict.fromkeys(_job_id(job) for job in jobs))


def _job_from_created(created: JobCreated, payload: Mapping[str, Any]) -> Job:
    noise = payload.get("noise")
    return Job(
        id=created.id,
        status=created.status,
        session_id=created.session_id or payload.get("session_id"),
        type=payload.get("type"),
        backend=payload.get("backend"),
        name=payload.get("name"),
        shots=payload.get("shots"),
        metadata=payload.get("metadata"),
        dry_run=bool(payload.get("dry_run", False)),
        noise=Noise(model=noise["model"], seed=noise.get("seed")) if noise else None,
        settings=payload.get("settings"),
    )


_PROBLEMS_SHOWN: Final = 5
"""How many of an invalid answer's problems a ResponseError names."""

_PROBLEM_CHARS: Final = 300
"""How much of an unexpected error's text a ResponseError quotes."""


@contextlib.contextmanager
def _reading(what: str, data: Any) -> Iterator[None]:
    """Turn any error raised while reading an answer into a ResponseError (``from`` it).

    The readers check what they can and raise ResponseError themselves; this is the
    boundary's guarantee for the rest: an answer can never make a method raise a bare
    ValueError, TypeError, OverflowError, KeyError, RecursionError, ... to its caller.
    """
    try:
        yield
    except IonQError:
        raise
    except Exception as exc:
        text = str(exc)
        if len(text) > _PROBLEM_CHARS:
            text = text[:_PROBLEM_CHARS] + "..."
        raise ResponseError(
            f"{what}: the answer could not be read ({type(exc).__name__}: {text})", body=data
        ) from exc


def _structure(data: Any, cls: type[T], what: str) -> T:
    try:
        return converter.structure(data, cls)
    except Exception as exc:  # cattrs wraps what it finds in several exception types
        with _reading(what, data):
            found = cattrs.transform_error(exc)
        # A hostile answer can have a problem per item: the message names the first few.
        problems = "; ".join(found[:_PROBLEMS_SHOWN])
        if len(found) > _PROBLEMS_SHOWN:
            problems += f"; and {len(found) - _PROBLEMS_SHOWN} more"
        raise ResponseError(
            f"{what}: the answer is not a valid {cls.__name__}: {problems}", body=data
        ) from exc


def _structure_list(data: Any, cls: type[T], what: str) -> list[T]:
    if not isinstance(data, list):
        raise ResponseError(f"{what}: expected a JSON list, got {type(data).__name__}", body=data)
    return [_structure(item, cls, f"{what} [{index}]") for index, item in enumerate(data)]


def _read_probabilities(
    data: Any, *, what: str, job_id: str, num_qubits: int | None
) -> dict[int, float]:
    """One job's probabilities from an answer, checked (:func:`validate_probabilities`)."""
    with _reading(what, data):
        return read_probabilities(data, num_qubits=num_qubits, job_id=job_id)


def _check_has_results(job: Job) -> None:
    """Raise for a job whose probabilities can never be fetched as one distribution.

    JobFailed or JobCanceled for a job that ended without results; InvalidRequestError
    for a multi-circuit parent or a dry run.
    """
    if job.status is JobStatus.FAILED:
        raise JobFailed(job)
    if job.status is JobStatus.CANCELED:
        raise JobCanceled(job)
    if job.is_parent:
        raise InvalidRequestError(
            f"job {job.id} is a multi-circuit parent: use aggregated_probabilities() "
            "or the result of each child job"
        )
    if job.dry_run:
        raise InvalidRequestError(
            f"job {job.id} is a dry run: it was compiled and priced, never run, "
            "so it has no results (see cost())"
        )


def _bool_text(name: str, value: object) -> str:
    if not isinstance(value, bool):
        raise InvalidRequestError(f"{name} must be True or False, got {value!r}")
    return "true" if value else "false"


def _date_text(name: str, value: dt.date | str) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and value:
        return value
    raise InvalidRequestError(f"{name} must be a date or an ISO date string, got {value!r}")


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _check_api_key(api_key: object) -> str | None:
    if api_key is None:
        return None
    if not isinstance(api_key, str):
        raise ConfigurationError(f"api_key must be a string, got {type(api_key).__name__}")
    key = api_key.strip()
    if not key:
        raise ConfigurationError("api_key is empty")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in key):
        # Checked here because such a key would break (or inject into) the header.
        raise ConfigurationError("api_key contains whitespace or control characters")
    return key


# ---------------------------------------------------------------------------------------
# The client.


class Client:
    """An asynchronous client of the IonQ API v0.4; use it as ``async with Client() as c``.

    The key comes from ``api_key`` or ``IONQ_API_KEY`` (the backend endpoints work
    without one; other calls raise ConfigurationError); the base URL from ``base_url``,
    ``IONQ_API_URL`` or ``https://api.ionq.co/v0.4``. Plain ``http://`` is refused for
    non-loopback hosts unless ``allow_insecure_http``. A ``session`` passed in is used as
    is and never closed by the client.
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
        session: aiohttp.ClientSession | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        key = _check_api_key(api_key if api_key is not None else _env("IONQ_API_KEY"))
        url = base_url if base_url is not None else (_env("IONQ_API_URL") or DEFAULT_BASE_URL)
        self._transport = Transport(
            base_url=url,
            api_key=key,
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
            max_connections=max_connections,
            max_concurrent_requests=max_concurrent_requests,
            retry=retry,
            allow_insecure_http=allow_insecure_http,
            session=session,
            max_response_bytes=max_response_bytes,
        )
        # Per-client state of the batch engine: the reaction to 429s shared by its batches,
        # and the batches still running (closed with the client).
        self._throttle = Throttle(
            self._transport.stats,
            self._transport.rate_limit_listeners,
            open_tokens=int(self._transport.limiter.total_tokens),
        )
        self._batches = LiveBatches()
        self._spend = Spend()

    def __repr__(self) -> str:
        key = "set" if self._transport.has_api_key else "unset"
        if self._transport.is_open:
            state = "open"
        elif self._transport.is_closed:
            state = "closed"
        else:
            state = "unopened"
        return f"<ionq_async.Client base_url={self.base_url!r} api_key={key} {state}>"

    # -- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self._transport.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client (and its session, unless it was passed in); idempotent.

        Batches of this client still running are cancelled and awaited first.
        """
        try:
            await self._batches.aclose()
        finally:
            await self._transport.aclose()

    @property
    def base_url(self) -> str:
        """The API base URL in use."""
        return self._transport.base_url

    @property
    def transport(self) -> Transport:
        """The HTTP layer: stats, rate-limit listeners, the request limiter, the gate."""
        return self._transport

    @property
    def retry_policy(self) -> RetryPolicy:
        """How often and how patiently each request is retried."""
        return self._transport.retry_policy

    @property
    def stats(self) -> TransportStats:
        """Counters of requests sent, retries, 429s seen and gate closures."""
        return self._transport.stats

    async def _get(self, path: str, query: Sequence[tuple[str, str]] = (), **kw: Any) -> Any:
        return await self._transport.request("GET", path, query=query, **kw)

    # -- backends and the key -----------------------------------------------------------

    async def backends(self) -> list[Backend]:
        """Every backend (QPUs and the simulator) with its status; needs no key."""
        data = await self._get("/backends", require_key=False)
        if isinstance(data, Mapping) and "backends" in data:
            data = data["backends"]
        return _structure_list(data, Backend, "GET /backends")

    async def backend(self, name: str) -> Backend:
        """One backend by name, such as ``qpu.forte-1``; needs no key."""
        path = path_of("backends", _check_backend(name))
        return _structure(await self._get(path, require_key=False), Backend, "GET " + path)

    async def characterizations(
        self,
        backend: str,
        *,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        limit: int | None = None,
        page: int | None = None,
    ) -> CharacterizationPage:
        """One page of a backend's characterizations, optionally between two dates."""
        path = path_of("backends", _check_backend(backend), "characterizations")
        query: list[tuple[str, str]] = []
        if start is not None:
            query.append(("start", _date_text("start", start)))
        if end is not None:
            query.append(("end", _date_text("end", end)))
        if limit is not None:
            query.append(("limit", str(_check_int("limit", limit, low=1))))
        if page is not None:
            query.append(("page", str(_check_int("page", page, low=1))))
        data = await self._get(path, query, require_key=False)
        if isinstance(data, Mapping) and data.get("characterizations") is None:
            # Seen from the live API for backends without data: null means none.
            data = {**data, "characterizations": []}
        return _structure(data, CharacterizationPage, "GET " + path)

    async def characterization(self, backend: str, characterization_id: str) -> Characterization:
        """One characterization of a backend by id."""
        path = path_of(
            "backends", _check_backend(backend), "characterizations", characterization_id
        )
        return _structure(await self._get(path), Characterization, "GET " + path)

    async def whoami(self) -> WhoAmI:
        """The key in use: its id, name and project."""
        return _structure(await self._get("/whoami"), WhoAmI, "GET /whoami")

    # -- jobs: create -------------------------------------------------------------------

    async def submit(
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
        """Submit a circuit (or several, as one multi-circuit job) and return the new job.

        Everything is checked before anything is sent (see :func:`job_payload`). The job
        returned holds the id, status and session from the answer plus what was sent
        (backend, type, name, shots, noise, settings, metadata, dry_run); fetch it with
        :meth:`get_job` for the server's view. A 429 is retried; after an ambiguous failure
        (connection lost after sending, timeout, 5xx) the error is raised, never re-sent.
        """
        payload = job_payload(
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
        created = await self.create_job(payload)
        return _job_from_created(created, payload)

    async def create_job(self, payload: Mapping[str, Any]) -> JobCreated:
        """``POST /jobs`` with a whole payload as given (same retry rules as submit)."""
        if not isinstance(payload, Mapping):
            raise TypeError(f"payload must be a mapping, got {type(payload).__name__}")
        data = await self._transport.request(
            "POST", "/jobs", json_body=dict(payload), is_job_creation=True
        )
        return _structure(data, JobCreated, "POST /jobs")

    # -- jobs: read ---------------------------------------------------------------------

    async def get_job(self, job: Job | str) -> Job:
        """The job's current state."""
        path = path_of("jobs", _job_id(job))
        return _structure(await self._get(path), Job, "GET " + path)

    async def job_page(
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
        """One page of ``GET /jobs``; ``page.next`` is the cursor of the next page or None.

        ``ids`` go out repeated (``ids=a&ids=b``; an empty list gives an empty page with
        no request), ``backend`` as ``target`` (several joined by commas), ``limit`` is
        the page size.
        """
        query: list[tuple[str, str]] = []
        if ids is not None:
            id_list = _job_ids(ids)
            if not id_list:
                # No ids means no jobs; without the filter the server would list them all.
                return JobPage(jobs=(), next=None)
            query.extend(("ids", job_id) for job_id in id_list)
        if status is not None:
            try:
                query.append(("status", JobStatus(status).value))
            except ValueError:
                raise InvalidRequestError(f"unknown job status {status!r}") from None
        if backend is not None:
            if not isinstance(backend, str | Sequence):
                raise InvalidRequestError(
                    f"backend must be a name or a list of names, got {backend!r}"
                )
            names = [backend] if isinstance(backend, str) else list(backend)
            query.append(("target", ",".join(_check_backend(name) for name in names)))
        if session_id is not None:
            query.append(("session_id", _session_id(session_id)))
        if parent_job_id is not None:
            query.append(("parent_job_id", _job_id(parent_job_id)))
        if limit is not None:
            query.append(("limit", str(_check_int("limit", limit, low=1))))
        if cursor is not None:
            query.append(("next", cursor))
        data = await self._get("/jobs", query)
        return _structure(data, JobPage, "GET /jobs")

    async def jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        backend: str | Sequence[str] | None = None,
        ids: Iterable[Job | str] | str | None = None,
        session_id: str | None = None,
        parent_job_id: Job | str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Job]:
        """Every job matching the filters, page after page (``limit`` caps the total).

        A server that repeats a page cursor raises ResponseError instead of looping.
        """
        if limit is not None and _check_int("limit", limit, low=0) == 0:
            return
        ids_list = None if ids is None else _job_ids(ids)
        seen: set[str] = set()
        cursor: str | None = None
        yielded = 0
        while True:
            page = await self.job_page(
                status=status,
                backend=backend,
                ids=ids_list,
                session_id=session_id,
                parent_job_id=parent_job_id,
                limit=page_size if page_size is not None else limit,
                cursor=cursor,
            )
            for job in page.jobs:
                yield job
                yielded += 1
                if limit is not None and yielded >= limit:
                    return
            if not page.next:
                return
            if page.next in seen:
                raise ResponseError(f"GET /jobs repeated the page cursor {page.next!r}")
            seen.add(page.next)
            cursor = page.next

    # -- results ------------------------------------------------------------------------

    async def probabilities(
        self,
        job: Job | str,
        *,
        sharpen: bool | None = None,
        aggregation: str | None = None,
        variant: str | None = None,
    ) -> dict[int, float]:
        """A completed job's probabilities ``{state: p}`` (qubit 0 the least significant bit).

        Given a Job whose ``results`` name a probabilities URL, that URL is fetched (it
        must be on the API's own origin); otherwise ``/jobs/{id}/results/probabilities``.
        Raises ResultsNotReadyError (a 404) while the job has not completed; given a Job
        that failed or was canceled, JobFailed or JobCanceled without asking;
        InvalidRequestError for a dry run (it never has results) or a multi-circuit
        parent (use :meth:`aggregated_probabilities`); ResponseError, saying so, when an
        id turns out to be a parent's. The answer is checked before it is returned:
        ResponseError, naming the job and the problem, unless it holds at least one state,
        every value is a finite non-negative number, the values sum to 1 (within
        ``results.PROBABILITY_SUM_TOLERANCE``) and, given a Job whose ``stats`` name its
        width, every state is below ``2**qubits``.

        Debiased jobs: ``aggregation`` (``"average"``, ``"voting"``, ``"dnl"``,
        ``"majority"``) chooses how the variants are combined (``voting`` is what
        ``sharpen=True`` asked for); ``variant`` reads one variant's own probabilities.
        """
        num_qubits = job_width(job) if isinstance(job, Job) else None
        if variant is not None:
            path, query = self._results_path(job, "probabilities", variant)
            data = await self._get(path, query, results=True)
            return _read_probabilities(
                data, what="GET " + path, job_id=_job_id(job), num_qubits=num_qubits
            )
        return await self._probabilities(
            job, sharpen=sharpen, aggregation=aggregation, num_qubits=num_qubits
        )

    async def _probabilities(
        self,
        job: Job | str,
        *,
        sharpen: bool | None = None,
        aggregation: str | None = None,
        num_qubits: int | None,
    ) -> dict[int, float]:
        """:meth:`probabilities`, checked against ``num_qubits`` (the batch engine knows
        each circuit's width as sent, which it trusts over the answer's ``stats``)."""
        job_id = _job_id(job)
        path = path_of("jobs", job_id, "results", "probabilities")
        query: list[tuple[str, str]] = []
        if isinstance(job, Job):
            _check_has_results(job)
            url = job.results.probabilities_url if job.results is not None else None
            if url is not None:
                path, query = self._transport.api_path_of(url)
        if sharpen is not None:
            query = [(k, v) for k, v in query if k != "sharpen"]
            query.append(("sharpen", _bool_text("sharpen", sharpen)))
        if aggregation is not None:
            query = [(k, v) for k, v in query if k != "aggregation"]
            query.append(("aggregation", check_aggregation(aggregation)))
        data = await self._get(path, query, results=True)
        if (
            isinstance(data, Mapping)
            and data
            and all(isinstance(value, Mapping) for value in data.values())
        ):
            # A parent's probabilities come keyed by child job; they are not one distribution.
            raise ResponseError(
                f"GET {path}: the answer holds one distribution per child job; job {job_id} "
                "looks like a multi-circuit parent: use aggregated_probabilities()",
                body=data,
            )
        return _read_probabilities(data, what="GET " + path, job_id=job_id, num_qubits=num_qubits)

    async def aggregated_probabilities(self, job: Job | str) -> dict[str, dict[int, float]]:
        """A multi-circuit parent's probabilities by child job id, in circuit order.

        Each child's distribution is checked as :meth:`probabilities` checks one (the
        children's widths are not known here, so keys are not checked against them); the
        first bad one, or an answer without children, raises ResponseError naming it.
        """
        by_child = await self._child_probabilities(job)
        if not by_child:
            raise ResponseError(f"job {_job_id(job)}: the aggregated results name no child job")
        out: dict[str, dict[int, float]] = {}
        for child, probabilities in by_child.items():
            if isinstance(probabilities, ResponseError):
                raise probabilities
            validate_probabilities(probabilities, job_id=child)
            out[child] = probabilities
        return out

    async def _child_probabilities(
        self, job: Job | str
    ) -> dict[str, dict[int, float] | ResponseError]:
        """A parent's probabilities by child job id, each read on its own, in circuit order.

        Only their form is checked here (:func:`parse_probabilities`): the caller checks
        each distribution once, against the width it knows. A child whose answer is
        unreadable gets its ResponseError in place of its probabilities, so the others stay
        usable; an answer that is not an object raises.
        """
        path = path_of("jobs", _job_id(job), "results", "probabilities", "aggregated")
        data = await self._get(path, results=True)
        if not isinstance(data, Mapping):
            raise ResponseError(
                f"GET {path}: expected a JSON object, got {type(data).__name__}", body=data
            )
        out: dict[str, dict[int, float] | ResponseError] = {}
        for child, raw in data.items():
            child_id = str(child)
            try:
                out[child_id] = parse_probabilities(raw, job_id=child_id)
            except Exception as problem:
                # _reading's rule, entered only on the way out: entering it for every
                # child cost a fifth of reading a 16-state child.
                try:
                    with _reading("GET " + path, raw):
                        raise problem
                except ResponseError as error:
                    out[child_id] = error
        return out

    def _results_path(
        self, job: Job | str, kind: str, variant: str | None
    ) -> tuple[str, list[tuple[str, str]]]:
        """Where a job's results of ``kind`` are: a variant's, the URL a Job names, or
        ``/jobs/{id}/results/{kind}``."""
        job_id = _job_id(job)
        if variant is not None:
            if not isinstance(variant, str) or not variant:
                raise InvalidRequestError(f"variant must be a variant id, got {variant!r}")
            return path_of("jobs", job_id, "variants", variant, "results", kind), []
        if isinstance(job, Job):
            _check_has_results(job)
            url = job.results.urls.get(kind) if job.results is not None else None
            if url is not None:
                path, query = self._transport.api_path_of(url)
                return path, list(query)
        return path_of("jobs", job_id, "results", kind), []

    async def shots(self, job: Job | str, *, variant: str | None = None) -> list[int]:
        """A completed job's state of every shot, in order (``/results/shots``): ints with
        qubit 0 the least significant bit. One request; the simulator without noise has
        no shots (the API's 404 is ResultsNotReadyError's parent, NotFoundError).

        ``variant`` reads an error-mitigation variant's shots (see
        :meth:`mitigation_variants`). Checked: a list of non-negative integers (decimal
        strings accepted, as the API's catalogue shows them), below ``2**qubits`` when a
        Job with its width is given; ResponseError otherwise.
        """
        path, query = self._results_path(job, "shots", variant)
        data = await self._get(path, query, results=True)
        return read_shots(
            data, what="GET " + path, num_qubits=job_width(job) if isinstance(job, Job) else None
        )

    async def histogram(self, job: Job | str, *, variant: str | None = None) -> dict[int, int]:
        """A completed job's counts ``{state: count}`` as the API gives them
        (``/results/histogram``; qubit 0 the least significant bit).

        Checked: non-negative integer counts over states below ``2**qubits`` (when the
        width is known) that sum to the job's shots when a Job with shots is given.
        """
        path, query = self._results_path(job, "histogram", variant)
        data = await self._get(path, query, results=True)
        shots = job.shots if isinstance(job, Job) else None
        return read_histogram(
            data,
            what="GET " + path,
            num_qubits=job_width(job) if isinstance(job, Job) else None,
            shots=shots,
        )

    async def compiled_circuit(self, job: Job | str, lang: str = "native") -> Any:
        """The circuit as the API compiled it (``GET /jobs/{id}/circuits/{lang}``):
        ``lang="native"`` gives IonQ's native-gate JSON, ``"qasm3"`` OpenQASM 3 text."""
        if lang not in COMPILED_LANGS:
            raise InvalidRequestError(
                f"lang must be one of {', '.join(map(repr, COMPILED_LANGS))}, got {lang!r}"
            )
        path = path_of("jobs", _job_id(job), "circuits", lang)
        answer = await self._get(path, results=True, raw=True)
        return decode_raw(answer.content_type, answer.body, what="GET " + path).data

    async def artifact(self, job: Job | str, artifact_id: str) -> Artifact:
        """One of a job's artifacts (``GET /jobs/{id}/artifacts/{artifact_id}``), decoded
        by its content type: JSON, text or bytes. A Job's ``results.artifacts`` lists the
        descriptors (``descriptor.id`` is what to pass)."""
        if not isinstance(artifact_id, str) or not artifact_id:
            raise InvalidRequestError(f"artifact_id must be an id, got {artifact_id!r}")
        job_id = _job_id(job)
        path = path_of("jobs", job_id, "artifacts", artifact_id)
        answer = await self._get(path, results=True, raw=True)
        decoded = decode_raw(answer.content_type, answer.body, what="GET " + path)
        return Artifact(
            id=artifact_id, job_id=job_id, media_type=decoded.media_type, data=decoded.data
        )

    async def mitigation_variants(self, job: Job | str) -> list[str]:
        """The ids of a job's error-mitigation variants (debiased QPU jobs), from its
        ``output``; [] for a job without any. Pass one as ``variant=``."""
        if isinstance(job, str) or job.output is None:
            job = await self.get_job(job)
        return variant_ids(job)

    async def result(
        self, job: Job | str, *, memory: bool = False, aggregation: str | None = None
    ) -> Result:
        """The result of a completed job (fetched first unless a terminal Job is given).

        Raises JobFailed or JobCanceled for jobs that ended without results,
        ResultsNotReadyError for jobs that are still queued or running,
        InvalidRequestError for dry runs and multi-circuit parents, and ResponseError
        for results that are not a distribution over the job's qubits (no states, a
        state of ``2**qubits`` or more, values that are not finite non-negative numbers
        summing to 1). The result carries the readout of a converted circuit (Qiskit's
        classical bits, Cirq's keys) when the job's metadata does: ``submit`` puts it
        there when there is room (not for a pack's circuits).

        ``memory=True`` fetches every shot too (one more request: ``/results/shots``) for
        ``result.memory``; ``aggregation`` is :meth:`probabilities`'.
        """
        if isinstance(job, str) or not job.is_terminal:
            job = await self.get_job(job)
        _check_has_results(job)
        if job.status is not JobStatus.COMPLETED:
            raise ResultsNotReadyError(
                f"job {job.id} is {job.status.value}; results exist once it has completed",
                status=404,
            )
        probabilities = await self.probabilities(job, aggregation=aggregation)
        shot_states = await self.shots(job) if memory else None
        # A converted circuit's readout travels in the job's metadata when it fits.
        return Result(
            job=job,
            probabilities=probabilities,
            shots=job.shots,
            readout=readout_of(job.metadata),
            shot_states=shot_states,
        )

    # -- cost ---------------------------------------------------------------------------

    @property
    def spend(self) -> Spend:
        """Estimated and actual cost of the jobs this client's batches created, by backend
        (like Braket's cost tracker; ``ionq_async.track_cost()`` collects a block's)."""
        return self._spend

    async def estimate_batch(
        self,
        circuits: Iterable[Any] | AsyncIterable[Any],
        *,
        backend: str = "simulator",
        shots: int | None = None,
        pack: bool | PackLimits = False,
        concurrency: int = DEFAULT_ESTIMATE_CONCURRENCY,
        **options: Any,
    ) -> BatchEstimate:
        """Price a batch as :meth:`run_many` would send it, before sending it.

        One ``GET /jobs/estimate`` per distinct job shape (backend, type, qubits, 1q and 2q
        gates, shots, mitigation), never one per circuit, packing respected; simulator
        jobs and dry runs cost nothing and ask nothing. Takes :meth:`submit`'s options
        (``debiasing``, ``settings``, ...); the :class:`BatchEstimate` gives the total,
        each job, each circuit's share, each shape and what debiasing added.
        """
        return await estimate_batch(
            self.estimate,
            circuits,
            backend=backend,
            shots=shots,
            pack=pack,
            concurrency=concurrency,
            **options,
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
    ) -> SessionScope:
        """``async with client.session(backend=...) as session:`` creates a session on
        enter and ends it on exit, also on an error or a cancellation (the end is shielded
        and bounded by ``end_timeout_s``); pass ``session_id=session.id`` to submit/run/
        run_many. ``max_cost`` and ``max_jobs`` are the API's session limits."""
        return SessionScope(
            self,
            backend=_check_backend(backend),
            max_cost=max_cost,
            max_jobs=max_jobs,
            duration_limit_min=duration_limit_min,
            currency=currency,
            end_timeout_s=end_timeout_s,
        )

    async def cost(self, job: Job | str) -> Cost:
        """A job's estimated cost and, once billed, its actual cost."""
        path = path_of("jobs", _job_id(job), "cost")
        return _structure(await self._get(path), Cost, "GET " + path)

    async def estimate(
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
        query: list[tuple[str, str]] = [("backend", _check_backend(backend))]
        if type is not None:
            query.append(("type", type))
        if qubits is not None:
            query.append(("qubits", str(_check_int("qubits", qubits, low=1))))
        if shots is not None:
            query.append(("shots", str(_check_int("shots", shots, low=1, high=MAX_SHOTS))))
        if one_qubit_gates is not None:
            query.append(("1q_gates", str(_check_int("one_qubit_gates", one_qubit_gates, low=0))))
        if two_qubit_gates is not None:
            query.append(("2q_gates", str(_check_int("two_qubit_gates", two_qubit_gates, low=0))))
        if error_mitigation is not None:
            query.append(("error_mitigation", _bool_text("error_mitigation", error_mitigation)))
        return _structure(await self._get("/jobs/estimate", query), Estimate, "GET /jobs/estimate")

    # -- cancel and delete --------------------------------------------------------------

    async def cancel(self, job: Job | str) -> JobAnswer:
        """Cancel a job (``PUT /jobs/{id}/status/cancel``)."""
        path = path_of("jobs", _job_id(job), "status", "cancel")
        data = await self._transport.request("PUT", path)
        return _structure(data, JobAnswer, "PUT " + path)

    async def delete(self, job: Job | str) -> JobAnswer:
        """Delete a job; later reads of it answer 404."""
        path = path_of("jobs", _job_id(job))
        data = await self._transport.request("DELETE", path)
        return _structure(data, JobAnswer, "DELETE " + path)

    async def cancel_many(self, jobs: Iterable[Job | str]) -> BulkJobsAnswer:
        """Cancel several jobs in one request; no request for an empty list."""
        ids = _job_ids(jobs)
        if not ids:
            return BulkJobsAnswer(ids=(), status="canceled")
        data = await self._transport.request("PUT", "/jobs/status/cancel", json_body={"ids": ids})
        return _structure(data, BulkJobsAnswer, "PUT /jobs/status/cancel")

    async def delete_many(self, jobs: Iterable[Job | str]) -> BulkJobsAnswer:
        """Delete several jobs in one request; no request for an empty list."""
        ids = _job_ids(jobs)
        if not ids:
            return BulkJobsAnswer(ids=(), status="deleted")
        data = await self._transport.request("DELETE", "/jobs", json_body={"ids": ids})
        return _structure(data, BulkJobsAnswer, "DELETE /jobs")

    # -- sessions -----------------------------------------------------------------------

    async def create_session(
        self,
        backend: str,
        *,
        job_count_limit: int | None = None,
        duration_limit_min: float | None = None,
        cost_limit: Money | None = None,
    ) -> Session:
        """Open a session on a backend, with optional limits (never re-sent if ambiguous)."""
        body: dict[str, Any] = {"backend": _check_backend(backend)}
        settings: dict[str, Any] = {}
        if job_count_limit is not None:
            settings["job_count_limit"] = _check_int("job_count_limit", job_count_limit, low=1)
        if duration_limit_min is not None:
            if (
                isinstance(duration_limit_min, bool)
                or not isinstance(duration_limit_min, int | float)
                or not math.isfinite(duration_limit_min)
                or duration_limit_min <= 0
            ):
                raise InvalidRequestError(
                    f"duration_limit_min must be a positive number, got {duration_limit_min!r}"
                )
            settings["duration_limit_min"] = duration_limit_min
        if cost_limit is not None:
            if not isinstance(cost_limit, Money):
                raise InvalidRequestError(f"cost_limit must be a Money, got {cost_limit!r}")
            settings["cost_limit"] = {"unit": cost_limit.unit, "value": cost_limit.value}
        if settings:
            body["settings"] = settings
        data = await self._transport.request(
            "POST", "/sessions", json_body=body, is_job_creation=True
        )
        return _structure(data, Session, "POST /sessions")

    async def get_session(self, session: Session | str) -> Session:
        """One session by id."""
        path = path_of("sessions", _session_id(session))
        return _structure(await self._get(path), Session, "GET " + path)

    async def sessions(self, *, active: bool | None = None) -> list[Session]:
        """The organization's sessions, optionally only the active (or ended) ones."""
        query = [] if active is None else [("active", _bool_text("active", active))]
        data = await self._get("/sessions", query)
        return list(_structure(data, SessionList, "GET /sessions").sessions)

    async def end_session(self, session: Session | str) -> Session:
        """End a session; jobs already in it still run."""
        path = path_of("sessions", _session_id(session), "end")
        data = await self._transport.request("POST", path)
        return _structure(data, Session, "POST " + path)

    # -- batches (the engine in ionq_async._batch) ------------------------------------------

    async def wait(
        self,
        job: Job | str,
        *,
        timeout_s: float | None = None,
        cancel_on_timeout: bool = False,
        schedule: PollSchedule | None = None,
    ) -> Job:
        """Wait until the job is completed; raise JobFailed, JobCanceled or WaitTimeoutError.

        Polls ``GET /jobs/{id}`` on ``schedule`` (default: short for the simulator,
        patient for QPUs; predicted times are used when the job has them). A local
        timeout raises WaitTimeoutError with the last state seen and leaves the remote
        job running unless ``cancel_on_timeout``.
        """
        return await wait_for_job(
            self, job, timeout_s=timeout_s, cancel_on_timeout=cancel_on_timeout, schedule=schedule
        )

    async def run(self, circuit: Any, **options: Any) -> Result:
        """Submit one circuit, wait for it, and return its Result (submit, wait, fetch).

        Takes :meth:`submit`'s options. Like :meth:`run_many` the creation carries a
        token, so an ambiguous failure never leads to a second job.
        """
        async with self.run_many([circuit], concurrency=1, max_in_flight=1, **options) as run:
            # One circuit gives exactly one outcome.
            outcome = await run.__anext__()
        return outcome.unwrap()

    def run_many(
        self,
        circuits: Iterable[Any] | AsyncIterable[Any],
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
    ) -> BatchRun:
        """Run many circuits; iterate the returned :class:`BatchRun` for outcomes as they end.

        ``circuits`` is any iterable or async iterable of circuits (ours, API JSON, Qiskit,
        Cirq, OpenQASM text), read lazily as the batch has room (at most
        ``max(20,000, max_in_flight)`` circuits are held between being read and their
        outcome): a generator of a million circuits is never held as a list. An item that
        cannot be converted, or that the input fails to give, is that item's error outcome.

        ``options`` are :meth:`submit`'s (backend, shots, noise_model, metadata, ...); an
        option it does not take is a TypeError now, naming the closest one.
        ``concurrency`` bounds job creations in flight (it shrinks on 429 and grows back);
        ``max_in_flight`` bounds jobs created but not yet finished. ``journal`` is a file
        path that makes the batch resumable after a crash without resubmitting.
        ``cancel_remote`` cancels unfinished jobs if the batch is stopped early. ``pack``
        sends consecutive circuits in ``ionq.multi-circuit.v1`` jobs (``True`` or
        :class:`PackLimits`);
        outcomes still come one per circuit (``outcome.job`` is then the parent,
        ``outcome.result.job`` the circuit's child job). ``progress`` is called with a
        :class:`BatchProgress` whenever a count changes.

        ``timeout_s`` bounds the whole batch: when it runs out, every circuit without an
        outcome gets one, WaitTimeoutError if it has a job (left running unless
        ``cancel_remote``; the error names it) or BatchTimeoutError if not (the input not
        read yet is then read, never sent, for one such outcome each). If polling gets
        no answer at all for ``max_poll_failure_s`` in a row (the API is out of reach),
        every job still waited for ends as JobUnreachableError carrying its id.

        Use ``async for outcome in client.run_many(...)`` directly, or hold the handle in
        ``async with client.run_many(...) as run:``; a handle kept in a variable without
        ``async with`` goes on submitting after a ``break`` until it is closed.
        """
        check_submit_options(self.submit, options, caller="run_many")
        return start_run_many(
            self,
            self._throttle,
            self._batches,
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
            client_spend=self._spend,
            options=options,
        )

    def run_sweep(
        self,
        circuit: Any,
        parameter_sets: Iterable[Any] | AsyncIterable[Any],
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
    ) -> BatchRun:
        """Run one parameterized circuit at each parameter set; outcomes as they end.

        ``circuit`` has symbolic parameters (``ionq.Parameter``, Qiskit ``Parameter`` s,
        Cirq ``sympy`` symbols); it is converted once, now. ``parameter_sets`` is any
        iterable or async iterable, read lazily like :meth:`run_many`'s circuits, of
        mappings ``{name or Parameter: value}`` (a ``cirq.ParamResolver`` too) or of
        sequences of values in the order of the sorted parameter names. Each outcome
        carries its set as ``outcome.parameters`` (``{name: value}``) and the bound circuit
        as ``outcome.circuit``; a set that cannot be bound (a missing or unknown name, a
        value out of range) is that set's CircuitError outcome. Takes :meth:`run_many`'s
        keywords and :meth:`submit`'s options (``pack=True`` suits large sweeps).
        """
        check_submit_options(self.submit, options, caller="run_sweep")
        return start_run_sweep(
            self,
            self._throttle,
            self._batches,
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
            client_spend=self._spend,
            options=options,
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
    ) -> BatchRun:
        """Outcomes of jobs submitted elsewhere (Jobs or ids) in completion order.

        ``index`` of each outcome is the job's position in ``jobs``; the shared poller
        asks about many jobs per request.
        """
        return start_as_completed(
            self,
            self._throttle,
            self._batches,
            jobs,
            max_in_flight=max_in_flight,
            cancel_remote=cancel_remote,
            progress=progress,
            timeout_s=timeout_s,
            max_poll_failure_s=max_poll_failure_s,
        )

    async def gather(
        self, circuits: Iterable[Any] | AsyncIterable[Any], **options: Any
    ) -> list[Outcome]:
        """Run many circuits and return every outcome in input order (see :meth:`run_many`)."""
        outcomes: list[Outcome] = []
        async with self.run_many(circuits, **options) as run:
            async for outcome in run:
                outcomes.append(outcome)
        outcomes.sort(key=lambda outcome: outcome.index)
        return outcomes
