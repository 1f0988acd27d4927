"""Pricing a batch before sending it: one estimate per distinct job shape, packing respected.

Unit tests use a fake ``estimate`` (the signature of ``Client.estimate``) that prices as the
emulator does and records each call; the integration tests price against the emulator over
loopback and compare with the prices of the same jobs submitted as dry runs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from _aioresponses_compat import MockedAPI

from ionq_async._batch.pricing import (
    BatchEstimate,
    JobShape,
    Pricer,
    check_budget,
    estimate_batch,
    is_free_backend,
    unit_shape,
)
from ionq_async._batch.values import PackLimits
from ionq_async._retry import RetryPolicy
from ionq_async.circuits import Circuit
from ionq_async.client import Client
from ionq_async.emulator import Emulator, EmulatorConfig
from ionq_async.exceptions import (
    BudgetExceededError,
    CircuitError,
    InvalidRequestError,
    IonQError,
    ResponseError,
    ServerError,
)
from ionq_async.models import Estimate, Money
from ionq_async.programs import Qasm3Program
from ionq_async.settings import ErrorMitigation, Settings

RATE_1Q = 0.00028
RATE_2Q = 0.0023
MINIMUM = 97.5
DEBIASING_FACTOR = 1.5  # the fake's price of error mitigation


class FakeEstimate:
    """Prices like the emulator (per gate-shot, a per-job minimum); records every call."""

    def __init__(self, *, unit: str = "usd", fail: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.unit = unit
        self.fail = fail
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(
        self,
        *,
        backend: str,
        qubits: int | None = None,
        shots: int | None = None,
        one_qubit_gates: int | None = None,
        two_qubit_gates: int | None = None,
        error_mitigation: bool | None = None,
        type: str | None = None,
    ) -> Estimate:
        self.calls.append(
            {
                "backend": backend,
                "type": type,
                "qubits": qubits,
                "shots": shots,
                "one_qubit_gates": one_qubit_gates,
                "two_qubit_gates": two_qubit_gates,
                "error_mitigation": error_mitigation,
            }
        )
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            for _ in range(3):
                await anyio.lowlevel.checkpoint()
            if self.fail is not None:
                raise self.fail
        finally:
            self.in_flight -= 1
        assert shots is not None
        price = shots * ((one_qubit_gates or 0) * RATE_1Q + (two_qubit_gates or 0) * RATE_2Q)
        if error_mitigation:
            price *= DEBIASING_FACTOR
        return Estimate(
            estimated_total_cost=round(max(price, MINIMUM), 2),
            estimated_unit=self.unit,
            rate_card={"id": "r", "rates": [{"cost_1q_gate": RATE_1Q, "cost_2q_gate": RATE_2Q}]},
        )


def small(width: int = 2) -> Circuit:
    circuit = Circuit(qubits=width).h(0)
    for qubit in range(1, width):
        circuit.cnot(0, qubit)
    return circuit


def big(two_qubit_gates: int = 100) -> Circuit:
    circuit = Circuit(qubits=2)
    for _ in range(two_qubit_gates):
        circuit.cnot(0, 1)
    return circuit


async def test_one_estimate_per_distinct_shape_not_per_circuit() -> None:
    fake = FakeEstimate()
    circuits = [small(2)] * 10 + [small(3)] * 5
    estimate = await estimate_batch(fake, circuits, backend="qpu.forte-1", shots=100)
    assert len(fake.calls) == 2
    assert estimate.requests == 2
    assert estimate.total == pytest.approx(15 * MINIMUM)
    assert estimate.currency == "usd"
    assert [(s.shape.qubits, s.jobs) for s in estimate.shapes] == [(2, 10), (3, 5)]
    assert len(estimate.jobs) == 15
    assert estimate.per_circuit() == [MINIMUM] * 15


async def test_the_shape_asked_is_the_jobs_exact_size_and_options() -> None:
    fake = FakeEstimate()
    await estimate_batch(fake, [small(3)], backend="qpu.forte-1", shots=700, debiasing=False)
    assert fake.calls == [
        {
            "backend": "qpu.forte-1",
            "type": "ionq.circuit.v1",
            "qubits": 3,
            "shots": 700,
            "one_qubit_gates": 1,
            "two_qubit_gates": 2,
            "error_mitigation": False,
        }
    ]


async def test_no_shots_asks_for_the_apis_default_of_100_not_the_estimates_1000() -> None:
    fake = FakeEstimate()
    estimate = await estimate_batch(fake, [small()], backend="qpu.forte-1")
    assert fake.calls[0]["shots"] == 100
    assert fake.calls[0]["error_mitigation"] is None  # left to the API
    assert estimate.shots == 100


async def test_a_packed_batch_is_priced_as_the_multi_circuit_jobs_it_sends() -> None:
    fake = FakeEstimate()
    circuits = [small(2)] * 5 + [small(3)] * 5
    estimate = await estimate_batch(
        fake, circuits, backend="qpu.forte-1", shots=100, pack=PackLimits(max_circuits=4)
    )
    assert [job.indices for job in estimate.jobs] == [(0, 1, 2, 3), (4, 5, 6, 7), (8, 9)]
    assert [job.shape.type for job in estimate.jobs] == ["ionq.multi-circuit.v1"] * 3
    # Widest circuit, gates summed: the pack of 2- and 3-qubit circuits is 3 qubits wide.
    assert [(j.shape.qubits, j.shape.two_qubit_gates) for j in estimate.jobs] == [
        (2, 4),
        (3, 7),
        (3, 4),
    ]
    assert len(fake.calls) == 3
    # Three jobs, each at the minimum: far less than ten jobs at the minimum.
    assert estimate.total == pytest.approx(3 * MINIMUM)
    assert sum(estimate.per_circuit()) == pytest.approx(estimate.total)


async def test_identical_packs_share_one_estimate() -> None:
    fake = FakeEstimate()
    estimate = await estimate_batch(
        fake, [small()] * 12, backend="qpu.forte-1", shots=100, pack=PackLimits(max_circuits=4)
    )
    assert len(estimate.jobs) == 3
    assert len(fake.calls) == 1
    assert estimate.shapes[0].jobs == 3


async def test_a_pack_of_one_is_a_single_circuit_job() -> None:
    fake = FakeEstimate()
    estimate = await estimate_batch(fake, [small()], backend="qpu.forte-1", pack=True)
    assert estimate.jobs[0].shape.type == "ionq.circuit.v1"


async def test_a_packed_jobs_price_is_shared_by_gate_cost() -> None:
    fake = FakeEstimate()
    circuits = [big(100), big(300)]
    estimate = await estimate_batch(fake, circuits, backend="qpu.forte-1", shots=1000, pack=True)
    total = 1000 * 400 * RATE_2Q
    assert estimate.total == pytest.approx(total)
    assert estimate.per_circuit() == pytest.approx([total / 4, 3 * total / 4])


async def test_the_simulator_costs_nothing_and_asks_nothing() -> None:
    fake = FakeEstimate()
    estimate = await estimate_batch(fake, [small()] * 3, backend="simulator", shots=1000)
    assert fake.calls == []
    assert estimate.total == 0
    assert estimate.free
    assert estimate.currency is None
    assert estimate.per_circuit() == [0.0, 0.0, 0.0]
    check_budget(estimate, 0)  # a free batch passes any budget


async def test_a_dry_run_costs_nothing_and_asks_nothing() -> None:
    fake = FakeEstimate()
    estimate = await estimate_batch(fake, [small()], backend="qpu.forte-1", dry_run=True)
    assert fake.calls == []
    assert estimate.total == 0


def test_only_qpus_cost_money() -> None:
    assert is_free_backend("simulator")
    assert not is_free_backend("qpu.forte-1")


async def test_debiasing_is_priced_and_what_it_adds_is_said() -> None:
    fake = FakeEstimate()
    estimate = await estimate_batch(
        fake, [big(100)] * 2, backend="qpu.forte-1", shots=1000, debiasing=True
    )
    plain = 1000 * 100 * RATE_2Q
    assert estimate.debiasing
    assert estimate.total == pytest.approx(2 * plain * DEBIASING_FACTOR)
    assert estimate.without_mitigation == pytest.approx(2 * plain)
    assert estimate.mitigation_extra == pytest.approx(2 * plain * (DEBIASING_FACTOR - 1))
    assert estimate.raised_by == ("debiasing",)
    assert sorted(call["error_mitigation"] for call in fake.calls) == [False, True]


async def test_debiasing_in_typed_settings_counts_too() -> None:
    fake = FakeEstimate()
    settings = Settings(error_mitigation=ErrorMitigation(debiasing=True))
    estimate = await estimate_batch(
        fake, [small()], backend="qpu.forte-1", shots=500, settings=settings
    )
    assert estimate.debiasing
    assert {call["error_mitigation"] for call in fake.calls} == {True, False}
    # At the minimum either way: debiasing raised nothing here.
    assert estimate.raised_by == ()


async def test_debiasing_under_500_shots_is_refused_before_any_request() -> None:
    fake = FakeEstimate()
    with pytest.raises(InvalidRequestError, match="debiasing needs at least 500 shots"):
        await estimate_batch(fake, [small()], backend="qpu.forte-1", shots=100, debiasing=True)
    assert fake.calls == []


async def test_an_unknown_option_is_a_type_error_naming_the_closest() -> None:
    fake = FakeEstimate()
    with pytest.raises(TypeError, match=r"'shot'; did you mean 'shots'"):
        await estimate_batch(fake, [small()], backend="qpu.forte-1", shot=100)
    with pytest.raises(TypeError, match="'noise_modle'; did you mean 'noise_model'"):
        await estimate_batch(fake, [small()], backend="qpu.forte-1", noise_modle="aria-1")


async def test_a_bad_backend_or_shots_is_refused_before_any_request() -> None:
    fake = FakeEstimate()
    with pytest.raises(InvalidRequestError, match=r"did you mean 'qpu\.forte-1'"):
        await estimate_batch(fake, [small()], backend="qpu.forte1")
    with pytest.raises(InvalidRequestError, match="shots must be an integer between 1"):
        await estimate_batch(fake, [small()], backend="qpu.forte-1", shots=0)
    with pytest.raises(InvalidRequestError, match="noise models apply to the simulator only"):
        await estimate_batch(fake, [small()], backend="qpu.forte-1", noise_model="aria-1")
    assert fake.calls == []


async def test_a_circuit_that_cannot_be_sent_costs_nothing_and_says_why() -> None:
    fake = FakeEstimate()
    bad = {"gateset": "qis", "qubits": 2, "circuit": [{"gate": "h", "target": 5}]}
    for pack in (False, True):
        estimate = await estimate_batch(
            fake, [small(), bad, small()], backend="qpu.forte-1", pack=pack
        )
        assert [c.index for c in estimate.refused] == [1]
        assert isinstance(estimate.refused[0].error, CircuitError)
        assert estimate.circuits[1].cost == 0
        assert estimate.circuits[1].job is None
        assert [i for job in estimate.jobs for i in job.indices] == [0, 2]


async def test_an_openqasm3_program_is_priced_without_gates_and_marked_approximate() -> None:
    fake = FakeEstimate()
    program = Qasm3Program(source="OPENQASM 3.0; qubit[3] q; h q[0];", num_qubits=3)
    estimate = await estimate_batch(fake, [program], backend="qpu.forte-1")
    assert fake.calls[0]["type"] == "ionq.qasm3.v1"
    assert fake.calls[0]["qubits"] == 3
    assert fake.calls[0]["one_qubit_gates"] is None
    assert estimate.approximate == (0,)
    # Packing cannot hold a program: refused there, as the engine refuses it.
    packed = await estimate_batch(fake, [program], backend="qpu.forte-1", pack=True)
    assert [c.index for c in packed.refused] == [0]


async def test_api_json_and_multi_circuit_inputs_are_priced_as_submit_sends_them() -> None:
    fake = FakeEstimate()
    multi = {"gateset": "qis", "circuits": [small(2).to_json(), small(4).to_json()]}
    estimate = await estimate_batch(
        fake, [small(2).to_json(), multi, [small(2), small(3)]], backend="qpu.forte-1"
    )
    assert [(j.shape.type, j.shape.qubits) for j in estimate.jobs] == [
        ("ionq.circuit.v1", 2),
        ("ionq.multi-circuit.v1", 4),
        ("ionq.multi-circuit.v1", 3),
    ]


async def test_an_async_iterable_is_read_whole() -> None:
    fake = FakeEstimate()

    async def circuits() -> AsyncIterator[Circuit]:
        for _ in range(4):
            yield small()

    estimate = await estimate_batch(fake, circuits(), backend="qpu.forte-1")
    assert len(estimate.jobs) == 4


async def test_requests_are_concurrent_but_bounded() -> None:
    fake = FakeEstimate()
    circuits = [small(width) for width in range(2, 22)]  # 20 distinct shapes
    estimate = await estimate_batch(fake, circuits, backend="qpu.forte-1", concurrency=3)
    assert len(fake.calls) == 20
    assert fake.most_in_flight == 3
    assert estimate.requests == 20


async def test_a_failed_estimate_is_raised_as_itself() -> None:
    failure = ServerError("boom", status=503)
    fake = FakeEstimate(fail=failure)
    with pytest.raises(ServerError) as caught:
        await estimate_batch(fake, [small(2), small(3)], backend="qpu.forte-1")
    assert caught.value is failure


async def test_an_estimate_without_a_cost_is_a_response_error() -> None:
    async def no_cost(**_: Any) -> Estimate:
        return Estimate(estimated_unit="usd")

    with pytest.raises(ResponseError, match="has no cost"):
        await estimate_batch(no_cost, [small()], backend="qpu.forte-1")


async def test_concurrent_prices_of_one_shape_share_one_request() -> None:
    fake = FakeEstimate()
    pricer = Pricer(fake)
    shape = JobShape(
        backend="qpu.forte-1",
        type="ionq.circuit.v1",
        qubits=2,
        shots=100,
        one_qubit_gates=1,
        two_qubit_gates=1,
    )
    results: list[float] = []

    async def price() -> None:
        results.append((await pricer.price(shape))[0])

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(price)
    assert results == [MINIMUM] * 5
    assert len(fake.calls) == 1


async def test_check_budget_raises_with_the_estimate_before_anything_is_sent() -> None:
    fake = FakeEstimate()
    estimate = await estimate_batch(fake, [small()] * 3, backend="qpu.forte-1")
    check_budget(estimate, 3 * MINIMUM)
    check_budget(estimate, Money(value=1000, unit="usd"))
    with pytest.raises(BudgetExceededError) as caught:
        check_budget(estimate, 200)
    error = caught.value
    assert isinstance(error, IonQError)
    assert error.estimate is estimate
    assert error.budget == 200
    assert "estimated cost 292.50 usd is over its budget of 200.00 usd (3 jobs)" in str(error)
    with pytest.raises(InvalidRequestError, match="max_cost is in 'credit'"):
        check_budget(estimate, Money(value=1000, unit="credit"))
    with pytest.raises(InvalidRequestError, match="max_cost must be a finite number"):
        check_budget(estimate, float("inf"))


async def test_credits_are_kept_as_the_currency() -> None:
    estimate = await estimate_batch(FakeEstimate(unit="credit"), [small()], backend="qpu.forte-1")
    assert estimate.currency == "credit"


# -- the exact request, and the emulator ------------------------------------------------

BASE = "https://api.ionq.co/v0.4"
SAMPLES = Path(__file__).parent / "samples"


def estimate_url(mitigation: str) -> str:
    query = "backend=qpu.forte-1&type=ionq.circuit.v1&qubits=3&shots=500&1q_gates=1&2q_gates=2"
    return f"{BASE}/jobs/estimate?{query}&error_mitigation={mitigation}"


async def test_the_estimate_requests_through_the_client_are_exact(mocked_api: MockedAPI) -> None:
    body = json.loads((SAMPLES / "estimates.json").read_text())["new"]
    mocked_api.get(estimate_url("true"), payload=body)
    mocked_api.get(estimate_url("false"), payload=body)
    async with Client(api_key="k-cost-test-1", retry=RetryPolicy.no_wait()) as client:
        estimate = await estimate_batch(
            client.estimate, [small(3)] * 4, backend="qpu.forte-1", shots=500, debiasing=True
        )
    sent = [
        (method, sorted(url.query.items()))
        for (method, url), calls in mocked_api.requests.items()
        for _ in calls
    ]
    expected = [
        ("qubits", "3"),
        ("shots", "500"),
        ("1q_gates", "1"),
        ("2q_gates", "2"),
        ("backend", "qpu.forte-1"),
        ("type", "ionq.circuit.v1"),
    ]
    assert sorted(sent) == [
        ("GET", sorted([*expected, ("error_mitigation", flag)])) for flag in ("false", "true")
    ]
    assert estimate.total == pytest.approx(4 * 97.5)
    assert estimate.requests == 2


@pytest.fixture
async def emulator_client() -> AsyncIterator[tuple[Emulator, Client]]:
    async with (
        Emulator(config=EmulatorConfig(time_scale=0.0)) as emu,
        Client(api_key=emu.api_key, base_url=emu.url, retry=RetryPolicy.no_wait()) as client,
    ):
        yield emu, client


async def _dry_run_prices(
    client: Client, estimate: BatchEstimate, circuits: list[Any]
) -> list[float]:
    """What the emulator charges for the same jobs, submitted as dry runs."""
    prices = []
    for job in estimate.jobs:
        members = [circuits[i] for i in job.indices]
        sent = members[0] if len(members) == 1 else members
        created = await client.submit(
            sent, backend=estimate.backend, shots=estimate.shots, dry_run=True
        )
        prices.append((await client.cost(created)).estimated_cost.value)
    return prices


@pytest.mark.parametrize("pack", [False, PackLimits(max_circuits=3)])
async def test_the_estimate_equals_the_sum_of_the_jobs_dry_run_prices(
    emulator_client: tuple[Emulator, Client], pack: bool | PackLimits
) -> None:
    emu, client = emulator_client
    circuits: list[Any] = [small(2), small(2), big(150), small(4), big(40), small(2), small(2)]
    emu.stats.reset()
    estimate = await estimate_batch(
        client.estimate, circuits, backend="qpu.forte-1", shots=1000, pack=pack
    )
    distinct = len({job.shape for job in estimate.jobs})
    assert emu.stats.requests("GET", "/v0.4/jobs/estimate") == distinct
    assert distinct < len(circuits)
    assert emu.stats.jobs_created == 0
    prices = await _dry_run_prices(client, estimate, circuits)
    assert [job.cost for job in estimate.jobs] == pytest.approx(prices, abs=0.01)
    assert estimate.total == pytest.approx(sum(prices), abs=0.01)


async def test_a_qiskit_circuit_is_priced_as_its_conversion(
    emulator_client: tuple[Emulator, Client],
) -> None:
    qiskit = pytest.importorskip("qiskit")
    _, client = emulator_client
    bell = qiskit.QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    converted = Circuit.from_qiskit(bell)
    ours = await estimate_batch(client.estimate, [converted], backend="qpu.forte-1", shots=5000)
    theirs = await estimate_batch(client.estimate, [bell], backend="qpu.forte-1", shots=5000)
    assert theirs.jobs[0].shape == ours.jobs[0].shape
    assert theirs.total == ours.total


async def test_a_unit_about_to_be_sent_is_priced_as_the_same_shape_as_its_estimate() -> None:
    fake = FakeEstimate()
    circuits = [small(2), small(3), small(2)]
    estimate = await estimate_batch(
        fake, circuits, backend="qpu.forte-1", shots=600, pack=PackLimits(max_circuits=2)
    )
    for job in estimate.jobs:
        shape = unit_shape(
            [circuits[i] for i in job.indices],
            backend="qpu.forte-1",
            shots=600,
            error_mitigation=None,
        )
        assert shape == job.shape
    pricer = Pricer(fake)
    calls = len(fake.calls)
    one = unit_shape([small(2)], backend="simulator", shots=None, error_mitigation=None)
    assert await pricer.price(one) == (0.0, None, None)
    assert len(fake.calls) == calls
