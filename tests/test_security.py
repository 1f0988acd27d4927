"""The API key stays secret: no repr, log record or exception shows it; http and redirects."""

from __future__ import annotations

import logging
import pickle
import socket
import traceback
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _aioresponses_compat import MockedAPI
from aiohttp import web
from aiohttp.test_utils import TestServer

from ionq_async._retry import RetryPolicy
from ionq_async._transport import Secret, is_loopback_host
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.exceptions import (
    BadRequestError,
    ConfigurationError,
    IonQConnectionError,
    IonQError,
    NotFoundError,
    ResponseError,
    ServerError,
)

KEY = "sk-live-SECRET-4f9e2c1d8b7a"
JOB = {"id": "j-1", "status": "ready"}
WHOAMI = {"key_id": "k", "key_name": "n", "project_id": "p"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("IONQ_API_URL", raising=False)


# -- plain http ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://api.ionq.co/v0.4", "http://10.0.0.8:8080/v0.4", "http://[2001:db8::1]/v0.4"],
)
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_http") as caught:
        Client(api_key=KEY, base_url=url)
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v0.4",
        "http://127.8.9.10/v0.4",
        "http://localhost:8000/v0.4",
        "http://emulator.localhost/v0.4",
        "http://[::1]:8000/v0.4",
        "http://[::ffff:127.0.0.1]:8000/v0.4",
    ],
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert Client(api_key=KEY, base_url=url).base_url.startswith("http://")


def test_plain_http_to_a_remote_host_is_allowed_when_asked() -> None:
    c = Client(api_key=KEY, base_url="http://api.example/v0.4", allow_insecure_http=True)
    assert c.base_url == "http://api.example/v0.4"


@pytest.mark.parametrize("host", ["localhost.evil.example", "127.0.0.1.evil.example", "0.0.0.0"])
def test_names_that_only_look_like_loopback_are_not(host: str) -> None:
    assert not is_loopback_host(host)


def test_credentials_in_the_base_url_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="user name or password") as caught:
        Client(base_url=f"https://user:{KEY}@api.ionq.co/v0.4")
    assert KEY not in str(caught.value)


