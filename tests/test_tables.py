"""Results as tables (issue 12): ``to_rows`` (plain rows ``csv`` writes) and
``to_dataframe`` (pandas, extra ``[pandas]``), one row per circuit and outcome state; a
failed circuit is one row carrying its error, never an empty result."""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
from batch_helpers import SetPollSchedules

from ionq_async import Circuit, Client, Parameter, Readout, RetryPolicy
from ionq_async._batch.values import Outcome
from ionq_async.batch import PollSchedule
from ionq_async.emulator import Emulator, EmulatorConfig
from ionq_async.exceptions import (
    CircuitError,
    InvalidRequestError,
    JobFailed,
    MissingExtraError,
)
from ionq_async.models import Failure, Job, JobStatus
from ionq_async.results import Result
from ionq_async.tables import to_dataframe, to_rows

pandas = pytest.importorskip("pandas", reason="the [pandas] extra is not installed")

FAST = PollSchedule(initial_s=0.002, factor=1.0, max_s=0.002, jitter=0.0)
THETA = Parameter("theta")


def completed_job(job_id: str, *, qubits: int = 2) -> Job:
    from ionq_async.models import JobStats

    return Job(
        id=job_id,
        status=JobStatus.COMPLETED,
        backend="simulator",
        stats=JobStats(qubits=qubits),
    )


def bell_result(job_id: str = "job-a", shots: int | None = 100) -> Result:
    return Result(job=completed_job(job_id), probabilities={0: 0.5, 3: 0.5}, shots=shots)


def failed_job(job_id: str) -> Job:
    return Job(
        id=job_id,
        status=JobStatus.FAILED,
        backend="simulator",
        failure=Failure(code="NotEnoughQubits", error="too wide"),
    )


def mixed_batch() -> list[Outcome]:
    """Circuit 0 completed (theta=0), circuit 1 failed (theta=1.5), circuit 2 completed."""
    failing = failed_job("job-b")
    return [
        Outcome(
            index=0,
            name="bell",
            circuit=None,
            job=completed_job("job-a"),
            result=bell_result("job-a"),
            error=None,
            parameters={"theta": 0.0},
        ),
        Outcome(
            index=1,
            name="wide",
            circuit=None,
            job=failing,
            result=None,
            error=JobFailed(failing),
            parameters={"theta": 1.5},
        ),
        Outcome(
            index=2,
            name=None,
            circuit=None,
            job=completed_job("job-c"),
            result=Result(job=completed_job("job-c"), probabilities={1: 0.25, 2: 0.75}, shots=100),
            error=None,
            parameters={"theta": 3.0},
        ),
    ]


def test_a_batch_is_one_row_per_circuit_and_state_and_a_failed_circuit_one_row() -> None:
    rows = to_rows(mixed_batch())
    assert list(rows[0]) == [
        "index",
        "name",
        "theta",
        "job_id",
        "status",
        "error_type",
        "error",
        "state",
        "probability",
        "count",
    ]
    assert [(r["index"], r["state"], r["probability"], r["count"]) for r in rows] == [
        (0, "00", 0.5, 50),
        (0, "11", 0.5, 50),
        (1, None, None, None),
        (2, "01", 0.25, 25),
        (2, "10", 0.75, 75),
    ]
    failed = rows[2]
    assert failed["status"] == "failed"
    assert failed["job_id"] == "job-b"
    assert failed["theta"] == 1.5
    assert failed["error_type"] == "JobFailed"
    assert "NotEnoughQubits" in failed["error"]
    assert [r["status"] for r in rows] == ["completed"] * 2 + ["failed"] + ["completed"] * 2
    assert [r["name"] for r in rows] == ["bell", "bell", "wide", None, None]
    assert all(r["error"] is None for r in rows if r["status"] == "completed")


def test_rows_come_in_input_order_whatever_order_the_outcomes_arrived_in() -> None:
    rows = to_rows(list(reversed(mixed_batch())))
    assert [r["index"] for r in rows] == [0, 0, 1, 2, 2]


