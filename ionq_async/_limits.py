"""API facts of IonQ's REST API v0.4: job types and the limits a request must keep (pure).

The one place these numbers and names are written. Both the client and the emulator import
them; each keeps its own checking code, so that the emulator stays an independent test
partner (shared rules would make their bugs agree) while a fact changes in one place.
Sources: ``reference/ionq-api-notes.md`` and IonQ's OpenAPI description.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CIRCUIT_TYPE",
    "DEFAULT_SHOTS",
    "INT32_MAX",
    "JOB_TYPES",
    "KNOWN_BACKENDS",
    "MAX_BODY_BYTES",
    "MAX_CIRCUITS_PER_JOB",
    "MAX_CONTROLS",
    "MAX_GATES_PER_JOB",
    "MAX_METADATA_KEYS",
    "MAX_METADATA_KEY_CHARS",
    "MAX_METADATA_VALUE_CHARS",
    "MAX_SHOTS",
    "MIN_DEBIASING_SHOTS",
    "MULTI_CIRCUIT_TYPE",
    "NOISE_MODELS",
    "OTHER_JOB_TYPES",
    "QASM3_TYPE",
]

CIRCUIT_TYPE: Final = "ionq.circuit.v1"
"""The job type of one circuit in IonQ's JSON form."""

MULTI_CIRCUIT_TYPE: Final = "ionq.multi-circuit.v1"
"""The job type of several circuits in one job (a parent with one child per circuit)."""

QASM3_TYPE: Final = "ionq.qasm3.v1"
"""The job type of an OpenQASM 3 program (``{"data": text}`` input)."""

JOB_TYPES: Final = frozenset({CIRCUIT_TYPE, MULTI_CIRCUIT_TYPE})
"""The job types this library builds and the emulator runs."""

OTHER_JOB_TYPES: Final = frozenset({QASM3_TYPE, "quantum-function", "qctrl.qaoa.v1", "ionq.qir.v1"})
"""Job types the API knows besides :data:`JOB_TYPES`."""

MAX_SHOTS: Final = 1_000_000
"""The most shots one job may ask for."""

DEFAULT_SHOTS: Final = 100
"""Shots the API uses when a job names none."""

MIN_DEBIASING_SHOTS: Final = 500
"""The fewest shots a debiased (error-mitigated) QPU job may ask for."""

MAX_METADATA_KEYS: Final = 10
"""The most keys a job's ``metadata`` may hold."""

MAX_METADATA_KEY_CHARS: Final = 40
"""The longest a ``metadata`` key may be."""

MAX_METADATA_VALUE_CHARS: Final = 40_000
"""The longest a ``metadata`` value may be."""

INT32_MAX: Final = 2**31 - 1
"""The largest value of the API's 32-bit integer fields (``noise.seed``, ...)."""

MAX_CONTROLS: Final = 7
"""The most controls one gate may have."""

MAX_CIRCUITS_PER_JOB: Final = 5_000
"""The most circuits one ``ionq.multi-circuit.v1`` job may carry."""

MAX_GATES_PER_JOB: Final = 150_000
"""The most gates, summed over its circuits, one multi-circuit job may carry."""

MAX_BODY_BYTES: Final = 10_000_000
"""The API's request body limit (10 MB)."""

KNOWN_BACKENDS: Final = (
    "simulator",
    "qpu.aria-1",
    "qpu.aria-2",
    "qpu.forte-1",
    "qpu.forte-enterprise-1",
    "qpu.forte-enterprise-2",
    "qpu.forte-enterprise-3",
    "qpu.tempo-1",
)
"""Backends named by IonQ's OpenAPI descriptions (May and September 2026) and by
qiskit-ionq's tests (``qpu.tempo-1``). The API's field is a free-form string: other
``qpu.*`` names far from these pass (see ``_names``)."""

NOISE_MODELS: Final = (
    "ideal",
    "harmony",
    "harmony-1",
    "harmony-2",
    "aria-1",
    "aria-2",
    "forte-1",
    "forte-enterprise-1",
)
"""The simulator's noise models: the ``NoiseModel`` enum of IonQ's OpenAPI description."""