@pytest.mark.parametrize("bad", ["key with space", "key\r\nX-Injected: 1", "   ", ""])
def test_keys_that_would_break_the_header_are_refused_without_echoing(bad: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Client(api_key=bad)
    if bad.strip():
        assert bad not in str(caught.value)


# -- the key in reprs -------------------------------------------------------------------


def test_the_key_is_in_no_repr_or_str() -> None:
    c = Client(api_key=KEY)
    texts = [repr(c), str(c), repr(c.transport), repr(vars(c)), repr(vars(c.transport))]
    assert all(KEY not in text for text in texts)
    assert "api_key=set" in repr(c)


def test_secret_hides_its_value() -> None:
    secret = Secret(KEY)
    assert KEY not in f"{secret} {secret!r} {secret:>40}"
    assert secret.reveal() == KEY
    with pytest.raises(TypeError):
        pickle.dumps(secret)


# -- redirects over real loopback sockets --------------------------------------------


class Servers:
    """Two loopback servers (two origins) that record who got which Authorization."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None, bytes]] = []
        self.creation_redirect: tuple[int, str] | None = None
        """When set, ``POST /v0.4/jobs`` on home answers this status and Location."""
        self.home = TestServer(self._app("home"), host="127.0.0.1")
        self.other = TestServer(self._app("other"), host="127.0.0.1")

    def _app(self, name: str) -> web.Application:
        async def handle(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            self.seen.append((name, request.path, request.headers.get("Authorization"), body))
            job = request.match_info.get("job", "")
            if job == "moved-here":
                raise web.HTTPMovedPermanently("/v0.4/jobs/new-home")
            if job == "moved-away":
                raise web.HTTPTemporaryRedirect(str(self.other.make_url("/v0.4/jobs/new-home")))
            if job == "bounce":
                raise web.HTTPFound(str(self.other.make_url("/v0.4/jobs/bounce-back")))
            if job == "bounce-back":
                raise web.HTTPFound(str(self.home.make_url("/v0.4/jobs/new-home")))
            if job == "presigned":
                raise web.HTTPFound("/v0.4/jobs/missing?signature=SIGNATURE-77a1&expires=1")
            if (
                name == "home"
                and request.path == "/v0.4/jobs"
                and request.method == "POST"
                and self.creation_redirect is not None
            ):
                status, location = self.creation_redirect
                return web.Response(status=status, headers={"Location": location})
            if job == "loop":
                raise web.HTTPFound("/v0.4/jobs/loop")
            if job == "to-remote-http":
                raise web.HTTPFound("http://api.example/v0.4/jobs/new-home")
            if request.path == "/v0.4/sessions/s-1/end":
                raise web.HTTPSeeOther("/v0.4/sessions/s-1")
            if request.path == "/v0.4/sessions/s-1":
                return web.json_response({"id": "s-1"})
            if job == "echo":
                # A hostile or broken server that echoes the request's header back.
                auth = request.headers.get("Authorization", "")
                return web.json_response(
                    {"message": f"bad header {auth}", "validation": {"keys": [auth]}}, status=400
                )
            if job == "html":
                auth = request.headers.get("Authorization", "")
                return web.Response(
                    text=f"<html><body>502 proxy: {auth}</body></html>",
                    status=502,
                    content_type="text/html",
                )
            if job == "missing":
                return web.json_response({"error": "Not Found", "statusCode": 404}, status=404)
            if request.path == "/v0.4/whoami":
                return web.json_response(WHOAMI)
            if request.path == "/v0.4/backends":
                return web.json_response([{"backend": "simulator", "status": "available"}])
            if request.path == "/v0.4/jobs" and request.method == "POST":
                return web.json_response({"id": "j-1", "status": "submitted"}, status=201)
            if request.path == "/v0.4/jobs":
                return web.json_response({"jobs": [JOB], "next": None})
            if request.path.endswith("/results/probabilities"):
                return web.json_response({"0": 0.5, "3": 0.5})
            if request.path.endswith("/status/cancel"):
                return web.json_response({"id": job, "status": "canceled"})
            return web.json_response({**JOB, "id": job or "j-1"})

        app = web.Application()
        app.router.add_route("*", "/v0.4/jobs/{job}", handle)
        app.router.add_route("*", "/v0.4/jobs/{job}/{rest:.*}", handle)
        app.router.add_route("*", "/{tail:.*}", handle)
        return app

    def base(self) -> str:
        return str(self.home.make_url("/v0.4"))

    def origin(self, server: TestServer) -> str:
        return str(server.make_url("/")).rstrip("/")

    def reached(self, name: str) -> list[tuple[str, str, str | None, bytes]]:
        return [seen for seen in self.seen if seen[0] == name]


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    s = Servers()
    await s.home.start_server()
    await s.other.start_server()
    try:
        yield s
    finally:
        await s.home.close()
        await s.other.close()


@pytest.fixture
async def live(servers: Servers) -> AsyncIterator[Client]:
    async with Client(api_key=KEY, base_url=servers.base(), retry=RetryPolicy.no_wait()) as c:
        yield c


async def test_a_same_origin_redirect_keeps_the_key(servers: Servers, live: Client) -> None:
    job = await live.get_job("moved-here")
    assert job.id == "new-home"
    assert [(name, path, auth) for name, path, auth, _ in servers.seen] == [
        ("home", "/v0.4/jobs/moved-here", f"apiKey {KEY}"),
        ("home", "/v0.4/jobs/new-home", f"apiKey {KEY}"),
    ]


async def test_a_redirect_to_another_host_does_not_carry_the_key(
    servers: Servers, live: Client
) -> None:
    job = await live.get_job("moved-away")
    assert job.id == "new-home"
    assert [(name, auth) for name, _, auth, _ in servers.seen] == [
        ("home", f"apiKey {KEY}"),
        ("other", None),
    ]


async def test_once_dropped_the_key_stays_dropped_for_the_chain(
    servers: Servers, live: Client
) -> None:
    await live.get_job("bounce")
    assert [(name, auth) for name, _, auth, _ in servers.seen] == [
        ("home", f"apiKey {KEY}"),
        ("other", None),
        ("home", None),
    ]


async def test_a_redirect_loop_is_a_response_error(servers: Servers, live: Client) -> None:
    with pytest.raises(ResponseError, match="redirects"):
        await live.get_job("loop")


async def test_a_redirect_to_remote_plain_http_is_refused(servers: Servers, live: Client) -> None:
    with pytest.raises(ResponseError, match="refused redirect"):
        await live.get_job("to-remote-http")
    assert len(servers.seen) == 1


async def test_a_303_after_a_post_is_followed_by_a_bodiless_get(
    servers: Servers, live: Client
) -> None:
    session = await live.end_session("s-1")
    assert session.id == "s-1"
    assert [(path, body) for _, path, _, body in servers.seen] == [
        ("/v0.4/sessions/s-1/end", b""),
        ("/v0.4/sessions/s-1", b""),
    ]


@pytest.mark.parametrize("status", [307, 308, 301, 302, 303])
async def test_a_job_creation_redirected_to_another_origin_is_not_followed(
    servers: Servers, live: Client, status: int
) -> None:
    servers.creation_redirect = (status, str(servers.other.make_url("/v0.4/jobs")))
    with pytest.raises(ResponseError) as caught:
        await live.submit(Circuit(qubits=2).h(0).cnot(0, 1), shots=100)
    message = str(caught.value)
    assert servers.origin(servers.home) in message
    assert servers.origin(servers.other) in message
    assert "not followed" in message
    assert caught.value.status == status
    assert servers.reached("other") == []
    assert [(name, path) for name, path, _, _ in servers.seen] == [("home", "/v0.4/jobs")]


@pytest.mark.parametrize(
    ("call", "method"),
    [
        (lambda c: c.cancel("moved-away"), "PUT"),
        (lambda c: c.delete("moved-away"), "DELETE"),
    ],
)
async def test_no_request_that_changes_something_is_redirected_to_another_origin(
    servers: Servers, live: Client, call: Any, method: str
) -> None:
    with pytest.raises(ResponseError, match=f"^{method} .*not followed"):
        await call(live)
    assert servers.reached("other") == []


async def test_a_same_origin_307_of_a_job_creation_is_followed_with_its_body(
    servers: Servers, live: Client
) -> None:
    # A 307 is the server's answer instead of acting: the one creation is the re-sent one.
    servers.creation_redirect = (307, "/v0.4/jobs/created-here")
    job = await live.submit(Circuit(qubits=2).h(0).cnot(0, 1), shots=100)
    assert job.id == "created-here"
    (first, second) = servers.seen
    assert (first[1], second[1]) == ("/v0.4/jobs", "/v0.4/jobs/created-here")
    assert second[2] == f"apiKey {KEY}"
    assert second[3] == first[3] and b'"shots":100' in first[3]


async def test_a_redirect_target_is_shown_without_its_query_values(
    servers: Servers, live: Client
) -> None:
    with pytest.raises(NotFoundError) as caught:
        await live.get_job("presigned")
    error = caught.value
    assert "SIGNATURE-77a1" not in str(error)
    assert error.url is not None and "SIGNATURE-77a1" not in error.url
    assert "/v0.4/jobs/missing?signature=***&expires=***" in str(error)


# -- a whole session at DEBUG: the key appears nowhere ---------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_no_log_record_repr_or_exception_text_shows_the_key(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    async with Client(api_key=KEY, base_url=servers.base(), retry=RetryPolicy.no_wait()) as c:
        await c.backends()
        await c.whoami()
        job = await c.submit(Circuit(qubits=2).h(0).cnot(0, 1), shots=100, name="bell")
        await c.get_job(job)
        assert [j.id async for j in c.jobs(status="ready")] == ["j-1"]
        await c.probabilities(job)
        await c.cancel(job)
        await c.get_job("moved-away")
        for bad_job, expected in [
            ("echo", BadRequestError),
            ("html", ServerError),
            ("missing", NotFoundError),
        ]:
            with pytest.raises(expected) as caught:
                await c.get_job(bad_job)
            errors.append(caught.value)
        logging.getLogger("ionq_async").debug("client in use: %r", c)
        texts = [repr(c), repr(c.transport), repr(vars(c.transport))]
    unreachable = f"http://127.0.0.1:{closed_port()}/v0.4"
    async with Client(
        api_key=KEY, base_url=unreachable, retry=RetryPolicy.no_wait(max_attempts=2)
    ) as down:
        with pytest.raises(IonQConnectionError) as refused:
            await down.whoami()
        errors.append(refused.value)
    with pytest.raises(ConfigurationError) as insecure:
        Client(api_key=KEY, base_url="http://api.ionq.co/v0.4")
    errors.append(insecure.value)

    assert any("GET /v0.4/whoami -> 200" in r.getMessage() for r in caplog.records)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        assert KEY not in formatter.format(record), record
    for error in errors:
        assert isinstance(error, IonQError)
        texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
        texts.append(repr(vars(error)))
    for text in texts:
        assert KEY not in text
    echoed = errors[0]
    assert isinstance(echoed, BadRequestError)
    assert "apiKey ***" in echoed.message
    assert echoed.validation_keys == ("apiKey ***",)


# -- redirects with aioresponses (the key never reaches the other host) -------------------


@pytest.fixture
def api(mocked_api: MockedAPI) -> MockedAPI:
    """aioresponses for this test (the shared ``mocked_api`` fixture)."""
    return mocked_api


async def test_an_https_to_http_downgrade_on_the_same_host_drops_the_key(api: MockedAPI) -> None:
    api.get(
        "https://api.ionq.co/v0.4/whoami",
        status=301,
        headers={"Location": "http://api.ionq.co/v0.4/whoami"},
    )
    api.get("http://api.ionq.co/v0.4/whoami", payload=WHOAMI)
    async with Client(api_key=KEY, allow_insecure_http=True) as c:
        await c.whoami()
    sent = {
        str(url): call.kwargs["headers"]
        for (_, url), calls in api.requests.items()
        for call in calls
    }
    assert sent["https://api.ionq.co/v0.4/whoami"]["Authorization"] == f"apiKey {KEY}"
    assert "Authorization" not in sent["http://api.ionq.co/v0.4/whoami"]


async def test_a_key_at_the_edge_of_a_cut_body_is_scrubbed_before_the_cut(
    api: MockedAPI,
) -> None:
    filler = "x" * 4090
    api.get(
        "https://api.ionq.co/v0.4/whoami",
        status=502,
        body=filler + KEY + "y" * 100,
        content_type="text/plain",
    )
    api.get(
        "https://api.ionq.co/v0.4/backends",
        body=filler + KEY + "y" * 100,
        content_type="text/plain",
    )
    async with Client(api_key=KEY, retry=RetryPolicy.never()) as c:
        with pytest.raises(ServerError) as server_error:
            await c.whoami()
        with pytest.raises(ResponseError) as response_error:
            await c.backends()
    for error in (server_error.value, response_error.value):
        assert isinstance(error.body, str)
        assert KEY[:5] not in error.body
        assert KEY[:5] not in str(error)
