"""Readout: which qubit each classical bit reads, so results speak the source's terms (pure).

IonQ measures every qubit at the end of a job and reports basis states with qubit 0 as the
least significant bit. A circuit converted from Qiskit or Cirq says more: Qiskit measures
qubits into classical bits (grouped in classical registers) and keys its counts by those
bits; Cirq measures under keys and reads results per key. A :class:`Readout` keeps that
mapping beside the circuit (never in the API's JSON) and turns the API's counts into the
source's keys:

- ``style="qiskit"``: counts keyed by classical bits, bit 0 rightmost; with more than one
  register, registers are separated by a space, the last register leftmost (as Qiskit's
  ``get_counts()`` shows them).
- ``style="cirq"``: results per measurement key (:meth:`Readout.per_key`), each key's
  value an integer whose most significant bit is the key's first qubit (as Cirq's
  ``histogram(key=...)``), or a bitstring in that order.
- ``style="plain"``: classical bit ``i`` reads ``clbits[i]``, bit 0 rightmost.

A classical bit no measurement wrote reads 0; when a qubit was measured into a bit more
than once, the last measurement counts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, Literal, Protocol

from attrs import field, frozen

from .exceptions import CircuitError

__all__ = ["READOUT_METADATA_KEY", "Readout", "ReadoutStyle", "readout_of"]

READOUT_METADATA_KEY: Final = "ionq_async_readout"
"""The job ``metadata`` key that carries a circuit's readout, so that a result fetched
later (another process, the command line's ``result``) is keyed as the source keys it."""

ReadoutStyle = Literal["plain", "qiskit", "cirq"]


def _check_clbits(clbits: tuple[int | None, ...]) -> tuple[int | None, ...]:
    for position, qubit in enumerate(clbits):
        if qubit is not None and (
            isinstance(qubit, bool) or not isinstance(qubit, int) or qubit < 0
        ):
            raise CircuitError(f"classical bit {position} reads qubit {qubit!r}, not an index")
    return tuple(clbits)


@frozen(kw_only=True)
class Readout:
    """Which qubit each classical bit reads, and how the bits are grouped and keyed.

    ``clbits[i]`` is the qubit measured into classical bit ``i`` (None: never written).
    ``registers`` are named groups of classical bit positions, in order: Qiskit's
    classical registers, or Cirq's measurement keys (each key's bits in the order its
    measurement listed the qubits). Empty: one unnamed group of every bit.
    """

    clbits: tuple[int | None, ...] = field(converter=_check_clbits)
    registers: tuple[tuple[str, tuple[int, ...]], ...] = ()
    style: ReadoutStyle = "plain"

    def __attrs_post_init__(self) -> None:
        width = len(self.clbits)
        seen: set[str] = set()
        for name, bits in self.registers:
            if name in seen:
                raise CircuitError(f"readout register {name!r} appears twice")
            seen.add(name)
            for bit in bits:
                if not 0 <= bit < width:
                    raise CircuitError(
                        f"readout register {name!r} names classical bit {bit}; there are {width}"
                    )

    @property
    def num_clbits(self) -> int:
        """How many classical bits there are."""
        return len(self.clbits)

    @property
    def keys(self) -> tuple[str, ...]:
        """The register (or measurement key) names, in order."""
        return tuple(name for name, _ in self.registers)

    def _groups(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        if self.registers:
            return self.registers
        return (("", tuple(range(len(self.clbits)))),)

    def clbit_value(self, state: int) -> int:
        """The classical bits (bit ``i`` = classical bit ``i``) that basis ``state`` gives."""
        value = 0
        for position, qubit in enumerate(self.clbits):
            if qubit is not None and (state >> qubit) & 1:
                value |= 1 << position
        return value

    def clbit_counts(self, counts: Mapping[int, int]) -> dict[int, int]:
        """Counts of basis states (qubit 0 least significant) as counts of classical bits."""
        out: dict[int, int] = {}
        for state, count in counts.items():
            key = self.clbit_value(state)
            out[key] = out.get(key, 0) + count
        return out

    def clbit_probabilities(self, probabilities: Mapping[int, float]) -> dict[int, float]:
        """Probabilities of basis states as probabilities of classical-bit values."""
        out: dict[int, float] = {}
        for state, probability in probabilities.items():
            key = self.clbit_value(state)
            out[key] = out.get(key, 0.0) + probability
        return out

    def bitstring(self, value: int) -> str:
        """A classical-bit value as the source writes it (see the module docstring)."""
        if self.style == "cirq":
            return " ".join(
                "".join(str((value >> bit) & 1) for bit in bits) for _, bits in self._groups()
            )
        # Qiskit and plain: bit 0 rightmost, the last register leftmost.
        return " ".join(
            "".join(str((value >> bit) & 1) for bit in reversed(bits))
            for _, bits in reversed(self._groups())
        )

    def per_key(self, counts: Mapping[int, int]) -> dict[str, dict[int, int]]:
        """Counts per register or key: each value read with the key's first bit most
        significant for Cirq (as ``cirq.Result.histogram``), bit 0 least significant else."""
        out: dict[str, dict[int, int]] = {}
        for name, bits in self._groups():
            order = bits if self.style == "cirq" else tuple(reversed(bits))
            histogram: dict[int, int] = {}
            for state, count in counts.items():
                value = 0
                for bit in order:
                    qubit = self.clbits[bit]
                    value = (value << 1) | ((state >> qubit) & 1 if qubit is not None else 0)
                histogram[value] = histogram.get(value, 0) + count
            out[name] = histogram
        return out

    def to_metadata(self) -> str:
        """The readout as a compact JSON string for the job's metadata."""
        return json.dumps(
            {
                "c": [-1 if qubit is None else qubit for qubit in self.clbits],
                "r": [[name, list(bits)] for name, bits in self.registers],
                "s": self.style,
            },
            separators=(",", ":"),
        )


class _HasMetadata(Protocol):
    @property
    def metadata(self) -> Mapping[str, Any] | None: ...


def _index(value: object, *, low: int) -> int:
    """``value`` if it is an integer >= ``low`` (not a bool, not a float), else ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(value)
    return value


def readout_of(job: _HasMetadata | Mapping[str, Any] | None) -> Readout | None:
    """The readout a job's metadata carries (a :class:`~ionq_async.models.Job`, or its
    ``metadata`` mapping), or None: absent, or not what :meth:`Readout.to_metadata` wrote.

    Never raises: metadata is the user's as well as ours, and a result must not fail
    because a value under our key is not what we wrote.
    """
    metadata = job if job is None or isinstance(job, Mapping) else job.metadata
    if not isinstance(metadata, Mapping):
        return None
    text = metadata.get(READOUT_METADATA_KEY)
    if not isinstance(text, str):
        return None
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            return None
        clbits = tuple(
            None if qubit == -1 and isinstance(qubit, int) else _index(qubit, low=0)
            for qubit in _list(data["c"])
        )
        registers = tuple(
            (name, tuple(_index(bit, low=0) for bit in _list(bits)))
            for name, bits in (_pair(item) for item in _list(data["r"]))
        )
        style = data["s"]
        if style not in ("plain", "qiskit", "cirq"):
            return None
        return Readout(clbits=clbits, registers=registers, style=style)
    # RecursionError: deeply nested JSON under our key.
    except (ValueError, TypeError, KeyError, RecursionError, CircuitError):
        return None


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(value)
    return value


def _pair(item: object) -> tuple[str, list[Any]]:
    pair = _list(item)
    if len(pair) != 2 or not isinstance(pair[0], str):
        raise ValueError(item)
    return pair[0], _list(pair[1])
