"""A fixture that fails a test when asyncio or aiohttp report a leak through the logger.

``filterwarnings = ["error"]`` catches leaks reported as warnings, but asyncio reports a
garbage-collected pending task ("Task was destroyed but it is pending!"), an exception
nobody retrieved and aiohttp's "Unclosed client session" / "Unclosed connector" through
the event loop's exception handler, which *logs* them on the ``asyncio`` logger. Import
:func:`no_asyncio_leaks` into a test module (``from asyncio_hygiene import
no_asyncio_leaks``) to turn every such record into a test failure.

Its teardown runs after the test's event loop is closed (autouse fixtures are set up
before pytest-asyncio's loop runner, so torn down after it), then collects garbage, so
leaks that only show when objects are finalized are seen by the test that caused them.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator

import pytest

__all__ = ["LEAK_MARKERS", "LeakRecorder", "no_asyncio_leaks"]

LEAK_MARKERS = (
    "Task was destroyed but it is pending",
    "Task exception was never retrieved",
    "Future exception was never retrieved",
    "Unclosed client session",
    "Unclosed connector",
    "Unclosed connection",
    "was never awaited",
    "unhandled exception during asyncio.run() shutdown",
)
"""Substrings of the log messages that mean a task, coroutine or socket leaked."""


class LeakRecorder(logging.Handler):
    """Keeps the log records that report a leak (and every error of the asyncio logger)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep ``record`` if it reports a leak."""
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not format: keep it, it is odd
            message = str(record.msg)
        from_asyncio = record.name == "asyncio" and record.levelno >= logging.ERROR
        if from_asyncio or any(marker in message for marker in LEAK_MARKERS):
            self.records.append(record)

    def describe(self) -> str:
        """The kept records, one per line."""
        return "\n".join(f"{r.name}: {r.getMessage()}" for r in self.records)


@pytest.fixture(autouse=True)
def no_asyncio_leaks(request: pytest.FixtureRequest) -> Iterator[LeakRecorder]:
    """Fail the test if asyncio or aiohttp log a leaked task, coroutine or session.

    A test that leaks on purpose (to test this very recorder) is marked
    ``@pytest.mark.leaks_on_purpose``.
    """
    recorder = LeakRecorder()
    if request.node.get_closest_marker("leaks_on_purpose") is not None:
        yield recorder
        return
    root = logging.getLogger()
    # On the root logger (records of every logger reach it), and on asyncio's own in case
    # something sets it not to propagate.
    asyncio_logger = logging.getLogger("asyncio")
    root.addHandler(recorder)
    asyncio_logger.addHandler(recorder)
    try:
        yield recorder
        gc.collect()
    finally:
        root.removeHandler(recorder)
        asyncio_logger.removeHandler(recorder)
    # A record reaching both handlers is kept twice; say each once.
    unique = list({id(r): r for r in recorder.records}.values())
    recorder.records = unique
    if unique:
        pytest.fail("asyncio reported a leak:\n" + recorder.describe(), pytrace=False)
