"""Does a faster JSON parser (orjson) cut client CPU per job on large probability answers,
and by how much?

Run ``python benchmarks/bench_json.py`` (quick, under a minute) or ``--full`` (the README
figures). The emulator runs in a child process, so ``time.process_time()`` here is the
client's CPU alone. Answers are the emulator's own: 20-qubit circuits of ``ry`` rotations
on k qubits spread over the 20, giving up to 2^k nonzero probabilities (values as the
emulator writes them), and multi-circuit jobs whose aggregated answer holds one such
distribution per child.

For each answer, the client CPU (median over repeats, backends interleaved):

- **decode**: the answer's bytes to Python values: the standard library
  (``ionq_async._json.loads``: ``json.loads`` with NaN refused, what the client uses),
  the orjson candidate (:func:`orjson_loads`: orjson behind the checks that keep the
  standard library's values and errors, the only form the client could adopt) and bare
  orjson (the ceiling: not identical, so not adoptable);
- **read**: the rest of reading the answer (decimal keys to ints, the distribution's
  check), the same whichever decoder ran;
- **fetch**: ``client.probabilities(job)`` (or ``aggregated_probabilities``) end to end
  over loopback, the client reading with each (patched into ``ionq_async._json``);
- **job**: ``client.run(circuit)`` (submit, wait, fetch and check: all a job costs the
  client), with each.

Before timing, the candidate is checked against the standard library on edge cases (NaN,
big integers, a byte-order mark, UTF-16, bad UTF-8, repeated keys, deep nesting...) and on
every answer; the figures say whether the difference in CPU is worth adopting it.

Then, since decoding is not the main cost: **reading** a decoded answer, the client's own
code with the network and the decoder left out (``_get`` answers the decoded value):
``Client._probabilities`` for one distribution of 16, 256, 4,096 and 65,536 states (µs per
answer; the states spread over 20 qubits, values as floats of 17 digits, as the emulator
writes them), and ``Client._child_probabilities`` for packed jobs (5,000 children of 16
states, 500 of 256, 50 of 4,096, 4 of 65,536), each child then checked against its width
as the engine checks it (µs per child).
``--reading`` runs this part alone (no emulator, under a minute).

The question each line answers is printed beside it; nothing passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from ionq_async import Circuit, Client, Job
from ionq_async import _json as json_module
from ionq_async.results import parse_probabilities, read_probabilities, validate_probabilities

QUBITS = 20
QUICK: dict[str, Any] = {
    "single": (10, 12, 14, 16),  # k: up to 2^k nonzero states of 20 qubits
    "multi": ((100, 8),),  # (children, qubits of each, all rotated: 2^qubits states each)
    "decode_repeats": 15,
    "fetch_repeats": 5,
    "jobs": 2,
    "reading_repeats": 7,
}
FULL: dict[str, Any] = {
    "single": (10, 12, 14, 16, 18, 20),
    "multi": ((100, 10), (1000, 6), (5000, 4)),
    "decode_repeats": 31,
    "fetch_repeats": 15,
    "jobs": 8,
    "reading_repeats": 21,
}


# ---------------------------------------------------------------------------------------
# The candidate: orjson, falling back to the standard library wherever the two could differ.


def _import_orjson() -> ModuleType | None:
    try:
        return importlib.import_module("orjson")
    except ImportError:  # the figures are json's only
        return None


orjson = _import_orjson()

_stdlib_loads = json_module.loads
"""The client's own reading (the standard library), kept before any patch."""

_SAFE_DEPTH = 256
"""Nesting the standard library always reads; deeper values are left to it to decide."""


def _shape_table() -> bytes:
    """Digits to ``0``, ``.`` kept, every other byte a space: an integer of 19 digits or
    more (possibly past orjson's 64 bits, which it turns into a float) is then a space
    and 19 zeros, while digits after a point follow a ``.``."""
    table = bytearray(b" " * 256)
    table[ord("0") : ord("9") + 1] = b"0" * 10
    table[ord(".")] = ord(".")
    return bytes(table)


