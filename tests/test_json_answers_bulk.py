"""Shots and histograms as decoded from JSON are read in bulk when every entry is plainly
valid, and one at a time otherwise: both ways give the same states, counts and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ionq_async import ResponseError, _answers
from ionq_async._answers import read_histogram, read_shots

WHAT = "GET /jobs/j/results/x"

_keys = st.one_of(
    st.integers(0, 2**12).map(str),
    st.integers(0, 2**70).map(str),
    st.sampled_from(["01", "007", "", "-1", "x", "1.0", "\u0663", " 1", "9" * 31, True]),
)
_counts = st.one_of(
    st.integers(0, 10**6),
    st.integers(-3, -1),
    st.sampled_from([2.0, 2.5, float("inf"), True, None, "3", 10**30]),
)
_shots = st.one_of(
    st.integers(0, 2**12),
    st.integers(0, 2**12).map(str),
    st.sampled_from([-1, "01", "", "1e3", "\u0663", 2**70, str(2**70), True, 1.0, None]),
)


def _outcome(read: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "value", read()
    except ResponseError as error:
        return "error", str(error)


@settings(max_examples=300, deadline=None)
@given(
    data=st.dictionaries(_keys, _counts, max_size=8),
    num_qubits=st.sampled_from([None, 4, 12, 80]),
    use_total=st.booleans(),
)
def test_a_histogram_reads_the_same_in_bulk_and_one_entry_at_a_time(
    data: dict[Any, Any], num_qubits: int | None, use_total: bool
) -> None:
    total = sum(v for v in data.values() if type(v) is int) if use_total else None

    def read() -> dict[int, int]:
        return read_histogram(data, what=WHAT, num_qubits=num_qubits, shots=total)

    bulk = _outcome(read)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_answers, "_bulk_histogram", lambda *_: None)
        careful = _outcome(read)
    assert bulk == careful
    if bulk[0] == "value":
        assert list(bulk[1].items()) == list(careful[1].items())  # same order too


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(_shots, max_size=8) | st.lists(st.integers(0, 2**12), max_size=8),
    num_qubits=st.sampled_from([None, 4, 12, 80]),
)
def test_shots_read_the_same_in_bulk_and_one_at_a_time(
    data: list[Any], num_qubits: int | None
) -> None:
    def read() -> list[int]:
        return read_shots(data, what=WHAT, num_qubits=num_qubits)

    bulk = _outcome(read)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_answers, "_bulk_shots", lambda *_: None)
        careful = _outcome(read)
    assert bulk == careful


def test_keys_naming_one_state_twice_are_summed() -> None:
    counts = read_histogram({"1": 2, "01": 3, "2": 5}, what=WHAT, num_qubits=2, shots=10)
    assert counts == {1: 5, 2: 5}


def test_a_large_histogram_is_read_with_int_states_in_answer_order() -> None:
    data = {str(state): state % 7 + 1 for state in range(2**16 - 1, -1, -1)}
    counts = read_histogram(data, what=WHAT, num_qubits=16, shots=sum(data.values()))
    assert list(counts) == list(range(2**16 - 1, -1, -1))
    assert counts[0] == 1 and counts[2**16 - 1] == (2**16 - 1) % 7 + 1


def test_a_large_list_of_shots_beyond_the_width_names_the_shot() -> None:
    data = [str(state % 16) for state in range(10_000)] + ["16"]
    with pytest.raises(ResponseError, match="shot 10000 is state 16, beyond 4 qubits"):
        read_shots(data, what=WHAT, num_qubits=4)


def test_an_infinite_count_is_a_response_error() -> None:
    # json reads 1e400 as inf; int(inf) raised OverflowError out of the reader before.
    with pytest.raises(ResponseError, match="not a whole number of shots"):
        read_histogram({"0": float("inf")}, what=WHAT, num_qubits=1, shots=None)
