"""Helpers shared by the batch engine's tests (scripted fake server and emulator alike)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from aiohttp import web

from ionq_async.batch import BatchProgress

SetPollSchedules = Callable[..., None]
"""The type of the ``poll_schedules`` fixture (tests/conftest.py): a setter of both schedules."""


def when_submitted(count: int) -> tuple[Callable[[BatchProgress], None], anyio.Event]:
    """A progress callback and the event it sets once ``count`` circuits have jobs."""
    event = anyio.Event()

    def progress(state: BatchProgress) -> None:
        if state.submitted >= count:
            event.set()

    return progress, event


def batch_tasks() -> list[asyncio.Task[Any]]:
    """Running tasks whose code is the client's (not the emulator's, not the test's)."""
    found = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        filename = code.co_filename if code is not None else ""
        if "ionq_async" in filename and "emulator" not in filename:
            found.append(task)
    return found


async def settle() -> None:
    """Collect garbage and give finalizers' cancellations a few loop turns."""
    gc.collect()
    for _ in range(10):
        await asyncio.sleep(0)


async def all_batch_tasks_ended() -> None:
    """Wait (30 s at most: a hang fails, it does not block) until no client task runs."""
    with anyio.fail_after(30):
        while tasks := batch_tasks():
            await asyncio.wait(tasks)


async def quiet() -> None:
    """Wait for a point where every other task waits (on a socket, a timer or an event)."""
    with anyio.fail_after(30):
        await anyio.wait_all_tasks_blocked()


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port; yields its ``/v0.4`` base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/v0.4"
    finally:
        await runner.cleanup()
