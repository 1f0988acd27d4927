"""The command line checks backend and noise-model names before any request: a typo gets
"did you mean" and the list, and no job is created (issue 14, item 4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ionq_async import Circuit
from ionq_async.cli import main
from ionq_async.emulator import BackgroundEmulator, EmulatorConfig

BELL = Circuit(qubits=2).h(0).cnot(0, 1)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No key or URL of the developer's; ``run``'s journals in the test's own folder."""
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    monkeypatch.delenv("IONQ_API_URL", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture
def emulator() -> Iterator[BackgroundEmulator]:
    with BackgroundEmulator(config=EmulatorConfig(time_scale=0.0)) as emu:
        yield emu


def files(tmp_path: Path) -> dict[str, str]:
    circuit = tmp_path / "bell.json"
    circuit.write_text(json.dumps(BELL.to_json()))
    payload = tmp_path / "payload.json"
    payload.write_text(
        json.dumps({"type": "ionq.circuit.v1", "backend": "simulator", "input": BELL.to_json()})
    )
    return {"run": str(circuit), "submit": str(payload)}


@pytest.mark.parametrize("command", ["run", "submit"])
@pytest.mark.parametrize(
    ("option", "typo", "hint", "listed"),
    [
        ("--backend", "simulater", "did you mean 'simulator'", "qpu.forte-enterprise-1"),
        ("--backend", "qpu.forte1", "did you mean 'qpu.forte-1'", "simulator"),
        ("--noise-model", "aria", "did you mean 'aria-1' or 'aria-2'", "forte-enterprise-1"),
    ],
)
def test_a_misspelled_name_says_what_was_meant_and_creates_no_job(
    command: str,
    option: str,
    typo: str,
    hint: str,
    listed: str,
    emulator: BackgroundEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = files(tmp_path)[command]
    code = main(
        ["--base-url", emulator.url, "--api-key", emulator.api_key, command, option, typo, path]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert hint in err
    assert listed in err  # the list of valid names
    assert emulator.stats.jobs_created == 0
