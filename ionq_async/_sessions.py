"""A session as an async context manager: created on enter, ended on every way out.

::

    async with client.session(backend="qpu.forte-1", max_cost=100, max_jobs=20) as session:
        job = await client.submit(circuit, backend="qpu.forte-1", session_id=session.id)

:class:`SessionScope` creates the session on enter (``POST /sessions``, with ``max_jobs``
and ``max_cost`` as the API's ``job_count_limit`` and ``cost_limit``) and ends it on exit
(``POST /sessions/{id}/end``) whether the body finished, raised or was cancelled: the end
is shielded from the cancellation and bounded by ``end_timeout_s``. If the end fails, the
body's own error (if any) still propagates, with a note naming the session to end by hand;
otherwise the end's error is raised. Written against :class:`SessionAPI` (the two client
calls it needs), never the client.
"""

from __future__ import annotations

import math
from types import TracebackType
from typing import Final, Protocol, Self

import anyio

from .exceptions import ClientClosedError, InvalidRequestError
from .models import Money, Session

__all__ = ["DEFAULT_END_TIMEOUT_S", "SessionAPI", "SessionScope"]

DEFAULT_END_TIMEOUT_S: Final = 30.0
"""How long ending a session may take on the way out (also when cancelled)."""


class SessionAPI(Protocol):
    """The client calls a session scope needs."""

    async def create_session(
        self,
        backend: str,
        *,
        job_count_limit: int | None = None,
        duration_limit_min: float | None = None,
        cost_limit: Money | None = None,
    ) -> Session:
        """``POST /sessions``."""
        ...

    async def end_session(self, session: Session | str) -> Session:
        """``POST /sessions/{id}/end``."""
        ...


def _cost_limit(max_cost: float | Money | None, unit: str) -> Money | None:
    if max_cost is None or isinstance(max_cost, Money):
        return max_cost
    if (
        isinstance(max_cost, bool)
        or not isinstance(max_cost, int | float)
        or not math.isfinite(max_cost)
        or max_cost <= 0
    ):
        raise InvalidRequestError(
            f"max_cost must be a positive number or a Money, got {max_cost!r}"
        )
    return Money(value=float(max_cost), unit=unit)


class SessionScope:
    """One session for the length of an ``async with`` block; ``id`` goes to ``session_id=``.

    ``max_jobs`` and ``max_cost`` (a number in ``currency``, or a :class:`Money`) become the
    session's ``job_count_limit`` and ``cost_limit``; the API then refuses jobs beyond them.
    ``session`` is the created session, ``ended`` the answer to its end. A scope is entered
    once.
    """

    def __init__(
        self,
        api: SessionAPI,
        *,
        backend: str,
        max_cost: float | Money | None = None,
        max_jobs: int | None = None,
        duration_limit_min: float | None = None,
        currency: str = "usd",
        end_timeout_s: float = DEFAULT_END_TIMEOUT_S,
    ) -> None:
        if (
            isinstance(end_timeout_s, bool)
            or not isinstance(end_timeout_s, int | float)
            or not end_timeout_s > 0
        ):
            raise InvalidRequestError(f"end_timeout_s must be > 0, got {end_timeout_s!r}")
        self._api = api
        self.backend = backend
        self.cost_limit = _cost_limit(max_cost, currency)
        self.max_jobs = max_jobs
        self.duration_limit_min = duration_limit_min
        self.end_timeout_s = float(end_timeout_s)
        self.session: Session | None = None
        self.ended: Session | None = None
        self._entered = False

    def __repr__(self) -> str:
        state = "not entered"
        if self.ended is not None:
            state = "ended"
        elif self.session is not None:
            state = "open"
        ident = f" {self.session.id}" if self.session is not None else ""
        return f"<SessionScope{ident} on {self.backend} ({state})>"

    @property
    def id(self) -> str:
        """The session's id (pass it as ``session_id=``); only inside the block."""
        if self.session is None:
            raise ClientClosedError("the session exists only inside its `async with` block")
        return self.session.id

    async def __aenter__(self) -> Self:
        if self._entered:
            raise ClientClosedError("a SessionScope is entered once; make a new one")
        self._entered = True
        # Shielded: a creation cancelled half-way could leave a session open that nobody
        # knows the id of. The transport's timeouts bound it; a cancellation waiting on
        # it is delivered in the block, whose exit ends the session.
        with anyio.CancelScope(shield=True):
            self.session = await self._api.create_session(
                self.backend,
                job_count_limit=self.max_jobs,
                duration_limit_min=self.duration_limit_min,
                cost_limit=self.cost_limit,
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session = self.session
        if session is None:
            return
        try:
            with anyio.CancelScope(shield=True), anyio.fail_after(self.end_timeout_s):
                self.ended = await self._api.end_session(session.id)
        except Exception as error:
            note = (
                f"session {session.id} on {self.backend} may still be open: "
                f"end it with client.end_session({session.id!r})"
            )
            if exc is None:
                error.add_note(note)
                raise
            # The block's own error (or cancellation) is the one to see; the failed end is
            # told on it, never dropped.
            exc.add_note(f"{note} (ending it failed: {error!r})")
