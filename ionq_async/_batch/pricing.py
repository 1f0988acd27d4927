"""A batch's price before it is sent: one estimate per distinct job shape, never per circuit.

:func:`estimate_batch` plans the jobs a ``run_many`` would create (one per circuit, or with
``pack=`` the multi-circuit jobs the engine's :class:`~ionq_async._batch.planning.Packer`
would make), groups them by shape (backend, job type, qubits, 1q and 2q gates, shots,
error mitigation) and asks ``GET /jobs/estimate`` once per shape, a few at a time. The
answer is a :class:`BatchEstimate`: the total, each job, each circuit's share, each shape,
and what debiasing added. Simulator jobs (and dry runs) cost nothing and ask nothing.

Written against :class:`EstimateFunction` (the signature of ``Client.estimate``), never the
client: the client passes its bound method. :class:`Pricer` is the reusable part (a cache
of prices per shape) that a running batch can use to price each job it is about to create.

A packed job is priced as the one job it is: its circuits' gates summed, its widest circuit's
qubits, type ``ionq.multi-circuit.v1``, and the per-job minimum once. An OpenQASM 3 program's
gates are not counted on this side: it is priced without gates (the job minimum) and listed
in :attr:`BatchEstimate.approximate`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import AsyncIterable, Awaitable, Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

import anyio
from attrs import field, frozen

from .._limits import CIRCUIT_TYPE, DEFAULT_SHOTS, MAX_SHOTS, MULTI_CIRCUIT_TYPE, QASM3_TYPE
from .._names import check_backend_name
from ..circuits import Circuit, circuits_from_multi_json
from ..exceptions import BudgetExceededError, InvalidRequestError, IonQError, ResponseError
from ..models import Estimate, Money
from ..programs import Qasm3Program
from ..settings import Settings, settings_json
from .planning import Item, Packer, as_circuit, convert_input, pack_size
from .values import PackLimits

__all__ = [
    "BatchEstimate",
    "CircuitPrice",
    "EstimateFunction",
    "JobPrice",
    "JobShape",
    "Pricer",
    "ShapePrice",
    "budget_amount",
    "check_budget",
    "estimate_batch",
    "is_free_backend",
    "unit_shape",
]

DEFAULT_ESTIMATE_CONCURRENCY: Final = 8
"""Estimate requests in flight at once (distinct shapes are few; this keeps bursts polite)."""

_NEUTRAL_OPTIONS: Final = frozenset({"name", "noise_model", "noise_seed", "metadata", "session_id"})
"""submit() options that do not change a job's price."""


class EstimateFunction(Protocol):
    """``Client.estimate``: ``GET /jobs/estimate`` for one job shape."""

    def __call__(
        self,
        *,
        backend: str,
        qubits: int | None = None,
        shots: int | None = None,
        one_qubit_gates: int | None = None,
        two_qubit_gates: int | None = None,
        error_mitigation: bool | None = None,
        type: str | None = None,
    ) -> Awaitable[Estimate]:
        """The estimate of one job of this shape."""
        ...


def is_free_backend(backend: str) -> bool:
    """Whether jobs on ``backend`` cost nothing (the simulator; every QPU is ``qpu.*``)."""
    return not backend.startswith("qpu.")


@frozen(kw_only=True)
class JobShape:
    """What the estimate endpoint prices: one job's backend, type, size, shots, mitigation.

    ``one_qubit_gates`` and ``two_qubit_gates`` are None when not counted (an OpenQASM 3
    program): the request then leaves them out. ``error_mitigation`` None leaves it out
    (the API's default applies).
    """

    backend: str
    type: str
    qubits: int
    shots: int
    one_qubit_gates: int | None
    two_qubit_gates: int | None
    error_mitigation: bool | None = None

    def query(self) -> dict[str, Any]:
        """The keywords of :class:`EstimateFunction` for this shape."""
        return {
            "backend": self.backend,
            "type": self.type,
            "qubits": self.qubits,
            "shots": self.shots,
            "one_qubit_gates": self.one_qubit_gates,
            "two_qubit_gates": self.two_qubit_gates,
            "error_mitigation": self.error_mitigation,
        }


