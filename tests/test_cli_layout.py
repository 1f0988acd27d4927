"""The command line's package: its public names, its entry point, and imports flowing one way."""

from __future__ import annotations

import ast
import tomllib
from importlib import import_module
from pathlib import Path

import ionq_async.cli
from ionq_async.cli import main

CLI_DIR = Path(ionq_async.cli.__file__).parent
ROOT = CLI_DIR.parent.parent

LAYERS = [
    "exit_codes",
    "render",
    "inputs",
    "options",
    "parser",
    "journals",
    "connect",
    "runner",
    "spending",
    "commands",
    "run",
    "resume",
    "demo",
    "app",
]
"""Every module of the package, each importing only modules before it."""


def _sibling_imports(path: Path) -> set[str]:
    """The modules of the package that ``path`` imports (``from .x import ...``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is not None:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def test_the_package_exports_exactly_its_documented_names() -> None:
    assert sorted(ionq_async.cli.__all__) == ["ExitCode", "build_parser", "exit_code_for", "main"]


def test_the_console_script_is_the_package_main() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    module, _, name = scripts["ionq-async"].partition(":")
    assert getattr(import_module(module), name) is main


def test_every_module_of_the_package_has_a_layer() -> None:
    modules = {p.stem for p in CLI_DIR.glob("*.py")} - {"__init__"}
    assert modules == set(LAYERS)


def test_modules_import_only_the_layers_below_them() -> None:
    # The demo once imported the batch runner back from the module that imported it.
    for rank, module in enumerate(LAYERS):
        above = _sibling_imports(CLI_DIR / f"{module}.py") - set(LAYERS[:rank])
        assert not above, f"{module} imports {sorted(above)} from its own layer or above"


def test_the_layout_check_sees_a_module_importing_upwards(tmp_path: Path) -> None:
    bad = tmp_path / "render.py"
    bad.write_text("from .app import main\nfrom . import commands\n", encoding="utf-8")
    assert _sibling_imports(bad) == {"app", "commands"}
