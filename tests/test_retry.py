"""The retry policy as pure functions: what is retried, how long to wait, when to stop."""

from __future__ import annotations

import email.utils
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ionq_async._retry import (
    RetryPolicy,
    backoff_s,
    fits_budget,
    is_retryable_status,
    is_retryable_transport_failure,
    parse_retry_after,
    retry_after_beyond_budget,
    retry_wait_s,
    should_retry,
)
from ionq_async.exceptions import ConfigurationError


class FixedRandom:
    """A random source that always returns the same value."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


NOW = 1_800_000_000.0

TRANSIENT = [408, 429, 500, 502, 503, 504, *range(520, 530)]
PERMANENT = [400, 401, 403, 404, 405, 410, 413, 422, 501, 505]


@pytest.mark.parametrize("status", TRANSIENT)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "get"])
def test_idempotent_requests_retry_transient_statuses(status: int, method: str) -> None:
    assert is_retryable_status(status, method)


@pytest.mark.parametrize("status", PERMANENT)
def test_client_errors_and_unusual_5xx_are_not_retried(status: int) -> None:
    assert not is_retryable_status(status, "GET")


def test_409_is_retried_on_get_only() -> None:
    assert is_retryable_status(409, "GET")
    assert not is_retryable_status(409, "PUT")
    assert not is_retryable_status(409, "DELETE")
    assert not is_retryable_status(409, "POST")


@pytest.mark.parametrize("status", [s for s in TRANSIENT if s != 429] + [409])
def test_job_creation_is_not_retried_after_an_answer_that_may_have_created_it(status: int) -> None:
    assert not is_retryable_status(status, "POST", is_job_creation=True)


def test_job_creation_is_retried_after_429_because_the_server_refused_it() -> None:
    assert is_retryable_status(429, "POST", is_job_creation=True)


def test_any_post_follows_the_creation_rule() -> None:
    assert is_retryable_status(429, "POST")
    assert not is_retryable_status(503, "POST")


def test_a_request_that_never_left_is_always_retryable() -> None:
    assert is_retryable_transport_failure("POST", request_sent=False, is_job_creation=True)
    assert is_retryable_transport_failure("GET", request_sent=False)


def test_an_ambiguous_failure_retries_idempotent_requests_only() -> None:
    assert is_retryable_transport_failure("GET", request_sent=True)
    assert is_retryable_transport_failure("DELETE", request_sent=True)
    assert not is_retryable_transport_failure("POST", request_sent=True, is_job_creation=True)
    assert not is_retryable_transport_failure("POST", request_sent=True)


def test_permanent_transport_failures_are_never_retried() -> None:
    assert not is_retryable_transport_failure("GET", request_sent=False, permanent=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), (" 1.5 ", 1.5), ("0", 0.0), ("120", 120.0)],
)
def test_retry_after_in_seconds(value: str, expected: float) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_retry_after_as_an_http_date() -> None:
    header = email.utils.formatdate(NOW + 30, usegmt=True)
    assert parse_retry_after(header, NOW) == pytest.approx(30.0)


def test_retry_after_date_in_the_past_means_no_wait() -> None:
    header = email.utils.formatdate(NOW - 300, usegmt=True)
    assert parse_retry_after(header, NOW) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-3", "nan", "inf", "Mon, 99 Foo 2026"])
def test_unreadable_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


def test_backoff_grows_exponentially_and_is_capped() -> None:
    policy = RetryPolicy(initial_backoff_s=0.25, multiplier=2.0, max_backoff_s=1.5, jitter=0.0)
    waits = [backoff_s(n, policy, FixedRandom(0.0)) for n in range(1, 6)]
    assert waits == [0.25, 0.5, 1.0, 1.5, 1.5]


def test_backoff_jitter_removes_at_most_the_jitter_fraction() -> None:
    policy = RetryPolicy(initial_backoff_s=1.0, jitter=0.5)
    assert backoff_s(1, policy, FixedRandom(0.0)) == 1.0
    assert backoff_s(1, policy, FixedRandom(0.999999)) == pytest.approx(0.5, abs=1e-5)


def test_backoff_survives_huge_attempt_numbers() -> None:
    policy = RetryPolicy(max_backoff_s=30.0, jitter=0.0)
    assert backoff_s(10_000, policy, FixedRandom(0.0)) == 30.0


@given(
    attempt=st.integers(min_value=1, max_value=200),
    draw=st.floats(min_value=0.0, max_value=0.999999),
    jitter=st.floats(min_value=0.0, max_value=1.0),
)
def test_backoff_stays_within_its_bounds(attempt: int, draw: float, jitter: float) -> None:
    policy = RetryPolicy(jitter=jitter)
    wait = backoff_s(attempt, policy, FixedRandom(draw))
    assert 0.0 <= wait <= policy.max_backoff_s


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    policy = RetryPolicy(max_retry_after_s=120.0)
    assert retry_wait_s(1, policy, FixedRandom(0.0), 7.0) == 7.0
    assert retry_wait_s(1, policy, FixedRandom(0.0), 3600.0) == 120.0


def test_without_retry_after_the_wait_is_the_backoff() -> None:
    policy = RetryPolicy(initial_backoff_s=0.25, jitter=0.0)
    assert retry_wait_s(3, policy, FixedRandom(0.0), None) == 1.0


def test_the_attempt_budget_counts_the_first_try() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert should_retry(1, 0.0, 0.0, policy)
    assert should_retry(2, 0.0, 0.0, policy)
    assert not should_retry(3, 0.0, 0.0, policy)


def test_the_time_budget_includes_the_coming_wait() -> None:
    policy = RetryPolicy(max_total_s=10.0)
    assert should_retry(1, 4.0, 6.0, policy)
    assert not should_retry(1, 4.0, 6.5, policy)


def test_a_wait_fits_the_budget_up_to_its_last_second() -> None:
    policy = RetryPolicy(max_total_s=60.0)
    assert fits_budget(20.0, 40.0, policy)
    assert not fits_budget(20.0, 40.5, policy)


@pytest.mark.parametrize(
    ("retry_after", "beyond"),
    [(None, False), (0.0, False), (60.0, False), (60.5, True), (120.0, True), (999999.0, True)],
)
def test_a_retry_after_is_beyond_the_budget_when_no_fresh_request_would_wait_it(
    retry_after: float | None, beyond: bool
) -> None:
    # The default policy: 60 s in all, Retry-After honoured up to 120 s.
    assert retry_after_beyond_budget(retry_after, RetryPolicy()) is beyond


def test_a_retry_after_over_the_cap_is_waited_as_the_cap_when_the_cap_fits() -> None:
    policy = RetryPolicy(max_retry_after_s=10.0, max_total_s=1000.0)
    assert not retry_after_beyond_budget(3600.0, policy)


def test_no_wait_policy_never_waits_even_for_retry_after() -> None:
    policy = RetryPolicy.no_wait()
    assert backoff_s(5, policy, FixedRandom(0.3)) == 0.0
    assert retry_wait_s(1, policy, FixedRandom(0.3), 30.0) == 0.0
    assert policy.max_attempts == 5


def test_never_policy_makes_one_attempt() -> None:
    assert not should_retry(1, 0.0, 0.0, RetryPolicy.never())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_total_s": -1.0},
        {"initial_backoff_s": float("nan")},
        {"multiplier": 0.5},
        {"jitter": 1.5},
        {"jitter": float("nan")},
        {"multiplier": float("nan")},
        {"server_error_burst": 0},
        {"max_attempts": 2.5},
        {"max_attempts": "3"},
        {"max_attempts": True},
        {"max_total_s": "60"},
        {"server_error_window_s": float("inf")},
    ],
)
def test_nonsense_policies_are_refused_with_a_configuration_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(kwargs))):
        RetryPolicy(**kwargs)
