"""Spend as it runs: estimated and actual cost per job, sums by backend, the budget rule;
and which failed jobs may be retried."""

from __future__ import annotations

import anyio
import pytest

from ionq_async._failures import (
    PERMANENT_FAILURE_CODES,
    TRANSIENT_FAILURE_CODES,
    is_transient_failure,
)
from ionq_async._spend import Spend, record_cost, track_cost
from ionq_async.exceptions import BudgetExceededError, InvalidRequestError, IonQError, ResponseError
from ionq_async.models import Cost, Failure, Job, JobStatus, Money


def test_a_jobs_actual_cost_replaces_its_estimate_in_what_is_committed() -> None:
    spend = Spend()
    spend.record_estimate("a", "qpu.forte-1", 100.0)
    spend.record_estimate("b", "qpu.forte-1", 50.0)
    assert spend.committed() == 150.0
    spend.record_actual("a", "qpu.forte-1", 80.0)
    assert spend.estimated() == 150.0
    assert spend.actual() == 80.0
    assert spend.committed() == 130.0
    assert spend.committed(remaining_estimate=20.0) == 150.0


def test_sums_by_backend_in_first_seen_order() -> None:
    spend = Spend()
    spend.record_estimate("a", "qpu.forte-1", 100.0)
    spend.record_estimate("s", "simulator", 0.0)
    spend.record_estimate("b", "qpu.aria-1", 30.0)
    spend.record_actual("b", "qpu.aria-1", 31.5)
    spend.record_estimate("c", "qpu.forte-1", 10.0)
    sums = spend.by_backend()
    assert list(sums) == ["qpu.forte-1", "simulator", "qpu.aria-1"]
    forte = sums["qpu.forte-1"]
    assert (forte.jobs, forte.estimated, forte.actual, forte.committed) == (2, 110.0, 0.0, 110.0)
    aria = sums["qpu.aria-1"]
    assert (aria.jobs, aria.estimated, aria.actual, aria.committed) == (1, 30.0, 31.5, 31.5)
    assert spend.estimated("qpu.forte-1") == 110.0
    assert spend.actual("qpu.aria-1") == 31.5


def test_recording_a_job_again_updates_it_instead_of_counting_it_twice() -> None:
    spend = Spend()
    spend.record_estimate("a", "qpu.forte-1", 100.0)
    spend.record_estimate("a", "qpu.forte-1", 120.0)
    assert spend.estimated() == 120.0
    assert len(spend.jobs) == 1


def test_the_cost_endpoints_answer_is_recorded_whole() -> None:
    spend = Spend()
    billed = Cost(
        dry_run=False,
        estimated_cost=Money(value=24.83, unit="usd"),
        cost=Money(value=25.0, unit="usd"),
    )
    record = spend.record("a", "qpu.forte-1", billed)
    assert (record.estimated, record.actual) == (24.83, 25.0)
    unbilled = Cost(dry_run=False, estimated_cost=Money(value=10.0, unit="usd"))
    assert spend.record("b", "qpu.forte-1", unbilled).actual is None
    dry = Cost(
        dry_run=True, estimated_cost=Money(value=5, unit="usd"), cost=Money(value=5, unit="usd")
    )
    assert spend.record("c", "qpu.forte-1", dry).actual is None
    assert spend.unit == "usd"


def test_amounts_in_two_units_are_refused_not_summed() -> None:
    spend = Spend()
    spend.record_estimate("a", "qpu.forte-1", 1.0, unit="usd")
    with pytest.raises(ResponseError, match="'credit' among costs in 'usd'"):
        spend.record_estimate("b", "qpu.forte-1", 1.0, unit="credit")
    assert len(spend.jobs) == 1


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), True, "3"])
def test_a_bad_amount_is_refused(bad: object) -> None:
    with pytest.raises(InvalidRequestError, match="cost must be"):
        Spend().record_estimate("a", "qpu.forte-1", bad)  # type: ignore[arg-type]


def test_would_cross_counts_actuals_estimates_and_the_next_job() -> None:
    spend = Spend()
    spend.record_estimate("a", "qpu.forte-1", 100.0)
    spend.record_actual("a", "qpu.forte-1", 90.0)
    spend.record_estimate("b", "qpu.forte-1", 50.0)
    # committed 140 + next 60 = 200: exactly the budget is not crossing it.
    assert not spend.would_cross(200.0, 60.0)
    assert spend.would_cross(200.0, 60.01)
    assert spend.would_cross(100.0, 1.0)


def test_a_reservation_that_never_became_a_job_is_released() -> None:
    spend = Spend()
    spend.record_estimate("token-1", "qpu.forte-1", 100.0)
    assert spend.would_cross(150.0, 60.0)
    assert spend.discard("token-1") is not None
    assert not spend.would_cross(150.0, 60.0)
    assert spend.discard("token-1") is None


