"""Hostile input to the emulator: random payloads, deep nesting, huge bodies, floods, no key.

Whatever a client sends, the emulator answers with the API's own statuses and error
bodies (never a 500, which only its fault injector may produce), keeps serving, and keeps
its memory bounded; every protected route answers 401 without a valid key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import resource
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import aiohttp
import anyio
import anyio.lowlevel
import pytest
import requests
from conftest import BELL, ApiCaller
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ionq_async.emulator import (
    BackgroundEmulator,
    Emulator,
    EmulatorConfig,
    EmulatorStats,
    FaultConfig,
)
from ionq_async.emulator.app import build_app
from ionq_async.emulator.faults import FaultInjector
from ionq_async.emulator.store import JobStore

HANG_GUARD_S = 60.0
TEN_MB = 10 * 1024 * 1024
JOB_ID = "0198097d-3888-72ad-a9dd-9ace842cf181"

# -- shared checks -----------------------------------------------------------------------


def assert_api_answer(status: int, body: Any, what: str = "") -> None:
    """Not a 5xx; an error answer carries the API's ``{error, message, statusCode}`` body."""
    assert status < 500, (what, status, body)
    if status >= 400:
        assert isinstance(body, dict), (what, status, body)
        assert body.get("statusCode") == status, (what, status, body)
        assert isinstance(body.get("message"), str) and isinstance(body.get("error"), str)


def rss_bytes() -> int:
    """This process's resident set size, from /proc/self/status."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")  # pragma: no cover - Linux only


# -- hypothesis: random payloads through a background emulator -------------------------------


@pytest.fixture(scope="module")
def background() -> Iterator[Emulator]:
    """One emulator for the property tests, on its own thread; jobs are instant."""
    config = EmulatorConfig(time_scale=0.0, max_simulated_qubits=12)
    with BackgroundEmulator(config=config) as emu:
        yield emu


@pytest.fixture(scope="module")
def web(background: Emulator) -> Iterator[requests.Session]:
    """A blocking HTTP session carrying the emulator's key."""
    with requests.Session() as session:
        session.headers["Authorization"] = f"apiKey {background.api_key}"
        yield session


def send(
    session: requests.Session, emu: Emulator, method: str, path: str, **kwargs: Any
) -> tuple[int, Any]:
    """One request; the answer's status and decoded JSON body (None if empty)."""
    response = session.request(method, emu.url + path, timeout=30, **kwargs)
    text = response.text
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = text
    return response.status_code, body


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()  # NaN and the infinities go out as the non-standard literals
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
index = (
    st.integers(min_value=-3, max_value=14)
    | st.sampled_from([2**31, -(2**63), 10**30])
    | (json_scalars)
)
number = st.floats() | st.integers(min_value=-(10**30), max_value=10**30) | json_scalars
gate_names = st.sampled_from(
    [
        "h",
        "x",
        "y",
        "z",
        "s",
        "si",
        "t",
        "ti",
        "v",
        "vi",
        "rx",
        "ry",
        "rz",
        "cnot",
        "not",
        "swap",
        "xx",
        "yy",
        "zz",
        "gpi",
        "gpi2",
        "ms",
        "pauliexp",
        "measure",
        "u3",
        "",
    ]
) | st.text(max_size=6)
gates = st.fixed_dictionaries(
    {"gate": gate_names | json_scalars},
    optional={
        "target": index,
        "targets": st.lists(index, max_size=3) | json_values,
        "control": index,
        "controls": st.lists(index, max_size=3) | json_values,
        "rotation": number,
        "phase": number,
        "angle": number,
        "phases": st.lists(number, max_size=3) | json_values,
        "terms": st.lists(st.text(alphabet="XYZI", max_size=4), max_size=3) | json_values,
        "coefficients": st.lists(number, max_size=3) | json_values,
    },
)
qubit_counts = (
    st.integers(min_value=-2, max_value=12) | st.sampled_from([0, 29, 10**9]) | (json_scalars)
)
circuit_inputs = st.fixed_dictionaries(
    {},
    optional={
        "gateset": st.sampled_from(["qis", "native", "QIS", ""]) | json_scalars,
        "qubits": qubit_counts,
        "circuit": st.lists(gates, max_size=6) | json_values,
        "circuits": st.lists(
            st.fixed_dictionaries(
                {"circuit": st.lists(gates, max_size=4)},
                optional={"name": json_scalars, "qubits": qubit_counts},
            ),
            max_size=3,
        )
        | json_values,
        "format": st.sampled_from(["ionq.circuit.v0", "qasm3"]) | json_scalars,
        "data": json_scalars,
    },
)
job_payloads = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(
            ["ionq.circuit.v1", "ionq.multi-circuit.v1", "ionq.qasm3.v1", "circuit"]
        )
        | json_scalars,
        "backend": st.sampled_from(
            ["simulator", "qpu.forte-1", "qpu.aria-1", "qpu.nope", "SIMULATOR"]
        )
        | json_scalars,
        "shots": st.integers(min_value=-5, max_value=2_000_000) | json_scalars,
        "input": circuit_inputs | json_values,
        "noise": st.fixed_dictionaries(
            {},
            optional={
                "model": st.sampled_from(["ideal", "aria-1", "harmony"]) | json_scalars,
                "seed": json_scalars,
            },
        )
        | json_values,
        "metadata": st.dictionaries(st.text(max_size=45), st.text(max_size=10), max_size=12)
        | json_values,
        "settings": json_values,
        "name": json_scalars,
        "dry_run": json_scalars,
        "session_id": json_scalars,
        "children": json_values,
        "error_mitigation": json_values,
    },
)
PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MULTI_ROUTE_SETTINGS = settings(PROPERTY_SETTINGS, max_examples=60)
"""Fewer examples where each one is sent to many routes."""


