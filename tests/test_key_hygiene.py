"""Key hygiene end to end: a faulty batch with DEBUG logs and aiohttp tracing never shows the key.

The key is a distinctive string; the tests look for it, and for distinctive parts of it,
in every log record (message, arguments, traceback), the repr and str of every object
the user can get hold of, every exception text and everything chained to it, the batch
journal, the emulator's stored jobs, and the output of the ``ionq-async`` command. The
only place it may appear is the ``Authorization`` header of requests to the API's origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import socket
import traceback
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import anyio
import pytest
from _aioresponses_compat import MockedAPI
from batch_helpers import SetPollSchedules
from hostile_server import HostileServer, RawRequest, exception_texts, response_bytes
from rich.console import Console
from rich.traceback import Traceback as RichTraceback

from ionq_async._retry import RetryPolicy
from ionq_async.batch import Outcome, PollSchedule
from ionq_async.circuits import Circuit
from ionq_async.cli import main
from ionq_async.client import Client
from ionq_async.emulator import BackgroundEmulator, Emulator, EmulatorConfig, FaultConfig
from ionq_async.exceptions import (
    AuthenticationError,
    IonQConnectionError,
    IonQError,
    IonQTimeoutError,
    TransportError,
)

KEY = "sk-test-SECRET-4f1d7b3e9a2c5d8f"
KEY_PARTS = ("SECRET-4f1d", "4f1d7b3e9a2c5d8f", "7b3e9a2c")
WRONG_KEY = "sk-test-WRONG-0b9c8d7e6f5a"
EMULATOR_DEFAULT_KEY = "emulator-api-key"
FAULTS = FaultConfig(
    seed=99,
    p_500=0.05,
    p_502=0.03,
    p_503=0.02,
    p_429=0.05,
    retry_after_s=0.01,
    p_drop_before_store=0.03,
    p_drop_after_store=0.05,
    latency_s=(0.0, 0.002),
)
RETRY = RetryPolicy(
    max_attempts=12, initial_backoff_s=0.001, max_backoff_s=0.01, max_retry_after_s=0.01
)
HANG_GUARD_S = 600.0
"""Only a hang trips this: a loaded CI machine may take minutes over a faulty batch."""


def leaks(text: str, secrets: Iterable[str] = (KEY, *KEY_PARTS)) -> list[str]:
    """The secrets (the key or its parts) found in ``text``."""
    return [secret for secret in secrets if secret in text]


def assert_clean(
    what: str, texts: Iterable[str], secrets: Iterable[str] = (KEY, *KEY_PARTS)
) -> None:
    """No text contains a secret; the failure names where and shows the context."""
    wanted = tuple(secrets)
    for text in texts:
        found = leaks(text, wanted)
        if found:
            at = text.find(found[0])
            raise AssertionError(f"{what}: key found in {text[max(0, at - 120) : at + 60]!r}")


def record_texts(records: Iterable[logging.LogRecord]) -> Iterator[str]:
    """Everything a handler could write for each record: message, args, traceback."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in records:
        yield record.getMessage()
        yield repr(record.args)
        yield repr(record.msg)
        yield formatter.format(record)
        if record.exc_info and record.exc_info[1] is not None:
            yield from exception_texts(record.exc_info[1])
        yield repr(vars(record))


def object_texts(*objects: Any) -> Iterator[str]:
    """repr and str of each object (exceptions: of everything chained to them too)."""
    for obj in objects:
        yield repr(obj)
        yield str(obj)
        if isinstance(obj, BaseException):
            yield from exception_texts(obj)
            yield "".join(traceback.format_exception(obj))


# -- aiohttp tracing: logs what aiohttp reports, and watches where the key goes ------------


