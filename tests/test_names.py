"""Backend and noise-model names are checked before any request, with "did you mean"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ionq_async import Circuit, Client, InvalidRequestError
from ionq_async._limits import KNOWN_BACKENDS, NOISE_MODELS
from ionq_async._names import check_backend_name, check_noise_model
from ionq_async._payload import job_payload
from ionq_async.cli import main
from ionq_async.emulator import BackgroundEmulator, EmulatorConfig

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


def test_the_command_line_says_what_was_meant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    circuit = tmp_path / "bell.json"
    circuit.write_text(json.dumps(BELL.to_json()))
    with BackgroundEmulator(config=EmulatorConfig(time_scale=0.0)) as emu:
        code = main(
            ["--base-url", emu.url, "--api-key", emu.api_key, "run", "--backend",
             "simulater", str(circuit)]
        )  # fmt: skip
        created = emu.stats.jobs_created
    err = capsys.readouterr().err
    assert code != 0
    assert "did you mean 'simulator'" in err
    assert created == 0
