"""Typed job settings: compilation and error mitigation, checked before anything is sent.

::

    from ionq_async.settings import Compilation, ErrorMitigation, Settings

    settings = Settings(
        compilation=Compilation(opt=1, precision="1E-3"),
        error_mitigation=ErrorMitigation(debiasing=True),
    )
    await client.submit(circuit, backend="qpu.forte-1", shots=1000, settings=settings)

Each value is checked when it is made (an ``InvalidRequestError`` naming the field), and
:meth:`Settings.to_json` gives exactly the API's ``settings`` object. The raw mapping that
``submit(settings=...)`` has always taken is still accepted: :func:`settings_json` reads it
into these values (an unknown key is refused, naming the closest valid one) so a typed value
and a mapping are checked by the same rules, and it is the one place the debiasing minimum
of 500 shots is checked. Source: IonQ's OpenAPI description (``CircuitJobSettings``;
``opt`` is a number, ``precision``, ``gate_basis`` and ``service_version`` are free-form
strings there; the May 2026 copy also allows ``debiasing`` as an object of
``phi_chi_twirling`` options).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any, Final

from attrs import evolve, field, frozen

from ._limits import DEFAULT_SHOTS, MIN_DEBIASING_SHOTS
from ._names import did_you_mean
from .exceptions import InvalidRequestError

__all__ = [
    "Compilation",
    "Debiasing",
    "ErrorMitigation",
    "PhiChiTwirling",
    "Settings",
    "settings_json",
]


def _finite_number(name: str, value: object, *, minimum: float | None = None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidRequestError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise InvalidRequestError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidRequestError(f"{name} must be >= {minimum:g}, got {value!r}")


def _check_opt(_instance: object, attribute: Any, value: object) -> None:
    _finite_number(attribute.name, value, minimum=0)


def _check_rate(_instance: object, attribute: Any, value: object) -> None:
    _finite_number(f"phi_chi_twirling.{attribute.name}", value, minimum=0)


def _check_text(_instance: object, attribute: Any, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"{attribute.name} must be a non-empty string, got {value!r}")


def _check_flag(_instance: object, attribute: Any, value: object) -> None:
    if value is not None and not isinstance(value, bool):
        raise InvalidRequestError(f"{attribute.name} must be True or False, got {value!r}")


def _number_json(value: float) -> float | int:
    # NumPy scalars are not JSON: send plain Python numbers, ints as ints.
    if isinstance(value, numbers.Integral):
        return int(value)
    return float(value)


@frozen(kw_only=True)
class Compilation:
    """How IonQ compiles the circuit: optimization level, precision, gate basis.

    ``opt`` is a number (the API's optimization level); ``precision``, ``gate_basis`` and
    ``service_version`` are strings the API defines (``service_version="v0.4"`` pins the
    compiler, as qiskit-ionq does for OpenQASM 3). Unset fields are left to the API.
    """

    opt: float | None = field(default=None, validator=_check_opt)
    precision: str | None = field(default=None, validator=_check_text)
    gate_basis: str | None = field(default=None, validator=_check_text)
    service_version: str | None = field(default=None, validator=_check_text)

    def to_json(self) -> dict[str, Any]:
        """The API's ``settings.compilation`` object (unset fields left out)."""
        out: dict[str, Any] = {}
        if self.opt is not None:
            out["opt"] = _number_json(self.opt)
        for name in ("precision", "gate_basis", "service_version"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@frozen(kw_only=True)
class PhiChiTwirling:
    """Options of debiasing's phi-chi twirling (``p2q``, ``t2q``, ``t1q``; non-negative)."""

    p2q: float | None = field(default=None, validator=_check_rate)
    t2q: float | None = field(default=None, validator=_check_rate)
    t1q: float | None = field(default=None, validator=_check_rate)

    def to_json(self) -> dict[str, Any]:
        """The API's ``phi_chi_twirling`` object (unset fields left out)."""
        return {
            name: _number_json(value)
            for name in ("p2q", "t2q", "t1q")
            if (value := getattr(self, name)) is not None
        }


def _check_twirling(_instance: object, _attribute: Any, value: object) -> None:
    if value is not None and not isinstance(value, PhiChiTwirling):
        raise InvalidRequestError(
            f"phi_chi_twirling must be a PhiChiTwirling, got {type(value).__name__}"
        )


@frozen(kw_only=True)
class Debiasing:
    """Debiasing turned on with options (``Debiasing()`` alone is ``debiasing=True``)."""

    phi_chi_twirling: PhiChiTwirling | None = field(default=None, validator=_check_twirling)

    def to_json(self) -> bool | dict[str, Any]:
        """``True``, or the API's object form ``{"phi_chi_twirling": {...}}``."""
        if self.phi_chi_twirling is None:
            return True
        return {"phi_chi_twirling": self.phi_chi_twirling.to_json()}


def _check_debiasing(_instance: object, _attribute: Any, value: object) -> None:
    if value is not None and not isinstance(value, bool | Debiasing):
        raise InvalidRequestError(f"debiasing must be True, False or a Debiasing, got {value!r}")


@frozen(kw_only=True)
class ErrorMitigation:
    """Error mitigation: debiasing (on, off, or on with options) and symmetry verification.

    Debiasing needs at least 500 shots (checked by :func:`settings_json` when the job's
    shots are known) and is billed: price a batch with ``client.estimate_batch`` first.
    """

    debiasing: bool | Debiasing | None = field(default=None, validator=_check_debiasing)
    symmetry_verification: bool | None = field(default=None, validator=_check_flag)

    @property
    def debiased(self) -> bool:
        """Whether debiasing is on (``True`` or a :class:`Debiasing`)."""
        return isinstance(self.debiasing, Debiasing) or self.debiasing is True

    def to_json(self) -> dict[str, Any]:
        """The API's ``settings.error_mitigation`` object (unset fields left out)."""
        out: dict[str, Any] = {}
        if isinstance(self.debiasing, Debiasing):
            out["debiasing"] = self.debiasing.to_json()
        elif self.debiasing is not None:
            out["debiasing"] = self.debiasing
        if self.symmetry_verification is not None:
            out["symmetry_verification"] = self.symmetry_verification
        return out


def _check_part(kind: type) -> Any:
    def check(_instance: object, attribute: Any, value: object) -> None:
        if value is not None and not isinstance(value, kind):
            raise InvalidRequestError(
                f"{attribute.name} must be a {kind.__name__}, got {type(value).__name__}"
            )

    return check


@frozen(kw_only=True)
class Settings:
    """A job's settings: :class:`Compilation` and :class:`ErrorMitigation`, both optional."""

    compilation: Compilation | None = field(default=None, validator=_check_part(Compilation))
    error_mitigation: ErrorMitigation | None = field(
        default=None, validator=_check_part(ErrorMitigation)
    )

    @property
    def debiased(self) -> bool:
        """Whether debiasing is on."""
        return self.error_mitigation is not None and self.error_mitigation.debiased

    def to_json(self) -> dict[str, Any]:
        """Exactly the API's ``settings`` object (empty parts left out)."""
        out: dict[str, Any] = {}
        if self.compilation is not None and (compilation := self.compilation.to_json()):
            out["compilation"] = compilation
        if self.error_mitigation is not None and (mitigation := self.error_mitigation.to_json()):
            out["error_mitigation"] = mitigation
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Settings:
        """Read the API's ``settings`` object; an unknown key is an InvalidRequestError."""
        _mapping("settings", data)
        _known_keys("settings", data, _SETTINGS_KEYS)
        compilation = data.get("compilation")
        mitigation = data.get("error_mitigation")
        return cls(
            compilation=None if compilation is None else _compilation(compilation),
            error_mitigation=None if mitigation is None else _mitigation(mitigation),
        )


_SETTINGS_KEYS: Final = ("compilation", "error_mitigation")
_COMPILATION_KEYS: Final = ("opt", "precision", "gate_basis", "service_version")
_MITIGATION_KEYS: Final = ("debiasing", "symmetry_verification")
_DEBIASING_KEYS: Final = ("phi_chi_twirling",)
_TWIRLING_KEYS: Final = ("p2q", "t2q", "t1q")


def _mapping(where: str, data: object) -> None:
    if not isinstance(data, Mapping):
        raise InvalidRequestError(f"{where} must be a mapping, got {data!r}")


def _known_keys(where: str, data: Mapping[str, Any], known: tuple[str, ...]) -> None:
    for key in data:
        if key not in known:
            hint = did_you_mean(str(key), known)
            raise InvalidRequestError(
                f"{where} has an unknown key {key!r}{hint}; its keys: {', '.join(known)}"
            )


def _compilation(data: object) -> Compilation:
    _mapping("settings['compilation']", data)
    assert isinstance(data, Mapping)
    _known_keys("settings['compilation']", data, _COMPILATION_KEYS)
    return Compilation(**{key: data[key] for key in _COMPILATION_KEYS if key in data})


def _mitigation(data: object) -> ErrorMitigation:
    _mapping("settings['error_mitigation']", data)
    assert isinstance(data, Mapping)
    _known_keys("settings['error_mitigation']", data, _MITIGATION_KEYS)
    debiasing = data.get("debiasing")
    if isinstance(debiasing, Mapping):
        _known_keys("settings['error_mitigation']['debiasing']", debiasing, _DEBIASING_KEYS)
        twirling = debiasing.get("phi_chi_twirling")
        if twirling is not None:
            _mapping("phi_chi_twirling", twirling)
            _known_keys("phi_chi_twirling", twirling, _TWIRLING_KEYS)
            twirling = PhiChiTwirling(**{k: twirling[k] for k in _TWIRLING_KEYS if k in twirling})
        debiasing = Debiasing(phi_chi_twirling=twirling)
    return ErrorMitigation(
        debiasing=debiasing, symmetry_verification=data.get("symmetry_verification")
    )


def settings_json(
    settings: Settings | Mapping[str, Any] | None,
    *,
    shots: int | None,
    debiasing: bool | None = None,
) -> dict[str, Any] | None:
    """The job's ``settings`` object, checked, or None when there is nothing to send.

    ``settings`` is a :class:`Settings` or the API's mapping (read by
    :meth:`Settings.from_json`, so both are checked alike); ``debiasing`` (submit's
    keyword) overrides the settings' own. Debiasing with fewer than 500 shots (or the
    API's default of 100) is an InvalidRequestError.
    """
    if settings is None:
        typed = Settings()
    elif isinstance(settings, Settings):
        typed = settings
    elif isinstance(settings, Mapping):
        typed = Settings.from_json(settings)
    else:
        raise InvalidRequestError(
            f"settings must be a Settings or a mapping, got {type(settings).__name__}"
        )
    if debiasing is not None:
        if not isinstance(debiasing, bool):
            raise InvalidRequestError(f"debiasing must be True or False, got {debiasing!r}")
        mitigation = typed.error_mitigation or ErrorMitigation()
        typed = evolve(typed, error_mitigation=evolve(mitigation, debiasing=debiasing))
    if typed.debiased:
        effective = DEFAULT_SHOTS if shots is None else shots
        if effective < MIN_DEBIASING_SHOTS:
            given = f"the default ({DEFAULT_SHOTS})" if shots is None else f"{shots}"
            raise InvalidRequestError(
                f"debiasing needs at least {MIN_DEBIASING_SHOTS} shots, got {given}: "
                f"pass shots={MIN_DEBIASING_SHOTS} or more, or debiasing=False"
            )
    return typed.to_json() or None
