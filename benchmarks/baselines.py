"""Baseline clients the batch engine is measured against (same emulator, same run).

- :func:`run_sequential`: the way the existing IonQ SDKs (qiskit-ionq, cirq-ionq) work:
  module-level ``requests`` calls (a new TCP connection per call), one job at a time:
  submit, poll ``GET /jobs/{id}`` every 0.5 s, fetch the probabilities.
- :func:`run_gather`: plain aiohttp, one session, every job at once with
  ``asyncio.gather``; each job polls ``GET /jobs/{id}`` every 0.5 s on its own.

Both take the API's ``input`` form of each circuit and return one probabilities mapping
per circuit, in input order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import requests

POLL_INTERVAL_S = 0.5
"""What the peers do between status requests (qiskit-ionq: 5 s, cirq-ionq: 1 s; 0.5 s here)."""

_TERMINAL = frozenset({"completed", "failed", "canceled"})


def _body(circuit_input: Mapping[str, Any], backend: str, shots: int) -> dict[str, Any]:
    return {"type": "ionq.circuit.v1", "backend": backend, "shots": shots, "input": circuit_input}


def run_sequential(
    base_url: str,
    api_key: str,
    inputs: Sequence[Mapping[str, Any]],
    *,
    backend: str = "simulator",
    shots: int = 100,
    poll_interval_s: float = POLL_INTERVAL_S,
) -> list[dict[str, float]]:
    """Run circuits one after another the way the blocking SDKs do; return probabilities."""
    headers = {"Authorization": f"apiKey {api_key}", "Content-Type": "application/json"}
    results: list[dict[str, float]] = []
    for circuit_input in inputs:
        answer = requests.post(
            f"{base_url}/jobs",
            json=_body(circuit_input, backend, shots),
            headers=headers,
            timeout=30,
        )
        answer.raise_for_status()
        job_id = answer.json()["id"]
        while True:
            job = requests.get(f"{base_url}/jobs/{job_id}", headers=headers, timeout=30)
            job.raise_for_status()
            status = job.json()["status"]
            if status in _TERMINAL:
                break
            time.sleep(poll_interval_s)
        if status != "completed":
            raise RuntimeError(f"job {job_id} ended {status}")
        probabilities = requests.get(
            f"{base_url}/jobs/{job_id}/results/probabilities", headers=headers, timeout=30
        )
        probabilities.raise_for_status()
        results.append(probabilities.json())
    return results


async def run_gather(
    base_url: str,
    api_key: str,
    inputs: Sequence[Mapping[str, Any]],
    *,
    backend: str = "simulator",
    shots: int = 100,
    poll_interval_s: float = POLL_INTERVAL_S,
) -> list[dict[str, float]]:
    """Run every circuit at once with aiohttp and asyncio.gather, each job polling alone."""
    headers = {"Authorization": f"apiKey {api_key}"}
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:

        async def one(circuit_input: Mapping[str, Any]) -> dict[str, float]:
            async with session.post(
                f"{base_url}/jobs", json=_body(circuit_input, backend, shots)
            ) as answer:
                answer.raise_for_status()
                job_id = (await answer.json())["id"]
            while True:
                await asyncio.sleep(poll_interval_s)
                async with session.get(f"{base_url}/jobs/{job_id}") as answer:
                    answer.raise_for_status()
                    status = (await answer.json())["status"]
                if status in _TERMINAL:
                    break
            if status != "completed":
                raise RuntimeError(f"job {job_id} ended {status}")
            async with session.get(f"{base_url}/jobs/{job_id}/results/probabilities") as answer:
                answer.raise_for_status()
                result: dict[str, float] = await answer.json()
                return result

        return list(await asyncio.gather(*(one(i) for i in inputs)))
