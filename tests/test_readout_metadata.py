"""A converted circuit's readout travels in its job's metadata, so that a result fetched
later by job id (another process, the command line's ``result``) is keyed as the source
keys it."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest

from ionq_async import Circuit, Client, Readout
from ionq_async._batch.values import TOKEN_METADATA_KEY
from ionq_async._limits import MAX_METADATA_KEY_CHARS, MAX_METADATA_KEYS, MAX_METADATA_VALUE_CHARS
from ionq_async._payload import job_payload
from ionq_async.emulator import Emulator, EmulatorConfig
from ionq_async.models import Job, JobStatus
from ionq_async.readout import READOUT_METADATA_KEY, readout_of
from ionq_async.results import Result

QISKIT_STYLE = Readout(clbits=(2, None, 0), registers=(("a", (0, 1)), ("b", (2,))), style="qiskit")


def measured() -> Circuit:
    """x on qubit 2, then classical bit 0 reads qubit 2 and bit 2 reads qubit 0."""
    return Circuit(qubits=3).x(2).with_readout(QISKIT_STYLE)


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with (
        Emulator(config=EmulatorConfig(time_scale=0.0)) as emu,
        Client(api_key=emu.api_key, base_url=emu.url) as client,
    ):
        yield client


@pytest.mark.parametrize(
    "readout",
    [
        QISKIT_STYLE,
        Readout(clbits=(1, 0), registers=(("m", (0, 1)),), style="cirq"),
        Readout(clbits=(0,)),
    ],
)
def test_a_readout_survives_the_round_trip(readout: Readout) -> None:
    assert readout_of({READOUT_METADATA_KEY: readout.to_metadata()}) == readout


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not json",
        "[]",
        '{"c":[0]}',
        '{"c":[0],"r":[],"s":"odd"}',
        '{"c":["x"]}',
        7,
        '{"c":[1.5],"r":[],"s":"plain"}',  # not an index
        '{"c":[true],"r":[],"s":"plain"}',
        '{"c":[-2],"r":[],"s":"plain"}',
        '{"c":[0],"r":{"ab":1},"s":"plain"}',  # registers not a list of pairs
        '{"c":[0],"r":[["a",[5]]],"s":"plain"}',  # a register past the bits
        '{"c":[0,1],"r":[["a",[0.5]]],"s":"plain"}',  # half a classical bit
        '{"c":"0","r":[],"s":"plain"}',
        "[" * 100_000,  # nested past the recursion limit
    ],
)
def test_anything_else_under_the_key_is_no_readout_and_no_error(value: object) -> None:
    assert readout_of({READOUT_METADATA_KEY: value}) is None
    assert readout_of(None) is None
    assert readout_of({"other": "x"}) is None


def test_the_payload_carries_the_readout_beside_the_callers_metadata() -> None:
    payload = job_payload(measured(), metadata={"experiment": "e1"})
    assert payload["metadata"]["experiment"] == "e1"
    assert readout_of(payload["metadata"]) == QISKIT_STYLE
    # The API's circuit JSON is untouched.
    assert "readout" not in json.dumps(payload["input"])


def test_a_job_or_its_metadata_gives_the_readout() -> None:
    metadata = {READOUT_METADATA_KEY: QISKIT_STYLE.to_metadata()}
    job = Job(id="j", status=JobStatus.COMPLETED, metadata=metadata)
    assert readout_of(job) == readout_of(metadata) == QISKIT_STYLE
    assert readout_of(Job(id="j", status=JobStatus.COMPLETED)) is None


def test_the_key_and_value_fit_the_apis_metadata_limits() -> None:
    assert len(READOUT_METADATA_KEY) <= MAX_METADATA_KEY_CHARS
    payload = job_payload(measured())
    assert all(len(v) <= MAX_METADATA_VALUE_CHARS for v in payload["metadata"].values())


def test_without_room_in_the_metadata_the_readout_is_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    full = {f"k{i}": "v" for i in range(MAX_METADATA_KEYS)}
    with caplog.at_level(logging.DEBUG, logger="ionq_async"):
        payload = job_payload(measured(), metadata=full)
    assert payload["metadata"] == full
    assert "keyed by qubits" in caplog.text


def test_a_readout_longer_than_a_metadata_value_is_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 15,000 classical bits reading two-digit qubits: past 40,000 characters.
    wide = Readout(clbits=tuple(10 + i % 26 for i in range(15_000)))
    assert len(wide.to_metadata()) > MAX_METADATA_VALUE_CHARS
    circuit = Circuit(qubits=36).h(0).with_readout(wide)
    with caplog.at_level(logging.DEBUG, logger="ionq_async"):
        payload = job_payload(circuit, metadata={"experiment": "e1"})
    assert payload["metadata"] == {"experiment": "e1"}
    assert "keyed by qubits" in caplog.text


def test_a_pack_carries_no_readout() -> None:
    payload = job_payload([measured(), measured()])
    assert READOUT_METADATA_KEY not in (payload.get("metadata") or {})


async def test_a_result_fetched_later_is_keyed_by_classical_bits(client: Client) -> None:
    job = await client.submit(measured(), shots=100)
    later = await client.result((await client.wait(job.id)).id)
    assert later.readout == QISKIT_STYLE
    # Qubit 2 is 1: classical bit 0 is 1; registers "b a" with bit 0 rightmost.
    assert later.bitstring_counts() == {"0 01": 100}
    ran = await client.run(measured(), shots=100)
    assert later.bitstring_counts() == ran.bitstring_counts()


async def test_the_batch_engines_token_and_the_readout_fit_together(client: Client) -> None:
    nine = {f"k{i}": "v" for i in range(MAX_METADATA_KEYS - 2)}
    async for outcome in client.run_many([measured()], metadata=nine, shots=10):
        job = await client.get_job(outcome.unwrap().job.id)
        assert job.metadata is not None
        assert TOKEN_METADATA_KEY in job.metadata
        assert readout_of(job.metadata) == QISKIT_STYLE
        assert {k: job.metadata[k] for k in nine} == nine


async def test_with_nine_keys_of_the_callers_the_token_wins_the_last_slot(
    client: Client,
) -> None:
    # The batch engine's token must always fit: the readout yields its place, and a result
    # fetched later is then keyed by qubits (documented), while run_many's own result
    # still has the readout it kept in memory.
    nine = {f"k{i}": "v" for i in range(MAX_METADATA_KEYS - 1)}
    async for outcome in client.run_many([measured()], metadata=nine, shots=10):
        result = outcome.unwrap()
        assert result.readout == QISKIT_STYLE
        job = await client.get_job(result.job.id)
        assert job.metadata is not None
        assert TOKEN_METADATA_KEY in job.metadata
        assert READOUT_METADATA_KEY not in job.metadata
        later = await client.result(job.id)
        assert later.readout is None
        assert later.counts() == {0b100: 10}  # by qubits: qubit 2 is 1


async def test_a_qiskit_circuit_submitted_then_fetched_by_id_is_keyed_as_qiskit_keys_it(
    client: Client,
) -> None:
    qiskit = pytest.importorskip("qiskit")
    from qiskit.providers.basic_provider import BasicSimulator

    q = qiskit.QuantumRegister(3, "q")
    low, high = qiskit.ClassicalRegister(1, "low"), qiskit.ClassicalRegister(2, "high")
    qc = qiskit.QuantumCircuit(q, low, high)
    qc.x(0)
    qc.x(2)
    # Final measurements into permuted classical bits across two registers.
    qc.measure(0, high[1])
    qc.measure(1, high[0])
    qc.measure(2, low[0])
    created = await client.submit(qc, shots=100)
    job = await client.wait(created.id)
    # Another process would start from the id alone.
    fetched = await client.get_job(job.id)
    rebuilt = Result(
        job=fetched,
        probabilities=await client.probabilities(fetched),
        shots=fetched.shots,
        readout=readout_of(fetched),
    )
    qiskits_own = BasicSimulator().run(qc, shots=100).result().get_counts()
    assert rebuilt.bitstring_counts() == dict(qiskits_own) == {"10 1": 100}
    assert (await client.result(job.id)).bitstring_counts() == dict(qiskits_own)


async def test_a_qiskit_superposition_fetched_later_matches_qiskits_exact_probabilities(
    client: Client,
) -> None:
    qiskit = pytest.importorskip("qiskit")
    from qiskit.quantum_info import Statevector

    qc = qiskit.QuantumCircuit(3, 3)
    qc.h(0)
    qc.cx(0, 1)
    qc.ry(0.7, 2)
    measured_into = {0: 2, 1: 0, 2: 1}  # qubit -> classical bit
    for qubit, clbit in measured_into.items():
        qc.measure(qubit, clbit)
    job = await client.wait((await client.submit(qc, shots=1000)).id)
    later = await client.result(job.id)
    # Qiskit's key: classical bit 0 rightmost; qargs in classical-bit order do the same.
    by_clbit = sorted(measured_into, key=measured_into.__getitem__)
    exact = Statevector(qc.remove_final_measurements(inplace=False)).probabilities_dict(
        qargs=by_clbit
    )
    got = later.bitstrings()
    for key in got.keys() - exact.keys():
        assert got[key] == pytest.approx(0.0, abs=1e-9)
    for key, probability in exact.items():
        assert got.get(key, 0.0) == pytest.approx(probability, abs=1e-9)
