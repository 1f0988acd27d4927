"""The ``POST /jobs`` body from submit options, checked as the API would check it (pure).

The one place a job payload is built: :meth:`~ionq_async.client.Client.submit`, the batch
engine and the command line all come here, so an option means the same everywhere.
"""

from __future__ import annotations

import copy
import logging
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from . import interop
from ._limits import (
    CIRCUIT_TYPE,
    INT32_MAX,
    MAX_METADATA_KEY_CHARS,
    MAX_METADATA_KEYS,
    MAX_METADATA_VALUE_CHARS,
    MAX_SHOTS,
    MULTI_CIRCUIT_TYPE,
)
from ._names import check_backend_name, check_noise_model
from .circuits import Circuit, circuits_from_multi_json, multi_circuit_json
from .exceptions import InvalidRequestError
from .models import Session
from .programs import Qasm3Program
from .readout import READOUT_METADATA_KEY, Readout
from .settings import Settings, settings_json

logger = logging.getLogger("ionq_async")

__all__ = ["CircuitInput", "as_job_input", "job_payload", "merge_payload", "payload_options"]

CircuitInput = Circuit | Qasm3Program | Sequence[Any] | Mapping[str, Any] | Any
"""What submit() takes: a circuit (ours, Qiskit's, Cirq's, OpenQASM text, an OpenQASM 3
program), several (a multi-circuit job), or the API's ``input``."""


def _session_id(session: Session | str) -> str:
    if isinstance(session, Session):
        return session.id
    if isinstance(session, str):
        if not session.strip():
            raise InvalidRequestError("a session id must not be empty")
        return session
    raise TypeError(f"expected a Session or a session id string, got {type(session).__name__}")


