"""`ionq-async result`: histogram bars in the terminal, --memory, --top, and JSON keyed as
the result keys it (classical bits for a converted circuit)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from ionq_async import Circuit, Readout, SyncClient
from ionq_async.cli import main
from ionq_async.emulator import BackgroundEmulator, Emulator, EmulatorConfig


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with BackgroundEmulator(config=EmulatorConfig(time_scale=0.0, seed=3)) as emulator:
        yield emulator


def finished_job(emu: Emulator, circuit: Circuit, shots: int) -> str:
    with SyncClient(api_key=emu.api_key, base_url=emu.url) as client:
        return client.wait(client.submit(circuit, shots=shots).id).id


def cli(emu: Emulator, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--base-url", emu.url, "--api-key", emu.api_key, *args])
    return code, capsys.readouterr().out


def test_memory_is_printed_and_agrees_with_the_counts(
    emu: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    job = finished_job(emu, Circuit(qubits=2).h(0).cnot(0, 1), shots=40)
    code, out = cli(emu, capsys, "--json", "result", job, "--memory", "--counts")
    data = json.loads(out)
    assert code == 0
    assert len(data["memory"]) == 40 and set(data["memory"]) <= {"00", "11"}
    with SyncClient(api_key=emu.api_key, base_url=emu.url) as client:
        histogram = client.histogram(job)
    assert Counter(int(bits, 2) for bits in data["memory"]) == histogram
    monkeypatch.setenv("COLUMNS", "120")
    code, out = cli(emu, capsys, "result", job, "--memory")
    assert code == 0
    assert "memory (40 shots, in order):" in out
    assert out.strip().splitlines()[-1].split() == data["memory"]


def test_the_table_draws_bars_in_proportion_and_top_limits_rows(
    emu: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    # P(1) = 0.25 on qubit 0 alone: bars of 20 and 20/3 characters (six and a part).
    job = finished_job(emu, Circuit(qubits=1).ry(1.0471975511965976, 0), shots=100)
    code, out = cli(emu, capsys, "result", job)
    assert code == 0
    bars = [line.count("█") for line in out.splitlines() if "█" in line]
    assert bars == [20, 6]
    code, out = cli(emu, capsys, "result", job, "--top", "1")
    assert [line.count("█") for line in out.splitlines() if "█" in line] == [20]
    assert "1 more outcome(s)" in out


def test_json_of_a_converted_circuit_is_keyed_by_its_classical_bits(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    readout = Readout(clbits=(1, 0), registers=(("a", (0,)), ("b", (1,))), style="qiskit")
    job = finished_job(emu, Circuit(qubits=2).x(1).with_readout(readout), shots=10)
    code, out = cli(emu, capsys, "--json", "result", job, "--counts")
    assert code == 0
    # Classical bit 0 reads qubit 1 (1), bit 1 reads qubit 0 (0): registers "b a".
    assert json.loads(out)["bitstring_counts"] == {"0 1": 10}


def test_run_writes_every_outcome_state_as_csv_rows(
    emu: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import csv

    good = tmp_path / "bell.json"
    good.write_text(json.dumps(Circuit(qubits=2, name="bell").h(0).cnot(0, 1).to_json()))
    bad = tmp_path / "typo.json"
    bad.write_text("{not json")
    table = tmp_path / "out.csv"
    code, _ = cli(emu, capsys, "run", str(good), str(bad), "--shots", "100", "--csv", str(table))
    assert code == 1  # one bad file is one bad row
    with table.open(newline="") as file:
        rows = list(csv.DictReader(file))
    states = {row["state"]: row for row in rows if row["source"].endswith("bell.json")}
    assert set(states) == {"00", "11"}
    assert all(row["status"] == "completed" and row["job_id"] for row in states.values())
    assert sum(int(row["count"]) for row in states.values()) == 100
    [invalid] = [row for row in rows if row["source"].endswith("typo.json")]
    assert invalid["status"] == "invalid" and invalid["error"]
