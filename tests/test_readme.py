"""The README's Python examples run against the emulator and print what their comments say.

Each ```python block is taken from README.md by the heading it sits under and executed as
written. Fragments (top-level ``await``, names such as ``client`` or ``job`` defined by the
surrounding prose) run statement by statement in a namespace that provides those names,
connected to an in-process emulator over loopback. A comment that opens with a Python
literal (``result.counts()  # {0: 500, 3: 500}: ...``) states the value of its line; the
test checks it. Tracebacks point at README.md's own line numbers.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import math
import tokenize
from pathlib import Path
from types import CodeType
from typing import Any

import pytest
from asyncio_hygiene import no_asyncio_leaks  # noqa: F401 (an autouse fixture)
from attrs import frozen
from batch_helpers import SetPollSchedules
from markdown_it import MarkdownIt

import ionq_async as ionq
from ionq_async.batch import PollSchedule
from ionq_async.emulator import BackgroundEmulator, Emulator, EmulatorConfig

README = Path(__file__).resolve().parent.parent / "README.md"

INSTANT = EmulatorConfig(time_scale=0.0)
"""Emulator settings under which every job finishes as soon as it is simulated."""

FAST_POLLING = PollSchedule(initial_s=0.005, factor=1.5, max_s=0.05, jitter=0.1)
"""A few milliseconds between polls, for jobs that take no emulated time."""

_TOP_LEVEL_AWAIT = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


@frozen(kw_only=True)
class ReadmeBlock:
    """One ```python block of README.md: its heading, its source and where it starts."""

    heading: str
    source: str
    first_line: int  # README.md line number of the block's first line of code
    path: Path = README

    def tree(self) -> ast.Module:
        """The block parsed, with README.md's line numbers."""
        tree = ast.parse(self.source, filename=str(self.path))
        return ast.increment_lineno(tree, self.first_line - 1)

    def code(self) -> CodeType:
        """The whole block compiled as a script."""
        return compile(self.tree(), str(self.path), "exec")

    def stated_values(self) -> dict[int, Any]:
        """The values stated by comments that open with a Python literal, by README line."""
        stated: dict[int, Any] = {}
        for token in tokenize.generate_tokens(io.StringIO(self.source).readline):
            if token.type == tokenize.COMMENT:
                value = _leading_literal(token.string.removeprefix("#").strip())
                if value is not _NO_LITERAL:
                    stated[self.first_line + token.start[0] - 1] = value
        return stated

    def stated_prints(self) -> list[Any]:
        """The values stated on ``print(...)`` lines, in order."""
        lines = self.source.splitlines()
        return [
            value
            for line, value in sorted(self.stated_values().items())
            if lines[line - self.first_line].lstrip().startswith("print(")
        ]


_NO_LITERAL = object()


def _leading_literal(text: str) -> Any:
    """The Python literal that ``text`` opens with (``{0: 3}: rest``), or _NO_LITERAL."""
    if not text.startswith(("{", "[", "(")):
        return _NO_LITERAL
    closing = {"{": "}", "[": "]", "(": ")"}[text[0]]
    ends = [i + 1 for i, char in enumerate(text) if char == closing]
    for end in reversed(ends):
        try:
            return ast.literal_eval(text[:end])
        except (ValueError, SyntaxError):
            continue
    return _NO_LITERAL


def readme_blocks(heading: str, path: Path = README) -> list[ReadmeBlock]:
    """The ```python blocks under ``heading`` (up to the next heading of any level)."""
    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    headings: list[str] = []
    blocks: list[ReadmeBlock] = []
    current: str | None = None
    for position, token in enumerate(tokens):
        if token.type == "heading_open":
            current = tokens[position + 1].content.strip()
            headings.append(current)
        elif token.type == "fence" and token.info.strip() == "python" and current == heading:
            assert token.map is not None
            # map[0] is the opening fence's 0-based line; the code starts on the next line.
            blocks.append(
                ReadmeBlock(
                    heading=heading, source=token.content, first_line=token.map[0] + 2, path=path
                )
            )
    if heading not in headings:
        pytest.fail(f"{path.name} has no heading {heading!r} (headings: {headings})")
    if not blocks:
        pytest.fail(f"{path.name} has no ```python block under the heading {heading!r}")
    return blocks


def readme_block(heading: str, position: int = 0) -> ReadmeBlock:
    """The ``position``-th ```python block under ``heading``."""
    blocks = readme_blocks(heading)
    if position >= len(blocks):
        pytest.fail(
            f"README.md has {len(blocks)} ```python block(s) under {heading!r}, "
            f"not the {position + 1} this test runs"
        )
    return blocks[position]


