"""Every result the emulator serves, over loopback, in the shapes of the OpenAPI contract:
shots, histograms, v2 register-keyed forms, debiasing variants and aggregations, compiled
circuits, artifacts, and the errors of jobs that have none of them."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import BELL, ApiCaller

from ionq_async.circuits import Circuit
from ionq_async.emulator import Emulator, EmulatorConfig, ManualClock, simulator
from ionq_async.emulator.qasm3 import read_program

SCHEMAS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "samples" / "openapi_result_schemas.json").read_text()
)["schemas"]
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
UNKNOWN_ID = "00000000-0000-7000-8000-000000000000"
GHZ3: dict[str, Any] = {
    "qubits": 3,
    "circuit": [
        {"gate": "h", "target": 0},
        {"gate": "cnot", "control": 0, "target": 1},
        {"gate": "cnot", "control": 1, "target": 2},
    ],
}
DEBIASED = {"error_mitigation": {"debiasing": True}}
AGGREGATIONS = ("average", "voting", "dnl", "majority")


# ----------------------------------------------------------------------------- helpers


def violations(value: Any, schema: Mapping[str, Any], where: str = "$") -> list[str]:
    """What in ``value`` breaks an OpenAPI schema (the subset the result schemas use)."""
    if "$ref" in schema:
        return violations(value, SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]], where)
    if value is None:
        return [] if schema.get("nullable") else [f"{where} is null"]
    kind = schema.get("type")
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
    }
    if kind is not None and not checks[kind](value):
        return [f"{where} is not {kind}: {value!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where} = {value!r} is not one of {schema['enum']}"]
    problems: list[str] = []
    if kind == "array":
        for index, item in enumerate(value):
            problems += violations(item, schema.get("items", {}), f"{where}[{index}]")
    if kind == "object":
        properties = schema.get("properties", {})
        problems += [
            f"{where} lacks {key!r}" for key in schema.get("required", ()) if key not in value
        ]
        extra = schema.get("additionalProperties", {})
        for key, item in value.items():
            if key in properties:
                problems += violations(item, properties[key], f"{where}.{key}")
            elif extra is False:
                problems.append(f"{where} has {key!r}, which the schema does not allow")
            elif isinstance(extra, dict):
                problems += violations(item, extra, f"{where}.{key}")
    return problems


def assert_conforms(value: Any, schema_name: str) -> None:
    problems = violations(value, SCHEMAS[schema_name])
    assert not problems, problems[:5]


def format_keyed(entries: Mapping[str, Any]) -> dict[str, Any]:
    """A ``results`` object without its legacy ``{url}`` entries (sent alongside)."""
    return {key: value for key, value in entries.items() if "url" not in value}


@pytest.fixture
async def results_api(http: aiohttp.ClientSession) -> AsyncIterator[ApiCaller]:
    """An emulator whose jobs complete as soon as their simulation does."""
    async with Emulator(config=EmulatorConfig(time_scale=0.0, seed=11)) as emu:
        yield ApiCaller(emu, http)


async def finished(api: ApiCaller, **payload: Any) -> tuple[str, dict[str, Any]]:
    """Submit a job, wait for its simulation; (id, the job's answer)."""
    job_id = await api.submit(**payload)
    await api.emulator.wait_for_simulations()
    status, job, _ = await api.get(f"/jobs/{job_id}")
    assert status == 200, job
    return job_id, job


async def ok(api: ApiCaller, path: str, **kwargs: Any) -> Any:
    status, body, _ = await api.get(path, **kwargs)
    assert status == 200, (path, body)
    return body


def noisy_debiased(**extra: Any) -> dict[str, Any]:
    return {
        "input": GHZ3,
        "shots": 1000,
        "noise": {"model": "aria-1", "seed": 5},
        "settings": DEBIASED,
        **extra,
    }


def ints(mapping: Mapping[str, Any]) -> dict[int, Any]:
    return {int(key): value for key, value in mapping.items()}


# ----------------------------------------------------------------------------- listings


async def test_a_completed_jobs_results_and_output_have_the_contracts_shapes(
    results_api: ApiCaller,
) -> None:
    _, job = await finished(results_api, **noisy_debiased())
    assert_conforms(format_keyed(job["results"]), "CircuitJobResults")
    assert_conforms(job["output"], "CircuitJobOutput")
    assert set(job["output"]) == {"compilation", "error_mitigation"}
    assert set(format_keyed(job["results"])) == {
        "ionq.result.probabilities.json.v1",
        "ionq.result.histogram.json.v1",
        "ionq.result.shots.json.v1",
        "ionq.result.probabilities.json.v2",
        "ionq.result.histogram.json.v2",
        "ionq.result.shots.json.v2",
    }


def every_descriptor(job: Mapping[str, Any]) -> list[dict[str, str]]:
    output = job["output"]
    found = list(format_keyed(job["results"]).values())
    found += output["compilation"]["compiled_circuits"].values()
    mitigation = output.get("error_mitigation", {})
    found += mitigation.get("aggregations", {}).values()
    for variant in mitigation.get("debiasing", {}).get("variants", []):
        found += format_keyed(variant["results"]).values()
    return found


async def test_every_listed_artifact_downloads_with_its_content_type_and_format(
    results_api: ApiCaller,
) -> None:
    job_id, job = await finished(results_api, **noisy_debiased())
    descriptors = every_descriptor(job)
    assert len(descriptors) == 6 + 2 + 4 + 4 * 3
    schema_of = {
        "ionq.result.probabilities.json.v1": "IonqResultProbabilitiesJsonV1",
        "ionq.result.histogram.json.v1": "IonqResultHistogramJsonV1",
        "ionq.result.probabilities.json.v2": "IonqResultProbabilitiesJsonV2",
        "ionq.result.histogram.json.v2": "IonqResultHistogramJsonV2",
        "ionq.result.shots.json.v2": "IonqResultShotsJsonV2",
        "ionq.native.v1": "IonqNativeV1",
    }
    for descriptor in descriptors:
        assert_conforms(descriptor, "ArtifactDescriptor")
        status, body, headers = await results_api.get(
            f"/jobs/{job_id}/artifacts/{descriptor['id']}"
        )
        assert status == 200, descriptor
        assert headers["Content-Type"].split(";")[0] == descriptor["media_type"]
        if descriptor["format"] in schema_of:
            assert_conforms(body, schema_of[descriptor["format"]])
    text = [d for d in descriptors if d["format"] == "ionq.qasm3.v1"]
    assert [d["media_type"] for d in text] == ["text/plain"]


async def test_an_unknown_artifact_is_the_apis_404(results_api: ApiCaller) -> None:
    job_id, _ = await finished(results_api)
    status, body, _ = await results_api.get(f"/jobs/{job_id}/artifacts/nothing-here")
    assert (status, body) == (404, NOT_FOUND)
    status, body, _ = await results_api.get(f"/jobs/{UNKNOWN_ID}/artifacts/probabilities-v2")
    assert (status, body) == (404, NOT_READY)


# ----------------------------------------------------------------------------- shots


async def test_shots_agree_with_the_histogram_which_sums_to_the_shots(
    results_api: ApiCaller,
) -> None:
    job_id, _ = await finished(results_api, input=GHZ3, shots=1000, noise={"model": "aria-1"})
    shots = await ok(results_api, f"/jobs/{job_id}/results/shots")
    histogram = ints(await ok(results_api, f"/jobs/{job_id}/results/histogram"))
    probabilities = ints(await ok(results_api, f"/jobs/{job_id}/results/probabilities"))
    assert len(shots) == 1000
    assert Counter(shots) == histogram
    assert sum(histogram.values()) == 1000
    assert probabilities == {state: count / 1000 for state, count in histogram.items()}
    assert len(set(shots)) > 2  # noise: more than the two GHZ states


async def test_the_ideal_simulators_sampled_shots_agree_with_its_histogram(
    results_api: ApiCaller,
) -> None:
    job_id, _ = await finished(results_api, shots=64)
    shots = await ok(results_api, f"/jobs/{job_id}/results/shots")
    histogram = ints(await ok(results_api, f"/jobs/{job_id}/results/histogram"))
    assert histogram == {0: 32, 3: 32}
    assert Counter(shots) == histogram


async def test_repeated_fetches_give_the_same_answers(results_api: ApiCaller) -> None:
    job_id, job = await finished(results_api, **noisy_debiased())
    paths = [
        f"/jobs/{job_id}/results/shots",
        f"/jobs/{job_id}/results/histogram",
        f"/jobs/{job_id}/results/probabilities?aggregation=voting",
        f"/jobs/{job_id}/artifacts/shots-v2",
        f"/jobs/{job_id}/artifacts/aggregation-dnl",
    ]
    variant = job["output"]["error_mitigation"]["debiasing"]["variants"][2]["variant_id"]
    paths.append(f"/jobs/{job_id}/variants/{variant}/results/shots")
    first = [await ok(results_api, path) for path in paths]
    again = [await ok(results_api, path) for path in paths]
    assert first == again


async def test_the_same_seeds_give_the_same_shots_on_another_emulator(
    http: aiohttp.ClientSession,
) -> None:
    answers = []
    for _ in range(2):
        async with Emulator(config=EmulatorConfig(time_scale=0.0, seed=3)) as emu:
            api = ApiCaller(emu, http)
            job_id, _ = await finished(api, **noisy_debiased())
            answers.append(await ok(api, f"/jobs/{job_id}/results/shots"))
    assert answers[0] == answers[1]


async def test_without_sampled_ideal_shots_the_ideal_simulator_has_none(
    http: aiohttp.ClientSession,
) -> None:
    config = EmulatorConfig(time_scale=0.0, ideal_shots="none")
    async with Emulator(config=config) as emu:
        api = ApiCaller(emu, http)
        job_id, job = await finished(api, shots=100)
        noisy_id, noisy = await finished(api, shots=100, noise={"model": "aria-1"})
        for path in ("results/shots", "results/histogram", "artifacts/shots", "artifacts/shots-v2"):
            status, body, _ = await api.get(f"/jobs/{job_id}/{path}")
            assert status == 404, path
            assert set(body) == {"error", "message", "statusCode"}
            assert (await api.get(f"/jobs/{noisy_id}/{path}"))[0] == 200
        assert await ok(api, f"/jobs/{job_id}/results/probabilities") == {"0": 0.5, "3": 0.5}
    assert set(job["results"]) == {
        "ionq.result.probabilities.json.v1",
        "ionq.result.probabilities.json.v2",
        "probabilities",
    }
    assert "shots" in noisy["results"]


# ----------------------------------------------------------------------------- v2 forms


async def test_v2_forms_key_registers_with_their_first_qubit_leftmost(
    results_api: ApiCaller,
) -> None:
    # State 1 (qubit 0 set, qubit 1 clear): v1 key "1"; v2 output_all "10" and bits [1, 0].
    flip = {
        "qubits": 2,
        "circuit": [{"gate": "x", "target": 0}],
        "registers": {"swapped": [1, 0]},
    }
    job_id, _ = await finished(results_api, input=flip, shots=3)
    assert await ok(results_api, f"/jobs/{job_id}/results/probabilities") == {"1": 1.0}
    probabilities = await ok(results_api, f"/jobs/{job_id}/artifacts/probabilities-v2")
    histogram = await ok(results_api, f"/jobs/{job_id}/artifacts/histogram-v2")
    shots = await ok(results_api, f"/jobs/{job_id}/artifacts/shots-v2")
    assert probabilities == {
        "probabilities": {"registers": {"output_all": {"10": 1.0}, "swapped": {"01": 1.0}}}
    }
    assert histogram == {
        "histogram": {"registers": {"output_all": {"10": 3}, "swapped": {"01": 3}}}
    }
    assert shots == {"shots": [{"registers": {"output_all": [1, 0], "swapped": [0, 1]}}] * 3}


async def test_v2_forms_agree_with_the_v1_forms(results_api: ApiCaller) -> None:
    job_id, _ = await finished(results_api, input=GHZ3, shots=500, noise={"model": "aria-1"})
    v1_shots = await ok(results_api, f"/jobs/{job_id}/results/shots")
    v1_histogram = ints(await ok(results_api, f"/jobs/{job_id}/results/histogram"))
    v2_shots = (await ok(results_api, f"/jobs/{job_id}/artifacts/shots-v2"))["shots"]
    v2_histogram = (await ok(results_api, f"/jobs/{job_id}/artifacts/histogram-v2"))["histogram"]

    def state(bits: str | list[int]) -> int:
        return sum(int(bit) << qubit for qubit, bit in enumerate(bits))

    assert [state(shot["registers"]["output_all"]) for shot in v2_shots] == v1_shots
    assert {state(k): v for k, v in v2_histogram["registers"]["output_all"].items()} == v1_histogram


@pytest.mark.parametrize(
    ("registers", "key"),
    [
        ([0], "input.registers"),
        ({"a": []}, "input.registers.a"),
        ({"a": [0, 0]}, "input.registers.a"),
        ({"a": [5]}, "input.registers.a"),
        ({"output_all": [0]}, "input.registers.output_all"),
    ],
)
async def test_bad_registers_are_a_400_naming_them(
    results_api: ApiCaller, registers: Any, key: str
) -> None:
    body = {
        "type": "ionq.circuit.v1",
        "backend": "simulator",
        "input": {**BELL, "registers": registers},
    }
    status, answer, _ = await results_api.post("/jobs", json=body)
    assert status == 400
    assert answer["validation"]["keys"] == [key]


# ----------------------------------------------------------------------------- variants


async def test_a_debiased_jobs_variants_split_its_shots(results_api: ApiCaller) -> None:
    job_id, job = await finished(results_api, **noisy_debiased())
    debiasing = job["output"]["error_mitigation"]["debiasing"]
    assert debiasing["aggregation_method"] == "average"
    variants = debiasing["variants"]
    assert len(variants) == 4
    for variant in variants:
        assert_conforms({k: v for k, v in variant.items() if k != "results"}, "VariantInfo")
        assert len(variant["qubit_map"]) == 3 and len(set(variant["qubit_map"])) == 3
    assert sum(v["shots"] for v in variants) == 1000

    job_shots = await ok(results_api, f"/jobs/{job_id}/results/shots")
    job_histogram = Counter(job_shots)
    total: Counter[int] = Counter()
    for index, variant in enumerate(variants):
        base = f"/jobs/{job_id}/variants/{variant['variant_id']}/results"
        shots = await ok(results_api, f"{base}/shots")
        histogram = ints(await ok(results_api, f"{base}/histogram"))
        probabilities = ints(await ok(results_api, f"{base}/probabilities"))
        assert shots == job_shots[index::4]
        assert len(shots) == variant["shots"]
        assert Counter(shots) == histogram
        assert probabilities == pytest.approx({s: c / len(shots) for s, c in histogram.items()})
        total += Counter(histogram)
    assert total == job_histogram


async def test_the_average_of_the_variants_is_the_jobs_probabilities(
    results_api: ApiCaller,
) -> None:
    job_id, job = await finished(results_api, **noisy_debiased())
    variants = job["output"]["error_mitigation"]["debiasing"]["variants"]
    weighted: dict[int, float] = {}
    for variant in variants:
        base = f"/jobs/{job_id}/variants/{variant['variant_id']}/results"
        for state, p in ints(await ok(results_api, f"{base}/probabilities")).items():
            weighted[state] = weighted.get(state, 0.0) + p * variant["shots"] / 1000
    plain = ints(await ok(results_api, f"/jobs/{job_id}/results/probabilities"))
    average = ints(
        await ok(results_api, f"/jobs/{job_id}/results/probabilities?aggregation=average")
    )
    assert plain == average
    assert weighted == pytest.approx(plain)


async def test_an_unknown_variant_and_a_job_without_variants_are_404s(
    results_api: ApiCaller,
) -> None:
    job_id, _ = await finished(results_api, **noisy_debiased())
    plain_id, plain = await finished(results_api, input=GHZ3, shots=600, noise={"model": "aria-1"})
    assert "error_mitigation" not in plain["output"]
    for path in (
        f"/jobs/{job_id}/variants/{UNKNOWN_ID}/results/shots",
        f"/jobs/{plain_id}/variants/{UNKNOWN_ID}/results/shots",
        f"/jobs/{job_id}/variants/{UNKNOWN_ID}/results/other",
    ):
        assert (await results_api.get(path))[:2] == (404, NOT_FOUND), path


async def test_a_debiased_qpu_job_has_variants_and_an_ideal_one_has_none(
    results_api: ApiCaller,
) -> None:
    _, qpu = await finished(results_api, backend="qpu.aria-1", shots=600, settings=DEBIASED)
    _, ideal = await finished(results_api, shots=600, settings=DEBIASED)
    assert len(qpu["output"]["error_mitigation"]["debiasing"]["variants"]) == 4
    assert set(qpu["output"]["error_mitigation"]["aggregations"]) == set(AGGREGATIONS)
    assert "error_mitigation" not in ideal["output"]


# ----------------------------------------------------------------------------- aggregations


async def test_each_aggregation_is_a_distribution_and_voting_drops_the_noise(
    results_api: ApiCaller,
) -> None:
    job_id, _ = await finished(results_api, **noisy_debiased())
    plain = ints(await ok(results_api, f"/jobs/{job_id}/results/probabilities"))
    by_method = {
        method: ints(
            await ok(results_api, f"/jobs/{job_id}/results/probabilities?aggregation={method}")
        )
        for method in AGGREGATIONS
    }
    for method, distribution in by_method.items():
        assert math.isclose(sum(distribution.values()), 1.0), method
        assert set(distribution) <= set(plain), method
    assert set(plain) > {0, 7}  # the noise adds states
    assert set(by_method["voting"]) == {0, 7}
    assert set(by_method["majority"]) < set(plain)
    assert by_method["voting"] != plain


async def test_sharpen_true_is_voting_and_false_is_the_average(results_api: ApiCaller) -> None:
    job_id, _ = await finished(results_api, **noisy_debiased())
    base = f"/jobs/{job_id}/results/probabilities"
    assert await ok(results_api, f"{base}?sharpen=true") == await ok(
        results_api, f"{base}?aggregation=voting"
    )
    assert await ok(results_api, f"{base}?sharpen=false") == await ok(results_api, base)


async def test_aggregation_histograms_count_each_method_over_the_shots(
    results_api: ApiCaller,
) -> None:
    job_id, job = await finished(results_api, **noisy_debiased())
    aggregations = job["output"]["error_mitigation"]["aggregations"]
    assert_conforms(aggregations, "AggregationsOutput")
    for method, descriptor in aggregations.items():
        body = await ok(results_api, f"/jobs/{job_id}/artifacts/{descriptor['id']}")
        counts = body["histogram"]["registers"]["output_all"]
        assert sum(counts.values()) == 1000, method
        probabilities = ints(
            await ok(results_api, f"/jobs/{job_id}/results/probabilities?aggregation={method}")
        )
        for bits, count in counts.items():
            state = sum(int(bit) << qubit for qubit, bit in enumerate(bits))
            assert abs(count - probabilities[state] * 1000) < 1, method


async def test_aggregation_is_accepted_and_changes_nothing_without_debiasing(
    results_api: ApiCaller,
) -> None:
    job_id, _ = await finished(results_api, input=GHZ3, shots=500, noise={"model": "aria-1"})
    base = f"/jobs/{job_id}/results/probabilities"
    plain = await ok(results_api, base)
    for query in ("?aggregation=voting", "?aggregation=dnl", "?sharpen=true"):
        assert await ok(results_api, base + query) == plain


@pytest.mark.parametrize(
    ("query", "key"), [("aggregation=median", "aggregation"), ("sharpen=maybe", "sharpen")]
)
async def test_a_bad_aggregation_is_a_400_naming_it(
    results_api: ApiCaller, query: str, key: str
) -> None:
    job_id, _ = await finished(results_api, **noisy_debiased())
    status, body, _ = await results_api.get(f"/jobs/{job_id}/results/probabilities?{query}")
    assert status == 400
    assert body["validation"] == {"keys": [key], "source": "query"}
    assert "voting" in body["message"] or key == "sharpen"


# ----------------------------------------------------------------------------- packed jobs


async def test_a_packed_parent_has_the_aggregate_and_its_children_the_rest(
    results_api: ApiCaller,
) -> None:
    multi = {"gateset": "qis", "circuits": [{"circuit": BELL["circuit"], "qubits": 2}, GHZ3]}
    parent_id, parent = await finished(
        results_api,
        type="ionq.multi-circuit.v1",
        input=multi,
        shots=600,
        noise={"model": "aria-1", "seed": 2},
        settings=DEBIASED,
    )
    assert_conforms(format_keyed(parent["results"]), "MultiCircuitJobResults")
    assert set(format_keyed(parent["results"])) == {"ionq.result.probabilities-aggregate.json.v1"}
    assert parent["output"] == {}
    aggregate = await ok(results_api, f"/jobs/{parent_id}/artifacts/probabilities-aggregate")
    assert list(aggregate) == parent["child_job_ids"]
    assert_conforms(aggregate, "IonqResultProbabilitiesAggregateJsonV1")
    for artifact in ("probabilities", "shots-v2", "compiled-native"):
        status, body, _ = await results_api.get(f"/jobs/{parent_id}/artifacts/{artifact}")
        assert (status, body) == (404, NOT_FOUND), artifact
    assert (await results_api.get(f"/jobs/{parent_id}/circuits/native"))[:2] == (404, NOT_FOUND)
    voted = await ok(results_api, f"/jobs/{parent_id}/results/probabilities?aggregation=voting")
    assert list(voted) == parent["child_job_ids"]
    for child_id, width in zip(parent["child_job_ids"], (2, 3), strict=True):
        _, child = await finished_job(results_api, child_id)
        assert "error_mitigation" in child["output"]
        shots = await ok(results_api, f"/jobs/{child_id}/results/shots")
        assert Counter(shots) == ints(await ok(results_api, f"/jobs/{child_id}/results/histogram"))
        native = await ok(results_api, f"/jobs/{child_id}/circuits/native")
        assert native["qubits"] == width
        assert voted[child_id] == await ok(
            results_api, f"/jobs/{child_id}/results/probabilities?aggregation=voting"
        )


async def finished_job(api: ApiCaller, job_id: str) -> tuple[str, dict[str, Any]]:
    return job_id, await ok(api, f"/jobs/{job_id}")


# ----------------------------------------------------------------------------- compiled


def probabilities_of(circuit: Mapping[str, Any]) -> dict[int, float]:
    parsed = Circuit.from_json(circuit)
    return simulator.ideal_probabilities(parsed.num_qubits, parsed.gates, gateset=parsed.gateset)


MIXED: dict[str, Any] = {
    "gateset": "qis",
    "qubits": 3,
    "circuit": [
        {"gate": "h", "target": 0},
        {"gate": "cnot", "control": 0, "target": 2},
        {"gate": "rx", "target": 1, "rotation": 0.7},
        {"gate": "ry", "target": 2, "rotation": -2.1},
        {"gate": "t", "target": 0},
        {"gate": "vi", "target": 1},
        {"gate": "rz", "target": 1, "controls": [2], "rotation": 1.3},
        {"gate": "z", "target": 0, "controls": [1], "rotation": 0.4},
        {"gate": "xx", "targets": [0, 1], "rotation": 2.5},
        {"gate": "yy", "targets": [1, 2], "rotation": -0.9},
        {"gate": "zz", "targets": [0, 2], "rotation": 4.0},
        {"gate": "swap", "targets": [0, 1]},
        {"gate": "si", "target": 2},
    ],
}


async def test_the_native_compiled_circuit_is_native_gates_with_the_same_state(
    results_api: ApiCaller,
) -> None:
    job_id, job = await finished(results_api, input=MIXED)
    descriptor = job["output"]["compilation"]["compiled_circuits"]["ionq.native.v1"]
    assert descriptor == {
        "id": "compiled-native",
        "format": "ionq.native.v1",
        "media_type": "application/json",
    }
    native = await ok(results_api, f"/jobs/{job_id}/circuits/native")
    assert_conforms(native, "IonqNativeV1")
    assert {gate["gate"] for gate in native["circuit"]} <= {"gpi2", "ms"}
    assert native == await ok(results_api, f"/jobs/{job_id}/artifacts/compiled-native")
    # Equal up to Z rotations at the end (the compiler's dropped frames), which no
    # measurement sees: the same distribution.
    assert probabilities_of({**native, "gateset": "native"}) == pytest.approx(
        probabilities_of(MIXED), abs=1e-9
    )


async def test_a_native_jobs_compiled_circuit_is_its_own_gates(results_api: ApiCaller) -> None:
    circuit = {
        "gateset": "native",
        "qubits": 2,
        "circuit": [
            {"gate": "gpi2", "target": 0, "phase": 0.25},
            {"gate": "ms", "targets": [0, 1], "phases": [0, 0.5], "angle": 0.2},
        ],
    }
    job_id, _ = await finished(results_api, input=circuit)
    native = await ok(results_api, f"/jobs/{job_id}/circuits/native")
    assert native == {"qubits": 2, "circuit": circuit["circuit"]}


async def test_the_qasm3_compiled_circuit_is_text_that_runs_the_same_circuit(
    results_api: ApiCaller,
) -> None:
    job_id, _ = await finished(results_api, input=MIXED)
    status, text, headers = await results_api.get(f"/jobs/{job_id}/circuits/qasm3")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    assert text.startswith("OPENQASM 3.0;")
    program = read_program(text, None)
    parsed = Circuit.from_json(MIXED)
    expected = simulator.ideal_probabilities(3, parsed.gates, gateset="qis")
    assert program.probabilities() == pytest.approx(expected, abs=1e-9)
    assert (await results_api.get(f"/jobs/{job_id}/artifacts/compiled-qasm3"))[1] == text


async def test_an_openqasm_jobs_qasm3_form_is_its_program(results_api: ApiCaller) -> None:
    source = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0];\ncx q[0], q[1];\n'
    job_id, job = await finished(results_api, type="ionq.qasm3.v1", input={"data": source})
    assert set(job["output"]["compilation"]["compiled_circuits"]) == {
        "ionq.native.v1",
        "ionq.qasm3.v1",
    }
    assert (await results_api.get(f"/jobs/{job_id}/circuits/qasm3"))[1] == source


