"""The one cattrs converter: every wire rule between JSON and the models lives here.

- renames: ``1q``/``2q`` in gate counts, ``1q_gates``/``2q_gates`` in estimates;
- enums by value, ISO-8601 timestamps (``...Z``) as aware datetimes;
- ``None`` fields omitted when unstructuring (unless ``omit_none=False``, as the emulator,
  which must send every nullable job field as ``null``, asks);
- keys a newer server adds are kept in the model's ``extra`` mapping, never an error;
- ``results`` in both of the API's shapes (legacy ``{url}`` entries and format-keyed
  artifact descriptors) read into one :class:`~ionq_async.models.JobResults`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from . import models

# (class, python field name) -> wire key
_RENAMES: dict[type[Any], dict[str, str]] = {
    models.GateCounts: {"one_qubit": "1q", "two_qubit": "2q"},
    models.EstimateContext: {"one_qubit_gates": "1q_gates", "two_qubit_gates": "2q_gates"},
}


def format_timestamp(value: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a ``Z``, as the API writes timestamps."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_timestamp(value: Any, _: Any = None) -> datetime:
    """Read an ISO-8601 timestamp or date (``2025-05-28T20:47:05.440Z``) as aware UTC."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        # v0.3 sent epoch seconds; tolerate them.
        return datetime.fromtimestamp(value, tz=UTC)
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 timestamp string, got {type(value).__name__}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _structure_results(value: Any, _: Any) -> models.JobResults:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object for results, got {type(value).__name__}")
    urls: dict[str, str] = {}
    artifacts: dict[str, models.ArtifactDescriptor] = {}
    for key, entry in value.items():
        if not isinstance(entry, Mapping):
            continue
        if isinstance(entry.get("url"), str):
            urls[str(key)] = entry["url"]
        elif isinstance(entry.get("id"), str):
            artifacts[str(key)] = models.ArtifactDescriptor(
                id=entry["id"],
                format=entry.get("format") if isinstance(entry.get("format"), str) else None,
                media_type=(
                    entry.get("media_type") if isinstance(entry.get("media_type"), str) else None
                ),
            )
    return models.JobResults(urls=urls, artifacts=artifacts)


def _unstructure_results(value: models.JobResults) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fmt, descriptor in value.artifacts.items():
        out[fmt] = {"id": descriptor.id, "format": descriptor.format or fmt}
        if descriptor.media_type is not None:
            out[fmt]["media_type"] = descriptor.media_type
    for kind, url in value.urls.items():
        out[kind] = {"url": url}
    return out


def _structure_mapping(value: Any, _: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return dict(value)


def _structure_str_mapping(value: Any, _: Any) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}


def _structure_float(value: Any, _: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _structure_int(value: Any, _: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("expected an integer, got a boolean")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise TypeError(f"expected an integer, got {value!r}")


def _structure_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _structure_bool(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "True"):
        return True
    if value in ("false", "False"):
        return False
    raise TypeError(f"expected a boolean, got {value!r}")


def _structure_status(value: Any, _: Any) -> models.JobStatus:
    return models.JobStatus(value)


def _extra_field(cls: type[Any]) -> bool:
    return any(a.name == "extra" for a in attrs.fields(cls))


def _make_structure_hook(converter: cattrs.Converter, cls: type[Any]) -> Callable[[Any, Any], Any]:
    renames = _RENAMES.get(cls, {})
    overrides: dict[str, Any] = {name: override(rename=wire) for name, wire in renames.items()}
    has_extra = _extra_field(cls)
    if has_extra:
        overrides["extra"] = override(omit=True)
    base = make_dict_structure_fn(cls, converter, **overrides)
    known = {renames.get(a.name, a.name) for a in attrs.fields(cls) if a.name != "extra"}

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected an object for {cls.__name__}, got {type(value).__name__}")
        # Explicit nulls mean "absent": every optional field defaults to None.
        present = {k: v for k, v in value.items() if v is not None}
        obj = base(present, cls)
        if has_extra:
            extra = {k: v for k, v in value.items() if k not in known}
            if extra:
                obj = attrs.evolve(obj, extra=extra)
        return obj

    return structure


def _make_unstructure_hook(
    converter: cattrs.Converter, cls: type[Any], omit_none: bool
) -> Callable[[Any], dict[str, Any]]:
    renames = _RENAMES.get(cls, {})
    overrides: dict[str, Any] = {name: override(rename=wire) for name, wire in renames.items()}
    has_extra = _extra_field(cls)
    if has_extra:
        overrides["extra"] = override(omit=True)
    base = make_dict_unstructure_fn(cls, converter, **overrides)

    def unstructure(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = base(obj)
        if omit_none:
            out = {k: v for k, v in out.items() if v is not None}
        if has_extra and obj.extra:
            for key, val in obj.extra.items():
                out.setdefault(key, val)
        return out

    return unstructure


def make_converter(*, omit_none: bool = True) -> cattrs.Converter:
    """Build the converter between API JSON and the models (simple hooks first)."""
    converter = cattrs.Converter(detailed_validation=True)
    converter.register_structure_hook(datetime, parse_timestamp)
    converter.register_unstructure_hook(datetime, format_timestamp)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(bool, _structure_bool)
    # Registered after ``str``: a str-valued enum must not be caught by the str hook.
    converter.register_structure_hook(models.JobStatus, _structure_status)
    converter.register_unstructure_hook(models.JobStatus, lambda status: status.value)
    converter.register_structure_hook_func(lambda t: t == Mapping[str, Any], _structure_mapping)
    converter.register_structure_hook_func(lambda t: t == Mapping[str, str], _structure_str_mapping)
    converter.register_structure_hook(models.JobResults, _structure_results)
    converter.register_unstructure_hook(models.JobResults, _unstructure_results)
    converter.register_structure_hook_factory(
        attrs.has, functools.partial(_make_structure_hook, converter)
    )
    converter.register_unstructure_hook_factory(
        attrs.has, lambda cls: _make_unstructure_hook(converter, cls, omit_none)
    )
    return converter


converter = make_converter()
"""The shared converter of the client (omits ``None`` fields)."""
