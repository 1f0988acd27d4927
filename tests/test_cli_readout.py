"""The command line's ``result`` of a converted circuit's job, fetched later by id, is
keyed as the source keys it: the readout travels in the job's metadata."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from ionq_async import Client
from ionq_async.cli import main
from ionq_async.emulator import BackgroundEmulator, EmulatorConfig

qiskit = pytest.importorskip("qiskit")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("IONQ_API_URL", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def test_result_by_id_gives_qiskits_classical_bit_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    q = qiskit.QuantumRegister(3, "q")
    low, high = qiskit.ClassicalRegister(1, "low"), qiskit.ClassicalRegister(2, "high")
    qc = qiskit.QuantumCircuit(q, low, high)
    qc.x(0)
    qc.x(2)
    qc.measure(0, high[1])
    qc.measure(1, high[0])
    qc.measure(2, low[0])
    with BackgroundEmulator(config=EmulatorConfig(time_scale=0.0)) as emu:

        async def submitted() -> str:
            async with Client(api_key=emu.api_key, base_url=emu.url) as client:
                job = await client.submit(qc, shots=100)
                return (await client.wait(job.id)).id

        job_id = anyio.run(submitted)
        capsys.readouterr()
        code = main(["--base-url", emu.url, "--api-key", emu.api_key, "result", job_id, "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert code == 0
    # Qiskit's get_counts() key: the last register leftmost, bit 0 rightmost.
    assert printed["bitstrings"] == {"10 1": 1.0}
    assert printed["probabilities"] == {"5": 1.0}  # the API's, over qubits
