"""Faults on demand: each kind gives exactly the answer promised, seeded and switchable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from conftest import BELL, ApiCaller

from ionq_async.emulator import Emulator, FaultConfig, ManualClock

JOB = {"type": "ionq.circuit.v1", "backend": "simulator", "input": BELL}


@pytest.fixture
async def faulty(http: aiohttp.ClientSession) -> AsyncIterator[ApiCaller]:
    """An emulator whose faults each test sets with ``api.emulator.set_faults``."""
    async with Emulator() as emu:
        yield ApiCaller(emu, http)


@pytest.mark.parametrize(
    ("field", "status", "error"),
    [
        ("p_500", 500, "Internal Server Error"),
        ("p_502", 502, "Bad Gateway"),
        ("p_503", 503, "Service Unavailable"),
    ],
)
async def test_server_error_faults_answer_the_api_error_body(
    faulty: ApiCaller, field: str, status: int, error: str
) -> None:
    changes: dict[str, Any] = {field: 1.0}
    faulty.emulator.set_faults(**changes)
    got, body, _ = await faulty.get("/jobs")
    assert got == status
    assert body["statusCode"] == status and body["error"] == error and body["message"]
    assert faulty.emulator.stats.faults[str(status)] == 1


async def test_429_fault_carries_retry_after(faulty: ApiCaller) -> None:
    faulty.emulator.set_faults(p_429=1.0, retry_after_s=2.0)
    status, body, headers = await faulty.post("/jobs", json=JOB)
    assert status == 429 and headers["Retry-After"] == "2"
    assert body == {
        "error": "Too Many Requests",
        "message": "Too Many Requests. To get a higher rate limit, please reach out to "
        "support@ionq.co",
        "statusCode": 429,
    }
    assert faulty.emulator.jobs() == []


async def test_fractional_retry_after_is_sent_in_decimal_seconds(faulty: ApiCaller) -> None:
    faulty.emulator.set_faults(p_429=1.0, retry_after_s=0.25)
    _, _, headers = await faulty.get("/jobs")
    assert headers["Retry-After"] == "0.25"


async def test_faults_spare_the_open_backend_routes(faulty: ApiCaller) -> None:
    faulty.emulator.set_faults(p_503=1.0)
    assert (await faulty.get("/backends", key=False))[0] == 200
    assert (await faulty.get("/backends/simulator", key=False))[0] == 200


async def test_a_bad_key_gets_401_even_when_faults_are_on(faulty: ApiCaller) -> None:
    faulty.emulator.set_faults(p_500=1.0)
    assert (await faulty.get("/jobs", key=False))[0] == 401


async def test_drop_before_store_closes_the_connection_and_stores_nothing(
    faulty: ApiCaller,
) -> None:
    faulty.emulator.set_faults(p_drop_before_store=1.0)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await faulty.post("/jobs", json=JOB)
    assert faulty.emulator.jobs() == []
    assert faulty.emulator.stats.faults["drop_before"] == 1
    assert faulty.emulator.stats.dropped_connections == 1


async def test_drop_before_also_hits_reads(faulty: ApiCaller) -> None:
    faulty.emulator.set_faults(p_drop_before_store=1.0)
    with pytest.raises(aiohttp.ClientConnectionError):
        await faulty.get("/jobs")


async def test_drop_after_store_keeps_the_job_but_sends_no_answer(faulty: ApiCaller) -> None:
    faulty.emulator.set_faults(p_drop_after_store=1.0)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await faulty.post("/jobs", json={**JOB, "metadata": {"token": "abc"}})
    assert faulty.emulator.count_jobs_with_metadata("token", "abc") == 1
    assert faulty.emulator.stats.faults["drop_after"] == 1
    # Reads are not affected by the after-store drop.
    _, body, _ = await faulty.get("/jobs")
    assert len(body["jobs"]) == 1


async def test_latency_delays_every_route(
    faulty: ApiCaller, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The emulator waits with asyncio.sleep; record what it asks for instead of timing it.
    real_sleep = asyncio.sleep
    asked: list[float] = []

    async def recording_sleep(delay: float, result: Any = None) -> Any:
        asked.append(delay)
        return await real_sleep(delay, result)

    monkeypatch.setattr("ionq_async.emulator.middleware.asyncio.sleep", recording_sleep)
    faulty.emulator.set_faults(latency_s=(0.05, 0.05))
    assert (await faulty.get("/backends", key=False))[0] == 200  # an open route
    assert (await faulty.get("/whoami"))[0] == 200  # an authenticated one
    assert asked.count(0.05) == 2
    assert faulty.emulator.stats.faults["latency"] == 2


async def test_faults_are_reproducible_from_the_seed(http: aiohttp.ClientSession) -> None:
    faults = FaultConfig(seed=11, p_500=0.3, p_503=0.3)
    runs = []
    for _ in range(2):
        async with Emulator(faults=faults) as emu:
            api = ApiCaller(emu, http)
            runs.append([(await api.get("/jobs"))[0] for _ in range(30)])
    assert runs[0] == runs[1]
    assert {200, 500, 503} == set(runs[0])


async def test_set_faults_switches_at_runtime_and_clears(faulty: ApiCaller) -> None:
    faulty.emulator.set_faults(p_503=1.0)
    assert (await faulty.get("/jobs"))[0] == 503
    assert faulty.emulator.faults.p_503 == 1.0
    faulty.emulator.set_faults()
    assert (await faulty.get("/jobs"))[0] == 200
    faulty.emulator.faults = FaultConfig(p_502=1.0)
    assert (await faulty.get("/jobs"))[0] == 502


# ----------------------------------------------------------------------------- rate limit


@pytest.fixture
async def limited(
    http: aiohttp.ClientSession, manual_clock: ManualClock
) -> AsyncIterator[ApiCaller]:
    faults = FaultConfig(rate_limit_per_s=2.0, rate_limit_burst=3)
    async with Emulator(faults=faults, clock=manual_clock) as emu:
        yield ApiCaller(emu, http)


async def test_rate_limit_answers_429_with_retry_after_beyond_the_burst(
    limited: ApiCaller, manual_clock: ManualClock
) -> None:
    statuses = [(await limited.get("/jobs"))[0] for _ in range(3)]
    assert statuses == [200, 200, 200]
    status, body, headers = await limited.get("/jobs")
    assert status == 429 and body["statusCode"] == 429
    assert headers["Retry-After"] == "0.5"
    assert limited.emulator.stats.faults["rate_limit"] == 1
    manual_clock.advance(0.5)
    assert (await limited.get("/jobs"))[0] == 200
    assert (await limited.get("/jobs"))[0] == 429


async def test_rate_limit_is_per_key(limited: ApiCaller) -> None:
    for _ in range(3):
        await limited.get("/jobs", key="key-a")
    assert (await limited.get("/jobs", key="key-a"))[0] == 429
    assert (await limited.get("/jobs", key="key-b"))[0] == 200


async def test_rate_limit_ignores_open_routes(limited: ApiCaller) -> None:
    for _ in range(10):
        assert (await limited.get("/backends", key=False))[0] == 200
    assert (await limited.get("/jobs"))[0] == 200


# ----------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    "kwargs",
    [
        {"p_429": 1.5},
        {"p_500": -0.1},
        {"p_500": 0.6, "p_503": 0.6},
        {"latency_s": (0.2, 0.1)},
        {"rate_limit_per_s": 0.0},
        {"rate_limit_burst": 0},
        {"retry_after_s": -1.0},
    ],
)
def test_fault_config_rejects_impossible_settings(kwargs: Any) -> None:
    with pytest.raises(ValueError):
        FaultConfig(**kwargs)


def test_default_burst_is_one_second_of_requests() -> None:
    assert FaultConfig(rate_limit_per_s=5.0).burst == 5
    assert FaultConfig(rate_limit_per_s=0.2).burst == 1
