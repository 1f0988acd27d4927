"""A Result a person can read (issue 12): a short repr naming the job and the most likely
outcomes, and a notebook view (a table and an inline SVG histogram, no plotting library)
of bounded size, keyed as the result keys its outcomes."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import AsyncIterator
from xml.etree import ElementTree

import pytest
from batch_helpers import SetPollSchedules

from ionq_async import Circuit, Client, RetryPolicy
from ionq_async._batch.values import Outcome
from ionq_async._display import HTML_TOP, REPR_CHARS, outcome_html, outcome_repr
from ionq_async.batch import PollSchedule
from ionq_async.emulator import Emulator, EmulatorConfig
from ionq_async.exceptions import JobFailed
from ionq_async.models import Failure, Job, JobStats, JobStatus, Noise
from ionq_async.readout import Readout
from ionq_async.results import Result

JOB_ID = "0197c0de-1234-7abc-9def-0123456789ab"


def result(
    probabilities: dict[int, float],
    *,
    job_id: str = JOB_ID,
    shots: int | None = 1000,
    qubits: int = 2,
    noise: str | None = None,
    readout: Readout | None = None,
) -> Result:
    job = Job(
        id=job_id,
        status=JobStatus.COMPLETED,
        backend="simulator",
        noise=None if noise is None else Noise(model=noise),
        stats=JobStats(qubits=qubits),
    )
    return Result(job=job, probabilities=probabilities, shots=shots, readout=readout)


def uniform(qubits: int) -> dict[int, float]:
    return dict.fromkeys(range(2**qubits), 1 / 2**qubits)


def svg_of(html: str) -> ElementTree.Element:
    match = re.search(r"<svg.*?</svg>", html, re.DOTALL)
    assert match is not None, "no <svg> in the HTML"
    return ElementTree.fromstring(match.group(0))  # well-formed XML, or this raises


# -- repr -----------------------------------------------------------------------------------


def test_repr_names_the_job_backend_shots_and_top_outcomes_most_likely_first() -> None:
    text = repr(result({0: 0.25, 3: 0.7, 1: 0.05}))
    assert text == (
        f"<Result job='{JOB_ID}' backend='simulator' shots=1000 "
        "top={'11': 0.7, '00': 0.25, '01': 0.05}>"
    )


def test_repr_tells_how_many_outcomes_it_leaves_out_and_stays_short() -> None:
    text = repr(result(uniform(10), qubits=10))
    assert JOB_ID in text
    assert "'0000000000': 0.0009766" in text
    assert "+1020 more" in text
    assert len(text) < 300


def test_repr_of_a_wide_result_stays_short() -> None:
    states = [0, 2**60 - 1, *(2**bit for bit in range(52, 60))]
    wide = result(dict.fromkeys(states, 1 / len(states)), qubits=60)
    text = repr(wide)
    assert len(text) <= REPR_CHARS
    assert JOB_ID in text
    assert "more" in text  # not every outcome fits, and it says so


def test_repr_names_a_noise_model_and_a_missing_shot_count() -> None:
    text = repr(result({0: 1.0}, shots=None, noise="aria-1"))
    assert "noise='aria-1'" in text
    assert "shots=None" in text


def test_repr_keys_outcomes_by_classical_bits_when_the_result_has_a_readout() -> None:
    readout = Readout(clbits=(1, 0), style="qiskit")  # qubit 0 into classical bit 1
    assert "top={'10': 1}" in repr(result({1: 1.0}, readout=readout))


def test_ties_are_broken_by_state_in_small_and_large_results() -> None:
    # 2**13 states (past the heap's range: NumPy picks them) and 8 (the heap).
    for qubits in (13, 3):
        text = repr(result(uniform(qubits), qubits=qubits))
        labels = re.findall(r"'([01]+)': ", text)
        assert labels == [format(state, f"0{qubits}b") for state in range(len(labels))]
        assert len(labels) >= 1


def test_the_most_likely_states_are_found_in_a_large_result() -> None:
    probabilities = dict.fromkeys(range(2**13), 0.5 / (2**13 - 4))
    del probabilities[100], probabilities[200]
    probabilities[4097] = 0.3
    probabilities[9] = 0.2
    text = repr(result(probabilities, qubits=13))
    assert re.findall(r"'([01]+)': ", text)[:2] == [format(4097, "013b"), format(9, "013b")]


# -- the notebook view ------------------------------------------------------------------------


def test_html_shows_a_table_and_an_svg_histogram_of_the_top_outcomes() -> None:
    html = result({0: 0.48, 3: 0.47, 1: 0.05}, shots=1000)._repr_html_()
    assert JOB_ID in html
    assert "<table" in html and "1,000 shots" in html
    for label, probability, count in (("00", "0.48", "480"), ("11", "0.47", "470")):
        assert f">{label}</td><td" in html
        assert f">{probability}</td>" in html
        assert f">{count}</td>" in html
    svg = svg_of(html)
    namespace = "{http://www.w3.org/2000/svg}"
    rects = svg.findall(f"{namespace}rect")
    assert len(rects) == 3
    labels = [
        text.text for text in svg.findall(f"{namespace}text") if text.text in ("00", "01", "11")
    ]
    assert labels == ["00", "01", "11"]  # bars in state order
    heights = [float(rect.get("height", "nan")) for rect in rects]
    assert heights[0] > heights[2] > heights[1] > 0


def test_html_is_bounded_and_says_how_many_outcomes_it_leaves_out() -> None:
    html = result(uniform(12), qubits=12)._repr_html_()
    assert html.count("<tr>") == 1 + HTML_TOP + 1  # header, top outcomes, "and K more"
    assert f"and {2**12 - HTML_TOP:,} more" in html
    assert len(svg_of(html).findall("{http://www.w3.org/2000/svg}rect")) == HTML_TOP
    assert len(html) < 20_000


def test_html_without_shots_has_no_count_column() -> None:
    html = result({0: 1.0}, shots=None)._repr_html_()
    assert "<th" in html and ">count</th>" not in html


def test_html_escapes_what_it_shows() -> None:
    html = result({0: 1.0}, job_id="<script>alert(1)</script>")._repr_html_()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    svg_of(html)


def test_html_keys_outcomes_by_classical_bits_with_registers() -> None:
    # Classical bit 0 reads qubit 2, bit 1 qubit 0, bit 2 qubit 1. State q2 q1 q0 = 101
    # sets bits 0 and 1; Qiskit writes the last register ("high": bits 2, 1) leftmost.
    readout = Readout(clbits=(2, 0, 1), registers=(("low", (0,)), ("high", (1, 2))), style="qiskit")
    html = result({0b101: 1.0}, qubits=3, readout=readout)._repr_html_()
    assert ">01 1</td>" in html


def test_display_needs_no_plotting_library_and_imports_none() -> None:
    code = """
