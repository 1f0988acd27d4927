"""Job options: from the command line, from a payload file, and the two merged.

``submit`` of a whole payload file writes the command line's options over the file's own
fields (:func:`~ionq_async._payload.merge_payload`) and sends the result as it stands;
everything else reaches :func:`~ionq_async._payload.job_payload` through ``Client.submit``
or ``Client.run_many`` as keywords (:func:`submit_options`, :func:`run_options`). A
payload file is not rebuilt by ``job_payload``: it may hold a job type or fields that
``job_payload`` does not know, and the API, not the command, judges what it holds
(``--noise-seed`` alone gives the ``ideal`` model; a file's noise on a QPU backend is the
server's to refuse). Both live in ``_payload``: every job body is made in one module.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

from .._payload import payload_options
from .exit_codes import fail
from .inputs import JobInput

__all__ = ["merge_options", "run_options", "submit_options"]


def _metadata(ns: argparse.Namespace) -> dict[str, str] | None:
    if not ns.metadata:
        return None
    pairs: dict[str, str] = {}
    for item in ns.metadata:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--metadata expects KEY=VALUE, got {item!r}")
        pairs[key] = value
    return pairs


def submit_options(ns: argparse.Namespace) -> dict[str, Any]:
    """The job options given on the command line, as ``Client.submit`` keywords."""
    options = {
        "backend": ns.backend,
        "shots": ns.shots,
        "name": ns.name,
        "noise_model": ns.noise_model,
        "noise_seed": ns.noise_seed,
        "debiasing": ns.debiasing,
        "dry_run": ns.dry_run,
        "session_id": ns.session,
        "metadata": _metadata(ns),
    }
    return {key: value for key, value in options.items() if value is not None}


def run_options(inputs: Sequence[JobInput], ns: argparse.Namespace) -> dict[str, Any]:
    """One set of job options for every circuit: the payloads' own, then the command line's."""
    return merge_options(inputs, submit_options(ns))


def merge_options(inputs: Sequence[JobInput], given: Mapping[str, Any]) -> dict[str, Any]:
    """The payload files' job fields (which must agree), with ``given`` written over them."""
    from_payloads = [payload_options(i.payload) for i in inputs if i.payload is not None]
    base: dict[str, Any] = {}
    if from_payloads:
        base = from_payloads[0]
        for other, job_input in zip(from_payloads[1:], inputs[1:], strict=False):
            if other != base:
                fail(
                    f"{job_input.source}: its job fields differ from the other payloads'; "
                    "run them separately or give the options on the command line"
                )
    return {**base, **given}
