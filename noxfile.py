"""Developer and CI sessions: the same commands CI runs (``nox -s tests lint types``)."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "types"]
nox.options.reuse_existing_virtualenvs = True

PACKAGES = ["ionq_async", "tests", "benchmarks", "noxfile.py"]


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The whole test suite, as the README's test command runs it."""
    session.install("-e", ".[tests]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff over the package, tests and benchmarks; the import contracts (pyproject.toml)."""
    session.install("ruff>=0.5", "import-linter>=2.0")
    session.run("ruff", "check", *PACKAGES)
    session.run("ruff", "format", "--check", *PACKAGES)
    # lint-imports reads the installed package's import graph: install it (no extras).
    session.install("-e", ".", "--no-deps")
    session.run("lint-imports")


@nox.session(python="3.11")
def types(session: nox.Session) -> None:
    """mypy --strict over the package."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "ionq_async")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Every benchmark, figures side by side (``nox -s bench -- --full`` for the README)."""
    session.install("-e", ".[tests]")
    session.run("python", "benchmarks/run_all.py", *session.posargs)


@nox.session(python="3.11")
def compat(session: nox.Session) -> None:
    """qiskit-ionq and cirq-ionq run a Bell job each against the emulator, unchanged."""
    session.install("-e", ".[tests]", "qiskit-ionq", "cirq-ionq")
    session.run(
        "python", "-m", "pytest", "tests/compat", "-p", "no:cacheprovider", *session.posargs
    )


@nox.session(python="3.11")
def soak(session: nox.Session) -> None:
    """A longer fault campaign against the emulator; prints what it injected and saw."""
    session.install("-e", ".[tests]")
    session.run("python", "benchmarks/soak.py", *session.posargs)


@nox.session(python="3.11")
def scale(session: nox.Session) -> None:
    """100,000 packed circuits from a generator, several runs: missing and duplicated
    outcomes (arguments go to scale_outcomes.py); then 100,000 unpacked jobs in flight at
    once with a journal: peak client RSS, and how soon the journal resumes."""
    session.install("-e", ".[tests]")
    session.run("python", "benchmarks/scale_outcomes.py", *session.posargs)
    session.run("python", "benchmarks/bench_memory.py", "--full")