_SHAPE = _shape_table()
_LONG_INTEGER = b" " + b"0" * 19


def orjson_loads(data: bytes) -> Any:
    """What ``ionq_async._json.loads`` gives (same value, same exception), read by orjson
    where it is sure to agree: no integer of 19+ digits, nesting under 256, and anything
    orjson refuses (a BOM, UTF-16, lone surrogates, 1e400, NaN) read by the standard
    library."""
    assert orjson is not None
    shape = data.translate(_SHAPE)
    if _LONG_INTEGER in shape or shape.startswith(_LONG_INTEGER[1:]):
        return _stdlib_loads(data)
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return _stdlib_loads(data)
    containers = data.count(b"[") + data.count(b"{")
    if containers >= _SAFE_DEPTH and _nests_deeper_than(value, _SAFE_DEPTH):
        return _stdlib_loads(data)
    return value


def _nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest more than ``limit`` deep (one level a pass; a container
    holding no container is skipped at C speed)."""
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        inner: list[Any] = []
        for container in level:
            items = container.values() if type(container) is dict else container
            if {dict, list} & set(map(type, items)):
                inner.extend(item for item in items if type(item) is dict or type(item) is list)
        level = inner
    return False


EDGE_CASES = [
    b'{"a": NaN}',
    b"[Infinity]",
    b"[-Infinity]",
    b'{"a": 1, "b": 2, "a": 3}',
    b"[123456789012345678901234567890]",
    b"[18446744073709551616]",
    b"[-9223372036854775809]",
    b"[9223372036854775807]",
    b"[1e400]",
    b"[-1e400]",
    b"[1e-400]",
    b"[0.00012345678901234567]",
    b'{"a": "\xff"}',
    b'\xef\xbb\xbf{"a": 1}',
    '{"a": 1}'.encode("utf-16"),
    b'["\\ud800"]',
    b'["a\x01"]',
    b'{"a": 1} x',
    b"",
    b"[01]",
    b"[-0, -0.0]",
    b"[1.7976931348623157e308, 4.9e-324]",
    b"[" * 300 + b"]" * 300,
    b"[" * 1000 + b"]" * 1000,
    b"[" * 1100 + b"]" * 1100,
]


def _outcome(read: Callable[[bytes], Any], data: bytes) -> tuple[str, str]:
    try:
        return "value", repr(read(data))
    except RecursionError:
        return "error", "RecursionError"
    except ValueError as error:
        return "error", f"{type(error).__name__}: {error}"


def _disagreements(answers: list[bytes]) -> list[str]:
    """The texts the candidate reads differently from the standard library."""
    return [
        repr(data[:40])
        for data in EDGE_CASES + answers
        if _outcome(orjson_loads, data) != _outcome(_stdlib_loads, data)
    ]


def _ry_circuit(k: int, seed: int, qubits: int = QUBITS) -> Circuit:
    """``ry`` on k of the qubits, spread over the register: up to 2^k nonzero states with
    keys up to 2^qubits, every value different."""
    rng = random.Random(seed)
    circuit = Circuit(qubits=qubits)
    targets = [round(i * (qubits - 1) / (k - 1)) for i in range(k)] if k > 1 else [0]
    for target in targets:
        circuit.ry(rng.uniform(0.4, 2.7), target)
    return circuit


@contextlib.contextmanager
def _backend(name: str) -> Iterator[None]:
    """The client reads answers with ``json`` (its own), the orjson ``candidate`` or
    ``bare`` orjson, patched where the client's reading is defined."""
    readers: dict[str, Callable[[bytes], Any]] = {"json": _stdlib_loads}
    if orjson is not None:
        readers |= {"candidate": orjson_loads, "bare": orjson.loads}
    json_module.loads = readers[name]  # type: ignore[assignment]
    try:
        yield
    finally:
        json_module.loads = _stdlib_loads


