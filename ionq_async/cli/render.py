"""Output: JSON for programs, rich tables for people, notes on stderr."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._converter import converter
from ..results import Result, to_bitstrings

__all__ = [
    "Output",
    "distribution_json",
    "duration_text",
    "fields_table",
    "make_table",
    "result_table",
    "to_jsonable",
]

_ID_WIDTH = 36  # a UUID
TABLE_MIN_WIDTH = 100
"""Narrower terminals (and every pipe) get plain lines: ids and errors never wrap."""


def _json_default(value: object) -> Any:
    if isinstance(value, datetime):
        return converter.unstructure(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | frozenset | set):
        return list(value)
    return str(value)


def to_jsonable(value: object) -> Any:
    """A model, or plain data holding models, as JSON-ready data in the API's wire form."""
    return converter.unstructure(value)


class Output:
    """Where a command's answer goes: JSON or a table on stdout, notes on stderr."""

    def __init__(self, *, json_mode: bool) -> None:
        self.json_mode = json_mode
        # No file given: rich looks up sys.stdout / sys.stderr when it writes.
        self.console = Console(highlight=False)
        self.err = Console(stderr=True, highlight=False)

    def json(self, data: Any) -> None:
        """Print ``data`` as JSON on stdout."""
        sys.stdout.write(json.dumps(data, indent=2, default=_json_default) + "\n")
        sys.stdout.flush()

    def table(self, table: Table) -> None:
        """Print a rich table on stdout."""
        self.console.print(table)

    def line(self, text: str) -> None:
        """One line on stdout, never wrapped by us (the terminal may soft-wrap it)."""
        self.console.print(Text(text), soft_wrap=True)

    def note(self, message: str) -> None:
        """A remark for people on stderr (never in JSON mode)."""
        if not self.json_mode:
            # One line however narrow the terminal: notes hold ids to copy.
            self.err.print(Text(message), style="dim", soft_wrap=True)

    @property
    def wide(self) -> bool:
        """True when stdout is a terminal wide enough for tables of ids and errors."""
        return self.console.is_terminal and self.console.width >= TABLE_MIN_WIDTH

    def rows(self, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """A table on a wide terminal; else one plain line per row, never wrapped by us."""
        if self.wide:
            self.table(make_table(None, columns, rows))
            return
        for row in rows:
            self.line("  ".join(_cell(value).plain for value in row))

    @property
    def interactive(self) -> bool:
        """True when a live progress display may be drawn on stderr."""
        return not self.json_mode and self.err.is_terminal


def _cell(value: object) -> Text:
    if value is None:
        return Text("-", style="dim")
    if isinstance(value, datetime):
        return Text(value.strftime("%Y-%m-%d %H:%M:%S"))
    if isinstance(value, enum.Enum):
        return Text(str(value.value))
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    if isinstance(value, float):
        return Text(f"{value:.6g}")
    return Text(str(value))


def make_table(
    title: str | None, columns: Sequence[str], rows: Sequence[Sequence[object]]
) -> Table:
    """A rich table whose cells are plain text (never markup), ``-`` for missing values."""
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        if column.endswith("id"):
            # Ids are copied into the next command: never wrap or shorten them.
            table.add_column(column, no_wrap=True, min_width=_ID_WIDTH)
        elif column == "backend":
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    return table


def fields_table(title: str | None, fields: Sequence[tuple[str, object]]) -> Table:
    """A two-column table of names and values."""
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in fields:
        table.add_row(Text(name), _cell(value))
    return table


def duration_text(value_ms: float | None) -> str | None:
    """Milliseconds as seconds, minutes or hours, whichever reads best (None stays None)."""
    if value_ms is None:
        return None
    seconds = value_ms / 1000
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _distribution_rows(
    values: Mapping[int, float] | Mapping[int, int], num_qubits: int, rows: int
) -> list[tuple[object, ...]]:
    ordered = sorted(values.items(), key=lambda item: (-item[1], item[0]))
    bitstrings = to_bitstrings(dict(ordered[:rows]), num_qubits)
    return [
        (bits, key, value)
        for (bits, value), (key, _) in zip(bitstrings.items(), ordered, strict=False)
    ]


def distribution_json(result: Result, shots: int | None) -> dict[str, Any]:
    """A result as JSON: probabilities, or counts for ``shots``; keys as the API writes them."""
    data: dict[str, Any] = {
        "job_id": result.job.id,
        "num_qubits": result.num_qubits,
        "probabilities": {str(k): v for k, v in sorted(result.probabilities.items())},
    }
    if shots is not None:
        counts = result.counts(shots)
        data["shots"] = shots
        data["counts"] = {str(k): v for k, v in sorted(counts.items())}
        # Keyed as the result keys them: qubit 0 rightmost, or the source's classical bits.
        data["bitstring_counts"] = result.bitstring_counts(shots)
    else:
        data["bitstrings"] = result.bitstrings()
    if result.shot_states is not None:
        data["memory"] = result.memory
    return data


_BAR_WIDTH = 20


def _bar(value: float, peak: float) -> str:
    """A histogram bar in eighths of a character, ``_BAR_WIDTH`` at ``peak``."""
    eighths = round(_BAR_WIDTH * 8 * value / peak) if peak > 0 else 0
    full, rest = divmod(eighths, 8)
    return "█" * full + ("" if rest == 0 else " ▏▎▍▌▋▊▉"[rest])


def result_table(result: Result, shots: int | None, rows: int, title: str | None) -> Table:
    """The ``rows`` most likely outcomes with a histogram bar each: probabilities, or counts
    for ``shots``; keyed as the result keys them (the source's classical bits for a
    converted circuit)."""
    values: Mapping[str, float] | Mapping[str, int]
    if shots is None:
        values = result.bitstrings()
        heading = "probability"
    else:
        values = result.bitstring_counts(shots)
        heading = f"count (of {shots})"
    ordered = sorted(values.items(), key=lambda item: (-item[1], item[0]))
    peak = float(ordered[0][1]) if ordered else 0.0
    table_rows: list[tuple[object, ...]] = []
    for label, value in ordered[:rows]:
        shown = f"{value:.6g}" if isinstance(value, float) else value
        if result.readout is None:
            table_rows.append((label, int(label, 2), shown, _bar(float(value), peak)))
        else:
            table_rows.append((label, shown, _bar(float(value), peak)))
    if result.readout is None:
        columns = ["bitstring (q0 right)", "state", heading, "histogram"]
    else:
        columns = ["classical bits", heading, "histogram"]
    table = make_table(title, columns, table_rows)
    # A bar is cut on a narrow terminal, never wrapped onto a second line.
    table.columns[-1].no_wrap = True
    table.columns[-1].overflow = "crop"
    hidden = len(values) - len(table_rows)
    if hidden > 0:
        table.caption = f"{hidden} more outcome(s); --rows N or --json to see them"
    return table
