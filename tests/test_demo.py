"""The demo: its seeded circuits, and a whole run end to end on the in-process emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)

from ionq_async.cli import main
from ionq_async.cli.demo import INVALID_NAME, INVALID_QUBITS, demo_circuits


def test_demo_circuits_are_the_same_on_every_call() -> None:
    first = [c.to_json() for c in demo_circuits(200)]
    second = [c.to_json() for c in demo_circuits(200)]
    assert first == second


def test_demo_has_the_requested_number_of_circuits_with_exactly_one_invalid() -> None:
    circuits = demo_circuits(200)
    assert len(circuits) == 200
    assert [c.name for c in circuits].count(INVALID_NAME) == 1


def test_demo_mixes_bell_ghz_up_to_ten_qubits_and_random_circuits() -> None:
    kinds = Counter((c.name or "").split("-")[0] for c in demo_circuits(200))
    assert kinds["bell"] == 4
    assert kinds["ghz"] == 9
    assert kinds["random"] == 200 - 4 - 9 - 1
    widths = {c.num_qubits for c in demo_circuits(200) if (c.name or "").startswith("ghz")}
    assert widths == set(range(2, 11))


def test_every_demo_circuit_but_the_invalid_one_passes_validation() -> None:
    for circuit in demo_circuits(200):
        circuit.validate()  # the invalid one is only too wide for the backend
        if circuit.name == INVALID_NAME:
            assert circuit.num_qubits == INVALID_QUBITS


def test_a_small_demo_still_holds_the_invalid_circuit() -> None:
    names = [c.name for c in demo_circuits(2)]
    assert len(names) == 2
    assert INVALID_NAME in names


def test_demo_refuses_fewer_than_two_circuits() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        demo_circuits(1)


def test_demo_runs_end_to_end_and_reports_the_one_expected_failure(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["demo", "--fast", "--json", "--circuits", "60"])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 0, captured.err
    assert report["ok"] is True
    assert report["total"] == 60
    assert report["completed"] == 59
    assert report["failed"] == 1
    [failure] = report["failures"]
    assert failure["name"] == INVALID_NAME
    assert failure.get("code") == "NotEnoughQubits" or failure["type"] == "CircuitError"
    assert report["jobs_per_s"] > 0
    assert report["requests_per_job"] > 0
    samples = {s["name"]: s["bitstring_counts"] for s in report["samples"]}
    assert samples["bell-phi+"] == {"00": 500, "11": 500}
    assert samples["ghz-10"] == {"0" * 10: 500, "1" * 10: 500}


def test_demo_prints_tables_and_a_summary_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--fast", "--circuits", "20"])
    out = capsys.readouterr().out
    assert code == 0
    assert "bell-phi+" in out
    assert "completed" in out
    assert "19 of 20" in out
    assert "NotEnoughQubits" in out or "CircuitError" in out
    assert "requests per job" in out


def test_the_module_entry_point_runs_the_demo_with_only_json_on_stdout() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ionq_async", "demo", "--fast", "--json", "--circuits", "30"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["completed"] == 29
    assert report["ok"] is True
