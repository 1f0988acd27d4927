"""Realistic job timing in the emulator: drawn run times, a growing queue, predictions with
an error. On a manual clock over loopback: no test here sleeps."""

from __future__ import annotations

import statistics
from typing import Any

import pytest
from conftest import ApiCaller

from ionq_async.emulator import Emulator, EmulatorConfig, ManualClock
from ionq_async.emulator.__main__ import build_parser, config_from_args


async def job(api: ApiCaller, job_id: str) -> dict[str, Any]:
    status, body, _ = await api.get(f"/jobs/{job_id}")
    assert status == 200
    return dict(body)


async def test_explicit_durations_are_used_in_turn(http: Any, manual_clock: ManualClock) -> None:
    config = EmulatorConfig(simulator_queue_s=0.0, durations_s=[1.0, 5.0])
    async with Emulator(config=config, clock=manual_clock) as emu:
        api = ApiCaller(emu, http)
        ids = [await api.submit() for _ in range(3)]
        predicted = [(await job(api, i))["predicted_execution_duration_ms"] for i in ids]
        assert predicted == [1000, 5000, 1000]
        await emu.wait_for_simulations()
        manual_clock.advance(1.0)
        statuses = [(await job(api, i))["status"] for i in ids]
        assert statuses == ["completed", "started", "completed"]
        manual_clock.advance(4.0)
        second = await job(api, ids[1])
        assert second["status"] == "completed"
        assert second["execution_duration_ms"] == 5000


async def test_lognormal_run_times_reach_the_job_answers(
    http: Any, manual_clock: ManualClock
) -> None:
    config = EmulatorConfig(
        simulator_queue_s=0.0, duration_median_s=20.0, duration_sigma=1.0, seed=3
    )
    async with Emulator(config=config, clock=manual_clock) as emu:
        api = ApiCaller(emu, http)
        ids = [await api.submit() for _ in range(4)]
        answers = [(await job(api, i))["predicted_execution_duration_ms"] for i in ids]
    expected = [round(config.run_s(seq, simulator=True) * 1000) for seq in range(1, 5)]
    assert answers == expected
    assert len(set(answers)) == 4  # drawn, not one fixed duration


def test_lognormal_draws_are_seeded_and_centred_on_the_median() -> None:
    config = EmulatorConfig(duration_median_s=20.0, duration_sigma=0.8, seed=1)
    draws = [config.run_s(seq, simulator=False) for seq in range(1, 2002)]
    again = EmulatorConfig(duration_median_s=20.0, duration_sigma=0.8, seed=1)
    assert draws[:50] == [again.run_s(seq, simulator=False) for seq in range(1, 51)]
    other = EmulatorConfig(duration_median_s=20.0, duration_sigma=0.8, seed=2)
    assert draws[:50] != [other.run_s(seq, simulator=False) for seq in range(1, 51)]
    assert 18.0 < statistics.median(draws) < 22.0
    assert max(draws) > 5 * 20.0  # a long tail, as sigma 0.8 gives
    flat = EmulatorConfig(duration_median_s=20.0, duration_sigma=0.0)
    assert flat.run_s(7, simulator=True) == 20.0


def test_default_run_times_are_the_fixed_ones() -> None:
    config = EmulatorConfig()
    assert config.run_s(1, simulator=True) == config.simulator_run_s
    assert config.run_s(9, simulator=False) == config.qpu_run_s


async def test_queue_grows_with_the_jobs_waiting(http: Any, manual_clock: ManualClock) -> None:
    config = EmulatorConfig(simulator_queue_s=0.5, simulator_run_s=1.0, queue_per_job_s=2.0)
    async with Emulator(config=config, clock=manual_clock) as emu:
        api = ApiCaller(emu, http)
        ids = [await api.submit() for _ in range(3)]
        waits = [(await job(api, i))["predicted_wait_time_ms"] for i in ids]
        assert waits == [500, 2500, 4500]
        # Once the first two have started, only the third is waiting.
        manual_clock.advance(3.0)
        later = await api.submit()
        assert (await job(api, later))["predicted_wait_time_ms"] == 500 + 2000
        await emu.wait_for_simulations()
        manual_clock.advance(0.5)
        assert (await job(api, ids[1]))["status"] == "completed"


async def test_predictions_carry_the_configured_error(http: Any, manual_clock: ManualClock) -> None:
    config = EmulatorConfig(
        simulator_queue_s=10.0, durations_s=[10.0], prediction_error=0.3, seed=5
    )
    async with Emulator(config=config, clock=manual_clock) as emu:
        api = ApiCaller(emu, http)
        ids = [await api.submit() for _ in range(20)]
        answers = [await job(api, i) for i in ids]
    waits = [a["predicted_wait_time_ms"] for a in answers]
    runs = [a["predicted_execution_duration_ms"] for a in answers]
    assert all(7000 <= w <= 13000 for w in waits), waits
    assert all(7000 <= r <= 13000 for r in runs), runs
    assert len(set(waits)) > 10 and len(set(runs)) > 10  # each job errs its own way
    assert any(w != 10000 for w in waits) and any(r != 10000 for r in runs)


async def test_exact_predictions_without_an_error(http: Any, manual_clock: ManualClock) -> None:
    config = EmulatorConfig(simulator_queue_s=10.0, durations_s=[10.0])
    async with Emulator(config=config, clock=manual_clock) as emu:
        api = ApiCaller(emu, http)
        answer = await job(api, await api.submit())
    assert answer["predicted_wait_time_ms"] == 10000
    assert answer["predicted_execution_duration_ms"] == 10000


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"duration_median_s": 0.0}, "duration_median_s"),
        ({"duration_sigma": -1.0}, "duration_sigma"),
        ({"durations_s": []}, "durations_s"),
        ({"durations_s": [1.0, -2.0]}, "durations_s"),
        ({"queue_per_job_s": -0.1}, "queue_per_job_s"),
        ({"prediction_error": 1.0}, "prediction_error"),
    ],
)
def test_bad_timing_settings_are_refused_by_name(changes: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        EmulatorConfig(**changes)


def test_flags_build_the_timing_config() -> None:
    args = build_parser().parse_args(
        [
            "--duration-median-s",
            "20",
            "--duration-sigma",
            "0.8",
            "--queue-per-job-s",
            "0.02",
            "--prediction-error",
            "0.2",
            "--durations-s",
            "1,2.5",
        ]
    )
    config = config_from_args(args)
    assert config.duration_median_s == 20.0 and config.duration_sigma == 0.8
    assert config.queue_per_job_s == 0.02 and config.prediction_error == 0.2
    assert config.durations_s == (1.0, 2.5)
    assert config_from_args(build_parser().parse_args([])) == EmulatorConfig()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--prediction-error", "1.5"])
