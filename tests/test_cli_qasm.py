"""``ionq-async run`` and ``submit`` read OpenQASM 2 and 3 files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from ionq_async.cli import ExitCode, main
from ionq_async.emulator import Emulator, EmulatorConfig

pytest.importorskip("openqasm3")

BELL2 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0],q[1];
measure q -> c;
"""
MID_CIRCUIT3 = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
x q[0];
c[0] = measure q[0];
reset q[0];
x q[1];
"""


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("IONQ_API_URL", raising=False)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[BlockingPortal, Emulator]]:
    with (
        start_blocking_portal("asyncio") as portal,
        portal.wrap_async_context_manager(Emulator(config=EmulatorConfig(time_scale=0.0))) as emu,
    ):
        yield portal, emu


@pytest.fixture
def cli(served: tuple[BlockingPortal, Emulator], capsys: pytest.CaptureFixture[str]) -> Any:
    emulator = served[1]

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--base-url", emulator.url, "--api-key", emulator.api_key, "--json", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_run_reads_a_qasm_file_as_a_circuit(cli: Any, tmp_path: Path) -> None:
    code, out, err = cli("run", write(tmp_path, "bell.qasm", BELL2))
    assert code == ExitCode.OK, err
    (entry,) = json.loads(out)["results"]
    assert entry["status"] == "completed"
    assert entry["probabilities"] == {"0": 0.5, "3": 0.5}


def test_a_file_starting_with_openqasm_is_qasm_whatever_its_name(cli: Any, tmp_path: Path) -> None:
    code, out, err = cli("run", write(tmp_path, "bell.txt", "// a Bell pair\n" + BELL2))
    assert code == ExitCode.OK, err
    assert json.loads(out)["results"][0]["probabilities"] == {"0": 0.5, "3": 0.5}


def test_submit_sends_mid_circuit_measurement_as_an_openqasm3_job(
    cli: Any, tmp_path: Path, served: tuple[BlockingPortal, Emulator]
) -> None:
    code, out, err = cli("submit", write(tmp_path, "mcm.qasm", MID_CIRCUIT3))
    assert code == ExitCode.OK, err
    (row,) = json.loads(out)
    portal, emulator = served
    portal.call(emulator.wait_for_simulations)
    code, out, err = cli("status", row["id"])
    assert code == ExitCode.OK, err
    assert json.loads(out)["type"] == "ionq.qasm3.v1"
    code, out, err = cli("result", row["id"])
    assert code == ExitCode.OK, err
    assert json.loads(out)["probabilities"] == {"2": 1.0}  # qubit 0 reset, qubit 1 set


def test_run_refers_an_openqasm3_program_to_submit(cli: Any, tmp_path: Path) -> None:
    code, _, err = cli("run", write(tmp_path, "mcm.qasm", MID_CIRCUIT3))
    assert code == ExitCode.INVALID_INPUT
    assert "ionq.qasm3.v1" in err and "use submit" in err


def test_a_bad_qasm_file_names_the_file_and_the_line(cli: Any, tmp_path: Path) -> None:
    bad = BELL2.replace("cx q[0],q[1];", "cz q[0] q[1];")
    code, _, err = cli("run", write(tmp_path, "bad.qasm", bad))
    assert code == ExitCode.INVALID_INPUT
    assert "bad.qasm" in err and "line 6" in err


def test_json_inputs_are_read_as_before(cli: Any, tmp_path: Path) -> None:
    circuit = {"qubits": 1, "circuit": [{"gate": "x", "target": 0}]}
    code, out, err = cli("run", write(tmp_path, "x.json", json.dumps(circuit)))
    assert code == ExitCode.OK, err
    assert json.loads(out)["results"][0]["probabilities"] == {"1": 1.0}
    code, _, err = cli("run", write(tmp_path, "broken.json", "{"))
    assert code == ExitCode.INVALID_INPUT
    assert "not valid JSON" in err
