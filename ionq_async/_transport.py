"""The HTTP edge of the client: the only client module that imports aiohttp.

One :class:`Transport` per client owns the ``aiohttp.ClientSession`` (unless the caller
passed one in), the headers (``Authorization: apiKey <key>``, a User-Agent naming this
library, aiohttp and Python), timeouts, a cap on answer size, JSON decoding, the mapping
of answers and aiohttp failures to the IonQError tree, the retry loop (decisions in
:mod:`ionq_async._retry`), redirects, DEBUG logging, and the client's shared back-off gate.

Shared back-off gate: a 429 (for its ``Retry-After``, or the back-off when absent) or a
burst of 5xx answers from any request closes the gate; every request of the client waits
for it to reopen before it is sent, so a rate-limited client slows down as a whole
instead of each task hammering on its own schedule. The gate never closes for longer than
the time budget (``RetryPolicy.max_total_s``) the request that closed it has left: a
``Retry-After`` beyond that makes the request raise RateLimitError at once and leaves the
gate as it was. An ``anyio.CapacityLimiter`` bounds the requests in flight.

Redirects are followed by hand (at most :data:`MAX_REDIRECTS`): the ``Authorization``
header goes only to the base URL's origin (scheme, host and port); after a redirect to
another origin the request is followed without it, and it is never sent again in that
chain. Only GET, HEAD and OPTIONS follow a redirect to another origin: any other request
(a job creation above all) raises ResponseError naming both origins, so nothing is sent
to, or taken as done by, another host. A same-origin 307/308 re-sends the body (the
server answered the redirect instead of acting). A redirect to plain ``http://`` on a
non-loopback host is refused unless insecure HTTP was allowed.

The API key is kept in a :class:`Secret` and appears in no repr, log record or exception
text; every message built from an answer is scrubbed of it. The header value hides itself
in reprs, and frames of aiohttp's errors that hold the key lose their locals, so a
traceback rendered with its locals does not show it either. URLs in messages lose their
query values, fragment and user name (:func:`redact_url`).
"""

from __future__ import annotations

import enum
import inspect
import json
import logging
import math
import platform
import random
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from importlib import metadata
from types import FrameType, TracebackType
from typing import Any, Final, SupportsIndex
from urllib.parse import quote, urlencode

import aiohttp
import anyio
from attrs import define, field, frozen
from multidict import CIMultiDictProxy
from yarl import URL

from . import _json, _retry
from ._loop_servers import is_loopback_host
from ._retry import RetryPolicy
from .exceptions import (
    APIError,
    ClientClosedError,
    ConfigurationError,
    InvalidRequestError,
    IonQConnectionError,
    IonQTimeoutError,
    MissingKeyError,
    NotFoundError,
    ResponseError,
    ResultsNotReadyError,
    TransportError,
    error_for_status,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "MAX_REDIRECTS",
    "RateLimitEvent",
    "RawAnswer",
    "Secret",
    "Transport",
    "TransportStats",
    "is_loopback_host",
    "redact_url",
    "redact_urls",
    "user_agent",
]

logger = logging.getLogger("ionq_async")

DEFAULT_BASE_URL: Final = "https://api.ionq.co/v0.4"
MAX_REDIRECTS: Final = 5
DEFAULT_MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024
_ERROR_BODY_BYTES: Final = 1024 * 1024
_EXCERPT_CHARS: Final = 200
_BODY_TEXT_CHARS: Final = 4096
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
# Methods whose redirect to another origin may be followed (without the key): they change
# nothing, so an answer from elsewhere cannot stand for something done on our behalf.
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
# Code flags of frames that belong to a generator or coroutine (see _scrub_tracebacks).
_SUSPENDABLE: Final = (
    inspect.CO_GENERATOR
    | inspect.CO_COROUTINE
    | inspect.CO_ASYNC_GENERATOR
    | inspect.CO_ITERABLE_COROUTINE
)
_READ_CHUNK_BYTES: Final = 64 * 1024
# The API version at the start of a root-relative URL it hands out: ``/v0.4/jobs/...``.
_VERSION_PREFIX: Final = re.compile(r"/v\d+(?:\.\d+)*(?=/)")