@PROPERTY_SETTINGS
@given(payload=job_payloads)
def test_random_job_payloads_get_api_answers_never_a_500(
    background: Emulator, web: requests.Session, payload: dict[str, Any]
) -> None:
    status, body = send(
        web,
        background,
        "POST",
        "/jobs",
        data=json.dumps(payload),
        headers={"Content-Type": "application/json"},
    )
    assert_api_answer(status, body, "POST /jobs")
    assert status in (201, 400, 413), (status, body)


@MULTI_ROUTE_SETTINGS
@given(payload=json_values)
def test_random_json_anywhere_a_body_is_read_never_gives_a_500(
    background: Emulator, web: requests.Session, payload: Any
) -> None:
    data = json.dumps(payload)
    for method, path in (
        ("POST", "/jobs"),
        ("DELETE", "/jobs"),
        ("PUT", "/jobs/status/cancel"),
        ("POST", "/sessions"),
        ("GET", "/jobs"),  # cirq sends its page size as a body on a GET
    ):
        status, body = send(web, background, method, path, data=data)
        assert_api_answer(status, body, f"{method} {path}")


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=300))
def test_random_bytes_as_a_json_body_are_a_400(
    background: Emulator, web: requests.Session, raw: bytes
) -> None:
    status, body = send(
        web, background, "POST", "/jobs", data=raw, headers={"Content-Type": "application/json"}
    )
    assert_api_answer(status, body, "POST /jobs")


query_values = (
    st.text(max_size=12)
    | st.integers().map(str)
    | st.sampled_from(["-1", "0", "1e9", "NaN", "true", "2025-13-45", "x" * 300])
)


@MULTI_ROUTE_SETTINGS
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "ids",
                "status",
                "target",
                "session_id",
                "parent_job_id",
                "limit",
                "next",
                "backend",
                "type",
                "qubits",
                "shots",
                "1q_gates",
                "2q_gates",
                "error_mitigation",
                "start",
                "end",
                "page",
                "sharpen",
                "active",
                "ids[]",
            ]
        ),
        query_values,
        max_size=6,
    )
)
def test_random_query_strings_never_give_a_500(
    background: Emulator, web: requests.Session, params: dict[str, str]
) -> None:
    for path in (
        "/jobs",
        "/jobs/estimate",
        "/sessions",
        "/backends/qpu.forte-1/characterizations",
        f"/jobs/{JOB_ID}/results/probabilities",
    ):
        status, body = send(web, background, "GET", path, params=params)
        assert_api_answer(status, body, f"GET {path}")


@MULTI_ROUTE_SETTINGS
@given(identifier=st.text(min_size=1, max_size=40))
def test_random_ids_in_paths_never_give_a_500(
    background: Emulator, web: requests.Session, identifier: str
) -> None:
    segment = quote(identifier, safe="")
    for method, path in (
        ("GET", f"/jobs/{segment}"),
        ("DELETE", f"/jobs/{segment}"),
        ("PUT", f"/jobs/{segment}/status/cancel"),
        ("GET", f"/jobs/{segment}/cost"),
        ("GET", f"/jobs/{segment}/results/probabilities"),
        ("GET", f"/jobs/{segment}/results/probabilities/aggregated"),
        ("GET", f"/jobs/{segment}/artifacts/{segment}"),
        ("GET", f"/backends/{segment}"),
        ("GET", f"/backends/{segment}/characterizations/{segment}"),
        ("GET", f"/sessions/{segment}"),
        ("POST", f"/sessions/{segment}/end"),
        ("GET", f"/sessions/{segment}/jobs"),
    ):
        status, body = send(web, background, method, path)
        assert_api_answer(status, body, f"{method} {path}")