@frozen(kw_only=True)
class ShapePrice:
    """One distinct shape: how many jobs have it, one job's price, and the estimate read."""

    shape: JobShape
    jobs: int
    cost: float
    estimate: Estimate | None = field(default=None, eq=False)

    @property
    def total(self) -> float:
        """The price of every job of this shape."""
        return self.cost * self.jobs


@frozen(kw_only=True)
class JobPrice:
    """One job the batch would create: its circuits (input positions), shape and price."""

    number: int
    indices: tuple[int, ...]
    shape: JobShape
    cost: float
    approximate: bool = False


@frozen(kw_only=True)
class CircuitPrice:
    """One circuit's share of its job's price (all of it when the job is its own).

    A packed job's price is shared by its circuits in proportion to their gate cost (the
    estimate's per-gate rates), equally when the estimate gives no rates. A circuit that
    cannot be sent (``error``) has no job and costs nothing.
    """

    index: int
    cost: float
    job: int | None = None
    approximate: bool = False
    error: Exception | None = field(default=None, eq=False)


@frozen(kw_only=True)
class BatchEstimate:
    """What a batch would cost: total, per job, per circuit, per shape, and why.

    ``total`` is in ``currency`` (``usd``; ``credit`` for organizations billed in credits;
    None when nothing was asked: a free batch). ``without_mitigation`` is the total with
    debiasing off, asked only when debiasing is on, so :attr:`mitigation_extra` says what
    it adds.
    """

    backend: str
    shots: int
    total: float
    currency: str | None
    jobs: tuple[JobPrice, ...]
    circuits: tuple[CircuitPrice, ...]
    shapes: tuple[ShapePrice, ...]
    debiasing: bool = False
    without_mitigation: float | None = None
    estimates: tuple[Estimate, ...] = field(default=(), eq=False)

    @property
    def free(self) -> bool:
        """True when no job costs anything (the simulator, a dry run, nothing to send)."""
        return self.total == 0 and not self.estimates

    @property
    def requests(self) -> int:
        """Estimate requests this took (one per distinct shape, twice with debiasing)."""
        return len(self.estimates)

    @property
    def mitigation_extra(self) -> float:
        """What debiasing adds to the total (0 when it is off or free)."""
        if self.without_mitigation is None:
            return 0.0
        return max(self.total - self.without_mitigation, 0.0)

    @property
    def raised_by(self) -> tuple[str, ...]:
        """The settings that raised the price: ``("debiasing",)`` or ``()``."""
        return ("debiasing",) if self.mitigation_extra > 0 else ()

    @property
    def refused(self) -> tuple[CircuitPrice, ...]:
        """Circuits that cannot be sent (their ``error``): no job, no cost."""
        return tuple(c for c in self.circuits if c.error is not None)

    @property
    def approximate(self) -> tuple[int, ...]:
        """Positions of circuits priced without gate counts (OpenQASM 3): lower bounds."""
        return tuple(c.index for c in self.circuits if c.approximate)

    def per_circuit(self) -> list[float]:
        """Each circuit's share, in input order."""
        return [c.cost for c in self.circuits]


def check_budget(estimate: BatchEstimate, max_cost: float | Money) -> None:
    """Raise BudgetExceededError if the batch's estimate is over ``max_cost``.

    ``max_cost`` is a number in the estimate's currency, or a :class:`Money` whose unit
    must match it. A free batch always passes.
    """
    budget, unit = budget_amount(max_cost)
    if estimate.total == 0:
        return
    if unit is not None and estimate.currency is not None and unit != estimate.currency:
        raise InvalidRequestError(
            f"max_cost is in {unit!r} but the estimate is in {estimate.currency!r}"
        )
    if estimate.total > budget + 1e-9:
        raise BudgetExceededError(budget, estimate=estimate)


