"""The emulator package's public surface and its one import rule, pinned.

Users import the emulator from ``ionq_async.emulator``; its modules are private and may
move. A change to the names below must change this test. The emulator is the client's
independent test partner, so it never imports client code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ionq_async.emulator

EXPECTED = [
    "BackgroundEmulator",
    "Emulator",
    "EmulatorConfig",
    "EmulatorStats",
    "FaultConfig",
    "ManualClock",
]

EMULATOR_DIR = Path(ionq_async.emulator.__file__).parent
# What the emulator may use from the rest of the package: API facts and plain values.
ALLOWED_PACKAGE_MODULES = {
    "ionq_async._limits",
    "ionq_async._converter",
    "ionq_async._loop_servers",
    "ionq_async.circuits",
    "ionq_async.exceptions",
    "ionq_async.models",
    "ionq_async.results",
}


def test_all_is_pinned() -> None:
    assert ionq_async.emulator.__all__ == EXPECTED


def test_every_name_in_all_is_importable_from_the_package() -> None:
    namespace: dict[str, object] = {}
    exec("from ionq_async.emulator import *", namespace)  # the star import itself
    assert sorted(name for name in namespace if not name.startswith("__")) == EXPECTED
    for name in EXPECTED:
        value = getattr(ionq_async.emulator, name)
        assert isinstance(value, type) and value.__name__ == name


def _package_imports(path: Path) -> set[tuple[str, str | None]]:
    """(module, imported name or None) for each ``ionq_async`` import of a source file,
    relative imports resolved against ``ionq_async.emulator``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[tuple[str, str | None]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                parts = ["ionq_async", "emulator"][: 3 - node.level]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.update((base, alias.name) for alias in node.names)
    return {(module, name) for module, name in found if module.split(".")[0] == "ionq_async"}


def _allowed(module: str, name: str | None) -> bool:
    """True for the emulator's own modules and the allowed ones (or a name from them)."""
    if module == "ionq_async":  # only a submodule of the root, never a name it re-exports
        return name is not None and _allowed(f"ionq_async.{name}", None)
    if module == "ionq_async.emulator" or module.startswith("ionq_async.emulator."):
        return True
    return any(module == m or module.startswith(m + ".") for m in ALLOWED_PACKAGE_MODULES)


def test_the_emulator_imports_no_client_code() -> None:
    sources = sorted(EMULATOR_DIR.glob("*.py"))
    assert len(sources) > 10
    offending = {
        f"{path.name}: {module} {name or ''}".strip()
        for path in sources
        for module, name in _package_imports(path)
        if not _allowed(module, name)
    }
    assert offending == set()


def test_the_import_rule_catches_client_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import ionq_async.sync\n"
        "from ionq_async.client import Client\n"
        "from ionq_async import Client, _transport, _limits\n"
        "from .. import batch\n"
        "from ..cli import main\n"
        "from . import store\n"
    )
    rejected = {pair for pair in _package_imports(bad) if not _allowed(*pair)}
    assert rejected == {
        ("ionq_async.sync", None),
        ("ionq_async.client", "Client"),
        ("ionq_async", "Client"),
        ("ionq_async", "_transport"),
        ("ionq_async", "batch"),
        ("ionq_async.cli", "main"),
    }