async def run_fragment(block: ReadmeBlock, namespace: dict[str, Any]) -> dict[int, Any]:
    """Run ``block`` statement by statement in ``namespace``, top-level ``await`` allowed.

    Returns the value of each top-level expression statement, by its README line, as a
    notebook would display it.
    """
    values: dict[int, Any] = {}
    for statement in block.tree().body:
        if isinstance(statement, ast.Expr):
            code = compile(
                ast.Expression(statement.value), str(block.path), "eval", flags=_TOP_LEVEL_AWAIT
            )
        else:
            module = ast.Module(body=[statement], type_ignores=[])
            code = compile(module, str(block.path), "exec", flags=_TOP_LEVEL_AWAIT)
        value = eval(code, namespace)
        if code.co_flags & inspect.CO_COROUTINE:
            value = await value
        if isinstance(statement, ast.Expr):
            values[statement.lineno] = value
    return values


def assert_stated_values_hold(block: ReadmeBlock, values: dict[int, Any]) -> None:
    """Every value a comment of ``block`` states is what its line evaluated to."""
    stated = block.stated_values()
    assert stated, f"the {block.heading!r} block states no value to check"
    for line, expected in stated.items():
        assert line in values, f"README.md line {line} states a value but is not an expression"
        assert values[line] == expected, f"README.md line {line}"


@pytest.fixture(autouse=True)
def fast_polling(poll_schedules: SetPollSchedules) -> None:
    """Waits and batches poll every few milliseconds, not on the real 100 ms / 1 s schedules."""
    poll_schedules(FAST_POLLING, FAST_POLLING)


def use_emulator_from_environment(monkeypatch: pytest.MonkeyPatch, emu: Emulator) -> None:
    """Point ``ionq.Client()`` with no arguments at ``emu``."""
    monkeypatch.setenv("IONQ_API_KEY", emu.api_key)
    monkeypatch.setenv("IONQ_API_URL", emu.url)


def bell(name: str | None = None) -> ionq.Circuit:
    """A two-qubit Bell circuit."""
    return ionq.Circuit(qubits=2, name=name).h(0).cnot(0, 1)


# ---------------------------------------------------------------- extraction


def test_a_missing_heading_fails_with_its_name() -> None:
    with pytest.raises(pytest.fail.Exception, match="no heading 'Nowhere'"):
        readme_blocks("Nowhere")


def test_a_heading_without_a_python_block_fails_with_its_name() -> None:
    with pytest.raises(pytest.fail.Exception, match="no ```python block under the heading"):
        readme_blocks("Install")


def test_a_comment_opening_with_a_literal_states_its_value() -> None:
    block = ReadmeBlock(
        heading="test",
        source='x  # {"00": 5}: the rest\ny  # not a literal\nz  # [1, (2, 3)]\n',
        first_line=10,
    )
    assert block.stated_values() == {10: {"00": 5}, 12: [1, (2, 3)]}


# ---------------------------------------------------------------- Your circuits


