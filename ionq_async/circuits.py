"""Circuits in IonQ's JSON form: a builder, parsing, and validation before any request.

(The lead engineer fixed the Gate shape below; the builder, parsing and validation are
filled in around it.)
"""

from __future__ import annotations

from attrs import frozen


@frozen(kw_only=True)
class Gate:
    """One gate in normalized form.

    ``gate`` is the canonical name (aliases resolved: ``not`` -> ``x``, ``cnot`` -> ``x``
    with controls). ``targets`` and ``controls`` are tuples of qubit indices. Rotations
    (``rotation``) are in radians for the qis gateset; ``phase``/``phases``/``angle`` are
    in turns for the native gateset. ``terms``/``coefficients``/``time`` are for pauliexp.
    """

    gate: str
    targets: tuple[int, ...]
    controls: tuple[int, ...] = ()
    rotation: float | None = None
    phase: float | None = None
    phases: tuple[float, ...] | None = None
    angle: float | None = None
    terms: tuple[str, ...] | None = None
    coefficients: tuple[float, ...] | None = None
    time: float | None = None
