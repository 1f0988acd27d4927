"""Helpers of ``test_golden.py``: placeholders for random values, JSON rendering, and the
compare-or-record step of every golden file.

A golden file is compared byte for byte after :class:`Normalizer` has replaced the values
that are random by nature (job and session ids, client tokens, wall-clock timestamps,
ports, durations measured in real time) with placeholders numbered in order of first
appearance. ``IONQ_UPDATE_GOLDEN=1`` writes the files instead of comparing them.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_ENV = "IONQ_UPDATE_GOLDEN"

# Job and session ids: the emulator makes UUIDv7-shaped ids (milliseconds, then random
# bits). Constant ids (project, organization, characterizations, key ids) are other
# UUID versions and stay as they are. A narrow table title may wrap an id over two lines:
# the pattern allows one line break anywhere in it, and the placeholder keeps the break.
_HEX = "[0-9a-f]"
_ID_CHARACTERS = (
    ([_HEX] * 8 + ["-"] + [_HEX] * 4 + ["-", "7"] + [_HEX] * 3 + ["-", "[89ab]"] + [_HEX] * 3)
    + ["-"]
    + [_HEX] * 12
)
_WRAP = r"[ ]*\n[ ]*"
_ANY_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_RANDOM_ID = f"(?:{_WRAP})?".join(_ID_CHARACTERS)
# A batch's client token: uuid4().hex (a run of exactly 32 hex digits).
_TOKEN = r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])"
_NUMBER = r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"

_PATTERN = re.compile(
    "|".join(
        [
            f"(?P<id>{_RANDOM_ID})",
            # The x-request-id an error message quotes (a uuid4 per answer).
            f"(?P<ridkey>request id )(?P<rid>{_ANY_UUID})",
            f"(?P<token>{_TOKEN})",
            # A loopback port in a URL or message.
            r"(?P<host>(?:127\.0\.0\.1|localhost|\[::1\])):(?P<port>\d+)",
            # Wall-clock epoch seconds the journal writes.
            f'(?P<tskey>"(?:at|created_at)":\\s*)(?P<ts>{_NUMBER})',
            # Real-time durations and rates of a batch (JSON summary and summary line).
            f'(?P<durkey>"elapsed_s":\\s*)(?P<dur>{_NUMBER})',
            f'(?P<ratekey>"jobs_per_s":\\s*)(?P<rate>{_NUMBER})',
            r"(?P<line>\d+\.\d+ s, \d+\.\d+ jobs/s)",
        ]
    )
)


class Normalizer:
    """Replaces random values by placeholders numbered in order of first appearance.

    One Normalizer per golden file: the same value always gets the same placeholder, so
    "the job listed is the job submitted" is still checked.
    """

    def __init__(self, literals: dict[str, str] | None = None) -> None:
        self._literals = dict(literals or {})
        self._names: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}

    def _numbered(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key not in self._names:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            self._names[key] = f"<{kind}-{self._counts[kind]}>"
        return self._names[key]

    def _replace(self, match: re.Match[str]) -> str:
        if match["id"] is not None:
            found = match["id"]
            breaks = "".join(re.findall(_WRAP, found))
            return self._numbered("id", re.sub(r"\s", "", found)) + breaks
        if match["rid"] is not None:
            return match["ridkey"] + self._numbered("request-id", match["rid"])
        if match["token"] is not None:
            return self._numbered("token", match["token"])
        if match["port"] is not None:
            return f"{match['host']}:<port>"
        if match["ts"] is not None:
            return match["tskey"] + self._numbered("ts", match["ts"])
        if match["dur"] is not None:
            return match["durkey"] + "<duration>"
        if match["rate"] is not None:
            return match["ratekey"] + "<rate>"
        return "<duration> s, <rate> jobs/s"

    def __call__(self, text: str) -> str:
        """``text`` with its literals (e.g. a temporary folder) and random values replaced."""
        for literal, placeholder in self._literals.items():
            text = text.replace(literal, placeholder)
        return _PATTERN.sub(self._replace, text)


def render_json(value: Any, indent: int = 0) -> str:
    """JSON for people: objects one key a line, lists of scalars (or of short lists of
    scalars) on one line; key order and number forms as given."""
    pad = " " * indent
    inner = " " * (indent + 2)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {render_json(v, indent + 2)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        if all(_flat(item) for item in value):
            return json.dumps(value)
        items = [inner + render_json(item, indent + 2) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(value)


def _flat(value: Any) -> bool:
    if isinstance(value, dict):
        return False
    if isinstance(value, list):
        return all(not isinstance(item, dict | list) for item in value)
    return True


def updating() -> bool:
    """True when the golden files are to be written rather than compared."""
    return os.environ.get(UPDATE_ENV, "") not in ("", "0")


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with ``tests/golden/<name>`` (or write it under IONQ_UPDATE_GOLDEN=1)."""
    path = GOLDEN_DIR / name
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        return
    if not path.exists():
        raise AssertionError(f"no golden file {path}; record it with {UPDATE_ENV}=1")
    expected = path.read_bytes().decode("utf-8")
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"golden/{name}",
                tofile="now",
            )
        )
        raise AssertionError(f"golden/{name} differs:\n{diff}")
