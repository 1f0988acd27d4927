"""A converted circuit's readout travels in its job's metadata, so that a result fetched
later by job id (another process, the command line's ``result``) is keyed as the source
keys it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from ionq_async import Circuit, Client, Readout
from ionq_async._batch.values import TOKEN_METADATA_KEY
from ionq_async._limits import MAX_METADATA_KEYS
from ionq_async._payload import job_payload
from ionq_async.emulator import Emulator, EmulatorConfig
from ionq_async.readout import READOUT_METADATA_KEY, readout_of

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
    "value", ["", "not json", "[]", '{"c":[0]}', '{"c":[0],"r":[],"s":"odd"}', '{"c":["x"]}', 7]
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


def test_without_room_in_the_metadata_the_readout_is_left_out() -> None:
    full = {f"k{i}": "v" for i in range(MAX_METADATA_KEYS)}
    payload = job_payload(measured(), metadata=full)
    assert payload["metadata"] == full


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