def test_a_free_job_never_crosses_even_a_spent_budget() -> None:
    spend = Spend()
    spend.record_estimate("a", "qpu.forte-1", 500.0)
    assert spend.would_cross(100.0, 1.0)
    assert not spend.would_cross(100.0, 0.0)


def test_sums_of_cents_do_not_cross_by_float_error() -> None:
    spend = Spend()
    spend.record_estimate("a", "qpu.forte-1", 0.1)
    assert 0.1 + 0.2 > 0.3  # what floats make of it
    assert not spend.would_cross(0.3, 0.2)


async def test_track_cost_sees_what_is_recorded_inside_it_and_in_tasks_it_starts() -> None:
    lifetime = Spend()
    record_cost(lifetime, "before", "qpu.forte-1", estimated=1.0)
    with track_cost() as outer:
        record_cost(lifetime, "a", "qpu.forte-1", estimated=10.0)
        with track_cost() as inner:

            async def in_a_task() -> None:
                record_cost(lifetime, "b", "qpu.aria-1", estimated=5.0, actual=6.0)

            async with anyio.create_task_group() as group:
                group.start_soon(in_a_task)
        record_cost(lifetime, "c", "qpu.forte-1", estimated=2.0)
    record_cost(lifetime, "after", "qpu.forte-1", estimated=100.0)
    assert [j.job_id for j in lifetime.jobs] == ["before", "a", "b", "c", "after"]
    assert [j.job_id for j in outer.jobs] == ["a", "b", "c"]
    assert [j.job_id for j in inner.jobs] == ["b"]
    assert inner.actual() == 6.0
    assert outer.committed() == 18.0


def test_the_repr_names_counts_and_sums_only() -> None:
    spend = Spend()
    spend.record_estimate("a", "qpu.forte-1", 12.5)
    assert repr(spend) == "<Spend 1 jobs, estimated 12.50 usd, actual 0.00 usd>"


def test_budget_exceeded_while_running_names_the_circuit_and_the_amounts() -> None:
    error = BudgetExceededError(200.0, committed=150.0, next_cost=97.5, currency="usd", index=7)
    assert isinstance(error, IonQError)
    assert error.estimate is None
    assert str(error) == (
        "circuit 7: not submitted: 150.00 usd committed and its job's 97.50 usd would cross "
        "the budget of 200.00 usd"
    )


# -- retry classification -----------------------------------------------------------------


def failed(code: str | None) -> Job:
    failure = None if code is None else Failure(code=code, message="...")
    return Job(id="j", status=JobStatus.FAILED, failure=failure)


@pytest.mark.parametrize("code", sorted(TRANSIENT_FAILURE_CODES))
def test_transient_failures_may_be_retried(code: str) -> None:
    assert is_transient_failure(failed(code))
    assert is_transient_failure(Failure(code=code))
    assert is_transient_failure(code)


@pytest.mark.parametrize(
    "code", ["NotEnoughQubits", "TooManyShots", "TooManyGates", "UnsupportedGate", "InvalidInput"]
)
def test_permanent_failures_are_never_retried(code: str) -> None:
    assert code in PERMANENT_FAILURE_CODES
    assert not is_transient_failure(failed(code))


def test_unknown_or_missing_codes_are_not_retried() -> None:
    assert not is_transient_failure(failed("SomethingNew"))
    assert not is_transient_failure(failed(None))
    assert not is_transient_failure(None)


def test_a_job_that_did_not_fail_is_not_a_transient_failure() -> None:
    canceled = Job(
        id="j", status=JobStatus.CANCELED, failure=Failure(code="SystemCancel", message="...")
    )
    assert not is_transient_failure(canceled)
    assert not is_transient_failure(Job(id="j", status=JobStatus.COMPLETED))


def test_every_failure_code_of_the_api_is_classified_once() -> None:
    # The Failure.code enum of IonQ's OpenAPI description (reference/ionq-api-notes.md 6.2).
    api_codes = {
        "InvalidInput", "CompilationError", "ContractExpiredError", "DebiasingError",
        "InternalError", "NotEnoughQubits", "OptimizationError", "PreflightError",
        "QuantumCircuitComplexityError", "QuantumComputerError", "QuotaExhaustedError",
        "SimulationError", "SimulationTimeout", "SystemCancel", "TooLongPredictedExecutionTime",
        "TooManyControls", "TooManyGates", "TooManyShots", "UnknownBillingError",
        "UnsupportedGate",
    }  # fmt: skip
    assert api_codes == TRANSIENT_FAILURE_CODES | PERMANENT_FAILURE_CODES
    assert not TRANSIENT_FAILURE_CODES & PERMANENT_FAILURE_CODES
