"""The converter reads every sample body the API sends and writes it back unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cattrs
import pytest

from ionq_async import models
from ionq_async._converter import converter, format_timestamp, make_converter, parse_timestamp

SAMPLES = Path(__file__).parent / "samples"


def load(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


JOBS: dict[str, Any] = load("jobs.json")
OTHER: dict[str, Any] = load("other.json")
ESTIMATES: dict[str, Any] = load("estimates.json")


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


@pytest.mark.parametrize("name", sorted(JOBS))
def test_every_sample_job_round_trips(name: str) -> None:
    body = JOBS[name]
    job = converter.structure(body, models.Job)
    assert job.id == body["id"]
    assert job.status is models.JobStatus(body["status"])
    assert converter.unstructure(job) == _without_nulls(body)


def test_job_timestamps_are_aware_datetimes() -> None:
    job = converter.structure(JOBS["completed_both_results"], models.Job)
    assert job.submitted_at == datetime(2025, 5, 28, 20, 47, 5, 440000, tzinfo=UTC)
    assert job.completed_at is not None and job.completed_at.tzinfo is not None


def test_gate_counts_are_renamed_from_1q_and_2q() -> None:
    job = converter.structure(JOBS["completed_legacy_results"], models.Job)
    assert job.stats is not None and job.stats.gate_counts is not None
    assert (job.stats.gate_counts.one_qubit, job.stats.gate_counts.two_qubit) == (1, 1)


def test_legacy_results_shape_gives_urls() -> None:
    job = converter.structure(JOBS["completed_legacy_results"], models.Job)
    assert job.results is not None
    assert job.results.probabilities_url == f"/v0.4/jobs/{job.id}/results/probabilities"
    assert job.results.artifacts == {}


def test_format_keyed_results_shape_gives_artifacts() -> None:
    job = converter.structure(JOBS["completed_format_keyed_results"], models.Job)
    assert job.results is not None
    descriptor = job.results.artifacts["ionq.result.probabilities.json.v1"]
    assert descriptor.id == "probabilities"
    assert descriptor.media_type == "application/json"
    assert job.results.probabilities_url is None


def test_both_results_shapes_side_by_side_are_both_kept() -> None:
    job = converter.structure(JOBS["completed_both_results"], models.Job)
    assert job.results is not None
    assert job.results.probabilities_url is not None
    assert "ionq.result.probabilities.json.v1" in job.results.artifacts


def test_failure_accepts_message_or_error_key() -> None:
    failed = converter.structure(JOBS["failed"], models.Job)
    legacy = converter.structure(JOBS["failed_error_key"], models.Job)
    assert failed.failure is not None and failed.failure.code == "TooManyShots"
    assert failed.failure.text == "Too many shots requested for this backend."
    assert legacy.failure is not None and legacy.failure.code == "NotEnoughQubits"
    assert legacy.failure.text.startswith("The circuit needs 40 qubits")


def test_fields_from_a_newer_server_are_kept_in_extra() -> None:
    job = converter.structure(JOBS["newer_server_extra_fields"], models.Job)
    assert job.extra == {"future_field": {"nested": True}}
    assert job.stats is not None and job.stats.extra == {"brand_new_stat": 3}


def test_missing_optional_fields_are_none() -> None:
    job = converter.structure({"id": "j", "status": "ready"}, models.Job)
    assert job.backend is None and job.results is None and job.stats is None
    assert job.extra == {}


def test_missing_required_field_is_a_structuring_error() -> None:
    with pytest.raises(cattrs.ClassValidationError):
        converter.structure({"status": "ready"}, models.Job)


def test_unknown_status_is_a_structuring_error_but_running_means_started() -> None:
    with pytest.raises(cattrs.ClassValidationError):
        converter.structure({"id": "j", "status": "exploded"}, models.Job)
    job = converter.structure({"id": "j", "status": "running"}, models.Job)
    assert job.status is models.JobStatus.STARTED


def test_terminal_statuses() -> None:
    terminal = {s for s in models.JobStatus if s.is_terminal}
    assert terminal == {
        models.JobStatus.COMPLETED,
        models.JobStatus.FAILED,
        models.JobStatus.CANCELED,
    }


def test_job_list_items_parse() -> None:
    page = converter.structure(load("job_list.json"), models.JobPage)
    assert [job.status for job in page.jobs] == [
        models.JobStatus.SUBMITTED,
        models.JobStatus.COMPLETED,
    ]
    assert page.next == "0198097d-3888-72ad-a9dd-9ace842cf100"


def test_job_created_answer() -> None:
    created = converter.structure(load("job_created.json"), models.JobCreated)
    assert created.status is models.JobStatus.SUBMITTED
    assert created.session_id is None


def test_legacy_estimate_shape() -> None:
    estimate = converter.structure(ESTIMATES["legacy"], models.Estimate)
    assert estimate.total_cost == 97.5
    assert estimate.unit == "usd"
    assert estimate.context is not None and estimate.context.one_qubit_gates == 10
    assert converter.unstructure(estimate) == _without_nulls(ESTIMATES["legacy"])


def test_new_estimate_shape() -> None:
    estimate = converter.structure(ESTIMATES["new"], models.Estimate)
    assert estimate.total_cost == 97.5
    assert estimate.unit == "usd"
    assert estimate.context is not None and estimate.context.two_qubit_gates == 5
    assert estimate.context.error_mitigation is True
    assert converter.unstructure(estimate) == _without_nulls(ESTIMATES["new"])


@pytest.mark.parametrize(
    ("key", "model"),
    [
        ("whoami", models.WhoAmI),
        ("cost", models.Cost),
        ("cost_unbilled", models.Cost),
        ("characterizations", models.CharacterizationPage),
        ("session", models.Session),
        ("sessions", models.SessionList),
        ("cancel", models.JobAnswer),
        ("delete", models.JobAnswer),
        ("bulk_cancel", models.BulkJobsAnswer),
        ("bulk_delete", models.BulkJobsAnswer),
    ],
)
def test_other_sample_bodies_round_trip(key: str, model: type[Any]) -> None:
    value = converter.structure(OTHER[key], model)
    assert converter.unstructure(value) == _without_nulls(OTHER[key])


def test_backends_round_trip() -> None:
    backends = converter.structure(OTHER["backends"], list[models.Backend])
    assert [b.backend for b in backends] == ["simulator", "qpu.forte-enterprise-1"]
    assert backends[1].degraded is None  # omitted by some backends
    assert converter.unstructure(backends) == OTHER["backends"]


def test_cost_without_billing_has_no_actual_cost() -> None:
    cost = converter.structure(OTHER["cost_unbilled"], models.Cost)
    assert cost.cost is None
    assert cost.estimated_cost == models.Money(value=24.83, unit="credit")


def test_keep_none_converter_writes_nulls() -> None:
    keep = make_converter(omit_none=False)
    out = keep.unstructure(models.Job(id="j", status=models.JobStatus.READY))
    assert out["results"] is None and out["failure"] is None and out["status"] == "ready"


def test_timestamps_format_with_milliseconds_and_z() -> None:
    stamp = datetime(2025, 5, 28, 20, 47, 5, 440123, tzinfo=UTC)
    assert format_timestamp(stamp) == "2025-05-28T20:47:05.440Z"
    assert parse_timestamp("2025-05-28T20:47:05.440Z") == stamp.replace(microsecond=440000)
    assert parse_timestamp("2025-12-31") == datetime(2025, 12, 31, tzinfo=UTC)
