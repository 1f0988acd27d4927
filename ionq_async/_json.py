"""Reading JSON answers: the client's one rule for what JSON is, in one function.

The standard library reads every answer the client decodes (the transport's answers and
error bodies, and JSON artifacts), with ``NaN``, ``Infinity`` and ``-Infinity`` refused:
they are not JSON, and a probability or a cost must never arrive as one. Integers keep
every digit, a repeated key keeps its last value, and text that is not UTF-8 (or UTF-16/32,
which the standard library detects) is refused.

A faster parser was measured and not adopted (issue 15; ``benchmarks/bench_json.py``):
orjson, kept to the standard library's values and errors, decodes a large probabilities
answer 20-45 % faster, but decoding is only part of what an answer costs the client (the
keys, the checks, the socket), and the client's CPU per job fell by 0-14 % up to 2^18
states (16 % at 2^20 states, a 31 MB answer; 3 % or less for multi-circuit answers).
Keeping orjson to the standard library's values needs checks of its own: it turns
integers beyond 64 bits into floats, refuses what the standard library reads (a byte-order
mark, UTF-16, ``1e400``) and nests deeper before refusing. The benchmark keeps that
candidate and patches it in here.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["loads", "reject_constant"]


def reject_constant(name: str) -> Any:
    """``parse_constant`` for ``json.loads``: NaN and the infinities are not JSON."""
    raise ValueError(f"{name} is not valid JSON")


def loads(data: bytes | str) -> Any:
    """The value of a JSON text; ValueError (JSONDecodeError, UnicodeDecodeError) or
    RecursionError for anything that is not strict JSON."""
    return json.loads(data, parse_constant=reject_constant)
