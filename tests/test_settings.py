"""Typed job settings: checked when made, sent exactly as the API's ``settings`` object."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ionq_async._payload import job_payload
from ionq_async.circuits import Circuit
from ionq_async.exceptions import InvalidRequestError
from ionq_async.settings import (
    Compilation,
    Debiasing,
    ErrorMitigation,
    PhiChiTwirling,
    Settings,
    settings_json,
)


def test_full_settings_give_exactly_the_api_object() -> None:
    settings = Settings(
        compilation=Compilation(opt=1, precision="1E-3", gate_basis="ZZ", service_version="v0.4"),
        error_mitigation=ErrorMitigation(debiasing=True, symmetry_verification=False),
    )
    assert settings.to_json() == {
        "compilation": {
            "opt": 1,
            "precision": "1E-3",
            "gate_basis": "ZZ",
            "service_version": "v0.4",
        },
        "error_mitigation": {"debiasing": True, "symmetry_verification": False},
    }


def test_unset_fields_and_empty_parts_are_left_out() -> None:
    assert Settings().to_json() == {}
    assert Settings(compilation=Compilation(), error_mitigation=ErrorMitigation()).to_json() == {}
    assert Settings(compilation=Compilation(opt=0)).to_json() == {"compilation": {"opt": 0}}


def test_debiasing_with_options_is_the_object_form() -> None:
    twirling = PhiChiTwirling(p2q=0.5, t2q=2, t1q=np.float64(0.25))
    mitigation = ErrorMitigation(debiasing=Debiasing(phi_chi_twirling=twirling))
    assert mitigation.to_json() == {
        "debiasing": {"phi_chi_twirling": {"p2q": 0.5, "t2q": 2, "t1q": 0.25}}
    }
    assert type(mitigation.to_json()["debiasing"]["phi_chi_twirling"]["t1q"]) is float
    assert ErrorMitigation(debiasing=Debiasing()).to_json() == {"debiasing": True}
    assert mitigation.debiased


def test_explicit_debiasing_false_is_sent() -> None:
    # Turning debiasing off must reach the API: it is what keeps it from being billed.
    assert Settings(error_mitigation=ErrorMitigation(debiasing=False)).to_json() == {
        "error_mitigation": {"debiasing": False}
    }


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda: Compilation(opt="high"), "opt must be a number"),
        (lambda: Compilation(opt=True), "opt must be a number"),
        (lambda: Compilation(opt=float("nan")), "opt must be a finite number"),
        (lambda: Compilation(opt=-1), "opt must be >= 0"),
        (lambda: Compilation(precision=""), "precision must be a non-empty string"),
        (lambda: Compilation(gate_basis=3), "gate_basis must be a non-empty string"),
        (lambda: ErrorMitigation(debiasing="yes"), "debiasing must be True, False or a Debiasing"),
        (lambda: ErrorMitigation(symmetry_verification=1), "symmetry_verification must be True"),
        (lambda: PhiChiTwirling(p2q=-0.1), "phi_chi_twirling.p2q must be >= 0"),
        (lambda: Debiasing(phi_chi_twirling={"p2q": 1}), "must be a PhiChiTwirling"),
        (lambda: Settings(compilation={"opt": 1}), "compilation must be a Compilation"),
    ],
)
def test_bad_values_are_refused_when_made(make: Any, named: str) -> None:
    with pytest.raises(InvalidRequestError, match=named):
        make()


def test_the_api_mapping_round_trips() -> None:
    data = {
        "compilation": {"opt": 2, "precision": "1E-4", "gate_basis": "MS"},
        "error_mitigation": {
            "debiasing": {"phi_chi_twirling": {"p2q": 0.1}},
            "symmetry_verification": True,
        },
    }
    settings = Settings.from_json(data)
    assert settings.compilation == Compilation(opt=2, precision="1E-4", gate_basis="MS")
    assert settings.to_json() == data


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"compilaton": {}}, "unknown key 'compilaton' \\(did you mean 'compilation'\\?\\)"),
        ({"compilation": {"optimization": 1}}, "unknown key 'optimization'"),
        ({"error_mitigation": {"debias": True}}, "did you mean 'debiasing'"),
        ({"error_mitigation": []}, "settings\\['error_mitigation'\\] must be a mapping"),
        (
            {"error_mitigation": {"debiasing": {"twirl": {}}}},
            "unknown key 'twirl'; its keys: phi_chi",
        ),
    ],
)
def test_a_mapping_with_an_unknown_or_bad_key_is_refused_naming_it(
    data: dict[str, Any], named: str
) -> None:
    with pytest.raises(InvalidRequestError, match=named):
        Settings.from_json(data)


def test_settings_json_takes_the_typed_value_or_the_mapping_alike() -> None:
    typed = Settings(compilation=Compilation(opt=1))
    assert settings_json(typed, shots=100) == {"compilation": {"opt": 1}}
    assert settings_json({"compilation": {"opt": 1}}, shots=100) == {"compilation": {"opt": 1}}
    assert settings_json(None, shots=None) is None
    assert settings_json({}, shots=None) is None
    with pytest.raises(InvalidRequestError, match="settings must be a Settings or a mapping"):
        settings_json([("compilation", {})], shots=100)  # type: ignore[arg-type]


def test_the_debiasing_keyword_overrides_the_settings_own() -> None:
    on = Settings(error_mitigation=ErrorMitigation(debiasing=True, symmetry_verification=True))
    assert settings_json(on, shots=100, debiasing=False) == {
        "error_mitigation": {"debiasing": False, "symmetry_verification": True}
    }
    assert settings_json(None, shots=500, debiasing=True) == {
        "error_mitigation": {"debiasing": True}
    }
    with pytest.raises(InvalidRequestError, match="debiasing must be True or False"):
        settings_json(None, shots=500, debiasing="on")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "settings",
    [
        Settings(error_mitigation=ErrorMitigation(debiasing=True)),
        Settings(error_mitigation=ErrorMitigation(debiasing=Debiasing())),
        {"error_mitigation": {"debiasing": True}},
    ],
)
def test_debiasing_under_500_shots_is_refused_with_the_way_out(settings: Any) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        settings_json(settings, shots=499)
    message = str(caught.value)
    assert "debiasing needs at least 500 shots, got 499" in message
    assert "shots=500 or more, or debiasing=False" in message
    assert settings_json(settings, shots=500) is not None


def test_debiasing_with_the_default_shots_names_the_default() -> None:
    with pytest.raises(InvalidRequestError, match=r"got the default \(100\)"):
        settings_json(None, shots=None, debiasing=True)


def test_debiasing_off_needs_no_minimum() -> None:
    assert settings_json(None, shots=1, debiasing=False) == {
        "error_mitigation": {"debiasing": False}
    }


# -- the job payload: the one place settings are read ---------------------------------------


def test_job_payload_sends_typed_settings_exactly() -> None:
    settings = Settings(
        compilation=Compilation(opt=1, gate_basis="ZZ"),
        error_mitigation=ErrorMitigation(debiasing=True),
    )
    payload = job_payload(
        Circuit(qubits=2).h(0), backend="qpu.forte-1", shots=500, settings=settings
    )
    assert payload["settings"] == {
        "compilation": {"opt": 1, "gate_basis": "ZZ"},
        "error_mitigation": {"debiasing": True},
    }


def test_job_payload_refuses_an_unknown_settings_key_before_any_request() -> None:
    with pytest.raises(InvalidRequestError, match="did you mean 'error_mitigation'"):
        job_payload(Circuit(qubits=1).h(0), settings={"error_mitigaton": {"debiasing": False}})


def test_job_payload_checks_the_debiasing_minimum_for_typed_settings_too() -> None:
    settings = Settings(error_mitigation=ErrorMitigation(debiasing=Debiasing()))
    with pytest.raises(InvalidRequestError, match="debiasing needs at least 500 shots, got 100"):
        job_payload(Circuit(qubits=1).h(0), backend="qpu.forte-1", shots=100, settings=settings)
    without = job_payload(Circuit(qubits=1).h(0), settings=settings, debiasing=False, shots=1)
    assert without["settings"] == {"error_mitigation": {"debiasing": False}}
