"""Hostile answers to the client: each gives a typed error, never a hang, never the key.

aioresponses fakes what it can (HTML error pages, wrong content types, bodies of the wrong
shape, repeating page cursors); a raw-socket server (``hostile_server.py``) does what it
cannot: bodies shorter than their Content-Length, stalls halfway through a body, endless
bodies, bytes that are not UTF-8, and redirects to another host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import anyio
import pytest
from _aioresponses_compat import MockedAPI
from hostile_server import HostileServer, RawRequest, Scenario, exception_texts, response_bytes

from ionq_async._retry import RetryPolicy
from ionq_async.client import Client
from ionq_async.exceptions import (
    AuthenticationError,
    IonQConnectionError,
    IonQError,
    IonQTimeoutError,
    ResponseError,
    ServerError,
)

KEY = "sk-test-SECRET-4f1d8e2a9c7b"
KEY_PARTS = ("SECRET-4f1d", "4f1d8e2a9c7b")
BASE = "https://api.example.test/v0.4"
JOB_ID = "0198097d-3888-72ad-a9dd-9ace842cf181"
WHOAMI = b'{"key_id":"k","key_name":"n","project_id":"p"}'
HANG_GUARD_S = 10.0
"""No test may take longer than this; a hang fails the test instead of the suite."""


def assert_no_key(*texts: str) -> None:
    """None of ``texts`` contains the key or a distinctive part of it."""
    for text in texts:
        for part in (KEY, *KEY_PARTS):
            assert part not in text, f"key leaked into: {text[:300]!r}"


def assert_error_hides_key(error: BaseException) -> None:
    """No text of the error or of anything chained to it contains the key."""
    assert_no_key(*exception_texts(error))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("IONQ_API_URL", raising=False)


@pytest.fixture(autouse=True)
def _debug_logs_never_show_the_key(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    # Every test here runs with DEBUG logging on; afterwards no record may hold the key.
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        assert_no_key(record.getMessage(), repr(record.args), record.exc_text or "")


@pytest.fixture
def api() -> Iterator[MockedAPI]:
    mocked = MockedAPI()
    with mocked:
        yield mocked


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    """A client of the fake API that never retries."""
    async with Client(api_key=KEY, base_url=BASE, retry=RetryPolicy.never()) as c:
        yield c


async def raises_typed(
    call: Callable[[], Awaitable[Any]], error_type: type[IonQError]
) -> IonQError:
    """Run ``call`` under a hang guard; it must raise ``error_type``, which hides the key."""
    with anyio.fail_after(HANG_GUARD_S), pytest.raises(error_type) as caught:
        await call()
    assert_error_hides_key(caught.value)
    return caught.value


# -- aioresponses: what a proxy or a broken server may say ---------------------------------

HTML_502 = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title>"
    "<style>body{color:red}</style></head><body><center><h1>502 Bad Gateway</h1></center>"
    "<hr><center>cloudflare</center></body></html>"
)


async def test_an_html_502_page_is_a_server_error_with_its_text(
    api: MockedAPI, client: Client
) -> None:
    api.get(f"{BASE}/whoami", status=502, body=HTML_502, content_type="text/html")
    error = await raises_typed(client.whoami, ServerError)
    assert isinstance(error, ServerError)
    assert error.status == 502
    assert "502 Bad Gateway" in str(error)
    assert "<h1>" not in str(error) and "color:red" not in str(error)


async def test_an_html_502_on_every_retry_gives_up_with_a_server_error(api: MockedAPI) -> None:
    api.get(f"{BASE}/whoami", status=502, body=HTML_502, content_type="text/html", repeat=True)
    async with Client(api_key=KEY, base_url=BASE, retry=RetryPolicy.no_wait(max_attempts=3)) as c:
        await raises_typed(c.whoami, ServerError)
    assert sum(len(calls) for calls in api.requests.values()) == 3


@pytest.mark.parametrize(
    "content_type", ["text/html", "text/plain", "application/xml", "application/octet-stream"]
)
async def test_a_success_with_the_wrong_content_type_is_a_response_error(
    api: MockedAPI, client: Client, content_type: str
) -> None:
    api.get(f"{BASE}/whoami", status=200, body=WHOAMI, content_type=content_type)
    error = await raises_typed(client.whoami, ResponseError)
    assert content_type in str(error)


WRONG_SHAPES: list[tuple[str, str, Any]] = [
    ("whoami", "/whoami", ["k", "n", "p"]),
    ("whoami", "/whoami", {"key_id": ["k"], "key_name": "n", "project_id": "p"}),
    ("get_job", f"/jobs/{JOB_ID}", []),
    ("get_job", f"/jobs/{JOB_ID}", {"id": JOB_ID, "status": "exploded"}),
    ("get_job", f"/jobs/{JOB_ID}", {"id": {"uuid": JOB_ID}, "status": "completed"}),
    ("get_job", f"/jobs/{JOB_ID}", "completed"),
    ("get_job", f"/jobs/{JOB_ID}", None),
    ("probabilities", f"/jobs/{JOB_ID}/results/probabilities", [0.5, 0.5]),
    ("probabilities", f"/jobs/{JOB_ID}/results/probabilities", {"0": "half"}),
    ("probabilities", f"/jobs/{JOB_ID}/results/probabilities", {"zero": 0.5}),
    ("probabilities", f"/jobs/{JOB_ID}/results/probabilities", {"0": {"1": 0.5}}),
    ("backends", "/backends", {"backend": "simulator"}),
    ("backends", "/backends", [1, 2, 3]),
    ("cost", f"/jobs/{JOB_ID}/cost", ["free"]),
    ("job_page", "/jobs", {"jobs": {"id": JOB_ID}, "next": None}),
    ("job_page", "/jobs", {"jobs": [{"status": "completed"}], "next": None}),
]


async def _call(client: Client, method: str) -> Any:
    if method in ("get_job", "probabilities", "cost"):
        return await getattr(client, method)(JOB_ID)
    return await getattr(client, method)()


@pytest.mark.parametrize(("method", "path", "body"), WRONG_SHAPES)
async def test_json_of_the_wrong_shape_is_a_response_error(
    api: MockedAPI, client: Client, method: str, path: str, body: Any
) -> None:
    api.get(re.compile(re.escape(BASE + path) + r"(\?.*)?$"), status=200, payload=body)
    await raises_typed(lambda: _call(client, method), ResponseError)


def _page(next_cursor: str | None) -> dict[str, Any]:
    return {"jobs": [{"id": JOB_ID, "status": "completed"}], "next": next_cursor}


async def test_a_next_cursor_that_repeats_stops_with_an_error_not_a_loop(
    api: MockedAPI, client: Client
) -> None:
    # Every page, first or not, names the same next page.
    api.get(re.compile(re.escape(BASE) + r"/jobs(\?.*)?$"), payload=_page("c-1"), repeat=True)

    async def walk() -> None:
        async for _ in client.jobs():
            pass

    error = await raises_typed(walk, ResponseError)
    assert "c-1" in str(error)
    assert sum(len(calls) for calls in api.requests.values()) <= 3


async def test_a_cycle_of_cursors_stops_with_an_error_not_a_loop(
    api: MockedAPI, client: Client
) -> None:
    # a -> b -> a -> ...: no cursor repeats twice in a row, but the walk would never end.
    jobs = re.escape(BASE) + r"/jobs"
    api.get(re.compile(jobs + r"$"), payload=_page("a"), repeat=True)
    api.get(re.compile(jobs + r"\?.*next=a.*$"), payload=_page("b"), repeat=True)
    api.get(re.compile(jobs + r"\?.*next=b.*$"), payload=_page("a"), repeat=True)
    pages = 0

    async def walk() -> None:
        nonlocal pages
        async for _ in client.jobs():
            pages += 1

    await raises_typed(walk, ResponseError)
    assert pages <= 4


# -- the raw-socket server: what aioresponses cannot fake -----------------------------------


def scripted(*chunks: bytes, then_stall: bool = False) -> Any:
    """A scenario that writes ``chunks`` (flushing each), then closes or stalls forever."""

    async def scenario(_request: RawRequest, writer: asyncio.StreamWriter) -> None:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
        if then_stall:
            await asyncio.Event().wait()

    return scenario


def raw_client(server: HostileServer, **options: Any) -> Client:
    """A client of ``server`` that never retries unless told to."""
    options.setdefault("retry", RetryPolicy.never())
    return Client(api_key=KEY, base_url=server.url, **options)


@contextlib.asynccontextmanager
async def hostile(
    scenario: Scenario, **options: Any
) -> AsyncIterator[tuple[HostileServer, Client]]:
    """A raw server playing ``scenario`` and a client of it (``options`` are Client's)."""
    async with HostileServer(scenario) as server, raw_client(server, **options) as client:
        yield server, client


async def test_a_body_shorter_than_its_content_length_is_a_connection_error() -> None:
    answer = response_bytes(200, WHOAMI[:20], content_length=len(WHOAMI) + 500)
    async with hostile(scripted(answer)) as (_, client):
        error = await raises_typed(client.whoami, IonQConnectionError)
    assert "/whoami" in str(error)


async def test_a_truncated_body_on_every_retry_gives_up_after_the_budget() -> None:
    answer = response_bytes(200, WHOAMI[:20], content_length=len(WHOAMI) + 500)
    async with HostileServer(scripted(answer)) as server:
        retry = RetryPolicy.no_wait(max_attempts=3)
        async with raw_client(server, retry=retry) as client:
            await raises_typed(client.whoami, IonQConnectionError)
    assert len(server.requests) == 3


async def test_a_truncated_job_creation_is_not_sent_again() -> None:
    answer = response_bytes(201, b'{"id":"0198', content_length=200)
    async with hostile(scripted(answer), retry=RetryPolicy.no_wait()) as (server, client):
        bell = {"qubits": 1, "circuit": [{"gate": "h", "target": 0}]}
        error = await raises_typed(lambda: client.submit(bell), IonQConnectionError)
    assert isinstance(error, IonQConnectionError) and error.request_sent
    assert [r.method for r in server.requests] == ["POST"]


async def test_a_server_that_stalls_mid_body_times_out() -> None:
    head = response_bytes(200, WHOAMI[:10], content_length=len(WHOAMI))
    async with hostile(scripted(head, then_stall=True), timeout_s=0.3) as (_, client):
        error = await raises_typed(client.whoami, IonQTimeoutError)
    assert isinstance(error, TimeoutError)


async def test_a_server_that_never_answers_times_out() -> None:
    async with hostile(scripted(then_stall=True), timeout_s=0.3) as (_, client):
        await raises_typed(client.whoami, IonQTimeoutError)


async def test_a_declared_huge_body_is_refused_without_reading_it() -> None:
    # 10 GB announced, a few bytes sent, then nothing: waiting for it would hang.
    head = response_bytes(200, b'{"key_id":', content_length=10 * 1024**3)
    stalled = scripted(head, then_stall=True)
    async with hostile(stalled, max_response_bytes=1024 * 1024) as (_, client):
        error = await raises_typed(client.whoami, ResponseError)
    assert "limit" in str(error)


def endless_chunked_body(status: int = 200) -> Any:
    """A chunked answer without end: 64 KiB chunks of JSON-looking bytes until the peer quits."""

    async def scenario(_request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(
            f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = b"[" + b"1," * 32_767
        while True:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()

    return scenario


async def test_an_endless_body_is_cut_off_at_the_size_cap() -> None:
    cap = 512 * 1024
    async with hostile(endless_chunked_body(), max_response_bytes=cap) as (_, client):
        error = await raises_typed(client.whoami, ResponseError)
        assert f"{cap}-byte limit" in str(error)


async def test_an_endless_error_body_is_truncated_into_an_api_error() -> None:
    async with hostile(endless_chunked_body(status=503)) as (_, client):
        error = await raises_typed(client.whoami, ServerError)
    assert isinstance(error, ServerError) and error.status == 503


async def test_invalid_utf8_labelled_as_json_is_a_response_error() -> None:
    body = b'{"key_id": "\xff\xfe\xc3\x28", "key_name": "n", "project_id": "p"}'
    async with hostile(scripted(response_bytes(200, body))) as (_, client):
        await raises_typed(client.whoami, ResponseError)


async def test_invalid_utf8_in_an_error_body_still_gives_the_api_error() -> None:
    body = b'{"error": "Bad Request", "message": "bad \xff\xfe bytes", "statusCode": 400}'
    answer = response_bytes(400, body, reason="Bad Request")
    async with hostile(scripted(answer)) as (_, client):
        error = await raises_typed(client.whoami, IonQError)
    assert getattr(error, "status", None) == 400


async def test_a_nul_and_control_byte_answer_is_a_response_error() -> None:
    answer = response_bytes(200, b"\x00\x01\x02{}\x00")
    async with hostile(scripted(answer)) as (_, client):
        await raises_typed(client.whoami, ResponseError)


# -- redirects to another host ------------------------------------------------------------


def redirect_to(location: Callable[[RawRequest], str], status: int = 302) -> Any:
    """A scenario that redirects every request to ``location(request)``."""

    async def scenario(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(
            response_bytes(status, b"", content_type=None, headers={"Location": location(request)})
        )

    return scenario


def answer_with(status: int, body: bytes) -> Any:
    return scripted(response_bytes(status, body))


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_to_another_host_does_not_carry_the_key(status: int) -> None:
    async with HostileServer(answer_with(200, WHOAMI), host="127.0.0.2") as elsewhere:
        redirect = redirect_to(lambda request: elsewhere.origin + request.target, status)
        async with HostileServer(redirect) as origin, raw_client(origin) as client:
            with anyio.fail_after(HANG_GUARD_S):
                who = await client.whoami()
    assert who.key_id == "k"
    assert origin.requests[0].headers["Authorization"] == f"apiKey {KEY}"
    assert len(elsewhere.requests) == 1
    assert "Authorization" not in elsewhere.requests[0].headers
    assert_no_key(str(elsewhere.requests[0].headers), elsewhere.requests[0].target)


async def test_a_redirect_to_localhost_from_127_0_0_1_counts_as_another_host() -> None:
    async with HostileServer(answer_with(200, WHOAMI)) as elsewhere:
        redirect = redirect_to(lambda r: f"http://localhost:{elsewhere.port}{r.target}")
        async with HostileServer(redirect) as origin, raw_client(origin) as client:
            with anyio.fail_after(HANG_GUARD_S):
                await client.whoami()
    assert "Authorization" not in elsewhere.requests[0].headers


async def test_a_job_creation_redirected_to_another_host_is_refused_and_never_sent_there() -> None:
    created = b'{"id":"' + JOB_ID.encode() + b'","status":"submitted","session_id":null}'
    async with HostileServer(answer_with(201, created), host="127.0.0.2") as elsewhere:
        redirect = redirect_to(lambda request: elsewhere.origin + request.target, 307)
        async with HostileServer(redirect) as origin, raw_client(origin) as client:
            bell = {"qubits": 1, "circuit": [{"gate": "h", "target": 0}]}
            error = await raises_typed(lambda: client.submit(bell), ResponseError)
    assert "not followed" in str(error)
    assert elsewhere.requests == []


async def test_another_host_that_wants_a_key_gives_an_authentication_error_without_it() -> None:
    unauthorized = (
        b'{"error":"Unauthorized Error","message":"Invalid key provided.","statusCode":401}'
    )
    async with HostileServer(answer_with(401, unauthorized), host="127.0.0.2") as elsewhere:
        redirect = redirect_to(lambda request: elsewhere.origin + request.target)
        async with HostileServer(redirect) as origin, raw_client(origin) as client:
            await raises_typed(client.whoami, AuthenticationError)
    assert "Authorization" not in elsewhere.requests[0].headers


async def test_a_redirect_back_after_leaving_the_origin_still_carries_no_key() -> None:
    # origin -> elsewhere -> origin: the key was dropped at the first hop and stays dropped.
    hops: list[RawRequest] = []

    async def origin_scenario(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        hops.append(request)
        if "back=1" in request.target:
            writer.write(response_bytes(200, WHOAMI))
        else:
            target = f"{elsewhere.origin}{request.path}?back=1"
            writer.write(response_bytes(302, b"", content_type=None, headers={"Location": target}))

    back_home = redirect_to(lambda r: f"http://127.0.0.1:{origin.port}{r.target}")
    async with (
        HostileServer(back_home, host="127.0.0.2") as elsewhere,
        HostileServer(origin_scenario) as origin,
        raw_client(origin) as client,
    ):
        with anyio.fail_after(HANG_GUARD_S):
            await client.whoami()
    assert "Authorization" in hops[0].headers
    assert "Authorization" not in elsewhere.requests[0].headers
    assert "Authorization" not in hops[1].headers


async def test_a_redirect_loop_between_hosts_ends_with_a_response_error() -> None:
    # origin -> bounce -> origin -> bounce -> ...: more hops than allowed.
    async with (
        HostileServer(
            redirect_to(lambda r: f"http://127.0.0.1:{origin.port}{r.target}"), host="127.0.0.2"
        ) as bounce,
        HostileServer(redirect_to(lambda r: bounce.origin + r.target)) as origin,
        raw_client(origin) as client,
    ):
        await raises_typed(client.whoami, ResponseError)
    assert len(origin.requests) + len(bounce.requests) <= 8
    assert all("Authorization" not in r.headers for r in bounce.requests)
    assert all("Authorization" not in r.headers for r in origin.requests[1:])
