"""Symbolic parameters for circuits: ``Parameter("theta")`` and arithmetic on it (pure).

A gate's numeric fields (``rotation``, ``phase``, ``phases``, ``angle``, ``coefficients``,
``time``) may hold a :class:`ParameterExpression` instead of a number; such a circuit is a
template, and :meth:`ionq_async.Circuit.bind` makes a circuit with numbers in it::

    theta = Parameter("theta")
    template = Circuit(qubits=1).rx(theta / 2, 0)
    template.bind(theta=0.1)  # rx(0.05, 0)

A parameter is known by its name: two ``Parameter("theta")`` are the same parameter.
Expressions combine parameters and real numbers with ``+ - * /`` and unary ``-``;
:meth:`ParameterExpression.of` wraps an expression of another library (a Qiskit
``ParameterExpression``, a SymPy expression) given as a function of the values.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Final, TypeAlias

from .exceptions import CircuitError

__all__ = ["Parameter", "ParameterExpression", "ParameterValue"]

# How tightly an expression binds, for parentheses in its text.
_SUM: Final = 1
_PRODUCT: Final = 2
_NEGATION: Final = 3
_ATOM: Final = 4

_OPERATORS: Final[dict[str, tuple[Callable[[float, float], float], int]]] = {
    "+": (operator.add, _SUM),
    "-": (operator.sub, _SUM),
    "*": (operator.mul, _PRODUCT),
    "/": (operator.truediv, _PRODUCT),
}


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _missing(expression: ParameterExpression, values: Mapping[str, float]) -> CircuitError:
    missing = sorted(expression.parameters - values.keys())
    names = ", ".join(missing)
    return CircuitError(
        f"{expression} needs a value for {names}; bind it (circuit.bind({missing[0]}=...))"
    )


class ParameterExpression:
    """A real-valued expression of named parameters: ``2*theta + phi``, ``-theta/2``.

    Arithmetic with numbers and other expressions gives expressions. ``parameters`` names
    the parameters it depends on; :meth:`evaluate` gives its value for given values;
    :meth:`bind` fixes some of them. Equal expressions have the same text and parameters.
    """

    __slots__ = ("_parameters", "_precedence", "_text")

    _parameters: frozenset[str]
    _text: str
    _precedence: int

    @staticmethod
    def of(
        function: Callable[[Mapping[str, float]], float],
        parameters: Iterable[str],
        text: str,
    ) -> ParameterExpression:
        """Wrap a foreign expression: ``function(values)`` gives its value.

        ``function`` receives a mapping holding a value for each name in ``parameters``
        (and no others); ``text`` is how the expression is shown. Binding some of the
        parameters keeps their values and passes them on when the rest are given.
        """
        names = frozenset(parameters)
        for name in names:
            _check_name(name)
        if not callable(function):
            raise CircuitError(f"ParameterExpression.of needs a function, got {function!r}")
        return _Foreign(function, names, str(text), {})

    @property
    def parameters(self) -> frozenset[str]:
        """The names of the parameters this expression depends on."""
        return self._parameters

    def evaluate(self, values: Mapping[str, float]) -> float:
        """The value for these parameter values; CircuitError names any missing one."""
        if not self._parameters <= values.keys():
            raise _missing(self, values)
        try:
            return self._evaluate(values)
        except CircuitError:
            raise
        # Division by zero, a domain error or a complex value inside a foreign expression.
        except (ArithmeticError, ValueError, TypeError) as error:
            given = ", ".join(f"{name}={values[name]!r}" for name in sorted(self._parameters))
            raise CircuitError(f"{self} cannot be evaluated at {given}: {error}") from error

    def bind(self, values: Mapping[str, float]) -> float | ParameterExpression:
        """Fix the parameters named in ``values``: a number when none is left, else an
        expression in the others. Names the expression does not use are ignored."""
        if self._parameters <= values.keys():
            return self.evaluate(values)
        if self._parameters.isdisjoint(values.keys()):
            return self
        return self._substitute(values)

    def __float__(self) -> float:
        return self.evaluate({})

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"ParameterExpression({self._text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ParameterExpression):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    # -- arithmetic -----------------------------------------------------------------------

    def __add__(self, other: float | ParameterExpression) -> ParameterExpression:
        return _combine("+", self, other)

    def __radd__(self, other: float | ParameterExpression) -> ParameterExpression:
        return _combine("+", other, self)

    def __sub__(self, other: float | ParameterExpression) -> ParameterExpression:
        return _combine("-", self, other)

    def __rsub__(self, other: float | ParameterExpression) -> ParameterExpression:
        return _combine("-", other, self)

    def __mul__(self, other: float | ParameterExpression) -> ParameterExpression:
        return _combine("*", self, other)

    def __rmul__(self, other: float | ParameterExpression) -> ParameterExpression:
        return _combine("*", other, self)

    def __truediv__(self, other: float | ParameterExpression) -> ParameterExpression:
        return _combine("/", self, other)

    def __rtruediv__(self, other: float | ParameterExpression) -> ParameterExpression:
        return _combine("/", other, self)

    def __neg__(self) -> ParameterExpression:
        return _Negation(self)

    def __pos__(self) -> ParameterExpression:
        return self

    # -- what each kind of expression does -----------------------------------------------

    def _evaluate(self, values: Mapping[str, float]) -> float:
        raise NotImplementedError

    def _substitute(self, values: Mapping[str, float]) -> ParameterExpression:
        raise NotImplementedError

    def _identity(self) -> object:
        return (self._text, self._parameters)


ParameterValue: TypeAlias = float | ParameterExpression
"""What a gate's numeric field holds: a number or an expression of parameters."""


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise CircuitError(f"a parameter name must be a non-empty string, got {name!r}")
    return name


