"""The HTTP edge: error mapping, odd answers, retries, the shared back-off gate, lifecycle."""

from __future__ import annotations

import email.utils
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import pytest
from _aioresponses_compat import MockedAPI
from yarl import URL

from ionq_async._retry import RetryPolicy
from ionq_async._transport import RateLimitEvent
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    ConflictError,
    IonQConnectionError,
    IonQTimeoutError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ResponseError,
    ServerError,
)

KEY = "ionq-transport-key-93c2aa"
BASE = "https://api.ionq.co/v0.4"
JOB_ID = "0198097d-3888-72ad-a9dd-9ace842cf181"
WALL = 1_800_000_000.0
CREATED = {"id": JOB_ID, "status": "submitted", "session_id": None}
WHOAMI = {"key_id": "k", "key_name": "n", "project_id": "p"}
ERRORS: dict[str, Any] = json.loads(
    (__import__("pathlib").Path(__file__).parent / "samples" / "errors.json").read_text()
)


def count(api: MockedAPI, method: str | None = None) -> int:
    return sum(len(calls) for (m, _), calls in api.requests.items() if method in (None, m))


class FakeTime:
    """A monotonic clock and a sleep that advances it instantly, recording each wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


def fake_time(client: Client) -> FakeTime:
    fake = FakeTime()
    client.transport.clock = fake.clock
    client.transport.sleep = fake.sleep
    client.transport.wall_clock = lambda: WALL
    return fake


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("IONQ_API_URL", raising=False)


@pytest.fixture
def api(mocked_api: MockedAPI) -> MockedAPI:
    """aioresponses for this test (the shared ``mocked_api`` fixture)."""
    return mocked_api


@pytest.fixture
async def once() -> AsyncIterator[Client]:
    """A client that never retries: one request per call."""
    async with Client(api_key=KEY, retry=RetryPolicy.never()) as c:
        yield c


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    """A client with the default policy and a fake clock (no real waiting)."""
    async with Client(api_key=KEY, retry=RetryPolicy(jitter=0.0)) as c:
        fake_time(c)
        yield c


def bell() -> Circuit:
    return Circuit(qubits=2).h(0).cnot(0, 1)


# -- error mapping --------------------------------------------------------------------

STATUS_CLASSES = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (409, ConflictError),
    (413, PayloadTooLargeError),
    (429, RateLimitError),
    (500, ServerError),
    (502, ServerError),
    (503, ServerError),
]


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
async def test_each_error_status_maps_to_its_class_with_the_body_message(
    api: MockedAPI, once: Client, status: int, cls: type[APIError]
) -> None:
    body = ERRORS[str(status)]
    api.get(f"{BASE}/whoami", status=status, payload=body, headers={"x-request-id": "req-7"})
    with pytest.raises(cls) as caught:
        await once.whoami()
    error = caught.value
    assert type(error) is cls
    assert error.status == status
    assert error.message == body["message"]
    assert error.body == body
    assert error.request_id == "req-7"
    assert "req-7" in str(error)
    assert error.method == "GET"


@pytest.mark.parametrize("status", [504, 520, 522, 529, 599])
async def test_gateway_and_cloudflare_statuses_are_server_errors(
    api: MockedAPI, once: Client, status: int
) -> None:
    api.get(f"{BASE}/whoami", status=status, body="", content_type="text/plain")
    with pytest.raises(ServerError) as caught:
        await once.whoami()
    assert caught.value.status == status


async def test_bad_request_carries_the_validation_keys(api: MockedAPI, once: Client) -> None:
    api.post(f"{BASE}/jobs", status=400, payload=ERRORS["400"])
    with pytest.raises(BadRequestError) as caught:
        await once.submit(bell(), shots=10)
    assert caught.value.validation_keys == ("shots",)


async def test_error_message_from_a_nested_error_object(api: MockedAPI, once: Client) -> None:
    body = {"error": {"type": "invalid_request", "message": "shots too large"}}
    api.get(f"{BASE}/whoami", status=400, payload=body)
    with pytest.raises(BadRequestError, match="shots too large"):
        await once.whoami()


async def test_error_message_falls_back_to_the_error_field(api: MockedAPI, once: Client) -> None:
    api.get(f"{BASE}/whoami", status=403, payload={"error": "Forbidden", "statusCode": 403})
    with pytest.raises(PermissionDeniedError, match="Forbidden"):
        await once.whoami()


async def test_retry_after_in_seconds_is_read(api: MockedAPI, once: Client) -> None:
    api.get(f"{BASE}/whoami", status=429, payload=ERRORS["429"], headers={"Retry-After": "7"})
    with pytest.raises(RateLimitError) as caught:
        await once.whoami()
    assert caught.value.retry_after == 7.0


async def test_retry_after_as_an_http_date_is_read(api: MockedAPI, once: Client) -> None:
    fake_time(once)
    header = email.utils.formatdate(WALL + 42, usegmt=True)
    api.get(f"{BASE}/whoami", status=503, payload=ERRORS["503"], headers={"Retry-After": header})
    with pytest.raises(ServerError) as caught:
        await once.whoami()
    assert caught.value.retry_after == pytest.approx(42.0)


async def test_an_html_502_from_a_proxy_is_a_server_error_with_its_text(
    api: MockedAPI, once: Client
) -> None:
    page = (
        "<html><head><title>502 Bad Gateway</title><style>body{}</style></head>"
        "<body><center><h1>502 Bad Gateway</h1></center><hr>cloudflare</body></html>"
    )
    api.get(f"{BASE}/whoami", status=502, body=page, content_type="text/html")
    with pytest.raises(ServerError) as caught:
        await once.whoami()
    assert "502 Bad Gateway" in caught.value.message
    assert "<" not in caught.value.message
    assert "cloudflare" in caught.value.message
    assert caught.value.body == page


async def test_html_where_json_was_promised_is_a_response_error(
    api: MockedAPI, once: Client
) -> None:
    api.get(f"{BASE}/whoami", body="<html>login</html>", content_type="text/html")
    with pytest.raises(ResponseError, match="expected JSON, got text/html"):
        await once.whoami()


async def test_malformed_json_is_a_response_error(api: MockedAPI, once: Client) -> None:
    api.get(f"{BASE}/whoami", body='{"key_id": ', content_type="application/json")
    with pytest.raises(ResponseError, match="malformed JSON") as caught:
        await once.whoami()
    assert not isinstance(caught.value, json.JSONDecodeError)


async def test_json_nan_is_refused(api: MockedAPI, once: Client) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}/results/probabilities", body='{"0": NaN}')
    with pytest.raises(ResponseError):
        await once.probabilities(JOB_ID)


async def test_an_empty_answer_is_a_response_error(api: MockedAPI, once: Client) -> None:
    api.get(f"{BASE}/whoami", body="")
    with pytest.raises(ResponseError, match="empty answer"):
        await once.whoami()


async def test_a_missing_required_field_is_a_response_error_naming_it(
    api: MockedAPI, once: Client
) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}", payload={"status": "ready"})
    with pytest.raises(ResponseError, match=r"\bid\b") as caught:
        await once.get_job(JOB_ID)
    assert not isinstance(caught.value, KeyError)
    assert caught.value.body == {"status": "ready"}


async def test_a_wrongly_typed_answer_is_a_response_error(api: MockedAPI, once: Client) -> None:
    api.get(f"{BASE}/backends", payload={"simulator": {}})
    with pytest.raises(ResponseError, match="expected a JSON list"):
        await once.backends()


async def test_an_unknown_status_value_is_a_response_error(api: MockedAPI, once: Client) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}", payload={"id": JOB_ID, "status": "exploded"})
    with pytest.raises(ResponseError, match="Job"):
        await once.get_job(JOB_ID)


async def test_bad_probabilities_are_a_response_error(api: MockedAPI, once: Client) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}/results/probabilities", payload={"zero": 1})
    with pytest.raises(ResponseError):
        await once.probabilities(JOB_ID)


async def test_an_answer_over_the_size_cap_is_refused(api: MockedAPI) -> None:
    big = {"key_id": "x" * 5000}
    api.get(f"{BASE}/whoami", payload=big)
    async with Client(api_key=KEY, retry=RetryPolicy.never(), max_response_bytes=1000) as small:
        with pytest.raises(ResponseError, match="1000-byte limit"):
            await small.whoami()


async def test_an_unexpected_3xx_is_a_response_error(api: MockedAPI, once: Client) -> None:
    api.get(f"{BASE}/whoami", status=304, body="")
    with pytest.raises(ResponseError, match="unexpected status 304"):
        await once.whoami()


# -- transport failures -----------------------------------------------------------------


async def test_a_dropped_connection_on_job_creation_is_not_re_sent(
    api: MockedAPI, client: Client
) -> None:
    api.post(f"{BASE}/jobs", exception=aiohttp.ServerDisconnectedError())
    api.post(f"{BASE}/jobs", status=201, payload=CREATED)
    with pytest.raises(IonQConnectionError) as caught:
        await client.submit(bell(), shots=100)
    assert caught.value.request_sent is True
    assert isinstance(caught.value.__cause__, aiohttp.ServerDisconnectedError)
    assert count(api, "POST") == 1


async def test_a_read_timeout_on_job_creation_is_not_re_sent(
    api: MockedAPI, client: Client
) -> None:
    api.post(f"{BASE}/jobs", exception=aiohttp.SocketTimeoutError("read"))
    with pytest.raises(IonQTimeoutError) as caught:
        await client.submit(bell())
    assert caught.value.request_sent is True
    assert isinstance(caught.value, TimeoutError)
    assert count(api) == 1


async def test_a_5xx_on_job_creation_is_not_re_sent(api: MockedAPI, client: Client) -> None:
    api.post(f"{BASE}/jobs", status=503, payload=ERRORS["503"])
    api.post(f"{BASE}/jobs", status=201, payload=CREATED)
    with pytest.raises(ServerError):
        await client.submit(bell())
    assert count(api) == 1


async def test_a_429_on_job_creation_is_retried(api: MockedAPI, client: Client) -> None:
    api.post(f"{BASE}/jobs", status=429, payload=ERRORS["429"], headers={"Retry-After": "2"})
    api.post(f"{BASE}/jobs", status=201, payload=CREATED)
    job = await client.submit(bell())
    assert job.id == JOB_ID
    assert count(api) == 2


async def test_a_connect_timeout_on_job_creation_is_retried(api: MockedAPI, client: Client) -> None:
    api.post(f"{BASE}/jobs", exception=aiohttp.ConnectionTimeoutError("connect"))
    api.post(f"{BASE}/jobs", status=201, payload=CREATED)
    assert (await client.submit(bell())).id == JOB_ID
    assert count(api) == 2


async def test_a_refused_connection_never_sent_is_retried_up_to_the_budget() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now: every connect is refused at once.
    policy = RetryPolicy.no_wait(max_attempts=3)
    async with Client(api_key=KEY, base_url=f"http://127.0.0.1:{port}/v0.4", retry=policy) as c:
        with pytest.raises(IonQConnectionError) as caught:
            await c.submit(bell())
        assert caught.value.request_sent is False
        assert c.stats.requests_sent == 3
        assert c.stats.retries == 2


async def test_a_dropped_connection_on_a_get_is_retried(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/whoami", exception=aiohttp.ServerDisconnectedError())
    api.get(f"{BASE}/whoami", payload=WHOAMI)
    assert (await client.whoami()).key_id == "k"
    assert count(api) == 2


async def test_transport_errors_name_the_request(api: MockedAPI, once: Client) -> None:
    api.get(f"{BASE}/whoami", exception=aiohttp.ClientOSError(104, "Connection reset by peer"))
    with pytest.raises(IonQConnectionError, match=r"GET /v0\.4/whoami") as caught:
        await once.whoami()
    assert caught.value.method == "GET"
    assert isinstance(caught.value, ConnectionError)


# -- retries and back-off -----------------------------------------------------------------


async def test_retry_after_is_honoured(api: MockedAPI, client: Client) -> None:
    fake = fake_time(client)
    api.get(f"{BASE}/whoami", status=429, payload=ERRORS["429"], headers={"Retry-After": "7"})
    api.get(f"{BASE}/whoami", payload=WHOAMI)
    await client.whoami()
    assert fake.sleeps == [7.0]


async def test_retry_after_as_a_date_is_honoured(api: MockedAPI, client: Client) -> None:
    fake = fake_time(client)
    header = email.utils.formatdate(WALL + 30, usegmt=True)
    api.get(f"{BASE}/whoami", status=503, payload=ERRORS["503"], headers={"Retry-After": header})
    api.get(f"{BASE}/whoami", payload=WHOAMI)
    await client.whoami()
    assert fake.sleeps == [pytest.approx(30.0)]


async def test_retry_after_is_capped(api: MockedAPI) -> None:
    policy = RetryPolicy(max_retry_after_s=10.0, max_total_s=1000.0)
    async with Client(api_key=KEY, retry=policy) as c:
        fake = fake_time(c)
        api.get(f"{BASE}/whoami", status=429, body="", headers={"Retry-After": "3600"})
        api.get(f"{BASE}/whoami", payload=WHOAMI)
        await c.whoami()
    assert fake.sleeps == [10.0]


async def test_without_retry_after_waits_grow_exponentially(api: MockedAPI, client: Client) -> None:
    fake = fake_time(client)
    for _ in range(3):
        api.put(f"{BASE}/jobs/{JOB_ID}/status/cancel", status=502, payload=ERRORS["502"])
    api.put(f"{BASE}/jobs/{JOB_ID}/status/cancel", payload={"id": JOB_ID, "status": "canceled"})
    await client.cancel(JOB_ID)
    # Three 502s also make a burst that closes the gate: its wait comes last.
    assert fake.sleeps[:3] == [0.25, 0.5, 1.0]
    assert client.stats.retries == 3


async def test_the_attempt_budget_is_respected(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/whoami", status=503, payload=ERRORS["503"], repeat=True)
    with pytest.raises(ServerError) as caught:
        await client.whoami()
    assert count(api) == 5
    assert client.stats.retries == 4
    assert any("gave up after 5 attempt(s)" in note for note in caught.value.__notes__)


async def test_the_time_budget_is_respected(api: MockedAPI) -> None:
    policy = RetryPolicy(max_total_s=60.0, max_attempts=10)
    async with Client(api_key=KEY, retry=policy) as c:
        fake = fake_time(c)
        api.get(f"{BASE}/whoami", status=429, body="", headers={"Retry-After": "25"}, repeat=True)
        with pytest.raises(RateLimitError):
            await c.whoami()
    # 25 s + 25 s fit in 60 s; a third wait would not.
    assert count(api) == 3
    assert fake.sleeps == [25.0, 25.0]


async def test_a_400_is_not_retried(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/whoami", status=400, payload=ERRORS["400"], repeat=True)
    with pytest.raises(BadRequestError):
        await client.whoami()
    assert count(api) == 1


async def test_a_409_is_retried_on_get_but_not_on_delete(api: MockedAPI, client: Client) -> None:
    api.get(f"{BASE}/jobs/{JOB_ID}", status=409, payload=ERRORS["409"])
    api.get(f"{BASE}/jobs/{JOB_ID}", payload={"id": JOB_ID, "status": "ready"})
    api.delete(f"{BASE}/jobs/{JOB_ID}", status=409, payload=ERRORS["409"], repeat=True)
    await client.get_job(JOB_ID)
    with pytest.raises(ConflictError):
        await client.delete(JOB_ID)
    assert count(api, "DELETE") == 1


# -- the shared back-off gate ---------------------------------------------------------


async def test_a_429_on_one_request_makes_a_concurrent_request_wait(
    api: MockedAPI, client: Client
) -> None:
    fake = fake_time(client)
    sent_at: dict[str, list[float]] = {"a": [], "b": []}

    def record(name: str) -> Any:
        def callback(url: URL, **kwargs: Any) -> None:
            sent_at[name].append(fake.now)

        return callback

    rate_limited = anyio.Event()
    client.transport.rate_limit_listeners.append(lambda event: rate_limited.set())
    api.get(
        f"{BASE}/jobs/a",
        status=429,
        payload=ERRORS["429"],
        headers={"Retry-After": "5"},
        callback=record("a"),
    )
    api.get(f"{BASE}/jobs/a", payload={"id": "a", "status": "ready"}, callback=record("a"))
    api.get(f"{BASE}/jobs/b", payload={"id": "b", "status": "ready"}, callback=record("b"))
    started = fake.now

    async def second() -> None:
        await rate_limited.wait()
        await client.get_job("b")

    async with anyio.create_task_group() as tg:
        tg.start_soon(client.get_job, "a")
        tg.start_soon(second)
    assert sent_at["a"][0] == started
    assert sent_at["b"] == [started + 5.0]
    assert sent_at["a"][1] >= started + 5.0
    assert client.stats.gate_closures == 1
    assert client.stats.rate_limited == 1


async def test_a_request_after_a_429_waits_even_when_the_429_was_not_retried(
    api: MockedAPI, once: Client
) -> None:
    fake = fake_time(once)
    api.get(f"{BASE}/whoami", status=429, body="", headers={"Retry-After": "4"})
    api.get(f"{BASE}/backends", payload=[])
    with pytest.raises(RateLimitError):
        await once.whoami()
    assert once.transport.gate_remaining_s() == 4.0
    await once.backends()
    assert fake.sleeps == [4.0]


async def test_a_retry_after_beyond_the_budget_raises_at_once_and_holds_nothing(
    api: MockedAPI, client: Client
) -> None:
    fake = fake_time(client)
    api.get(f"{BASE}/whoami", status=429, body="", headers={"Retry-After": "999999"})
    api.get(f"{BASE}/backends", payload=[])
    with pytest.raises(RateLimitError) as caught:
        await client.whoami()
    assert caught.value.retry_after == 999999.0
    assert client.transport.gate_remaining_s() == 0.0
    await client.backends()
    assert fake.sleeps == []
    assert count(api) == 2


async def test_the_gate_never_outlasts_the_budget_left_to_the_request_that_closed_it(
    api: MockedAPI, client: Client
) -> None:
    # 60 s budget: the first 40 s wait fits; the second would end at 80 s, so the request
    # gives up, and the next request of the client goes at once instead of waiting 40 s.
    fake = fake_time(client)
    for _ in range(2):
        api.get(f"{BASE}/whoami", status=429, body="", headers={"Retry-After": "40"})
    api.get(f"{BASE}/backends", payload=[])
    with pytest.raises(RateLimitError):
        await client.whoami()
    assert fake.sleeps == [40.0]
    assert client.transport.gate_remaining_s() == 0.0
    await client.backends()
    assert fake.sleeps == [40.0]


async def test_a_429_that_fits_the_budget_still_holds_every_request(
    api: MockedAPI, once: Client
) -> None:
    # The request gives up for its attempts, not its time: the wait fits, so the gate holds.
    fake = fake_time(once)
    api.get(f"{BASE}/whoami", status=429, body="", headers={"Retry-After": "59"})
    api.get(f"{BASE}/backends", payload=[])
    with pytest.raises(RateLimitError):
        await once.whoami()
    await once.backends()
    assert fake.sleeps == [59.0]


async def test_a_burst_of_server_errors_holds_requests_no_longer_than_the_budget_left(
    api: MockedAPI,
) -> None:
    policy = RetryPolicy(
        max_attempts=1, max_total_s=2.0, initial_backoff_s=10.0, max_backoff_s=30.0, jitter=0.0
    )
    async with Client(api_key=KEY, retry=policy) as c:
        fake = fake_time(c)
        api.get(f"{BASE}/whoami", status=503, payload=ERRORS["503"], repeat=True)
        for _ in range(3):
            with pytest.raises(ServerError):
                await c.whoami()
        # The burst's back-off is 30 s; the request that saw it had 2 s of budget left.
        assert c.transport.gate_remaining_s() == 2.0
        assert fake.sleeps == []


async def test_rate_limit_listeners_hear_every_429(api: MockedAPI, client: Client) -> None:
    events: list[RateLimitEvent] = []
    client.transport.rate_limit_listeners.append(events.append)
    api.get(f"{BASE}/whoami", status=429, body="", headers={"Retry-After": "3"})
    api.get(f"{BASE}/whoami", status=429, body="")
    api.get(f"{BASE}/whoami", payload=WHOAMI)
    await client.whoami()
    assert [(e.method, e.path, e.retry_after_s) for e in events] == [
        ("GET", "/v0.4/whoami", 3.0),
        ("GET", "/v0.4/whoami", None),
    ]
    assert events[0].wait_s == 3.0
    assert events[1].wait_s == 0.5  # the back-off of the second attempt


async def test_a_failing_listener_does_not_break_requests(api: MockedAPI, client: Client) -> None:
    def broken(event: RateLimitEvent) -> None:
        raise RuntimeError("listener bug")

    client.transport.rate_limit_listeners.append(broken)
    api.get(f"{BASE}/whoami", status=429, body="")
    api.get(f"{BASE}/whoami", payload=WHOAMI)
    assert (await client.whoami()).key_id == "k"


async def test_a_burst_of_server_errors_closes_the_gate(api: MockedAPI, once: Client) -> None:
    fake = fake_time(once)
    api.get(f"{BASE}/whoami", status=503, payload=ERRORS["503"], repeat=True)
    for _ in range(2):
        with pytest.raises(ServerError):
            await once.whoami()
    assert once.transport.gate_remaining_s() == 0.0
    with pytest.raises(ServerError):
        await once.whoami()
    assert once.stats.gate_closures == 1
    assert once.transport.gate_remaining_s() > 0
    assert fake.sleeps == []


async def test_server_errors_scattered_among_successes_do_not_close_the_gate(
    api: MockedAPI, once: Client
) -> None:
    fake_time(once)
    for _ in range(4):
        api.get(f"{BASE}/whoami", status=503, payload=ERRORS["503"])
        api.get(f"{BASE}/whoami", status=503, payload=ERRORS["503"])
        api.get(f"{BASE}/whoami", payload=WHOAMI)
    for _ in range(4):
        for _ in range(2):
            with pytest.raises(ServerError):
                await once.whoami()
        assert (await once.whoami()).key_id == "k"
    assert once.stats.server_errors == 8
    assert once.stats.gate_closures == 0


async def test_the_limiter_bounds_requests_in_flight(api: MockedAPI) -> None:
    in_flight = 0
    peak = 0

    async def slow(url: URL, **kwargs: Any) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(5):
            await anyio.lowlevel.checkpoint()
        in_flight -= 1

    api.get(f"{BASE}/backends", payload=[], callback=slow, repeat=True)
    async with (
        Client(api_key=KEY, max_concurrent_requests=2) as c,
        anyio.create_task_group() as tg,
    ):
        for _ in range(6):
            tg.start_soon(c.backends)
    assert peak == 2


# -- lifecycle and configuration ------------------------------------------------------


async def test_a_client_used_before_entering_raises() -> None:
    c = Client(api_key=KEY)
    with pytest.raises(ClientClosedError, match="async with"):
        await c.whoami()
    await c.aclose()


async def test_a_closed_client_cannot_be_used_or_reopened(api: MockedAPI) -> None:
    api.get(f"{BASE}/backends", payload=[])
    async with Client(api_key=KEY) as c:
        await c.backends()
    with pytest.raises(ClientClosedError, match="closed"):
        await c.backends()
    with pytest.raises(ClientClosedError):
        async with c:
            pass
    await c.aclose()  # closing again is harmless


async def test_a_client_cannot_be_entered_twice() -> None:
    async with Client(api_key=KEY) as c:
        with pytest.raises(ClientClosedError, match="only once"):
            await c.__aenter__()


async def test_a_session_passed_in_is_used_and_never_closed(api: MockedAPI) -> None:
    api.get(f"{BASE}/backends", payload=[])
    async with aiohttp.ClientSession() as session:
        async with Client(api_key=KEY, session=session) as c:
            await c.backends()
        assert not session.closed


async def test_the_client_closes_its_own_session() -> None:
    async with Client(api_key=KEY) as c:
        session = c.transport._session
        assert session is not None
    assert session.closed


async def test_key_and_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IONQ_API_KEY", "env-key")
    monkeypatch.setenv("IONQ_API_URL", "https://proxy.example/ionq/v0.4/")
    c = Client()
    assert c.base_url == "https://proxy.example/ionq/v0.4"
    assert c.transport.has_api_key
    assert c.transport.redact("x env-key y") == "x *** y"


async def test_arguments_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IONQ_API_KEY", "env-key")
    monkeypatch.setenv("IONQ_API_URL", "https://proxy.example/v0.4")
    c = Client(api_key="arg-key", base_url="https://other.example/v0.4")
    assert c.base_url == "https://other.example/v0.4"
    assert c.transport.redact("arg-key env-key") == "*** env-key"


def test_the_default_base_url_is_ionq_v04() -> None:
    assert Client().base_url == "https://api.ionq.co/v0.4"


@pytest.mark.parametrize(
    "url",
    ["ftp://api.ionq.co", "api.ionq.co/v0.4", "https://", "https://h/v0.4?x=1", "https://h/#f"],
)
def test_unusable_base_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError):
        Client(base_url=url)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout_s": 0},
        {"connect_timeout_s": -1},
        {"max_connections": 0},
        {"max_concurrent_requests": 0},
        {"max_response_bytes": 0},
        {"timeout_s": "30"},
        {"timeout_s": float("nan")},
        {"timeout_s": float("inf")},
        {"connect_timeout_s": True},
        {"max_connections": 2.5},
        {"max_concurrent_requests": "8"},
        {"retry": {"max_attempts": 3}},
        {"session": "not a session"},
    ],
)
def test_nonsense_settings_are_refused_at_construction(kwargs: dict[str, Any]) -> None:
    # Refused here, with the setting named, rather than as an AttributeError mid-request.
    with pytest.raises(ConfigurationError, match=next(iter(kwargs))):
        Client(api_key=KEY, **kwargs)


async def test_timeouts_are_sent_with_every_request(api: MockedAPI) -> None:
    api.get(f"{BASE}/backends", payload=[])
    async with Client(timeout_s=12.0, connect_timeout_s=3.0) as c:
        await c.backends()
    (call,) = next(iter(api.requests.values()))
    timeout = call.kwargs["timeout"]
    assert (timeout.total, timeout.sock_connect) == (12.0, 3.0)
    assert call.kwargs["allow_redirects"] is False


@pytest.mark.parametrize(
    ("base", "url", "expected"),
    [
        (BASE, "/v0.4/jobs/j/results/probabilities", ("/jobs/j/results/probabilities", [])),
        (BASE, f"{BASE}/jobs/j/results/shots", ("/jobs/j/results/shots", [])),
        (
            BASE,
            "/v0.4/jobs/a%2Fb/results/x?sharpen=true",
            ("/jobs/a%2Fb/results/x", [("sharpen", "true")]),
        ),
        ("https://proxy.example/ionq/v0.4", "/v0.4/jobs/j", ("/jobs/j", [])),
        ("https://proxy.example/ionq/v0.4", "/ionq/v0.4/jobs/j", ("/jobs/j", [])),
    ],
)
def test_api_urls_are_read_against_the_base_url(
    base: str, url: str, expected: tuple[str, list[tuple[str, str]]]
) -> None:
    assert Client(api_key=KEY, base_url=base).transport.api_path_of(url) == expected