async def test_a_circuit_the_compiler_does_not_handle_has_no_native_form(
    results_api: ApiCaller,
) -> None:
    toffoli = {"qubits": 3, "circuit": [{"gate": "x", "target": 2, "controls": [0, 1]}]}
    job_id, job = await finished(results_api, input=toffoli)
    assert set(job["output"]["compilation"]["compiled_circuits"]) == {"ionq.qasm3.v1"}
    assert (await results_api.get(f"/jobs/{job_id}/circuits/native"))[:2] == (404, NOT_FOUND)
    assert (await results_api.get(f"/jobs/{job_id}/artifacts/compiled-native"))[:2] == (
        404,
        NOT_FOUND,
    )


async def test_a_dry_run_is_compiled_but_has_no_results(results_api: ApiCaller) -> None:
    job_id, job = await finished(results_api, dry_run=True)
    assert job["results"] is None
    assert (await results_api.get(f"/jobs/{job_id}/circuits/native"))[0] == 200
    assert (await results_api.get(f"/jobs/{job_id}/artifacts/compiled-qasm3"))[0] == 200
    assert (await results_api.get(f"/jobs/{job_id}/artifacts/shots-v2"))[:2] == (404, NOT_READY)


async def test_an_unknown_language_is_a_400_and_an_unknown_job_a_404(
    results_api: ApiCaller,
) -> None:
    job_id, _ = await finished(results_api)
    status, body, _ = await results_api.get(f"/jobs/{job_id}/circuits/qir")
    assert status == 400
    assert body["validation"] == {"keys": ["lang"], "source": "params"}
    assert "native, qasm3" in body["message"]
    assert (await results_api.get(f"/jobs/{UNKNOWN_ID}/circuits/native"))[:2] == (404, NOT_FOUND)


