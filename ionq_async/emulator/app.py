"""The emulator's HTTP routes (aiohttp.web): IonQ API v0.4 under ``/v0.4``.

Every answer has the API's JSON shape; error bodies are ``{error, message, statusCode}``
(plus ``validation`` on 400, ``errors.py``). What every request goes through first
(counting, latency, keys, faults, the catch-all 500) is ``middleware.py``; reading query
parameters and bodies is ``parsing.py``. Tests post random JSON to prove no route can
answer a bare 500.
"""

from __future__ import annotations

import functools
import json
import math
import uuid
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

import anyio.to_thread
from aiohttp import web

from ionq_async._limits import CIRCUIT_TYPE, MAX_SHOTS

from ._backends import BACKENDS, BackendSpec
from ._validation import BadRequest
from .artifacts import (
    Payload,
    aggregated,
    compiled_form,
    find_artifact,
    has_variants,
    serves_shots,
    v1_json,
    variants_of,
)
from .compiled import LANGS
from .errors import NO_SHOTS, RESULTS_NOT_READY, bad_request, error_response
from .faults import FaultInjector
from .listing import JOB_STATUSES, JobFilter, omit_null_next
from .middleware import ApiMiddleware, drop_connection, identity_of
from .parsing import (
    decode_json,
    parse_aggregation,
    parse_bulk_ids,
    parse_create,
    parse_session,
    query_bool,
    query_date,
    query_int,
)
from .pricing import circuit_price_usd, cost_json, estimate_json, job_cost_usd
from .records import (
    ORGANIZATION_ID,
    PROJECT_ID,
    JobRecord,
    SessionRecord,
    SimulationOutcome,
    has_results,
    submitter_id_for,
)
from .rendering import backend_json, characterizations, job_json, session_json
from .stats import EmulatorStats
from .store import Conflict, JobStore, NotFound

__all__ = ["API_PREFIX", "build_app"]

API_PREFIX: Final = "/v0.4"
_THREAD_PARSE_BYTES: Final = 256 * 1024
_MAX_CHARACTERIZATIONS_PAGE: Final = 10


