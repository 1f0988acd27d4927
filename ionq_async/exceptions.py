"""Every error this library raises, in one tree.

::

    IonQError
    ├── ConfigurationError          bad settings: missing key, insecure URL, bad option
    │   ├── MissingKeyError         no API key for an endpoint that needs one
    │   └── MissingExtraError       an optional extra (qiskit, cirq, qasm, ...) not installed
    ├── ClientClosedError           a Client used outside its ``async with`` / after aclose()
    ├── CircuitError                a circuit fails validation before any request is sent
    ├── InvalidRequestError         another argument the API would reject (shots, metadata)
    ├── TransportError              the request did not get an HTTP answer
    │   ├── IonQConnectionError     connecting failed or the connection dropped
    │   └── IonQTimeoutError        connect, read or total timeout (also a TimeoutError)
    ├── ResponseError               an answer is not what the API promises (HTML, bad JSON,
    │                               wrong shape, too large, a repeating page cursor)
    ├── APIError                    the API answered with an error status
    │   ├── BadRequestError         400, with the ``validation`` keys
    │   ├── AuthenticationError     401
    │   ├── PermissionDeniedError   403
    │   ├── NotFoundError           404
    │   │   └── ResultsNotReadyError   404 on results of a job that is not completed
    │   ├── ConflictError           409
    │   ├── PayloadTooLargeError    413
    │   ├── RateLimitError          429, with ``retry_after``
    │   └── ServerError             5xx and Cloudflare's 52x
    ├── JobError                    a job ended without results
    │   ├── JobFailed               carries the job and its failure code
    │   ├── JobCanceled             carries the job
    │   ├── WaitTimeoutError        waiting locally ran out of time (the job still runs)
    │   └── JobUnreachableError     its state could not be read for too long (it may run)
    ├── BatchTimeoutError           a batch's ``timeout_s`` ran out before a circuit had a job
    ├── BudgetExceededError         a batch's price (estimated, or committed while it runs)
    │                               would cross its ``max_cost``; carries the estimate
    └── JournalError                a batch journal is in use by another run, unreadable or
                                    unwritable (path named), or belongs to another batch

No message ever contains an API key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._batch.pricing import BatchEstimate
    from .models import Job

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "BatchTimeoutError",
    "BudgetExceededError",
    "CircuitError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "InvalidRequestError",
    "IonQConnectionError",
    "IonQError",
    "IonQTimeoutError",
    "JobCanceled",
    "JobError",
    "JobFailed",
    "JobUnreachableError",
    "JournalError",
    "MissingExtraError",
    "MissingKeyError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseError",
    "ResultsNotReadyError",
    "ServerError",
    "TransportError",
    "WaitTimeoutError",
    "error_for_status",
]


class IonQError(Exception):
    """The base of every error raised by ionq_async."""


class ConfigurationError(IonQError, ValueError):
    """A setting is missing or not allowed (no API key, plain http to a remote host, ...)."""


class MissingKeyError(ConfigurationError):
    """No API key for an endpoint that needs one (``api_key=`` or ``IONQ_API_KEY``)."""


class MissingExtraError(ConfigurationError, ImportError):
    """An optional integration is used without its extra; the message says what to install."""

    def __init__(self, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(f'{module} is not installed: pip install "ionq-async[{extra}]" to use it')


class ClientClosedError(IonQError, RuntimeError):
    """The client was used before ``async with`` entered it or after it was closed."""


class CircuitError(IonQError, ValueError):
    """A circuit is invalid; ``position`` is the index of the offending gate, if any."""

    def __init__(self, problem: str, *, position: int | None = None, circuit: int | None = None):
        self.problem = problem
        self.position = position
        self.circuit = circuit
        where = []
        if circuit is not None:
            where.append(f"circuit {circuit}")
        if position is not None:
            where.append(f"gate {position}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + problem)


class InvalidRequestError(IonQError, ValueError):
    """An argument would make a request the API rejects (shots out of range, bad metadata)."""


class TransportError(IonQError):
    """The request got no HTTP answer.

    ``request_sent`` is False only when the request certainly never reached the server
    (the connection could not be opened); a job creation that failed with
    ``request_sent=True`` may or may not have created the job.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        request_sent: bool = True,
    ):
        self.method = method
        self.url = url
        self.request_sent = request_sent
        super().__init__(message)


class IonQConnectionError(TransportError, ConnectionError):
    """Connecting failed, or the connection dropped before a full answer arrived."""


class IonQTimeoutError(TransportError, TimeoutError):
    """A connect, read or total timeout ran out."""


class ResponseError(IonQError):
    """An answer does not have the shape the API promises; ``body`` is what was read."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None):
        self.status = status
        self.body = body
        super().__init__(message)


class APIError(IonQError):
    """The API answered with an error status code."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: Any = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        method: str | None = None,
        url: str | None = None,
    ):
        self.status = status
        self.message = message
        self.body = body
        self.request_id = request_id
        self.retry_after = retry_after
        self.method = method
        self.url = url
        where = f" ({method} {url})" if method and url else ""
        rid = f" [request id {request_id}]" if request_id else ""
        super().__init__(f"{status}: {message}{where}{rid}")


