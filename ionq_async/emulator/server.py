"""Running the emulator: in-process (``async with Emulator() as emu``) or in a thread."""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import weakref
from collections.abc import Callable, Collection
from types import TracebackType
from typing import Any, Final

import attrs
from aiohttp import web

from ionq_async import _loop_servers

from .app import API_PREFIX, build_app
from .clock import default_clock
from .config import EmulatorConfig
from .faults import FaultConfig, FaultInjector
from .rendering import job_json
from .stats import EmulatorStats
from .store import JobStore

__all__ = ["BackgroundEmulator", "Emulator"]

_DEFAULT_KEY: Final = "emulator-api-key"
_SHUTDOWN_TIMEOUT_S: Final = 1.0
# Cloudflare, in front of the real API, caps a URL at 16 KB: about 400 job ids in one
# comma-separated `GET /jobs?ids=...` (aiohttp's own default is 8 KB).
MAX_URL_BYTES: Final = 16 * 1024


class Emulator:
    """The offline IonQ API v0.4, served over HTTP on loopback.

    ``async with Emulator() as emu:`` then point a client at ``emu.url`` (which ends in
    ``/v0.4``) with ``emu.api_key``. By default any non-empty key is accepted; pass
    ``api_keys`` to accept only those. ``clock`` (epoch seconds) drives job lifecycles:
    pass a :class:`~ionq_async.emulator.ManualClock` to advance time in tests.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Collection[str] | None = None,
        config: EmulatorConfig | None = None,
        faults: FaultConfig | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if api_keys is not None:
            api_keys = [key for key in api_keys]
            if not api_keys or not all(isinstance(k, str) and k.strip() for k in api_keys):
                raise ValueError("api_keys must hold at least one non-empty key")
        self._host = host
        self._port = port
        self._api_keys = api_keys
        self.config: EmulatorConfig = config or EmulatorConfig()
        self.clock: Callable[[], float] = clock or default_clock
        self.stats = EmulatorStats()
        self.store = JobStore(self.config, self.clock)
        self._injector = FaultInjector(faults or FaultConfig(), self.clock)
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None
        self._closed = False
        # What start() recorded in the loop registry (so a blocking client on this loop
        # can refuse at once instead of waiting on a loop it blocks); aclose() removes it.
        self._registered_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._registered: list[tuple[str, int]] = []

    def __repr__(self) -> str:
        where = self.url if self._bound_port is not None else "not started"
        return f"<Emulator {where}>"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Emulator:
        """Bind the socket and start serving; returns the emulator."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        if self._closed:
            raise RuntimeError("a closed emulator cannot be restarted")
        app = build_app(
            store=self.store, injector=self._injector, stats=self.stats, api_keys=self._api_keys
        )
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
            max_line_size=MAX_URL_BYTES,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self._bound_port = int(address[1])
        self._register_loop(asyncio.get_running_loop(), runner.addresses)
        return self

    def _register_loop(self, loop: asyncio.AbstractEventLoop, addresses: list[Any]) -> None:
        """Record the loop this emulator answers on, for every address it listens on."""
        # The host as given (``localhost``) with the port of ``url``, and every socket as
        # bound (host and port: with port 0, each address of a name gets a port of its own).
        served = {(self._host, self.port)} | {(str(a[0]), int(a[1])) for a in addresses}
        self._registered_loop = weakref.ref(loop)
        for host, port in sorted(served):
            _loop_servers.add_server(loop, host, port)
            self._registered.append((host, port))

    def _unregister_loop(self) -> None:
        registered, self._registered = self._registered, []
        loop = self._registered_loop() if self._registered_loop is not None else None
        self._registered_loop = None
        if loop is None:
            return  # the loop is gone, and its registry entry with it
        for host, port in registered:
            _loop_servers.remove_server(loop, host, port)

    async def aclose(self) -> None:
        """Stop serving and stop the simulation threads; safe to call twice."""
        self._closed = True
        self._unregister_loop()
        runner, self._runner = self._runner, None
        try:
            if runner is not None:
                await runner.cleanup()
        finally:
            self.store.close()

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        """The TCP port it listens on (known once started)."""
        if self._bound_port is None:
            raise RuntimeError("the emulator has not been started")
        return self._bound_port

    @property
    def root_url(self) -> str:
        """``http://host:port`` without the API version path."""
        host = self._host
        try:
            if ipaddress.ip_address(host).version == 6:
                host = f"[{host}]"
        except ValueError:
            pass
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The API base URL, ``http://host:port/v0.4``."""
        return self.root_url + API_PREFIX

    @property
    def api_key(self) -> str:
        """A key the emulator accepts."""
        return self._api_keys[0] if self._api_keys else _DEFAULT_KEY

    # ------------------------------------------------------------------ faults

    @property
    def faults(self) -> FaultConfig:
        """The faults in force."""
        return self._injector.config

    @faults.setter
    def faults(self, value: FaultConfig) -> None:
        self._injector.reconfigure(value)

    def set_faults(self, faults: FaultConfig | None = None, **changes: Any) -> FaultConfig:
        """Replace the faults (``set_faults(FaultConfig(...))``) or change some fields
        (``set_faults(p_429=0.5)``); ``set_faults()`` with nothing clears them all."""
        if faults is None:
            faults = attrs.evolve(self.faults, **changes) if changes else FaultConfig()
        elif changes:
            faults = attrs.evolve(faults, **changes)
        self._injector.reconfigure(faults)
        return faults

    # ------------------------------------------------------------------ inspection

    def jobs(self) -> list[dict[str, Any]]:
        """Every stored job, children included, as ``GET /jobs/{id}`` shows it; oldest first."""
        store = self.store
        return [job_json(r, store.state(r), store.clock()) for r in store.records()]

    def count_jobs_with_metadata(self, key: str, value: str) -> int:
        """How many stored jobs carry ``metadata[key] == value`` (e.g. a client token)."""
        return sum(1 for metadata in self.store.iter_metadata() if metadata.get(key) == value)

    async def wait_for_simulations(self) -> None:
        """Wait until every simulation started so far has finished (results are ready)."""
        await self.store.wait_for_simulations()


class BackgroundEmulator:
    """Runs an :class:`Emulator` on its own event loop in a daemon thread.

    For blocking callers (qiskit-ionq, cirq-ionq, a sync facade): ``with
    BackgroundEmulator(config=...) as emu:`` gives the started Emulator; the keyword
    arguments are Emulator's.
    """

    def __init__(self, *, start_timeout_s: float = 10.0, **emulator_kwargs: Any) -> None:
        self._kwargs = emulator_kwargs
        self._start_timeout_s = start_timeout_s
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._emulator: Emulator | None = None
        self._error: BaseException | None = None

    def __enter__(self) -> Emulator:
        self._thread = threading.Thread(target=self._run, name="ionq-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._start_timeout_s):
            raise RuntimeError("the emulator did not start in time")
        if self._error is not None:
            raise RuntimeError("the emulator failed to start") from self._error
        assert self._emulator is not None
        return self._emulator

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10.0)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported to __enter__ if it happens while starting
            self._error = error
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with Emulator(**self._kwargs) as emulator:
            self._emulator = emulator
            self._ready.set()
            await self._stop.wait()
