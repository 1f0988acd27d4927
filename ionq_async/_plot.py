"""Histograms of results with matplotlib (extra ``[plot]``, imported only when drawing).

:func:`plot_results` draws one result, or compares several on one Axes (ideal vs noisy vs
QPU): grouped bars over the union of each result's most likely outcomes, keyed as the
results key them (bitstrings, qubit 0 rightmost, or the source's classical bits). The
outcomes left out share one ``other`` bar per result, so every result's bars sum to 1 (or
to its shots).

Results are read through their public methods (``bitstrings``, ``bitstring_counts``,
``job``); a batch's outcome is read through its ``result`` (a failed one is refused,
naming its error).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

from ._extras import require
from ._names import did_you_mean
from .exceptions import InvalidRequestError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ._batch.values import Outcome
    from .results import Result

__all__ = ["OTHER_LABEL", "plot_results"]

OTHER_LABEL: Final = "other"
"""The bar that holds every outcome left out of the plot."""

_SORTS: Final = ("state", "probability")
_BAR_SPAN: Final = 0.8
_FIGURE_HEIGHT: Final = 4.0
_MAX_FIGURE_WIDTH: Final = 16.0


def plot_results(
    results: Iterable[Result | Outcome],
    labels: Sequence[str] | None = None,
    *,
    ax: Axes | None = None,
    top: int = 16,
    sort: Literal["state", "probability"] = "state",
    counts: bool = False,
    title: str | None = None,
    **bar_options: Any,
) -> Axes:
    """Compare results on one histogram with matplotlib (extra ``[plot]``); returns the Axes.

    ``results`` are Results or a batch's outcomes; ``labels`` name them in the legend
    (default: each one's backend and noise model, with its job id if that is ambiguous).
    The bars cover the union of each result's ``top`` most likely outcomes, in state
    order, or with ``sort="probability"`` the first result's most likely first; whatever
    is left out is one ``other`` bar per result. ``counts=True`` draws counts instead of
    probabilities (each result needs its shots). A new figure is made unless ``ax`` is
    given; ``bar_options`` go to every ``Axes.bar`` call.
    """
    chosen = [_result_of(item, position) for position, item in enumerate(_listed(results))]
    names = _labels(chosen, labels)
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise InvalidRequestError(f"top must be a positive integer, got {top!r}")
    if sort not in _SORTS:
        raise InvalidRequestError(
            f"sort must be 'state' or 'probability', got {sort!r}{did_you_mean(str(sort), _SORTS)}"
        )
    series = [_values(result, counts=counts) for result in chosen]
    states = _states(series, top=top, sort=sort)
    heights = [[values.get(state, 0) for state in states] for values in series]
    categories = list(states)
    if any(
        not math.isclose(sum(row), sum(values.values()))
        for row, values in zip(heights, series, strict=True)
    ):
        categories.append(OTHER_LABEL)
        for row, values in zip(heights, series, strict=True):
            row.append(max(sum(values.values()) - sum(row), 0))

    require("matplotlib", "plot")
    if ax is None:
        pyplot = require("matplotlib.pyplot", "plot")
        width = min(max(6.4, 1.5 + 0.3 * len(categories) * max(len(series), 2)), _MAX_FIGURE_WIDTH)
        _, ax = pyplot.subplots(figsize=(width, _FIGURE_HEIGHT), layout="constrained")
    bar_width = _BAR_SPAN / len(series)
    for number, (row, name) in enumerate(zip(heights, names, strict=True)):
        offset = (number - (len(series) - 1) / 2) * bar_width
        positions = [index + offset for index in range(len(categories))]
        ax.bar(positions, row, bar_width, label=name, **bar_options)
    longest = max((len(category) for category in categories), default=0)
    ax.set_xticks(
        range(len(categories)),
        categories,
        rotation=0 if longest * len(categories) <= 48 else 70,
        fontfamily="monospace",
    )
    ax.set_ylabel("count" if counts else "probability")
    if len(series) > 1 or labels is not None:
        ax.legend()
    if title is not None:
        ax.set_title(title)
    return ax


def _listed(results: object) -> list[Any]:
    if _is_result(results) or _is_outcome(results):
        return [results]
    if isinstance(results, str | bytes | Mapping) or not isinstance(results, Iterable):
        raise InvalidRequestError(
            f"plot_results takes a list of Results or outcomes, got {type(results).__name__}"
        )
    listed = list(results)
    if not listed:
        raise InvalidRequestError("plot_results needs at least one result")
    return listed


def _is_result(item: object) -> bool:
    return hasattr(item, "probabilities") and hasattr(item, "bitstrings")


def _is_outcome(item: object) -> bool:
    return all(hasattr(item, name) for name in ("index", "result", "error"))


def _result_of(item: object, position: int) -> Result:
    if _is_result(item):
        return item  # type: ignore[return-value]
    if _is_outcome(item):
        result = getattr(item, "result", None)
        if result is None:
            error = getattr(item, "error", None)
            raise InvalidRequestError(
                f"outcome {getattr(item, 'index', position)} failed, so it has nothing to plot "
                f"({type(error).__name__}: {error})"
            ) from error
        return result  # type: ignore[no-any-return]
    raise InvalidRequestError(
        f"item {position} of plot_results is a {type(item).__name__}, not a Result or an outcome"
    )


def _labels(results: Sequence[Result], labels: Sequence[str] | None) -> list[str]:
    if labels is not None:
        if isinstance(labels, str) or len(labels) != len(results):
            raise InvalidRequestError(
                f"labels must name each of the {len(results)} results, got "
                f"{1 if isinstance(labels, str) else len(labels)} label(s)"
            )
        return [str(label) for label in labels]
    names = [_describe(result) for result in results]
    if len(set(names)) < len(names):
        names = [
            f"{name} · {result.job.id[:8]}" for name, result in zip(names, results, strict=True)
        ]
    if len(set(names)) < len(names):
        names = [f"{name} ({number})" for number, name in enumerate(names, 1)]
    return names


def _describe(result: Result) -> str:
    backend = result.job.backend or "result"
    noise = result.job.noise.model if result.job.noise is not None else None
    return f"{backend} ({noise} noise)" if noise and noise != "ideal" else backend


def _values(result: Result, *, counts: bool) -> dict[str, float]:
    if counts:
        return {label: float(count) for label, count in result.bitstring_counts().items()}
    return dict(result.bitstrings())


def _states(
    series: Sequence[Mapping[str, float]], *, top: int, sort: Literal["state", "probability"]
) -> list[str]:
    """The union of each series' ``top`` largest (ties by label), ordered as ``sort`` says."""
    union: set[str] = set()
    for values in series:
        ranked = sorted(values.items(), key=lambda item: (-item[1], item[0]))
        union.update(label for label, value in ranked[:top] if value > 0)
    if sort == "state":
        return sorted(union)
    first = series[0]
    return sorted(
        union,
        key=lambda label: (-first.get(label, 0), -max(v.get(label, 0) for v in series), label),
    )