def test_no_property_test_ever_drew_a_500(background: Emulator) -> None:
    # The emulator's own count, in case an answer above slipped through unchecked.
    assert background.stats.responses_by_status[500] == 0
    assert all(status < 500 for status in background.stats.responses_by_status)


# -- deep nesting and huge bodies ------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "[" * 200_000 + "]" * 200_000,
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        json.dumps({"type": "ionq.circuit.v1", "backend": "simulator", "input": BELL})[:-1]
        + ', "metadata": '
        + "[" * 100_000
        + "]" * 100_000
        + "}",
        '{"type": "ionq.circuit.v1", "backend": "simulator", "input": {"qubits": 2, '
        '"circuit": [{"gate": "h", "target": ' + "[" * 50_000 + "0" + "]" * 50_000 + "}]}}",
    ],
    ids=["lists", "objects", "metadata", "target"],
)
async def test_deeply_nested_json_is_a_400(api: ApiCaller, body: str) -> None:
    with anyio.fail_after(HANG_GUARD_S):
        status, answer, _ = await api.post(
            "/jobs", data=body, headers={"Content-Type": "application/json"}
        )
        assert_api_answer(status, answer)
        assert status == 400
        assert (await api.get("/whoami"))[0] == 200


async def test_deep_nesting_in_every_body_route_is_not_a_500(api: ApiCaller) -> None:
    body = "[" * 100_000 + "]" * 100_000
    with anyio.fail_after(HANG_GUARD_S):
        for method, path in (
            ("DELETE", "/jobs"),
            ("PUT", "/jobs/status/cancel"),
            ("POST", "/sessions"),
            ("GET", "/jobs"),
        ):
            status, answer, _ = await api.call(method, path, data=body)
            assert_api_answer(status, answer, f"{method} {path}")


