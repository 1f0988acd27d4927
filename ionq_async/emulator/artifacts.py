"""A finished job's artifacts: which it has (ids, formats, content types), what each holds,
and the job's ``results`` and ``output`` objects that list them (pure).

Artifact ids (``GET /jobs/{id}/artifacts/{artifact_id}``; every one is also listed by
format in the job's ``results`` or ``output``):

=========================  =============================================  ==================
id                         format                                         content type
=========================  =============================================  ==================
``probabilities``          ``ionq.result.probabilities.json.v1``          application/json
``histogram``              ``ionq.result.histogram.json.v1``              application/json
``shots``                  ``ionq.result.shots.json.v1``                  application/json
``probabilities-v2``       ``ionq.result.probabilities.json.v2``          application/json
``histogram-v2``           ``ionq.result.histogram.json.v2``              application/json
``shots-v2``               ``ionq.result.shots.json.v2``                  application/json
``probabilities-aggregate`` ``ionq.result.probabilities-aggregate.json.v1`` application/json
``compiled-native``        ``ionq.native.v1`` (``compiled.py``)           application/json
``compiled-qasm3``         ``ionq.qasm3.v1`` (``compiled.py``)            text/plain
``aggregation-<method>``   ``ionq.result.histogram.json.v2``              application/json
``<variant id>-<kind>-v2`` a variant's probabilities / histogram / shots  application/json
=========================  =============================================  ==================

- A multi-circuit parent has only ``probabilities-aggregate`` (its children have the rest).
  A single-circuit job also answers ``probabilities-aggregate`` (keyed by its own id).
- Shots and histograms exist for every completed job except, with
  ``EmulatorConfig(ideal_shots="none")``, ideal-simulator jobs (as IonQ documents).
- Compiled circuits exist once a job completed, dry runs included (they are compiled,
  not run); result artifacts never exist for dry runs, failed or canceled jobs.
- ``aggregation-*`` and variant artifacts exist for debiased jobs (``mitigation.py``).

**v2 (register-keyed) forms.** Every circuit has the system register ``output_all`` (all
its qubits, in order) plus the registers its input declared (``registers``: name ->
qubit list). A register's value is written as a bitstring in the register's order:
character ``i`` is the bit of the register's ``i``-th qubit, so for ``output_all`` qubit 0
is the **leftmost** character (state 1 of two qubits is ``"10"``), and a shot's bit array
``[b0, b1, ...]`` reads the same way. This is how IonQ's own qiskit-ionq reads v2
artifacts (its tests map v2 ``"10"`` to v1 state 1); the v1 forms keep decimal keys with
qubit 0 the least significant bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from attrs import frozen

from ionq_async.results import counts_from_probabilities

from . import compiled
from .mitigation import (
    AGGREGATIONS,
    DEFAULT_AGGREGATION,
    Variant,
    qubit_map,
    split_variants,
    variant_count,
    variant_shots,
)
from .mitigation import aggregate as aggregate_variants
from .mitigation import variant_id as make_variant_id
from .pricing import debiased
from .records import JobRecord, JobState, SimulationOutcome

__all__ = [
    "FORMAT_AGGREGATE",
    "Payload",
    "aggregated",
    "find_artifact",
    "has_variants",
    "histogram_v2",
    "is_ideal",
    "output_json",
    "probabilities_v2",
    "registers_of",
    "results_json",
    "serves_shots",
    "shots_v2",
    "v1_json",
    "variants_of",
]

FORMAT_PROBABILITIES: Final = "ionq.result.probabilities.json.v1"
FORMAT_AGGREGATE: Final = "ionq.result.probabilities-aggregate.json.v1"
FORMAT_HISTOGRAM: Final = "ionq.result.histogram.json.v1"
FORMAT_SHOTS: Final = "ionq.result.shots.json.v1"
FORMAT_PROBABILITIES_V2: Final = "ionq.result.probabilities.json.v2"
FORMAT_HISTOGRAM_V2: Final = "ionq.result.histogram.json.v2"
FORMAT_SHOTS_V2: Final = "ionq.result.shots.json.v2"
SYSTEM_REGISTER: Final = "output_all"
JSON: Final = "application/json"


@frozen
class Payload:
    """An artifact's body: JSON-ready data, or text for ``text/*`` content types."""

    media_type: str
    body: Any