# ----------------------------------------------------------------------------- no results


async def test_failed_and_canceled_jobs_have_no_results_and_nothing_compiled(
    http: aiohttp.ClientSession,
) -> None:
    clock = ManualClock()
    config = EmulatorConfig(job_failure_permanent=1.0)
    async with Emulator(config=config, clock=clock) as emu:
        api = ApiCaller(emu, http)
        failed = await api.submit()
        clock.advance(60)
        await emu.wait_for_simulations()
        _, job, _ = await api.get(f"/jobs/{failed}")
        assert job["status"] == "failed"
        assert job["output"] == {} and job["results"] is None
        await assert_nothing_served(api, failed)
    async with Emulator(clock=ManualClock()) as emu:
        api = ApiCaller(emu, http)
        canceled = await api.submit()
        await api.put(f"/jobs/{canceled}/status/cancel")
        _, job, _ = await api.get(f"/jobs/{canceled}")
        assert job["status"] == "canceled"
        assert job["output"] == {}
        await assert_nothing_served(api, canceled)


async def assert_nothing_served(api: ApiCaller, job_id: str) -> None:
    for path in ("results/shots", "results/histogram", "artifacts/probabilities-v2"):
        assert (await api.get(f"/jobs/{job_id}/{path}"))[:2] == (404, NOT_READY), path
    for path in ("circuits/native", "artifacts/compiled-qasm3"):
        assert (await api.get(f"/jobs/{job_id}/{path}"))[:2] == (404, NOT_FOUND), path


