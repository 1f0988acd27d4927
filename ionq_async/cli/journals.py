"""Where ``run`` keeps its journals, what it writes next to them, and reading them back.

``run`` journals every batch by default (``--journal PATH`` / ``--no-journal``) in the
platform's user-state folder, named for the batch (a hash of its files, circuits, options
and host): the same command after a Ctrl-C finds the same journal and sends nothing twice.
A default journal is removed once every circuit has an outcome (nothing is left to resume).
Next to each journal, ``<journal>.files.json`` names the batch's circuits by file, so
``resume`` prints the same rows as ``run`` did.

Reading a journal for ``resume`` and ``cancel --journal`` goes through
:func:`ionq_async._journal.read_journal` (it takes the journal's lock, so a journal still
held by a running batch is refused); creations under way at a crash (a token without a
job id) are looked up on the server by their token, as the engine itself does on resume.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from .._batch.tokens import TokenResolver
from .._journal import JournalState, read_journal
from ..client import Client
from ..exceptions import JournalError
from .exit_codes import fail

__all__ = [
    "JournalJobs",
    "Manifest",
    "batch_key",
    "default_journal_path",
    "display_path",
    "find_journal_jobs",
    "newest_journal",
    "read_manifest",
    "remove_journal",
    "state_directory",
    "write_manifest",
]

APP_NAME = "ionq-async"
MANIFEST_SUFFIX = ".files.json"
MANIFEST_VERSION = 1


def state_directory() -> Path:
    """The folder of ``run``'s journals: the platform's per-user state folder.

    ``$XDG_STATE_HOME/ionq-async`` or ``~/.local/state/ionq-async`` on Linux and other
    POSIX systems, ``~/Library/Application Support/ionq-async`` on macOS and
    ``%LOCALAPPDATA%\\ionq-async`` on Windows.
    """
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return Path(base) / APP_NAME if base else Path.home() / "AppData" / "Local" / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_NAME
    base = os.environ.get("XDG_STATE_HOME")
    # The XDG spec ignores a relative value.
    if base and os.path.isabs(base):
        return Path(base) / APP_NAME
    return Path.home() / ".local" / "state" / APP_NAME


def batch_key(
    labels: Sequence[str], circuits: Sequence[Any], options: Mapping[str, Any], host: str
) -> str:
    """A short name for a batch: its files, circuits (as JSON), options and host."""
    digest = hashlib.sha256()
    for part in (list(labels), list(circuits), dict(options), host):
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:12]


def default_journal_path(key: str) -> Path:
    """The default journal of the batch named ``key``; its folder is made if missing."""
    folder = state_directory()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise JournalError(
            f"cannot make the journal folder {folder}: {error.strerror or error} "
            "(give --journal PATH, or --no-journal)"
        ) from error
    return folder / f"run-{key}.jsonl"


def display_path(path: str | os.PathLike[str]) -> str:
    """A path as a shell user would type it: ``~/`` for the home folder, quoted if needed."""
    target = Path(path)
    if sys.platform != "win32":
        try:
            relative = target.resolve().relative_to(Path.home().resolve())
        except (ValueError, OSError, RuntimeError):
            pass
        else:
            return "~/" + shlex.quote(relative.as_posix())
        return shlex.quote(str(target))
    return f'"{target}"' if " " in str(target) else str(target)


def newest_journal() -> Path:
    """The most recently written journal of the state folder (for ``resume`` without one)."""
    folder = state_directory()
    journals = sorted(
        folder.glob("run-*.jsonl") if folder.is_dir() else [],
        key=lambda p: p.stat().st_mtime,
    )
    if not journals:
        fail(f"no journal in {display_path(folder)}: name one, `ionq-async resume JOURNAL`")
    return journals[-1]


@frozen(kw_only=True)
class Manifest:
    """What ``run`` writes next to its journal: the circuits' labels, shots and backend."""

    labels: tuple[str, ...]
    shots: int | None
    backend: str | None


def _manifest_path(journal: Path) -> Path:
    return journal.with_name(journal.name + MANIFEST_SUFFIX)


def write_manifest(journal: Path, manifest: Manifest) -> None:
    """Write the manifest of the batch of ``journal`` next to it."""
    data = {
        "version": MANIFEST_VERSION,
        "labels": list(manifest.labels),
        "shots": manifest.shots,
        "backend": manifest.backend,
    }
    target = _manifest_path(journal)
    try:
        target.write_text(json.dumps(data) + "\n", encoding="utf-8")
    except OSError as error:
        raise JournalError(f"cannot write {target}: {error.strerror or error}") from error


def read_manifest(journal: Path) -> Manifest | None:
    """The manifest next to ``journal``, or None (a journal written by a program)."""
    target = _manifest_path(journal)
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise JournalError(f"cannot read {target}: {error}") from error
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        return None
    labels = data.get("labels")
    shots = data.get("shots")
    backend = data.get("backend")
    return Manifest(
        labels=tuple(str(label) for label in labels) if isinstance(labels, list) else (),
        shots=shots if isinstance(shots, int) else None,
        backend=backend if isinstance(backend, str) else None,
    )


def remove_journal(journal: Path) -> None:
    """Remove a journal and its manifest (missing files are fine)."""
    for target in (journal, _manifest_path(journal)):
        try:
            target.unlink()
        except FileNotFoundError:
            pass
        except OSError as error:
            raise JournalError(f"cannot remove {target}: {error.strerror or error}") from error


@frozen(kw_only=True)
class JournalJobs:
    """A journal's jobs: each unit's circuits and job id (None: no job was ever made)."""

    path: Path
    units: Mapping[int, tuple[int, ...]]
    job_ids: Mapping[int, str | None]
    looked_up: int
    """Units whose creation was under way at the stop, looked up on the server by token."""

    @property
    def ids(self) -> list[str]:
        """Every job id, once each, in unit order."""
        found = (self.job_ids[unit] for unit in sorted(self.units))
        return list(dict.fromkeys(job_id for job_id in found if job_id is not None))


async def find_journal_jobs(client: Client, path: Path, *, backend: str | None) -> JournalJobs:
    """The jobs a journal names, with creations under way at the stop found by token."""
    state: JournalState = read_journal(path)
    units = {unit: record.indices for unit, record in state.tokens.items()}
    job_ids: dict[int, str | None] = {unit: state.job_ids.get(unit) for unit in units}
    pending = state.pending_units
    if pending:
        resolver = TokenResolver(client, backend=backend)
        lookups = [(state.tokens[unit].token, state.tokens[unit].at) for unit in pending]
        found = await resolver.find_all(lookups)
        for unit, job in zip(pending, found, strict=True):
            job_ids[unit] = job.id if job is not None else None
    return JournalJobs(path=path, units=units, job_ids=job_ids, looked_up=len(pending))