def test_parameter_columns_follow_the_input_order() -> None:
    first, second = mixed_batch()[:2]
    later = Outcome(
        index=first.index,
        name=first.name,
        circuit=None,
        job=first.job,
        result=first.result,
        error=None,
        parameters={"alpha": 1.0, "theta": 0.0},
    )
    earlier = Outcome(
        index=second.index,
        name=second.name,
        circuit=None,
        job=second.job,
        result=None,
        error=second.error,
        parameters={"beta": 2.0},
    )
    # Outcome 1 arrives first; its parameter still comes after outcome 0's.
    assert list(to_rows([earlier, later])[0])[:5] == ["index", "name", "alpha", "theta", "beta"]


def test_every_row_has_the_same_keys_so_csv_writes_them() -> None:
    rows = to_rows(mixed_batch())
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    read = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert len(read) == 5
    assert read[2]["error_type"] == "JobFailed"
    assert read[2]["state"] == ""
    assert read[4]["state"] == "10" and read[4]["count"] == "75"


def test_the_dataframe_has_the_rows_columns_and_types() -> None:
    frame = to_dataframe(mixed_batch())
    assert list(frame.columns) == list(to_rows(mixed_batch())[0])
    assert len(frame) == 5
    assert str(frame["count"].dtype) == "Int64"
    assert frame["probability"].dtype == "float64"
    assert math.isnan(frame["probability"][2])
    assert frame["count"].isna().tolist() == [False, False, True, False, False]
    assert frame["state"].tolist()[:2] == ["00", "11"]
    assert frame.loc[frame["status"] == "failed", "error_type"].tolist() == ["JobFailed"]
    completed = frame[frame["status"] == "completed"]
    assert completed.groupby("index")["count"].sum().tolist() == [100, 100]
    assert frame["theta"].tolist() == [0.0, 0.0, 1.5, 3.0, 3.0]


def test_no_count_column_when_no_result_has_shots() -> None:
    rows = to_rows([bell_result(shots=None)])
    assert "count" not in rows[0]
    assert [(r["state"], r["probability"]) for r in rows] == [("00", 0.5), ("11", 0.5)]


def test_results_given_directly_are_indexed_by_position() -> None:
    rows = to_rows([bell_result("x"), bell_result("y")])
    assert [(r["index"], r["job_id"], r["status"]) for r in rows] == [
        (0, "x", "completed"),
        (0, "x", "completed"),
        (1, "y", "completed"),
        (1, "y", "completed"),
    ]


def test_top_keeps_each_circuits_most_likely_states() -> None:
    rows = to_rows(mixed_batch(), top=1)
    assert [(r["index"], r["state"]) for r in rows] == [(0, "00"), (1, None), (2, "10")]


def test_states_are_keyed_by_classical_bits_when_the_result_has_a_readout() -> None:
    # Qubit 0 is read into classical bit 1: basis state 1 (q0 = 1) is "10".
    result = Result(
        job=completed_job("r"),
        probabilities={1: 1.0},
        shots=10,
        readout=Readout(clbits=(1, 0), style="qiskit"),
    )
    assert [(r["state"], r["count"]) for r in to_rows(result)] == [("10", 10)]
    assert result.to_dataframe()["state"].tolist() == ["10"]


def test_a_parameter_named_like_a_column_is_prefixed() -> None:
    outcome = Outcome(
        index=0,
        name=None,
        circuit=None,
        job=completed_job("p"),
        result=bell_result("p"),
        error=None,
        parameters={"state": 0.5},
    )
    row = to_rows([outcome])[0]
    assert row["parameter.state"] == 0.5
    assert row["state"] == "00"


def test_result_to_dataframe_and_to_rows() -> None:
    result = bell_result("job-z", shots=10)
    assert result.to_rows() == [
        {"job_id": "job-z", "state": "00", "probability": 0.5, "count": 5},
        {"job_id": "job-z", "state": "11", "probability": 0.5, "count": 5},
    ]
    frame = result.to_dataframe()
    assert list(frame.columns) == ["job_id", "state", "probability", "count"]
    assert frame["count"].tolist() == [5, 5]