class Secret:
    """A string that never shows itself in repr, str or formatting."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value; only for building the Authorization header."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


class _AuthorizationValue(str):
    """The ``Authorization`` header's value: a plain str to aiohttp, ``***`` to any repr.

    Header dicts (ours, and aiohttp's ``CIMultiDict`` and ``RequestInfo``) sit in the
    locals of frames that tracebacks rendered with their locals show; they repr their
    values, so this value shows as ``'apiKey ***'`` there. A slice (as renderers cut long
    strings) stays redacted; ``str()`` gives the real value, which aiohttp writes.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'apiKey ***'"

    def __getitem__(self, key: SupportsIndex | slice) -> str:
        return _AuthorizationValue(str.__getitem__(self, key))

    def __reduce__(self) -> Any:
        raise TypeError("an Authorization header value cannot be pickled")


def _package_version() -> str:
    try:
        return metadata.version("ionq-async")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def user_agent() -> str:
    """``ionq-async/<version> aiohttp/<version> python/<version>``."""
    return (
        f"ionq-async/{_package_version()} aiohttp/{aiohttp.__version__} "
        f"python/{platform.python_version()}"
    )


_AUTHORITY_USERINFO: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)[^/?#]*@")
# A URL inside free text: a scheme, ``://`` and everything up to white space or a quote.
_URL_IN_TEXT: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")


def redact_url(url: object) -> str:
    """``url`` as it may be shown: no user name or password, query values and fragment ``***``.

    Works on the text, so it also hides what is in a URL that does not parse. Query names
    stay (``?key=***&limit=***``): they say what was asked without saying the values.
    """
    text = str(url)
    text, hash_mark, fragment = text.partition("#")
    text, question_mark, query = text.partition("?")
    text = _AUTHORITY_USERINFO.sub(r"\1***@", text)
    if question_mark:
        parts = (
            part.partition("=")[0] + "=***" if "=" in part else ("***" if part else "")
            for part in query.split("&")
        )
        text += "?" + "&".join(parts)
    if hash_mark:
        text += "#***" if fragment else "#"
    return text


def redact_urls(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url`."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _origin(url: URL) -> tuple[str, str, int | None]:
    return (url.scheme.lower(), (url.host or "").lower(), url.port)


def check_base_url(base_url: str, *, allow_insecure_http: bool) -> URL:
    """Parse and check a base URL; raise ConfigurationError if it is unusable or insecure."""
    try:
        url = URL(base_url)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"base URL {redact_url(base_url)!r} cannot be parsed") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(
            f"base URL must be http(s)://host[/path], got {redact_url(base_url)!r}"
        )
    if url.user is not None or url.password is not None:
        # A key or password in the URL would leak into every log line and error message.
        raise ConfigurationError("base URL must not contain a user name or password")
    if url.query_string or url.fragment:
        # Shown without its values: a query is where people put keys and tokens.
        raise ConfigurationError(
            f"base URL must not have a query or fragment: {redact_url(base_url)!r}"
        )
    _check_scheme(url, allow_insecure_http=allow_insecure_http)
    return url.with_path(url.path.rstrip("/"))


def _check_scheme(url: URL, *, allow_insecure_http: bool) -> None:
    if url.scheme == "http" and not allow_insecure_http and not is_loopback_host(url.host):
        raise ConfigurationError(
            f"refusing plain http:// to {url.host}: the API key would travel unencrypted; "
            "use https://, or pass allow_insecure_http=True if you really mean it"
        )


@define
class TransportStats:
    """Counters of one client's HTTP traffic (observable by the batch engine and tests)."""

    requests_sent: int = 0
    succeeded: int = 0
    """Requests answered with a 2xx (a request, not an exchange: redirects count once)."""
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    gate_closures: int = 0


@frozen(kw_only=True)
class RawAnswer:
    """A successful answer as it came: its content type and body (capped like any)."""

    content_type: str | None
    body: bytes


@frozen(kw_only=True)
class RateLimitEvent:
    """A 429 seen by the client: how long the server asked to wait and what was waited."""

    method: str
    path: str
    retry_after_s: float | None
    wait_s: float


RateLimitListener = Callable[[RateLimitEvent], None]


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


@frozen
class _Answer:
    status: int
    reason: str
    headers: CIMultiDictProxy[str]
    # A server may echo the request's key back; a traceback's locals show only the size.
    raw: bytes = field(repr=lambda raw: f"<{len(raw)} bytes>")
    url: URL


def _excerpt(text: str, limit: int = _EXCERPT_CHARS) -> str:
    # Strip tags so that a proxy's HTML error page reads as its text.
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    text = re.sub(r"<[^>]*>", " ", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_json_type(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == "application/json" or mime.endswith("+json")


def _encode_segment(segment: str) -> str:
    """Percent-encode one path segment; refuse ids that would change the path."""
    if not isinstance(segment, str):
        raise TypeError(f"expected a string id, got {type(segment).__name__}")
    if not segment or segment in (".", ".."):
        raise InvalidRequestError(f"{segment!r} is not a valid id")
    return quote(segment, safe="")


def path_of(*segments: str) -> str:
    """A request path from segments: ``path_of("jobs", id, "cost")`` -> ``/jobs/<id>/cost``."""
    return "/" + "/".join(_encode_segment(s) for s in segments)


class Transport:
    """One client's HTTP machinery: session, headers, retries, gate, limits, mapping."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 10.0,
        max_connections: int = 64,
        max_concurrent_requests: int = 64,
        retry: RetryPolicy | None = None,
        allow_insecure_http: bool = False,
        session: aiohttp.ClientSession | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        for name, value in (("timeout_s", timeout_s), ("connect_timeout_s", connect_timeout_s)):
            if not (_is_real(value) and 0 < value < math.inf):
                raise ConfigurationError(f"{name} must be a finite number > 0, got {value!r}")
        for name, count in (
            ("max_connections", max_connections),
            ("max_concurrent_requests", max_concurrent_requests),
            ("max_response_bytes", max_response_bytes),
        ):
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ConfigurationError(f"{name} must be an integer >= 1, got {count!r}")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError(f"retry must be a RetryPolicy or None, got {retry!r}")
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise ConfigurationError(
                f"session must be an aiohttp.ClientSession or None, got {type(session).__name__}"
            )
        self._allow_insecure_http = allow_insecure_http
        self._base_url = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._api_key = Secret(api_key) if api_key is not None else None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_timeout_s)
        self._max_connections = max_connections
        self._max_response_bytes = max_response_bytes
        self._own_session = session is None
        self._session = session
        self._state = _State.UNOPENED
        self._user_agent = user_agent()
        self.retry_policy: RetryPolicy = retry if retry is not None else RetryPolicy()
        self.limiter = anyio.CapacityLimiter(max_concurrent_requests)
        """Bounds the HTTP requests in flight; its ``total_tokens`` may be changed."""
        self.stats = TransportStats()
        self.rate_limit_listeners: list[RateLimitListener] = []
        """Callables told of every 429 (the batch engine shrinks its concurrency)."""
        # Injectable for tests: monotonic clock, wall clock (HTTP dates), sleep, jitter.
        self.clock: Callable[[], float] = time.monotonic
        self.wall_clock: Callable[[], float] = time.time
        self.sleep: Callable[[float], Awaitable[None]] = anyio.sleep
        self.rng: _retry.RandomSource = random.Random()
        self._gate_open_at = float("-inf")
        self._server_errors_at: deque[float] = deque()

    def __repr__(self) -> str:
        key = "set" if self._api_key is not None else "unset"
        return f"<Transport {self.base_url} key={key} {self._state.value}>"

    # -- configuration and lifecycle -----------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API base URL, without a trailing slash."""
        return str(self._base_url)

    @property
    def has_api_key(self) -> bool:
        """True if a key is configured."""
        return self._api_key is not None

    @property
    def is_open(self) -> bool:
        """True between open() and aclose()."""
        return self._state is _State.OPEN

    @property
    def is_closed(self) -> bool:
        """True once aclose() ran."""
        return self._state is _State.CLOSED

    async def open(self) -> None:
        """Create the aiohttp session (unless one was passed in); only once."""
        if self._state is _State.CLOSED:
            raise ClientClosedError("this client was closed; create a new Client")
        if self._state is _State.OPEN:
            raise ClientClosedError("this client is already open; enter it only once")
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, trust_env=False
            )
        self._state = _State.OPEN

    async def aclose(self) -> None:
        """Close the session if we created it; a session passed in stays open. Idempotent."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        session, self._session = self._session, None
        if session is not None and self._own_session:
            await session.close()

    def _check_open(self) -> aiohttp.ClientSession:
        if self._state is _State.UNOPENED:
            raise ClientClosedError(
                "the client is not open; use `async with Client(...) as client:`"
            )
        if self._state is _State.CLOSED or self._session is None:
            raise ClientClosedError("the client was closed; create a new Client")
        return self._session

    # -- the shared back-off gate ----------------------------------------------------

    def gate_remaining_s(self) -> float:
        """Seconds until the shared back-off gate reopens (0 when open)."""
        return max(0.0, self._gate_open_at - self.clock())

    def close_gate(self, wait_s: float) -> None:
        """Hold every request of this client for ``wait_s`` seconds from now."""
        if wait_s <= 0:
            return
        now = self.clock()
        until = now + wait_s
        if until > self._gate_open_at:
            if self._gate_open_at <= now:
                self.stats.gate_closures += 1
            self._gate_open_at = until

    async def _wait_for_gate(self) -> None:
        while (remaining := self._gate_open_at - self.clock()) > 0:
            await self.sleep(remaining)

    def _note_server_error(self, elapsed_s: float) -> None:
        policy = self.retry_policy
        now = self.clock()
        recent = self._server_errors_at
        recent.append(now)
        while recent and now - recent[0] > policy.server_error_window_s:
            recent.popleft()
        if len(recent) >= policy.server_error_burst:
            # A burst: the server is struggling, so everyone backs off, not just this task;
            # never for longer than the request that saw the burst may still spend.
            backoff_s = _retry.backoff_s(len(recent), policy, self.rng)
            self.close_gate(min(backoff_s, policy.max_total_s - elapsed_s))
            recent.clear()

    def _note_rate_limited(
        self,
        method: str,
        path: str,
        retry_after_s: float | None,
        attempt: int,
        elapsed_s: float,
    ) -> float:
        """Close the gate for a 429; return the wait it asks for (Retry-After capped, or back-off).

        The gate closes only for a wait that fits the time budget the request that got the
        429 has left (it has spent ``elapsed_s``). A longer wait makes that request give up
        at once, and holding every other request of the client for it would only delay
        their own 429s; so the gate never outlasts the budget of the request that closed it.
        """
        self.stats.rate_limited += 1
        wait_s = _retry.retry_wait_s(attempt, self.retry_policy, self.rng, retry_after_s)
        gate_s = wait_s if _retry.fits_budget(elapsed_s, wait_s, self.retry_policy) else 0.0
        self.close_gate(gate_s)
        event = RateLimitEvent(method=method, path=path, retry_after_s=retry_after_s, wait_s=gate_s)
        for listener in list(self.rate_limit_listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("a rate-limit listener failed")
        return wait_s

    # -- scrubbing ----------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """``text`` with the API key replaced by ``***``."""
        if self._api_key is not None and self._api_key.reveal():
            return text.replace(self._api_key.reveal(), "***")
        return text

    def _shown(self, text: str) -> str:
        """``text`` as it may appear in a message: no key, URLs without secrets."""
        return redact_urls(self.redact(text))

    def _redact_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {self.redact(str(k)): self._redact_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._redact_value(v) for v in value]
        return value

    def _holds_key(self, value: object) -> bool:
        """True if ``value`` (or its repr, as tracebacks show locals) contains the key."""
        if (
            self._api_key is None
            or not self._api_key.reveal()
            or isinstance(value, _AuthorizationValue)
        ):
            return False
        key = self._api_key.reveal()
        if isinstance(value, str):
            return key in value
        if isinstance(value, bytes | bytearray | memoryview):
            return key.encode() in bytes(value)
        try:
            return key in repr(value)
        except Exception:  # a repr that fails shows nothing either
            return False

    def _scrub_tracebacks(self, error: BaseException) -> None:
        """Take the key out of every traceback frame reachable from ``error``.

        Our header value hides itself in any repr (:class:`_AuthorizationValue`), but
        aiohttp's frames may also hold the key as bytes (the serialized request head). A
        frame with such a local has its locals cleared when that is safe (a finished plain
        function) and is otherwise left out of the traceback; the rest of the traceback,
        and the exception, stay for whoever debugs.
        """
        for each in _chained(error):
            previous: TracebackType | None = None
            entry = each.__traceback__
            while entry is not None:
                following = entry.tb_next
                frame = entry.tb_frame
                if any(self._holds_key(v) for v in frame.f_locals.values()) and not (
                    _forget_locals(frame)
                ):
                    if previous is None:
                        each.__traceback__ = following
                    else:
                        previous.tb_next = following
                else:
                    previous = entry
                entry = following

    # -- requests -----------------------------------------------------------------------

    def url_for(self, path: str, query: Sequence[tuple[str, str]] = ()) -> URL:
        """The absolute URL of an API path (already encoded) with a query in the given order."""
        text = str(self._base_url) + path
        if query:
            text += "?" + urlencode(list(query), quote_via=quote)
        return URL(text, encoded=True)

    def api_path_of(self, url: str) -> tuple[str, list[tuple[str, str]]]:
        """The (encoded path, query) under the base URL of a URL the API handed out.

        Result URLs such as ``/v0.4/jobs/ID/results/probabilities`` are root-relative and
        carry the API version; they are read against this client's base URL (as qiskit-ionq
        does, the leading ``/vX.Y`` is replaced by the base URL's path). A URL on another
        origin, or one that would climb out of the API, raises ResponseError: answers never
        send the key anywhere else.
        """
        try:
            target = URL(url)
        except (TypeError, ValueError):
            raise ResponseError(f"the API gave an unreadable URL {self._shown(url)!r}") from None
        if target.is_absolute() and _origin(target) != _origin(self._base_url):
            raise ResponseError(f"refusing to follow a URL on another origin: {self._shown(url)!r}")
        raw_path = target.raw_path
        base_path = self._base_url.raw_path.rstrip("/")
        if base_path and (raw_path == base_path or raw_path.startswith(base_path + "/")):
            relative = raw_path[len(base_path) :]
        elif match := _VERSION_PREFIX.match(raw_path):
            relative = raw_path[match.end() :]
        else:
            raise ResponseError(
                f"the URL {self._shown(url)!r} is not under the API's base path {base_path!r}"
            )
        if not relative.startswith("/") or any(
            segment in (".", "..") for segment in relative.split("/")
        ):
            raise ResponseError(f"the URL {self._shown(url)!r} does not name an API resource")
        return relative, [(key, value) for key, value in target.query.items()]

    def _headers(self, *, send_key: bool, has_body: bool) -> dict[str, str]:
        headers = {"User-Agent": self._user_agent, "Accept": "application/json"}
        if send_key and self._api_key is not None:
            headers["Authorization"] = _AuthorizationValue("apiKey " + self._api_key.reveal())
        if has_body:
            headers["Content-Type"] = "application/json"
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        json_body: Any = None,
        require_key: bool = True,
        is_job_creation: bool = False,
        results: bool = False,
        raw: bool = False,
    ) -> Any:
        """Send a request with retries and return the decoded JSON answer.

        ``path`` is relative to the base URL and already encoded (see :func:`path_of`).
        ``json_body`` None means no body. ``require_key`` False sends the key only if one
        is set. ``is_job_creation`` applies the creation retry rules. ``results`` maps a 404
        to ResultsNotReadyError. ``raw`` returns a :class:`RawAnswer` (the body's bytes
        and content type, for artifacts of any type) instead of decoding JSON.
        """
        self._check_open()
        method = method.upper()
        if require_key and self._api_key is None:
            raise MissingKeyError("no API key: pass api_key= or set IONQ_API_KEY")
        body: bytes | None = None
        if json_body is not None:
            try:
                body = json.dumps(json_body, separators=(",", ":"), allow_nan=False).encode()
            except (TypeError, ValueError) as exc:
                raise InvalidRequestError(f"request body cannot be sent as JSON: {exc}") from None
        url = self.url_for(path, query)
        policy = self.retry_policy
        # A caller that retries on its own shares its count of this request's attempts.
        shared = _retry.attempts_in_progress()
        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            retry_after_s: float | None = None
            rate_limit_wait_s: float | None = None
            rate_limited = False
            error: _Failure
            try:
                async with self.limiter:
                    await self._wait_for_gate()
                    answer = await self._exchange(method, url, body)
            except TransportError as exc:
                self.stats.connection_errors += 1
                retryable = _retry.is_retryable_transport_failure(
                    method,
                    request_sent=exc.request_sent,
                    is_job_creation=is_job_creation,
                    # A retry cannot fix a bad certificate.
                    permanent=isinstance(exc.__cause__, aiohttp.ClientSSLError),
                )
                error = exc
            else:
                if 200 <= answer.status < 300:
                    # A success ends any run of server errors: scattered 5xx among
                    # successes are one request's bad luck, not a struggling server.
                    self._server_errors_at.clear()
                    self.stats.succeeded += 1
                    if shared is not None:
                        shared.count_success()
                    if raw:
                        return RawAnswer(
                            content_type=answer.headers.get("Content-Type"), body=answer.raw
                        )
                    return self._decode_success(method, answer)
                if answer.status < 400:
                    raise ResponseError(
                        f"{method} {url.path}: unexpected status {answer.status}",
                        status=answer.status,
                    )
                api_error = self._api_error(method, answer, results=results)
                retry_after_s = api_error.retry_after
                elapsed_s = self.clock() - started
                if answer.status == 429:
                    rate_limited = True
                    rate_limit_wait_s = self._note_rate_limited(
                        method, url.path, retry_after_s, attempt, elapsed_s
                    )
                elif answer.status >= 500:
                    self.stats.server_errors += 1
                    self._note_server_error(elapsed_s)
                retryable = _retry.is_retryable_status(
                    answer.status, method, is_job_creation=is_job_creation
                )
                error = api_error
            if shared is not None:
                shared.count_failure(rate_limited=rate_limited, served=self.stats.succeeded)
            if not retryable:
                raise error
            if rate_limit_wait_s is not None:
                # The gate holds every request (this one too) for the wait, if it fits.
                wait_s = max(rate_limit_wait_s, self.gate_remaining_s())
            else:
                wait_s = _retry.retry_wait_s(attempt, policy, self.rng, retry_after_s)
            elapsed_s = self.clock() - started
            if shared is not None:
                go_on = not shared.spent and _retry.fits_budget(elapsed_s, wait_s, policy)
            else:
                go_on = _retry.should_retry(attempt, elapsed_s, wait_s, policy)
            if not go_on:
                error.add_note(f"gave up after {attempt} attempt(s) in {elapsed_s:.2f} s")
                raise error
            self.stats.retries += 1
            logger.debug(
                "retrying %s %s in %.2f s after %s (attempt %d of %d)",
                method,
                url.path,
                wait_s,
                _describe(error),
                attempt + 1,
                policy.max_attempts,
            )
            if rate_limit_wait_s is None:
                await self.sleep(wait_s)

    async def _exchange(self, method: str, url: URL, body: bytes | None) -> _Answer:
        """One attempt: send, follow redirects by hand, read the (capped) body."""
        session = self._check_open()
        send_key = True
        original_origin = _origin(url)
        original_method, original_path = method, url.path
        for _ in range(MAX_REDIRECTS + 1):
            if _origin(url) != original_origin:
                # Never hand the key to another host (or to this host over another scheme).
                send_key = False
            headers = self._headers(send_key=send_key, has_body=body is not None)
            started = time.perf_counter()
            self.stats.requests_sent += 1
            try:
                async with session.request(
                    method,
                    url,
                    headers=headers,
                    data=body,
                    allow_redirects=False,
                    timeout=self._timeout,
                ) as response:
                    status = response.status
                    request_id = response.headers.get("x-request-id")
                    location = response.headers.get("Location")
                    if status in _REDIRECT_STATUSES and location:
                        self._log_exchange(method, url, status, started, request_id)
                        next_url = self._redirect_target(url, location)
                        if (
                            _origin(next_url) != original_origin
                            and original_method not in _SAFE_METHODS
                        ):
                            raise ResponseError(
                                f"{original_method} {original_path}: the server redirected "
                                f"it ({status}) from {_origin_text(original_origin)} to "
                                f"another origin, {_origin_text(_origin(next_url))}; not "
                                "followed: a request that changes something is never sent "
                                "to, or answered by, another origin",
                                status=status,
                            )
                        if status == 303 or (status in (301, 302) and method != "GET"):
                            # As browsers do: the follow-up of a 303 (or of a POST's
                            # 301/302) is a bodiless GET.
                            method, body = "GET", None
                        url = next_url
                        continue
                    limit = self._max_response_bytes if status < 400 else _ERROR_BODY_BYTES
                    raw = await self._read(response, limit, truncate=status >= 400)
                    self._log_exchange(method, url, status, started, request_id)
                    return _Answer(
                        status=status,
                        reason=response.reason or "",
                        headers=response.headers,
                        raw=raw,
                        url=url,
                    )
            except (ResponseError, ConfigurationError):
                raise
            except Exception as exc:
                self._scrub_tracebacks(exc)
                mapped = self._map_failure(exc, method, url)
                if mapped is None:
                    raise
                logger.debug("%s %s failed: %s", method, url.path, mapped)
                raise mapped from exc
        raise ResponseError(f"{method} {url.path}: more than {MAX_REDIRECTS} redirects")

    def _redirect_target(self, url: URL, location: str) -> URL:
        try:
            target = url.join(URL(location))
        except (TypeError, ValueError):
            raise ResponseError(
                f"redirect to an unreadable location {self._shown(location)!r}"
            ) from None
        if target.scheme not in ("http", "https") or not target.host:
            raise ResponseError(f"redirect to a non-http location {self._shown(location)!r}")
        try:
            _check_scheme(target, allow_insecure_http=self._allow_insecure_http)
        except ConfigurationError as exc:
            raise ResponseError(f"refused redirect: {exc}") from None
        return target

    async def _read(self, response: aiohttp.ClientResponse, limit: int, *, truncate: bool) -> bytes:
        length = response.content_length
        if length is not None and length > limit and not truncate:
            raise ResponseError(
                f"answer of {length} bytes is over the {limit}-byte limit", status=response.status
            )
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = await response.content.read(_READ_CHUNK_BYTES)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                if truncate:
                    chunks.append(chunk[: len(chunk) - (total - limit)])
                    break
                raise ResponseError(
                    f"answer is over the {limit}-byte limit", status=response.status
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _map_failure(self, exc: BaseException, method: str, url: URL) -> TransportError | None:
        where = f"{method} {url.path}"
        text = self._shown(str(exc)) or type(exc).__name__
        shown = redact_url(url)
        if isinstance(exc, aiohttp.ClientSSLError):
            return IonQConnectionError(
                f"{where}: TLS failed: {text}", method=method, url=shown, request_sent=False
            )
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return IonQTimeoutError(
                f"{where}: timed out connecting", method=method, url=shown, request_sent=False
            )
        if isinstance(exc, aiohttp.ClientConnectorError):
            return IonQConnectionError(
                f"{where}: cannot connect: {text}", method=method, url=shown, request_sent=False
            )
        if isinstance(exc, TimeoutError):
            return IonQTimeoutError(
                f"{where}: timed out waiting for the answer", method=method, url=shown
            )
        if isinstance(exc, aiohttp.InvalidURL):
            return IonQConnectionError(
                f"{where}: invalid URL", method=method, url=shown, request_sent=False
            )
        if isinstance(exc, aiohttp.ClientResponseError):
            # Its text names the URL and its headers; the class name and status say enough.
            return IonQConnectionError(
                f"{where}: {type(exc).__name__} (status {exc.status})", method=method, url=shown
            )
        if isinstance(exc, aiohttp.ClientError | OSError):
            return IonQConnectionError(
                f"{where}: connection lost: {text}", method=method, url=shown
            )
        return None

    def _log_exchange(
        self, method: str, url: URL, status: int, started: float, request_id: str | None
    ) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            elapsed_ms = (time.perf_counter() - started) * 1000
            rid = f" request-id={request_id}" if request_id else ""
            logger.debug("%s %s -> %d in %.1f ms%s", method, url.path, status, elapsed_ms, rid)

    # -- decoding -----------------------------------------------------------------------

    def _text(self, raw: bytes) -> str:
        # Scrub the whole text before any cut, so no cut can leave part of the key behind.
        return self.redact(raw.decode("utf-8", "replace"))

    def _decode_success(self, method: str, answer: _Answer) -> Any:
        where = f"{method} {answer.url.path}"
        content_type = answer.headers.get("Content-Type")
        if content_type is not None and not _is_json_type(content_type):
            text = self._text(answer.raw)
            raise ResponseError(
                f"{where}: expected JSON, got {content_type.split(';')[0]}: {_excerpt(text)!r}",
                status=answer.status,
                body=text[:_BODY_TEXT_CHARS],
            )
        if not answer.raw.strip():
            raise ResponseError(
                f"{where}: empty answer where JSON was expected", status=answer.status
            )
        try:
            return _json.loads(answer.raw)
        except (ValueError, RecursionError) as exc:
            text = self._text(answer.raw)
            raise ResponseError(
                f"{where}: malformed JSON ({type(exc).__name__}): {_excerpt(text)!r}",
                status=answer.status,
                body=text[:_BODY_TEXT_CHARS],
            ) from None

    def _api_error(self, method: str, answer: _Answer, *, results: bool) -> APIError:
        text = self._text(answer.raw)
        body: Any
        try:
            body = _json.loads(answer.raw) if answer.raw else None
        except (ValueError, RecursionError):
            body = text[:_BODY_TEXT_CHARS]
        else:
            body = self._redact_value(body)
        message = self.redact(_error_message(body, text, answer.status, answer.reason))
        cls = error_for_status(answer.status)
        if cls is NotFoundError and results:
            cls = ResultsNotReadyError
        retry_after_s = _retry.parse_retry_after(
            answer.headers.get("Retry-After"), self.wall_clock()
        )
        return cls(
            message,
            status=answer.status,
            body=body,
            request_id=answer.headers.get("x-request-id"),
            retry_after=retry_after_s,
            method=method,
            url=redact_url(answer.url),
        )


_Failure = TransportError | APIError


def _error_message(body: Any, text: str, status: int, reason: str) -> str:
    if isinstance(body, Mapping):
        message = body.get("message")
        error = body.get("error")
        if isinstance(error, Mapping):
            message = message or error.get("message")
            error = error.get("type")
        for candidate in (message, error):
            if isinstance(candidate, str) and candidate.strip():
                return candidate.strip()
    excerpt = _excerpt(text)
    label = reason or f"HTTP {status}"
    return f"{label}: {excerpt}" if excerpt else label


def _describe(error: BaseException) -> str:
    if isinstance(error, APIError):
        return f"status {error.status}"
    return type(error).__name__


def _origin_text(origin: tuple[str, str, int | None]) -> str:
    scheme, host, port = origin
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")


def _chained(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception chained to it (causes, contexts, group members)."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def _forget_locals(frame: FrameType) -> bool:
    """Clear the locals of a finished plain-function frame; False if that is not safe."""
    if frame.f_code.co_flags & _SUSPENDABLE:
        # On Python 3.11 clearing a suspended coroutine's frame would close the coroutine.
        return False
    try:
        frame.clear()
    except RuntimeError:  # still executing
        return False
    return True
