"""The blocking facade: the client's methods without await, in plain code and in a running loop."""

from __future__ import annotations

import asyncio
import gc
import inspect
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)

from ionq_async import _loop_servers
from ionq_async._retry import RetryPolicy
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.emulator import Emulator, EmulatorConfig
from ionq_async.exceptions import (
    ClientClosedError,
    ConfigurationError,
    IonQConnectionError,
    IonQTimeoutError,
    JobFailed,
    NotFoundError,
)
from ionq_async.models import JobStatus
from ionq_async.sync import SyncClient

BELL = Circuit(qubits=2).h(0).cnot(0, 1)


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    """An emulator on its own loop in a worker thread, so blocking calls cannot stall it."""
    with (
        start_blocking_portal("asyncio") as portal,
        portal.wrap_async_context_manager(Emulator(config=EmulatorConfig(time_scale=0.0))) as emu,
    ):
        yield emu


@pytest.fixture
def client(server: Any) -> Iterator[SyncClient]:
    with SyncClient(server.api_key, server.url) as sync_client:
        yield sync_client


def test_plain_code_runs_a_circuit_and_gets_counts(client: SyncClient) -> None:
    result = client.run(BELL, shots=1000)
    assert result.bitstring_counts() == {"00": 500, "11": 500}


def test_plain_code_submits_waits_and_reads_the_job(client: SyncClient) -> None:
    job = client.submit(BELL, shots=100, name="sync bell")
    finished = client.wait(job, timeout_s=30)
    assert finished.status is JobStatus.COMPLETED
    assert client.get_job(job.id).name == "sync bell"
    assert client.probabilities(job) == pytest.approx({0: 0.5, 3: 0.5})


def test_backends_and_whoami_answer_without_await(client: SyncClient) -> None:
    names = [backend.backend for backend in client.backends()]
    assert "simulator" in names
    assert client.whoami().key_id


def test_jobs_is_a_blocking_iterator(client: SyncClient) -> None:
    submitted = {client.submit(BELL, shots=10).id for _ in range(3)}
    listed = client.jobs(ids=sorted(submitted))
    assert isinstance(listed, Iterator)
    assert {job.id for job in listed} == submitted


def test_run_many_yields_one_outcome_per_circuit(client: SyncClient) -> None:
    circuits = [Circuit(qubits=n).h(0) for n in range(1, 6)]
    outcomes = list(client.run_many(circuits, shots=100))
    assert sorted(o.index for o in outcomes) == [0, 1, 2, 3, 4]
    assert all(o.ok for o in outcomes)


def test_run_many_reports_a_failed_job_as_a_typed_outcome(client: SyncClient) -> None:
    too_wide = Circuit(qubits=64).h(0).cnot(0, 63)
    [outcome] = list(client.run_many([too_wide], shots=100))
    assert isinstance(outcome.error, JobFailed)
    assert outcome.error.code == "NotEnoughQubits"


def test_breaking_out_of_run_many_stops_the_batch_and_leaves_the_client_usable(
    client: SyncClient,
) -> None:
    circuits = [BELL] * 20
    for _outcome in client.run_many(circuits, shots=10, concurrency=2):
        break
    assert client.run(BELL, shots=10).counts() == {0: 5, 3: 5}


def test_closing_the_client_stops_an_iterator_left_open(server: Any) -> None:
    sync_client = SyncClient(server.api_key, server.url)
    outcomes = sync_client.run_many([BELL] * 10, shots=10, concurrency=1)
    next(outcomes)
    sync_client.close()  # returns although the iterator was neither exhausted nor closed
    assert sync_client.closed
    with pytest.raises(ClientClosedError):
        next(outcomes)


def test_errors_arrive_typed(client: SyncClient) -> None:
    with pytest.raises(NotFoundError):
        client.get_job("00000000-0000-0000-0000-000000000000")


def test_an_iterators_error_is_raised_in_the_caller(client: SyncClient) -> None:
    with pytest.raises(Exception, match="unknown job status"):
        list(client.jobs(status="sleeping"))


def test_calls_work_from_inside_a_running_event_loop(server: Any) -> None:
    # What a Jupyter cell without `await` does: call blocking code while a loop runs.
    async def cell() -> dict[str, int]:
        with SyncClient(server.api_key, server.url) as sync_client:
            return sync_client.run(BELL, shots=100).bitstring_counts()

    assert asyncio.run(cell()) == {"00": 50, "11": 50}


async def test_calls_work_inside_an_async_test(server: Any) -> None:
    with SyncClient(server.api_key, server.url) as sync_client:
        outcomes = list(sync_client.run_many([BELL, BELL], shots=10))
        assert len(outcomes) == 2
        assert sync_client.backends()


def test_the_facade_runs_its_loop_in_another_thread(client: SyncClient) -> None:
    seen: list[int] = []
    list(client.run_many([BELL], shots=10, progress=lambda _: seen.append(threading.get_ident())))
    assert seen
    assert threading.get_ident() not in seen


def test_close_is_idempotent_and_later_calls_raise(server: Any) -> None:
    sync_client = SyncClient(server.api_key, server.url)
    sync_client.close()
    sync_client.close()
    assert sync_client.closed
    with pytest.raises(ClientClosedError):
        sync_client.backends()


def test_the_key_is_not_in_the_repr(server: Any) -> None:
    with SyncClient(server.api_key, server.url) as sync_client:
        assert server.api_key not in repr(sync_client)


# Methods of Client that the facade leaves out, and why.
NOT_MIRRORED = {"aclose": "close() is the blocking counterpart"}


