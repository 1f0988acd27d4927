"""A session as an async context manager: created on enter, ended on every way out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from _aioresponses_compat import MockedAPI

from ionq_async._converter import converter
from ionq_async._retry import RetryPolicy
from ionq_async._sessions import SessionScope
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.emulator import Emulator, EmulatorConfig
from ionq_async.exceptions import ClientClosedError, InvalidRequestError, ServerError
from ionq_async.models import Money, Session

BASE = "https://api.ionq.co/v0.4"
SESSION = json.loads((Path(__file__).parent / "samples" / "other.json").read_text())["session"]


class FakeSessions:
    """The two calls a scope needs; ``end_session`` can fail or never answer."""

    def __init__(self, *, end_error: Exception | None = None, end_hangs: bool = False) -> None:
        self.created: list[dict[str, Any]] = []
        self.ended: list[str] = []
        self.end_error = end_error
        self.end_hangs = end_hangs

    async def create_session(
        self,
        backend: str,
        *,
        job_count_limit: int | None = None,
        duration_limit_min: float | None = None,
        cost_limit: Money | None = None,
    ) -> Session:
        self.created.append(
            {
                "backend": backend,
                "job_count_limit": job_count_limit,
                "duration_limit_min": duration_limit_min,
                "cost_limit": cost_limit,
            }
        )
        await anyio.lowlevel.checkpoint()
        return Session(id=f"s-{len(self.created)}", backend=backend, active=True)

    async def end_session(self, session: Session | str) -> Session:
        session_id = session if isinstance(session, str) else session.id
        await anyio.lowlevel.checkpoint()
        if self.end_hangs:
            await anyio.sleep_forever()
        if self.end_error is not None:
            raise self.end_error
        self.ended.append(session_id)
        return Session(id=session_id, active=False, status="ended")


async def test_limits_become_the_apis_session_settings() -> None:
    api = FakeSessions()
    async with SessionScope(
        api, backend="qpu.forte-1", max_cost=100, max_jobs=5, duration_limit_min=30
    ) as session:
        assert session.id == "s-1"
    assert api.created == [
        {
            "backend": "qpu.forte-1",
            "job_count_limit": 5,
            "duration_limit_min": 30,
            "cost_limit": Money(value=100.0, unit="usd"),
        }
    ]
    assert api.ended == ["s-1"]
    assert session.ended is not None and session.ended.status == "ended"


async def test_a_money_budget_keeps_its_unit() -> None:
    api = FakeSessions()
    async with SessionScope(api, backend="qpu.forte-1", max_cost=Money(value=3, unit="credit")):
        pass
    assert api.created[0]["cost_limit"] == Money(value=3, unit="credit")


@pytest.mark.parametrize("bad", [0, -5, float("nan"), True, "100"])
def test_a_bad_max_cost_is_refused_before_any_request(bad: object) -> None:
    with pytest.raises(InvalidRequestError, match="max_cost must be a positive number"):
        SessionScope(FakeSessions(), backend="qpu.forte-1", max_cost=bad)  # type: ignore[arg-type]


async def test_the_session_is_ended_when_the_body_raises() -> None:
    api = FakeSessions()
    with pytest.raises(KeyError, match="from the body"):
        async with SessionScope(api, backend="qpu.forte-1"):
            raise KeyError("from the body")
    assert api.ended == ["s-1"]


async def test_the_session_is_ended_when_the_body_is_cancelled() -> None:
    api = FakeSessions()
    entered = anyio.Event()

    async def body() -> None:
        async with SessionScope(api, backend="qpu.forte-1"):
            entered.set()
            await anyio.sleep_forever()

    async with anyio.create_task_group() as group:
        group.start_soon(body)
        await entered.wait()
        group.cancel_scope.cancel()
    assert api.ended == ["s-1"]


async def test_the_session_is_ended_when_the_task_is_cancelled_by_asyncio() -> None:
    api = FakeSessions()
    entered = asyncio.Event()

    async def body() -> None:
        async with SessionScope(api, backend="qpu.forte-1"):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.ensure_future(body())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert api.ended == ["s-1"]


async def test_a_failed_end_after_a_failed_body_keeps_the_bodys_error_and_says_so() -> None:
    api = FakeSessions(end_error=ServerError("down", status=503))
    with pytest.raises(KeyError) as caught:
        async with SessionScope(api, backend="qpu.forte-1"):
            raise KeyError("from the body")
    notes = " ".join(caught.value.__notes__)
    assert "session s-1 on qpu.forte-1 may still be open" in notes
    assert "client.end_session('s-1')" in notes
    assert "ServerError" in notes


async def test_a_failed_end_after_a_clean_body_is_raised_with_the_way_out() -> None:
    api = FakeSessions(end_error=ServerError("down", status=503))
    with pytest.raises(ServerError) as caught:
        async with SessionScope(api, backend="qpu.forte-1"):
            pass
    assert "client.end_session('s-1')" in " ".join(caught.value.__notes__)


async def test_ending_is_bounded_in_time() -> None:
    api = FakeSessions(end_hangs=True)
    with pytest.raises(TimeoutError) as caught:
        async with SessionScope(api, backend="qpu.forte-1", end_timeout_s=0.01):
            pass
    assert "may still be open" in " ".join(caught.value.__notes__)


async def test_a_scope_is_entered_once_and_its_id_lives_inside_it() -> None:
    scope = SessionScope(FakeSessions(), backend="qpu.forte-1")
    with pytest.raises(ClientClosedError, match="only inside"):
        _ = scope.id
    async with scope:
        pass
    with pytest.raises(ClientClosedError, match="entered once"):
        async with scope:
            pass


# -- the exact requests, and the emulator ---------------------------------------------------


async def test_enter_and_exit_send_exactly_create_and_end(mocked_api: MockedAPI) -> None:
    mocked_api.post(f"{BASE}/sessions", status=201, payload=SESSION)
    mocked_api.post(f"{BASE}/sessions/s-1/end", payload={**SESSION, "active": False})
    client = Client(api_key="k-session-test-1", retry=RetryPolicy.no_wait())
    async with client, SessionScope(client, backend="qpu.forte-1", max_cost=100, max_jobs=10) as s:
        assert s.id == "s-1"
        assert [m for (m, _), calls in mocked_api.requests.items() for _ in calls] == ["POST"]
    sent = [
        (method, url.path, call.kwargs.get("data"))
        for (method, url), calls in mocked_api.requests.items()
        for call in calls
    ]
    assert [(m, p) for m, p, _ in sent] == [
        ("POST", "/v0.4/sessions"),
        ("POST", "/v0.4/sessions/s-1/end"),
    ]
    assert json.loads(sent[0][2]) == {
        "backend": "qpu.forte-1",
        "settings": {"job_count_limit": 10, "cost_limit": {"unit": "usd", "value": 100.0}},
    }
    assert sent[1][2] is None
    assert converter.structure(SESSION, Session).id == s.id


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with (
        Emulator(config=EmulatorConfig(time_scale=0.0)) as emu,
        Client(api_key=emu.api_key, base_url=emu.url, retry=RetryPolicy.no_wait()) as c,
    ):
        yield c


async def test_jobs_run_in_the_session_and_it_ends_on_exit(client: Client) -> None:
    async with SessionScope(client, backend="qpu.forte-1", max_jobs=3, max_cost=500) as session:
        job = await client.submit(
            Circuit(qubits=2).h(0).cnot(0, 1),
            backend="qpu.forte-1",
            shots=100,
            dry_run=True,
            session_id=session.id,
        )
        assert job.session_id == session.id
        live = await client.get_session(session.id)
        assert live.active is True
        assert live.settings is not None
        assert live.settings.job_count_limit == 3
        assert live.settings.cost_limit == Money(value=500.0, unit="usd")
    ended = await client.get_session(session.id)
    assert ended.active is False
    assert ended.status == "ended"


async def test_the_emulators_session_ends_even_when_the_body_raises(client: Client) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with SessionScope(client, backend="qpu.forte-1") as session:
            raise RuntimeError("boom")
    assert (await client.get_session(session.id)).active is False
    assert [s.id for s in await client.sessions(active=True)] == []
