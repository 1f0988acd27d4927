"""CI runs exactly the README's test command, so what the README promises is what CI checks."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_MARKER = "Run the whole test suite"
FENCED_BLOCK = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
# Flags that only change how chatty a command is, not what it runs.
QUIET_FLAGS = frozenset({"-q", "--quiet"})


def normalized(command: str) -> tuple[str, ...]:
    """The command's words with quiet flags dropped, a leading ``$ `` prompt removed."""
    command = command.strip().removeprefix("$ ")
    return tuple(word for word in shlex.split(command) if word not in QUIET_FLAGS)


def ci_command() -> str:
    """The one line of ``.ci/run`` that does the work (not a comment, ``set`` or ``cd``)."""
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    commands = [
        line.strip()
        for line in lines
        if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))
    ]
    assert len(commands) == 1, f".ci/run should run exactly one command, found {commands}"
    return commands[0]


def readme_test_command() -> str:
    """The command in the first fenced block after the README's test-suite marker line."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    marker = readme.find(README_MARKER)
    assert marker >= 0, f"README.md has no line containing {README_MARKER!r}"
    block = FENCED_BLOCK.search(readme, marker)
    assert block is not None, f"README.md has no fenced block after {README_MARKER!r}"
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(lines) == 1, f"the README's test block should hold one command, found {lines}"
    return lines[0]


def test_ci_script_runs_the_readme_test_command() -> None:
    assert normalized(ci_command()) == normalized(readme_test_command())


def test_ci_script_installs_the_project_with_its_test_extra_and_runs_pytest() -> None:
    words = normalized(ci_command())
    assert words[:5] == ("python3", "-m", "pip", "install", "-e")
    assert words[5] == ".[tests]"
    assert words[-3:] == ("python3", "-m", "pytest")


def test_ci_script_stops_at_the_first_failure() -> None:
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "set -euo pipefail" in text
