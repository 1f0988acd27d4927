"""Symbolic parameters: expressions, their text and values, and binding circuits."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ionq_async.circuits import Circuit, Gate, multi_circuit_json
from ionq_async.exceptions import CircuitError
from ionq_async.parameters import Parameter, ParameterExpression

theta = Parameter("theta")
phi = Parameter("phi")

# --- expressions ---------------------------------------------------------------------------


def test_a_parameter_is_an_expression_of_itself() -> None:
    assert isinstance(theta, ParameterExpression)
    assert theta.name == "theta"
    assert theta.parameters == frozenset({"theta"})
    assert str(theta) == "theta"
    assert theta.evaluate({"theta": 0.5}) == 0.5


def test_parameters_with_the_same_name_are_the_same_parameter() -> None:
    assert Parameter("theta") == theta
    assert hash(Parameter("theta")) == hash(theta)
    assert Parameter("phi") != theta


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        (2 * theta, "2*theta"),
        (theta + 1, "theta + 1"),
        (1 - theta, "1 - theta"),
        (theta / 2, "theta/2"),
        (-theta, "-theta"),
        (-(theta + phi), "-(theta + phi)"),
        (theta - (phi - 1), "theta - (phi - 1)"),
        (theta - phi - 1, "theta - phi - 1"),
        (theta + (phi + 1), "theta + (phi + 1)"),
        (theta * (phi / 2), "theta*(phi/2)"),
        (theta / (2 * phi), "theta/(2*phi)"),
        ((theta + 1) * phi, "(theta + 1)*phi"),
        (theta * 0.5, "theta*0.5"),
    ],
)
def test_expressions_show_the_parentheses_they_need_and_no_more(
    expression: ParameterExpression, text: str
) -> None:
    assert str(expression) == text


def test_arithmetic_gives_the_value_python_gives() -> None:
    expression = (2 * theta + phi) / (theta - 0.5)
    assert expression.parameters == frozenset({"theta", "phi"})
    assert expression.evaluate({"theta": 1.5, "phi": 0.25}) == (2 * 1.5 + 0.25) / (1.5 - 0.5)


def test_evaluating_without_a_value_names_the_missing_parameters() -> None:
    with pytest.raises(CircuitError, match=r"needs a value for phi, theta") as caught:
        (theta + phi).evaluate({"other": 1.0})
    assert "bind" in str(caught.value)


def test_float_of_an_unbound_expression_is_a_circuit_error() -> None:
    with pytest.raises(CircuitError, match="theta"):
        float(theta)


def test_dividing_by_a_zero_value_is_a_circuit_error_naming_the_values() -> None:
    with pytest.raises(CircuitError, match=r"1/theta cannot be evaluated at theta=0"):
        (1 / theta).evaluate({"theta": 0})


def test_dividing_by_the_number_zero_is_refused_at_once() -> None:
    with pytest.raises(CircuitError, match="division by zero"):
        theta / 0


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_constant_that_is_not_finite_is_refused(value: float) -> None:
    with pytest.raises(CircuitError, match="cannot hold"):
        theta + value


@pytest.mark.parametrize("other", ["1", None, [1], True])
def test_arithmetic_with_anything_but_numbers_and_expressions_is_a_type_error(
    other: object,
) -> None:
    with pytest.raises(TypeError):
        theta + other  # type: ignore[operator]


@pytest.mark.parametrize("name", ["", None, 3])
def test_a_parameter_needs_a_non_empty_string_name(name: Any) -> None:
    with pytest.raises(CircuitError, match="non-empty string"):
        Parameter(name)


def test_binding_some_parameters_leaves_an_expression_in_the_others() -> None:
    partial = (2 * theta + phi).bind({"theta": 0.5})
    assert isinstance(partial, ParameterExpression)
    assert partial.parameters == frozenset({"phi"})
    assert str(partial) == "1.0 + phi"
    assert partial.bind({"phi": 0.25}) == 1.25


def test_binding_every_parameter_gives_a_number() -> None:
    assert (theta * phi).bind({"theta": 2, "phi": 3, "unused": 9}) == 6.0


# Random expression trees: their text, read back by Python, gives exactly their value.

_NAMES = ("a", "b", "c")
_constants = st.one_of(st.integers(-5, 5), st.floats(-4, 4, allow_nan=False, allow_infinity=False))


def _combine(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    def build(op: str, left: Any, right: Any) -> Any:
        if not isinstance(left, ParameterExpression) and not isinstance(right, ParameterExpression):
            left = Parameter("a") + left
        if op == "/" and not isinstance(right, ParameterExpression) and right == 0:
            right = 1
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        return left * right if op == "*" else left / right

    return st.one_of(
        st.builds(build, st.sampled_from("+-*/"), children, children),
        st.builds(
            lambda child: -child if isinstance(child, ParameterExpression) else child, children
        ),
    )


_expressions = st.recursive(
    st.one_of(st.sampled_from([Parameter(name) for name in _NAMES]), _constants),
    _combine,
    max_leaves=8,
).filter(lambda e: isinstance(e, ParameterExpression))


@given(
    expression=_expressions,
    values=st.fixed_dictionaries(
        {name: st.floats(-3, 3, allow_nan=False, allow_infinity=False) for name in _NAMES}
    ),
)
def test_an_expressions_text_evaluates_in_python_to_its_value(
    expression: ParameterExpression, values: dict[str, float]
) -> None:
    try:
        expected = eval(str(expression), {}, dict(values))
    except ZeroDivisionError:
        with pytest.raises(CircuitError, match="cannot be evaluated"):
            expression.evaluate(values)
        return
    assert expression.parameters <= frozenset(_NAMES)
    assert set(expression.parameters) <= {n for n in _NAMES if n in str(expression)}
    actual = expression.evaluate(values)
    # The same operations in the same order: exactly the same float.
    assert actual == expected or (math.isnan(actual) and math.isnan(expected))


# --- foreign expressions -------------------------------------------------------------------


def test_a_foreign_expression_is_called_with_its_parameters_values() -> None:
    seen: list[Mapping[str, float]] = []

    def function(values: Mapping[str, float]) -> float:
        seen.append(dict(values))
        return values["x"] * values["y"]

    wrapped = ParameterExpression.of(function, ["x", "y"], "x*y")
    assert wrapped.parameters == frozenset({"x", "y"})
    assert str(wrapped) == "(x*y)"
    assert wrapped.evaluate({"x": 2, "y": 3, "z": 4}) == 6.0
    assert seen == [{"x": 2.0, "y": 3.0}]


def test_a_partly_bound_foreign_expression_keeps_the_values_for_later() -> None:
    wrapped = ParameterExpression.of(lambda v: v["x"] - v["y"], ["x", "y"], "x - y")
    partial = wrapped.bind({"x": 5})
    assert isinstance(partial, ParameterExpression)
    assert partial.parameters == frozenset({"y"})
    assert "x=5.0" in str(partial)
    assert partial.evaluate({"y": 2}) == 3.0


def test_a_foreign_expression_that_gives_no_real_number_is_a_circuit_error() -> None:
    def function(values: Mapping[str, float]) -> Any:
        return complex(values["x"], 1)

    wrapped = ParameterExpression.of(function, ["x"], "x + 1j")
    with pytest.raises(CircuitError, match="not a real number"):
        wrapped.evaluate({"x": 1})


def test_foreign_expressions_combine_with_ours() -> None:
    wrapped = ParameterExpression.of(lambda v: v["x"] ** 2, ["x"], "x**2")
    assert (wrapped + theta).evaluate({"x": 3, "theta": 1}) == 10.0
    assert str(2 * wrapped) == "2*(x**2)"


# --- circuits with parameters --------------------------------------------------------------


def _template() -> Circuit:
    return Circuit(qubits=3).h(0).rx(theta, 0).crz(2 * theta + phi, 0, 1).cx(1, 2).ry(phi / 2, 2)


def test_a_circuit_lists_the_parameters_its_gates_use() -> None:
    assert _template().parameters == frozenset({"theta", "phi"})
    assert Circuit().h(0).parameters == frozenset()


def test_binding_every_parameter_builds_the_circuit_of_numbers() -> None:
    bound = _template().bind(theta=0.5, phi=0.25)
    expected = Circuit(qubits=3).h(0).rx(0.5, 0).crz(2 * 0.5 + 0.25, 0, 1).cx(1, 2).ry(0.125, 2)
    assert bound == expected
    assert bound.parameters == frozenset()
    assert bound.to_json() == expected.to_json()


def test_values_can_be_given_as_a_mapping() -> None:
    assert _template().bind({"theta": 0.5, "phi": 0.25}) == _template().bind(theta=0.5, phi=0.25)


def test_binding_leaves_the_template_unchanged_and_reusable() -> None:
    template = _template()
    first = template.bind(theta=0.1, phi=0.2)
    second = template.bind(theta=0.3, phi=0.4)
    assert template.parameters == frozenset({"theta", "phi"})
    assert first.gates[1].rotation == 0.1
    assert second.gates[1].rotation == 0.3
    assert template.gates[1].rotation == theta


def test_gates_added_to_a_template_after_a_bind_are_bound_next_time() -> None:
    template = Circuit().rx(theta, 0)
    template.bind(theta=1.0)
    template.ry(phi, 1)
    bound = template.bind(theta=1.0, phi=2.0)
    assert [gate.rotation for gate in bound.gates] == [1.0, 2.0]


def test_partial_binding_keeps_the_other_parameters_symbolic() -> None:
    partial = _template().bind(theta=0.5)
    assert partial.parameters == frozenset({"phi"})
    assert partial.gates[1].rotation == 0.5
    assert str(partial.gates[2].rotation) == "1.0 + phi"
    assert partial.bind(phi=0.25) == _template().bind(theta=0.5, phi=0.25)


def test_binding_an_unknown_name_suggests_the_closest_and_lists_the_parameters() -> None:
    with pytest.raises(CircuitError) as caught:
        _template().bind(thetaa=0.5)
    message = str(caught.value)
    assert "no parameter named 'thetaa'" in message
    assert "did you mean 'theta'?" in message
    assert "its parameters: phi, theta" in message


def test_binding_a_circuit_without_parameters_says_it_has_none() -> None:
    with pytest.raises(CircuitError, match="has no parameters"):
        Circuit().h(0).bind(theta=1.0)


@pytest.mark.parametrize("value", ["0.5", None, True, 1j])
def test_bound_values_must_be_real_numbers(value: Any) -> None:
    with pytest.raises(CircuitError, match="theta must be a real number"):
        Circuit().rx(theta, 0).bind(theta=value)


def test_a_name_given_in_the_mapping_and_as_a_keyword_is_refused() -> None:
    with pytest.raises(CircuitError, match="given twice"):
        Circuit().rx(theta, 0).bind({"theta": 1.0}, theta=2.0)


def test_a_value_that_breaks_a_gate_is_a_circuit_error_naming_the_gate() -> None:
    with pytest.raises(CircuitError, match="rotation is NaN") as caught:
        Circuit().h(0).rx(theta, 0).bind(theta=math.nan)
    assert caught.value.position == 1


def test_a_native_ms_angle_out_of_range_after_binding_is_refused() -> None:
    template = Circuit(gateset="native").ms([0, phi], 0, 1, angle=theta)
    with pytest.raises(CircuitError, match=r"angle must be between 0 and 0\.25") as caught:
        template.bind(theta=0.5, phi=0.0)
    assert caught.value.position == 0


def test_native_and_pauliexp_fields_take_parameters() -> None:
    native = Circuit(gateset="native").gpi(phi, 0).ms([phi, 0.5], 0, 1, angle=theta / 4)
    assert native.bind(phi=0.125, theta=0.5).to_json()["circuit"] == [
        {"gate": "gpi", "target": 0, "phase": 0.125},
        {"gate": "ms", "targets": [0, 1], "phases": [0.125, 0.5], "angle": 0.125},
    ]
    evolution = Circuit().pauliexp([0, 1], ["XX", "ZI"], [theta, 0.5], 2 * phi)
    assert evolution.bind(theta=0.25, phi=1).to_json()["circuit"] == [
        {
            "gate": "pauliexp",
            "targets": [0, 1],
            "terms": ["XX", "ZI"],
            "coefficients": [0.25, 0.5],
            "time": 2.0,
        }
    ]


def test_dividing_by_a_parameter_bound_to_zero_names_the_gate() -> None:
    with pytest.raises(CircuitError, match=r"cannot be evaluated at theta=0.0") as caught:
        Circuit().h(0).rz(1 / theta, 0).bind(theta=0)
    assert caught.value.position == 1


@pytest.mark.parametrize(
    "send",
    [
        lambda c: c.to_json(),
        lambda c: c.validate(),
        lambda c: c.gates[0].to_json(),
        lambda c: multi_circuit_json([c]),
    ],
)
def test_unbound_parameters_are_refused_before_sending(send: Any) -> None:
    with pytest.raises(CircuitError, match=r"unbound parameters: phi, theta; bind them"):
        send(Circuit().crz(theta + phi, 0, 1))


def test_a_gate_with_an_expression_can_be_added_directly() -> None:
    circuit = Circuit().add(Gate(gate="rx", targets=(0,), rotation=theta))
    assert circuit.parameters == frozenset({"theta"})
    assert circuit.gates[0].parameters == frozenset({"theta"})


def test_a_binding_sweep_gives_each_circuit_its_own_values() -> None:
    template = Circuit(qubits=2).ry(theta, 0).cx(0, 1).rz(-theta, 1)
    angles = [index / 1000 for index in range(1000)]
    sweep = [template.bind(theta=angle) for angle in angles]
    assert [c.gates[0].rotation for c in sweep] == angles
    assert [c.gates[2].rotation for c in sweep] == [-a for a in angles]
    assert all(c.gates[1] is template.gates[1] for c in sweep)


@given(
    a=st.floats(-10, 10, allow_nan=False),
    b=st.floats(-10, 10, allow_nan=False),
)
def test_binding_equals_building_with_the_numbers(a: float, b: float) -> None:
    template = Circuit(qubits=2).rx(theta, 0).rzz(theta - phi, 0, 1).p(phi * 2, 1)
    direct = Circuit(qubits=2).rx(a, 0).rzz(a - b, 0, 1).p(b * 2, 1)
    assert template.bind(theta=a, phi=b).to_json() == direct.to_json()


def test_a_foreign_expression_failing_at_a_value_is_a_circuit_error_naming_the_gate() -> None:
    logarithm = ParameterExpression.of(lambda v: math.log(v["x"]), ["x"], "log(x)")
    template = Circuit().h(0).rz(logarithm, 0)
    assert template.bind(x=1.0).gates[1].rotation == 0.0
    with pytest.raises(CircuitError, match=r"cannot be evaluated at x=-1\.0") as caught:
        template.bind(x=-1.0)
    assert caught.value.position == 1
