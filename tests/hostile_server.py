"""A raw-socket HTTP server for tests: it answers with exactly the bytes a scenario writes.

aioresponses fakes answers above the socket, so it cannot truncate a body, stall halfway
through one, stream without end or send bytes no well-behaved server would. This server
can::

    async def truncated(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\\r\\nContent-Length: 100\\r\\n\\r\\n{\\"id\\":")
        await writer.drain()            # then the handler returns and the socket closes

    async with HostileServer(truncated) as server:
        ...  # point a client at server.url; server.requests lists what arrived

Each connection serves one request (``Connection: close`` semantics); on exit every open
connection is closed and every handler cancelled, so a stalled scenario cannot outlive
its test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from types import TracebackType

from attrs import frozen
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "HostileServer",
    "RawRequest",
    "Scenario",
    "exception_texts",
    "response_bytes",
]

_MAX_HEAD_BYTES = 64 * 1024
_MAX_BODY_BYTES = 16 * 1024 * 1024


@frozen(kw_only=True)
class RawRequest:
    """One request as it arrived: method, target (path and query), headers, body."""

    method: str
    target: str
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def path(self) -> str:
        """The target without its query."""
        return self.target.split("?", 1)[0]


Scenario = Callable[[RawRequest, asyncio.StreamWriter], Awaitable[None]]
"""Writes the answer (or misbehaves) for one request; the socket closes when it returns."""


def response_bytes(
    status: int,
    body: bytes = b"",
    *,
    reason: str = "Whatever",
    content_type: str | None = "application/json",
    content_length: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """A raw HTTP/1.1 answer; ``content_length`` may lie about ``body`` on purpose."""
    lines = [f"HTTP/1.1 {status} {reason}"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    length = len(body) if content_length is None else content_length
    lines.append(f"Content-Length: {length}")
    lines.append("Connection: close")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class HostileServer:
    """Serves ``scenario`` on ``host`` (a free port) until the ``async with`` block ends."""

    def __init__(self, scenario: Scenario, *, host: str = "127.0.0.1") -> None:
        self.scenario = scenario
        self.host = host
        self.requests: list[RawRequest] = []
        self.connections = 0
        self.closed_by_peer = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def origin(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """A base URL in the API's form, ``http://host:port/v0.4``."""
        return self.origin + "/v0.4"

    async def __aenter__(self) -> HostileServer:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self._port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            request = await _read_request(reader)
            if request is None:
                return
            self.requests.append(request)
            await self.scenario(request, writer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            self.closed_by_peer += 1
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> RawRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        return None
    if len(head) > _MAX_HEAD_BYTES:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers.add(name.strip(), value.strip())
    length = int(headers.get("Content-Length", "0") or 0)
    body = await reader.readexactly(min(length, _MAX_BODY_BYTES)) if length else b""
    return RawRequest(method=method, target=target, headers=CIMultiDictProxy(headers), body=body)


def exception_texts(error: BaseException) -> Iterator[str]:
    """str, repr and notes of an exception and of everything chained to it (cause, context)."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield from getattr(current, "__notes__", ())
        for attribute in ("body", "url", "message"):
            value = getattr(current, attribute, None)
            if value is not None:
                yield repr(value)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)
