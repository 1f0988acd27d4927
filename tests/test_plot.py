"""Histograms with matplotlib (issue 12): ``result.plot()`` and ``plot_results`` comparing
several results on one Axes; without matplotlib, MissingExtraError naming ``[plot]``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from ionq_async._batch.values import Outcome
from ionq_async._plot import OTHER_LABEL, plot_results
from ionq_async.exceptions import InvalidRequestError, JobFailed, MissingExtraError
from ionq_async.models import Failure, Job, JobStats, JobStatus, Noise
from ionq_async.readout import Readout
from ionq_async.results import Result

matplotlib = pytest.importorskip("matplotlib", reason="the [plot] extra is not installed")
matplotlib.use("Agg", force=True)
pyplot = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    yield
    pyplot.close("all")


def result(
    probabilities: dict[int, float],
    *,
    job_id: str = "job-1",
    backend: str = "simulator",
    noise: str | None = None,
    shots: int | None = 1000,
    qubits: int = 2,
    readout: Readout | None = None,
) -> Result:
    job = Job(
        id=job_id,
        status=JobStatus.COMPLETED,
        backend=backend,
        noise=None if noise is None else Noise(model=noise),
        stats=JobStats(qubits=qubits),
    )
    return Result(job=job, probabilities=probabilities, shots=shots, readout=readout)


def bars(ax: Any, series: int = 0) -> list[float]:
    return [patch.get_height() for patch in ax.containers[series]]


def ticks(ax: Any) -> list[str]:
    return [label.get_text() for label in ax.get_xticklabels()]


def test_plot_draws_the_probabilities_in_state_order_and_returns_the_axes() -> None:
    ax = result({3: 0.4, 0: 0.5, 1: 0.1}).plot()
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ticks(ax) == ["00", "01", "11"]
    assert bars(ax) == pytest.approx([0.5, 0.1, 0.4])
    assert ax.get_ylabel() == "probability"


def test_sort_by_probability_puts_the_most_likely_first() -> None:
    ax = result({3: 0.4, 0: 0.5, 1: 0.1}).plot(sort="probability")
    assert ticks(ax) == ["00", "11", "01"]
    assert bars(ax) == pytest.approx([0.5, 0.4, 0.1])


def test_outcomes_past_top_share_one_other_bar() -> None:
    ax = result({0: 0.4, 1: 0.3, 2: 0.2, 3: 0.1}).plot(top=2)
    assert ticks(ax) == ["00", "01", OTHER_LABEL]
    assert bars(ax) == pytest.approx([0.4, 0.3, 0.3])


def test_counts_draws_the_shot_counts() -> None:
    ax = result({0: 0.25, 3: 0.75}, shots=200).plot(counts=True)
    assert bars(ax) == [50, 150]
    assert ax.get_ylabel() == "count"


def test_counts_without_shots_says_to_pass_them() -> None:
    with pytest.raises(InvalidRequestError, match="pass shots="):
        result({0: 1.0}, shots=None).plot(counts=True)


def test_bars_are_keyed_by_classical_bits_with_a_readout() -> None:
    readout = Readout(clbits=(1, 0), style="qiskit")  # qubit 0 into classical bit 1
    ax = result({1: 1.0}, readout=readout).plot()
    assert ticks(ax) == ["10"]


def test_plot_draws_on_the_axes_it_is_given() -> None:
    _figure, given = pyplot.subplots()
    figures = pyplot.get_fignums()
    ax = result({0: 1.0}).plot(given, color="red")
    assert ax is given
    assert pyplot.get_fignums() == figures
    assert ax.containers[0][0].get_facecolor()[:3] == pytest.approx((1.0, 0.0, 0.0))


def test_plot_results_compares_results_as_grouped_bars_over_the_union_of_states() -> None:
    ideal = result({0: 0.5, 3: 0.5}, job_id="ideal-job")
    noisy = result({0: 0.45, 3: 0.45, 1: 0.05, 2: 0.05}, job_id="noisy-job", noise="aria-1")
    qpu = result({0: 0.4, 3: 0.4, 1: 0.2}, job_id="qpu-job", backend="qpu.aria-1")
    ax = plot_results([ideal, noisy, qpu])
    assert ticks(ax) == ["00", "01", "10", "11"]
    assert bars(ax, 0) == pytest.approx([0.5, 0.0, 0.0, 0.5])
    assert bars(ax, 1) == pytest.approx([0.45, 0.05, 0.05, 0.45])
    assert bars(ax, 2) == pytest.approx([0.4, 0.2, 0.0, 0.4])
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["simulator", "simulator (aria-1 noise)", "qpu.aria-1"]
    # Each group's bars sit side by side around the state's tick.
    first = [container[0] for container in ax.containers]
    centres = [bar.get_x() + bar.get_width() / 2 for bar in first]
    assert centres == sorted(centres) and centres[1] == pytest.approx(0.0)


def test_plot_results_takes_labels_and_outcomes() -> None:
    outcome = Outcome(
        index=4, name=None, circuit=None, job=None, result=result({0: 1.0}), error=None
    )
    ax = plot_results([result({3: 1.0}), outcome], labels=["expected", "measured"])
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["expected", "measured"]
    assert bars(ax, 1) == pytest.approx([1.0, 0.0])


def test_equal_default_labels_are_told_apart_by_job() -> None:
    ax = plot_results([result({0: 1.0}, job_id="aaaaaaaa-1"), result({0: 1.0}, job_id="bbbb")])
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["simulator · aaaaaaaa", "simulator · bbbb"]


def test_a_failed_outcome_is_refused_naming_its_error() -> None:
    job = Job(id="bad", status=JobStatus.FAILED, failure=Failure(code="NotEnoughQubits"))
    outcome = Outcome(index=7, name=None, circuit=None, job=job, result=None, error=JobFailed(job))
    with pytest.raises(InvalidRequestError, match=r"outcome 7 failed.*JobFailed"):
        plot_results([result({0: 1.0}), outcome])


def test_bad_arguments_are_named() -> None:
    one = result({0: 1.0})
    with pytest.raises(InvalidRequestError, match="labels must name each of the 2 results"):
        plot_results([one, one], labels=["only one"])
    with pytest.raises(InvalidRequestError, match="did you mean 'state'"):
        one.plot(sort="states")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="top must be a positive integer"):
        one.plot(top=0)
    with pytest.raises(InvalidRequestError, match="at least one result"):
        plot_results([])


def test_without_matplotlib_plot_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError, match=r'pip install "ionq-async\[plot\]"') as caught:
        result({0: 1.0}).plot()
    assert caught.value.extra == "plot"
    assert caught.value.module == "matplotlib"


def test_a_fresh_interpreter_without_matplotlib_imports_and_names_the_extra() -> None:
    code = """
import sys
sys.modules["matplotlib"] = None
import ionq_async
from ionq_async.models import Job, JobStatus
from ionq_async.results import Result
result = Result(job=Job(id="j", status=JobStatus.COMPLETED), probabilities={0: 1.0}, shots=5)
try:
    result.plot()
except ionq_async.MissingExtraError as error:
    print(error)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == (
        'matplotlib is not installed: pip install "ionq-async[plot]" to use it'
    )
