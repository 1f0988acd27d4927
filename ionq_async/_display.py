"""How results look to a person (pure): a short ``repr`` and a notebook view.

A :class:`Summary` holds what is shown: the job, its backend, the shots and the most likely
outcomes, labelled as the result keys them (bitstrings with qubit 0 rightmost, or the
source's classical bits). :func:`result_repr` writes one line of bounded length;
:func:`result_html` a table of the outcomes beside a histogram drawn as inline SVG by hand,
so a notebook needs no plotting library. Every text is escaped and every size bounded: at
most ``top`` outcomes are drawn, the rest told as "and K more".

:func:`outcome_repr` and :func:`outcome_html` show a batch's outcome (duck-typed: an
``index``, ``name``, ``job``, ``result``, ``error`` and, when it has one, ``parameters``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from attrs import frozen

__all__ = [
    "HTML_TOP",
    "REPR_CHARS",
    "Summary",
    "TopOutcome",
    "histogram_svg",
    "outcome_html",
    "outcome_repr",
    "result_html",
    "result_repr",
]

HTML_TOP: Final = 16
"""How many outcomes the notebook view lists and draws."""

REPR_TOP: Final = 4
"""How many outcomes a ``repr`` names at most (fewer when their labels are long)."""

REPR_CHARS: Final = 280
"""A ``repr`` stops adding outcomes before it grows past this many characters."""

_ID_CHARS: Final = 40
_REPR_LABEL_CHARS: Final = 40
_SVG_LABEL_CHARS: Final = 24
_MESSAGE_CHARS: Final = 1000
_REPR_MESSAGE_CHARS: Final = 100

# The histogram's geometry, in pixels.
_BAR_WIDTH: Final = 22
_BAR_GAP: Final = 8
_PLOT_HEIGHT: Final = 150
_LEFT: Final = 46
_RIGHT: Final = 12
_TOP: Final = 12
_CHAR_WIDTH: Final = 6.7  # 11 px monospace
_FOOT: Final = 22
_BAR_COLOR: Final = "#4878a8"

_FONT: Final = "font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
_MONO: Final = "font-family: Menlo, Consolas, 'DejaVu Sans Mono', 'Courier New', monospace"


@frozen
class TopOutcome:
    """One outcome as shown: its label, probability and count (None without shots)."""

    label: str
    probability: float
    count: int | None


@frozen(kw_only=True)
class Summary:
    """What a result's ``repr`` and notebook view show (``top``: most likely first)."""

    job_id: str
    backend: str | None
    noise: str | None
    shots: int | None
    top: tuple[TopOutcome, ...]
    states: int

    @property
    def more(self) -> int:
        """How many outcomes are not in ``top``."""
        return max(self.states - len(self.top), 0)

    @property
    def rest_probability(self) -> float:
        """The probability of the outcomes not in ``top``."""
        return max(1.0 - math.fsum(row.probability for row in self.top), 0.0)


def _cut(text: str, limit: int) -> str:
    """``text``, its middle replaced by an ellipsis if it is longer than ``limit``."""
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return text[:half] + "…" + text[len(text) - (limit - 1 - half) :]