# ------------------------------------------------------------------------ which jobs


def is_ideal(record: JobRecord) -> bool:
    """True for an ideal-simulator job (exact probabilities, no noise model)."""
    return record.backend.is_simulator and record.noise_model in (None, "ideal")


def serves_shots(record: JobRecord, ideal_shots: str) -> bool:
    """Whether the job has per-shot results (shots and histogram)."""
    return not (ideal_shots == "none" and is_ideal(record))


def has_variants(record: JobRecord) -> bool:
    """True for a debiased job whose shots are drawn (QPU, or a noise model)."""
    return not record.is_parent and debiased(record.settings) and not is_ideal(record)


def compiled_langs(record: JobRecord) -> tuple[str, ...]:
    """The compiled forms the job's circuit has (``native``, ``qasm3``), worked out once."""
    if record.compiled_langs is None:
        spec = record.spec
        langs: list[str] = []
        if spec is not None and spec.runnable:
            langs = [lang for lang in compiled.LANGS if compiled.has_form(spec, lang)]
        record.compiled_langs = tuple(langs)
    return record.compiled_langs


def compiled_form(record: JobRecord, state: JobState, lang: str) -> Payload | None:
    """The job's compiled circuit in ``lang``, or None if it has none (yet)."""
    spec = record.spec
    if state.status != "completed" or spec is None or lang not in compiled_langs(record):
        return None
    if lang == "native":
        return Payload(compiled.MEDIA_TYPES[lang], compiled.native_json(spec))
    return Payload(compiled.MEDIA_TYPES[lang], compiled.qasm3_text(spec))


# ------------------------------------------------------------------------ v2 forms


def registers_of(record: JobRecord) -> list[tuple[str, tuple[int, ...]]]:
    """``output_all`` (every qubit) and the circuit's declared registers, in order."""
    width = record.spec.qubits if record.spec is not None else record.qubits
    declared = list(record.spec.registers) if record.spec is not None else []
    return [(SYSTEM_REGISTER, tuple(range(width))), *declared]


def _bits(state: int, qubits: Sequence[int]) -> str:
    return "".join("1" if (state >> q) & 1 else "0" for q in qubits)


