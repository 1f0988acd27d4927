"""How the items of a batch's input become circuits: as given, or as points of a sweep.

``run_many`` reads circuits (a Qiskit, Cirq or OpenQASM one converted as it is read);
``run_sweep`` reads parameter sets and binds each to one template circuit. Either way an
item that cannot be made into a circuit becomes that item's error outcome, and the batch
goes on.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .._payload import as_job_input
from ..circuits import Circuit
from ..exceptions import CircuitError
from .planning import Item, convert_input

__all__ = ["CircuitIntake", "Intake", "SweepIntake", "parameter_name"]


class Intake(Protocol):
    """Makes the item read at ``index`` of a batch's input."""

    def prepare(self, index: int, raw: Any) -> Item:
        """The item, ready to send; raises a CircuitError (its outcome) if it cannot be."""
        ...

    def unprepared(self, index: int, raw: Any) -> Item:
        """The item as far as it is known without converting it (for its error outcome)."""
        ...


class CircuitIntake:
    """``run_many``: each item is a circuit (ours, API JSON, Qiskit, Cirq or OpenQASM)."""

    def prepare(self, index: int, raw: Any) -> Item:
        return Item(index, raw, convert_input(raw))

    def unprepared(self, index: int, raw: Any) -> Item:
        return Item(index, raw, None)


def parameter_name(key: object) -> str:
    """A parameter's name from a key: a string, or anything named (ours, Qiskit's
    ``Parameter``, a sympy ``Symbol``)."""
    if isinstance(key, str):
        return key
    name = getattr(key, "name", None)
    if isinstance(name, str):
        return name
    raise CircuitError(
        f"a parameter is named by a string or a Parameter, got {type(key).__name__} {key!r}"
    )


class SweepIntake:
    """``run_sweep``: each item is one parameter set, bound to the template circuit."""

    def __init__(self, circuit: Any) -> None:
        template = as_job_input(circuit)
        if isinstance(template, Mapping):
            template = Circuit.from_json(template)
        if not isinstance(template, Circuit):
            raise CircuitError(
                f"run_sweep needs a circuit with parameters (ours, Qiskit's or Cirq's), "
                f"got {type(circuit).__name__}"
            )
        self.template = template
        # Positional values follow the names in sorted order, as Qiskit orders parameters.
        self.names: tuple[str, ...] = tuple(sorted(template.parameters))

    def values(self, index: int, raw: Any) -> dict[str, float]:
        """The parameter set read at ``index`` as ``{name: value}``."""
        param_dict = getattr(raw, "param_dict", None)  # a cirq.ParamResolver
        if isinstance(param_dict, Mapping):
            raw = param_dict
        if isinstance(raw, Mapping):
            values: dict[str, float] = {}
            for key, value in raw.items():
                name = parameter_name(key)
                if name in values:
                    raise CircuitError(f"parameter set {index} gives {name} twice")
                values[name] = value
            return values
        if isinstance(raw, Sequence | numbers.Real) and not isinstance(raw, str | bytes):
            given: list[Any] = [raw] if isinstance(raw, numbers.Real) else list(raw)
            if len(given) != len(self.names):
                raise CircuitError(
                    f"parameter set {index} has {len(given)} values for "
                    f"{len(self.names)} parameters ({', '.join(self.names) or 'none'}); "
                    "give a mapping of names to values, or one value per parameter in this order"
                )
            return dict(zip(self.names, given, strict=True))
        raise CircuitError(
            f"parameter set {index} must be a mapping of parameter names to values, "
            f"or a sequence of values in the order {list(self.names)}; "
            f"got {type(raw).__name__}"
        )

    def prepare(self, index: int, raw: Any) -> Item:
        values = self.values(index, raw)
        missing = sorted(set(self.names) - set(values))
        if missing:
            raise CircuitError(
                f"parameter set {index} leaves {', '.join(missing)} unbound "
                f"(the circuit's parameters: {', '.join(self.names)})"
            )
        try:
            bound = self.template.bind(values)
        except CircuitError as error:
            error.add_note(f"binding parameter set {index}: {values!r}")
            raise
        return Item(index, bound, bound, values)

    def unprepared(self, index: int, raw: Any) -> Item:
        try:
            values: dict[str, float] | None = self.values(index, raw)
        except CircuitError:
            values = None
        return Item(index, None, None, values)