class _Api:
    """The route handlers, sharing one store, injector and stats."""

    def __init__(self, *, store: JobStore, injector: FaultInjector, stats: EmulatorStats) -> None:
        self.store = store
        self.injector = injector
        self.stats = stats

    # ------------------------------------------------------------------ helpers

    def _submitter(self, request: web.Request) -> str:
        return submitter_id_for(identity_of(request))

    def _job(self, request: web.Request) -> JobRecord:
        return self.store.get(request.match_info["job_id"])

    def _job_json(self, record: JobRecord, *, list_item: bool = False) -> dict[str, Any]:
        state = self.store.state(record)
        return job_json(
            record,
            state,
            self.store.clock(),
            list_item=list_item,
            ideal_shots=self.store.config.ideal_shots,
        )

    async def _json_body(self, request: web.Request, *, required: bool = True) -> Any:
        raw = await request.read()
        if not raw.strip():
            if required:
                raise BadRequest(None, "The request body must be a JSON object.")
            return None
        return decode_json(raw)

    # ------------------------------------------------------------------ backends

    def _backend_json(self, spec: BackendSpec) -> dict[str, Any]:
        queue_s = self.store.queue_estimate_s(spec)
        return backend_json(spec, queue_s=queue_s, now=self.store.clock())

    async def backends(self, request: web.Request) -> web.StreamResponse:
        """GET /backends."""
        return web.json_response([self._backend_json(b) for b in BACKENDS.values()])

    async def backend(self, request: web.Request) -> web.StreamResponse:
        """GET /backends/{backend}."""
        spec = BACKENDS.get(request.match_info["backend"])
        if spec is None:
            return error_response(404)
        return web.json_response(self._backend_json(spec))

    async def characterizations(self, request: web.Request) -> web.StreamResponse:
        """GET /backends/{backend}/characterizations."""
        spec = BACKENDS.get(request.match_info["backend"])
        if spec is None:
            return error_response(404)
        query = request.query
        try:
            limit = query_int(
                query, "limit", default=10, minimum=1, maximum=_MAX_CHARACTERIZATIONS_PAGE
            )
            page = query_int(query, "page", default=1, minimum=1)
            start = query_date(query, "start")
            end = query_date(query, "end")
        except BadRequest as error:
            return bad_request(error)
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
        identity = identity_of(request)
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
                job_request = await anyio.to_thread.run_sync(parse_create, raw, limit)
            else:
                job_request = parse_create(raw, limit)
            record = self.store.create_job(job_request, submitter_id=self._submitter(request))
        except BadRequest as error:
            return bad_request(error)
        except Conflict as error:
            return bad_request(BadRequest(error.key, error.problem))
        self.stats.jobs_created += 1
        if self.injector.drop_after_store():
            self.stats.faults["drop_after"] += 1
            return drop_connection(request)
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
            return bad_request(error)

    async def _list_jobs(self, request: web.Request, session_id: str | None) -> web.StreamResponse:
        query = request.query
        config = self.store.config
        ids: list[str] | None = None
        raw_ids = query.getall("ids", []) + query.getall("ids[]", [])
        if raw_ids:
            ids = [part.strip() for value in raw_ids for part in value.split(",") if part.strip()]
        status = query.get("status")
        if status is not None and status not in JOB_STATUSES:
            raise BadRequest(
                "status", f"must be one of {', '.join(sorted(JOB_STATUSES))}", source="query"
            )
        targets = None
        if query.get("target"):
            targets = [t.strip() for t in query["target"].split(",") if t.strip()]
        if "limit" in query:
            limit = query_int(query, "limit", default=config.default_page_size, minimum=1)
        else:
            limit = await self._body_limit(request, config.default_page_size)
        limit = min(limit, config.max_page_size)
        cursor = query.get("next") or None
        if cursor is not None and not self.store.has_cursor(cursor):
            raise BadRequest("next", "is not a cursor this server gave out", source="query")
        wanted = JobFilter(
            status=status,
            targets=frozenset(targets) if targets else None,
            session_id=session_id if session_id is not None else query.get("session_id"),
            parent_job_id=query.get("parent_job_id"),
            submitter_id=None,
        )
        records, next_cursor = self.store.list_jobs(wanted, ids=ids, limit=limit, cursor=cursor)
        body: dict[str, Any] = {
            "jobs": [self._job_json(r, list_item=True) for r in records],
            "next": next_cursor,
        }
        user_agent = request.headers.get("User-Agent", "")
        if next_cursor is None and omit_null_next(config.null_next, user_agent):
            del body["next"]
        return web.json_response(body)

    async def _body_limit(self, request: web.Request, default: int) -> int:
        # cirq-ionq sends its page size as a JSON body on a GET; honour it.
        if not request.can_read_body:
            return default
        try:
            body = decode_json(await request.read())
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
        return web.json_response(self._job_json(record))

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
            ids = parse_bulk_ids(await self._json_body(request))
        except BadRequest as error:
            return bad_request(error)
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
        return web.json_response(cost_json(record, self.store.state(record)))

    async def estimate(self, request: web.Request) -> web.StreamResponse:
        """GET /jobs/estimate: both the legacy and the newer field sets in one body."""
        try:
            return web.json_response(self._estimate(request.query))
        except BadRequest as error:
            return bad_request(error)

    def _estimate(self, query: Mapping[str, str]) -> dict[str, Any]:
        name = query.get("backend")
        if not name:
            raise BadRequest("backend", "is required", source="query")
        spec = BACKENDS.get(name)
        if spec is None:
            raise BadRequest("backend", f"must be one of {', '.join(BACKENDS)}", source="query")
        job_type = query.get("type") or CIRCUIT_TYPE
        qubits = query_int(query, "qubits", default=25, minimum=1)
        shots = query_int(query, "shots", default=1000, minimum=1, maximum=MAX_SHOTS)
        one = query_int(query, "1q_gates", default=0, minimum=0)
        two = query_int(query, "2q_gates", default=0, minimum=0)
        mitigation = query_bool(query, "error_mitigation")
        price = circuit_price_usd(spec, shots=shots, one_qubit_gates=one, two_qubit_gates=two)
        context = {
            "backend": name,
            "type": job_type,
            "qubits": qubits,
            "shots": shots,
            "1q_gates": one,
            "2q_gates": two,
            "error_mitigation": mitigation,
        }
        return estimate_json(
            spec,
            context,
            cost_usd=job_cost_usd(spec, [price], debiasing=bool(mitigation)),
            now=self.store.clock(),
            run_s=self.store.run_estimate_s(spec),
            queue_s=self.store.queue_estimate_s(spec),
        )

    # ------------------------------------------------------------------ results

    def _outcomes(
        self, request: web.Request
    ) -> tuple[JobRecord, list[tuple[str, SimulationOutcome]]]:
        record = self._job(request)
        return record, self.store.outcomes(record)

    @property
    def _ideal_shots(self) -> str:
        return self.store.config.ideal_shots

    async def _results(
        self,
        request: web.Request,
        render: Callable[[JobRecord, SimulationOutcome], Any],
        *,
        aggregate: bool | None = None,
        needs_shots: bool = False,
    ) -> web.StreamResponse:
        """One result payload; ``aggregate`` None means: keyed by child for parents only.

        ``render`` gets each (child) job's record and outcome. ``needs_shots``: a 404 for
        jobs without per-shot results (``EmulatorConfig.ideal_shots``).
        """
        try:
            record, outcomes = self._outcomes(request)
        except NotFound:
            return error_response(404, RESULTS_NOT_READY)
        keyed = record.is_parent if aggregate is None else aggregate
        records = [self.store.get(job_id) for job_id, _ in outcomes] if keyed else [record]
        if needs_shots and not all(serves_shots(r, self._ideal_shots) for r in records):
            return error_response(404, NO_SHOTS)
        if keyed:
            body: Any = {
                job_id: render(child, outcome)
                for child, (job_id, outcome) in zip(records, outcomes, strict=True)
            }
        else:
            body = render(record, outcomes[0][1])
        large = len(outcomes) > 64 or (not keyed and len(outcomes[0][1].histogram) > 4096)
        return await _json_response(body, large=large)

    async def probabilities(self, request: web.Request) -> web.StreamResponse:
        """GET /jobs/{id}/results/probabilities[?aggregation=...|sharpen=bool]."""
        try:
            method = parse_aggregation(request.query)
        except BadRequest as error:
            return bad_request(error)
        return await self._results(
            request, lambda record, outcome: v1_json(aggregated(record, outcome, method))
        )

    async def aggregated(self, request: web.Request) -> web.StreamResponse:
        """GET /jobs/{id}/results/probabilities/aggregated: keyed by child job id, in order."""
        try:
            method = parse_aggregation(request.query)
        except BadRequest as error:
            return bad_request(error)
        return await self._results(
            request,
            lambda record, outcome: v1_json(aggregated(record, outcome, method)),
            aggregate=True,
        )

    async def histogram(self, request: web.Request) -> web.StreamResponse:
        """GET /jobs/{id}/results/histogram."""
        return await self._results(
            request, lambda _, outcome: v1_json(outcome.histogram), needs_shots=True
        )

    async def shots(self, request: web.Request) -> web.StreamResponse:
        """GET /jobs/{id}/results/shots: one decimal state per shot."""
        return await self._results(request, lambda _, outcome: outcome.shots(), needs_shots=True)

    async def variant_results(self, request: web.Request) -> web.StreamResponse:
        """GET /jobs/{id}/variants/{variant_id}/results/{probabilities|histogram|shots}."""
        kind = request.match_info["kind"]
        if kind not in ("probabilities", "histogram", "shots"):
            return error_response(404)
        try:
            record, outcomes = self._outcomes(request)
        except NotFound:
            return error_response(404, RESULTS_NOT_READY)
        if not has_variants(record):
            return error_response(404)
        wanted = request.match_info["variant_id"]
        for variant in variants_of(record, outcomes[0][1]):
            if variant.id == wanted:
                break
        else:
            return error_response(404)
        body: Any
        if kind == "probabilities":
            body = v1_json(variant.probabilities())
        elif kind == "histogram":
            body = v1_json(variant.histogram())
        else:
            body = list(variant.shot_states)
        return await _json_response(body, large=variant.shots > 4096)

    async def compiled_circuit(self, request: web.Request) -> web.StreamResponse:
        """GET /jobs/{id}/circuits/{lang}: the emulator's compiled form (``compiled.py``)."""
        lang = request.match_info["lang"]
        if lang not in LANGS:
            return bad_request(
                BadRequest("lang", f"must be one of {', '.join(LANGS)}", source="params")
            )
        try:
            record = self._job(request)
        except NotFound:
            return error_response(404)
        # Compiling a large circuit takes a while: keep the loop free.
        payload = await anyio.to_thread.run_sync(
            compiled_form, record, self.store.state(record), lang
        )
        if payload is None:
            return error_response(404)
        return await _payload_response(payload)

    async def artifact(self, request: web.Request) -> web.StreamResponse:
        """GET /jobs/{id}/artifacts/{artifact_id} (the ids: ``artifacts.py``)."""
        artifact_id = request.match_info["artifact_id"]
        try:
            record = self._job(request)
        except NotFound:
            return error_response(404, RESULTS_NOT_READY)
        state = self.store.state(record)
        outcomes = self.store.outcomes(record) if has_results(record, state) else None
        payload = await anyio.to_thread.run_sync(
            functools.partial(
                find_artifact, record, state, outcomes, artifact_id, ideal_shots=self._ideal_shots
            )
        )
        if payload is None:
            if outcomes is None and not artifact_id.startswith("compiled-"):
                return error_response(404, RESULTS_NOT_READY)
            return error_response(404)
        return await _payload_response(payload)

    # ------------------------------------------------------------------ sessions

    def _session_json(self, session: SessionRecord) -> dict[str, Any]:
        return session_json(session, self.store.clock())

    async def create_session(self, request: web.Request) -> web.StreamResponse:
        """POST /sessions."""
        try:
            body = await self._json_body(request)
            fields = parse_session(body)
        except BadRequest as error:
            return bad_request(error)
        session = self.store.create_session(creator_id=self._submitter(request), **fields)
        return web.json_response(self._session_json(session), status=201)

    async def list_sessions(self, request: web.Request) -> web.StreamResponse:
        """GET /sessions[?active=bool]."""
        try:
            active = query_bool(request.query, "active") if "active" in request.query else None
        except BadRequest as error:
            return bad_request(error)
        sessions = [self._session_json(s) for s in self.store.sessions()]
        if active is not None:
            sessions = [s for s in sessions if s["active"] is active]
        return web.json_response({"organization_id": ORGANIZATION_ID, "sessions": sessions})

    async def get_session(self, request: web.Request) -> web.StreamResponse:
        """GET /sessions/{id}."""
        try:
            session = self.store.get_session(request.match_info["session_id"])
        except NotFound:
            return error_response(404)
        return web.json_response(self._session_json(session))

    async def end_session(self, request: web.Request) -> web.StreamResponse:
        """POST /sessions/{id}/end."""
        try:
            session = self.store.end_session(
                request.match_info["session_id"], ender_id=self._submitter(request)
            )
        except NotFound:
            return error_response(404)
        return web.json_response(self._session_json(session))


