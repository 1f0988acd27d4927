"""Results as tables: plain rows for ``csv``, or a pandas DataFrame (extra ``[pandas]``).

:func:`to_rows` turns a batch's outcomes (or Results) into long form: one row per circuit
and outcome state, with the circuit's ``index`` and ``name``, its sweep ``parameters`` (a
column each), ``job_id``, ``status``, ``error_type`` and ``error``, then ``state`` (keyed as
the result keys it: bitstrings with qubit 0 rightmost, or the source's classical bits),
``probability`` and ``count`` (when a result has its shots). A failed circuit is one row
with its error and no state: never an empty result. Every row has the same keys in the
same order, so ``csv.DictWriter(file, fieldnames=rows[0])`` writes them.
:func:`to_dataframe` gives the same table as a DataFrame.

The items are read through their attributes (a Result's ``job``, ``shots``,
``bitstrings()`` and ``bitstring_counts()``; an outcome's ``index``, ``name``, ``job``,
``result``, ``error`` and ``parameters``), so this module sits below both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from ._extras import require
from .exceptions import InvalidRequestError

if TYPE_CHECKING:
    from ._batch.values import Outcome
    from .results import Result

__all__ = ["COLUMNS", "result_dataframe", "result_rows", "to_dataframe", "to_rows"]

COLUMNS: Final = (
    "index",
    "name",
    "job_id",
    "status",
    "error_type",
    "error",
    "state",
    "probability",
    "count",
)
"""A batch table's fixed columns in order; sweep parameters go between ``name`` and
``job_id``, and ``count`` is left out when no result has its shots."""

_PARAMETER_PREFIX: Final = "parameter."
"""Put before a parameter's name when the name is one of :data:`COLUMNS`."""


def _is_result(item: object) -> bool:
    return hasattr(item, "probabilities") and hasattr(item, "bitstrings")


def _is_outcome(item: object) -> bool:
    return all(hasattr(item, name) for name in ("index", "result", "error"))


def _items(items: object) -> list[Any]:
    if _is_result(items) or _is_outcome(items):
        return [items]
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise InvalidRequestError(
            f"expected outcomes or Results (a list, or one), got {type(items).__name__}"
        )
    listed = list(items)
    for position, item in enumerate(listed):
        if not (_is_result(item) or _is_outcome(item)):
            raise InvalidRequestError(
                f"item {position} is a {type(item).__name__}, not an outcome or a Result"
            )
    return listed


def _check_top(top: int | None) -> None:
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise InvalidRequestError(f"top must be a positive integer or None, got {top!r}")


def _states(result: Result, top: int | None) -> list[tuple[str, float, int | None]]:
    """(state, probability, count or None) in state order; the ``top`` most likely only
    when given (ties by state)."""
    probabilities = result.bitstrings()
    counts = result.bitstring_counts() if result.shots is not None else None
    labels = sorted(probabilities)
    if top is not None and top < len(labels):
        ranked = sorted(probabilities.items(), key=lambda item: (-item[1], item[0]))
        labels = sorted(label for label, _ in ranked[:top])
    return [
        (label, probabilities[label], None if counts is None else counts.get(label, 0))
        for label in labels
    ]


def result_rows(result: Result, *, top: int | None = None) -> list[dict[str, Any]]:
    """One result's rows: ``job_id``, ``state``, ``probability`` and (with shots) ``count``."""
    _check_top(top)
    rows: list[dict[str, Any]] = []
    for state, probability, count in _states(result, top):
        row: dict[str, Any] = {"job_id": result.job.id, "state": state, "probability": probability}
        if result.shots is not None:
            row["count"] = count
        rows.append(row)
    return rows


def result_dataframe(result: Result, *, top: int | None = None) -> Any:
    """:func:`result_rows` as a pandas DataFrame (extra ``[pandas]``)."""
    require("pandas", "pandas")
    columns = ["job_id", "state", "probability"] + (["count"] if result.shots is not None else [])
    return _frame(result_rows(result, top=top), columns)


