"""The real peer clients, unchanged, against the emulator: qiskit-ionq and cirq-ionq.

Skipped unless the packages are importable. They are blocking (``requests``), so the
emulator runs on its own loop in a thread (``BackgroundEmulator``). Install them in a
separate environment, for example::

    python3 -m venv /tmp/compat-venv
    /tmp/compat-venv/bin/pip install qiskit-ionq cirq-ionq pytest pytest-asyncio -e .
    /tmp/compat-venv/bin/python -m pytest tests/compat -p no:cacheprovider
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ionq_async.emulator import BackgroundEmulator, Emulator, EmulatorConfig

# Third-party packages may warn about their own dependencies; that is not under test.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore:Transpiler default optimization_level"),
]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One emulator for the module; jobs finish as soon as their simulation does."""
    with BackgroundEmulator(config=EmulatorConfig(time_scale=0.0)) as emu:
        yield emu


@pytest.fixture(scope="module")
def queued_emulator() -> Iterator[Emulator]:
    """An emulator whose QPU jobs wait in the queue for an hour (to cancel them)."""
    config = EmulatorConfig(qpu_queue_s=3600.0)
    with BackgroundEmulator(config=config) as emu:
        yield emu


# ----------------------------------------------------------------------------- qiskit-ionq


@pytest.fixture
def qiskit_provider(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An IonQProvider pointed at the emulator (the env var redirects its backend lookups)."""
    qiskit_ionq = pytest.importorskip("qiskit_ionq")
    for name in ("QISKIT_IONQ_API_TOKEN", "IONQ_API_TOKEN", "QISKIT_IONQ_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IONQ_API_URL", emulator.url)
    monkeypatch.setenv("IONQ_API_KEY", emulator.api_key)
    return qiskit_ionq.IonQProvider(emulator.api_key, url=emulator.url)


def qiskit_bell() -> Any:
    qiskit = pytest.importorskip("qiskit")
    circuit = qiskit.QuantumCircuit(2, 2, name="bell")
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return circuit


def test_qiskit_bell_on_the_simulator(qiskit_provider: Any, emulator: Emulator) -> None:
    backend = qiskit_provider.get_backend("simulator")
    job = backend.run(qiskit_bell(), shots=1000)
    counts = job.result(wait=0.02).get_counts()
    assert set(counts) == {"00", "11"}
    assert sum(counts.values()) == 1000
    assert 400 < counts["00"] < 600
    stored = next(j for j in emulator.jobs() if j["id"] == job.job_id())
    assert stored["metadata"]["shots"] == "1000" and "qiskit_header" in stored["metadata"]


def test_qiskit_probabilities_are_exact(qiskit_provider: Any) -> None:
    backend = qiskit_provider.get_backend("simulator")
    job = backend.run(qiskit_bell(), shots=100)
    probabilities = job.result(wait=0.02).get_probabilities()
    assert probabilities == {"00": 0.5, "11": 0.5}


def test_qiskit_bell_on_a_qpu_is_shot_based(qiskit_provider: Any) -> None:
    backend = qiskit_provider.get_backend("qpu.aria-1")
    job = backend.run(qiskit_bell(), shots=200)
    counts = job.result(wait=0.02).get_counts()
    assert counts["00"] + counts["11"] >= 180
    assert abs(sum(counts.values()) - 200) <= 2  # qiskit rounds p*shots itself


def test_qiskit_multi_circuit_results_come_back_in_order(qiskit_provider: Any) -> None:
    qiskit = pytest.importorskip("qiskit")
    flip = qiskit.QuantumCircuit(2, 2, name="x0")
    flip.x(0)
    flip.measure([0, 1], [0, 1])
    backend = qiskit_provider.get_backend("simulator")
    job = backend.run([qiskit_bell(), flip], shots=100)
    result = job.result(wait=0.02)
    assert set(result.get_counts(0)) == {"00", "11"}
    assert result.get_counts(1) == {"01": 100}


def test_qiskit_cancel(queued_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    qiskit_ionq = pytest.importorskip("qiskit_ionq")
    monkeypatch.setenv("IONQ_API_URL", queued_emulator.url)
    provider = qiskit_ionq.IonQProvider(queued_emulator.api_key, url=queued_emulator.url)
    job = provider.get_backend("qpu.forte-1").run(qiskit_bell(), shots=100)
    job.cancel()
    stored = next(j for j in queued_emulator.jobs() if j["id"] == job.job_id())
    assert stored["status"] == "canceled"
    with pytest.warns(UserWarning, match="Job was cancelled"):
        assert job.status().name == "CANCELLED"


# ----------------------------------------------------------------------------- cirq-ionq


@pytest.fixture
def cirq_service(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A cirq_ionq.Service pointed at the emulator's root (cirq appends /v0.4 itself)."""
    cirq_ionq = pytest.importorskip("cirq_ionq")
    for name in ("CIRQ_IONQ_REMOTE_HOST", "IONQ_REMOTE_HOST", "CIRQ_IONQ_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return cirq_ionq.Service(
        remote_host=emulator.root_url, api_key=emulator.api_key, default_target="simulator"
    )


def cirq_bell() -> Any:
    cirq = pytest.importorskip("cirq")
    q0, q1 = cirq.LineQubit.range(2)
    return cirq.Circuit(cirq.H(q0), cirq.CNOT(q0, q1), cirq.measure(q0, q1, key="m"))


def test_cirq_bell_on_the_simulator(cirq_service: Any) -> None:
    result = cirq_service.run(cirq_bell(), repetitions=500, target="simulator", seed=42)
    histogram = result.histogram(key="m")
    assert set(histogram) == {0, 3} and sum(histogram.values()) == 500


def test_cirq_bell_on_a_qpu(cirq_service: Any) -> None:
    job = cirq_service.create_job(cirq_bell(), repetitions=200, target="qpu.aria-1")
    result = job.results(polling_seconds=0.02)
    histogram = result.to_cirq_result().histogram(key="m")
    assert histogram[0] + histogram[3] >= 180


def test_cirq_x_on_qubit_one_reads_big_endian(cirq_service: Any) -> None:
    cirq = pytest.importorskip("cirq")
    q0, q1 = cirq.LineQubit.range(2)
    circuit = cirq.Circuit(cirq.X(q1), cirq.measure(q0, q1, key="m"))
    result = cirq_service.run(circuit, repetitions=10, target="simulator")
    # cirq keys put qubit 0 first (most significant): q1 alone set reads 0b01.
    assert result.histogram(key="m") == {1: 10}


def test_cirq_batch_matches_circuits_in_order(cirq_service: Any) -> None:
    cirq = pytest.importorskip("cirq")
    q0, q1 = cirq.LineQubit.range(2)
    flip = cirq.Circuit(cirq.X(q0), cirq.measure(q0, q1, key="m"))
    results = cirq_service.run_batch([cirq_bell(), flip], repetitions=50, target="simulator")
    assert set(results[0].histogram(key="m")) == {0, 3}
    assert results[1].histogram(key="m") == {2: 50}


def test_cirq_list_jobs_terminates_and_lists_each_job_once(cirq_service: Any) -> None:
    for _ in range(3):
        cirq_service.create_job(cirq_bell(), repetitions=10, target="simulator")
    jobs = cirq_service.list_jobs(limit=500)
    ids = [job.job_id() for job in jobs]
    assert len(ids) == len(set(ids)) and len(ids) >= 3


def test_cirq_cancel_and_delete(queued_emulator: Emulator) -> None:
    cirq_ionq = pytest.importorskip("cirq_ionq")
    service = cirq_ionq.Service(
        remote_host=queued_emulator.root_url, api_key=queued_emulator.api_key
    )
    job = service.create_job(cirq_bell(), repetitions=10, target="qpu.forte-1")
    job.cancel()
    assert job.status() == "canceled"
    job.delete()
    assert all(stored["id"] != job.job_id() for stored in queued_emulator.jobs())
