"""Names checked before any request: backends and noise models, with "did you mean".

A typo (``backend="simulater"``, ``noise_model="aria"``) is refused here, naming the
closest valid names and the whole list, instead of travelling to the server and coming
back as a 400. Noise models are an enum in IonQ's OpenAPI description: checked strictly.

Backends are a free-form string there (IonQ adds QPUs), so the check must not lock users
out of a QPU this release does not know yet:

- a known name (``_limits.KNOWN_BACKENDS``) passes;
- a new unit of a known family passes: ``qpu.<family>-<number>`` where ``qpu.<family>-1``
  or another number of that family is known (``qpu.tempo-2``, ``qpu.forte-enterprise-4``);
- a name close to a known one is a typo, refused with the closest names (``qpu.forte1``,
  ``qpu.aria-l``, ``Simulator``);
- any other ``qpu.<name>`` (lower case, hyphenated) passes as a new QPU;
- anything else is refused.

A name that passes and does not exist is the server's to refuse, as before.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Final

from ._limits import KNOWN_BACKENDS, NOISE_MODELS
from .exceptions import InvalidRequestError

__all__ = ["check_backend_name", "check_noise_model", "close_names", "did_you_mean"]

_QPU_NAME: Final = re.compile(r"qpu\.[a-z0-9]+(?:-[a-z0-9]+)*")
_UNIT_NUMBER: Final = re.compile(r"(qpu\.[a-z0-9-]+-)([1-9][0-9]*)")

_KNOWN_FAMILIES: Final = frozenset(
    match.group(1) for name in KNOWN_BACKENDS if (match := _UNIT_NUMBER.fullmatch(name))
)
"""``qpu.aria-``, ``qpu.forte-enterprise-``, ...: families whose next unit may appear."""


def close_names(name: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> list[str]:
    """Up to three candidates close to ``name``, closest first (case does not matter)."""
    by_lower: dict[str, str] = {}
    for candidate in sorted(candidates):
        by_lower.setdefault(candidate.lower(), candidate)
    lowered = name.strip().lower()
    # difflib's ranking, but ties in name order ("aria-1" before "aria-2").
    matcher = difflib.SequenceMatcher(b=lowered)
    scored = []
    for candidate in by_lower:
        matcher.set_seq1(candidate)
        if matcher.real_quick_ratio() >= cutoff and matcher.quick_ratio() >= cutoff:
            ratio = matcher.ratio()
            if ratio >= cutoff:
                scored.append((-ratio, candidate))
    close = [candidate for _, candidate in sorted(scored)[:3]]
    if not close and len(lowered) >= 3:
        # A prefix ("sim", "qpu.forte-ent") is too short for difflib's ratio.
        close = [c for c in by_lower if c.startswith(lowered)][:3]
    return [by_lower[c] for c in close]


def did_you_mean(name: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str:
    """``" (did you mean 'a' or 'b'?)"`` for the closest candidates, or ``""``."""
    close = close_names(name, candidates, cutoff=cutoff)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def _new_unit_of_known_family(backend: str) -> bool:
    match = _UNIT_NUMBER.fullmatch(backend)
    return match is not None and match.group(1) in _KNOWN_FAMILIES


def check_backend_name(backend: object) -> str:
    """The backend name, or InvalidRequestError naming the closest valid ones."""
    if not isinstance(backend, str) or not backend.strip():
        raise InvalidRequestError(f"backend must be a non-empty string, got {backend!r}")
    if backend in KNOWN_BACKENDS or _new_unit_of_known_family(backend):
        return backend
    # A name close to a known one is a typo even when it looks like a QPU's
    # ("qpu.forte1", "qpu.aria-l"): only names far from every known one pass as new QPUs.
    hint = did_you_mean(backend, KNOWN_BACKENDS, cutoff=0.8)
    if not hint and _QPU_NAME.fullmatch(backend):
        return backend
    hint = hint or did_you_mean(backend, KNOWN_BACKENDS)
    raise InvalidRequestError(
        f"unknown backend {backend!r}{hint}; backends: {', '.join(KNOWN_BACKENDS)} "
        "(client.backends() lists those of your account)"
    )


def check_noise_model(model: object) -> str:
    """The noise model name, or InvalidRequestError naming the closest valid ones."""
    if not isinstance(model, str) or not model:
        raise InvalidRequestError(f"noise_model must be a name such as 'aria-1', got {model!r}")
    if model in NOISE_MODELS:
        return model
    raise InvalidRequestError(
        f"unknown noise model {model!r}{did_you_mean(model, NOISE_MODELS)}; "
        f"noise models: {', '.join(NOISE_MODELS)}"
    )
