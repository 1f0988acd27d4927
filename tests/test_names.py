"""Backend and noise-model names are checked before any request, with "did you mean"."""

from __future__ import annotations

import pytest

from ionq_async import Circuit, Client, InvalidRequestError
from ionq_async._limits import KNOWN_BACKENDS, NOISE_MODELS
from ionq_async._names import check_backend_name, check_noise_model, did_you_mean
from ionq_async._payload import job_payload, merge_payload

BELL = Circuit(qubits=2).h(0).cnot(0, 1)


@pytest.mark.parametrize("name", KNOWN_BACKENDS)
def test_every_known_backend_passes(name: str) -> None:
    assert check_backend_name(name) == name


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("simulater", "simulator"), ("qpu.forte1", "qpu.forte-1"), ("qpu.aria-l", "qpu.aria-1")],
)
def test_a_typo_names_the_backend_meant_and_the_list(typo: str, meant: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        check_backend_name(typo)
    message = str(caught.value)
    assert f"unknown backend {typo!r}" in message
    assert "did you mean " in message and repr(meant) in message.split(";")[0]
    assert "qpu.forte-enterprise-1" in message  # the whole list


def test_a_new_qpu_far_from_every_known_name_passes() -> None:
    # The API's backend field is free-form: IonQ adds QPUs.
    assert check_backend_name("qpu.zeta-7") == "qpu.zeta-7"


@pytest.mark.parametrize("name", ["qpu.tempo-2", "qpu.aria-3", "qpu.forte-enterprise-4"])
def test_a_new_unit_of_a_known_family_passes(name: str) -> None:
    # Close to a known name, but the next unit of a family IonQ runs: not locked out.
    assert check_backend_name(name) == name


@pytest.mark.parametrize(
    ("typo", "meant"), [("SIMULATOR", "simulator"), ("sim", "simulator"), ("aria-1", "qpu.aria-1")]
)
def test_case_a_prefix_or_a_missing_qpu_still_find_the_name(typo: str, meant: str) -> None:
    with pytest.raises(InvalidRequestError, match=f"did you mean '{meant}'"):
        check_backend_name(typo)


def test_ties_are_offered_in_name_order() -> None:
    assert did_you_mean("aria", ["aria-2", "aria-1"]) == " (did you mean 'aria-1' or 'aria-2'?)"
    assert did_you_mean("zzz", ["aria-1"]) == ""


@pytest.mark.parametrize("name", ["gpu", "", "Simulator ", "qpu."])
def test_anything_else_is_refused(name: str) -> None:
    with pytest.raises(InvalidRequestError, match="backend"):
        check_backend_name(name)


def test_noise_models_are_the_openapi_enum_exactly() -> None:
    for model in NOISE_MODELS:
        assert check_noise_model(model) == model
    with pytest.raises(InvalidRequestError, match=r"unknown noise model 'aria'.*'aria-1'"):
        check_noise_model("aria")
    with pytest.raises(InvalidRequestError, match="forte-enterprise-1"):
        check_noise_model("forte-9")


def test_the_payload_checks_both_before_any_request() -> None:
    with pytest.raises(InvalidRequestError, match="did you mean 'simulator'"):
        job_payload(BELL, backend="simulater")
    with pytest.raises(InvalidRequestError, match="did you mean 'harmony'"):
        job_payload(BELL, backend="simulator", noise_model="harmoni")


def test_options_written_over_a_whole_payload_are_checked_but_its_own_fields_are_not() -> None:
    # The command line's submit of a payload file: what the user typed is checked; the
    # file's own fields are the API's to judge.
    payload = {"type": "ionq.circuit.v1", "backend": "qpu.someday", "input": BELL.to_json()}
    assert merge_payload(payload, {"shots": 10})["backend"] == "qpu.someday"
    with pytest.raises(InvalidRequestError, match="did you mean 'simulator'"):
        merge_payload(payload, {"backend": "simulater"})
    with pytest.raises(InvalidRequestError, match="did you mean 'aria-1'"):
        merge_payload(payload, {"noise_model": "aria"})


async def test_no_request_leaves_for_a_misspelled_backend(mocked_api: object) -> None:
    # aioresponses is active with nothing registered: any request would fail differently.
    async with Client(api_key="k", base_url="https://api.example.test/v0.4") as client:
        for call in (
            client.submit(BELL, backend="qpu.forte1"),
            client.estimate(backend="qpu.forte1", qubits=2, shots=100),
            client.create_session("qpu.forte1"),
            client.backend("simulater"),
        ):
            with pytest.raises(InvalidRequestError, match=r"did you mean 'qpu.forte-1'|simulator"):
                await call
    assert client.stats.requests_sent == 0
