"""The emulator's HTTP routes (aiohttp.web): IonQ API v0.4 under ``/v0.4``.

Every answer has the API's JSON shape; error bodies are ``{error, message, statusCode}``
(plus ``validation`` on 400). Nothing a client sends can produce a 500: unexpected
exceptions are caught and answered as the API's generic 500, and tests post random JSON
to prove no such path exists. The random 500/502/503 answers of the fault injector are
the only intended 5xx.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import anyio.to_thread
from aiohttp import web
from attrs import define, field

from ionq_async._converter import format_timestamp
from ionq_async._limits import CIRCUIT_TYPE, MAX_SHOTS

from ._backends import BACKENDS
from ._validation import BadRequest, parse_job_request
from .faults import FaultInjector
from .store import (
    ORGANIZATION_ID,
    PROJECT_ID,
    Conflict,
    JobRecord,
    JobStore,
    NotFound,
    SimulationOutcome,
    characterizations,
    submitter_id_for,
)

__all__ = ["API_PREFIX", "EmulatorStats", "build_app"]

logger = logging.getLogger("ionq_async.emulator")

API_PREFIX: Final = "/v0.4"
_OPEN_ROUTES: Final = frozenset({"backends", "backend", "characterizations"})
_JOB_STATUSES: Final = frozenset(
    {"submitted", "ready", "started", "completed", "failed", "canceled"}
)
_THREAD_PARSE_BYTES: Final = 256 * 1024
_MAX_CHARACTERIZATIONS_PAGE: Final = 10

_MESSAGES: Final[dict[int, tuple[str, str]]] = {
    401: (
        "Unauthorized Error",
        "Invalid key provided. See https://docs.ionq.com/#authentication for details, "
        "or email support@ionq.co for help.",
    ),
    404: (
        "Not Found Error",
        "Resource not found. See https://docs.ionq.com/ for details, "
        "or email support@ionq.co for help.",
    ),
    405: ("Method Not Allowed", "This method is not allowed on this resource."),
    413: ("Payload Too Large", "Request Entity Too Large. The request body may not exceed 10MB."),
    429: (
        "Too Many Requests",
        "Too Many Requests. To get a higher rate limit, please reach out to support@ionq.co",
    ),
    500: (
        "Internal Server Error",
        "Internal service outage. Visit https://status.ionq.co/ to track this incident.",
    ),
    502: (
        "Bad Gateway",
        "Bad Gateway, this can be caused by misbehaving proxies, or by service issues. "
        "These can be retried, and downtime can be found on status.ionq.co",
    ),
    503: (
        "Service Unavailable",
        "Service Unavailable, this is indicative of service outage, please check status.ionq.co",
    ),
}
_RESULTS_NOT_READY: Final = "Job not found or not yet completed."


@define
class EmulatorStats:
    """Counters for tests and benchmarks; ``reset()`` zeroes them."""

    requests_total: int = 0
    requests_by_route: Counter[tuple[str, str]] = field(factory=Counter)
    responses_by_status: Counter[int] = field(factory=Counter)
    faults: Counter[str] = field(factory=Counter)
    jobs_created: int = 0
    dropped_connections: int = 0

    def reset(self) -> None:
        """Zero every counter."""
        self.requests_total = 0
        self.requests_by_route.clear()
        self.responses_by_status.clear()
        self.faults.clear()
        self.jobs_created = 0
        self.dropped_connections = 0

    def requests(self, method: str, route: str) -> int:
        """Requests seen for one route template, e.g. ``("GET", "/v0.4/jobs/{job_id}")``."""
        return self.requests_by_route[(method.upper(), route)]


class _Dropped(web.Response):
    """Marks an answer that was never sent: the connection was closed instead."""


def error_response(
    status: int,
    message: str | None = None,
    *,
    validation: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """The API's error body for ``status``."""
    title, default_message = _MESSAGES.get(status, ("Error", "Request failed."))
    if status == 400:
        title = "Bad Request"
    body: dict[str, Any] = {
        "error": title,
        "message": message if message is not None else default_message,
        "statusCode": status,
    }
    if validation is not None:
        body["validation"] = dict(validation)
    return web.json_response(body, status=status, headers=headers)


