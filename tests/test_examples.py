"""The README's walkthrough is the file examples/walkthrough.py, and that file runs."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from batch_helpers import SetPollSchedules

import ionq_async as ionq
from ionq_async.batch import PollSchedule
from ionq_async.emulator import Emulator, EmulatorConfig

ROOT = Path(__file__).resolve().parent.parent
FAST_POLLING = PollSchedule(initial_s=0.005, factor=1.5, max_s=0.05, jitter=0.1)


def _load_walkthrough() -> ModuleType:
    spec = importlib.util.spec_from_file_location("walkthrough", ROOT / "examples/walkthrough.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _function_source(name: str) -> str:
    text = (ROOT / "examples/walkthrough.py").read_text()
    match = re.search(rf"^async def {name}\(.*?(?=^\S)", text, flags=re.S | re.M)
    assert match is not None
    return match.group(0).strip()


def test_readme_shows_the_walkthrough_exactly_as_the_tested_file_has_it() -> None:
    readme = (ROOT / "README.md").read_text()
    assert _function_source("walkthrough") in readme


async def test_walkthrough_runs_against_the_emulator(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    poll_schedules: SetPollSchedules,
) -> None:
    # Jobs (the QPU one too) finish as soon as they are simulated, and client.wait polls
    # every few milliseconds: the walkthrough's waits cost no wall-clock time.
    poll_schedules(FAST_POLLING, FAST_POLLING)
    module = _load_walkthrough()
    async with (
        Emulator(config=EmulatorConfig(time_scale=0.0)) as emu,
        ionq.Client(api_key=emu.api_key, base_url=emu.url) as client,
    ):
        await module.walkthrough(client)
    out = capsys.readouterr().out
    assert "{0: 0.5, 3: 0.5}" in out
    assert "{'00': 500, '11': 500}" in out
    assert emu.api_key not in out
