"""The emulated backends: names, sizes, gates and (plausible, made-up) rates.

The rates are facts of each backend; what a job costs at those rates is ``pricing.py``'s.
"""

from __future__ import annotations

from typing import Final

from attrs import frozen

__all__ = ["BACKENDS", "BackendSpec"]


@frozen(kw_only=True)
class BackendSpec:
    """One backend the emulator offers."""

    name: str
    qubits: int
    native_gates: frozenset[str]
    location: str | None = None
    # Rates per gate-shot in USD and the per-job minimum; the simulator is free.
    cost_1q_gate_usd: float = 0.0
    cost_2q_gate_usd: float = 0.0
    job_cost_minimum_usd: float = 0.0
    reports_degraded: bool = True
    characterization_count: int = 0

    @property
    def is_simulator(self) -> bool:
        """True for the simulator backend."""
        return self.name == "simulator"

    @property
    def is_qpu(self) -> bool:
        """True for the QPU backends."""
        return self.name.startswith("qpu.")


BACKENDS: Final[dict[str, BackendSpec]] = {
    spec.name: spec
    for spec in (
        BackendSpec(
            name="simulator",
            qubits=29,
            native_gates=frozenset({"gpi", "gpi2", "ms", "zz"}),
        ),
        BackendSpec(
            name="qpu.aria-1",
            qubits=25,
            native_gates=frozenset({"gpi", "gpi2", "ms"}),
            location="College Park, MD, USA",
            cost_1q_gate_usd=0.000220,
            cost_2q_gate_usd=0.000975,
            job_cost_minimum_usd=97.50,
            characterization_count=3,
        ),
        BackendSpec(
            name="qpu.forte-1",
            qubits=36,
            native_gates=frozenset({"gpi", "gpi2", "zz"}),
            location="Seattle, WA, USA",
            cost_1q_gate_usd=0.000280,
            cost_2q_gate_usd=0.002300,
            job_cost_minimum_usd=97.50,
            characterization_count=3,
        ),
        BackendSpec(
            name="qpu.forte-enterprise-1",
            qubits=36,
            native_gates=frozenset({"gpi", "gpi2", "zz"}),
            location="Seattle, WA, USA",
            cost_1q_gate_usd=0.000280,
            cost_2q_gate_usd=0.002300,
            job_cost_minimum_usd=97.50,
            # The live API omits `degraded` for this backend (api notes §10.1).
            reports_degraded=False,
            characterization_count=3,
        ),
    )
}
"""Backends by name, in the order ``GET /backends`` lists them."""