def _bad_request(error: BadRequest) -> web.Response:
    return error_response(
        400, error.message, validation={"keys": error.keys, "source": error.source}
    )


def _format_seconds(seconds: float) -> str:
    """A Retry-After value: whole seconds when whole, else up to millisecond precision."""
    if float(seconds).is_integer():
        return str(int(seconds))
    return f"{math.ceil(seconds * 1000) / 1000:.3f}".rstrip("0").rstrip(".")


def key_identity(key: str) -> str:
    """A stable, non-reversible identity for an API key (used for rate limits and ids)."""
    return hashlib.sha256(("ionq-emulator:" + key).encode()).hexdigest()[:32]


_KEY: Final = web.RequestKey("ionq_key_identity", str)


class _Api:
    """The route handlers and the middleware, sharing one store, injector and stats."""

    def __init__(
        self,
        *,
        store: JobStore,
        injector: FaultInjector,
        stats: EmulatorStats,
        api_keys: Collection[str] | None,
    ) -> None:
        self.store = store
        self.injector = injector
        self.stats = stats
        self.api_keys = frozenset(api_keys) if api_keys is not None else None

    # ------------------------------------------------------------------ middleware

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
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
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
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        route_name: str | None,
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
                return self._drop(request)
            headers = None
            if decision.retry_after_s is not None:
                headers = {"Retry-After": _format_seconds(decision.retry_after_s)}
            return error_response(decision.status, headers=headers)
        return await handler(request)

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.close()
        return _Dropped(status=599)

    # ------------------------------------------------------------------ helpers

    def _submitter(self, request: web.Request) -> str:
        return submitter_id_for(request.get(_KEY, "anonymous"))

    def _job(self, request: web.Request) -> JobRecord:
        return self.store.get(request.match_info["job_id"])

    async def _json_body(self, request: web.Request, *, required: bool = True) -> Any:
        raw = await request.read()
        if not raw.strip():
            if required:
                raise BadRequest(None, "The request body must be a JSON object.")
            return None
        return _decode_json(raw)

    # ------------------------------------------------------------------ backends

    async def backends(self, request: web.Request) -> web.StreamResponse:
        """GET /backends."""
        return web.json_response([self.store.backend_json(b) for b in BACKENDS.values()])

    async def backend(self, request: web.Request) -> web.StreamResponse:
        """GET /backends/{backend}."""
        spec = BACKENDS.get(request.match_info["backend"])
        if spec is None:
            return error_response(404)
        return web.json_response(self.store.backend_json(spec))

    async def characterizations(self, request: web.Request) -> web.StreamResponse:
        """GET /backends/{backend}/characterizations."""
        spec = BACKENDS.get(request.match_info["backend"])
        if spec is None:
            return error_response(404)
        query = request.query
        try:
            limit = _query_int(
                query, "limit", default=10, minimum=1, maximum=_MAX_CHARACTERIZATIONS_PAGE
            )
            page = _query_int(query, "page", default=1, minimum=1)
            start = _query_date(query, "start")
            end = _query_date(query, "end")
        except BadRequest as error:
            return _bad_request(error)
        items = characterizations(spec, self.store.clock())
        if start is not None:
            items = [c for c in items if c["date"][:10] >= start]
        if end is not None:
            items = [c for c in items if c["date"][:10] < end]
        pages = max(1, math.ceil(len(items) / limit)) if items else 0
        chunk = items[(page - 1) * limit : page * limit]
        return web.json_response({"characterizations": chunk, "pages": pages})

    async def characterization(self, request: web.Request) -> web.StreamResponse:
        """GET /backends/{backend}/characterizations/{id}."""
        spec = BACKENDS.get(request.match_info["backend"])
        if spec is None:
            return error_response(404)
        wanted = request.match_info["characterization_id"]
        for item in characterizations(spec, self.store.clock()):
            if item["id"] == wanted:
                return web.json_response(item)
        return error_response(404)

    async def whoami(self, request: web.Request) -> web.StreamResponse:
        """GET /whoami."""
        identity = request.get(_KEY, "anonymous")
        return web.json_response(
            {
                "key_id": str(uuid.uuid5(uuid.NAMESPACE_OID, "ionq-emulator-key:" + identity)),
                "key_name": "emulator key",
                "project_id": PROJECT_ID,
            }
        )

    # ------------------------------------------------------------------ jobs

    async def create_job(self, request: web.Request) -> web.StreamResponse:
        """POST /jobs."""
        raw = await request.read()
        limit = self.store.config.qpu_max_shots
        try:
            if len(raw) > _THREAD_PARSE_BYTES:
                # Decoding and checking megabytes of gates takes a while: keep the loop free.
                job_request = await anyio.to_thread.run_sync(_parse_create, raw, limit)
            else:
                job_request = _parse_create(raw, limit)
            record = self.store.create_job(job_request, submitter_id=self._submitter(request))
        except BadRequest as error:
            return _bad_request(error)
        except Conflict as error:
            return _bad_request(BadRequest(error.key, error.problem))
        self.stats.jobs_created += 1
        if self.injector.drop_after_store():
            self.stats.faults["drop_after"] += 1
            return self._drop(request)
        return web.json_response(
            {"id": record.id, "status": "submitted", "session_id": record.session_id},
            status=201,
        )

    async def list_jobs(self, request: web.Request) -> web.StreamResponse:
        """GET /jobs (and GET /sessions/{id}/jobs)."""
        session_id = request.match_info.get("session_id")
        if session_id is not None:
            try:
                self.store.get_session(session_id)
            except NotFound:
                return error_response(404)
        try:
            return await self._list_jobs(request, session_id)
        except BadRequest as error:
            return _bad_request(error)

    async def _list_jobs(self, request: web.Request, session_id: str | None) -> web.StreamResponse:
        query = request.query
        config = self.store.config
        ids: list[str] | None = None
        raw_ids = query.getall("ids", []) + query.getall("ids[]", [])
        if raw_ids:
            ids = [part.strip() for value in raw_ids for part in value.split(",") if part.strip()]
        status = query.get("status")
        if status is not None and status not in _JOB_STATUSES:
            raise BadRequest(
                "status", f"must be one of {', '.join(sorted(_JOB_STATUSES))}", source="query"
            )
        targets = None
        if query.get("target"):
            targets = [t.strip() for t in query["target"].split(",") if t.strip()]
        if "limit" in query:
            limit = _query_int(query, "limit", default=config.default_page_size, minimum=1)
        else:
            limit = await self._body_limit(request, config.default_page_size)
        limit = min(limit, config.max_page_size)
        cursor = query.get("next") or None
        if cursor is not None and not self.store.has_cursor(cursor):
            raise BadRequest("next", "is not a cursor this server gave out", source="query")
        records, next_cursor = self.store.list_jobs(
            ids=ids,
            status=status,
            targets=targets,
            session_id=session_id if session_id is not None else query.get("session_id"),
            parent_job_id=query.get("parent_job_id"),
            submitter_id=None,
            limit=limit,
            cursor=cursor,
        )
        body: dict[str, Any] = {
            "jobs": [self.store.job_json(r, list_item=True) for r in records],
            "next": next_cursor,
        }
        if next_cursor is None and self._omit_null_next(request):
            del body["next"]
        return web.json_response(body)

    def _omit_null_next(self, request: web.Request) -> bool:
        mode = self.store.config.null_next
        if mode == "omit":
            return True
        if mode == "omit-for-cirq":
            return request.headers.get("User-Agent", "").startswith("cirq/")
        return False

    async def _body_limit(self, request: web.Request, default: int) -> int:
        # cirq-ionq sends its page size as a JSON body on a GET; honour it.
        if not request.can_read_body:
            return default
        try:
            body = _decode_json(await request.read())
        except BadRequest:
            return default
        if isinstance(body, dict):
            value = body.get("limit")
            if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                return value
        return default

    async def get_job(self, request: web.Request) -> web.StreamResponse:
        """GET /jobs/{id}."""
        try:
            record = self._job(request)
        except NotFound:
            return error_response(404)
        return web.json_response(self.store.job_json(record))

    async def delete_job(self, request: web.Request) -> web.StreamResponse:
        """DELETE /jobs/{id}."""
        job_id = request.match_info["job_id"]
        try:
            self.store.delete(job_id)
        except NotFound:
            return error_response(404)
        return web.json_response({"id": job_id, "status": "deleted"})

    async def cancel_job(self, request: web.Request) -> web.StreamResponse:
        """PUT /jobs/{id}/status/cancel."""
        job_id = request.match_info["job_id"]
        try:
            status = self.store.cancel(job_id)
        except NotFound:
            return error_response(404)
        return web.json_response({"id": job_id, "status": status})

    async def _bulk_ids(self, request: web.Request) -> list[str]:
        body = await self._json_body(request)
        if not isinstance(body, dict):
            raise BadRequest(None, "The request body must be a JSON object.")
        ids = body.get("ids")
        if not isinstance(ids, list) or not ids:
            raise BadRequest("ids", "must be a non-empty array of job ids")
        for i, value in enumerate(ids):
            if not isinstance(value, str):
                raise BadRequest(f"ids[{i}]", "must be a string")
        return list(dict.fromkeys(ids))

    async def cancel_jobs(self, request: web.Request) -> web.StreamResponse:
        """PUT /jobs/status/cancel with ``{ids}``."""
        return await self._bulk(request, self.store.cancel, "canceled")

    async def delete_jobs(self, request: web.Request) -> web.StreamResponse:
        """DELETE /jobs with ``{ids}``."""
        return await self._bulk(request, self.store.delete, "deleted")

    async def _bulk(
        self, request: web.Request, action: Callable[[str], object], status: str
    ) -> web.StreamResponse:
        """Apply ``action`` to every known job of the ``{ids}`` body; unknown ids are skipped."""
        try:
            ids = await self._bulk_ids(request)
        except BadRequest as error:
            return _bad_request(error)
        done = []
        for job_id in ids:
            try:
                action(job_id)
            except NotFound:
                continue
            done.append(job_id)
        return web.json_response({"ids": done, "status": status})

    async def job_cost(self, request: web.Request) -> web.StreamResponse:
        """GET /jobs/{id}/cost."""
        try:
            record = self._job(request)
        except NotFound:
            return error_response(404)
        return web.json_response(self.store.cost_json(record))

    async def estimate(self, request: web.Request) -> web.StreamResponse:
        """GET /jobs/estimate: both the legacy and the newer field sets in one body."""
        try:
            return web.json_response(self._estimate(request.query))
        except BadRequest as error:
            return _bad_request(error)

    def _estimate(self, query: Mapping[str, str]) -> dict[str, Any]:
        name = query.get("backend")
        if not name:
            raise BadRequest("backend", "is required", source="query")
        spec = BACKENDS.get(name)
        if spec is None:
            raise BadRequest("backend", f"must be one of {', '.join(BACKENDS)}", source="query")
        job_type = query.get("type") or CIRCUIT_TYPE
        qubits = _query_int(query, "qubits", default=25, minimum=1)
        shots = _query_int(query, "shots", default=1000, minimum=1, maximum=MAX_SHOTS)
        one = _query_int(query, "1q_gates", default=0, minimum=0)
        two = _query_int(query, "2q_gates", default=0, minimum=0)
        mitigation = _query_bool(query, "error_mitigation")
        cost = spec.price_usd(shots=shots, one_qubit_gates=one, two_qubit_gates=two)
        if spec.is_qpu:
            cost = max(cost, spec.job_cost_minimum_usd)
        cost = round(cost, 2)
        context = {
            "backend": name,
            "type": job_type,
            "qubits": qubits,
            "shots": shots,
            "1q_gates": one,
            "2q_gates": two,
            "error_mitigation": mitigation,
        }
        now = datetime.fromtimestamp(self.store.clock(), tz=UTC)
        return {
            # The legacy shape (April 2026 docs; read by qiskit-ionq).
            "input_values": context,
            "cost_unit": "usd",
            "rate_information": {
                "job_cost_minimum": spec.job_cost_minimum_usd,
                "cost_2q_gate": spec.cost_2q_gate_usd,
                "cost_1q_gate": spec.cost_1q_gate_usd,
                "organization": ORGANIZATION_ID,
            },
            "estimated_cost": cost,
            # The newer shape (September 2026 spec).
            "estimate_context": {**context, "organization": ORGANIZATION_ID, "project": PROJECT_ID},
            "estimated_unit": "usd",
            "rate_card": {
                "id": f"emulator-{name}",
                "rates": [
                    {
                        "sku": f"{name}-gates",
                        "unit": "gates",
                        "cost_1q_gate": spec.cost_1q_gate_usd,
                        "cost_2q_gate": spec.cost_2q_gate_usd,
                        "job_cost_minimum": spec.job_cost_minimum_usd,
                    }
                ],
            },
            "estimated_total_cost": cost,
            # Shared by both shapes; milliseconds, as the newer spec says.
            "estimated_at": format_timestamp(now),
            "estimated_execution_time": round(self.store.run_estimate_s(spec) * 1000),
            "current_predicted_queue_time": round(self.store.queue_estimate_s(spec) * 1000),
        }

    # ------------------------------------------------------------------ results

    def _outcomes(
        self, request: web.Request
    ) -> tuple[JobRecord, list[tuple[str, SimulationOutcome]]]:
        record = self._job(request)
        return record, self.store.outcomes(record)

    async def _results(
        self,
        request: web.Request,
        render: Callable[[SimulationOutcome], Any],
        *,
        aggregate: bool | None = None,
    ) -> web.StreamResponse:
        """One result payload; ``aggregate`` None means: keyed by child for parents only."""
        try:
            record, outcomes = self._outcomes(request)
        except NotFound:
            return error_response(404, _RESULTS_NOT_READY)
        keyed = record.is_parent if aggregate is None else aggregate
        if keyed:
            body: Any = {job_id: render(outcome) for job_id, outcome in outcomes}
        else:
            body = render(outcomes[0][1])
        if len(outcomes) > 64 or (not keyed and len(outcomes[0][1].histogram) > 4096):
            text = await anyio.to_thread.run_sync(json.dumps, body)
            return web.Response(text=text, content_type="application/json")
        return web.json_response(body)

    async def probabilities(self, request: web.Request) -> web.StreamResponse:
        """GET /jobs/{id}/results/probabilities."""
        return await self._results(request, _probabilities_json)

    async def aggregated(self, request: web.Request) -> web.StreamResponse:
        """GET /jobs/{id}/results/probabilities/aggregated: keyed by child job id, in order."""
        return await self._results(request, _probabilities_json, aggregate=True)

    async def histogram(self, request: web.Request) -> web.StreamResponse:
        """GET /jobs/{id}/results/histogram."""
        return await self._results(request, _histogram_json)

    async def shots(self, request: web.Request) -> web.StreamResponse:
        """GET /jobs/{id}/results/shots: one decimal state per shot."""
        return await self._results(request, lambda outcome: outcome.shots())

    async def artifact(self, request: web.Request) -> web.StreamResponse:
        """GET /jobs/{id}/artifacts/{artifact_id}."""
        artifact = request.match_info["artifact_id"]
        if artifact == "probabilities":
            return await self._results(request, _probabilities_json, aggregate=False)
        if artifact == "probabilities-aggregate":
            return await self._results(request, _probabilities_json, aggregate=True)
        if artifact == "histogram":
            return await self._results(request, _histogram_json, aggregate=False)
        if artifact == "shots":
            return await self._results(request, lambda o: o.shots(), aggregate=False)
        return error_response(404)

    # ------------------------------------------------------------------ sessions

    async def create_session(self, request: web.Request) -> web.StreamResponse:
        """POST /sessions."""
        try:
            body = await self._json_body(request)
            fields = _parse_session(body)
        except BadRequest as error:
            return _bad_request(error)
        session = self.store.create_session(creator_id=self._submitter(request), **fields)
        return web.json_response(self.store.session_json(session), status=201)

    async def list_sessions(self, request: web.Request) -> web.StreamResponse:
        """GET /sessions[?active=bool]."""
        try:
            active = _query_bool(request.query, "active") if "active" in request.query else None
        except BadRequest as error:
            return _bad_request(error)
        sessions = [self.store.session_json(s) for s in self.store.sessions()]
        if active is not None:
            sessions = [s for s in sessions if s["active"] is active]
        return web.json_response({"organization_id": ORGANIZATION_ID, "sessions": sessions})

    async def get_session(self, request: web.Request) -> web.StreamResponse:
        """GET /sessions/{id}."""
        try:
            session = self.store.get_session(request.match_info["session_id"])
        except NotFound:
            return error_response(404)
        return web.json_response(self.store.session_json(session))

    async def end_session(self, request: web.Request) -> web.StreamResponse:
        """POST /sessions/{id}/end."""
        try:
            session = self.store.end_session(
                request.match_info["session_id"], ender_id=self._submitter(request)
            )
        except NotFound:
            return error_response(404)
        return web.json_response(self.store.session_json(session))


