"""Reading job inputs from files: a circuit ``input``, a whole job payload, or OpenQASM.

A file is OpenQASM 2 or 3 when its name ends in ``.qasm`` or its text starts with
``OPENQASM`` (after comments); it is read by :func:`ionq_async.interop.qasm.from_qasm`
(the ``[qasm]`` extra): a circuit when every gate maps onto IonQ's, else an
``ionq.qasm3.v1`` job payload (which ``run`` refers to ``submit``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from .. import interop
from .._limits import CIRCUIT_TYPE, JOB_TYPES, MULTI_CIRCUIT_TYPE
from ..circuits import Circuit, circuits_from_multi_json
from ..exceptions import CircuitError
from ..programs import Qasm3Program
from .exit_codes import InputFileError

__all__ = ["BadFile", "JobInput", "RunItem", "load_job_input", "load_run_inputs", "run_items"]


@frozen(kw_only=True)
class JobInput:
    """One file's content: circuits (from an ``input`` form) or a whole job payload."""

    source: str
    circuits: tuple[Circuit, ...] = ()
    multi: bool = False
    data: Mapping[str, Any] | None = None
    payload: Mapping[str, Any] | None = None


def _read_text(source: str) -> str:
    try:
        return sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise InputFileError(f"{source}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise InputFileError(f"{source}: not UTF-8 text") from None


def _read_json(source: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputFileError(
            f"{source}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None


def _circuits_of(source: str, data: Mapping[str, Any]) -> tuple[tuple[Circuit, ...], bool]:
    try:
        if "circuits" in data and "circuit" not in data:
            return tuple(circuits_from_multi_json(data)), True
        return (Circuit.from_json(data),), False
    except CircuitError as error:
        raise CircuitError(f"{source}: {error}") from None


def _is_qasm(source: str, text: str) -> bool:
    return source.lower().endswith(".qasm") or interop.kind_of(text) == "qasm"


def _qasm_input(source: str, text: str) -> JobInput:
    from ..interop.qasm import from_qasm

    try:
        converted = from_qasm(text)
    except CircuitError as error:
        raise CircuitError(f"{source}: {error}") from None
    if isinstance(converted, Qasm3Program):
        payload = {"type": converted.job_type, "input": converted.to_json()}
        return JobInput(source=source, payload=payload)
    return JobInput(source=source, circuits=(converted,), data=converted.to_json())


def load_job_input(source: str) -> JobInput:
    """Read a file (``-`` is stdin) holding a circuit ``input``, a whole job payload or
    an OpenQASM program."""
    text = _read_text(source)
    if _is_qasm(source, text):
        return _qasm_input(source, text)
    data = _read_json(source, text)
    if not isinstance(data, Mapping):
        raise InputFileError(f"{source}: expected a JSON object, got {type(data).__name__}")
    if "input" in data:
        job_input = data["input"]
        if not isinstance(job_input, Mapping):
            raise InputFileError(f"{source}: 'input' must be a JSON object")
        job_type = data.get("type")
        if job_type is None:
            job_type = MULTI_CIRCUIT_TYPE if "circuits" in job_input else CIRCUIT_TYPE
        payload = {"type": job_type, **data}
        circuits: tuple[Circuit, ...] = ()
        multi = False
        if job_type in JOB_TYPES:
            # Check the circuits here, so a bad file fails before anything is sent.
            circuits, multi = _circuits_of(source, job_input)
        return JobInput(source=source, circuits=circuits, multi=multi, payload=payload)
    if "circuit" in data or "circuits" in data:
        circuits, multi = _circuits_of(source, data)
        return JobInput(source=source, circuits=circuits, multi=multi, data=data)
    raise InputFileError(
        f"{source}: neither a circuit input (with 'circuit' or 'circuits') "
        "nor a job payload (with 'input')"
    )


@frozen(kw_only=True)
class RunItem:
    """One circuit of a ``run``: where it came from and what to call it."""

    source: str
    label: str
    circuit: Circuit


@frozen(kw_only=True)
class BadFile:
    """A file of a ``run`` that cannot run, and why."""

    source: str
    error: BaseException


def run_items(inputs: Sequence[JobInput]) -> list[RunItem]:
    """Every circuit of the given files, labelled ``file`` or ``file#i`` (multi-circuit)."""
    items = []
    for job_input in inputs:
        if not job_input.circuits:
            raise InputFileError(
                f"{job_input.source}: {job_input.payload.get('type') if job_input.payload else ''}"
                " jobs are not circuits; use submit"
            )
        for index, circuit in enumerate(job_input.circuits):
            label = f"{job_input.source}#{index}" if job_input.multi else job_input.source
            items.append(RunItem(source=job_input.source, label=label, circuit=circuit))
    return items


def load_run_inputs(files: Sequence[str], *, strict: bool) -> tuple[list[JobInput], list[BadFile]]:
    """Read every file; the ones that cannot run are set aside (``strict``: refused)."""
    good: list[JobInput] = []
    bad: list[BadFile] = []
    for source in files:
        try:
            job_input = load_job_input(source)
            run_items([job_input])  # a payload that is not a circuit cannot run either
        except (InputFileError, CircuitError) as error:
            bad.append(BadFile(source=source, error=error))
        else:
            good.append(job_input)
    if bad and (strict or len(files) == 1):
        if len(bad) == 1:
            raise bad[0].error
        problems = "; ".join(str(b.error) for b in bad)
        raise InputFileError(f"{len(bad)} of {len(files)} files cannot run: {problems}")
    return good, bad