def _cut_end(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def probability_text(probability: float) -> str:
    """A probability in four significant digits: ``0.5``, ``0.01234``."""
    return f"{probability:.4g}"


def _backend_text(summary: Summary) -> str:
    backend = summary.backend or "unknown backend"
    if summary.noise and summary.noise != "ideal":
        return f"{backend} ({summary.noise} noise)"
    return backend


# -- repr ---------------------------------------------------------------------------------


def result_repr(summary: Summary) -> str:
    """One line naming the job, backend and shots and the most likely outcomes."""
    head = f"<Result job={_cut_end(summary.job_id, _ID_CHARS)!r}"
    head += f" backend={summary.backend!r}"
    if summary.noise and summary.noise != "ideal":
        head += f" noise={summary.noise!r}"
    head += f" shots={summary.shots}"
    shown: list[str] = []
    for row in summary.top[:REPR_TOP]:
        item = f"{_cut(row.label, _REPR_LABEL_CHARS)!r}: {probability_text(row.probability)}"
        candidate = _close(head, [*shown, item], summary.states - len(shown) - 1)
        if shown and len(candidate) > REPR_CHARS:
            break
        shown.append(item)
    return _close(head, shown, summary.states - len(shown))


def _close(head: str, shown: Sequence[str], more: int) -> str:
    items = list(shown)
    if more > 0:
        items.append(f"+{more} more")
    return f"{head} top={{{', '.join(items)}}}>"


def outcome_repr(outcome: Any) -> str:
    """One line: the outcome's index, name and sweep values, then its result or error."""
    head = f"<Outcome {outcome.index}"
    if outcome.name is not None:
        head += f" name={_cut_end(str(outcome.name), _ID_CHARS)!r}"
    parameters = getattr(outcome, "parameters", None)
    if parameters:
        head += f" parameters={_parameters_text(parameters)}"
    if outcome.result is not None:
        return f"{head} ok: {outcome.result!r}>"
    error = outcome.error
    message = _cut_end(" ".join(str(error).split()), _REPR_MESSAGE_CHARS)
    job = outcome.job
    where = f" job={_cut_end(job.id, _ID_CHARS)!r}" if job is not None else ""
    return f"{head} failed{where}: {type(error).__name__}: {message}>"


def _parameters_text(parameters: Mapping[str, float], limit: int = 4) -> str:
    items = [f"{name}={value:.6g}" for name, value in list(parameters.items())[:limit]]
    if len(parameters) > limit:
        items.append(f"+{len(parameters) - limit} more")
    return "{" + ", ".join(items) + "}"


# -- the notebook view --------------------------------------------------------------------


def result_html(summary: Summary) -> str:
    """A heading, a table of the top outcomes and an SVG histogram of them."""
    esc = html.escape
    facts = [f"job <code>{esc(summary.job_id)}</code>", esc(_backend_text(summary))]
    if summary.shots is not None:
        facts.append(f"{summary.shots:,} shots")
    facts.append(f"{summary.states:,} state{'s' if summary.states != 1 else ''}")
    heading = f"<div><strong>Result</strong> · {' · '.join(facts)}</div>"
    body = (
        '<div style="display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; '
        f'margin-top: 6px">{_table(summary)}{histogram_svg(summary)}</div>'
    )
    return f'<div class="ionq-async-result" style="{_FONT}; font-size: 13px">{heading}{body}</div>'


def _table(summary: Summary) -> str:
    esc = html.escape
    cell = 'style="padding: 2px 8px; text-align: right"'
    columns = ["state", "probability"] + (["count"] if summary.shots is not None else [])
    header = "".join(f"<th {cell}>{name}</th>" for name in columns)
    rows = []
    for row in summary.top:
        cells = [
            f'<td style="padding: 2px 8px; text-align: left; {_MONO}">{esc(row.label)}</td>',
            f"<td {cell}>{probability_text(row.probability)}</td>",
        ]
        if summary.shots is not None:
            cells.append(f"<td {cell}>{'' if row.count is None else f'{row.count:,}'}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    if summary.more:
        rows.append(
            f'<tr><td colspan="{len(columns)}" style="padding: 2px 8px; font-style: italic">'
            f"and {summary.more:,} more (probability "
            f"{probability_text(summary.rest_probability)})</td></tr>"
        )
    return (
        '<table style="border-collapse: collapse; font-variant-numeric: tabular-nums">'
        f"<thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _axis_top(highest: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least ``highest``."""
    if highest <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(highest))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * power >= highest * (1 - 1e-12):
            return step * power
    return 10.0 * power  # pragma: no cover - 10 * power always reaches highest


def histogram_svg(summary: Summary) -> str:
    """The top outcomes as vertical bars in state order, labels below, drawn as SVG."""
    esc = html.escape
    rows = sorted(summary.top, key=lambda row: row.label)
    slot = _BAR_WIDTH + _BAR_GAP
    longest = max((len(_cut(row.label, _SVG_LABEL_CHARS)) for row in rows), default=1)
    label_height = math.ceil(longest * _CHAR_WIDTH) + 10
    width = _LEFT + slot * max(len(rows), 1) + _RIGHT
    base = _TOP + _PLOT_HEIGHT
    height = base + label_height + (_FOOT if summary.more else 4)
    axis_top = _axis_top(max((row.probability for row in rows), default=0.0))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="histogram of the {len(rows)} most likely outcomes" '
        f'style="font-size: 11px; {_FONT}">'
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = base - fraction * _PLOT_HEIGHT
        parts.append(
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{width - _RIGHT}" y2="{y:.1f}" '
            'stroke="currentColor" stroke-opacity="0.25"/>'
            f'<text x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" fill="currentColor">'
            f"{probability_text(axis_top * fraction)}</text>"
        )
    for position, row in enumerate(rows):
        x = _LEFT + position * slot + _BAR_GAP / 2
        bar = _PLOT_HEIGHT * min(row.probability / axis_top, 1.0)
        tip = f"{row.label}: {probability_text(row.probability)}"
        if row.count is not None:
            tip += f" ({row.count:,} shots)"
        centre = x + _BAR_WIDTH / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{base - bar:.2f}" width="{_BAR_WIDTH}" height="{bar:.2f}" '
            f'fill="{_BAR_COLOR}"><title>{esc(tip)}</title></rect>'
            f'<text x="{centre + 4:.1f}" y="{base + 6}" transform="rotate(-90 {centre + 4:.1f} '
            f'{base + 6})" text-anchor="end" fill="currentColor" style="{_MONO}">'
            f"{esc(_cut(row.label, _SVG_LABEL_CHARS))}</text>"
        )
    if summary.more:
        parts.append(
            f'<text x="{_LEFT}" y="{height - 6}" fill="currentColor" font-style="italic">'
            f"and {summary.more:,} more (probability "
            f"{probability_text(summary.rest_probability)})</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def outcome_html(outcome: Any) -> str:
    """The outcome's index, name and sweep values over its result's view or its error."""
    esc = html.escape
    facts = [f"<strong>Outcome {esc(str(outcome.index))}</strong>"]
    if outcome.name is not None:
        facts.append(f"<code>{esc(str(outcome.name))}</code>")
    parameters = getattr(outcome, "parameters", None)
    if parameters:
        facts.append(esc(", ".join(f"{name} = {value:.6g}" for name, value in parameters.items())))
    heading = f"<div>{' · '.join(facts)}</div>"
    if outcome.result is not None:
        return (
            f'<div style="{_FONT}; font-size: 13px">{heading}{outcome.result._repr_html_()}</div>'
        )
    error = outcome.error
    job = outcome.job
    where = ""
    if job is not None:
        where = f" · job <code>{esc(job.id)}</code> ({esc(str(job.status))})"
    message = esc(_cut_end(str(error), _MESSAGE_CHARS))
    return (
        f'<div style="{_FONT}; font-size: 13px">{heading}'
        f'<div style="margin-top: 4px"><strong style="color: #c0392b">failed</strong>{where}</div>'
        f'<pre style="white-space: pre-wrap; margin: 4px 0">'
        f"{esc(type(error).__name__)}: {message}</pre></div>"
    )