def _cpu_ms(run: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.process_time()
        run()
        timings.append((time.process_time() - started) * 1000)
    return statistics.median(timings)


async def _acpu_ms(run: Callable[[], Awaitable[object]]) -> float:
    started = time.process_time()
    await run()
    return (time.process_time() - started) * 1000


# ---------------------------------------------------------------------------------------
# The emulator in a child process (``--serve-emulator``), so its CPU is not the client's.


async def _serve_emulator() -> None:
    from ionq_async.emulator import Emulator

    async with Emulator() as emulator:
        print(emulator.url, emulator.api_key, flush=True)
        await asyncio.Event().wait()


@contextlib.contextmanager
def _emulator_process() -> Iterator[tuple[str, str]]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-emulator"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if len(line) != 2:
            raise RuntimeError("the emulator process did not start")
        yield line[0], line[1]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------------------------------
# The cases.


class Case:
    """One answer: a finished job, its answer's bytes, and how to fetch it."""

    def __init__(self, name: str, job: Job, raw: bytes, qubits: int, aggregated: bool) -> None:
        self.name, self.job, self.raw, self.aggregated = name, job, raw, aggregated
        self.qubits = qubits

    def read(self, data: Any) -> int:
        """What the client does after decoding; the number of states read."""
        if not self.aggregated:
            probabilities = read_probabilities(data, num_qubits=self.qubits, job_id=self.job.id)
            return len(probabilities)
        states = 0
        for child, raw in data.items():
            probabilities = parse_probabilities(raw, job_id=child)
            validate_probabilities(probabilities, num_qubits=self.qubits, job_id=child)
            states += len(probabilities)
        return states

    async def fetch(self, client: Client) -> object:
        if self.aggregated:
            return await client.aggregated_probabilities(self.job)
        return await client.probabilities(self.job)


async def _raw_answer(url: str, api_key: str, job: Job, aggregated: bool) -> bytes:
    path = f"/jobs/{job.id}/results/probabilities" + ("/aggregated" if aggregated else "")
    async with (
        aiohttp.ClientSession() as session,
        session.get(url + path, headers={"Authorization": f"apiKey {api_key}"}) as answer,
    ):
        answer.raise_for_status()
        return await answer.read()


async def _cases(client: Client, url: str, api_key: str, mode: dict[str, Any]) -> list[Case]:
    cases: list[Case] = []
    for k in mode["single"]:
        job = await client.wait(await client.submit(_ry_circuit(k, seed=k), shots=1000))
        raw = await _raw_answer(url, api_key, job, aggregated=False)
        cases.append(Case(f"1 circuit, 2^{k} states", job, raw, QUBITS, aggregated=False))
    for children, k in mode["multi"]:
        # Small circuits, as packs of a sweep are (the emulator simulates each child).
        circuits = [_ry_circuit(k, seed=index, qubits=k) for index in range(children)]
        job = await client.wait(await client.submit(circuits, shots=1000), timeout_s=600)
        raw = await _raw_answer(url, api_key, job, aggregated=True)
        cases.append(Case(f"{children} children x 2^{k}", job, raw, k, aggregated=True))
    return cases


def _repeats(case: Case, repeats: int) -> int:
    """Fewer repeats for answers over 4 MiB (2^20 states take a second a fetch)."""
    return repeats if len(case.raw) < 4 << 20 else max(3, repeats // 5)


def _decode_figures(case: Case, repeats: int) -> dict[str, float]:
    raw = case.raw
    repeats = _repeats(case, repeats)
    figures = {"json": _cpu_ms(lambda: _stdlib_loads(raw), repeats)}
    if orjson is not None:
        figures["candidate"] = _cpu_ms(lambda: orjson_loads(raw), repeats)
        figures["bare"] = _cpu_ms(lambda: orjson.loads(raw), repeats)
    data = _stdlib_loads(raw)
    figures["read"] = _cpu_ms(lambda: case.read(data), repeats)
    figures["states"] = case.read(data)
    figures["kb"] = len(raw) / 1024
    return figures


async def _interleaved(
    backends: list[str], repeats: int, run: Callable[[], Awaitable[object]]
) -> dict[str, float]:
    """Median CPU ms of ``run`` per backend, the backends taking turns."""
    timings: dict[str, list[float]] = {name: [] for name in backends}
    for _ in range(repeats):
        for name in backends:
            with _backend(name):
                timings[name].append(await _acpu_ms(run))
    return {name: statistics.median(values) for name, values in timings.items()}


# ---------------------------------------------------------------------------------------
# Reading a decoded answer: the client's code after the decoder.

READING_STATES = (4, 8, 12, 16)
"""One distribution of 2^k states (over 20 qubits) for each k."""
READING_CHILDREN = ((5000, 4), (500, 8), (50, 12), (4, 16))
"""Packed jobs: children, and the qubits of each (all rotated: 2^qubits states a child)."""


def _decoded_answer(k: int, seed: int, qubits: int = QUBITS) -> dict[str, Any]:
    """2^k states spread over ``qubits`` with random values summing to 1, as decoded."""
    rng = random.Random(seed)
    count = 1 << k
    states = sorted(rng.sample(range(1 << qubits), count)) if k < qubits else range(count)
    weights = [rng.random() for _ in range(count)]
    total = sum(weights)
    text = json.dumps(
        {str(state): weight / total for state, weight in zip(states, weights, strict=True)}
    )
    answer: dict[str, Any] = _stdlib_loads(text)
    return answer


def _answering(client: Client, data: Any) -> None:
    """The client's ``_get`` answers ``data`` (decoded) without a request."""

    async def answer(*_: Any, **__: Any) -> Any:
        return data

    client._get = answer  # type: ignore[method-assign]


async def _reading_figures(repeats: int) -> dict[str, float]:
    """µs of client CPU per distribution read and checked (median of ``repeats``)."""
    figures: dict[str, float] = {}
    async with Client(api_key="bench-key", base_url="http://127.0.0.1:9") as client:
        for k in READING_STATES:
            _answering(client, _decoded_answer(k, seed=k))
            calls = max(3, 20_000 >> k)

            async def single(calls: int = calls) -> None:
                for _ in range(calls):
                    await client._probabilities("bench-job", num_qubits=QUBITS)

            timings = [await _acpu_ms(single) for _ in range(repeats)]
            figures[f"1 distribution, 2^{k} states"] = statistics.median(timings) * 1e3 / calls
        for children, k in READING_CHILDREN:
            _answering(
                client,
                {f"child-{index:06d}": _decoded_answer(k, index, k) for index in range(children)},
            )

            async def packed(k: int = k) -> None:
                by_child = await client._child_probabilities("bench-parent")
                for child, answer in by_child.items():
                    assert not isinstance(answer, Exception)
                    validate_probabilities(answer, num_qubits=k, job_id=child)

            timings = [await _acpu_ms(packed) for _ in range(repeats)]
            figures[f"{children:,} children x 2^{k} states"] = (
                statistics.median(timings) * 1e3 / children
            )
    return figures


def reading(repeats: int) -> dict[str, float]:
    """Print and return the µs of client CPU per distribution read after decoding."""
    print(
        "\n  Q: what does reading a decoded answer cost the client? (us of CPU per "
        f"distribution, median of {repeats}; Client._probabilities, or "
        "_child_probabilities and each child's check)"
    )
    figures = asyncio.run(_reading_figures(repeats))
    for name, micros in figures.items():
        print(f"  {name:<34}{micros:>12,.1f} us", flush=True)
    return figures


def _cut(before: float, after: float) -> str:
    return f"{(1 - after / before) * 100:5.1f} %" if before > 0 else "  -"


def _row(figures: dict[str, float]) -> str:
    """ms with json, the candidate and bare orjson, then the cuts of the latter two."""
    before = figures["json"]
    candidate, bare = figures.get("candidate", before), figures.get("bare", before)
    return (
        f"{before:>9.2f}{candidate:>11.2f}{bare:>9.2f}   "
        f"{_cut(before, candidate)}  {_cut(before, bare)}"
    )


_HEADER = f"{'answer':<26}{'json':>9}{'candidate':>11}{'bare':>9}   cut      (bare)"


def main(quick: bool = True, reading_only: bool = False) -> dict[str, Any]:
    """Run the benchmark; print and return the figures."""
    mode = QUICK if quick else FULL
    figures: dict[str, Any] = {} if reading_only else asyncio.run(_main(mode))
    figures["reading_us"] = reading(mode["reading_repeats"])
    return figures


async def _main(mode: dict[str, Any]) -> dict[str, Any]:
    backends = ["json"] + (["candidate", "bare"] if orjson is not None else [])
    if orjson is None:
        print("  orjson is not installed (pip install orjson): json figures only")
    figures: dict[str, Any] = {"backends": backends, "cases": {}}
    with _emulator_process() as (url, api_key):
        async with Client(api_key=api_key, base_url=url) as client:
            print("  preparing answers on the emulator (child process)...", flush=True)
            cases = await _cases(client, url, api_key, mode)
            if orjson is not None:
                differ = _disagreements([case.raw for case in cases])
                figures["disagreements"] = differ
                print(
                    f"  the candidate reads {len(EDGE_CASES)} edge cases and every answer "
                    "as json does (same value, same error): "
                    + ("yes" if not differ else f"NO: {', '.join(differ)}")
                )
            print(
                f"\n  Q: does orjson cut the CPU of decoding an answer? (ms, median of "
                f"{mode['decode_repeats']}; 'read' is the rest of reading it, either way)"
            )
            print(f"  {_HEADER}   read     states     KiB")
            for case in cases:
                decode = _decode_figures(case, mode["decode_repeats"])
                figures["cases"][case.name] = {"decode": decode}
                print(
                    f"  {case.name:<26}{_row(decode)}{decode['read']:>9.2f}"
                    f"{decode['states']:>11,.0f}{decode['kb']:>8,.0f}",
                    flush=True,
                )
            print(
                "\n  Q: does orjson cut the client's CPU per fetch of the answer? (ms, "
                "client.probabilities / aggregated_probabilities over loopback, median of "
                f"{mode['fetch_repeats']})"
            )
            print(f"  {_HEADER}")
            for case in cases:
                fetch = await _interleaved(
                    backends,
                    _repeats(case, mode["fetch_repeats"]),
                    functools.partial(case.fetch, client),
                )
                figures["cases"][case.name]["fetch"] = fetch
                print(f"  {case.name:<26}{_row(fetch)}", flush=True)
            print(
                "\n  Q: does orjson cut the client's CPU per job? (ms, client.run of a "
                f"1-circuit job: submit, wait, fetch, check; median of {mode['jobs']} jobs)"
            )
            print(f"  {_HEADER}")
            for k in mode["single"]:
                name = f"1 circuit, 2^{k} states"
                circuit = _ry_circuit(k, seed=k)
                job = await _interleaved(
                    backends,
                    mode["jobs"],
                    functools.partial(client.run, circuit, shots=1000),
                )
                figures["cases"][name]["job"] = job
                print(f"  {name:<26}{_row(job)}", flush=True)
    return figures


def _cli() -> None:
    if sys.argv[1:] == ["--serve-emulator"]:
        asyncio.run(_serve_emulator())
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the README figures (slower)")
    parser.add_argument("--quick", action="store_true", help="quick mode (the default)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument(
        "--reading", action="store_true", help="only the reading of decoded answers"
    )
    args = parser.parse_args()
    figures = main(quick=not args.full, reading_only=args.reading)
    if args.json:
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    _cli()
