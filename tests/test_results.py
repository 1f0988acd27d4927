"""Results: largest-remainder counts, seeded sampling, bitstrings (qubit 0 rightmost), marginals."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ionq_async.exceptions import InvalidRequestError, ResponseError
from ionq_async.models import Job, JobStats, JobStatus
from ionq_async.results import (
    Result,
    bitstring,
    counts_from_probabilities,
    marginal,
    parse_probabilities,
    sample_counts,
    to_bitstrings,
)

# --- parse_probabilities -----------------------------------------------------------------


def test_wire_probabilities_become_integer_keys() -> None:
    assert parse_probabilities({"0": 0.5, "3": 0.5}) == {0: 0.5, 3: 0.5}


def test_integer_probabilities_from_the_noiseless_simulator_are_accepted() -> None:
    assert parse_probabilities({"0": 1}) == {0: 1.0}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"a": 0.5}, "'a' is not a non-negative decimal integer"),
        ({"-1": 0.5}, "'-1' is not a non-negative decimal integer"),
        ({"1.0": 0.5}, "'1.0' is not a non-negative decimal integer"),
        ({"0": "0.5"}, "not a number: '0.5'"),
        ({"0": None}, "not a number: None"),
        ({"0": True}, "not a number: True"),
        ({"0": math.nan}, "must be finite and non-negative, got nan"),
        ({"0": -0.1}, "must be finite and non-negative, got -0.1"),
        ([0.5, 0.5], "must be a JSON object, got list"),
    ],
)
def test_bad_wire_probabilities_raise_response_error(raw: Any, problem: str) -> None:
    with pytest.raises(ResponseError, match=None) as caught:
        parse_probabilities(raw)
    assert problem in str(caught.value)


def test_a_state_written_twice_is_rejected() -> None:
    with pytest.raises(ResponseError, match="state 7 appears twice"):
        parse_probabilities({"7": 0.5, "07": 0.5})


@given(
    st.dictionaries(
        st.integers(0, 2**40).map(str),
        st.floats(0, 1) | st.integers(0, 1),
        max_size=30,
    )
)
def test_parsing_keeps_every_state_and_value(raw: dict[str, float]) -> None:
    assert parse_probabilities(raw) == {int(key): float(value) for key, value in raw.items()}


# --- counts_from_probabilities -----------------------------------------------------------


def test_ionq_example_thirds_over_ten_shots() -> None:
    assert counts_from_probabilities({0: 0.333, 1: 0.333, 2: 0.334}, 10) == {0: 3, 1: 3, 2: 4}


def test_bell_counts_split_evenly() -> None:
    assert counts_from_probabilities({0: 0.5, 3: 0.5}, 1000) == {0: 500, 3: 500}


def test_ties_go_to_the_lowest_keys() -> None:
    assert counts_from_probabilities({5: 0.25, 1: 0.25, 3: 0.25, 7: 0.25}, 2) == {1: 1, 3: 1}
    assert counts_from_probabilities({2: 1 / 3, 0: 1 / 3, 1: 1 / 3}, 1000) == {
        0: 334,
        1: 333,
        2: 333,
    }


def test_zero_counts_are_left_out() -> None:
    assert counts_from_probabilities({0: 0.999, 1: 0.001}, 10) == {0: 10}


def test_a_product_a_hair_below_a_whole_number_counts_as_that_number() -> None:
    assert 0.29 * 100 < 29  # 28.999999999999996: float error, not a fraction of a shot
    assert counts_from_probabilities({0: 0.29, 1: 0.71}, 100) == {0: 29, 1: 71}
    # Even when real fractions compete for the two leftover shots: state 0's 0.999...
    # (a float-error artefact) ranks first, then the tied halves go to the lower key.
    assert 0.29 * 100 + 0.705 * 100 + 0.005 * 100 == 100
    counts = counts_from_probabilities({0: 0.29, 1: 0.705, 2: 0.005}, 100)
    assert counts == {0: 29, 1: 71}


def test_exact_ties_that_differ_in_their_last_bits_still_go_to_the_lowest_key() -> None:
    # 1/6 and 2/3 of 62 shots are 10.333... and 41.333...: equal remainders, though their
    # float values differ in the last bits; the one leftover shot goes to state 0.
    counts = counts_from_probabilities({0: 1 / 6, 1: 2 / 3, 2: 1 / 6}, 62)
    assert counts == {0: 11, 1: 41, 2: 10}


@given(
    st.lists(st.floats(0.001, 1.0), min_size=1, max_size=6),
    st.sampled_from([10**9, 10**12, 10**15, 2**52 + 12345, 2**53 - 1, 2**53]),
)
@example([0.27, 0.1], 2**53)  # floors 1 past shots: raised ArithmeticError before
@example([0.23, 0.261, 0.212], 2**53)
def test_huge_shot_counts_still_sum_to_shots_and_skip_zero_states(
    weights: list[float], shots: int
) -> None:
    # At these counts p * shots carries float error of whole shots: the floors alone can
    # exceed shots (this raised ArithmeticError before), or fall short by many.
    total = sum(weights)
    probabilities = {key: weight / total for key, weight in enumerate(weights)}
    probabilities[len(weights)] = 0.0
    counts = counts_from_probabilities(probabilities, shots)
    assert sum(counts.values()) == shots
    assert len(weights) not in counts
    for key, p in probabilities.items():
        # Within 1 of p * shots, give or take the float error of the product itself.
        assert abs(counts.get(key, 0) - p * shots) <= 1 + 4 * p * shots * 2**-52


def test_numpy_integer_shots_are_accepted_as_the_client_accepts_them() -> None:
    assert counts_from_probabilities({0: 0.5, 3: 0.5}, np.int64(10)) == {0: 5, 3: 5}


def test_integer_values_are_accepted() -> None:
    assert counts_from_probabilities({6: 1}, 7) == {6: 7}


def test_sums_within_the_tolerance_of_one_are_accepted() -> None:
    assert counts_from_probabilities({0: 0.5, 1: 0.5 + 9e-6}, 100) == {0: 50, 1: 50}
    assert counts_from_probabilities({0: 0.5, 1: 0.5 - 9e-6}, 100) == {0: 50, 1: 50}
    # Six-decimal thirds: 1e-6 short of 1, which the earlier tolerance of 1e-6 refused.
    assert counts_from_probabilities({0: 0.333333, 1: 0.333333, 2: 0.333333}, 3) == {
        0: 1,
        1: 1,
        2: 1,
    }


@pytest.mark.parametrize(
    ("probabilities", "shots", "problem"),
    [
        ({0: 1.2, 1: -0.2}, 10, "probability of state 1 is negative: -0.2"),
        ({0: math.nan, 1: 1.0}, 10, "probability of state 0 is NaN"),
        ({0: math.inf}, 10, "probability of state 0 is infinite"),
        ({0: 0.5, 1: 0.4}, 10, "probabilities sum to 0.9, not 1"),
        ({0: 0.5, 1: 0.5 + 2e-5}, 10, "probabilities sum to 1.00002"),
        ({}, 10, "no probabilities given"),
        ({0: 1.0}, 0, "shots must be at least 1, got 0"),
        ({0: 1.0}, 2.5, "shots must be an integer"),
        ({0: 1.0}, 2**53 + 1, "shots must be at most 2**53"),
        ({0: math.nan, 1: -1.0, 2: math.inf}, 10, "probability of state 0 is NaN"),
        ({0: 1.0, 1: -1.0, 2: math.inf}, 10, "probability of state 1 is negative"),
        ({-1: 1.0}, 10, "state -1 is negative"),
    ],
)
def test_bad_probabilities_are_rejected_clearly(
    probabilities: dict[int, float], shots: Any, problem: str
) -> None:
    with pytest.raises(ValueError) as caught:
        counts_from_probabilities(probabilities, shots)
    assert problem in str(caught.value)
    # Part of the library's one error tree, and still a ValueError.
    assert isinstance(caught.value, InvalidRequestError)


@st.composite
def distributions(draw: st.DrawFn) -> dict[int, float]:
    keys = draw(st.lists(st.integers(0, 2**20), min_size=1, max_size=40, unique=True))
    # Small integer weights make exact ties (and so the tie rule) common.
    weights = draw(st.lists(st.integers(0, 6), min_size=len(keys), max_size=len(keys)).filter(any))
    total = sum(weights)
    return {key: weight / total for key, weight in zip(keys, weights, strict=True)}


@given(distributions(), st.integers(1, 100_000))
def test_counts_sum_to_shots_and_stay_within_one_of_the_exact_share(
    probabilities: dict[int, float], shots: int
) -> None:
    counts = counts_from_probabilities(probabilities, shots)
    assert sum(counts.values()) == shots
    assert set(counts) <= set(probabilities)
    for key, p in probabilities.items():
        assert abs(counts.get(key, 0) - p * shots) < 1 + 1e-9
    assert all(count > 0 for count in counts.values())


@given(distributions(), st.integers(1, 1000), st.randoms())
def test_counts_are_deterministic_whatever_the_mapping_order(
    probabilities: dict[int, float], shots: int, random: Any
) -> None:
    items = list(probabilities.items())
    random.shuffle(items)
    assert counts_from_probabilities(dict(items), shots) == counts_from_probabilities(
        probabilities, shots
    )


@given(distributions(), st.integers(1, 1000))
def test_extra_shots_go_to_the_largest_remainders(
    probabilities: dict[int, float], shots: int
) -> None:
    counts = counts_from_probabilities(probabilities, shots)
    total = sum(probabilities.values())
    # Products within 1e-9 of a whole number are that whole number (no remainder).
    fraction = {
        key: 0.0 if abs(x - round(x)) < 1e-9 else x % 1
        for key, x in ((key, p / total * shots) for key, p in probabilities.items())
    }
    promoted = {
        key
        for key, p in probabilities.items()
        if counts.get(key, 0) > math.floor(p / total * shots + 1e-9)
    }
    assert sum(counts.values()) == shots
    for up in promoted:
        for down in set(probabilities) - promoted:
            if not math.isclose(fraction[up], fraction[down], abs_tol=1e-9):
                assert fraction[up] > fraction[down]


@given(st.lists(st.integers(0, 10_000), min_size=2, max_size=50, unique=True), st.data())
def test_equal_remainders_go_to_ascending_keys(keys: list[int], data: st.DataObject) -> None:
    shots = data.draw(st.integers(1, len(keys) - 1))
    counts = counts_from_probabilities(dict.fromkeys(keys, 1 / len(keys)), shots)
    assert counts == dict.fromkeys(sorted(keys)[:shots], 1)


def test_two_to_the_twenty_outcomes_are_handled() -> None:
    size = 2**20
    probabilities = dict.fromkeys(range(size), 1 / size)
    counts = counts_from_probabilities(probabilities, 1000)
    assert counts == dict.fromkeys(range(1000), 1)


# --- sample_counts -----------------------------------------------------------------------


def test_sampling_with_a_seed_repeats_and_sums_to_shots() -> None:
    probabilities = {0: 0.5, 3: 0.5}
    first = sample_counts(probabilities, 1000, seed=42)
    assert first == sample_counts(probabilities, 1000, seed=42)
    assert sum(first.values()) == 1000
    assert set(first) == {0, 3}


def test_sampling_does_not_depend_on_mapping_order() -> None:
    forward = {0: 0.2, 1: 0.3, 2: 0.5}
    backward = dict(reversed(forward.items()))
    assert sample_counts(forward, 500, seed=7) == sample_counts(backward, 500, seed=7)


@given(distributions(), st.integers(1, 10_000), st.integers(0, 2**32))
def test_sampled_counts_sum_to_shots_over_known_states(
    probabilities: dict[int, float], shots: int, seed: int
) -> None:
    counts = sample_counts(probabilities, shots, seed=seed)
    assert sum(counts.values()) == shots
    assert all(probabilities[key] > 0 for key in counts)


def test_sampling_rejects_what_counting_rejects() -> None:
    with pytest.raises(ValueError, match=r"sum to 0\.5,"):
        sample_counts({0: 0.5}, 10, seed=1)


# --- bitstrings --------------------------------------------------------------------------


def test_qubit_zero_is_the_rightmost_bit() -> None:
    assert bitstring(2, 2) == "10"
    assert bitstring(1, 3) == "001"
    assert to_bitstrings({0: 0.5, 3: 0.5}, 2) == {"00": 0.5, "11": 0.5}
    assert to_bitstrings({2: 7}, 3) == {"010": 7}


def test_a_key_too_wide_for_the_qubits_is_rejected() -> None:
    with pytest.raises(ValueError, match="state 4 does not fit in 2 qubits"):
        bitstring(4, 2)
    with pytest.raises(ValueError, match="state 4 does not fit in 2 qubits"):
        to_bitstrings({0: 1, 4: 1}, 2)
    with pytest.raises(ValueError, match="at least 1"):
        to_bitstrings({0: 1}, 0)


# --- marginals ---------------------------------------------------------------------------


def test_marginal_sums_over_the_other_qubits() -> None:
    ghz = {0b000: 0.5, 0b111: 0.5}
    assert marginal(ghz, [0]) == {0: 0.5, 1: 0.5}
    assert marginal({0b01: 0.25, 0b10: 0.75}, [1]) == {0: 0.25, 1: 0.75}


def test_marginal_bit_i_is_the_ith_chosen_qubit() -> None:
    # State 0b100: qubit 2 is 1. Keeping [2, 0] puts qubit 2 in bit 0.
    assert marginal({0b100: 1.0}, [2, 0]) == {0b01: 1.0}
    assert marginal({0b100: 1.0}, [0, 2]) == {0b10: 1.0}


def test_marginal_of_counts_stays_integer() -> None:
    result = marginal({0b10: 5, 0b11: 3, 0b00: 2}, [1])
    assert result == {0: 2, 1: 8}
    assert all(type(v) is int for v in result.values())


@pytest.mark.parametrize(
    ("qubits", "problem"), [([], "at least one"), ([0, 0], "repeat"), ([-1], "non-negative")]
)
def test_marginal_rejects_bad_qubit_choices(qubits: list[int], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        marginal({0: 1.0}, qubits)


@given(distributions(), st.lists(st.integers(0, 21), min_size=1, max_size=5, unique=True))
def test_marginal_preserves_the_total(probabilities: dict[int, float], qubits: list[int]) -> None:
    kept = marginal(probabilities, qubits)
    assert math.isclose(sum(kept.values()), sum(probabilities.values()))
    assert all(key < 2 ** len(qubits) for key in kept)


def test_marginal_handles_keys_wider_than_64_bits() -> None:
    assert marginal({1 << 70: 0.5, 1: 0.5}, [70, 0]) == {1: 0.5, 2: 0.5}


# --- Result ------------------------------------------------------------------------------


def _job(qubits: int | None = 2) -> Job:
    return Job(id="job-1", status=JobStatus.COMPLETED, stats=JobStats(qubits=qubits))


def test_result_counts_use_the_job_shots() -> None:
    result = Result(job=_job(), probabilities={0: 0.5, 3: 0.5}, shots=1000)
    assert result.counts() == {0: 500, 3: 500}
    assert result.bitstring_counts() == {"00": 500, "11": 500}
    assert result.counts(shots=10) == {0: 5, 3: 5}


def test_result_without_shots_needs_them_passed() -> None:
    result = Result(job=_job(), probabilities={0: 1.0}, shots=None)
    with pytest.raises(ValueError, match="job job-1 has no shot count"):
        result.counts()
    assert result.counts(4) == {0: 4}


def test_result_sampling_is_seeded() -> None:
    result = Result(job=_job(), probabilities={0: 0.5, 3: 0.5}, shots=100)
    assert result.sample(seed=3) == result.sample(seed=3)
    assert sum(result.sample(seed=3).values()) == 100


def test_result_bitstrings_pad_to_the_job_qubits() -> None:
    result = Result(job=_job(qubits=3), probabilities={1: 0.25, 2: 0.75})
    assert result.num_qubits == 3
    assert result.bitstrings() == {"001": 0.25, "010": 0.75}
    assert result.marginal([1]) == {0: 0.25, 1: 0.75}


def test_result_num_qubits_falls_back_to_the_widest_key() -> None:
    assert Result(job=_job(qubits=None), probabilities={5: 1.0}).num_qubits == 3
    assert Result(job=_job(qubits=None), probabilities={0: 1.0}).num_qubits == 1
    # A too-small stats.qubits must not produce wrong bitstrings.
    assert Result(job=_job(qubits=1), probabilities={2: 1.0}).bitstrings() == {"10": 1.0}