async def test_a_queued_job_has_no_results_yet(http: aiohttp.ClientSession) -> None:
    async with Emulator(clock=ManualClock()) as emu:
        api = ApiCaller(emu, http)
        job_id = await api.submit(**noisy_debiased())
        _, job, _ = await api.get(f"/jobs/{job_id}")
        assert job["output"] == {}
        for path in ("results/probabilities?aggregation=voting", "artifacts/aggregation-voting"):
            assert (await api.get(f"/jobs/{job_id}/{path}"))[:2] == (404, NOT_READY)
        for path in ("variants/x/results/shots",):
            assert (await api.get(f"/jobs/{job_id}/{path}"))[:2] == (404, NOT_READY)


QIS_BUILDERS = ("h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx", "sxdg")
ROTATIONS = ("rx", "ry", "rz", "p")
TWO_QUBIT = ("cx", "cz", "cy", "ch", "swap")
TWO_QUBIT_ROTATIONS = ("cp", "crx", "cry", "crz", "rxx", "ryy", "rzz")


@pytest.mark.parametrize("seed", range(40))
def test_random_circuits_compile_to_native_gates_with_the_same_distribution(seed: int) -> None:
    import random

    from ionq_async.emulator.transpile import to_native

    rng = random.Random(seed)
    width = rng.randint(2, 4)
    circuit = Circuit(qubits=width)
    for _ in range(rng.randint(4, 16)):
        a, b = rng.sample(range(width), 2)
        angle = rng.uniform(-7.0, 7.0)
        kind = rng.choice(QIS_BUILDERS + ROTATIONS + TWO_QUBIT + TWO_QUBIT_ROTATIONS)
        if kind in QIS_BUILDERS:
            getattr(circuit, kind)(a)
        elif kind in ROTATIONS:
            getattr(circuit, kind)(angle, a)
        elif kind in TWO_QUBIT:
            getattr(circuit, kind)(a, b)
        else:
            getattr(circuit, kind)(angle, a, b)
    gates = to_native(width, circuit.gates, "qis")
    assert gates is not None
    native = {"qubits": width, "gateset": "native", "circuit": gates}
    assert {gate["gate"] for gate in gates} <= {"gpi2", "ms"}
    assert probabilities_of(native) == pytest.approx(probabilities_of(circuit.to_json()), abs=1e-9)
