"""What every request goes through before its route: counting, latency, authentication,
injected faults, and turning any error into the API's JSON.

Nothing a client sends can produce a bare 500: unexpected exceptions are caught and
answered as the API's generic 500 (with a log line). The random 500/502/503 answers of
the fault injector are the only intended 5xx.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Collection
from typing import Final

from aiohttp import web

from .errors import error_response
from .faults import FaultInjector
from .stats import EmulatorStats

__all__ = ["ApiMiddleware", "drop_connection", "identity_of", "key_identity"]

logger = logging.getLogger("ionq_async.emulator")

_OPEN_ROUTES: Final = frozenset({"backends", "backend", "characterizations"})
_KEY: Final = web.RequestKey("ionq_key_identity", str)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Dropped(web.Response):
    """Marks an answer that was never sent: the connection was closed instead."""


def drop_connection(request: web.Request) -> web.StreamResponse:
    """Close the request's connection without answering (a fault)."""
    transport = request.transport
    if transport is not None:
        transport.close()
    return _Dropped(status=599)


def key_identity(key: str) -> str:
    """A stable, non-reversible identity for an API key (used for rate limits and ids)."""
    return hashlib.sha256(("ionq-emulator:" + key).encode()).hexdigest()[:32]


def identity_of(request: web.Request) -> str:
    """The key identity the middleware authenticated (``anonymous`` on open routes)."""
    identity: str = request.get(_KEY, "anonymous")
    return identity


def _format_seconds(seconds: float) -> str:
    """A Retry-After value: whole seconds when whole, else up to millisecond precision."""
    if float(seconds).is_integer():
        return str(int(seconds))
    return f"{math.ceil(seconds * 1000) / 1000:.3f}".rstrip("0").rstrip(".")


class ApiMiddleware:
    """The emulator's one middleware, sharing the fault injector and the stats."""

    def __init__(
        self,
        *,
        injector: FaultInjector,
        stats: EmulatorStats,
        api_keys: Collection[str] | None,
    ) -> None:
        self.injector = injector
        self.stats = stats
        self.api_keys = frozenset(api_keys) if api_keys is not None else None

    def _authenticate(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "apikey" or not key:
            return None
        if self.api_keys is not None and key not in self.api_keys:
            return None
        return key_identity(key)

    @web.middleware
    async def middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Count, delay, authenticate, inject faults, and turn every error into API JSON."""
        stats = self.stats
        stats.requests_total += 1
        route = request.match_info.route
        resource = route.resource
        template = resource.canonical if resource is not None else "<unmatched>"
        stats.requests_by_route[(request.method, template)] += 1
        try:
            response = await self._handle(request, handler, route.name)
        except web.HTTPException as exc:
            response = error_response(exc.status)
        except Exception:  # never a bare 500 page: the API's body, and a log line
            logger.exception("emulator: unexpected error in %s %s", request.method, template)
            response = error_response(500)
        if isinstance(response, _Dropped):
            stats.dropped_connections += 1
        else:
            stats.responses_by_status[response.status] += 1
            response.headers.setdefault("x-request-id", str(uuid.uuid4()))
        return response

    async def _handle(
        self, request: web.Request, handler: _Handler, route_name: str | None
    ) -> web.StreamResponse:
        delay = self.injector.latency_s()
        if delay > 0:
            self.stats.faults["latency"] += 1
            await asyncio.sleep(delay)
        if route_name is None or route_name in _OPEN_ROUTES:
            return await handler(request)
        identity = self._authenticate(request)
        if identity is None:
            return error_response(401)
        request[_KEY] = identity
        decision = self.injector.before_request(identity)
        if decision.kind is not None:
            self.stats.faults[decision.kind] += 1
            if decision.status is None:
                return drop_connection(request)
            headers = None
            if decision.retry_after_s is not None:
                headers = {"Retry-After": _format_seconds(decision.retry_after_s)}
            return error_response(decision.status, headers=headers)
        return await handler(request)