class TraceLog:
    """An aiohttp TraceConfig that logs every event at DEBUG and notes Authorization use."""

    def __init__(self) -> None:
        self.logger = logging.getLogger("tests.aiohttp.trace")
        self.authorized_hosts: set[str] = set()
        self.events = 0
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self._request_start)
        self.config.on_request_headers_sent.append(self._headers_sent)
        self.config.on_request_chunk_sent.append(self._chunk_sent)
        self.config.on_response_chunk_received.append(self._chunk_received)
        self.config.on_request_end.append(self._request_end)
        self.config.on_request_exception.append(self._request_exception)
        self.config.on_request_redirect.append(self._redirect)
        self.config.on_connection_create_end.append(self._connection)
        self.config.on_connection_reuseconn.append(self._connection)

    def _note(self, message: str, *args: Any) -> None:
        self.events += 1
        self.logger.debug(message, *args)

    def _headers_without_authorization(self, headers: Any) -> dict[str, str]:
        return {k: v for k, v in headers.items() if k.lower() != "authorization"}

    async def _request_start(self, _s: Any, _c: SimpleNamespace, params: Any) -> None:
        if "Authorization" in params.headers:
            self.authorized_hosts.add(str(params.url.host))
        self._note(
            "start %s %s headers=%s",
            params.method,
            params.url,
            self._headers_without_authorization(params.headers),
        )

    async def _headers_sent(self, _s: Any, _c: SimpleNamespace, params: Any) -> None:
        self._note("headers sent %s %s", params.method, params.url)

    async def _chunk_sent(self, _s: Any, _c: SimpleNamespace, params: Any) -> None:
        self._note("request body %s %s: %r", params.method, params.url, params.chunk[:2000])

    async def _chunk_received(self, _s: Any, _c: SimpleNamespace, params: Any) -> None:
        self._note("response body %s %s: %r", params.method, params.url, params.chunk[:2000])

    async def _request_end(self, _s: Any, _c: SimpleNamespace, params: Any) -> None:
        response = params.response
        self._note(
            "end %s %s -> %s headers=%s",
            params.method,
            params.url,
            response.status,
            dict(response.headers),
        )

    async def _request_exception(self, _s: Any, _c: SimpleNamespace, params: Any) -> None:
        self._note("exception %s %s: %r", params.method, params.url, params.exception)

    async def _redirect(self, _s: Any, _c: SimpleNamespace, params: Any) -> None:
        self._note("redirect %s %s", params.method, params.url)

    async def _connection(self, _s: Any, _c: SimpleNamespace, _params: Any) -> None:
        self._note("connection")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("IONQ_API_URL", raising=False)


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    fast = PollSchedule(initial_s=0.005, factor=1.5, max_s=0.05, jitter=0.1)
    poll_schedules(fast)


def hygiene_circuits() -> list[Any]:
    """Good circuits, an invalid one, one the simulator fails, and an API-form mapping."""
    circuits: list[Any] = [
        Circuit(qubits=3, name=f"good-{i}").x(i % 3).h((i + 1) % 3) for i in range(60)
    ]
    circuits.append({"qubits": 2, "circuit": [{"gate": "cnot", "control": 0, "target": 0}]})
    circuits.append(Circuit(qubits=30, name="too-wide").x(29))
    circuits.append({"qubits": 2, "circuit": [{"gate": "h", "target": 0}]})
    return circuits


# -- the library: a whole batch under faults ---------------------------------------------