def test_an_empty_batch_is_a_table_with_no_rows() -> None:
    assert to_rows([]) == []
    frame = to_dataframe([])
    assert len(frame) == 0
    assert "state" in frame.columns


def test_bad_input_is_named() -> None:
    with pytest.raises(InvalidRequestError, match="item 1 is a str"):
        to_rows([bell_result(), "00"])
    with pytest.raises(InvalidRequestError, match="got dict"):
        to_rows({"00": 1.0})
    with pytest.raises(InvalidRequestError, match="top must be a positive integer"):
        to_rows([bell_result()], top=0)


def test_without_pandas_to_dataframe_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingExtraError, match=r'pip install "ionq-async\[pandas\]"') as caught:
        to_dataframe(mixed_batch())
    assert caught.value.extra == "pandas"
    with pytest.raises(MissingExtraError, match=r"ionq-async\[pandas\]"):
        bell_result().to_dataframe()
    assert len(to_rows(mixed_batch())) == 5  # plain rows need nothing


def test_a_fresh_interpreter_without_pandas_has_rows_and_a_clear_error() -> None:
    code = """
import sys
sys.modules["pandas"] = None
import ionq_async
from ionq_async.models import Job, JobStatus
from ionq_async.results import Result
from ionq_async.tables import to_rows
result = Result(job=Job(id="j", status=JobStatus.COMPLETED), probabilities={0: 1.0}, shots=5)
assert to_rows([result])[0]["count"] == 5
try:
    result.to_dataframe()
except ionq_async.MissingExtraError as error:
    print(error)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert 'pip install "ionq-async[pandas]"' in done.stdout


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    poll_schedules(FAST, FAST)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(config=EmulatorConfig(time_scale=0.0)) as emulator:
        yield emulator


def client_for(emu: Emulator) -> Client:
    return Client(api_key=emu.api_key, base_url=emu.url, retry=RetryPolicy.no_wait())


async def test_a_batch_from_the_emulator_as_a_dataframe(emu: Emulator) -> None:
    good = Circuit(qubits=2, name="bell").h(0).cnot(0, 1)
    wide = Circuit(qubits=30, name="wide").x(29)  # the 29-qubit simulator fails it
    async with client_for(emu) as client:
        outcomes = [o async for o in client.run_many([good, wide], shots=200)]
    frame = to_dataframe(outcomes)
    assert frame[["index", "name", "status"]].values.tolist() == [
        [0, "bell", "completed"],
        [0, "bell", "completed"],
        [1, "wide", "failed"],
    ]
    assert frame["state"].tolist()[:2] == ["00", "11"]
    assert frame["state"].isna().tolist() == [False, False, True]
    assert frame["count"].tolist()[:2] == [100, 100]
    assert frame["count"].isna().tolist() == [False, False, True]
    assert frame["error_type"].tolist()[2] == "JobFailed"
    assert frame["job_id"].notna().all()


async def test_a_sweep_from_the_emulator_carries_its_parameter_values(emu: Emulator) -> None:
    template = Circuit(qubits=1, name="rotation").ry(THETA, 0)
    sets = [{"theta": 0.0}, {"theta": math.pi}, {"phi": 1.0}]  # the last cannot be bound
    async with client_for(emu) as client:
        outcomes = [o async for o in client.run_sweep(template, sets, shots=100)]
    assert isinstance(next(o for o in outcomes if o.index == 2).error, CircuitError)
    rows = to_rows(outcomes)
    assert [(r["index"], r["theta"], r["state"], r["count"]) for r in rows[:2]] == [
        (0, 0.0, "0", 100),
        (1, math.pi, "1", 100),
    ]
    assert len(rows) == 3
    assert rows[2]["status"] == "failed"
    assert rows[2]["error_type"] == "CircuitError"
    assert rows[2]["state"] is None