def _marginal(values: dict[int, Any], qubits: Sequence[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for state in sorted(values):
        key = _bits(state, qubits)
        out[key] = out.get(key, 0) + values[state]
    return out


def probabilities_v2(
    probabilities: dict[int, float], registers: Sequence[tuple[str, Sequence[int]]]
) -> dict[str, Any]:
    """``ionq.result.probabilities.json.v2``: each register's distribution."""
    return {
        "probabilities": {
            "registers": {name: _marginal(probabilities, qubits) for name, qubits in registers}
        }
    }


def histogram_v2(
    histogram: dict[int, int], registers: Sequence[tuple[str, Sequence[int]]]
) -> dict[str, Any]:
    """``ionq.result.histogram.json.v2``: each register's counts."""
    return {
        "histogram": {
            "registers": {name: _marginal(histogram, qubits) for name, qubits in registers}
        }
    }


def shots_v2(
    states: Sequence[int], registers: Sequence[tuple[str, Sequence[int]]]
) -> dict[str, Any]:
    """``ionq.result.shots.json.v2``: each shot's bits by register."""
    return {
        "shots": [
            {"registers": {name: [(state >> q) & 1 for q in qubits] for name, qubits in registers}}
            for state in states
        ]
    }


# ------------------------------------------------------------------------ mitigation


def variants_of(record: JobRecord, outcome: SimulationOutcome) -> list[Variant]:
    """The job's variants (``has_variants`` jobs only)."""
    return split_variants(
        record.id,
        outcome.shots(),
        qubits=record.qubits,
        backend_qubits=record.backend.qubits,
    )


def aggregated(record: JobRecord, outcome: SimulationOutcome, method: str) -> dict[int, float]:
    """The job's probabilities combined by ``method`` (the job's own if not debiased)."""
    if not has_variants(record) or method == DEFAULT_AGGREGATION:
        return dict(outcome.probabilities)
    return aggregate_variants(method, variants_of(record, outcome), outcome.probabilities)


# ------------------------------------------------------------------------ listings


def _descriptor(artifact_id: str, fmt: str, media_type: str = JSON) -> dict[str, str]:
    return {"id": artifact_id, "format": fmt, "media_type": media_type}


def results_json(record: JobRecord, *, ideal_shots: str) -> dict[str, Any]:
    """The ``results`` of a completed job: format-keyed descriptors and legacy URLs."""
    base = f"/v0.4/jobs/{record.id}/results"
    if record.is_parent:
        return {
            FORMAT_AGGREGATE: _descriptor("probabilities-aggregate", FORMAT_AGGREGATE),
            "probabilities": {"url": f"{base}/probabilities/aggregated"},
        }
    shots = serves_shots(record, ideal_shots)
    out: dict[str, Any] = {FORMAT_PROBABILITIES: _descriptor("probabilities", FORMAT_PROBABILITIES)}
    if shots:
        out[FORMAT_HISTOGRAM] = _descriptor("histogram", FORMAT_HISTOGRAM)
        out[FORMAT_SHOTS] = _descriptor("shots", FORMAT_SHOTS)
    out["probabilities"] = {"url": f"{base}/probabilities"}
    if shots:
        out["histogram"] = {"url": f"{base}/histogram"}
        out["shots"] = {"url": f"{base}/shots"}
    out[FORMAT_PROBABILITIES_V2] = _descriptor("probabilities-v2", FORMAT_PROBABILITIES_V2)
    if shots:
        out[FORMAT_HISTOGRAM_V2] = _descriptor("histogram-v2", FORMAT_HISTOGRAM_V2)
        out[FORMAT_SHOTS_V2] = _descriptor("shots-v2", FORMAT_SHOTS_V2)
    return out


def output_json(record: JobRecord, state: JobState) -> dict[str, Any]:
    """The job's ``output``: compiled circuits once completed, and debiasing's variants
    and aggregations for debiased jobs with results; ``{}`` otherwise."""
    if state.status != "completed" or record.is_parent:
        return {}
    out: dict[str, Any] = {}
    langs = compiled_langs(record)
    if langs:
        out["compilation"] = {
            "compiled_circuits": {
                compiled.COMPILED_FORMATS[lang]: _descriptor(
                    f"compiled-{lang}", compiled.COMPILED_FORMATS[lang], compiled.MEDIA_TYPES[lang]
                )
                for lang in langs
            }
        }
    if not record.dry_run and state.outcome is not None and has_variants(record):
        total = sum(state.outcome.histogram.values())
        variants = []
        for index in range(variant_count(total)):
            vid = make_variant_id(record.id, index)
            variants.append(
                {
                    "variant_id": vid,
                    "qubit_map": list(qubit_map(index, record.qubits, record.backend.qubits)),
                    "shots": variant_shots(total, index),
                    "results": {
                        FORMAT_PROBABILITIES_V2: _descriptor(
                            f"{vid}-probabilities-v2", FORMAT_PROBABILITIES_V2
                        ),
                        FORMAT_HISTOGRAM_V2: _descriptor(
                            f"{vid}-histogram-v2", FORMAT_HISTOGRAM_V2
                        ),
                        FORMAT_SHOTS_V2: _descriptor(f"{vid}-shots-v2", FORMAT_SHOTS_V2),
                    },
                }
            )
        out["error_mitigation"] = {
            "debiasing": {"variants": variants, "aggregation_method": DEFAULT_AGGREGATION},
            "aggregations": {
                method: _descriptor(f"aggregation-{method}", FORMAT_HISTOGRAM_V2)
                for method in AGGREGATIONS
            },
        }
    return out


# ------------------------------------------------------------------------ contents


def _result_artifacts(
    record: JobRecord, outcome: SimulationOutcome, *, ideal_shots: str
) -> dict[str, Callable[[], Any]]:
    """Builders of a single-circuit job's result artifacts, by id."""
    registers = registers_of(record)
    builders: dict[str, Callable[[], Any]] = {
        "probabilities": lambda: v1_json(outcome.probabilities),
        "probabilities-aggregate": lambda: {record.id: v1_json(outcome.probabilities)},
        "probabilities-v2": lambda: probabilities_v2(outcome.probabilities, registers),
    }
    if serves_shots(record, ideal_shots):
        builders["histogram"] = lambda: v1_json(outcome.histogram)
        builders["shots"] = outcome.shots
        builders["histogram-v2"] = lambda: histogram_v2(outcome.histogram, registers)
        builders["shots-v2"] = lambda: shots_v2(outcome.shots(), registers)
    if has_variants(record):
        shots = sum(outcome.histogram.values())
        for method in AGGREGATIONS:
            builders[f"aggregation-{method}"] = _aggregation_builder(
                record, outcome, method, shots, registers
            )
        for index in range(variant_count(shots)):
            vid = make_variant_id(record.id, index)
            for kind, build in _variant_builders(record, outcome, index, registers).items():
                builders[f"{vid}-{kind}-v2"] = build
    return builders


def _aggregation_builder(
    record: JobRecord,
    outcome: SimulationOutcome,
    method: str,
    shots: int,
    registers: Sequence[tuple[str, Sequence[int]]],
) -> Callable[[], Any]:
    def build() -> Any:
        counts = counts_from_probabilities(aggregated(record, outcome, method), shots)
        return histogram_v2({s: c for s, c in counts.items() if c}, registers)

    return build


def _variant_builders(
    record: JobRecord,
    outcome: SimulationOutcome,
    index: int,
    registers: Sequence[tuple[str, Sequence[int]]],
) -> dict[str, Callable[[], Any]]:
    def variant() -> Variant:
        return variants_of(record, outcome)[index]

    return {
        "probabilities": lambda: probabilities_v2(variant().probabilities(), registers),
        "histogram": lambda: histogram_v2(variant().histogram(), registers),
        "shots": lambda: shots_v2(variant().shot_states, registers),
    }


def v1_json(values: dict[int, Any]) -> dict[str, Any]:
    """A v1 result map: decimal-state keys (qubit 0 the least significant bit)."""
    return {str(state): value for state, value in values.items()}


def find_artifact(
    record: JobRecord,
    state: JobState,
    outcomes: Sequence[tuple[str, SimulationOutcome]] | None,
    artifact_id: str,
    *,
    ideal_shots: str,
) -> Payload | None:
    """The artifact ``artifact_id`` of the job in ``state``, or None if it has no such one.

    ``outcomes`` are the store's (job id, outcome) pairs once the job has results (one per
    child for a parent), else None.
    """
    if artifact_id.startswith("compiled-") and not record.is_parent:
        return compiled_form(record, state, artifact_id.removeprefix("compiled-"))
    if outcomes is None:
        return None
    if record.is_parent:
        if artifact_id != "probabilities-aggregate":
            return None
        return Payload(JSON, {job_id: v1_json(o.probabilities) for job_id, o in outcomes})
    build = _result_artifacts(record, outcomes[0][1], ideal_shots=ideal_shots).get(artifact_id)
    return Payload(JSON, build()) if build is not None else None
