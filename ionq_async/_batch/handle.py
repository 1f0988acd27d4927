"""A batch's handle (BatchRun): the supervisor task, its lifetime, and the client's live batches."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from types import TracebackType
from typing import Self

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from .._journal import Journal
from ..exceptions import ClientClosedError, IonQError
from .engine import Engine
from .values import BatchProgress, Outcome

__all__ = ["BatchRun", "LiveBatches"]


class Shared:
    """What the supervisor task and the handle share (never the handle itself)."""

    __slots__ = ("engine", "error", "receive", "task")

    def __init__(self, engine: Engine, receive: MemoryObjectReceiveStream[Outcome]) -> None:
        self.engine = engine
        self.receive = receive
        self.task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None


async def _supervise(shared: Shared) -> None:
    try:
        await shared.engine.run()
    except anyio.get_cancelled_exc_class():
        raise
    except BaseException as error:  # stored and raised to the consumer by the handle
        shared.error = _unwrap_group(error)


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _unwrap_group(error: BaseException) -> BaseException:
    """The one error a consumer should see for a batch's failure.

    Several workers often fail at once for the same reason (a rejected key: every
    creation in flight gets its 401): the consumer gets the first of them, so that
    ``except AuthenticationError`` works, with a note saying how many more there were. A
    group holding anything but IonQErrors (a bug) is passed on whole.
    """
    cancelled = anyio.get_cancelled_exc_class()
    leaves = [leaf for leaf in _leaves(error) if not isinstance(leaf, cancelled)]
    if not leaves:
        return error
    if len(leaves) == 1:
        return leaves[0]
    if all(isinstance(leaf, IonQError) for leaf in leaves):
        first = leaves[0]
        first.add_note(f"{len(leaves) - 1} more request(s) of the batch failed at the same time")
        return first
    return error


def _abandon(shared: Shared) -> None:
    # The consumer dropped the handle without closing it: stop the work. The supervisor
    # cleans up on its own from here (and Client.aclose waits for it).
    task = shared.task
    if task is None:
        shared.engine.send.close()
        shared.receive.close()
        return
    loop = task.get_loop()
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _stop(shared)
        return
    # The garbage collector may run this in any thread; tasks and streams belong to
    # their loop's thread.
    with contextlib.suppress(RuntimeError):  # that loop is closed: nothing runs any more
        loop.call_soon_threadsafe(_stop, shared)


def _stop(shared: Shared) -> None:
    task = shared.task
    if task is not None and not task.done():
        task.cancel()
    shared.receive.close()


async def _await_to_the_end(task: asyncio.Task[None]) -> None:
    """Wait for ``task`` to finish even if we are being cancelled; re-raise that after."""
    cancelled: BaseException | None = None
    with anyio.CancelScope(shield=True):
        while not task.done():
            try:
                await asyncio.wait([task])
            except asyncio.CancelledError as error:
                cancelled = error
    if cancelled is not None:
        raise cancelled


class BatchRun:
    """The outcomes of a batch: an async iterator and an async context manager.

    ``async for outcome in client.run_many(...)`` yields one :class:`Outcome` per circuit
    in completion order. Leaving the loop (``break``, an exception) stops every request of
    the batch as the handle is dropped; so do cancelling the consuming task, ``await
    run.aclose()`` and closing the client (a consumer still iterating then gets
    ClientClosedError). The batch works ahead of its consumer, so a handle kept in a
    variable keeps submitting after a ``break``: keep one only inside ``async with
    client.run_many(...) as run:``, which closes on exit. :attr:`progress` gives the
    counts at any time.
    """

    def __init__(
        self, engine: Engine, receive: MemoryObjectReceiveStream[Outcome], batches: LiveBatches
    ) -> None:
        self._shared = Shared(engine, receive)
        self._batches = batches
        self._closed = False
        self._finalizer = weakref.finalize(self, _abandon, self._shared)

    @property
    def progress(self) -> BatchProgress:
        """Counts of submitted, waiting, completed and failed circuits so far."""
        return self._shared.engine.snapshot()

    @property
    def concurrency(self) -> int:
        """The current limit of job creations in flight.

        ``concurrency`` at first; halved when the server rate-limits the client (429s
        as a real share of its answers), growing back by one per window of successes.
        """
        return self._shared.engine.limiter.slots

    @property
    def job_ids(self) -> dict[int, str]:
        """The job id of every circuit whose job has not finished yet, by circuit index.

        Circuits packed together share their parent's id. After a stop or timeout, these
        are the jobs left running on the server. (A finished circuit's job is its
        outcome's ``job``: the batch keeps nothing of it, so that its memory stays bounded
        whatever the size of its input.)
        """
        ids: dict[int, str] = {}
        for unit in self._shared.engine.units.values():
            if unit.job_id is not None:
                for index in unit.indices:
                    ids[index] = unit.job_id
        return ids

    @property
    def journal(self) -> Journal | None:
        """The batch's journal, once opened."""
        return self._shared.engine.journal

    def _start(self) -> None:
        shared = self._shared
        if shared.task is None:
            # One task the handle owns and always awaits (aclose/__aexit__/cancellation).
            # An anyio task group cannot span the consumer's separate __anext__ calls.
            shared.task = asyncio.get_running_loop().create_task(_supervise(shared))
            self._batches.add(shared)

    async def __aenter__(self) -> Self:
        self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Outcome:
        if self._closed:
            raise StopAsyncIteration
        self._start()
        try:
            return await self._shared.receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            await self.aclose()
            if self._shared.error is not None:
                error = self._shared.error
                # Its own cause (a journal's OSError, aiohttp's error) stays; the end of
                # the stream that brought it here is no part of the story.
                raise error from error.__cause__
            raise StopAsyncIteration from None
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Stop the batch (if still running) and wait until all its work has ended."""
        if self._closed:
            return
        self._closed = True
        self._finalizer.detach()
        task = self._shared.task
        if task is None:
            self._shared.engine.send.close()
        else:
            if not task.done():
                task.cancel()
            await _await_to_the_end(task)
        self._shared.receive.close()


class LiveBatches:
    """The batches of one client still running; the client closes them when it closes."""

    def __init__(self) -> None:
        self._running: set[Shared] = set()

    def add(self, shared: Shared) -> None:
        """A batch's supervisor started; forget it when it ends."""
        self._running.add(shared)
        assert shared.task is not None
        shared.task.add_done_callback(lambda _task: self._running.discard(shared))

    async def aclose(self) -> None:
        """Cancel and await every batch still running (for Client.aclose).

        A consumer still iterating such a batch gets the outcomes already made, then
        ClientClosedError (not a quiet end that would pass for a finished batch).
        """
        batches = list(self._running)
        for shared in batches:
            task = shared.task
            if task is None or task.done():
                continue
            engine = shared.engine
            if shared.error is None and (engine.held or not engine.input_done):
                done = engine.completed + engine.failed
                if engine.total is None:
                    unfinished = f"{len(engine.held)} circuits read and more to read"
                else:
                    unfinished = f"{engine.total - done} of {engine.total} circuits"
                shared.error = ClientClosedError(
                    f"the client was closed while a batch was running ({unfinished} unfinished)"
                )
            task.cancel()
        for shared in batches:
            if shared.task is not None:
                await _await_to_the_end(shared.task)  # raises only if *we* are cancelled