async def test_the_opening_block_runs_each_kind_of_circuit_as_it_says(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("qiskit")
    pytest.importorskip("cirq")
    pytest.importorskip("openqasm3")
    block = readme_block("Your circuits, as you write them")
    async with (
        Emulator(config=INSTANT) as emu,
        ionq.Client(api_key=emu.api_key, base_url=emu.url) as client,
    ):
        namespace: dict[str, Any] = {"ionq": ionq, "client": client}
        values = await run_fragment(block, namespace)
    assert_stated_values_hold(block, values)
    # The sweep printed one line per point: P(1) = sin(theta / 2) ** 2.
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    for line in lines:
        parameters, probabilities = line.split("} ", 1)
        theta = ast.literal_eval(parameters + "}")["theta"]
        p_one = ast.literal_eval(probabilities).get(1, 0.0)
        assert p_one == pytest.approx(math.sin(theta / 2) ** 2, abs=1e-9)


# ---------------------------------------------------------------- Quick start


def test_quick_start_runs_as_a_script_and_prints_what_it_says(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    block = readme_block("Quick start")
    stated = block.stated_prints()
    assert stated, "the Quick start block states no printed value"
    # The block calls asyncio.run itself, so this test is synchronous and the emulator
    # serves from its own loop in a thread.
    with BackgroundEmulator(config=INSTANT) as emu:
        use_emulator_from_environment(monkeypatch, emu)
        exec(block.code(), {"__name__": "__main__"})
    printed = [ast.literal_eval(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == stated


async def test_quick_start_emulator_fragment_connects_a_client_to_the_emulator() -> None:
    block = readme_block("Quick start", 1)
    namespace: dict[str, Any] = {"ionq": ionq}
    await run_fragment(block, namespace)
    client, emu = namespace["client"], namespace["emu"]
    assert isinstance(client, ionq.Client)
    assert isinstance(emu, Emulator)
    assert client.base_url == emu.url


# ---------------------------------------------------------------- Circuits


async def test_circuits_block_builds_the_circuits_it_describes() -> None:
    block = readme_block("Circuits")
    namespace: dict[str, Any] = {"ionq": ionq}
    values = await run_fragment(block, namespace)

    sent = namespace["c"].to_json()
    assert sent["qubits"] == 3
    assert [gate["gate"] for gate in sent["circuit"]] == [
        "h", "cnot", "cnot", "rx", "ry", "swap", "zz", "z", "pauliexp",
    ]  # fmt: skip
    assert sent["circuit"][2]["controls"] == [0, 1]
    # phase(0.3, 1) is sent as z with a rotation.
    assert sent["circuit"][7] == {"gate": "z", "target": 1, "rotation": 0.3}

    native = namespace["native"].to_json()
    assert native["gateset"] == "native"
    assert [gate["gate"] for gate in native["circuit"]] == ["gpi2", "ms", "gpi"]

    # The two closing expression lines: a circuit read from JSON, and c in the API's form.
    from_json, to_json = (values[line] for line in sorted(values)[-2:])
    assert isinstance(from_json, ionq.Circuit)
    assert from_json.to_json()["circuit"] == [{"gate": "h", "target": 0}]
    assert to_json == sent


# ---------------------------------------------------------------- Results and counts


async def test_results_block_gives_the_counts_it_states() -> None:
    block = readme_block("Results and counts")
    async with (
        Emulator(config=INSTANT) as emu,
        ionq.Client(api_key=emu.api_key, base_url=emu.url) as client,
    ):
        job = await client.wait(await client.submit(bell(), backend="simulator", shots=1000))
        namespace: dict[str, Any] = {"ionq": ionq, "client": client, "job": job}
        values = await run_fragment(block, namespace)

    assert_stated_values_hold(block, values)
    result = namespace["result"]
    assert isinstance(result, ionq.Result)
    assert result.job.id == job.id
    assert sum(result.sample(seed=7).values()) == 1000
    assert result.marginal([1]) == pytest.approx({0: 0.5, 1: 0.5})


# ---------------------------------------------------------------- Every result


async def test_every_result_block_fetches_what_it_names() -> None:
    block = readme_block("Every result the API serves")
    async with (
        Emulator(config=INSTANT) as emu,
        ionq.Client(api_key=emu.api_key, base_url=emu.url) as client,
    ):
        job = await client.wait(await client.submit(bell(), backend="simulator", shots=100))
        namespace: dict[str, Any] = {"ionq": ionq, "client": client, "job": job}
        values = await run_fragment(block, namespace)
    memory, shots, histogram, _voting, compiled = (values[line] for line in sorted(values))
    assert len(namespace["result"].memory) == 100
    assert set(memory) <= {"00", "11"}
    assert len(shots) == 100 and set(shots) <= {0, 3}
    assert sum(histogram.values()) == 100
    assert namespace["variants"] == []
    assert compiled.startswith("OPENQASM 3")


# ---------------------------------------------------------------- Seeing results


async def test_seeing_results_blocks_plot_and_tabulate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("pandas")
    import csv

    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    first, second = readme_blocks("Seeing results: notebooks, plots and tables")
    async with (
        Emulator(config=INSTANT) as emu,
        ionq.Client(api_key=emu.api_key, base_url=emu.url) as client,
    ):
        namespace: dict[str, Any] = {"ionq": ionq, "client": client, "csv": csv}
        values = await run_fragment(first, namespace)
        shown, axes, grouped = (values[line] for line in sorted(values))
        assert repr(shown).startswith("<Result job=") and "noise='aria-1'" in repr(shown)
        assert axes.patches and grouped.patches
        await run_fragment(second, namespace)
    frame = namespace["frame"]
    assert set(frame["theta"]) == {0.0, 1.5708}
    with (tmp_path / "sweep.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == len(namespace["rows"]) >= 2


# ---------------------------------------------------------------- Batches


async def test_batches_block_runs_every_circuit_and_keeps_a_journal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    block = readme_block("Batches")
    monkeypatch.chdir(tmp_path)
    async with Emulator(config=INSTANT) as emu:
        use_emulator_from_environment(monkeypatch, emu)
        async with ionq.Client(api_key=emu.api_key, base_url=emu.url) as other:
            elsewhere = [await other.submit(bell(), shots=100) for _ in range(3)]
        job_ids = [job.id for job in elsewhere]
        namespace: dict[str, Any] = {"ionq": ionq, "job_ids": job_ids}
        await run_fragment(block, namespace)

    circuits = namespace["circuits"]
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(circuits)
    seen = []
    for line in lines:
        index, name, counts = line.split(" ", 2)
        assert name == f"ghz-{index}", line  # not "failed:"
        assert sum(ast.literal_eval(counts).values()) == 500
        seen.append(int(index))
    assert sorted(seen) == list(range(len(circuits)))

    records = (tmp_path / "batch.jsonl").read_text().splitlines()
    assert records
    assert all(isinstance(json.loads(record), dict) for record in records)

    results = namespace["results"]
    assert [outcome.index for outcome in results] == list(range(len(circuits)))
    assert all(outcome.ok for outcome in results)

    # The last loop rebinds `outcome` to outcomes of the jobs submitted elsewhere.
    last = namespace["outcome"]
    assert last.ok
    assert last.job.id in job_ids


# ---------------------------------------------------------------- Parameter sweeps


async def test_sweeps_block_runs_every_point_of_its_grid() -> None:
    block = readme_block("Parameter sweeps")
    async with (
        Emulator(config=INSTANT) as emu,
        ionq.Client(api_key=emu.api_key, base_url=emu.url) as client,
    ):
        namespace: dict[str, Any] = {"ionq": ionq, "client": client}
        await run_fragment(block, namespace)
        created = emu.stats.jobs_created
    results = namespace["results"]
    assert len(results) == 400
    for (theta, _phi), probabilities in results.items():
        # RY(theta) then CNOT: P(|11>) = sin(theta / 2) ** 2; RZ changes no probability.
        assert probabilities.get(3, 0.0) == pytest.approx(math.sin(theta / 2) ** 2, abs=1e-9)
    assert created == 1  # 400 points in one packed job


# ---------------------------------------------------------------- Cost


async def test_cost_block_prices_each_shape_once_and_packing_pays(
    capsys: pytest.CaptureFixture[str],
) -> None:
    block = readme_block("Cost")
    async with (
        Emulator(config=INSTANT) as emu,
        ionq.Client(api_key=emu.api_key, base_url=emu.url) as client,
    ):
        namespace: dict[str, Any] = {"ionq": ionq, "client": client}
        await run_fragment(block, namespace)
        assert emu.stats.jobs_created == 0
        assert emu.stats.requests("GET", "/v0.4/jobs/estimate") == 2
    one_line, packed_line = capsys.readouterr().out.splitlines()
    assert one_line.endswith("usd in 100 jobs")
    assert packed_line.endswith("usd in 1 job")
    assert namespace["packed"].total < namespace["one_by_one"].total


# ---------------------------------------------------------------- Offline emulator


async def test_offline_emulator_block_starts_a_configured_emulator() -> None:
    block = readme_block("Offline emulator")
    namespace: dict[str, Any] = {"ionq": ionq}
    await run_fragment(block, namespace)
    emu = namespace["emu"]
    assert emu.config.qpu_queue_s == 0.5
    assert emu.faults.p_429 == 0.05
    assert namespace["client"].base_url == emu.url
    assert isinstance(emu.stats.requests_total, int)


# ---------------------------------------------------------------- Scripts and notebooks


def _sync_client_namespace() -> dict[str, Any]:
    return {"__name__": "__main__", "circuits": [bell(f"bell-{i}") for i in range(3)]}


def _check_sync_client_block_ran(namespace: dict[str, Any], out: str) -> None:
    assert namespace["result"].counts() == {0: 500, 3: 500}
    printed = sorted(line.split(" ", 1) for line in out.splitlines())
    assert [int(index) for index, _ in printed] == [0, 1, 2]
    assert all(ast.literal_eval(counts) == {0: 50, 3: 50} for _, counts in printed)


def test_sync_client_block_runs_from_plain_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    block = readme_block("Scripts and notebooks")
    namespace = _sync_client_namespace()
    with BackgroundEmulator(config=INSTANT) as emu:
        use_emulator_from_environment(monkeypatch, emu)
        exec(block.code(), namespace)
    _check_sync_client_block_ran(namespace, capsys.readouterr().out)


async def test_sync_client_block_runs_in_a_thread_that_runs_an_event_loop(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A notebook cell without await: the calling thread's loop is running (and blocked).
    block = readme_block("Scripts and notebooks")
    namespace = _sync_client_namespace()
    with BackgroundEmulator(config=INSTANT) as emu:
        use_emulator_from_environment(monkeypatch, emu)
        exec(block.code(), namespace)
    _check_sync_client_block_ran(namespace, capsys.readouterr().out)


async def test_the_notebook_guides_emulator_block_runs_in_a_running_loop() -> None:
    # docs/notebooks.md, linked from the README: a notebook cell with top-level await.
    path = README.parent / "docs" / "notebooks.md"
    block = readme_blocks("Trying it without a key", path)[0]
    namespace: dict[str, Any] = {"ionq": ionq}
    try:
        await run_fragment(block, namespace)
        assert namespace["result"].counts() == {0: 500, 3: 500}
    finally:
        if "client" in namespace:
            await namespace["client"].__aexit__(None, None, None)
        if "emu" in namespace:
            await namespace["emu"].aclose()
