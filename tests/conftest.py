"""Shared fixtures: in-process emulators (real or manual clock), a small HTTP helper, and
aioresponses (``mocked_api``; the class is in ``_aioresponses_compat.py``).

Also the suite's hypothesis profile: no per-example deadline and no too_slow health check,
because a loaded CI machine may stall any example for a while; that is no failure.
"""

from __future__ import annotations

import io
import json as _json
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any

import aiohttp
import pytest
from hypothesis import HealthCheck, settings

from ionq_async._batch import engine as batch_engine
from ionq_async._batch import values as batch_values
from ionq_async._batch.values import PollSchedule
from ionq_async.emulator import Emulator, EmulatorConfig, ManualClock

if TYPE_CHECKING:
    from _aioresponses_compat import MockedAPI

# Examples stay as many and as derandomized as hypothesis's defaults make them; only the
# wall-clock checks go: a 200 ms deadline or a too_slow health check fails on a stall.
settings.register_profile("ionq-async", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ionq-async")

READLINE_TIMEOUT_S = 30.0
"""How long a test waits for a child process's line before calling it a hang."""


def readline_within(stream: IO[str], timeout_s: float = READLINE_TIMEOUT_S) -> str:
    """``stream.readline()``, failing the test (not hanging it) after ``timeout_s``."""
    lines: queue.Queue[str] = queue.Queue()
    # A daemon thread does the blocking read; if it never returns, the test has failed
    # already and the caller's cleanup (killing the process) ends the read.
    reader = threading.Thread(
        target=lambda: lines.put(stream.readline()), name="test-readline", daemon=True
    )
    reader.start()
    try:
        return lines.get(timeout=timeout_s)
    except queue.Empty:
        pytest.fail(f"no line from the child process within {timeout_s} s")


@pytest.fixture(autouse=True)
def private_state_folder(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command line's default journals go to a folder of the test's own, never to the
    user's state folder (``run`` keeps a journal by default)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(autouse=True)
def no_late_store_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """No grace period before re-sending an ambiguous job creation (10 s of real time
    each): tests of the late-stored case set their own."""
    # Patched in the module that defines and reads it (ionq_async.batch only re-exports).
    monkeypatch.setattr(batch_engine, "LATE_STORE_GRACE_S", 0.0)


@pytest.fixture
def poll_schedules(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``poll_schedules(simulator, qpu=None)`` sets the engine's default poll schedules.

    Tests poll every few milliseconds instead of on the real 100 ms / 1 s schedules. The
    names are patched in the module that defines them, and the setter checks that what
    the engine reads (``PollSchedule.for_backend``) is what it set: a patch of a mere
    re-export would otherwise pass silently while testing nothing.
    """

    def set_schedules(simulator: PollSchedule, qpu: PollSchedule | None = None) -> None:
        monkeypatch.setattr(batch_values, "SIMULATOR_SCHEDULE", simulator)
        assert PollSchedule.for_backend("simulator") is simulator
        if qpu is not None:
            monkeypatch.setattr(batch_values, "QPU_SCHEDULE", qpu)
            assert PollSchedule.for_backend("qpu.aria-1") is qpu

    return set_schedules


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """A started in-process emulator with default settings (simulator jobs take ~30 ms)."""
    async with Emulator() as emu:
        yield emu


@pytest.fixture
def mocked_api() -> Iterator[MockedAPI]:
    """aioresponses (working on this aiohttp) active for the test: no real HTTP leaves."""
    # Imported here so that test runs without aioresponses (tests/compat) still load.
    from _aioresponses_compat import MockedAPI

    mocked = MockedAPI()
    with mocked:
        yield mocked


@pytest.fixture
def manual_clock() -> ManualClock:
    """A clock that moves only when a test advances it."""
    return ManualClock()


@pytest.fixture
async def manual_emulator(manual_clock: ManualClock) -> AsyncIterator[Emulator]:
    """A started emulator driven by ``manual_clock``: jobs move on only when it advances."""
    config = EmulatorConfig(
        simulator_queue_s=1.0,
        simulator_run_s=2.0,
        qpu_queue_s=10.0,
        qpu_run_s=20.0,
        submit_s=0.5,
        dry_run_s=1.0,
    )
    async with Emulator(config=config, clock=manual_clock) as emu:
        yield emu


class ApiCaller:
    """Plain aiohttp calls to an emulator: ``await api.get("/jobs")`` -> (status, body, headers)."""

    def __init__(self, emulator: Emulator, session: aiohttp.ClientSession) -> None:
        self.emulator = emulator
        self.session = session

    def headers(self, key: str | None) -> dict[str, str]:
        """The Authorization header for ``key`` (none for None)."""
        return {} if key is None else {"Authorization": f"apiKey {key}"}

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | str | None = None,
        params: Any = None,
        key: str | bool | None = True,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any, Mapping[str, str]]:
        """One request to ``emulator.url + path``; the body is decoded JSON (or text)."""
        use_key = self.emulator.api_key if key is True else (None if key is False else key)
        all_headers = {**self.headers(use_key), **(headers or {})}
        body: Any = data
        if json is not None:
            body = _json.dumps(json).encode()
            all_headers.setdefault("Content-Type", "application/json")
        if isinstance(body, bytes) and len(body) > 512 * 1024:
            # aiohttp warns (an error here) about big raw bytes bodies; a stream is fine.
            body = io.BytesIO(body)
        async with self.session.request(
            method, self.emulator.url + path, data=body, params=params, headers=all_headers
        ) as response:
            text = await response.text()
            try:
                answer: Any = _json.loads(text) if text else None
            except ValueError:
                answer = text
            return response.status, answer, response.headers

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any, Mapping[str, str]]:
        """GET."""
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> tuple[int, Any, Mapping[str, str]]:
        """POST."""
        return await self.call("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> tuple[int, Any, Mapping[str, str]]:
        """PUT."""
        return await self.call("PUT", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> tuple[int, Any, Mapping[str, str]]:
        """DELETE."""
        return await self.call("DELETE", path, **kwargs)

    async def submit(self, **payload: Any) -> str:
        """POST /jobs (a Bell circuit on the simulator unless told otherwise); the new id."""
        body = {"type": "ionq.circuit.v1", "backend": "simulator", "input": BELL, **payload}
        status, answer, _ = await self.post("/jobs", json=body)
        assert status == 201, answer
        return str(answer["id"])


BELL: dict[str, Any] = {
    "gateset": "qis",
    "qubits": 2,
    "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}],
}
"""A Bell pair in the API's input form."""


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session, closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def api(emulator: Emulator, http: aiohttp.ClientSession) -> ApiCaller:
    """HTTP calls to the default ``emulator``."""
    return ApiCaller(emulator, http)


@pytest.fixture
def manual_api(manual_emulator: Emulator, http: aiohttp.ClientSession) -> ApiCaller:
    """HTTP calls to ``manual_emulator``."""
    return ApiCaller(manual_emulator, http)
