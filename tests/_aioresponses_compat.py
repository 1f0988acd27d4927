"""aioresponses made to work with this aiohttp: the one shared copy of the workaround.

aioresponses 0.7.9 builds ``aiohttp.ClientResponse`` objects without the ``stream_writer``
argument that aiohttp 3.14 requires, so every mocked answer would crash. ``MockedAPI``
passes a response class that supplies it. Import it (``from _aioresponses_compat import
MockedAPI``) or use the ``mocked_api`` fixture of ``conftest.py``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import aiohttp
from aioresponses import aioresponses
from yarl import URL

__all__ = ["MockedAPI", "MockedResponse"]


class MockedResponse(aiohttp.ClientResponse):
    """A ClientResponse that aioresponses 0.7.9 can build on aiohttp 3.14."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


class MockedAPI(aioresponses):
    """aioresponses with the response class that works on this aiohttp."""

    def add(self, *args: Any, **kwargs: Any) -> None:
        """Register a mocked answer (as aioresponses does), with the working response class."""
        kwargs.setdefault("response_class", MockedResponse)
        super().add(*args, **kwargs)
