"""The leak recorder that ``asyncio_hygiene.no_asyncio_leaks`` relies on sees real leaks."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import Iterator

import aiohttp
import pytest
from asyncio_hygiene import LeakRecorder

# These tests make leaks on purpose, to show that the recorder sees them.
pytestmark = pytest.mark.leaks_on_purpose


@pytest.fixture
def recorder() -> Iterator[LeakRecorder]:
    handler = LeakRecorder()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_a_pending_task_that_is_garbage_collected_is_recorded(recorder: LeakRecorder) -> None:
    loop = asyncio.new_event_loop()

    async def forever() -> None:
        await loop.create_future()

    task = loop.create_task(forever())
    loop.run_until_complete(asyncio.sleep(0))  # the task starts and waits
    loop.close()
    del task
    gc.collect()
    assert "Task was destroyed but it is pending" in recorder.describe()


def test_an_unclosed_aiohttp_session_is_recorded(recorder: LeakRecorder) -> None:
    async def leak() -> None:
        aiohttp.ClientSession()

    with warnings.catch_warnings():
        # aiohttp also warns (an error under this suite's settings); the log is what
        # the fixture adds.
        warnings.simplefilter("ignore", ResourceWarning)
        asyncio.run(leak())
        gc.collect()
    assert "Unclosed client session" in recorder.describe()


def test_ordinary_log_records_are_not_leaks(recorder: LeakRecorder) -> None:
    logging.getLogger("asyncio").warning("Executing <Task ...> took 0.2 seconds")
    logging.getLogger("ionq_async").error("something else went wrong")
    assert recorder.records == []
