"""Job creation input: 400s naming the field, backend failures, and no 500 for any input."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from conftest import BELL, ApiCaller
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ionq_async.emulator import Emulator, EmulatorConfig


@pytest.fixture
async def instant_api(http: Any) -> Any:
    """An emulator whose jobs finish as soon as their simulation does."""
    async with Emulator(config=EmulatorConfig(time_scale=0.0)) as emu:
        yield ApiCaller(emu, http)


def payload(**changes: Any) -> dict[str, Any]:
    """A valid Bell job with top-level fields replaced."""
    body: dict[str, Any] = {
        "type": "ionq.circuit.v1",
        "backend": "simulator",
        "shots": 100,
        "input": copy.deepcopy(BELL),
    }
    body.update(changes)
    return body


def with_gate(gate: Any, **input_changes: Any) -> dict[str, Any]:
    """A job whose circuit is the Bell pair followed by ``gate``."""
    body = payload()
    body["input"]["circuit"].append(gate)
    body["input"].update(input_changes)
    return body


BAD_PAYLOADS = [
    ("no type", {k: v for k, v in payload().items() if k != "type"}, "type"),
    ("unknown type", payload(type="ionq.circuit.v9"), "type"),
    ("qasm3 without data", payload(type="ionq.qasm3.v1"), "input.data"),
    ("no backend", {k: v for k, v in payload().items() if k != "backend"}, "backend"),
    ("unknown backend", payload(backend="qpu.nowhere"), "backend"),
    ("backend not a string", payload(backend=3), "backend"),
    ("no input", {k: v for k, v in payload().items() if k != "input"}, "input"),
    ("input not an object", payload(input=[1, 2]), "input"),
    ("shots zero", payload(shots=0), "shots"),
    ("shots too many", payload(shots=1_000_001), "shots"),
    ("shots a float", payload(shots=1.5), "shots"),
    ("shots a word", payload(shots="lots"), "shots"),
    ("shots a boolean", payload(shots=True), "shots"),
    ("name not a string", payload(name=5), "name"),
    ("metadata not an object", payload(metadata=["a"]), "metadata"),
    ("metadata value not a string", payload(metadata={"count": 3}), "metadata.count"),
    ("metadata key too long", payload(metadata={"k" * 41: "v"}), "metadata." + "k" * 41),
    ("metadata value too long", payload(metadata={"k": "v" * 40_001}), "metadata.k"),
    ("noise not an object", payload(noise="aria-1"), "noise"),
    ("unknown noise model", payload(noise={"model": "tempo-9"}), "noise.model"),
    ("noise seed negative", payload(noise={"model": "aria-1", "seed": -1}), "noise.seed"),
    ("noise seed a string", payload(noise={"model": "aria-1", "seed": "7"}), "noise.seed"),
    ("dry_run a number", payload(dry_run=1), "dry_run"),
    ("session id a number", payload(session_id=5), "session_id"),
    ("unknown session", payload(session_id="nope"), "session_id"),
    ("settings not an object", payload(settings=[]), "settings"),
    (
        "debiasing a string",
        payload(settings={"error_mitigation": {"debiasing": "yes"}}),
        "settings.error_mitigation.debiasing",
    ),
    (
        "debiasing with few shots",
        payload(shots=100, settings={"error_mitigation": {"debiasing": True}}),
        "settings.error_mitigation.debiasing",
    ),
    ("gateset unknown", payload(input={**BELL, "gateset": "clifford"}), "input.gateset"),
    ("qubits zero", payload(input={**BELL, "qubits": 0}), "input.qubits"),
    ("qubits a string", payload(input={**BELL, "qubits": "2"}), "input.qubits"),
    ("no circuit", payload(input={"qubits": 2}), "input.circuit"),
    ("circuit not a list", payload(input={"qubits": 2, "circuit": {}}), "input.circuit"),
    ("empty circuit without qubits", payload(input={"circuit": []}), "input.qubits"),
    ("circuits in a single job", payload(input={**BELL, "circuits": []}), "input.circuits"),
    ("gate not an object", with_gate("h"), "input.circuit[2]"),
    ("gate without a name", with_gate({"target": 0}), "input.circuit[2].gate"),
    ("unknown gate", with_gate({"gate": "toffoli", "target": 0}), "input.circuit[2].gate"),
    ("gate without targets", with_gate({"gate": "h"}), "input.circuit[2].targets"),
    (
        "target and targets",
        with_gate({"gate": "h", "target": 0, "targets": [0]}),
        "input.circuit[2].targets",
    ),
    ("target not an integer", with_gate({"gate": "h", "target": "0"}), "input.circuit[2].target"),
    ("target negative", with_gate({"gate": "h", "target": -1}), "input.circuit[2].target"),
    ("target out of range", with_gate({"gate": "h", "target": 2}), "input.circuit[2].target"),
    ("targets not a list", with_gate({"gate": "h", "targets": 0}), "input.circuit[2].targets"),
    (
        "bad entry in targets",
        with_gate({"gate": "h", "targets": [0.5]}),
        "input.circuit[2].targets[0]",
    ),
    ("cnot without control", with_gate({"gate": "cnot", "target": 1}), "input.circuit[2].controls"),
    (
        "control out of range",
        with_gate({"gate": "x", "target": 0, "controls": [5]}),
        "input.circuit[2].controls[0]",
    ),
    (
        "control equals target",
        with_gate({"gate": "x", "target": 0, "control": 0}),
        "input.circuit[2].targets",
    ),
    (
        "one-qubit gate on two targets",
        with_gate({"gate": "h", "targets": [0, 1]}),
        "input.circuit[2].targets",
    ),
    ("swap on one target", with_gate({"gate": "swap", "targets": [0]}), "input.circuit[2].targets"),
    ("rotation missing", with_gate({"gate": "rx", "target": 0}), "input.circuit[2].rotation"),
    (
        "rotation a string",
        with_gate({"gate": "ry", "target": 0, "rotation": "pi"}),
        "input.circuit[2].rotation",
    ),
    (
        "rotation not finite",
        with_gate({"gate": "rz", "target": 0, "rotation": float("nan")}),
        "input.circuit[2].rotation",
    ),
    (
        "xx without rotation",
        with_gate({"gate": "xx", "targets": [0, 1]}),
        "input.circuit[2].rotation",
    ),
    (
        "pauliexp without terms",
        with_gate({"gate": "pauliexp", "targets": [0, 1], "coefficients": [1.0], "time": 0.5}),
        "input.circuit[2].terms",
    ),
    (
        "pauliexp bad term",
        with_gate(
            {
                "gate": "pauliexp",
                "targets": [0, 1],
                "terms": ["XQ"],
                "coefficients": [1.0],
                "time": 0.5,
            }
        ),
        "input.circuit[2].terms[0]",
    ),
    (
        "pauliexp coefficient count",
        with_gate(
            {
                "gate": "pauliexp",
                "targets": [0, 1],
                "terms": ["XZ"],
                "coefficients": [],
                "time": 0.5,
            }
        ),
        "input.circuit[2].coefficients",
    ),
    (
        "pauliexp complex coefficient",
        with_gate(
            {
                "gate": "pauliexp",
                "targets": [0, 1],
                "terms": ["XZ"],
                "coefficients": [[1, 1]],
                "time": 0.5,
            }
        ),
        "input.circuit[2].coefficients[0]",
    ),
    (
        "pauliexp without time",
        with_gate({"gate": "pauliexp", "targets": [0, 1], "terms": ["XZ"], "coefficients": [1.0]}),
        "input.circuit[2].time",
    ),
    (
        "gpi without phase",
        payload(
            input={"gateset": "native", "qubits": 1, "circuit": [{"gate": "gpi", "target": 0}]}
        ),
        "input.circuit[0].phase",
    ),
    (
        "ms phases of one",
        payload(
            input={
                "gateset": "native",
                "qubits": 2,
                "circuit": [{"gate": "ms", "targets": [0, 1], "phases": [0]}],
            }
        ),
        "input.circuit[0].phases",
    ),
    (
        "ms angle too big",
        payload(
            input={
                "gateset": "native",
                "qubits": 2,
                "circuit": [{"gate": "ms", "targets": [0, 1], "phases": [0, 0], "angle": 0.5}],
            }
        ),
        "input.circuit[0].angle",
    ),
    (
        "native zz without angle",
        payload(
            input={"gateset": "native", "qubits": 2, "circuit": [{"gate": "zz", "targets": [0, 1]}]}
        ),
        "input.circuit[0].phase",
    ),
    (
        "controlled native gate",
        payload(
            input={
                "gateset": "native",
                "qubits": 2,
                "circuit": [{"gate": "gpi", "target": 0, "controls": [1], "phase": 0}],
            }
        ),
        "input.circuit[0].controls",
    ),
    (
        "multi without circuits",
        payload(type="ionq.multi-circuit.v1", input={"gateset": "qis"}),
        "input.circuits",
    ),
    (
        "multi with empty circuits",
        payload(type="ionq.multi-circuit.v1", input={"gateset": "qis", "circuits": []}),
        "input.circuits",
    ),
    ("multi with circuit too", payload(type="ionq.multi-circuit.v1", input=BELL), "input.circuit"),
    (
        "multi entry not an object",
        payload(type="ionq.multi-circuit.v1", input={"circuits": [BELL, 3]}),
        "input.circuits[1]",
    ),
    (
        "multi bad gate",
        payload(
            type="ionq.multi-circuit.v1",
            input={"circuits": [BELL, {"circuit": [{"gate": "rx", "target": 0}]}]},
        ),
        "input.circuits[1].circuit[0].rotation",
    ),
    (
        "multi bad per-circuit qubits",
        payload(type="ionq.multi-circuit.v1", input={"circuits": [{**BELL, "qubits": -2}]}),
        "input.circuits[0].qubits",
    ),
    (
        "too many circuits",
        payload(
            type="ionq.multi-circuit.v1",
            input={"circuits": [{"circuit": [{"gate": "h", "target": 0}]}] * 5001},
        ),
        "input.circuits",
    ),
    (
        "too many gates",
        payload(
            type="ionq.multi-circuit.v1",
            input={"circuits": [{"circuit": [{"gate": "h", "target": 0}] * 75_001}] * 2},
        ),
        "input.circuits",
    ),
]


@pytest.mark.parametrize(
    ("body", "key"), [(b, k) for _, b, k in BAD_PAYLOADS], ids=[name for name, _, _ in BAD_PAYLOADS]
)
async def test_bad_payload_is_400_naming_the_field(api: ApiCaller, body: Any, key: str) -> None:
    status, answer, _ = await api.post("/jobs", json=body)
    assert status == 400, answer
    assert answer["error"] == "Bad Request" and answer["statusCode"] == 400
    assert answer["validation"] == {"keys": [key], "source": "body"}
    assert answer["message"].startswith(f'"{key}" was invalid')
    assert api.emulator.jobs() == []


@pytest.mark.parametrize("raw", [b"{not json", b"", b"   ", b"\xff\xfe", b"[" * 100_000])
async def test_unreadable_body_is_400(api: ApiCaller, raw: bytes) -> None:
    status, answer, _ = await api.post(
        "/jobs", data=raw, headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert answer["statusCode"] == 400 and answer["validation"]["source"] == "body"


@pytest.mark.parametrize("body", [[], "text", 3, None])
async def test_body_that_is_not_an_object_is_400(api: ApiCaller, body: Any) -> None:
    status, answer, _ = await api.post("/jobs", data=json.dumps(body))
    assert status == 400 and answer["validation"] == {"keys": [], "source": "body"}


async def test_body_over_10_mb_is_413(api: ApiCaller) -> None:
    body = payload(metadata={"padding": "x" * 100})
    raw = json.dumps(body).encode()
    raw = raw[:-1] + b', "filler": "' + b"y" * (10 * 1024 * 1024) + b'"}'
    status, answer, _ = await api.post(
        "/jobs", data=raw, headers={"Content-Type": "application/json"}
    )
    assert status == 413
    assert answer["statusCode"] == 413 and answer["error"] == "Payload Too Large"


async def test_a_big_valid_body_under_10_mb_is_accepted(api: ApiCaller) -> None:
    circuits = [{"circuit": [{"gate": "h", "target": 0}] * 20} for _ in range(5000)]
    body = payload(
        type="ionq.multi-circuit.v1", input={"gateset": "qis", "circuits": circuits}, dry_run=True
    )
    status, answer, _ = await api.post("/jobs", json=body)
    assert status == 201, answer


# ----------------------------------------------------------------------------- peer quirks


QISKIT_BODY = {
    "type": "ionq.circuit.v1",
    "backend": "simulator",
    "shots": 1000,
    "name": "bell",
    "input": {
        "gateset": "qis",
        "qubits": 2,
        "circuit": [{"gate": "h", "targets": [0]}, {"gate": "x", "targets": [1], "controls": [0]}],
    },
    "metadata": {
        "shots": "1000",
        "sampler_seed": "None",
        "qiskit_header": "H4sIAAAA",
        "user_agent": "qiskit-ionq/1.1.1",
    },
    "noise": {"model": "ideal", "seed": None},
}
CIRQ_BODY = {
    "backend": "simulator",
    "type": "ionq.circuit.v1",
    "lang": "json",
    "input": {
        "gateset": "qis",
        "qubits": 2,
        "circuit": [{"gate": "h", "targets": [0]}, {"gate": "cnot", "control": 0, "target": 1}],
    },
    "metadata": {"measurement0": "m\u001f0,1", "shots": "1000"},
    "shots": "1000",
}


@pytest.mark.parametrize("body", [QISKIT_BODY, CIRQ_BODY], ids=["qiskit", "cirq"])
async def test_peer_client_bodies_are_accepted_and_echoed(api: ApiCaller, body: Any) -> None:
    status, answer, _ = await api.post("/jobs", json=body)
    assert status == 201
    await api.emulator.wait_for_simulations()
    _, job, _ = await api.get(f"/jobs/{answer['id']}")
    assert job["metadata"] == body["metadata"] and job["shots"] == 1000


async def test_z_with_rotation_is_a_phase_gate(instant_api: ApiCaller) -> None:
    # qiskit sends P(θ) as z + rotation. A controlled P(pi) on |+>|1> flips qubit 0 to |->,
    # so H then reads 1; a controlled rz(pi) would leave a relative phase of -i and give 50/50.
    circuit = [
        {"gate": "h", "targets": [0]},
        {"gate": "x", "targets": [1]},
        {"gate": "z", "targets": [0], "controls": [1], "rotation": 3.141592653589793},
        {"gate": "h", "targets": [0]},
    ]
    job_id = await instant_api.submit(input={"qubits": 2, "circuit": circuit})
    await instant_api.emulator.wait_for_simulations()
    _, body, _ = await instant_api.get(f"/jobs/{job_id}/results/probabilities")
    assert body == {"3": 1.0}


async def test_cirq_native_zz_with_phase_is_accepted(api: ApiCaller) -> None:
    native = {
        "gateset": "native",
        "qubits": 2,
        "circuit": [{"gate": "zz", "targets": [0, 1], "phase": 0.25}],
    }
    status, _, _ = await api.post("/jobs", json=payload(input=native))
    assert status == 201


@pytest.mark.parametrize("backend", ["simulator", "qpu.aria-1", "qpu.forte-1"])
async def test_native_nop_is_accepted_on_every_backend_and_is_the_identity(
    instant_api: ApiCaller, backend: str
) -> None:
    # nop is in the API's NativeGate enum; its semantics are undocumented: the identity.
    native = {
        "gateset": "native",
        "qubits": 2,
        "circuit": [
            {"gate": "nop", "target": 0},
            {"gate": "gpi", "target": 1, "phase": 0},
            {"gate": "nop", "targets": [1]},
        ],
    }
    job_id = await instant_api.submit(input=native, backend=backend, shots=100)
    await instant_api.emulator.wait_for_simulations()
    _, job, _ = await instant_api.get(f"/jobs/{job_id}")
    assert job["status"] == "completed", job["failure"]
    _, body, _ = await instant_api.get(f"/jobs/{job_id}/results/probabilities")
    if backend == "simulator":
        assert body == {"2": 1.0}
    else:
        # QPU results are shot-based and noisy; GPI(0) is an X, so "2" dominates.
        assert max(body, key=body.get) == "2"


async def test_nop_on_two_qubits_is_400_and_in_a_qis_circuit_fails_the_job(
    instant_api: ApiCaller,
) -> None:
    native = {"gateset": "native", "qubits": 2, "circuit": [{"gate": "nop", "targets": [0, 1]}]}
    status, answer, _ = await instant_api.post("/jobs", json=payload(input=native))
    assert status == 400 and answer["validation"]["keys"] == ["input.circuit[0].targets"]
    qis = with_gate({"gate": "nop", "target": 0})
    status, answer, _ = await instant_api.post("/jobs", json=qis)
    assert status == 201
    await instant_api.emulator.wait_for_simulations()
    _, job, _ = await instant_api.get(f"/jobs/{answer['id']}")
    assert job["failure"]["code"] == "UnsupportedGate"


# ----------------------------------------------------------------------------- backend failures


BACKEND_FAILURES = [
    (
        "native gate in a qis circuit",
        "simulator",
        {"qubits": 1, "circuit": [{"gate": "gpi", "target": 0, "phase": 0.1}]},
        {},
        "UnsupportedGate",
    ),
    (
        "qis gate in a native circuit",
        "simulator",
        {"gateset": "native", "qubits": 1, "circuit": [{"gate": "h", "target": 0}]},
        {},
        "UnsupportedGate",
    ),
    (
        "ms on forte",
        "qpu.forte-1",
        {
            "gateset": "native",
            "qubits": 2,
            "circuit": [{"gate": "ms", "targets": [0, 1], "phases": [0, 0]}],
        },
        {},
        "UnsupportedGate",
    ),
    (
        "native zz on aria",
        "qpu.aria-1",
        {
            "gateset": "native",
            "qubits": 2,
            "circuit": [{"gate": "zz", "targets": [0, 1], "angle": 0.1}],
        },
        {},
        "UnsupportedGate",
    ),
    (
        "controlled swap",
        "simulator",
        {"qubits": 3, "circuit": [{"gate": "swap", "targets": [0, 1], "controls": [2]}]},
        {},
        "UnsupportedGate",
    ),
    (
        "eight controls",
        "simulator",
        {"qubits": 9, "circuit": [{"gate": "x", "target": 8, "controls": list(range(8))}]},
        {},
        "TooManyControls",
    ),
    ("too wide for aria", "qpu.aria-1", {"qubits": 26, "circuit": []}, {}, "NotEnoughQubits"),
    (
        "too wide for the simulator",
        "simulator",
        {"circuit": [{"gate": "h", "target": 29}]},
        {},
        "NotEnoughQubits",
    ),
    ("too many shots for a QPU", "qpu.forte-1", BELL, {"shots": 20_000}, "TooManyShots"),
    (
        "too wide for the noise model",
        "simulator",
        {"qubits": 26, "circuit": []},
        {"noise": {"model": "aria-1"}},
        "NotEnoughQubits",
    ),
    (
        "too many gates in one circuit",
        "simulator",
        {"qubits": 1, "circuit": [{"gate": "h", "target": 0}] * 150_001},
        {},
        "TooManyGates",
    ),
]


@pytest.mark.parametrize(
    ("backend", "data", "extra", "code"),
    [(b, d, e, c) for _, b, d, e, c in BACKEND_FAILURES],
    ids=[name for name, *_ in BACKEND_FAILURES],
)
async def test_valid_input_the_backend_cannot_run_fails_the_job(
    instant_api: ApiCaller, backend: str, data: Any, extra: Any, code: str
) -> None:
    status, answer, _ = await instant_api.post(
        "/jobs", json=payload(backend=backend, input=data, **extra)
    )
    assert status == 201, answer
    await instant_api.emulator.wait_for_simulations()
    _, job, _ = await instant_api.get(f"/jobs/{answer['id']}")
    assert job["status"] == "failed"
    failure = job["failure"]
    assert set(failure) == {"code", "message", "error"}
    assert failure["message"] == failure["error"] and failure["message"]
    assert failure["code"] == code
    assert job["results"] is None


async def test_emulator_refuses_to_simulate_beyond_its_qubit_cap(http: Any) -> None:
    config = EmulatorConfig(time_scale=0.0, max_simulated_qubits=3)
    async with Emulator(config=config) as emu:
        api = ApiCaller(emu, http)
        job_id = await api.submit(input={"qubits": 4, "circuit": []})
        await emu.wait_for_simulations()
        _, job, _ = await api.get(f"/jobs/{job_id}")
        assert job["status"] == "failed" and "at most 3 qubits" in job["failure"]["message"]


# ----------------------------------------------------------------------------- never a 500


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
gate_names = st.sampled_from(
    ["h", "x", "cnot", "rx", "zz", "xx", "swap", "pauliexp", "gpi", "gpi2", "ms", "not", "z", "?"]
)
gate_keys = st.sampled_from(
    [
        "gate",
        "target",
        "targets",
        "control",
        "controls",
        "rotation",
        "phase",
        "phases",
        "angle",
        "terms",
        "coefficients",
        "time",
    ]
)
gates = (
    st.dictionaries(gate_keys, json_values | st.integers(0, 3), max_size=5).flatmap(
        lambda d: gate_names.map(lambda name: {"gate": name, **d})
    )
    | json_values
)
circuits = st.lists(gates, max_size=4)
inputs = st.fixed_dictionaries(
    {},
    optional={
        "gateset": st.sampled_from(["qis", "native"]) | json_values,
        "qubits": st.integers(-1, 30) | json_values,
        "circuit": circuits | json_values,
        "circuits": st.lists(st.fixed_dictionaries({"circuit": circuits}) | json_values, max_size=3)
        | json_values,
    },
)
bodies = (
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["ionq.circuit.v1", "ionq.multi-circuit.v1"]) | json_values,
            "backend": st.sampled_from(["simulator", "qpu.aria-1", "qpu.forte-1"]) | json_values,
            "input": inputs | json_values,
            "shots": st.integers(-5, 2_000_000) | json_values,
            "noise": st.fixed_dictionaries(
                {},
                optional={"model": st.sampled_from(["ideal", "aria-1", "x"]), "seed": json_values},
            )
            | json_values,
            "metadata": st.dictionaries(
                st.text(max_size=5), st.text(max_size=5) | json_values, max_size=3
            )
            | json_values,
            "settings": json_values,
            "dry_run": json_values,
            "session_id": json_values,
            "name": json_values,
        },
    )
    | json_values
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies)
async def test_random_json_never_gets_a_500(instant_api: ApiCaller, body: Any) -> None:
    status, answer, _ = await instant_api.post("/jobs", data=json.dumps(body))
    assert status in (201, 400), answer
    if status == 400:
        assert answer["statusCode"] == 400 and "validation" in answer
    else:
        await instant_api.emulator.wait_for_simulations()
        status, job, _ = await instant_api.get(f"/jobs/{answer['id']}")
        assert status == 200 and job["status"] in ("completed", "failed")


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    query=st.dictionaries(
        st.sampled_from(
            [
                "ids",
                "limit",
                "next",
                "status",
                "target",
                "session_id",
                "parent_job_id",
                "backend",
                "shots",
                "qubits",
                "1q_gates",
                "error_mitigation",
            ]
        ),
        st.text(max_size=8),
        max_size=4,
    )
)
async def test_random_query_strings_never_get_a_500(instant_api: ApiCaller, query: Any) -> None:
    for path in ("/jobs", "/jobs/estimate", "/backends/qpu.aria-1/characterizations", "/sessions"):
        status, answer, _ = await instant_api.get(path, params=query)
        assert status in (200, 400), (path, answer)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=json_values)
async def test_random_json_to_the_other_write_routes_never_gets_a_500(
    instant_api: ApiCaller, body: Any
) -> None:
    for method, path in (
        ("POST", "/sessions"),
        ("PUT", "/jobs/status/cancel"),
        ("DELETE", "/jobs"),
    ):
        status, answer, _ = await instant_api.call(method, path, data=json.dumps(body))
        assert status in (200, 201, 400), (method, path, answer)