class BadRequestError(APIError):
    """400: the request was malformed; ``validation_keys`` names the bad fields."""

    @property
    def validation_keys(self) -> tuple[str, ...]:
        """The request fields the server named as invalid."""
        if isinstance(self.body, Mapping):
            validation = self.body.get("validation")
            if isinstance(validation, Mapping):
                keys = validation.get("keys")
                if isinstance(keys, list):
                    return tuple(str(k) for k in keys)
        return ()


class AuthenticationError(APIError):
    """401: the API key is missing or invalid."""


class PermissionDeniedError(APIError):
    """403: the key may not do this."""


class NotFoundError(APIError):
    """404: no such job, backend or session (or it was deleted)."""


class ResultsNotReadyError(NotFoundError):
    """404 for results of a job that has not completed yet."""


class ConflictError(APIError):
    """409: a conflict; on GETs usually a transient proxy error, retried."""


class PayloadTooLargeError(APIError):
    """413: the request body is over the API's 10 MB limit."""


class RateLimitError(APIError):
    """429: too many requests; ``retry_after`` says how long to wait, if the server said."""


class ServerError(APIError):
    """5xx or 52x: the server or a proxy in front of it failed."""


class JobError(IonQError):
    """A job ended without results; ``job`` is its last known state."""

    def __init__(self, message: str, *, job: Job):
        self.job = job
        super().__init__(message)


class JobFailed(JobError):
    """The job failed; ``code`` is the API's failure code, e.g. ``TooManyShots``."""

    def __init__(self, job: Job):
        failure = job.failure
        self.code = failure.code if failure else None
        text = failure.text if failure else ""
        detail = ": ".join(part for part in (self.code, text) if part) or "no reason given"
        super().__init__(f"job {job.id} failed: {detail}", job=job)


class JobCanceled(JobError):
    """The job was canceled before it completed."""

    def __init__(self, job: Job):
        super().__init__(f"job {job.id} was canceled", job=job)


class WaitTimeoutError(JobError, TimeoutError):
    """Waiting for a job ran out of time locally; the remote job was not canceled."""

    def __init__(self, job: Job, timeout_s: float):
        self.timeout_s = timeout_s
        super().__init__(
            f"job {job.id} still {job.status.value} after waiting {timeout_s:g} s", job=job
        )


class JobUnreachableError(JobError):
    """The job's state could not be read for ``failing_s`` seconds in a row.

    The job may still run (and be billed) on the server: its id is ``job.id``; the error
    that polling last met is the ``__cause__``.
    """

    def __init__(self, job: Job, failing_s: float):
        self.failing_s = failing_s
        super().__init__(
            f"job {job.id}: its state could not be read for {failing_s:g} s in a row; "
            f"it may still run on the server (client.get_job({job.id!r}) asks again)",
            job=job,
        )


class BatchTimeoutError(IonQError, TimeoutError):
    """A batch's ``timeout_s`` ran out before this circuit had a job (or an answer to it).

    ``token`` is set when the job's creation was under way: a job may then exist on the
    server with that token in ``metadata["ionq_async_token"]``.
    """

    def __init__(self, index: int, timeout_s: float, *, token: str | None = None):
        self.index = index
        self.timeout_s = timeout_s
        self.token = token
        if token is None:
            detail = "it was never submitted"
        else:
            detail = (
                "its job creation was under way: a job may exist on the server with "
                f"metadata ionq_async_token={token}"
            )
        super().__init__(f"circuit {index}: the batch's {timeout_s:g} s ran out; {detail}")


class BudgetExceededError(IonQError):
    """A batch would cost more than its ``max_cost``; nothing more is submitted.

    Raised before any job is created when the batch's estimate is over the budget
    (``estimate`` is that :class:`~ionq_async._batch.pricing.BatchEstimate`), or, while a
    batch runs,
    as the outcome of each circuit left unsubmitted because submitting it would have taken
    the committed cost (actual costs of finished jobs plus estimates of the rest) over the
    budget (``committed`` and ``next_cost`` say by how much). Amounts are in ``currency``.
    """

    def __init__(
        self,
        budget: float,
        *,
        estimate: BatchEstimate | None = None,
        committed: float | None = None,
        next_cost: float | None = None,
        currency: str | None = None,
        index: int | None = None,
    ):
        self.budget = budget
        self.estimate = estimate
        self.committed = committed
        self.next_cost = next_cost
        self.index = index
        if currency is None and estimate is not None:
            currency = estimate.currency
        self.currency = currency
        unit = f" {currency}" if currency else ""
        if estimate is not None:
            jobs = len(estimate.jobs)
            message = (
                f"the batch's estimated cost {estimate.total:,.2f}{unit} is over its budget "
                f"of {budget:,.2f}{unit} ({jobs} job{'s' if jobs != 1 else ''}); "
                "no job was created"
            )
        else:
            where = f"circuit {index}: " if index is not None else ""
            spent = f"{committed:,.2f}{unit} committed" if committed is not None else "committed"
            price = f" and its job's {next_cost:,.2f}{unit}" if next_cost is not None else ""
            message = (
                f"{where}not submitted: {spent}{price} would cross the budget of "
                f"{budget:,.2f}{unit}"
            )
        super().__init__(message)


class JournalError(IonQError):
    """A batch journal is in use by another run, unreadable, unwritable or another batch's."""


_STATUS_CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    429: RateLimitError,
}


def error_for_status(status: int) -> type[APIError]:
    """The APIError subclass for an HTTP status code (500-599 -> ServerError)."""
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if status >= 500:
        return ServerError
    return APIError