# ---------------------------------------------------------------------- pure helpers


def _decode_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadRequest(None, "The request body is not valid JSON.") from None


def _parse_create(raw: bytes, qpu_max_shots: int) -> Any:
    if not raw.strip():
        raise BadRequest(None, "The request body must be a JSON object.")
    try:
        return parse_job_request(_decode_json(raw), qpu_max_shots=qpu_max_shots)
    except RecursionError:
        raise BadRequest("input", "is nested too deeply") from None


def _query_int(
    query: Mapping[str, str], key: str, *, default: int, minimum: int, maximum: int | None = None
) -> int:
    text = query.get(key)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(key, "must be an integer", source="query") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise BadRequest(key, f"must be {bound}", source="query")
    return value


def _query_bool(query: Mapping[str, str], key: str) -> bool:
    text = query.get(key)
    if text is None or text == "":
        return False
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise BadRequest(key, "must be true or false", source="query")


def _query_date(query: Mapping[str, str], key: str) -> str | None:
    text = query.get(key)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        raise BadRequest(key, "must be an ISO date such as 2025-12-31", source="query") from None


def _parse_session(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest(None, "The request body must be a JSON object.")
    backend = body.get("backend")
    if backend is None:
        raise BadRequest("backend", "is required")
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise BadRequest("backend", f"must be one of {', '.join(BACKENDS)}")
    settings = body.get("settings") or {}
    if not isinstance(settings, dict):
        raise BadRequest("settings", "must be an object")
    job_count_limit = settings.get("job_count_limit")
    if job_count_limit is not None and (
        not isinstance(job_count_limit, int)
        or isinstance(job_count_limit, bool)
        or job_count_limit < 1
    ):
        raise BadRequest("settings.job_count_limit", "must be a positive integer")
    duration = settings.get("duration_limit_min")
    if duration is not None and (
        not isinstance(duration, int | float)
        or isinstance(duration, bool)
        or not math.isfinite(duration)
        or duration <= 0
    ):
        raise BadRequest("settings.duration_limit_min", "must be a positive number")
    cost_limit = settings.get("cost_limit")
    if cost_limit is not None:
        if not isinstance(cost_limit, dict):
            raise BadRequest("settings.cost_limit", "must be an object")
        value = cost_limit.get("value")
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise BadRequest("settings.cost_limit.value", "must be a number")
        if not isinstance(cost_limit.get("unit"), str):
            raise BadRequest("settings.cost_limit.unit", "must be a string")
        cost_limit = {"unit": cost_limit["unit"], "value": value}
    return {
        "backend": backend,
        "job_count_limit": job_count_limit,
        "duration_limit_min": duration,
        "cost_limit": cost_limit,
    }


def _probabilities_json(outcome: SimulationOutcome) -> dict[str, float]:
    return {str(state): p for state, p in outcome.probabilities.items()}


def _histogram_json(outcome: SimulationOutcome) -> dict[str, int]:
    return {str(state): count for state, count in outcome.histogram.items()}


def build_app(
    *,
    store: JobStore,
    injector: FaultInjector,
    stats: EmulatorStats,
    api_keys: Collection[str] | None,
) -> web.Application:
    """The aiohttp application serving the API under ``/v0.4``."""
    api = _Api(store=store, injector=injector, stats=stats, api_keys=api_keys)
    app = web.Application(middlewares=[api.middleware], client_max_size=store.config.max_body_bytes)
    p = API_PREFIX
    add = app.router.add_route
    add("GET", f"{p}/backends", api.backends, name="backends")
    add("GET", f"{p}/backends/{{backend}}", api.backend, name="backend")
    add(
        "GET",
        f"{p}/backends/{{backend}}/characterizations",
        api.characterizations,
        name="characterizations",
    )
    add(
        "GET",
        f"{p}/backends/{{backend}}/characterizations/{{characterization_id}}",
        api.characterization,
        name="characterization",
    )
    add("GET", f"{p}/whoami", api.whoami, name="whoami")
    add("POST", f"{p}/jobs", api.create_job, name="create_job")
    add("GET", f"{p}/jobs", api.list_jobs, name="list_jobs")
    add("DELETE", f"{p}/jobs", api.delete_jobs, name="delete_jobs")
    # Fixed paths before /jobs/{job_id}, so "estimate" and "status" are not taken for ids.
    add("GET", f"{p}/jobs/estimate", api.estimate, name="estimate")
    add("PUT", f"{p}/jobs/status/cancel", api.cancel_jobs, name="cancel_jobs")
    add("GET", f"{p}/jobs/{{job_id}}", api.get_job, name="get_job")
    add("DELETE", f"{p}/jobs/{{job_id}}", api.delete_job, name="delete_job")
    add("PUT", f"{p}/jobs/{{job_id}}/status/cancel", api.cancel_job, name="cancel_job")
    add("GET", f"{p}/jobs/{{job_id}}/cost", api.job_cost, name="job_cost")
    add(
        "GET", f"{p}/jobs/{{job_id}}/results/probabilities", api.probabilities, name="probabilities"
    )
    add(
        "GET",
        f"{p}/jobs/{{job_id}}/results/probabilities/aggregated",
        api.aggregated,
        name="aggregated",
    )
    add("GET", f"{p}/jobs/{{job_id}}/results/histogram", api.histogram, name="histogram")
    add("GET", f"{p}/jobs/{{job_id}}/results/shots", api.shots, name="shots")
    add("GET", f"{p}/jobs/{{job_id}}/artifacts/{{artifact_id}}", api.artifact, name="artifact")
    add("POST", f"{p}/sessions", api.create_session, name="create_session")
    add("GET", f"{p}/sessions", api.list_sessions, name="list_sessions")
    add("GET", f"{p}/sessions/{{session_id}}", api.get_session, name="get_session")
    add("POST", f"{p}/sessions/{{session_id}}/end", api.end_session, name="end_session")
    add("GET", f"{p}/sessions/{{session_id}}/jobs", api.list_jobs, name="session_jobs")
    return app