import sys
sys.modules["matplotlib"] = None
sys.modules["pandas"] = None
import ionq_async
from ionq_async.models import Job, JobStatus
from ionq_async.results import Result
job = Job(id="j", status=JobStatus.COMPLETED)
result = Result(job=job, probabilities={0: 0.5, 1: 0.5}, shots=4)
assert "<svg" in result._repr_html_()
print(repr(result))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "top={'0': 0.5, '1': 0.5}" in done.stdout


def test_importing_the_library_imports_no_plotting_or_table_library() -> None:
    code = (
        "import sys, ionq_async, ionq_async.results, ionq_async.tables\n"
        "print(sorted(m for m in ('matplotlib', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"


# -- outcomes (the helpers Outcome's repr and notebook view are to call) ---------------------


def failed_outcome() -> Outcome:
    job = Job(
        id="bad-job",
        status=JobStatus.FAILED,
        failure=Failure(code="NotEnoughQubits", error="30 qubits <on> 29"),
    )
    return Outcome(
        index=3,
        name="wide",
        circuit=None,
        job=job,
        result=None,
        error=JobFailed(job),
        parameters={"theta": 0.5},
    )


def test_outcome_repr_shows_its_result_or_its_error() -> None:
    ok = Outcome(index=0, name="bell", circuit=None, job=None, result=result({0: 1.0}), error=None)
    assert outcome_repr(ok) == f"<Outcome 0 name='bell' ok: {result({0: 1.0})!r}>"
    text = outcome_repr(failed_outcome())
    assert text.startswith("<Outcome 3 name='wide' parameters={theta=0.5} failed job='bad-job'")
    assert "JobFailed" in text and "NotEnoughQubits" in text
    assert len(text) < 300


def test_outcome_html_shows_its_result_or_its_escaped_error() -> None:
    ok = Outcome(index=0, name="bell", circuit=None, job=None, result=result({0: 1.0}), error=None)
    assert "<svg" in outcome_html(ok) and "Outcome 0" in outcome_html(ok)
    html = outcome_html(failed_outcome())
    assert "failed" in html and "bad-job" in html and "theta = 0.5" in html
    assert "JobFailed" in html and "&lt;on&gt;" in html and "<on>" not in html


# -- over loopback ----------------------------------------------------------------------------

FAST = PollSchedule(initial_s=0.002, factor=1.0, max_s=0.002, jitter=0.0)


@pytest.fixture
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    poll_schedules(FAST, FAST)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(config=EmulatorConfig(time_scale=0.0)) as emulator:
        yield emulator


async def test_a_result_from_the_emulator_reads_well(emu: Emulator, fast_polling: None) -> None:
    async with Client(api_key=emu.api_key, base_url=emu.url, retry=RetryPolicy.no_wait()) as client:
        bell = await client.run(Circuit(qubits=2).h(0).cnot(0, 1), shots=100)
    text = repr(bell)
    assert bell.job.id in text and "shots=100" in text and "'00': 0.5" in text
    html = bell._repr_html_()
    assert ">00</td>" in html and ">11</td>" in html and ">50</td>" in html
    svg_of(html)
