"""The client's result methods against the emulator over loopback: every result it serves."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest

from ionq_async import Circuit, Client, RetryPolicy
from ionq_async.emulator import Emulator, EmulatorConfig
from ionq_async.models import Job


@pytest.fixture
async def done() -> AsyncIterator[tuple[Client, Job]]:
    async with (
        Emulator(config=EmulatorConfig(time_scale=0.0, seed=5)) as emu,
        Client(api_key=emu.api_key, base_url=emu.url, retry=RetryPolicy.no_wait()) as client,
    ):
        job = await client.submit(
            Circuit(qubits=2).h(0).cnot(0, 1), shots=200, noise_model="aria-1", noise_seed=4
        )
        yield client, await client.wait(job.id)


async def test_shots_histogram_and_probabilities_agree(done: tuple[Client, Job]) -> None:
    client, job = done
    shots = await client.shots(job)
    histogram = await client.histogram(job)
    assert len(shots) == 200 and Counter(shots) == histogram
    assert sum(histogram.values()) == 200
    assert (await client.result(job.id, memory=True)).shot_states == shots


async def test_compiled_circuits_in_both_languages(done: tuple[Client, Job]) -> None:
    client, job = done
    native = await client.compiled_circuit(job, "native")
    assert isinstance(native, dict) and native["qubits"] == 2 and native["circuit"]
    qasm = await client.compiled_circuit(job, "qasm3")
    assert isinstance(qasm, str) and qasm.startswith("OPENQASM 3")


async def test_every_listed_artifact_downloads_decoded(done: tuple[Client, Job]) -> None:
    client, job = done
    assert job.results is not None and job.results.artifacts
    for descriptor in job.results.artifacts.values():
        artifact = await client.artifact(job, descriptor.id)
        assert artifact.media_type == descriptor.media_type
        assert artifact.data
    v2 = job.results.artifacts["ionq.result.histogram.json.v2"]
    registers = (await client.artifact(job, v2.id)).data["histogram"]["registers"]
    assert sum(next(iter(registers.values())).values()) == 200
