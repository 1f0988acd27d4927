"""``python -m ionq_async.emulator``: flags, printing its URL, and stopping on a signal."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import urllib.request

import pytest
from conftest import readline_within

from ionq_async.emulator import Emulator
from ionq_async.emulator.__main__ import add_emulator_arguments, build_parser, emulator_from_args


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_defaults_listen_on_loopback_with_a_free_port() -> None:
    emulator = emulator_from_args(parse())
    assert isinstance(emulator, Emulator)
    args = parse()
    assert (args.host, args.port, args.api_keys) == ("127.0.0.1", 0, None)
    assert emulator.config.time_scale == 1.0
    assert emulator.faults.p_500 == 0.0 and emulator.faults.rate_limit_per_s is None


def test_flags_build_the_config_and_faults() -> None:
    emulator = emulator_from_args(
        parse(
            "--api-key",
            "one",
            "--api-key",
            "two",
            "--time-scale",
            "0.5",
            "--qpu-queue-s",
            "4",
            "--qpu-run-s",
            "6",
            "--simulator-run-s",
            "0.5",
            "--simulator-queue-s",
            "0.25",
            "--seed",
            "9",
            "--cancel-completed",
            "cancel",
            "--fault-429",
            "0.1",
            "--retry-after-s",
            "3",
            "--fault-5xx",
            "0.3",
            "--fault-502",
            "0.05",
            "--fault-drop-before",
            "0.01",
            "--fault-drop-after",
            "0.02",
            "--latency-ms",
            "10,20",
            "--rate-limit",
            "50",
            "--rate-limit-burst",
            "5",
        )
    )
    config, faults = emulator.config, emulator.faults
    assert emulator.api_key == "one"
    assert (config.time_scale, config.qpu_queue_s, config.qpu_run_s) == (0.5, 4.0, 6.0)
    assert (config.simulator_queue_s, config.simulator_run_s) == (0.25, 0.5)
    assert config.seed == 9 and faults.seed == 9 and config.cancel_completed == "cancel"
    assert faults.p_429 == 0.1 and faults.retry_after_s == 3.0
    assert faults.p_500 == pytest.approx(0.1) and faults.p_503 == pytest.approx(0.1)
    assert faults.p_502 == pytest.approx(0.15)
    assert (faults.p_drop_before_store, faults.p_drop_after_store) == (0.01, 0.02)
    assert faults.latency_s == (0.01, 0.02)
    assert (faults.rate_limit_per_s, faults.rate_limit_burst) == (50.0, 5)


def test_a_single_latency_value_is_fixed_latency() -> None:
    assert emulator_from_args(parse("--latency-ms", "30")).faults.latency_s == (0.03, 0.03)


@pytest.mark.parametrize(
    "argv",
    [
        ["--fault-429", "1.5"],
        ["--latency-ms", "20,10"],
        ["--rate-limit", "0"],
        ["--time-scale", "-1"],
        ["--port", "http"],
    ],
)
def test_bad_flags_exit_with_usage_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        parse(*argv)
    assert stopped.value.code == 2


def test_the_arguments_can_be_added_to_another_parser() -> None:
    parser = argparse.ArgumentParser(prog="ionq-async")
    commands = parser.add_subparsers(dest="command")
    add_emulator_arguments(commands.add_parser("emulator"))
    args = parser.parse_args(["emulator", "--port", "8123", "--fault-503", "0.5"])
    emulator = emulator_from_args(args)
    assert args.port == 8123 and emulator.faults.p_503 == 0.5


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_module_prints_its_url_serves_and_stops_cleanly(signum: int) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ionq_async.emulator", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        url = readline_within(process.stdout).strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v0.4")
        with urllib.request.urlopen(url + "/backends", timeout=10) as response:
            assert response.status == 200
            assert json.load(response)[0]["backend"] == "simulator"
        process.send_signal(signum)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()


def test_module_reports_a_port_in_use() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "ionq_async.emulator", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert "cannot serve" in result.stderr


def test_background_emulator_serves_blocking_callers() -> None:
    import requests

    from ionq_async.emulator import BackgroundEmulator, EmulatorConfig

    with BackgroundEmulator(config=EmulatorConfig(time_scale=0.0)) as emu:
        headers = {"Authorization": f"apiKey {emu.api_key}"}
        body = {
            "type": "ionq.circuit.v1",
            "backend": "simulator",
            "input": {"qubits": 1, "circuit": [{"gate": "x", "target": 0}]},
        }
        created = requests.post(f"{emu.url}/jobs", json=body, headers=headers, timeout=10)
        assert created.status_code == 201
        assert emu.count_jobs_with_metadata("k", "v") == 0
        assert len(emu.jobs()) == 1
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{emu.url}/backends", timeout=10)
