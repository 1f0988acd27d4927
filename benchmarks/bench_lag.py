"""Result-delivery lag under realistic jobs: how soon each outcome reaches its consumer.

Run ``python benchmarks/bench_lag.py [--full]`` (quick by default). The emulator runs in
a child process (``--serve-emulator``) with realistic jobs: run times drawn from a seeded
lognormal (median 20 s, sigma 0.8), a queue that grows by 20 ms per job already waiting,
predicted wait/execution times off by up to +-20 %, and a 50 ms round trip on every
request (the emulator's latency fault). Jobs are 2-qubit Bell circuits on the emulator's
``qpu.aria-1`` (its fixed QPU queue set to 0: the queue model above replaces it), so
``run_many`` uses its QPU schedule (``QPU_SCHEDULE``), as for any QPU job.

**Time scaling.** To finish in minutes, every duration is multiplied by ``SCALE`` (full:
0.25, quick: 0.1): job run and queue times, the round trip, and every client's poll
intervals alike. Lags are reported divided by ``SCALE``, i.e. in the seconds the same run
would take unscaled; jobs/s and CPU per job are real (scaled) figures.

**Lag** of an outcome: the time the consumer receives it (``time.time()`` in this
process) less the job's completion time on the server (``finished_at`` read from the
emulator's store, same machine clock).

Clients:

- ``run_many``: the library's default polling (``QPU_SCHEDULE``, predictions honoured);
- ``aiohttp per-job 1 s``: asyncio.gather, each job polls ``GET /jobs/{id}`` alone every
  1 s (as cirq-ionq does), then fetches its probabilities;
- ``ionq-core 0.2.0``: asyncio.gather over its own create_job + async_wait_for_job
  (1 s growing 1.5x to 30 s) + get_job_probabilities, as its docs show (skipped, with a
  note, if it is not installed);
- the trade-off: run_many at other poll schedules (``--tradeoff``, default in full mode),
  drawn with the others to ``docs/images/lag-tradeoff.png``.

Prints figures next to the targets of issue 15; never passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from ionq_async._batch import values as batch_values
from ionq_async.circuits import Circuit
from ionq_async.client import Client

BACKEND = "qpu.aria-1"
SHOTS = 100
MEDIAN_S = 20.0
SIGMA = 0.8
QUEUE_PER_JOB_S = 0.02
PREDICTION_ERROR = 0.2
RTT_S = 0.05
FULL = {"jobs": 1_000, "scale": 0.25}
QUICK = {"jobs": 200, "scale": 0.1}

TARGET_LAG_MEDIAN_S = 1.0
TARGET_LAG_P95_S = 3.0
TARGET_REQUESTS_PER_JOB = 2.3

VERBOSE = False
PNG = Path(__file__).resolve().parent.parent / "docs" / "images" / "lag-tradeoff.png"

# run_many poll settings for the trade-off curve (unscaled seconds): label -> schedule args.
_QPU = {"factor": 1.5, "max_s": 15.0, "max_predicted_s": 300.0}
TRADEOFF: dict[str, dict[str, float]] = {
    "rounds 0.5s": {"initial_s": 0.5, **_QPU},
    "rounds 2s": {"initial_s": 2.0, **_QPU},
    "rounds 4s": {"initial_s": 4.0, **_QPU},
    "rounds 1s, lead 0.1": {"initial_s": 1.0, "lead": 0.1, **_QPU},
    "rounds 1s, no fill-up": {"initial_s": 1.0, "fill": 0.0, **_QPU},
}
"""Rounds every ``initial_s`` (the default is 1 s, measured as ``run_many (default)``);
``lead`` is how early (share of the predicted duration) a job starts being watched;
"no fill-up" asks only about the jobs due (the requests' spare room left empty)."""


def bell() -> Circuit:
    """The Bell pair every job runs."""
    return Circuit(qubits=2).h(0).cnot(0, 1)


BELL_INPUT = {
    "qubits": 2,
    "gateset": "qis",
    "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}],
}


# ---------------------------------------------------------------------------------------
# The emulator process (``--serve-emulator SCALE``): the API plus a small stats server.


async def _serve_emulator(scale: float, prediction_error: float) -> None:
    from aiohttp import web

    from ionq_async.emulator import Emulator, EmulatorConfig
    from ionq_async.emulator.faults import FaultConfig

    config = EmulatorConfig(
        time_scale=scale,
        simulator_queue_s=0.0,
        qpu_queue_s=0.0,
        duration_median_s=MEDIAN_S,
        duration_sigma=SIGMA,
        queue_per_job_s=QUEUE_PER_JOB_S,
        prediction_error=prediction_error,
        seed=15,
    )
    rtt = RTT_S * scale
    faults = FaultConfig(latency_s=(rtt, rtt))
    async with Emulator(config=config, faults=faults) as emu:

        async def stats(_request: web.Request) -> web.Response:
            s = emu.stats
            return web.json_response(
                {
                    "requests_total": s.requests_total,
                    "by_route": {f"{m} {r}": n for (m, r), n in s.requests_by_route.items()},
                    "jobs_created": s.jobs_created,
                }
            )

        async def reset(_request: web.Request) -> web.Response:
            emu.stats.reset()
            return web.json_response({})

        async def completed(_request: web.Request) -> web.Response:
            store = emu.store
            out = {}
            for record in store.records():
                state = store.state(record)
                if state.finished_at is not None:
                    out[record.id] = state.finished_at
            return web.json_response(out)

        app = web.Application()
        app.router.add_get("/stats", stats)
        app.router.add_post("/reset", reset)
        app.router.add_get("/completed", completed)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(emu.url, f"http://127.0.0.1:{port}", emu.api_key, flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


class EmulatorProcess:
    """The emulator in a child process; ``stats()``, ``reset()``, ``completed()``."""

    def __init__(self, scale: float, prediction_error: float = PREDICTION_ERROR) -> None:
        # The emulator's log (its tracebacks of any 500) goes to a file shown on failure.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in close()
            mode="w+", prefix="bench_lag_emulator_", suffix=".log", delete=False
        )
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-emulator", str(scale), str(prediction_error)],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if len(line) != 3:
            self.close()
            raise RuntimeError("the emulator process did not start")
        self.url, self.stats_url, self.api_key = line

    def _call(self, method: str, path: str) -> dict[str, Any]:
        import requests

        answer = requests.request(method, self.stats_url + path, timeout=60)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def stats(self) -> dict[str, Any]:
        """The emulator's request counters."""
        return self._call("GET", "/stats")

    def reset(self) -> None:
        """Zero the emulator's counters."""
        self._call("POST", "/reset")

    def completed(self) -> dict[str, float]:
        """Job id -> completion time (epoch seconds) of every finished job."""
        return {k: float(v) for k, v in self._call("GET", "/completed").items()}

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the emulator's log."""
        with open(self.log.name) as log:
            return "".join(log.readlines()[-lines:])

    def close(self) -> None:
        """Stop the process (its log file stays, named in any failure)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@contextmanager
def emulator_process(
    scale: float, prediction_error: float = PREDICTION_ERROR
) -> Iterator[EmulatorProcess]:
    """An emulator process for the duration of a ``with`` block."""
    process = EmulatorProcess(scale, prediction_error)
    try:
        yield process
    finally:
        process.close()


# ---------------------------------------------------------------------------------------
# The clients: each returns [(job id, time the consumer got the outcome)].

Arrivals = list[tuple[str, float]]


def _scaled_schedule(args: dict[str, float], scale: float) -> batch_values.PollSchedule:
    return batch_values.PollSchedule(
        initial_s=args["initial_s"] * scale,
        factor=args["factor"],
        max_s=args["max_s"] * scale,
        max_predicted_s=args["max_predicted_s"] * scale,
        lead=args.get("lead", batch_values.QPU_SCHEDULE.lead),
    )


@contextmanager
def no_fill_up() -> Iterator[None]:
    """Poll only the jobs due: no spare room filled (patched where it is defined)."""
    from ionq_async._batch import poller

    saved = poller.FILL_UP
    poller.FILL_UP = False  # type: ignore[misc]
    try:
        yield
    finally:
        poller.FILL_UP = saved  # type: ignore[misc]


@contextmanager
def patched_schedules(schedule: batch_values.PollSchedule) -> Iterator[None]:
    """Make ``schedule`` the default of both backend kinds (patched where defined)."""
    saved = batch_values.SIMULATOR_SCHEDULE, batch_values.QPU_SCHEDULE
    batch_values.SIMULATOR_SCHEDULE = schedule  # type: ignore[misc]
    batch_values.QPU_SCHEDULE = schedule  # type: ignore[misc]
    try:
        yield
    finally:
        batch_values.SIMULATOR_SCHEDULE, batch_values.QPU_SCHEDULE = saved  # type: ignore[misc]


async def client_run_many(emu: EmulatorProcess, jobs: int, scale: float) -> Arrivals:
    """run_many with the default QPU schedule scaled by ``scale``."""
    qpu = batch_values.QPU_SCHEDULE
    default = {
        "initial_s": qpu.initial_s,
        "factor": qpu.factor,
        "max_s": qpu.max_s,
        "max_predicted_s": qpu.max_predicted_s,
    }
    return await _run_many_with(emu, jobs, scale, default)


async def _run_many_with(
    emu: EmulatorProcess, jobs: int, scale: float, schedule: dict[str, float]
) -> Arrivals:
    arrivals: Arrivals = []
    fill = no_fill_up() if schedule.get("fill", 1.0) == 0.0 else nullcontext()
    with patched_schedules(_scaled_schedule(schedule, scale)), fill:
        async with Client(api_key=emu.api_key, base_url=emu.url) as client:
            circuits = [bell() for _ in range(jobs)]
            async with client.run_many(circuits, backend=BACKEND, shots=SHOTS) as run:
                async for outcome in run:
                    now = time.time()
                    if outcome.error is not None:
                        raise outcome.error
                    assert outcome.job is not None
                    arrivals.append((outcome.job.id, now))
    return arrivals


async def client_per_job(emu: EmulatorProcess, jobs: int, scale: float) -> Arrivals:
    """aiohttp + asyncio.gather, each job polling alone every 1 s (cirq-ionq's interval)."""
    interval = 1.0 * scale
    headers = {"Authorization": f"apiKey {emu.api_key}"}
    body = {"type": "ionq.circuit.v1", "backend": BACKEND, "shots": SHOTS, "input": BELL_INPUT}
    arrivals: Arrivals = []
    connector = aiohttp.TCPConnector(limit=100)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(
        headers=headers, timeout=timeout, connector=connector
    ) as session:

        async def one() -> None:
            async with session.post(f"{emu.url}/jobs", json=body) as answer:
                answer.raise_for_status()
                job_id = (await answer.json())["id"]
            while True:
                await asyncio.sleep(interval)
                async with session.get(f"{emu.url}/jobs/{job_id}") as answer:
                    answer.raise_for_status()
                    status = (await answer.json())["status"]
                if status in ("completed", "failed", "canceled"):
                    break
            if status != "completed":
                raise RuntimeError(f"job {job_id} ended {status}")
            async with session.get(f"{emu.url}/jobs/{job_id}/results/probabilities") as answer:
                answer.raise_for_status()
                await answer.json()
            arrivals.append((job_id, time.time()))

        await asyncio.gather(*(one() for _ in range(jobs)))
    return arrivals


def ionq_core_available() -> str | None:
    """None if ionq-core 0.2.0 is importable, else why not."""
    try:
        import ionq_core
        from ionq_core.api.default import create_job, get_job_probabilities  # noqa: F401
    except ImportError as error:
        return f"ionq-core is not installed ({error}); pip install ionq-core==0.2.0"
    version = getattr(ionq_core, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("ionq-core")
    if version != "0.2.0":
        return f"ionq-core {version} is installed, not 0.2.0"
    return None


async def client_ionq_core(emu: EmulatorProcess, jobs: int, scale: float) -> Arrivals:
    """ionq-core 0.2.0: asyncio.gather over create_job + async_wait_for_job + probabilities.

    Its poll starts at ``poll_interval`` (1 s, passed scaled) and grows 1.5x to
    ``_MAX_INTERVAL`` (30 s; scaled by patching ``ionq_core.polling`` where it is defined).
    """
    from ionq_core import IonQClient, async_wait_for_job, polling
    from ionq_core.api.default import create_job, get_job_probabilities
    from ionq_core.models import CircuitJobCreationPayload

    body = {"type": "ionq.circuit.v1", "backend": BACKEND, "shots": SHOTS, "input": BELL_INPUT}
    arrivals: Arrivals = []
    saved_max = polling._MAX_INTERVAL
    polling._MAX_INTERVAL = saved_max * scale
    try:
        with warnings.catch_warnings():  # its warning about plain http on loopback
            warnings.simplefilter("ignore", UserWarning)
            client = IonQClient(api_key=emu.api_key, base_url=emu.url)
        async with client:

            async def one() -> None:
                payload = CircuitJobCreationPayload.from_dict(body)
                created = await create_job.asyncio(client=client, body=payload)
                if created is None or not hasattr(created, "id"):
                    raise RuntimeError(f"ionq-core create_job answered {created!r}")
                job = await async_wait_for_job(
                    client, created.id, poll_interval=1.0 * scale, timeout=86_400.0
                )
                probabilities = await get_job_probabilities.asyncio(job.id, client=client)
                if probabilities is None:
                    raise RuntimeError(f"ionq-core found no probabilities for {job.id}")
                arrivals.append((job.id, time.time()))

            await asyncio.gather(*(one() for _ in range(jobs)))
    finally:
        polling._MAX_INTERVAL = saved_max
    return arrivals


# ---------------------------------------------------------------------------------------
# Measuring


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def measure(
    emu: EmulatorProcess,
    jobs: int,
    scale: float,
    client: Callable[[EmulatorProcess, int, float], Any],
) -> dict[str, float]:
    """Run one client over ``jobs`` jobs; its requests, lags (unscaled s), rate and CPU."""
    emu.reset()
    wall = time.perf_counter()
    cpu = time.process_time()
    arrivals: Arrivals = asyncio.run(client(emu, jobs, scale))
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    stats = emu.stats()
    finished = emu.completed()
    if len(arrivals) != jobs:
        raise RuntimeError(f"{len(arrivals)} outcomes for {jobs} jobs")
    lags = [(at - finished[job_id]) / scale for job_id, at in arrivals]
    by_route = stats["by_route"]
    if VERBOSE:
        print("   ", json.dumps(by_route), flush=True)
    status = sum(
        n for route, n in by_route.items() if route in ("GET /v0.4/jobs/{job_id}", "GET /v0.4/jobs")
    )
    return {
        "jobs": jobs,
        "requests_per_job": stats["requests_total"] / jobs,
        "status_requests_per_job": status / jobs,
        "lag_median_s": statistics.median(lags),
        "lag_p95_s": _percentile(lags, 0.95),
        "lag_max_s": max(lags),
        "lag_min_s": min(lags),
        "jobs_per_s": jobs / wall,
        "wall_s": wall,
        "cpu_ms_per_job": cpu * 1000 / jobs,
    }


def _line(name: str, f: dict[str, float]) -> str:
    return (
        f"  {name:<28} {f['requests_per_job']:>6.2f} {f['status_requests_per_job']:>7.2f}"
        f" {f['lag_median_s']:>8.2f} {f['lag_p95_s']:>7.2f} {f['lag_max_s']:>7.2f}"
        f" {f['jobs_per_s']:>7.1f} {f['cpu_ms_per_job']:>7.2f}"
    )


HEADER = (
    f"  {'client':<28} {'req/job':>6} {'status/j':>7} {'lag med':>8} {'p95':>7} {'max':>7}"
    f" {'jobs/s':>7} {'CPU ms':>7}"
)


def plot(figures: dict[str, Any], path: Path, *, jobs: int, scale: float) -> None:
    """Lag (median and p95) against requests per job: run_many's settings up close (left),
    and next to the other clients (right, log scales)."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clients: dict[str, dict[str, float]] = figures["clients"]
    fig, (near, far) = plt.subplots(1, 2, figsize=(11, 4.8), dpi=120)
    # The curve: run_many at round intervals 0.5 / 1 (default) / 2 / 4 s.
    curve = [
        (name, v)
        for name, v in clients.items()
        if name == "run_many (default)" or (name.startswith("run_many rounds") and "," not in name)
    ]
    curve.sort(key=lambda kv: kv[1]["requests_per_job"])
    variants = [
        (n, v) for n, v in clients.items() if n.startswith("run_many") and (n, v) not in curve
    ]
    for ax in (near, far):
        xs = [v["requests_per_job"] for _, v in curve]
        ax.plot(
            xs, [v["lag_median_s"] for _, v in curve], "o-", color="C0", label="run_many median"
        )
        ax.plot(
            xs, [v["lag_p95_s"] for _, v in curve], "s--", color="C0", alpha=0.6,
            label="run_many p95",
        )  # fmt: skip
        for _name, v in variants:
            ax.plot([v["requests_per_job"]], [v["lag_median_s"]], "D", color="C2", ms=5)
            ax.plot([v["requests_per_job"]], [v["lag_p95_s"]], "D", color="C2", ms=5, alpha=0.5)
        ax.axhline(TARGET_LAG_MEDIAN_S, color="grey", lw=0.8, ls=":")
        ax.axhline(TARGET_LAG_P95_S, color="grey", lw=0.8, ls="-.")
        ax.axvline(TARGET_REQUESTS_PER_JOB, color="grey", lw=0.8, ls=":")
        ax.axvline(2.0, color="black", lw=0.6)
        ax.grid(True, which="both", lw=0.3, alpha=0.5)
        ax.set_xlabel("HTTP requests per job")
    for name, v in curve + variants:
        label = name.replace("run_many ", "").replace("rounds ", "every ")
        label = label.replace("(default)", "every 1s (default)")
        near.annotate(
            label,
            (v["requests_per_job"], v["lag_median_s"]),
            textcoords="offset points",
            xytext=(5, 4),
            fontsize=7,
            color="C0" if (name, v) in curve else "C2",
        )
    near.plot([], [], "D", color="C2", ms=5, label="run_many variants (median, p95)")
    near.set_xlim(
        1.98, max(TARGET_REQUESTS_PER_JOB + 0.05, *(v["requests_per_job"] for _, v in curve))
    )
    near.set_ylim(0, max(TARGET_LAG_P95_S * 1.6, *(v["lag_p95_s"] for _, v in curve)) * 1.05)
    near.text(2.0, near.get_ylim()[1] * 0.97, " floor: 2", fontsize=7, va="top")
    near.text(TARGET_REQUESTS_PER_JOB, near.get_ylim()[1] * 0.97, " 2.3", fontsize=7, va="top")
    near.text(1.99, TARGET_LAG_MEDIAN_S, "target median", fontsize=7, va="bottom")
    near.text(1.99, TARGET_LAG_P95_S, "target p95", fontsize=7, va="bottom")
    near.set_ylabel("result-delivery lag, s (unscaled)")
    near.set_title("run_many: round interval (blue), variants (green)", fontsize=9)
    near.legend(fontsize=7, loc="upper right")
    colors = {"aiohttp per-job 1s": "C1", "ionq-core 0.2.0": "C3"}
    for name, color in colors.items():
        peer = clients.get(name)
        if peer is None:
            continue
        v = peer
        far.plot(
            [v["requests_per_job"]], [v["lag_median_s"]], "o", color=color, label=f"{name} median"
        )
        far.plot(
            [v["requests_per_job"]], [v["lag_p95_s"]], "s", color=color, alpha=0.6,
            label=f"{name} p95",
        )  # fmt: skip
    far.set_xscale("log")
    far.set_yscale("log")
    far.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    far.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    far.set_xticks([2, 3, 5, 10, 20])
    far.set_ylim(bottom=0.1)
    far.set_title("next to the others (log scales)", fontsize=9)
    far.legend(fontsize=7, loc="upper right")
    fig.suptitle(
        f"Lag vs requests: {jobs:,} jobs, lognormal run times (median {MEDIAN_S:.0f} s, "
        f"sigma {SIGMA}), {RTT_S * 1000:.0f} ms RTT, time scale {scale}",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(
    quick: bool = True,
    tradeoff: bool | None = None,
    png: Path | None = None,
    prediction_error: float = PREDICTION_ERROR,
    only: str | None = None,
) -> dict[str, Any]:
    """Run the benchmark; print and return the figures (``only``: clients whose name
    starts with it)."""
    mode = QUICK if quick else FULL
    jobs, scale = int(mode["jobs"]), float(mode["scale"])
    tradeoff = (not quick) if tradeoff is None else tradeoff
    print(
        f"  {jobs:,} jobs on {BACKEND}, run times lognormal(median {MEDIAN_S:.0f} s, sigma "
        f"{SIGMA}), queue +{QUEUE_PER_JOB_S * 1000:.0f} ms per waiting job, predictions "
        f"+-{prediction_error:.0%}, RTT {RTT_S * 1000:.0f} ms; time scale {scale} "
        "(lags in unscaled seconds)",
        flush=True,
    )
    print(HEADER, flush=True)
    clients: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    runs: list[tuple[str, Callable[[EmulatorProcess, int, float], Any]]] = [
        ("run_many (default)", client_run_many),
        ("aiohttp per-job 1s", client_per_job),
    ]
    missing = ionq_core_available()
    if missing is None:
        runs.append(("ionq-core 0.2.0", client_ionq_core))
    else:
        notes.append(f"ionq-core 0.2.0 not measured: {missing}")
    if tradeoff:
        for label, args in TRADEOFF.items():

            def run(emu: EmulatorProcess, n: int, s: float, _a: dict[str, float] = args) -> Any:
                return _run_many_with(emu, n, s, _a)

            runs.append((f"run_many {label}", run))
    if only is not None:
        runs = [(name, client) for name, client in runs if name.startswith(only)]
    for name, client in runs:
        # A fresh emulator per client: the queue model starts empty for each.
        with emulator_process(scale, prediction_error) as emu:
            try:
                figures = measure(emu, jobs, scale, client)
            except Exception as error:  # a client that cannot run is reported, not hidden
                notes.append(f"{name} failed: {type(error).__name__}: {error}")
                print(f"  {name:<28} FAILED: {type(error).__name__}: {error}", flush=True)
                print(f"  emulator log ({emu.log.name}), last lines:\n{emu.log_tail()}")
                continue
        clients[name] = figures
        print(_line(name, figures), flush=True)
    rm = clients.get("run_many (default)")
    if rm is not None:
        print(
            f"  run_many targets: lag median {rm['lag_median_s']:.2f} s (target < "
            f"{TARGET_LAG_MEDIAN_S:.0f} s), p95 {rm['lag_p95_s']:.2f} s (target < "
            f"{TARGET_LAG_P95_S:.0f} s), requests/job {rm['requests_per_job']:.2f} (target "
            f"<= {TARGET_REQUESTS_PER_JOB})"
            + (" [the targets are for --full: fewer jobs share each round here]" if quick else "")
        )
    for note in notes:
        print(f"  NOTE: {note}")
    result = {"jobs": jobs, "scale": scale, "clients": clients, "notes": notes}
    if png is not None or (tradeoff and only is None):
        target = png or PNG
        plot(result, target, jobs=jobs, scale=scale)
        print(f"  trade-off curve: {target}")
    return result


def _cli() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-emulator":
        asyncio.run(_serve_emulator(float(sys.argv[2]), float(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the README figures (slower)")
    parser.add_argument("--tradeoff", action="store_true", help="also the trade-off settings")
    parser.add_argument("--png", type=Path, default=None, help="draw the curve here")
    parser.add_argument(
        "--prediction-error",
        type=float,
        default=PREDICTION_ERROR,
        help="how far off predicted times are, as a fraction (default %(default)s)",
    )
    parser.add_argument("--only", default=None, help="run only the clients named so")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument(
        "--replot", type=Path, default=None, help="draw the PNG from figures saved by --json"
    )
    args = parser.parse_args()
    if args.replot is not None:
        saved = json.loads(args.replot.read_text())
        target = args.png or PNG
        plot(saved, target, jobs=saved["jobs"], scale=saved["scale"])
        print(f"  trade-off curve: {target}")
        return
    figures = main(
        quick=not args.full,
        tradeoff=args.tradeoff or None,
        png=args.png,
        prediction_error=args.prediction_error,
        only=args.only,
    )
    if args.json:
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    _cli()