def _check_int(name: str, value: object, *, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidRequestError(f"{name} must be an integer, got {value!r}")
    # NumPy integers are integers too; send them as plain ints (they are not JSON).
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f"between {low:,} and {high:,}" if high is not None else f">= {low:,}"
        raise InvalidRequestError(f"{name} must be {bound}, got {value:,}")
    return value


def _check_backend(backend: object) -> str:
    # A typo gets "did you mean" and the list of backends before any request.
    return check_backend_name(backend)


def _check_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(metadata, Mapping):
        raise InvalidRequestError(f"metadata must be a mapping of strings, got {metadata!r}")
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidRequestError(
            f"metadata has {len(metadata)} keys; the API allows at most {MAX_METADATA_KEYS}"
        )
    out: dict[str, str] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            raise InvalidRequestError(f"metadata keys must be non-empty strings, got {key!r}")
        if len(key) > MAX_METADATA_KEY_CHARS:
            raise InvalidRequestError(
                f"metadata key {key[:20]!r}... has {len(key)} characters; "
                f"at most {MAX_METADATA_KEY_CHARS} are allowed"
            )
        if not isinstance(value, str):
            raise InvalidRequestError(
                f"metadata value of {key!r} must be a string, got {type(value).__name__}"
            )
        if len(value) > MAX_METADATA_VALUE_CHARS:
            raise InvalidRequestError(
                f"metadata value of {key!r} has {len(value):,} characters; "
                f"at most {MAX_METADATA_VALUE_CHARS:,} are allowed"
            )
        out[key] = value
    return out


def as_job_input(circuit: object) -> object:
    """A foreign circuit (Qiskit, Cirq, OpenQASM text) converted; anything else as it is."""
    if interop.kind_of(circuit) is not None:
        return interop.convert(circuit)
    return circuit


def _circuit_input(
    circuit: CircuitInput,
) -> tuple[str, dict[str, Any], str | None, Readout | None]:
    """(job type, ``input``, a name taken from the circuit, its readout) after validating
    the circuit(s)."""
    circuit = as_job_input(circuit)
    if isinstance(circuit, Qasm3Program):
        return circuit.job_type, circuit.to_json(), circuit.name, circuit.readout
    if isinstance(circuit, Circuit):
        circuit.validate()
        return CIRCUIT_TYPE, circuit.to_json(), circuit.name, circuit.readout
    if isinstance(circuit, Mapping):
        if "circuits" in circuit:
            circuits_from_multi_json(circuit)
            kind = MULTI_CIRCUIT_TYPE
        else:
            Circuit.from_json(circuit)
            kind = CIRCUIT_TYPE
        # Validated above; sent as the caller wrote it (names, registers and all).
        return kind, copy.deepcopy(dict(circuit)), None, None
    if isinstance(circuit, str | bytes) or not isinstance(circuit, Sequence):
        raise TypeError(
            "circuit must be a Circuit, a Qiskit QuantumCircuit, a cirq.Circuit, OpenQASM "
            "text, a sequence of circuits or an input mapping, "
            f"got {type(circuit).__name__}"
        )
    members = [as_job_input(member) for member in circuit]
    for position, member in enumerate(members):
        if not isinstance(member, Circuit):
            raise TypeError(
                f"a multi-circuit job holds circuits; item {position} is {type(member).__name__}"
            )
    # A pack's circuits share the job's one metadata: their readouts are not carried.
    return MULTI_CIRCUIT_TYPE, multi_circuit_json(members), None, None  # type: ignore[arg-type]


def job_payload(
    circuit: CircuitInput,
    *,
    backend: str = "simulator",
    shots: int | None = None,
    name: str | None = None,
    noise_model: str | None = None,
    noise_seed: int | None = None,
    debiasing: bool | None = None,
    dry_run: bool = False,
    session_id: str | None = None,
    metadata: Mapping[str, str] | None = None,
    settings: Settings | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``POST /jobs`` body for a circuit, checked as the API would check it.

    Raises CircuitError for a bad circuit and InvalidRequestError for any other argument
    the API would refuse (shots outside 1..1,000,000, debiasing under 500 shots, more than
    10 metadata keys, a noise model on a QPU, ...).
    """
    backend = _check_backend(backend)
    kind, circuit_input, circuit_name, readout = _circuit_input(circuit)
    payload: dict[str, Any] = {"type": kind, "backend": backend}
    if name is None:
        name = circuit_name
    if name is not None:
        if not isinstance(name, str):
            raise InvalidRequestError(f"name must be a string, got {name!r}")
        payload["name"] = name
    if shots is not None:
        payload["shots"] = _check_int("shots", shots, low=1, high=MAX_SHOTS)
    if noise_model is not None or noise_seed is not None:
        if backend != "simulator":
            raise InvalidRequestError(
                f"noise models apply to the simulator only, not to backend {backend!r}"
            )
        if noise_model is None:
            raise InvalidRequestError("noise_seed needs a noise_model (such as 'aria-1')")
        noise: dict[str, Any] = {"model": check_noise_model(noise_model)}
        if noise_seed is not None:
            noise["seed"] = _check_int("noise_seed", noise_seed, low=0, high=INT32_MAX)
        payload["noise"] = noise
    # Typed Settings or the API's mapping, checked alike (debiasing's 500-shot minimum too).
    wire_settings = settings_json(settings, shots=shots, debiasing=debiasing)
    if wire_settings is not None:
        payload["settings"] = wire_settings
    if not isinstance(dry_run, bool):
        raise InvalidRequestError(f"dry_run must be True or False, got {dry_run!r}")
    if dry_run:
        payload["dry_run"] = True
    if session_id is not None:
        payload["session_id"] = _session_id(session_id)
    if metadata is not None:
        payload["metadata"] = _check_metadata(metadata)
    if readout is not None:
        _carry_readout(payload, readout)
    payload["input"] = circuit_input
    return payload


def _carry_readout(payload: dict[str, Any], readout: Readout) -> None:
    """Put the circuit's readout in the job's metadata if there is room, so that a result
    fetched later is keyed as the source keys it (``readout.readout_of``)."""
    metadata: dict[str, str] = dict(payload.get("metadata") or {})
    if READOUT_METADATA_KEY in metadata:
        return  # the caller's own value (a resubmitted job's metadata): theirs to keep
    encoded = readout.to_metadata()
    if len(metadata) >= MAX_METADATA_KEYS or len(encoded) > MAX_METADATA_VALUE_CHARS:
        logger.debug(
            "the circuit's readout does not fit in the job's metadata (%d keys, %d chars): "
            "a result fetched later by job id will be keyed by qubits",
            len(metadata),
            len(encoded),
        )
        return
    metadata[READOUT_METADATA_KEY] = encoded
    payload["metadata"] = metadata


def merge_payload(payload: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """A job payload with ``options`` (submit keywords) written over its own fields.

    The payload's own fields are not checked: a payload given whole (the command line's
    ``submit`` of a payload file) may hold a job type or fields :func:`job_payload` does
    not build, and is the API's to judge. The ``backend`` and ``noise_model`` written
    over them are checked by name (a typo typed on the command line gets "did you
    mean" before any request). ``noise_seed`` alone gives the ``ideal`` model.
    """
    if "backend" in options:
        check_backend_name(options["backend"])
    if options.get("noise_model") is not None:
        check_noise_model(options["noise_model"])
    merged = dict(payload)
    merged.setdefault("backend", "simulator")
    for key in ("backend", "shots", "name", "dry_run"):
        if key in options:
            merged[key] = options[key]
    if "session_id" in options:
        merged["session_id"] = options["session_id"]
    if "noise_model" in options or "noise_seed" in options:
        noise = dict(merged.get("noise") or {})
        if "noise_model" in options:
            noise["model"] = options["noise_model"]
        if "noise_seed" in options:
            noise["seed"] = options["noise_seed"]
        noise.setdefault("model", "ideal")
        merged["noise"] = noise
    if "debiasing" in options:
        settings = dict(merged.get("settings") or {})
        mitigation = dict(settings.get("error_mitigation") or {})
        mitigation["debiasing"] = options["debiasing"]
        settings["error_mitigation"] = mitigation
        merged["settings"] = settings
    if "metadata" in options:
        merged["metadata"] = {**(merged.get("metadata") or {}), **options["metadata"]}
    return merged


def payload_options(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A payload's job fields as ``Client.submit`` keywords (the inverse of merge_payload)."""
    options: dict[str, Any] = {}
    for key in ("backend", "shots", "name", "dry_run", "session_id", "metadata"):
        if payload.get(key) is not None:
            options[key] = payload[key]
    noise = payload.get("noise")
    if isinstance(noise, Mapping):
        if noise.get("model") is not None:
            options["noise_model"] = noise["model"]
        if noise.get("seed") is not None:
            options["noise_seed"] = noise["seed"]
    if isinstance(payload.get("settings"), Mapping):
        options["settings"] = payload["settings"]
    return options