def budget_amount(max_cost: float | Money) -> tuple[float, str | None]:
    unit: str | None = None
    value: object = max_cost
    if isinstance(max_cost, Money):
        value, unit = max_cost.value, max_cost.unit
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequestError(f"max_cost must be a finite number or a Money, got {max_cost!r}")
    if value < 0:
        raise InvalidRequestError(f"max_cost must be >= 0, got {value!r}")
    return float(value), unit


def _rates(estimate: Estimate | None) -> tuple[float, float] | None:
    """The per-gate rates (1q, 2q) an estimate names, in either of the API's shapes."""
    if estimate is None:
        return None
    candidates: list[Any] = [estimate.rate_information]
    if isinstance(estimate.rate_card, Mapping):
        rates = estimate.rate_card.get("rates")
        if isinstance(rates, list):
            candidates.extend(rates)
    for entry in candidates:
        if not isinstance(entry, Mapping):
            continue
        one, two = entry.get("cost_1q_gate"), entry.get("cost_2q_gate")
        if isinstance(one, int | float) and isinstance(two, int | float):
            return float(one), float(two)
    return None


class Pricer:
    """Prices jobs by shape through an :class:`EstimateFunction`, each shape asked once.

    Concurrent callers asking for the same shape share one request; at most
    ``concurrency`` requests are in flight. A running batch can keep one to price each job
    just before creating it (the budget check).
    """

    def __init__(
        self, estimate: EstimateFunction, *, concurrency: int = DEFAULT_ESTIMATE_CONCURRENCY
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InvalidRequestError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        self._estimate = estimate
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._answers: dict[JobShape, Estimate] = {}
        self._locks: dict[JobShape, anyio.Lock] = {}
        self.asked: list[Estimate] = []

    async def estimate(self, shape: JobShape) -> Estimate:
        """The estimate of one shape (asked once; later calls get the same answer)."""
        lock = self._locks.setdefault(shape, anyio.Lock())
        async with lock:
            answer = self._answers.get(shape)
            if answer is None:
                async with self._limiter:
                    answer = await self._estimate(**shape.query())
                if answer.total_cost is None:
                    raise ResponseError(f"the estimate of {shape} has no cost")
                if not (math.isfinite(answer.total_cost) and answer.total_cost >= 0):
                    # A NaN or negative price would slip past every budget check.
                    raise ResponseError(
                        f"the estimate of {shape} is {answer.total_cost!r}, "
                        "not a finite amount >= 0"
                    )
                self._answers[shape] = answer
                self.asked.append(answer)
        return answer

    async def price(self, shape: JobShape) -> tuple[float, str | None, Estimate | None]:
        """``(cost, unit, estimate)`` of one job of ``shape``; free backends ask nothing."""
        if is_free_backend(shape.backend):
            return 0.0, None, None
        answer = await self.estimate(shape)
        assert answer.total_cost is not None
        return float(answer.total_cost), answer.unit, answer


def unit_shape(
    sent: Sequence[Any], *, backend: str, shots: int | None, error_mitigation: bool | None
) -> JobShape:
    """The shape of one job the engine is about to create from a unit's inputs as sent
    (one: its own job; several: a multi-circuit job). For the running budget check:
    ``await pricer.price(unit_shape(...))`` just before creating it."""
    effective = DEFAULT_SHOTS if shots is None else shots
    if len(sent) == 1 and isinstance(sent[0], Qasm3Program):
        return JobShape(
            backend=backend,
            type=QASM3_TYPE,
            qubits=sent[0].num_qubits,
            shots=effective,
            one_qubit_gates=None,
            two_qubit_gates=None,
            error_mitigation=error_mitigation,
        )
    if len(sent) == 1:
        made = _job_circuits(sent[0])
        assert not isinstance(made, Qasm3Program)
        return _shape(backend, effective, error_mitigation, made)
    return _shape(backend, effective, error_mitigation, [as_circuit(member) for member in sent])


def _shape(
    backend: str,
    shots: int,
    mitigation: bool | None,
    circuits: Sequence[Circuit],
) -> JobShape:
    counts = [circuit.gate_counts() for circuit in circuits]
    return JobShape(
        backend=backend,
        type=CIRCUIT_TYPE if len(circuits) == 1 else MULTI_CIRCUIT_TYPE,
        qubits=max(circuit.num_qubits for circuit in circuits),
        shots=shots,
        one_qubit_gates=sum(one for one, _ in counts),
        two_qubit_gates=sum(two for _, two in counts),
        error_mitigation=mitigation,
    )


@frozen(kw_only=True)
class _Planned:
    indices: tuple[int, ...]
    shape: JobShape
    weights: tuple[tuple[int, int], ...]  # each circuit's (1q, 2q) gates
    approximate: bool = False


def _job_circuits(sent: Any) -> list[Circuit] | Qasm3Program:
    """What submit() would make of one unpacked item: its circuits, or an OpenQASM 3 job.

    Raises what submit() would raise for it (CircuitError, TypeError).
    """
    if isinstance(sent, Qasm3Program):
        return sent
    if isinstance(sent, Circuit):
        sent.validate()
        return [sent]
    if isinstance(sent, Mapping):
        if "circuits" in sent:
            return circuits_from_multi_json(sent)
        return [Circuit.from_json(sent)]
    if isinstance(sent, str | bytes) or not isinstance(sent, Sequence):
        raise TypeError(f"cannot submit a {type(sent).__name__} as a circuit")
    members = [convert_input(member) for member in sent]
    for position, member in enumerate(members):
        if not isinstance(member, Circuit):
            raise TypeError(
                f"a multi-circuit job holds circuits; item {position} is {type(member).__name__}"
            )
        member.validate()
    return members


async def _read_all(circuits: Iterable[Any] | AsyncIterable[Any]) -> list[Any]:
    if isinstance(circuits, AsyncIterable):
        return [circuit async for circuit in circuits]
    if isinstance(circuits, Iterable) and not isinstance(circuits, str | bytes | Mapping):
        return list(circuits)
    raise TypeError(
        f"circuits must be an iterable or an async iterable, got {type(circuits).__name__}"
    )


def _plan(
    raw: Sequence[Any],
    *,
    backend: str,
    shots: int,
    mitigation: bool | None,
    pack: PackLimits | None,
) -> tuple[list[_Planned], dict[int, Exception]]:
    """The jobs the engine would create for ``raw``, and the circuits it would refuse."""
    planned: list[_Planned] = []
    refused: dict[int, Exception] = {}

    def add(indices: tuple[int, ...], circuits: Sequence[Circuit]) -> None:
        planned.append(
            _Planned(
                indices=indices,
                shape=_shape(backend, shots, mitigation, circuits),
                weights=tuple(circuit.gate_counts() for circuit in circuits),
            )
        )

    if pack is None:
        for index, circuit in enumerate(raw):
            try:
                made = _job_circuits(convert_input(circuit))
            except (IonQError, TypeError, ValueError) as error:
                refused[index] = error
                continue
            if isinstance(made, Qasm3Program):
                shape = JobShape(
                    backend=backend,
                    type=QASM3_TYPE,
                    qubits=made.num_qubits,
                    shots=shots,
                    one_qubit_gates=None,
                    two_qubit_gates=None,
                    error_mitigation=mitigation,
                )
                planned.append(
                    _Planned(indices=(index,), shape=shape, weights=((0, 0),), approximate=True)
                )
            else:
                add((index,), made)
        return planned, refused

    # As the engine packs: consecutive valid circuits, greedily; a bad one is left out.
    packer = Packer(pack)
    parsed: dict[int, Circuit] = {}

    def add_pack(items: list[Item] | None) -> None:
        if items:
            add(tuple(item.index for item in items), [parsed.pop(item.index) for item in items])

    for index, circuit in enumerate(raw):
        item = Item(index, circuit, convert_input(circuit))
        try:
            packable = as_circuit(item.sent)
            packable.validate()
        except IonQError as error:
            refused[index] = error
            continue
        parsed[index] = packable
        add_pack(packer.add(item, pack_size(packable)))
    add_pack(packer.flush())
    return planned, refused


def _shares(job: _Planned, cost: float, estimate: Estimate | None) -> list[float]:
    if len(job.indices) == 1:
        return [cost]
    rates = _rates(estimate)
    weights = [0.0] * len(job.indices)
    if rates is not None:
        weights = [one * rates[0] + two * rates[1] for one, two in job.weights]
    total = sum(weights)
    if total <= 0:
        return [cost / len(job.indices)] * len(job.indices)
    return [cost * weight / total for weight in weights]


def _check_options(options: Mapping[str, Any]) -> None:
    known = sorted({*_NEUTRAL_OPTIONS, "debiasing", "settings", "dry_run"})
    named = [*known, "backend", "shots", "pack", "concurrency", "compare_mitigation"]
    for name in options:
        if name not in known:
            close = difflib.get_close_matches(name, named, n=2)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise TypeError(
                f"estimate_batch() got an unexpected option {name!r}{hint} "
                f"(the options of submit(): {', '.join(known)})"
            )


def _check_shots(shots: object) -> int:
    if shots is None:
        return DEFAULT_SHOTS
    if isinstance(shots, bool) or not isinstance(shots, int) or not 1 <= shots <= MAX_SHOTS:
        raise InvalidRequestError(
            f"shots must be an integer between 1 and {MAX_SHOTS:,}, got {shots!r}"
        )
    return shots


async def estimate_batch(
    estimate: EstimateFunction,
    circuits: Iterable[Any] | AsyncIterable[Any],
    *,
    backend: str = "simulator",
    shots: int | None = None,
    pack: bool | PackLimits = False,
    debiasing: bool | None = None,
    settings: Settings | Mapping[str, Any] | None = None,
    dry_run: bool = False,
    concurrency: int = DEFAULT_ESTIMATE_CONCURRENCY,
    compare_mitigation: bool = True,
    pricer: Pricer | None = None,
    **options: Any,
) -> BatchEstimate:
    """Price a batch as ``run_many(circuits, backend=..., shots=..., pack=..., ...)`` would
    create it, asking ``estimate`` once per distinct job shape (``concurrency`` at a time).

    ``circuits`` takes what run_many takes (ours, API JSON, Qiskit, Cirq, OpenQASM); it is
    read whole, so pass a list (a generator is consumed). The options are submit()'s and
    are checked as submit() checks them (an unknown one is a TypeError; debiasing under 500
    shots an InvalidRequestError). With debiasing on, the same shapes are also priced
    without it (``compare_mitigation``) to say what it adds. Simulator jobs and dry runs
    cost nothing and send no request.
    """
    _check_options(options)
    backend = check_backend_name(backend)
    effective_shots = _check_shots(shots)
    wire_settings = settings_json(settings, shots=shots, debiasing=debiasing)
    mitigation_json = (wire_settings or {}).get("error_mitigation", {})
    mitigation: bool | None = None
    if "debiasing" in mitigation_json:
        mitigation = mitigation_json["debiasing"] is not False
    if not isinstance(dry_run, bool):
        raise InvalidRequestError(f"dry_run must be True or False, got {dry_run!r}")
    noisy = options.get("noise_model") is not None or options.get("noise_seed") is not None
    if noisy and backend != "simulator":
        raise InvalidRequestError(
            f"noise models apply to the simulator only, not to backend {backend!r}"
        )
    limits = PackLimits() if pack is True else (pack or None)
    if limits is not None and not isinstance(limits, PackLimits):
        raise InvalidRequestError(f"pack must be True, False or a PackLimits, got {pack!r}")
    raw = await _read_all(circuits)
    planned, refused = _plan(
        raw, backend=backend, shots=effective_shots, mitigation=mitigation, pack=limits
    )
    free = dry_run or is_free_backend(backend)
    # A running batch passes its own pricer: the shapes priced here are not asked again
    # when each job is priced just before it is created.
    pricer = pricer if pricer is not None else Pricer(estimate, concurrency=concurrency)
    shapes = list(dict.fromkeys(job.shape for job in planned))
    compare = compare_mitigation and mitigation is True and not free
    plain = {shape: _without_mitigation(shape) for shape in shapes} if compare else {}
    prices: dict[JobShape, tuple[float, str | None, Estimate | None]] = {}
    if not free:
        await _price_all(pricer, [*shapes, *dict.fromkeys(plain.values())], prices)
    units = {unit for _, unit, _ in prices.values() if unit is not None}
    if len(units) > 1:
        raise ResponseError(f"estimates came back in different units: {sorted(units)}")

    def cost_of(shape: JobShape) -> tuple[float, Estimate | None]:
        if free:
            return 0.0, None
        cost, _, answer = prices[shape]
        return cost, answer

    jobs: list[JobPrice] = []
    shares: dict[int, CircuitPrice] = {}
    for number, job in enumerate(planned):
        cost, answer = cost_of(job.shape)
        jobs.append(
            JobPrice(
                number=number,
                indices=job.indices,
                shape=job.shape,
                cost=cost,
                approximate=job.approximate,
            )
        )
        for index, share in zip(job.indices, _shares(job, cost, answer), strict=True):
            shares[index] = CircuitPrice(
                index=index, cost=share, job=number, approximate=job.approximate
            )
    for index, error in refused.items():
        shares[index] = CircuitPrice(index=index, cost=0.0, error=error)
    counts: dict[JobShape, int] = {}
    for job in planned:
        counts[job.shape] = counts.get(job.shape, 0) + 1
    shape_prices = tuple(
        ShapePrice(
            shape=shape, jobs=counts[shape], cost=cost_of(shape)[0], estimate=cost_of(shape)[1]
        )
        for shape in shapes
    )
    total = sum(job.cost for job in jobs)
    without = None
    if compare:
        without = sum(prices[plain[job.shape]][0] for job in planned)
    return BatchEstimate(
        backend=backend,
        shots=effective_shots,
        total=total,
        currency=next(iter(units), None),
        jobs=tuple(jobs),
        circuits=tuple(shares[index] for index in sorted(shares)),
        shapes=shape_prices,
        debiasing=mitigation is True,
        without_mitigation=without,
        estimates=tuple(pricer.asked),
    )


def _without_mitigation(shape: JobShape) -> JobShape:
    return JobShape(
        backend=shape.backend,
        type=shape.type,
        qubits=shape.qubits,
        shots=shape.shots,
        one_qubit_gates=shape.one_qubit_gates,
        two_qubit_gates=shape.two_qubit_gates,
        error_mitigation=False,
    )


async def _price_all(
    pricer: Pricer,
    shapes: Sequence[JobShape],
    prices: dict[JobShape, tuple[float, str | None, Estimate | None]],
) -> None:
    """Price every shape, ``pricer``'s concurrency at a time; the first error is raised
    as itself (the other requests are cancelled)."""
    errors: list[BaseException] = []

    async def one(shape: JobShape, scope: anyio.CancelScope) -> None:
        try:
            prices[shape] = await pricer.price(shape)
        except Exception as error:
            errors.append(error)
            scope.cancel()

    async with anyio.create_task_group() as group:
        for shape in shapes:
            group.start_soon(one, shape, group.cancel_scope)
    if errors:
        raise errors[0]