async def test_a_faulty_batch_with_debug_logs_and_tracing_never_shows_the_key(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: ours, aiohttp's, asyncio's, all
    trace = TraceLog()
    journal = tmp_path / "batch.journal"
    circuits = hygiene_circuits()
    errors: list[BaseException] = []
    config = EmulatorConfig(time_scale=0.0, max_simulated_qubits=24)
    with anyio.fail_after(HANG_GUARD_S):
        async with (
            Emulator(api_keys=[KEY], config=config, faults=FAULTS) as emu,
            aiohttp.ClientSession(trace_configs=[trace.config]) as session,
        ):
            client = Client(api_key=KEY, base_url=emu.url, retry=RETRY, session=session)
            async with client:
                run = client.run_many(circuits, shots=200, journal=str(journal))
                outcomes: list[Outcome] = [o async for o in run]
                # Single calls too, including ones that fail.
                job = next(o.job for o in outcomes if o.ok and o.job is not None)
                # One dropped connection for certain: how many the seeded faults gave the
                # batch depends on how its requests interleaved (usually 5-10, maybe none).
                emu.set_faults(FaultConfig(p_drop_before_store=1.0))
                with pytest.raises(IonQConnectionError) as dropped:
                    await client.whoami()
                errors.append(dropped.value)
                emu.set_faults()
                details = [
                    await client.get_job(job),
                    await client.result(job),
                    await client.cost(job),
                    await client.whoami(),
                ]
                jobs = [j async for j in client.jobs(page_size=7, limit=30)]
                for call in (
                    lambda: client.get_job("no-such-job"),
                    lambda: client.probabilities("no-such-job"),
                    lambda: client.submit(Circuit(qubits=2).h(0), shots=-1),
                    lambda: client.submit({"qubits": 1, "circuit": [{"gate": "warp"}]}),
                ):
                    try:
                        await call()
                    except IonQError as error:
                        errors.append(error)
                states = (repr(client), str(client), repr(client.stats), repr(client.transport))
            # A client with the wrong key: the 401's text must not show that key either.
            async with Client(api_key=WRONG_KEY, base_url=emu.url, retry=RETRY) as wrong:
                with pytest.raises(AuthenticationError) as refused:
                    await wrong.whoami()
                errors.append(refused.value)
                wrong_states = (repr(wrong), str(wrong), repr(wrong.transport))
            stored = json.dumps(emu.jobs())
            emulator_state = (repr(emu), repr(emu.stats))

    # The batch really ran under faults and produced results and errors.
    assert sorted(o.index for o in outcomes) == list(range(len(circuits)))
    assert sum(o.ok for o in outcomes) == 61
    assert {type(o.error).__name__ for o in outcomes if o.error} == {"CircuitError", "JobFailed"}
    assert sum(emu.stats.faults.values()) > 0 and emu.stats.dropped_connections > 0
    assert len(errors) == 6
    assert trace.events > 0 and caplog.records
    # The key went only where it belongs: in the Authorization header, to the API's host.
    assert trace.authorized_hosts == {"127.0.0.1"}

    assert_clean("log records", record_texts(caplog.records))
    assert_clean("log records (wrong key)", record_texts(caplog.records), (WRONG_KEY,))
    assert_clean("outcomes", object_texts(*outcomes))
    assert_clean(
        "outcome parts",
        object_texts(*(part for o in outcomes for part in (o.job, o.result, o.error))),
    )
    assert_clean("single calls", object_texts(*details, *jobs))
    assert_clean("errors", object_texts(*errors))
    assert_clean("errors (wrong key)", object_texts(*errors), (WRONG_KEY,))
    assert_clean("client state", states)
    assert_clean("wrong client state", wrong_states, (WRONG_KEY, "WRONG-0b9c"))
    assert_clean("emulator", (stored, *emulator_state))
    assert_clean("emulator (wrong key)", (stored, *emulator_state), (WRONG_KEY,))
    assert journal.exists()
    assert_clean("journal", [journal.read_text()])
    captured = capsys.readouterr()
    assert_clean("stdout and stderr", [captured.out, captured.err])


async def test_errors_from_a_failing_connection_do_not_show_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing listens here: connection errors carry aiohttp's own text, scrubbed.
    caplog.set_level(logging.DEBUG)
    async with Client(
        api_key=KEY, base_url="http://127.0.0.1:9/v0.4", retry=RetryPolicy.no_wait(max_attempts=2)
    ) as client:
        with anyio.fail_after(HANG_GUARD_S), pytest.raises(IonQError) as caught:
            await client.whoami()
    assert_clean("connection error", object_texts(caught.value))
    assert_clean("log records", record_texts(caplog.records))


def test_the_checks_would_notice_a_leak() -> None:
    # The detectors themselves: a key in a message, an argument, a chained cause, a note.
    with pytest.raises(AssertionError):
        assert_clean("x", [f"Authorization: apiKey {KEY}"])
    with pytest.raises(AssertionError):
        assert_clean("x", ["...SECRET-4f1d..."])
    record = logging.LogRecord("n", logging.DEBUG, "f", 1, "headers %s", ({"k": KEY},), None)
    with pytest.raises(AssertionError):
        assert_clean("x", record_texts([record]))
    inner = ValueError(f"key {KEY}")
    outer = IonQError("wrapped")
    outer.__cause__ = inner
    with pytest.raises(AssertionError):
        assert_clean("x", object_texts(outer))
    noted = IonQError("plain")
    noted.add_note(KEY)
    with pytest.raises(AssertionError):
        assert_clean("x", object_texts(noted))


# -- tracebacks rendered with their locals, as error reporters do ---------------------------

TRACE_SECRETS = (KEY, *KEY_PARTS, f"apiKey {KEY}", f"Bearer {KEY}")


def chained(error: BaseException) -> list[BaseException]:
    """``error`` and everything chained to it: causes and contexts, suppressed ones too."""
    found: list[BaseException] = []
    pending = [error]
    while pending:
        current = pending.pop()
        if any(current is seen for seen in found):
            continue
        found.append(current)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return found


def rendered_with_locals(error: BaseException) -> Iterator[str]:
    """Tracebacks showing every frame's locals: the standard library's and rich's."""
    for each in chained(error):  # each one, so that suppressed contexts are shown too
        summary = traceback.TracebackException.from_exception(each, capture_locals=True)
        yield "".join(summary.format())
    for max_string in (80, None):  # rich cuts long strings by default: both ways
        buffer = io.StringIO()
        rendering = RichTraceback.from_exception(
            type(error),
            error,
            error.__traceback__,
            show_locals=True,
            locals_max_string=max_string,
            extra_lines=0,
            width=200,
        )
        Console(file=buffer, width=200, color_system=None).print(rendering)
        yield buffer.getvalue()


Failing = Callable[[], contextlib.AbstractAsyncContextManager[tuple[str, dict[str, Any]]]]


@contextlib.asynccontextmanager
async def nothing_listening() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"http://127.0.0.1:{port}/v0.4", {}


@contextlib.asynccontextmanager
async def connect_hangs() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    # A listener that never accepts, its backlog full: the kernel drops further SYNs.
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        for _ in range(8):
            filler = stack.enter_context(socket.socket())
            filler.settimeout(0.2)
            try:
                filler.connect(address)
            except TimeoutError:
                break
        else:
            pytest.skip("this kernel accepts connections beyond a full backlog")
        yield f"http://127.0.0.1:{address[1]}/v0.4", {"connect_timeout_s": 0.2}


def serving(
    scenario: Callable[[RawRequest, asyncio.StreamWriter], Coroutine[Any, Any, None]],
    **options: Any,
) -> Failing:
    @contextlib.asynccontextmanager
    async def failing() -> AsyncIterator[tuple[str, dict[str, Any]]]:
        async with HostileServer(scenario) as server:
            yield server.url, options

    return failing


@contextlib.asynccontextmanager
async def plain_http_for_tls() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    # An https:// client meets a server that answers plain HTTP as soon as it connects.
    async def answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(response_bytes(200, b"{}"))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        yield f"https://127.0.0.1:{port}/v0.4", {}
    finally:
        server.close()
        await server.wait_closed()


async def _stall(_request: RawRequest, _writer: asyncio.StreamWriter) -> None:
    await asyncio.Event().wait()


async def _hang_up(_request: RawRequest, _writer: asyncio.StreamWriter) -> None:
    return None  # the server closes the connection without a word


async def _not_http(_request: RawRequest, writer: asyncio.StreamWriter) -> None:
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")


FAILURES: dict[str, tuple[Failing, type[TransportError]]] = {
    "connection refused": (nothing_listening, IonQConnectionError),
    "connect timeout": (connect_hangs, IonQTimeoutError),
    "read timeout": (serving(_stall, timeout_s=0.3), IonQTimeoutError),
    "dropped connection": (serving(_hang_up), IonQConnectionError),
    "TLS failure": (plain_http_for_tls, IonQConnectionError),
    "not HTTP": (serving(_not_http), IonQConnectionError),
}


@pytest.mark.parametrize("request_kind", ["GET", "POST"])
@pytest.mark.parametrize("failure", list(FAILURES))
async def test_a_traceback_shown_with_its_locals_never_shows_the_key(
    failure: str, request_kind: str
) -> None:
    setup, expected = FAILURES[failure]
    async with setup() as (base_url, options):
        client = Client(api_key=KEY, base_url=base_url, retry=RetryPolicy.never(), **options)
        async with client:
            with anyio.fail_after(HANG_GUARD_S), pytest.raises(expected) as caught:
                if request_kind == "GET":
                    await client.whoami()
                else:
                    await client.submit(Circuit(qubits=1).h(0), shots=10)
    error = caught.value
    assert error.__cause__ is not None  # aiohttp's error stays, for whoever debugs
    assert_clean(f"{failure} traceback", rendered_with_locals(error), TRACE_SECRETS)
    assert_clean(f"{failure} exception", object_texts(error), TRACE_SECRETS)


def _write_head(head: bytes) -> None:
    # As aiohttp's writer does when the peer went away: the serialized head is a local.
    raise aiohttp.ClientConnectionResetError("Cannot write to closing transport")


async def _send_head(head: str) -> None:
    _write_head(head.encode())


def reset_while_writing() -> aiohttp.ClientConnectionResetError:
    """An aiohttp error whose traceback's frames hold the request head, key included."""
    sending = _send_head(f"GET /v0.4/whoami HTTP/1.1\r\nAuthorization: apiKey {KEY}\r\n\r\n")
    try:
        sending.send(None)
    except aiohttp.ClientConnectionResetError as error:
        return error
    raise AssertionError("the send did not fail")


async def test_frames_of_aiohttp_that_hold_the_key_lose_it_but_the_cause_stays(
    mocked_api: MockedAPI,
) -> None:
    reset = reset_while_writing()
    assert leaks("".join(rendered_with_locals(reset)), TRACE_SECRETS)  # the setup leaks
    mocked_api.get("https://api.ionq.co/v0.4/whoami", exception=reset)
    async with Client(api_key=KEY, retry=RetryPolicy.never()) as client:
        with pytest.raises(IonQConnectionError) as caught:
            await client.whoami()
    error = caught.value
    assert error.__cause__ is reset
    assert_clean("traceback", rendered_with_locals(error), TRACE_SECRETS)
    # The frame that held the head as bytes is still shown, without its locals.
    assert "_write_head" in "".join(traceback.format_exception(error))


# -- the command line ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_emulator() -> Iterator[Emulator]:
    """An emulator on its own thread that accepts only KEY, with a few faults."""
    faults = FaultConfig(seed=3, p_500=0.05, p_drop_after_store=0.1, retry_after_s=0.01)
    with BackgroundEmulator(
        api_keys=[KEY], config=EmulatorConfig(time_scale=0.0), faults=faults
    ) as emu:
        yield emu


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """``main(argv)``; the exit code and everything printed to stdout and stderr."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def write_circuits(folder: Path, count: int) -> list[str]:
    paths = []
    for i in range(count):
        path = folder / f"c{i}.json"
        path.write_text(json.dumps({"qubits": 2, "circuit": [{"gate": "h", "target": i % 2}]}))
        paths.append(str(path))
    return paths


def test_cli_commands_with_debug_never_print_the_key(
    cli_emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = cli_emulator.url
    files = write_circuits(tmp_path, 5)
    journal = tmp_path / "cli.journal"
    common = ["--base-url", url, "--api-key", KEY, "--debug", "--retries", "8"]
    runs = [
        run_cli(capsys, *common, "whoami"),
        run_cli(capsys, *common, "--json", "whoami"),
        run_cli(capsys, *common, "run", *files, "--shots", "100", "--journal", str(journal)),
        run_cli(capsys, *common, "--json", "run", files[0], "--shots", "100"),
        run_cli(capsys, *common, "jobs", "--limit", "5"),
        run_cli(capsys, *common, "status", "no-such-job"),
        run_cli(capsys, *common, "result", "no-such-job"),
    ]
    # The key from the environment, and a rejected key: errors with tracebacks.
    monkeypatch.setenv("IONQ_API_KEY", KEY)
    runs.append(run_cli(capsys, "--base-url", url, "--debug", "whoami"))
    monkeypatch.delenv("IONQ_API_KEY")
    runs.append(run_cli(capsys, "--base-url", url, "--api-key", WRONG_KEY, "--debug", "whoami"))
    runs.append(run_cli(capsys, "--base-url", url, "--api-key", KEY, "--debug", "run", "missing"))
    codes = [code for code, _ in runs]
    assert codes[:5] == [0, 0, 0, 0, 0], runs
    assert codes[5] != 0 and codes[6] != 0 and codes[7] == 0 and codes[8] == 3
    assert "Traceback" in runs[8][1]  # --debug did print the traceback of the 401
    assert_clean("command output", [output for _, output in runs])
    assert_clean("command output (wrong key)", [output for _, output in runs], (WRONG_KEY,))
    assert_clean("log records", record_texts(caplog.records))
    assert_clean("journal", [journal.read_text()])


def test_cli_against_the_embedded_emulator_never_prints_its_key(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    files = write_circuits(tmp_path, 3)
    runs = [
        run_cli(capsys, "--emulator", "--debug", "whoami"),
        run_cli(capsys, "--emulator", "--debug", "--json", "whoami"),
        run_cli(capsys, "--emulator", "--debug", "run", *files, "--shots", "50"),
        run_cli(capsys, "--emulator", "--debug", "status", "no-such-job"),
    ]
    assert [code for code, _ in runs][:3] == [0, 0, 0], runs
    secrets = (EMULATOR_DEFAULT_KEY,)
    assert_clean("command output", [output for _, output in runs], secrets)
    assert_clean("log records", record_texts(caplog.records), secrets)