def over_ten_mb_job() -> bytes:
    """A syntactically valid job whose body is just over the API's 10 MB limit."""
    gate = b'{"gate":"x","target":0},'
    gates = gate * (TEN_MB // len(gate) + 10)
    return (
        b'{"type":"ionq.circuit.v1","backend":"simulator","input":{"qubits":1,"circuit":['
        + gates.rstrip(b",")
        + b"]}}"
    )


async def test_a_body_over_ten_mb_is_a_413(api: ApiCaller) -> None:
    body = over_ten_mb_job()
    assert len(body) > TEN_MB
    with anyio.fail_after(HANG_GUARD_S):
        status, answer, _ = await api.post(
            "/jobs", data=body, headers={"Content-Type": "application/json"}
        )
    assert status == 413
    assert_api_answer(status, answer)


async def test_a_chunked_body_over_ten_mb_is_a_413(api: ApiCaller) -> None:
    # No Content-Length to refuse early: the limit must hold while the body streams in.
    async def chunks() -> AsyncIterator[bytes]:
        piece = b" " * (1024 * 1024)
        yield b"["
        for _ in range(12):
            yield piece
        yield b"]"

    with anyio.fail_after(HANG_GUARD_S):
        async with api.session.post(
            api.emulator.url + "/jobs",
            data=chunks(),
            headers={"Authorization": f"apiKey {api.emulator.api_key}"},
        ) as response:
            status = response.status
            answer = await response.json(content_type=None)
    assert status == 413
    assert_api_answer(status, answer)


async def test_many_concurrent_oversized_bodies_leave_memory_bounded(api: ApiCaller) -> None:
    body = over_ten_mb_job()
    before = rss_bytes()
    with anyio.fail_after(HANG_GUARD_S):
        results: list[int] = []

        async def one() -> None:
            status, answer, _ = await api.post(
                "/jobs", data=body, headers={"Content-Type": "application/json"}
            )
            assert_api_answer(status, answer)
            results.append(status)

        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(one)
    assert results == [413] * 8
    # Each refused body may be held while it is read, never more: 8 x 10 MB plus slack.
    assert rss_bytes() - before < 8 * TEN_MB + 200 * 1024 * 1024


# -- floods of concurrent loopback connections -------------------------------------------------


def _raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


FLOOD = 2_000
FLOOD_WAVE = 64
"""New connections let loose per event-loop turn; well under the listen backlog of 128."""
FLOOD_GUARD_S = 600.0
"""Only a hang trips this: 2,000 connections take seconds here, maybe minutes on a loaded box."""


def _flood_request(number: int, key: str) -> tuple[str, str, dict[str, str], bytes | None]:
    """A mix of valid calls, junk, bad keys and odd methods, picked by ``number``."""
    auth = {"Authorization": f"apiKey {key}"}
    job = json.dumps({"type": "ionq.circuit.v1", "backend": "simulator", "input": BELL}).encode()
    kinds: list[tuple[str, str, dict[str, str], bytes | None]] = [
        ("GET", "/backends", {}, None),
        ("GET", "/jobs?limit=5", auth, None),
        ("POST", "/jobs", {**auth, "Content-Type": "application/json"}, job),
        ("POST", "/jobs", {**auth, "Content-Type": "application/json"}, b"{not json"),
        ("POST", "/jobs", {**auth, "Content-Type": "application/json"}, b"[" * 5000),
        ("GET", "/whoami", {"Authorization": "apiKey "}, None),
        ("GET", "/whoami", {"Authorization": "Bearer " + key}, None),
        ("GET", f"/jobs/{JOB_ID}", auth, None),
        ("PATCH", "/jobs", auth, b"{}"),
        ("GET", "/jobs/estimate?backend=qpu.forte-1&qubits=x", auth, None),
        ("DELETE", "/jobs", auth, b'{"ids": 5}'),
        ("GET", "/nowhere/at/all", auth, None),
    ]
    return kinds[number % len(kinds)]


async def test_thousands_of_concurrent_connections_get_answers_and_no_500() -> None:
    _raise_fd_limit(4 * FLOOD + 512)
    config = EmulatorConfig(time_scale=0.0)
    async with Emulator(config=config) as emu:
        before = rss_bytes()
        statuses: Counter[int] = Counter()
        # force_close: every request opens a connection of its own, none waits for another.
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        timeout = aiohttp.ClientTimeout(total=FLOOD_GUARD_S)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            # The connects are let loose a wave per event-loop turn, not all in one: 2,000
            # at once overflow the listen backlog (128), and the kernel then drops SYNs that
            # come back only after 1, 3, 7 s... retransmits. Waves still pile up far more
            # open connections than the backlog, as the server answers in the same loop.
            released = asyncio.Semaphore(0)
            in_flight = peak = 0

            async def one(number: int) -> None:
                nonlocal in_flight, peak
                method, path, headers, body = _flood_request(number, emu.api_key)
                await released.acquire()
                in_flight += 1
                peak = max(peak, in_flight)
                try:
                    async with session.request(
                        method, emu.url + path, headers=headers, data=body
                    ) as response:
                        answer = await response.read()
                        statuses[response.status] += 1
                        if response.status >= 400 and path != "/nowhere/at/all":
                            assert_api_answer(response.status, json.loads(answer), path)
                finally:
                    in_flight -= 1

            with anyio.fail_after(FLOOD_GUARD_S):
                async with anyio.create_task_group() as group:
                    for number in range(FLOOD):
                        group.start_soon(one, number)
                    await anyio.lowlevel.checkpoint()
                    for _ in range(0, FLOOD, FLOOD_WAVE):
                        for _ in range(FLOOD_WAVE):
                            released.release()
                        await anyio.lowlevel.checkpoint()  # one loop turn: accepts drain
            # Still serving, and as it should, after the flood.
            async with session.get(
                emu.url + "/whoami", headers={"Authorization": f"apiKey {emu.api_key}"}
            ) as response:
                assert response.status == 200
        grown = rss_bytes() - before
    assert sum(statuses.values()) == FLOOD
    assert all(status < 500 for status in statuses), statuses
    assert {200, 201, 400, 401, 404, 405} <= set(statuses)
    assert emu.stats.responses_by_status[500] == 0
    # 2,000 connections and their answers; a leak would be a multiple of this.
    print(f"RSS grew by {grown / 2**20:.1f} MiB; {peak} requests in flight at most")
    assert grown < 150 * 1024 * 1024, f"RSS grew by {grown / 2**20:.0f} MiB"


async def _raw_junk(host: str, port: int, payload: bytes, *, half_close: bool) -> bytes:
    """Send ``payload``, end the stream (or just stop, for answers that come early), read."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(payload)
        await writer.drain()
        if half_close:
            writer.write_eof()
        return await reader.read(4096)
    except OSError:
        # The server may close first (a bad request line): nothing to read, which is fine.
        return b""
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


JUNK = [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(64)),  # a TLS hello
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /v0.4/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{",  # then nothing
    b"GET /v0.4/jobs HTTP/1.1\r\n" + b"X-Junk: " + b"a" * 100_000 + b"\r\n\r\n",
    b"GET /v0.4/" + b"a" * 50_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v0.4/backends HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"\x00" * 1000,
]


async def test_raw_junk_connections_get_no_500_and_the_emulator_keeps_serving(
    api: ApiCaller,
) -> None:
    emu = api.emulator
    _raise_fd_limit(4 * len(JUNK) * 50 + 512)
    rng = random.Random(5)
    with anyio.fail_after(HANG_GUARD_S):
        answers: list[bytes] = []

        async def one(payload: bytes) -> None:
            # A request that promised more body than it sent must end its stream, or the
            # server (rightly) waits for the rest.
            incomplete = payload.endswith(b"{")
            half_close = incomplete or rng.random() < 0.5
            answers.append(await _raw_junk("127.0.0.1", emu.port, payload, half_close=half_close))

        async with anyio.create_task_group() as group:
            for _ in range(50):
                for payload in JUNK:
                    group.start_soon(one, payload)
        status, body, _ = await api.get("/whoami")
    assert status == 200, body
    for answer in answers:
        assert not answer.startswith(b"HTTP/1.1 5"), answer[:200]
    assert emu.stats.responses_by_status[500] == 0


# -- no key, no entry: every protected route --------------------------------------------------

JOB = "/jobs/{job_id}"
PROTECTED_ROUTES: list[tuple[str, str]] = [
    # API notes section 3: every row marked "auth: yes" that the emulator serves.
    ("GET", "/whoami"),
    ("GET", "/backends/{backend}/characterizations/{characterization_id}"),
    ("POST", "/jobs"),
    ("GET", "/jobs"),
    ("DELETE", "/jobs"),
    ("GET", JOB),
    ("DELETE", JOB),
    ("PUT", JOB + "/status/cancel"),
    ("PUT", "/jobs/status/cancel"),
    ("GET", JOB + "/cost"),
    ("GET", "/jobs/estimate"),
    ("GET", JOB + "/results/probabilities"),
    ("GET", JOB + "/results/probabilities/aggregated"),
    ("GET", JOB + "/results/histogram"),
    ("GET", JOB + "/results/shots"),
    ("GET", JOB + "/artifacts/{artifact_id}"),
    ("GET", JOB + "/circuits/{lang}"),
    ("GET", JOB + "/variants/{variant_id}/results/{kind}"),
    ("POST", "/sessions"),
    ("GET", "/sessions"),
    ("GET", "/sessions/{session_id}"),
    ("POST", "/sessions/{session_id}/end"),
    ("GET", "/sessions/{session_id}/jobs"),
]
OPEN_ROUTES: list[tuple[str, str]] = [
    # API notes section 2: declared with `security: []`.
    ("GET", "/backends"),
    ("GET", "/backends/{backend}"),
    ("GET", "/backends/{backend}/characterizations"),
]
EXAMPLE_VALUES = {
    "{job_id}": JOB_ID,
    "{session_id}": JOB_ID,
    "{characterization_id}": JOB_ID,
    "{backend}": "qpu.forte-1",
    "{artifact_id}": "probabilities",
    "{lang}": "native",
    "{variant_id}": "v1",
    "{kind}": "probabilities",
}


def example_path(template: str) -> str:
    """A concrete path for a route template (plausible ids, so only the key is wrong)."""
    for placeholder, value in EXAMPLE_VALUES.items():
        template = template.replace(placeholder, value)
    return template


GOOD_KEY = "emulator-accepts-only-this-key"
BAD_CREDENTIALS: dict[str, dict[str, str]] = {
    "no header": {},
    "empty header": {"Authorization": ""},
    "scheme only": {"Authorization": "apiKey"},
    "scheme and blank": {"Authorization": "apiKey    "},
    "bearer scheme": {"Authorization": f"Bearer {GOOD_KEY}"},
    "basic scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
    "key without scheme": {"Authorization": GOOD_KEY},
    "wrong key": {"Authorization": "apiKey not-the-key"},
    "key prefix": {"Authorization": f"apiKey {GOOD_KEY[:-1]}"},
    "key with suffix": {"Authorization": f"apiKey {GOOD_KEY}x"},
    "key in another header": {"X-Api-Key": GOOD_KEY},
}


def test_the_tables_cover_every_route_the_emulator_serves() -> None:
    # A route added to the app without a row here would escape the 401 test below.
    config = EmulatorConfig()
    store = JobStore(config, lambda: 0.0)
    try:
        app = build_app(
            store=store,
            injector=FaultInjector(FaultConfig(), lambda: 0.0),
            stats=EmulatorStats(),
            api_keys=None,
        )
        served = {
            (route.method, route.resource.canonical)
            for route in app.router.routes()
            if route.resource is not None and route.method != "HEAD"
        }
    finally:
        store.close()
    tabled = {(method, "/v0.4" + template) for method, template in PROTECTED_ROUTES + OPEN_ROUTES}
    assert served == tabled


@pytest.fixture
async def keyed() -> AsyncIterator[Emulator]:
    """An emulator that accepts one key only, and fails every authenticated request."""
    # p_500=1: a request that got past authentication would be a 500, so a 401 proves the
    # key was checked first.
    async with Emulator(api_keys=[GOOD_KEY], faults=FaultConfig(p_500=1.0)) as emu:
        yield emu


@pytest.mark.parametrize("credentials", list(BAD_CREDENTIALS), ids=list(BAD_CREDENTIALS))
@pytest.mark.parametrize(
    ("method", "template"), PROTECTED_ROUTES, ids=[" ".join(r) for r in PROTECTED_ROUTES]
)
async def test_every_protected_route_answers_401_without_a_valid_key(
    keyed: Emulator, http: aiohttp.ClientSession, method: str, template: str, credentials: str
) -> None:
    path = example_path(template)
    headers = BAD_CREDENTIALS[credentials]
    has_body = method in ("POST", "PUT", "DELETE")
    body = b'{"ids": ["x"], "backend": "simulator"}' if has_body else None
    with anyio.fail_after(HANG_GUARD_S):
        async with http.request(method, keyed.url + path, headers=headers, data=body) as response:
            status = response.status
            text = await response.text()
    assert status == 401, text
    answer = json.loads(text)
    assert answer["statusCode"] == 401 and answer["error"] == "Unauthorized Error"
    # The 401 never echoes what was presented as a key.
    for value in headers.values():
        assert not value or value.split()[-1] not in text


@pytest.mark.parametrize(
    ("method", "template"), OPEN_ROUTES, ids=[" ".join(r) for r in OPEN_ROUTES]
)
async def test_the_open_backend_routes_answer_without_a_key(
    keyed: Emulator, http: aiohttp.ClientSession, method: str, template: str
) -> None:
    path = example_path(template)
    with anyio.fail_after(HANG_GUARD_S):
        async with http.request(method, keyed.url + path) as response:
            assert response.status == 200, await response.text()
            assert await response.json() is not None


async def test_a_valid_key_gets_past_authentication(
    keyed: Emulator, http: aiohttp.ClientSession
) -> None:
    # The counterpart of the table: the same emulator lets the real key through (to the 500).
    headers = {"Authorization": f"apiKey {GOOD_KEY}"}
    async with http.get(keyed.url + "/whoami", headers=headers) as response:
        assert response.status == 500


UNSERVED_ROUTES: list[tuple[str, str]] = [
    # API notes section 3 rows the emulator does not implement (clone and move, schemas,
    # usage): no key gets anything but a 404 there.
    ("POST", f"/jobs/{JOB_ID}/clone"),
    ("POST", f"/jobs/{JOB_ID}/move"),
    ("GET", "/schemas/formats/ionq.circuit.v1"),
    ("GET", "/organizations/org-1/usage"),
]


@pytest.mark.parametrize(
    ("method", "path"), UNSERVED_ROUTES, ids=[" ".join(r) for r in UNSERVED_ROUTES]
)
@pytest.mark.parametrize("key", [None, GOOD_KEY], ids=["no key", "good key"])
async def test_routes_the_emulator_does_not_serve_are_a_404_with_the_api_body(
    keyed: Emulator, http: aiohttp.ClientSession, method: str, path: str, key: str | None
) -> None:
    headers = {"Authorization": f"apiKey {key}"} if key else {}
    async with http.request(method, keyed.url + path, headers=headers) as response:
        status = response.status
        answer = await response.json(content_type=None)
    assert status == 404
    assert_api_answer(status, answer)