def _public_methods(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_every_client_method_has_a_blocking_twin_with_the_same_parameters() -> None:
    sync_methods = _public_methods(SyncClient)
    for name, method in _public_methods(Client).items():
        if name in NOT_MIRRORED:
            continue
        assert name in sync_methods, f"SyncClient lacks {name}()"
        expected = list(inspect.signature(method).parameters.values())
        actual = list(inspect.signature(sync_methods[name]).parameters.values())
        assert [(p.name, p.kind, p.default) for p in actual] == [
            (p.name, p.kind, p.default) for p in expected
        ], name


def test_the_constructor_takes_the_clients_arguments_but_an_aiohttp_session() -> None:
    client_params = dict(inspect.signature(Client.__init__).parameters)
    del client_params["session"]
    sync_params = dict(inspect.signature(SyncClient.__init__).parameters)
    assert [(p.name, p.default) for p in sync_params.values()] == [
        (p.name, p.default) for p in client_params.values()
    ]


SCRIPT_THAT_NEVER_CLOSES = """
from ionq_async.circuits import Circuit
from ionq_async.emulator import BackgroundEmulator, EmulatorConfig
from ionq_async.sync import SyncClient

with BackgroundEmulator(config=EmulatorConfig(time_scale=0.0)) as emu:
    client = SyncClient(emu.api_key, emu.url)  # never closed, as in many a script
    print(client.run(Circuit(qubits=2).h(0).cnot(0, 1), shots=10).counts(), flush=True)
    for _ in client.run_many([Circuit(qubits=1).h(0)] * 20, shots=10):
        break  # and an iterator left open too
"""


def test_a_script_that_never_closes_its_client_still_exits() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT_THAT_NEVER_CLOSES],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{0: 5, 3: 5}"
    assert done.stderr == ""


def test_a_client_dropped_without_close_stops_its_thread(server: Any) -> None:
    before = set(threading.enumerate())
    sync_client = SyncClient(server.api_key, server.url)
    assert sync_client.backends()
    # The facade's own event loop thread: the one its portal runs calls in.
    portal = sync_client._resources.portal
    assert portal is not None
    own_thread = portal.call(threading.current_thread)
    del portal
    assert own_thread not in before and own_thread is not threading.current_thread()
    assert own_thread.is_alive()
    del sync_client
    gc.collect()
    # Joined, not merely asked to stop (other threads of the process are no concern here).
    assert not own_thread.is_alive()
    assert own_thread not in threading.enumerate()


# -- the notebook trap: a blocking call on the loop that must answer it ------------------


def quick_to_give_up(api_key: str, url: str, *, timeout_s: float = 2.0) -> SyncClient:
    """A SyncClient that would fail after ``timeout_s`` with no retry, not after 93 s.

    Without the check, a call on the loop that serves ``url`` waits for this timeout and
    fails with an IonQTimeoutError that names no cause: the tests fail quickly on such code.
    """
    return SyncClient(api_key, url, timeout_s=timeout_s, retry=RetryPolicy(max_attempts=1))


BLOCKING_CALLS: dict[str, Callable[[SyncClient], object]] = {
    "a call": lambda sync_client: sync_client.backends(),
    "an iterator": lambda sync_client: list(sync_client.jobs()),
}


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
@pytest.mark.parametrize("blocking_call", BLOCKING_CALLS.values(), ids=BLOCKING_CALLS.keys())
async def test_a_blocking_call_to_an_emulator_on_the_callers_own_loop_is_refused_naming_why(
    host: str, blocking_call: Callable[[SyncClient], object]
) -> None:
    # This test's loop plays the notebook kernel's: the emulator was started on it (as with
    # `await emu.start()` in a cell) and the call below blocks it, as a cell without await.
    async with Emulator() as emu:
        url = emu.url.replace("127.0.0.1", host)
        with (
            quick_to_give_up(emu.api_key, url) as sync_client,
            pytest.raises(ConfigurationError) as caught,
        ):
            blocking_call(sync_client)
    message = str(caught.value)
    assert url in message
    assert "`await`" in message and "BackgroundEmulator" in message
    assert emu.api_key not in message
    assert emu.stats.requests_total == 0


async def test_once_the_emulator_stops_a_call_from_its_old_loop_is_no_longer_refused() -> None:
    async with Emulator() as emu:
        pass
    with (
        quick_to_give_up(emu.api_key, emu.url) as sync_client,
        pytest.raises(IonQConnectionError),  # nothing listens: refused by the OS at once
    ):
        sync_client.backends()


async def test_an_emulator_on_another_loop_is_not_mistaken_for_one_on_the_callers(
    server: Any,
) -> None:
    async with Emulator():  # one on this loop too, on another port
        with SyncClient(server.api_key, server.url) as sync_client:
            assert sync_client.backends()


async def test_a_timeout_from_another_local_server_on_the_callers_loop_says_what_to_do() -> None:
    # A server the registry does not know (not the emulator) on this loop cannot be told
    # apart from a slow one in advance: the call times out, and the error says why it may.
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    listener = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    async with listener:
        port = listener.sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}/v0.4"
        with (
            quick_to_give_up("key", url, timeout_s=0.2) as sync_client,
            pytest.raises(IonQTimeoutError) as caught,
        ):
            sync_client.backends()
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert "event loop is running" in notes
    assert "`await`" in notes and "BackgroundEmulator" in notes


def test_the_loop_registry_matches_local_names_and_holds_its_loops_weakly() -> None:
    loop = asyncio.new_event_loop()
    _loop_servers.add_server(loop, "127.0.0.1", 8000)  # and never removed
    assert _loop_servers.serves(loop, "localhost", 8000)
    assert not _loop_servers.serves(loop, "127.0.0.2", 8000)
    assert not _loop_servers.serves(loop, "127.0.0.1", 8001)
    gone = weakref.ref(loop)
    loop.close()
    del loop
    gc.collect()
    assert gone() is None