def _status(item: Any) -> str:
    """``completed`` with a result; else the job's ``failed``/``canceled``, else ``failed``
    (as the command line's ``run`` reports it)."""
    if item.result is not None:
        return "completed"
    status = str(item.job.status) if item.job is not None else None
    return status if status in ("failed", "canceled") else "failed"


def _parameter_columns(items: Sequence[Any]) -> dict[str, str]:
    """Each sweep parameter's column name, in order of first appearance."""
    columns: dict[str, str] = {}
    for item in items:
        parameters = getattr(item, "parameters", None) if _is_outcome(item) else None
        for name in parameters or ():
            if name not in columns:
                columns[name] = _PARAMETER_PREFIX + name if name in COLUMNS else str(name)
    return columns


def _columns(items: Sequence[Any], parameters: Mapping[str, str]) -> list[str]:
    with_counts = any(
        result is not None and result.shots is not None
        for result in (item if _is_result(item) else item.result for item in items)
    )
    fixed = [c for c in COLUMNS if c != "count" or with_counts]
    return [*fixed[:2], *parameters.values(), *fixed[2:]]


def to_rows(
    items: Iterable[Outcome | Result] | Outcome | Result, *, top: int | None = None
) -> list[dict[str, Any]]:
    """A batch as plain rows, one per circuit and outcome state (see the module docstring).

    ``items`` are a batch's outcomes (collect ``run_many``'s first:
    ``[o async for o in client.run_many(...)]``) or Results (their ``index`` is their
    position); rows come in ``index`` order, whatever order the outcomes arrived in.
    ``top`` keeps each circuit's most likely states only. A failed outcome is one row with
    its ``error_type`` and ``error`` and an empty state.
    """
    return _table(items, top)[0]


def _table(items: object, top: int | None) -> tuple[list[dict[str, Any]], list[str]]:
    _check_top(top)
    listed = _items(items)
    # Outcomes arrive as their jobs finish; the table (and the order of the parameter
    # columns) follows the input.
    ordered = sorted(
        enumerate(listed), key=lambda pair: pair[0] if _is_result(pair[1]) else pair[1].index
    )
    in_order = [item for _, item in ordered]
    parameters = _parameter_columns(in_order)
    columns = _columns(in_order, parameters)
    rows = [
        row
        for position, item in ordered
        for row in _item_rows(item, position, parameters, columns, top)
    ]
    return rows, columns


def _item_rows(
    item: Any, position: int, parameters: Mapping[str, str], columns: Sequence[str], top: int | None
) -> list[dict[str, Any]]:
    base: dict[str, Any] = dict.fromkeys(columns)
    if _is_result(item):
        result = item
        base.update(index=position, name=item.job.name, job_id=item.job.id, status="completed")
    else:
        result = item.result
        job = item.job if item.job is not None else (result.job if result is not None else None)
        base.update(index=item.index, name=item.name, job_id=None if job is None else job.id)
        base["status"] = _status(item)
        for name, value in (getattr(item, "parameters", None) or {}).items():
            base[parameters[name]] = value
        if item.error is not None:
            base["error_type"] = type(item.error).__name__
            base["error"] = str(item.error)
    if result is None:
        return [base]
    rows = []
    for state, probability, count in _states(result, top):
        row = dict(base, state=state, probability=probability)
        if "count" in row:
            row["count"] = count
        rows.append(row)
    return rows


def to_dataframe(
    items: Iterable[Outcome | Result] | Outcome | Result, *, top: int | None = None
) -> Any:
    """:func:`to_rows` as a pandas DataFrame (extra ``[pandas]``): the same columns, in
    order; ``count`` a nullable integer, ``probability`` a float (NaN where an outcome
    failed)."""
    require("pandas", "pandas")  # before the work: say at once what is missing
    return _frame(*_table(items, top))


def _frame(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Any:
    pandas = require("pandas", "pandas")
    frame = pandas.DataFrame.from_records(list(rows), columns=list(columns))
    frame["probability"] = frame["probability"].astype("float64")
    if "count" in frame.columns:
        frame["count"] = frame["count"].astype("Int64")
    if "index" in frame.columns:
        frame["index"] = frame["index"].astype("int64")
    return frame
