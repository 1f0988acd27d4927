"""Every emulator route over loopback: happy paths, error answers and their bodies."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import BELL, ApiCaller

from ionq_async.emulator import Emulator
from ionq_async.emulator.pricing import DEBIASING_FACTOR

JOB_FIELDS = {
    "id",
    "status",
    "type",
    "backend",
    "dry_run",
    "submitter_id",
    "project_id",
    "parent_job_id",
    "child_job_ids",
    "session_id",
    "metadata",
    "name",
    "submitted_at",
    "started_at",
    "completed_at",
    "predicted_wait_time_ms",
    "predicted_execution_duration_ms",
    "execution_duration_ms",
    "shots",
    "noise",
    "failure",
    "cost_model",
    "settings",
    "stats",
    "output",
    "results",
}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
NOT_FOUND = {
    "error": "Not Found Error",
    "message": "Resource not found. See https://docs.ionq.com/ for details, "
    "or email support@ionq.co for help.",
    "statusCode": 404,
}
NOT_READY = {
    "error": "Not Found Error",
    "message": "Job not found or not yet completed.",
    "statusCode": 404,
}
UNAUTHORIZED = {
    "error": "Unauthorized Error",
    "message": "Invalid key provided. See https://docs.ionq.com/#authentication for details, "
    "or email support@ionq.co for help.",
    "statusCode": 401,
}
GHZ3 = {
    "qubits": 3,
    "circuit": [
        {"gate": "h", "targets": [0]},
        {"gate": "x", "targets": [1], "controls": [0]},
        {"gate": "cnot", "control": 1, "target": 2},
    ],
}
UNKNOWN_ID = "00000000-0000-7000-8000-000000000000"


async def completed(api: ApiCaller, **payload: Any) -> str:
    """Submit a job and wait (without sleeping) until its simulation is done."""
    job_id = await api.submit(**payload)
    await api.emulator.wait_for_simulations()
    return job_id


@pytest.fixture
async def instant(http: Any) -> Any:
    """An emulator whose jobs complete as soon as their simulation does."""
    from ionq_async.emulator import EmulatorConfig

    async with Emulator(config=EmulatorConfig(time_scale=0.0)) as emu:
        yield ApiCaller(emu, http)


# ----------------------------------------------------------------------------- backends


async def test_backends_are_listed_without_a_key(api: ApiCaller) -> None:
    status, body, _ = await api.get("/backends", key=False)
    assert status == 200
    names = [b["backend"] for b in body]
    assert names == ["simulator", "qpu.aria-1", "qpu.forte-1", "qpu.forte-enterprise-1"]
    for backend in body:
        assert backend["status"] == "available"
        assert isinstance(backend["qubits"], int) and backend["qubits"] > 0
        assert isinstance(backend["average_queue_time"], int)
        assert TIMESTAMP.match(backend["last_updated"])


async def test_one_backend_is_served_without_a_key(api: ApiCaller) -> None:
    status, body, _ = await api.get("/backends/qpu.forte-1", key=False)
    assert status == 200
    assert body["backend"] == "qpu.forte-1" and body["qubits"] == 36
    assert body["degraded"] is False


async def test_forte_enterprise_omits_degraded_as_the_live_api_does(api: ApiCaller) -> None:
    _, body, _ = await api.get("/backends/qpu.forte-enterprise-1", key=False)
    assert "degraded" not in body


async def test_unknown_backend_is_404(api: ApiCaller) -> None:
    status, body, _ = await api.get("/backends/qpu.qpu", key=False)
    assert (status, body) == (404, NOT_FOUND)


async def test_characterizations_page_and_fetch_by_id(api: ApiCaller) -> None:
    status, body, _ = await api.get("/backends/qpu.aria-1/characterizations", key=False)
    assert status == 200
    assert body["pages"] == 1 and len(body["characterizations"]) == 3
    first = body["characterizations"][0]
    assert first["backend"] == "qpu.aria-1" and first["qubits"] == 25
    assert {"connectivity", "fidelity", "timing", "date", "id"} <= set(first)
    status, paged, _ = await api.get(
        "/backends/qpu.aria-1/characterizations", params={"limit": 2, "page": 2}, key=False
    )
    assert status == 200 and paged["pages"] == 2 and len(paged["characterizations"]) == 1
    status, one, _ = await api.get(f"/backends/qpu.aria-1/characterizations/{first['id']}")
    assert (status, one) == (200, first)


async def test_characterization_limit_out_of_range_is_400_naming_it(api: ApiCaller) -> None:
    status, body, _ = await api.get(
        "/backends/qpu.aria-1/characterizations", params={"limit": 11}, key=False
    )
    assert status == 400
    assert body["validation"] == {"keys": ["limit"], "source": "query"}


async def test_unknown_characterization_is_404(api: ApiCaller) -> None:
    status, body, _ = await api.get(f"/backends/qpu.aria-1/characterizations/{UNKNOWN_ID}")
    assert (status, body) == (404, NOT_FOUND)


async def test_backend_qubit_counts_match_the_reference(api: ApiCaller) -> None:
    _, body, _ = await api.get("/backends", key=False)
    assert {b["backend"]: b["qubits"] for b in body} == {
        "simulator": 29,
        "qpu.aria-1": 25,
        "qpu.forte-1": 36,
        "qpu.forte-enterprise-1": 36,
    }


# ----------------------------------------------------------------------------- auth


PROTECTED = [
    ("GET", "/whoami"),
    ("GET", f"/backends/qpu.aria-1/characterizations/{UNKNOWN_ID}"),
    ("POST", "/jobs"),
    ("GET", "/jobs"),
    ("DELETE", "/jobs"),
    ("GET", "/jobs/estimate?backend=simulator"),
    ("PUT", "/jobs/status/cancel"),
    ("GET", f"/jobs/{UNKNOWN_ID}"),
    ("DELETE", f"/jobs/{UNKNOWN_ID}"),
    ("PUT", f"/jobs/{UNKNOWN_ID}/status/cancel"),
    ("GET", f"/jobs/{UNKNOWN_ID}/cost"),
    ("GET", f"/jobs/{UNKNOWN_ID}/results/probabilities"),
    ("GET", f"/jobs/{UNKNOWN_ID}/results/probabilities/aggregated"),
    ("GET", f"/jobs/{UNKNOWN_ID}/results/histogram"),
    ("GET", f"/jobs/{UNKNOWN_ID}/results/shots"),
    ("GET", f"/jobs/{UNKNOWN_ID}/artifacts/probabilities"),
    ("POST", "/sessions"),
    ("GET", "/sessions"),
    ("GET", f"/sessions/{UNKNOWN_ID}"),
    ("POST", f"/sessions/{UNKNOWN_ID}/end"),
    ("GET", f"/sessions/{UNKNOWN_ID}/jobs"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize("authorization", [None, "apiKey ", "Bearer some-key", "some-key"], ids=str)
async def test_protected_routes_answer_401_without_a_valid_key(
    api: ApiCaller, method: str, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    status, body, _ = await api.call(method, path, key=False, headers=headers)
    assert (status, body) == (401, UNAUTHORIZED)


async def test_only_configured_keys_are_accepted(http: Any) -> None:
    async with Emulator(api_keys=["right-key"]) as emu:
        api = ApiCaller(emu, http)
        assert emu.api_key == "right-key"
        assert (await api.get("/whoami", key="wrong-key"))[0] == 401
        assert (await api.get("/whoami", key="right-key"))[0] == 200


async def test_any_non_empty_key_is_accepted_by_default(api: ApiCaller) -> None:
    status, body, _ = await api.get("/whoami", key="anything-at-all")
    assert status == 200
    assert set(body) == {"key_id", "key_name", "project_id"}


async def test_whoami_is_stable_per_key_and_differs_between_keys(api: ApiCaller) -> None:
    _, one, _ = await api.get("/whoami", key="key-one")
    _, again, _ = await api.get("/whoami", key="key-one")
    _, two, _ = await api.get("/whoami", key="key-two")
    assert one == again and one["key_id"] != two["key_id"]
    assert "key-one" not in str(one)


# ----------------------------------------------------------------------------- jobs


async def test_create_answers_201_with_id_status_and_session(api: ApiCaller) -> None:
    status, body, _ = await api.post(
        "/jobs", json={"type": "ionq.circuit.v1", "backend": "simulator", "input": BELL}
    )
    assert status == 201
    assert set(body) == {"id", "status", "session_id"}
    assert body["status"] == "submitted" and body["session_id"] is None


async def test_job_has_every_documented_field(instant: ApiCaller) -> None:
    job_id = await completed(instant, metadata={"k": "v"}, name="bell", shots=1000)
    status, job, _ = await instant.get(f"/jobs/{job_id}")
    assert status == 200
    assert set(job) == JOB_FIELDS
    assert job["status"] == "completed" and job["name"] == "bell"
    for key in ("submitted_at", "started_at", "completed_at"):
        assert TIMESTAMP.match(job[key]), key
    assert isinstance(job["output"], dict) and isinstance(job["settings"], dict)
    assert job["stats"] == {"qubits": 2, "circuits": 1, "gate_counts": {"1q": 1, "2q": 1}}
    assert job["failure"] is None and job["child_job_ids"] is None
    assert job["noise"] == {"model": "ideal"}


async def test_completed_job_results_carry_both_generations(instant: ApiCaller) -> None:
    job_id = await completed(instant)
    _, job, _ = await instant.get(f"/jobs/{job_id}")
    results = job["results"]
    assert results["probabilities"] == {"url": f"/v0.4/jobs/{job_id}/results/probabilities"}
    assert results["histogram"] == {"url": f"/v0.4/jobs/{job_id}/results/histogram"}
    assert results["shots"] == {"url": f"/v0.4/jobs/{job_id}/results/shots"}
    assert results["ionq.result.probabilities.json.v1"] == {
        "id": "probabilities",
        "format": "ionq.result.probabilities.json.v1",
        "media_type": "application/json",
    }


async def test_metadata_is_echoed_exactly(instant: ApiCaller) -> None:
    metadata = {"shots": "1000", "measurement0": "m\u001f0,1", "qiskit_header": "H4sI" + "A" * 500}
    job_id = await completed(instant, metadata=metadata)
    _, job, _ = await instant.get(f"/jobs/{job_id}")
    assert job["metadata"] == metadata


async def test_job_without_metadata_reports_null(instant: ApiCaller) -> None:
    job_id = await completed(instant)
    _, job, _ = await instant.get(f"/jobs/{job_id}")
    assert job["metadata"] is None


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("DELETE", ""), ("PUT", "/status/cancel"), ("GET", "/cost")],
)
async def test_unknown_job_is_404(api: ApiCaller, method: str, suffix: str) -> None:
    status, body, _ = await api.call(method, f"/jobs/{UNKNOWN_ID}{suffix}")
    assert (status, body) == (404, NOT_FOUND)


@pytest.mark.parametrize(
    "suffix",
    [
        "results/probabilities",
        "results/probabilities/aggregated",
        "results/histogram",
        "results/shots",
        "artifacts/probabilities",
    ],
)
async def test_results_of_an_unknown_job_are_404(api: ApiCaller, suffix: str) -> None:
    status, body, _ = await api.get(f"/jobs/{UNKNOWN_ID}/{suffix}")
    assert (status, body) == (404, NOT_READY)


async def test_results_before_completion_are_404_not_ready(manual_api: ApiCaller) -> None:
    job_id = await manual_api.submit()
    status, body, _ = await manual_api.get(f"/jobs/{job_id}/results/probabilities")
    assert (status, body) == (404, NOT_READY)


# ----------------------------------------------------------------------------- simulation


async def test_bell_probabilities_are_exact(instant: ApiCaller) -> None:
    job_id = await completed(instant)
    status, body, _ = await instant.get(f"/jobs/{job_id}/results/probabilities")
    assert (status, body) == (200, {"0": 0.5, "3": 0.5})


async def test_ghz_probabilities_in_qiskit_style_input(instant: ApiCaller) -> None:
    job_id = await completed(instant, input=GHZ3)
    _, body, _ = await instant.get(f"/jobs/{job_id}/results/probabilities")
    assert body == {"0": 0.5, "7": 0.5}


async def test_qubit_zero_is_the_least_significant_bit(instant: ApiCaller) -> None:
    job_id = await completed(instant, input={"qubits": 2, "circuit": [{"gate": "x", "target": 1}]})
    _, body, _ = await instant.get(f"/jobs/{job_id}/results/probabilities")
    assert body == {"2": 1.0}


async def test_histogram_and_shots_agree_with_ideal_probabilities(instant: ApiCaller) -> None:
    job_id = await completed(instant, shots=1000)
    _, histogram, _ = await instant.get(f"/jobs/{job_id}/results/histogram")
    _, shots, _ = await instant.get(f"/jobs/{job_id}/results/shots")
    assert histogram == {"0": 500, "3": 500}
    assert len(shots) == 1000 and sorted(set(shots)) == [0, 3]
    assert shots.count(0) == 500


async def test_noise_model_results_are_shot_based_and_seeded(instant: ApiCaller) -> None:
    noise = {"model": "aria-1", "seed": 7}
    first = await completed(instant, shots=2000, noise=noise)
    second = await completed(instant, shots=2000, noise=noise)
    _, probabilities, _ = await instant.get(f"/jobs/{first}/results/probabilities")
    _, histogram, _ = await instant.get(f"/jobs/{first}/results/histogram")
    _, again, _ = await instant.get(f"/jobs/{second}/results/histogram")
    assert sum(histogram.values()) == 2000
    assert histogram == again
    assert probabilities == {k: v / 2000 for k, v in histogram.items()}
    # Depolarizing noise leaks a little weight outside the Bell outcomes.
    assert histogram["0"] + histogram["3"] > 1800


async def test_qpu_results_are_shot_based(instant: ApiCaller) -> None:
    job_id = await completed(instant, backend="qpu.forte-1", shots=500)
    _, job, _ = await instant.get(f"/jobs/{job_id}")
    _, histogram, _ = await instant.get(f"/jobs/{job_id}/results/histogram")
    _, probabilities, _ = await instant.get(f"/jobs/{job_id}/results/probabilities")
    assert job["status"] == "completed" and "noise" not in job
    assert sum(histogram.values()) == 500
    assert probabilities == {k: v / 500 for k, v in histogram.items()}


async def test_artifacts_serve_the_result_payloads(instant: ApiCaller) -> None:
    job_id = await completed(instant)
    _, probabilities, _ = await instant.get(f"/jobs/{job_id}/artifacts/probabilities")
    _, histogram, _ = await instant.get(f"/jobs/{job_id}/artifacts/histogram")
    status, body, _ = await instant.get(f"/jobs/{job_id}/artifacts/nonsense")
    assert probabilities == {"0": 0.5, "3": 0.5}
    assert histogram == {"0": 50, "3": 50}
    assert (status, body) == (404, NOT_FOUND)


async def test_native_gates_simulate(instant: ApiCaller) -> None:
    native = {
        "gateset": "native",
        "qubits": 1,
        "circuit": [{"gate": "gpi", "target": 0, "phase": 0}],
    }
    job_id = await completed(instant, input=native)
    _, body, _ = await instant.get(f"/jobs/{job_id}/results/probabilities")
    assert body == {"1": 1.0}


# ----------------------------------------------------------------------------- cost, estimate


async def test_simulator_jobs_cost_nothing(instant: ApiCaller) -> None:
    job_id = await completed(instant)
    status, body, _ = await instant.get(f"/jobs/{job_id}/cost")
    assert status == 200
    assert body == {
        "dry_run": False,
        "estimated_cost": {"value": 0.0, "unit": "usd"},
        "cost": {"value": 0.0, "unit": "usd"},
    }


async def test_qpu_jobs_cost_at_least_the_minimum(instant: ApiCaller) -> None:
    job_id = await completed(instant, backend="qpu.aria-1", shots=1000)
    _, body, _ = await instant.get(f"/jobs/{job_id}/cost")
    assert body["estimated_cost"] == {"value": 97.5, "unit": "usd"}
    assert body["cost"] == body["estimated_cost"]


async def test_qpu_cost_grows_with_gates_and_shots(instant: ApiCaller) -> None:
    wide = {"qubits": 2, "circuit": [{"gate": "cnot", "control": 0, "target": 1}] * 100}
    job_id = await completed(instant, backend="qpu.forte-1", shots=10000, input=wide)
    _, body, _ = await instant.get(f"/jobs/{job_id}/cost")
    assert body["estimated_cost"]["value"] == pytest.approx(10000 * 100 * 0.0023)


async def test_estimate_answers_both_shapes(api: ApiCaller) -> None:
    status, body, _ = await api.get(
        "/jobs/estimate",
        params={
            "backend": "qpu.forte-1",
            "shots": "1000",
            "1q_gates": "10",
            "2q_gates": "5000",
            "error_mitigation": "true",
            "session": "false",
        },
    )
    assert status == 200
    legacy = {
        "input_values",
        "estimated_at",
        "cost_unit",
        "rate_information",
        "estimated_cost",
        "estimated_execution_time",
        "current_predicted_queue_time",
    }
    newer = {"estimate_context", "estimated_unit", "rate_card", "estimated_total_cost"}
    assert legacy | newer <= set(body)
    assert body["input_values"]["1q_gates"] == 10 and body["input_values"]["2q_gates"] == 5000
    assert body["input_values"]["error_mitigation"] is True
    assert (
        body["estimated_cost"]
        == body["estimated_total_cost"]
        == pytest.approx(1000 * (10 * 0.00028 + 5000 * 0.0023) * DEBIASING_FACTOR, abs=0.01)
    )
    assert body["estimate_context"]["qubits"] == 25


async def test_estimate_needs_a_backend(api: ApiCaller) -> None:
    status, body, _ = await api.get("/jobs/estimate")
    assert status == 400
    assert body["validation"] == {"keys": ["backend"], "source": "query"}


async def test_estimate_rejects_bad_shots(api: ApiCaller) -> None:
    status, body, _ = await api.get("/jobs/estimate", params={"backend": "simulator", "shots": "0"})
    assert status == 400 and body["validation"]["keys"] == ["shots"]


# ----------------------------------------------------------------------------- listing


async def submit_many(api: ApiCaller, count: int, **payload: Any) -> list[str]:
    return [await api.submit(name=f"job-{i}", **payload) for i in range(count)]


async def test_list_is_newest_first_and_pages_with_next(api: ApiCaller) -> None:
    ids = await submit_many(api, 5)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["next"] = cursor
        status, body, _ = await api.get("/jobs", params=params)
        assert status == 200
        pages += 1
        seen.extend(job["id"] for job in body["jobs"])
        cursor = body["next"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(ids))


async def test_list_items_omit_child_job_ids(api: ApiCaller) -> None:
    await api.submit()
    _, body, _ = await api.get("/jobs")
    assert set(body["jobs"][0]) == JOB_FIELDS - {"child_job_ids"}


async def test_ids_filter_accepts_repeated_parameters(api: ApiCaller) -> None:
    ids = await submit_many(api, 4)
    _, body, _ = await api.get("/jobs", params=[("ids", ids[0]), ("ids", ids[2])])
    assert [job["id"] for job in body["jobs"]] == [ids[2], ids[0]]


async def test_ids_filter_accepts_a_comma_separated_list(api: ApiCaller) -> None:
    ids = await submit_many(api, 4)
    _, body, _ = await api.get("/jobs", params={"ids": f"{ids[1]},{ids[3]},{UNKNOWN_ID}"})
    assert [job["id"] for job in body["jobs"]] == [ids[3], ids[1]]


async def test_one_list_call_returns_hundreds_of_ids(api: ApiCaller) -> None:
    ids = await submit_many(api, 300)
    _, body, _ = await api.get("/jobs", params={"ids": ",".join(ids), "limit": 1000})
    assert len(body["jobs"]) == 300 and body["next"] is None


async def test_status_and_target_filters(instant: ApiCaller) -> None:
    await completed(instant)
    qpu = await instant.submit(backend="qpu.aria-1", dry_run=True)
    _, body, _ = await instant.get("/jobs", params={"target": "qpu.aria-1,qpu.forte-1"})
    assert [job["id"] for job in body["jobs"]] == [qpu]
    await instant.emulator.wait_for_simulations()
    _, body, _ = await instant.get("/jobs", params={"status": "completed"})
    assert len(body["jobs"]) == 2


async def test_limit_defaults_to_25_and_is_capped_at_1000(api: ApiCaller) -> None:
    await submit_many(api, 30)
    _, body, _ = await api.get("/jobs")
    assert len(body["jobs"]) == 25 and body["next"] is not None
    status, body, _ = await api.get("/jobs", params={"limit": 100000})
    assert status == 200 and len(body["jobs"]) == 30


@pytest.mark.parametrize(
    ("key", "value"),
    [("limit", "0"), ("limit", "many"), ("status", "running"), ("next", "not-a-cursor")],
)
async def test_bad_list_parameters_are_400_naming_them(
    api: ApiCaller, key: str, value: str
) -> None:
    status, body, _ = await api.get("/jobs", params={key: value})
    assert status == 400
    assert body["validation"] == {"keys": [key], "source": "query"}
    assert body["message"].startswith(f'"{key}" was invalid')


async def test_cirq_gets_no_next_key_on_the_last_page(api: ApiCaller) -> None:
    await api.submit()
    _, body, _ = await api.get("/jobs", headers={"User-Agent": "cirq/1.7.0 (python/3.11.7)"})
    assert "next" not in body
    _, body, _ = await api.get("/jobs")
    assert body["next"] is None


async def test_a_json_body_limit_on_get_is_honoured_for_cirq(api: ApiCaller) -> None:
    await submit_many(api, 3)
    _, body, _ = await api.get("/jobs", json={"limit": 2})
    assert len(body["jobs"]) == 2


# ----------------------------------------------------------------------------- cancel, delete


async def test_cancel_a_queued_job(manual_api: ApiCaller) -> None:
    job_id = await manual_api.submit()
    status, body, _ = await manual_api.put(f"/jobs/{job_id}/status/cancel")
    assert (status, body) == (200, {"id": job_id, "status": "canceled"})
    _, job, _ = await manual_api.get(f"/jobs/{job_id}")
    assert job["status"] == "canceled" and job["results"] is None
    assert job["started_at"] is None and job["completed_at"] is not None


async def test_delete_then_404(instant: ApiCaller) -> None:
    job_id = await completed(instant)
    status, body, _ = await instant.delete(f"/jobs/{job_id}")
    assert (status, body) == (200, {"id": job_id, "status": "deleted"})
    assert (await instant.get(f"/jobs/{job_id}"))[0] == 404
    assert (await instant.get(f"/jobs/{job_id}/results/probabilities"))[0] == 404


async def test_bulk_cancel_and_delete(manual_api: ApiCaller) -> None:
    ids = await submit_many(manual_api, 3)
    status, body, _ = await manual_api.put("/jobs/status/cancel", json={"ids": ids[:2]})
    assert (status, body) == (200, {"ids": ids[:2], "status": "canceled"})
    statuses = [(await manual_api.get(f"/jobs/{i}"))[1]["status"] for i in ids]
    assert statuses == ["canceled", "canceled", "submitted"]
    status, body, _ = await manual_api.delete("/jobs", json={"ids": ids})
    assert (status, body) == (200, {"ids": ids, "status": "deleted"})
    assert manual_api.emulator.jobs() == []


async def test_bulk_operations_skip_unknown_ids(manual_api: ApiCaller) -> None:
    ids = await submit_many(manual_api, 1)
    status, body, _ = await manual_api.put("/jobs/status/cancel", json={"ids": [UNKNOWN_ID, *ids]})
    assert (status, body) == (200, {"ids": ids, "status": "canceled"})
    status, body, _ = await manual_api.delete("/jobs", json={"ids": [*ids, UNKNOWN_ID]})
    assert (status, body) == (200, {"ids": ids, "status": "deleted"})


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"ids": "abc"}, {"ids": [1]}, [1, 2]])
async def test_bulk_operations_need_a_list_of_ids(api: ApiCaller, body: Any) -> None:
    for method, path in (("PUT", "/jobs/status/cancel"), ("DELETE", "/jobs")):
        status, answer, _ = await api.call(method, path, json=body)
        assert status == 400, (method, answer)
        assert answer["statusCode"] == 400 and "validation" in answer


# ----------------------------------------------------------------------------- sessions


async def test_session_lifecycle(instant: ApiCaller) -> None:
    status, session, _ = await instant.post(
        "/sessions",
        json={
            "backend": "qpu.forte-1",
            "settings": {
                "job_count_limit": 2,
                "duration_limit_min": 60,
                "cost_limit": {"unit": "usd", "value": 100},
            },
        },
    )
    assert status == 201
    assert session["status"] == "created" and session["active"] is True
    assert session["settings"]["job_count_limit"] == 2
    job_id = await instant.submit(backend="qpu.forte-1", session_id=session["id"], dry_run=True)
    _, session, _ = await instant.get(f"/sessions/{session['id']}")
    assert session["status"] == "started" and session["started_at"] is not None
    _, jobs, _ = await instant.get(f"/sessions/{session['id']}/jobs")
    assert [job["id"] for job in jobs["jobs"]] == [job_id]
    _, listed, _ = await instant.get("/sessions", params={"active": "true"})
    assert [s["id"] for s in listed["sessions"]] == [session["id"]]
    status, ended, _ = await instant.post(f"/sessions/{session['id']}/end")
    assert status == 200 and ended["status"] == "ended" and ended["active"] is False
    status, body, _ = await instant.post(
        "/jobs",
        json={
            "type": "ionq.circuit.v1",
            "backend": "qpu.forte-1",
            "input": BELL,
            "session_id": session["id"],
        },
    )
    assert status == 400 and body["validation"]["keys"] == ["session_id"]


async def test_session_job_count_limit(instant: ApiCaller) -> None:
    _, session, _ = await instant.post(
        "/sessions", json={"backend": "simulator", "settings": {"job_count_limit": 1}}
    )
    await instant.submit(session_id=session["id"])
    status, body, _ = await instant.post(
        "/jobs",
        json={
            "type": "ionq.circuit.v1",
            "backend": "simulator",
            "input": BELL,
            "session_id": session["id"],
        },
    )
    assert status == 400 and body["validation"]["keys"] == ["session_id"]


async def test_create_job_response_carries_its_session(instant: ApiCaller) -> None:
    _, session, _ = await instant.post("/sessions", json={"backend": "simulator"})
    status, body, _ = await instant.post(
        "/jobs",
        json={
            "type": "ionq.circuit.v1",
            "backend": "simulator",
            "input": BELL,
            "session_id": session["id"],
        },
    )
    assert status == 201 and body["session_id"] == session["id"]


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({}, "backend"),
        ({"backend": "qpu.nope"}, "backend"),
        ({"backend": "simulator", "settings": {"job_count_limit": 0}}, "settings.job_count_limit"),
    ],
)
async def test_bad_session_requests_are_400(api: ApiCaller, body: Any, key: str) -> None:
    status, answer, _ = await api.post("/sessions", json=body)
    assert status == 400 and answer["validation"]["keys"] == [key]


async def test_unknown_session_is_404(api: ApiCaller) -> None:
    assert (await api.get(f"/sessions/{UNKNOWN_ID}"))[:2] == (404, NOT_FOUND)
    assert (await api.post(f"/sessions/{UNKNOWN_ID}/end"))[:2] == (404, NOT_FOUND)
    assert (await api.get(f"/sessions/{UNKNOWN_ID}/jobs"))[:2] == (404, NOT_FOUND)


# ----------------------------------------------------------------------------- HTTP edges


async def test_unknown_route_is_a_json_404(api: ApiCaller) -> None:
    status, body, _ = await api.get("/calibrations/current")
    assert (status, body) == (404, NOT_FOUND)


async def test_wrong_method_is_a_json_405(api: ApiCaller) -> None:
    status, body, _ = await api.call("PATCH", f"/jobs/{UNKNOWN_ID}")
    assert status == 405 and body["statusCode"] == 405


async def test_paths_outside_v04_are_not_served(api: ApiCaller) -> None:
    async with api.session.get(api.emulator.root_url + "/jobs") as response:
        assert response.status == 404


async def test_every_answer_has_a_request_id(api: ApiCaller) -> None:
    _, _, headers = await api.get("/backends")
    _, _, error_headers = await api.get("/whoami", key=False)
    assert headers["x-request-id"] and error_headers["x-request-id"]
    assert headers["x-request-id"] != error_headers["x-request-id"]


async def test_stats_count_requests_by_route_and_status(api: ApiCaller) -> None:
    job_id = await api.submit()
    await api.get(f"/jobs/{job_id}")
    await api.get(f"/jobs/{UNKNOWN_ID}")
    stats = api.emulator.stats
    assert stats.requests("GET", "/v0.4/jobs/{job_id}") == 2
    assert stats.requests("POST", "/v0.4/jobs") == 1
    assert stats.responses_by_status[404] == 1 and stats.jobs_created == 1
    assert stats.requests_total == 3
    stats.reset()
    assert stats.requests_total == 0


async def test_count_jobs_with_metadata(api: ApiCaller) -> None:
    await api.submit(metadata={"token": "a"})
    await api.submit(metadata={"token": "a"})
    await api.submit(metadata={"token": "b"})
    assert api.emulator.count_jobs_with_metadata("token", "a") == 2
    assert api.emulator.count_jobs_with_metadata("token", "c") == 0


async def test_urls(emulator: Emulator) -> None:
    assert emulator.url == f"http://127.0.0.1:{emulator.port}/v0.4"
    assert emulator.root_url == f"http://127.0.0.1:{emulator.port}"
    assert repr(emulator) == f"<Emulator {emulator.url}>"