class Parameter(ParameterExpression):
    """A named parameter, bound by name: ``Parameter("theta")``."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = _check_name(name)
        self._parameters = frozenset((name,))
        self._text = name
        self._precedence = _ATOM

    @property
    def name(self) -> str:
        """The parameter's name."""
        return self._name

    def __repr__(self) -> str:
        return f"Parameter({self._name!r})"

    def _evaluate(self, values: Mapping[str, float]) -> float:
        return float(values[self._name])

    def _substitute(self, values: Mapping[str, float]) -> ParameterExpression:
        return self  # bind() handles a parameter that is given


class _Constant(ParameterExpression):
    """A number inside an expression."""

    __slots__ = ("_value",)

    def __init__(self, value: float) -> None:
        self._value = value
        self._parameters = frozenset()
        # Integers stay integers in the text ("2*theta"), floats keep every digit.
        self._text = str(value) if isinstance(value, int) else repr(float(value))
        self._precedence = _NEGATION if value < 0 else _ATOM

    def _evaluate(self, values: Mapping[str, float]) -> float:
        return float(self._value)

    def _substitute(self, values: Mapping[str, float]) -> ParameterExpression:
        return self


def _operand(value: object) -> ParameterExpression | None:
    if isinstance(value, ParameterExpression):
        return value
    if _is_number(value):
        number = value if isinstance(value, int) else float(value)  # type: ignore[arg-type]
        if not math.isfinite(number):
            raise CircuitError(f"a parameter expression cannot hold {number!r}")
        return _Constant(number)
    return None


def _combine(symbol: str, left: object, right: object) -> ParameterExpression:
    left_operand, right_operand = _operand(left), _operand(right)
    if left_operand is None or right_operand is None:
        return NotImplemented  # type: ignore[no-any-return]  # Python then raises TypeError
    if symbol == "/" and isinstance(right_operand, _Constant) and right_operand._value == 0:
        raise CircuitError(f"{left_operand} / 0: division by zero")
    return _Binary(symbol, left_operand, right_operand)


class _Binary(ParameterExpression):
    """``left op right`` for one of ``+ - * /``."""

    __slots__ = ("_function", "_left", "_right", "_symbol")

    def __init__(self, symbol: str, left: ParameterExpression, right: ParameterExpression) -> None:
        self._symbol = symbol
        self._function, precedence = _OPERATORS[symbol]
        self._left, self._right = left, right
        self._parameters = left._parameters | right._parameters
        self._precedence = precedence
        left_text = left._text if left._precedence >= precedence else f"({left._text})"
        # Python reads "a - b - c" as (a - b) - c: a right operand of the same precedence
        # keeps its parentheses, so the text evaluates exactly as the expression does.
        right_text = right._text if right._precedence > precedence else f"({right._text})"
        spacer = " " if precedence == _SUM else ""
        self._text = f"{left_text}{spacer}{symbol}{spacer}{right_text}"

    def _evaluate(self, values: Mapping[str, float]) -> float:
        return self._function(self._left._evaluate(values), self._right._evaluate(values))

    def _substitute(self, values: Mapping[str, float]) -> ParameterExpression:
        left, right = self._left.bind(values), self._right.bind(values)
        return _combine(self._symbol, left, right)


class _Negation(ParameterExpression):
    """``-operand``."""

    __slots__ = ("_operand",)

    def __init__(self, operand: ParameterExpression) -> None:
        self._operand = operand
        self._parameters = operand._parameters
        self._precedence = _NEGATION
        inner = operand._text if operand._precedence > _NEGATION else f"({operand._text})"
        self._text = f"-{inner}"

    def _evaluate(self, values: Mapping[str, float]) -> float:
        return -self._operand._evaluate(values)

    def _substitute(self, values: Mapping[str, float]) -> ParameterExpression:
        inner = self._operand.bind(values)
        return _Negation(inner) if isinstance(inner, ParameterExpression) else _Constant(-inner)


class _Foreign(ParameterExpression):
    """An expression of another library, given as a function of its parameters' values."""

    __slots__ = ("_bound", "_function", "_source")

    def __init__(
        self,
        function: Callable[[Mapping[str, float]], float],
        parameters: frozenset[str],
        text: str,
        bound: Mapping[str, float],
    ) -> None:
        self._function = function
        self._source = text
        self._bound = dict(bound)
        self._parameters = parameters
        self._precedence = _ATOM
        if bound:
            fixed = ", ".join(f"{name}={value!r}" for name, value in sorted(bound.items()))
            self._text = f"({text})[{fixed}]"
        else:
            self._text = text if text.isidentifier() else f"({text})"

    def _evaluate(self, values: Mapping[str, float]) -> float:
        given = {name: float(values[name]) for name in self._parameters}
        given.update(self._bound)
        result = self._function(given)
        if not _is_number(result):
            raise CircuitError(f"{self} evaluated to {result!r}, not a real number")
        return float(result)

    def _substitute(self, values: Mapping[str, float]) -> ParameterExpression:
        fixed = {name: float(values[name]) for name in self._parameters if name in values}
        return _Foreign(
            self._function,
            self._parameters - fixed.keys(),
            self._source,
            {**self._bound, **fixed},
        )

    def _identity(self) -> object:
        return (self._function, self._source, self._parameters, tuple(sorted(self._bound.items())))
