"""Names checked before any request: backends and noise models, with "did you mean".

A typo (``backend="simulater"``, ``noise_model="aria"``) is refused here, naming the
closest valid names and the whole list, instead of travelling to the server and coming
back as a 400. Noise models are an enum in IonQ's OpenAPI description: checked strictly.
Backends are a free-form string there (IonQ adds QPUs): a known name passes, a name close
to a known one is a typo, and any other ``qpu.<name>`` passes as a QPU this release does
not know yet; anything else is refused.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Final

from ._limits import KNOWN_BACKENDS, NOISE_MODELS
from .exceptions import InvalidRequestError

__all__ = ["check_backend_name", "check_noise_model", "did_you_mean"]

_QPU_NAME: Final = re.compile(r"qpu\.[a-z0-9]+(?:-[a-z0-9]+)*")


def did_you_mean(name: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str:
    """``" (did you mean 'a' or 'b'?)"`` for the closest candidates, or ``""``."""
    close = difflib.get_close_matches(name, sorted(candidates), n=3, cutoff=cutoff)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def check_backend_name(backend: object) -> str:
    """The backend name, or InvalidRequestError naming the closest valid ones."""
    if not isinstance(backend, str) or not backend.strip():
        raise InvalidRequestError(f"backend must be a non-empty string, got {backend!r}")
    if backend in KNOWN_BACKENDS:
        return backend
    # A name close to a known one is a typo even when it looks like a QPU's
    # ("qpu.forte1", "qpu.aria1"): only names far from every known one pass as new QPUs.
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