async def _json_response(body: Any, *, large: bool) -> web.StreamResponse:
    """A JSON answer; a large body is encoded in a worker thread to keep the loop free."""
    if large:
        text = await anyio.to_thread.run_sync(json.dumps, body)
        return web.Response(text=text, content_type="application/json")
    return web.json_response(body)


async def _payload_response(payload: Payload) -> web.StreamResponse:
    """An artifact: JSON, or text with its ``text/*`` content type."""
    if payload.media_type.startswith("text/"):
        return web.Response(text=payload.body, content_type=payload.media_type)
    text = await anyio.to_thread.run_sync(json.dumps, payload.body)
    return web.Response(text=text, content_type=payload.media_type)


def build_app(
    *,
    store: JobStore,
    injector: FaultInjector,
    stats: EmulatorStats,
    api_keys: Collection[str] | None,
) -> web.Application:
    """The aiohttp application serving the API under ``/v0.4``."""
    api = _Api(store=store, injector=injector, stats=stats)
    middleware = ApiMiddleware(injector=injector, stats=stats, api_keys=api_keys)
    app = web.Application(
        middlewares=[middleware.middleware], client_max_size=store.config.max_body_bytes
    )
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
    add(
        "GET",
        f"{p}/jobs/{{job_id}}/variants/{{variant_id}}/results/{{kind}}",
        api.variant_results,
        name="variant_results",
    )
    add("GET", f"{p}/jobs/{{job_id}}/circuits/{{lang}}", api.compiled_circuit, name="circuits")
    add("POST", f"{p}/sessions", api.create_session, name="create_session")
    add("GET", f"{p}/sessions", api.list_sessions, name="list_sessions")
    add("GET", f"{p}/sessions/{{session_id}}", api.get_session, name="get_session")
    add("POST", f"{p}/sessions/{{session_id}}/end", api.end_session, name="end_session")
    add("GET", f"{p}/sessions/{{session_id}}/jobs", api.list_jobs, name="session_jobs")
    return app
