"""NumPy state-vector simulation of IonQ circuits, ideal and with depolarizing noise.

Conventions follow the API: qubit 0 is the least significant bit of a basis-state
integer; qis rotations are in radians, native phases and angles in turns. Every
function here is pure (no shared mutable state), so the emulator may call them from
worker threads; NumPy releases the GIL inside the large contractions.

How a circuit runs: gates are compiled to small dense matrices, consecutive gates are
fused greedily into blocks of at most ``_FUSION_WIDTH`` qubits, and each block is
contracted into the state with ``np.tensordot``. The state stays a ``(2,) * n`` tensor
whose axis order is tracked lazily (a contraction leaves its qubits in front), so no
``2**n x 2**n`` matrix is ever built and most gates cost one pass over the state.

Matrix conventions (api notes §5.1, §5.2): ``rx(θ) = exp(-iθX/2)`` and likewise ``ry``,
``rz``; ``xx(θ) = exp(-iθ X⊗X/2)`` and likewise ``yy``, ``zz``; ``z`` with a rotation is
the phase gate ``diag(1, e^{iθ})``; GPI, GPI2, MS and the native ZZ as in the notes,
with MS phase ``phases[0]`` acting on ``targets[0]``; ``pauliexp`` is
``exp(-i t Σ c_k P_k)`` with the last character of each term acting on ``targets[0]``.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Sequence
from typing import ClassVar, Final, NamedTuple, SupportsFloat

import attrs
import numpy as np
import numpy.typing as npt
from attrs import field, frozen

from ionq_async.circuits import Gate

__all__ = [
    "MAX_QUBITS",
    "NOISE_MODELS",
    "DepolarizingRates",
    "InvalidCircuitError",
    "SimulationError",
    "TooManyQubitsError",
    "UnknownNoiseModelError",
    "UnsupportedGateError",
    "canonical_noise_model",
    "gate_matrices",
    "ideal_probabilities",
    "noise_model_for_backend",
    "noisy_histogram",
    "simulate_statevector",
]

ComplexArray = npt.NDArray[np.complex128]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------- errors


class SimulationError(ValueError):
    """A circuit the simulator cannot run; the emulator fails the job with ``failure_code``."""

    failure_code: ClassVar[str] = "SimulationError"


class InvalidCircuitError(SimulationError):
    """A gate is malformed: a missing parameter, a bad qubit index, a wrong target count."""

    failure_code: ClassVar[str] = "InvalidInput"


class UnsupportedGateError(SimulationError):
    """A gate name that the circuit's gateset does not define."""

    failure_code: ClassVar[str] = "UnsupportedGate"


class TooManyQubitsError(SimulationError):
    """More qubits than the simulator or noise model allows (api notes §5.3)."""

    failure_code: ClassVar[str] = "NotEnoughQubits"


class UnknownNoiseModelError(SimulationError):
    """A noise model name that is not in ``NOISE_MODELS``."""

    failure_code: ClassVar[str] = "InvalidInput"


# ---------------------------------------------------------------------- noise models


class DepolarizingRates(NamedTuple):
    """Probabilities of a random non-identity Pauli error after a 1-qubit and a 2-qubit gate."""

    one_qubit: float
    two_qubit: float


_ARIA_1 = DepolarizingRates(0.0005, 0.0133)
_ARIA_2 = DepolarizingRates(0.0006573333333333332, 0.01856)
_FORTE_1 = DepolarizingRates(0.0002666666666666667, 0.004949333333333333)
# IonQ documents that Harmony uses a different formula and publishes no rates; these
# are plausible figures for that generation (99.9% 1q, 98% 2q), not IonQ's model.
_HARMONY = DepolarizingRates(0.001, 0.02)

NOISE_MODELS: Final[dict[str, DepolarizingRates]] = {
    "ideal": DepolarizingRates(0.0, 0.0),
    "harmony": _HARMONY,
    "harmony-1": _HARMONY,
    "harmony-2": _HARMONY,
    "aria-1": _ARIA_1,
    "aria-2": _ARIA_2,
    "forte-1": _FORTE_1,
    "forte-enterprise-1": _FORTE_1,
}
"""Per-gate depolarizing rates by noise model name (api notes §7.3)."""

MAX_QUBITS: Final[dict[str, int]] = {
    "ideal": 29,
    "harmony": 11,
    "harmony-1": 11,
    "harmony-2": 11,
    "aria-1": 25,
    "aria-2": 25,
    "forte-1": 29,
    "forte-enterprise-1": 29,
}
"""Largest circuit each noise model simulates (api notes §5.3); ``ideal`` is the plain simulator."""

_CANONICAL_NOISE_MODEL: Final[dict[str, str]] = {
    "forte-enterprise-1": "forte-1",
    "harmony-1": "harmony",
    "harmony-2": "harmony",
}

_QPU_NOISE_MODEL: Final[dict[str, str]] = {
    "qpu.aria-1": "aria-1",
    "qpu.aria-2": "aria-2",
    "qpu.forte-1": "forte-1",
    "qpu.forte-enterprise-1": "forte-1",
    "qpu.harmony": "harmony",
    # No model is published for Tempo; Forte's is the closest generation.
    "qpu.tempo-1": "forte-1",
}


def canonical_noise_model(model: str) -> str:
    """The canonical name of a noise model (``forte-enterprise-1`` -> ``forte-1``)."""
    if model not in NOISE_MODELS:
        raise UnknownNoiseModelError(f"unknown noise model {model!r}")
    return _CANONICAL_NOISE_MODEL.get(model, model)


def noise_model_for_backend(backend: str) -> str | None:
    """The noise model that emulates a QPU backend, or None for the simulator and unknown names."""
    return _QPU_NOISE_MODEL.get(backend)


# ------------------------------------------------------------------- gate matrices

_SQRT_HALF: Final = 1.0 / math.sqrt(2.0)
_I2: Final[ComplexArray] = np.eye(2, dtype=np.complex128)
_X: Final[ComplexArray] = np.array([[0, 1], [1, 0]], dtype=np.complex128)
_Y: Final[ComplexArray] = np.array([[0, -1j], [1j, 0]], dtype=np.complex128)
_Z: Final[ComplexArray] = np.array([[1, 0], [0, -1]], dtype=np.complex128)
_PAULIS: Final[dict[str, ComplexArray]] = {"I": _I2, "X": _X, "Y": _Y, "Z": _Z}
_PAULI_BY_CODE: Final[tuple[ComplexArray, ...]] = (_I2, _X, _Y, _Z)

_FIXED_1Q: Final[dict[str, ComplexArray]] = {
    "x": _X,
    "not": _X,
    "cnot": _X,
    "y": _Y,
    "z": _Z,
    "h": np.array([[1, 1], [1, -1]], dtype=np.complex128) * _SQRT_HALF,
    "s": np.diag([1, 1j]).astype(np.complex128),
    "si": np.diag([1, -1j]).astype(np.complex128),
    "t": np.diag([1, np.exp(0.25j * np.pi)]).astype(np.complex128),
    "ti": np.diag([1, np.exp(-0.25j * np.pi)]).astype(np.complex128),
    "v": 0.5 * np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]], dtype=np.complex128),
    "vi": 0.5 * np.array([[1 - 1j, 1 + 1j], [1 + 1j, 1 - 1j]], dtype=np.complex128),
}
_SWAP: Final[ComplexArray] = np.eye(4, dtype=np.complex128)[[0, 2, 1, 3]]
# Shared by every thread and every compiled circuit: make accidental mutation an error.
for _constant in (_I2, _X, _Y, _Z, _SWAP, *_FIXED_1Q.values()):
    _constant.setflags(write=False)
_QIS_ROTATIONS: Final = frozenset({"rx", "ry", "rz", "xx", "yy", "zz"})
_QIS_GATES: Final = frozenset(_FIXED_1Q) | _QIS_ROTATIONS | {"swap", "pauliexp"}
_NATIVE_GATES: Final = frozenset({"gpi", "gpi2", "ms", "zz", "nop"})


def _kron(left: ComplexArray, right: ComplexArray) -> ComplexArray:
    """Kronecker product of two matrices; ``right`` supplies the low bits of the index."""
    # One broadcast multiply: np.kron's generic n-d path costs ~30 µs a call here.
    product = left[:, None, :, None] * right[None, :, None, :]
    rows = left.shape[0] * right.shape[0]
    return np.asarray(product.reshape(rows, -1), dtype=np.complex128)


def _pauli_rotation(pauli: ComplexArray, theta: float) -> ComplexArray:
    """exp(-iθP/2) for a Pauli product P (P² = I)."""
    identity = np.eye(pauli.shape[0], dtype=np.complex128)
    return math.cos(theta / 2) * identity - 1j * math.sin(theta / 2) * pauli


def _sigma(phase_turns: float) -> ComplexArray:
    """cos(2πφ)X + sin(2πφ)Y, the axis of the native gates."""
    angle = 2 * math.pi * phase_turns
    return math.cos(angle) * _X + math.sin(angle) * _Y


def _pauli_string(term: str) -> ComplexArray:
    """The matrix of a Pauli string whose last character is the least significant qubit."""
    matrix = np.ones((1, 1), dtype=np.complex128)
    for letter in term:
        matrix = _kron(matrix, _PAULIS[letter])
    return matrix


def _pauliexp(terms: Sequence[str], coefficients: Sequence[float], time: float) -> ComplexArray:
    """exp(-i·t·Σ c_k P_k) through the eigendecomposition of the Hermitian sum."""
    hamiltonian = np.zeros((2 ** len(terms[0]),) * 2, dtype=np.complex128)
    for term, coefficient in zip(terms, coefficients, strict=True):
        hamiltonian += coefficient * _pauli_string(term)
    eigenvalues, eigenvectors = np.linalg.eigh(hamiltonian)
    phases = np.exp(-1j * time * eigenvalues)
    result: ComplexArray = (eigenvectors * phases) @ eigenvectors.conj().T
    return result


# ----------------------------------------------------------------------- operations


@frozen(kw_only=True, eq=False)
class _Operation:
    """A compiled gate: a unitary on ``targets`` applied where all ``controls`` are 1.

    Bit j of the matrix's row and column index is qubit ``targets[j]``.
    """

    targets: tuple[int, ...]
    controls: tuple[int, ...] = ()
    matrix: ComplexArray = field(repr=False)

    @property
    def qubits(self) -> tuple[int, ...]:
        """Targets then controls."""
        return self.targets + self.controls

    def full_matrix(self) -> ComplexArray:
        """The unitary on ``qubits`` with the controls folded in (controls are the high bits)."""
        if not self.controls:
            return self.matrix
        size = 2 ** len(self.qubits)
        block = self.matrix.shape[0]
        full = np.eye(size, dtype=np.complex128)
        full[size - block :, size - block :] = self.matrix
        return full


def _describe(position: int, gate: Gate) -> str:
    return f"gate {position} ({gate.gate!r})"


def _number(value: SupportsFloat | None, name: str, position: int, gate: Gate) -> float:
    """A required finite numeric field of a gate."""
    if value is None:
        raise InvalidCircuitError(f"{_describe(position, gate)}: missing {name}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidCircuitError(f"{_describe(position, gate)}: {name} must be finite")
    return number


def _check_qubits(position: int, gate: Gate, num_qubits: int) -> None:
    qubits = gate.targets + gate.controls
    if not gate.targets:
        raise InvalidCircuitError(f"{_describe(position, gate)}: no targets")
    for qubit in qubits:
        if not 0 <= qubit < num_qubits:
            raise InvalidCircuitError(
                f"{_describe(position, gate)}: qubit {qubit} is outside 0..{num_qubits - 1}"
            )
    if len(set(qubits)) != len(qubits):
        raise InvalidCircuitError(f"{_describe(position, gate)}: a qubit is used twice")


def _two_targets(position: int, gate: Gate) -> None:
    if len(gate.targets) != 2:
        raise InvalidCircuitError(f"{_describe(position, gate)}: needs exactly two targets")


def _compile_qis(position: int, gate: Gate) -> list[_Operation]:
    name = gate.gate
    controls = gate.controls
    if name == "z" and gate.rotation is not None:
        # qiskit's encoding of p / cp / mcp: the phase gate, not rz.
        theta = _number(gate.rotation, "rotation", position, gate)
        matrix = np.diag([1.0, np.exp(1j * theta)]).astype(np.complex128)
        return [_Operation(targets=(t,), controls=controls, matrix=matrix) for t in gate.targets]
    if name in _FIXED_1Q:
        # A single-qubit gate listing several targets acts on each of them.
        matrix = _FIXED_1Q[name]
        return [_Operation(targets=(t,), controls=controls, matrix=matrix) for t in gate.targets]
    if name in ("rx", "ry", "rz"):
        theta = _number(gate.rotation, "rotation", position, gate)
        pauli = {"rx": _X, "ry": _Y, "rz": _Z}[name]
        matrix = _pauli_rotation(pauli, theta)
        return [_Operation(targets=(t,), controls=controls, matrix=matrix) for t in gate.targets]
    if name in ("xx", "yy", "zz"):
        _two_targets(position, gate)
        theta = _number(gate.rotation, "rotation", position, gate)
        single = {"xx": _X, "yy": _Y, "zz": _Z}[name]
        matrix = _pauli_rotation(_kron(single, single), theta)
        return [_Operation(targets=gate.targets, controls=controls, matrix=matrix)]
    if name == "swap":
        _two_targets(position, gate)
        return [_Operation(targets=gate.targets, controls=controls, matrix=_SWAP)]
    if name == "pauliexp":
        return [_compile_pauliexp(position, gate)]
    raise UnsupportedGateError(f"{_describe(position, gate)}: not a qis gate")


def _compile_pauliexp(position: int, gate: Gate) -> _Operation:
    terms = gate.terms
    coefficients = gate.coefficients
    if not terms or coefficients is None:
        raise InvalidCircuitError(f"{_describe(position, gate)}: needs terms and coefficients")
    if len(terms) != len(coefficients):
        raise InvalidCircuitError(
            f"{_describe(position, gate)}: {len(terms)} terms but {len(coefficients)} coefficients"
        )
    width = len(gate.targets)
    for term in terms:
        if len(term) != width or any(letter not in _PAULIS for letter in term):
            raise InvalidCircuitError(
                f"{_describe(position, gate)}: term {term!r} is not a Pauli string"
                f" of length {width}"
            )
    time = _number(gate.time, "time", position, gate)
    values = [_number(c, "coefficient", position, gate) for c in coefficients]
    matrix = _pauliexp(terms, values, time)
    return _Operation(targets=gate.targets, controls=gate.controls, matrix=matrix)


def _compile_native(position: int, gate: Gate) -> list[_Operation]:
    name = gate.gate
    controls = gate.controls
    if name == "nop":
        return []
    if name in ("gpi", "gpi2"):
        phase = _number(gate.phase, "phase", position, gate)
        sigma = _sigma(phase)
        matrix = sigma if name == "gpi" else (_I2 - 1j * sigma) * _SQRT_HALF
        return [_Operation(targets=(t,), controls=controls, matrix=matrix) for t in gate.targets]
    if name == "ms":
        _two_targets(position, gate)
        if gate.phases is None or len(gate.phases) != 2:
            raise InvalidCircuitError(f"{_describe(position, gate)}: needs two phases")
        phi0 = _number(gate.phases[0], "phases[0]", position, gate)
        phi1 = _number(gate.phases[1], "phases[1]", position, gate)
        theta = 0.25 if gate.angle is None else _number(gate.angle, "angle", position, gate)
        # targets[0] is the low bit of the matrix index, so σ(φ0) is the right factor.
        product = _kron(_sigma(phi1), _sigma(phi0))
        matrix = math.cos(math.pi * theta) * np.eye(4) - 1j * math.sin(math.pi * theta) * product
        return [_Operation(targets=gate.targets, controls=controls, matrix=matrix)]
    if name == "zz":
        _two_targets(position, gate)
        # Cirq sends the native zz angle as `phase`; accept either.
        raw = gate.angle if gate.angle is not None else gate.phase
        theta = _number(raw, "angle", position, gate)
        half = math.pi * theta
        matrix = np.diag(np.exp(1j * half * np.array([-1.0, 1.0, 1.0, -1.0])))
        return [_Operation(targets=gate.targets, controls=controls, matrix=matrix)]
    raise UnsupportedGateError(f"{_describe(position, gate)}: not a native gate")


def _compile(num_qubits: int, gates: Sequence[Gate], gateset: str) -> list[_Operation]:
    """Check every gate and turn it into operations, in circuit order."""
    if gateset not in ("qis", "native"):
        raise InvalidCircuitError(f"unknown gateset {gateset!r}")
    known = _QIS_GATES if gateset == "qis" else _NATIVE_GATES
    operations: list[_Operation] = []
    for position, gate in enumerate(gates):
        if gate.gate not in known:
            raise UnsupportedGateError(f"{_describe(position, gate)}: not in the {gateset} gateset")
        if type(gate.targets) is not tuple or type(gate.controls) is not tuple:
            # A parser that left lists behind must not break tuple concatenation below.
            gate = attrs.evolve(
                gate,
                targets=tuple(int(q) for q in gate.targets),
                controls=tuple(int(q) for q in gate.controls),
            )
        _check_qubits(position, gate, num_qubits)
        compile_one = _compile_qis if gateset == "qis" else _compile_native
        operations.extend(compile_one(position, gate))
    return operations


def gate_matrices(
    num_qubits: int, gate: Gate, gateset: str
) -> list[tuple[tuple[int, ...], tuple[int, ...], ComplexArray]]:
    """One gate as (targets, controls, unitary on the targets) triples, in order (bit j of
    the matrix index is ``targets[j]``); InvalidCircuitError/UnsupportedGateError as the
    simulation raises them."""
    return [(op.targets, op.controls, op.matrix) for op in _compile(num_qubits, [gate], gateset)]


def _check_size(num_qubits: int, limit_key: str) -> None:
    if num_qubits < 1:
        raise InvalidCircuitError("a circuit needs at least one qubit")
    limit = MAX_QUBITS[limit_key]
    if num_qubits > limit:
        raise TooManyQubitsError(
            f"{num_qubits} qubits is more than the {limit} the {limit_key} simulator allows"
        )


# --------------------------------------------------------------------------- fusion

_FUSION_WIDTH: Final = 5
"""Widest fused block: applying a 5-qubit matrix costs about what a 1-qubit one does."""

_FUSE_FROM_QUBITS: Final = 14
"""Below this size a gate is cheaper to apply than to fuse (fusing costs tens of µs a gate)."""


class _Block:
    """A growing fused unitary on ``qubits`` (bit j of its index is ``qubits[j]``)."""

    __slots__ = ("matrix", "qubits")

    def __init__(self, qubits: list[int], matrix: ComplexArray) -> None:
        self.qubits = qubits
        self.matrix = matrix

    def absorb(self, other: _Block) -> None:
        """Join a block on disjoint qubits (they commute, so order does not matter)."""
        self.matrix = _kron(other.matrix, self.matrix)
        self.qubits = self.qubits + other.qubits

    def widen(self, qubits: Sequence[int]) -> None:
        """Add idle qubits as new high bits."""
        extra = [q for q in qubits if q not in self.qubits]
        if extra:
            self.matrix = _kron(np.eye(2 ** len(extra), dtype=np.complex128), self.matrix)
            self.qubits = self.qubits + extra

    def apply(self, operation: _Operation) -> None:
        """Left-multiply by an operation whose qubits are all in the block."""
        positions = tuple(self.qubits.index(q) for q in operation.qubits)
        gate_index, same_rest = _embedding(len(self.qubits), positions)
        gate = operation.full_matrix()
        embedded = gate[gate_index[:, None], gate_index[None, :]] * same_rest
        self.matrix = embedded @ self.matrix


@functools.lru_cache(maxsize=4096)
def _embedding(width: int, positions: tuple[int, ...]) -> tuple[IntArray, FloatArray]:
    """Index maps that embed a gate on bit ``positions`` into a ``width``-bit block.

    The embedded matrix is ``gate[g[i], g[j]] * same[i, j]``: ``g`` reads the gate's
    bits out of a block index and ``same`` is 1 where the other bits agree.
    """
    index = np.arange(2**width, dtype=np.int64)
    gate_index = np.zeros_like(index)
    for bit, position in enumerate(positions):
        gate_index |= ((index >> position) & 1) << bit
    mask = sum(1 << position for position in positions)
    rest = index & ~mask
    same_rest = (rest[:, None] == rest[None, :]).astype(np.float64)
    gate_index.setflags(write=False)
    same_rest.setflags(write=False)
    return gate_index, same_rest


def _fuse(operations: Sequence[_Operation], max_width: int = _FUSION_WIDTH) -> list[_Operation]:
    """Merge consecutive operations into dense blocks of at most ``max_width`` qubits.

    Open blocks act on disjoint qubits, so they commute with each other; an operation
    joins (and merges) the open blocks it touches if the union stays narrow enough,
    otherwise those blocks are emitted first. Order on every qubit is preserved.
    """
    emitted: list[_Operation] = []
    open_blocks: dict[int, _Block] = {}

    def emit(block: _Block) -> None:
        for qubit in block.qubits:
            del open_blocks[qubit]
        emitted.append(_Operation(targets=tuple(block.qubits), matrix=block.matrix))

    for operation in operations:
        qubits = operation.qubits
        touched: list[_Block] = []
        for qubit in qubits:
            block = open_blocks.get(qubit)
            if block is not None and all(block is not seen for seen in touched):
                touched.append(block)
        if len(qubits) > max_width:
            for block in touched:
                emit(block)
            emitted.append(operation)
            continue
        union = set(qubits).union(*(block.qubits for block in touched))
        if len(union) > max_width:
            for block in touched:
                emit(block)
            touched = []
        if touched:
            merged = touched[0]
            for block in touched[1:]:
                merged.absorb(block)
        else:
            merged = _Block(list(qubits), np.eye(2 ** len(qubits), dtype=np.complex128))
        merged.widen(qubits)
        merged.apply(operation)
        for qubit in merged.qubits:
            open_blocks[qubit] = merged
    remaining: list[_Block] = []
    for block in open_blocks.values():
        if all(block is not seen for seen in remaining):
            remaining.append(block)
    for block in remaining:
        emit(block)
    return emitted


# ---------------------------------------------------------------------------- state


_BLAS_CHUNK_WORK: Final = 2**15
"""Multiply-adds per BLAS call: small enough that OpenBLAS stays on the calling thread."""

_BLAS_THREADED_WORK: Final = 2**25
"""Products this large amortize BLAS threading, and chunking them costs Python overhead."""


def _matmul_in_chunks(matrix: ComplexArray, source: ComplexArray, out: ComplexArray) -> None:
    """``out = matrix @ source``, in column chunks that each run single-threaded.

    OpenBLAS spreads larger products over its thread pool, which on a busy machine, or
    with several simulations running in the emulator's worker threads, costs
    milliseconds of wake-ups per call (measured: 100x slower at 14 qubits). Chunks keep
    every call below its threading threshold without touching process-wide settings;
    only products big enough to amortize the wake-ups go to BLAS whole.
    """
    size = matrix.shape[0]
    columns = source.shape[1]
    step = max(1, _BLAS_CHUNK_WORK // (size * size))
    if step >= columns or size * size * columns >= _BLAS_THREADED_WORK:
        np.matmul(matrix, source, out=out)
        return
    for start in range(0, columns, step):
        np.matmul(matrix, source[:, start : start + step], out=out[:, start : start + step])


class _State:
    """An n-qubit state vector as a ``(2,) * n`` tensor with a lazily tracked axis order.

    ``tensor`` holds the amplitudes with qubit q on axis ``axis_of[q]``; ``spare`` is a
    second buffer of the same size. Contractions ping-pong between the two instead of
    allocating, because fresh multi-megabyte arrays cost a page fault per 4 KiB.
    """

    __slots__ = ("axis_of", "num_qubits", "spare", "tensor")

    def __init__(self, num_qubits: int) -> None:
        self.num_qubits = num_qubits
        self.tensor: ComplexArray = np.zeros((2,) * num_qubits, dtype=np.complex128)
        self.tensor[(0,) * num_qubits] = 1.0
        self.spare: ComplexArray = np.empty_like(self.tensor)
        self.axis_of = [num_qubits - 1 - q for q in range(num_qubits)]

    def copy_from(self, other: _State) -> None:
        """Become a copy of ``other`` (same size), reusing this state's buffers."""
        np.copyto(self.tensor.reshape(-1), other.tensor.reshape(-1))
        self.tensor = self.tensor.reshape(other.tensor.shape)
        self.axis_of = list(other.axis_of)

    def run(self, operations: Sequence[_Operation]) -> None:
        """Apply operations in order (fused into blocks when the state is large)."""
        if self.num_qubits >= _FUSE_FROM_QUBITS:
            operations = _fuse(operations)
        for operation in operations:
            if len(operation.qubits) > _FUSION_WIDTH:
                self._apply_controlled(operation)
            else:
                self._apply(operation.qubits, operation.full_matrix())

    def _apply(self, targets: tuple[int, ...], matrix: ComplexArray) -> None:
        # Bring the targets to the front (most significant first, as in the matrix),
        # multiply, and leave them there instead of moving them back: that saves a
        # copy per gate, and the next gate on the same qubits may need no copy at all.
        n = self.num_qubits
        k = len(targets)
        source_axes = [self.axis_of[q] for q in reversed(targets)]
        moved = set(source_axes)
        order = source_axes + [axis for axis in range(n) if axis not in moved]
        shape = (2**k, 2 ** (n - k))
        if order == list(range(n)):
            _matmul_in_chunks(matrix, self.tensor.reshape(shape), self.spare.reshape(shape))
            self.tensor, self.spare = self.spare, self.tensor
        else:
            gathered = self.spare.reshape((2,) * n)
            np.copyto(gathered, self.tensor.transpose(order))
            _matmul_in_chunks(matrix, gathered.reshape(shape), self.tensor.reshape(shape))
        self.tensor = self.tensor.reshape((2,) * n)
        self.spare = self.spare.reshape((2,) * n)
        new_position = {axis: position for position, axis in enumerate(order)}
        self.axis_of = [new_position[axis] for axis in self.axis_of]

    def _apply_controlled(self, operation: _Operation) -> None:
        # Only for operations too wide to fuse into a dense block.
        index: list[int | slice] = [slice(None)] * self.num_qubits
        control_axes = [self.axis_of[c] for c in operation.controls]
        for axis in control_axes:
            index[axis] = 1
        view = self.tensor[tuple(index)]
        targets = operation.targets
        k = len(targets)
        sub_axes = [
            self.axis_of[t] - sum(1 for c in control_axes if c < self.axis_of[t])
            for t in reversed(targets)
        ]
        gate = operation.matrix.reshape((2,) * (2 * k))
        result = np.tensordot(gate, view, axes=(list(range(k, 2 * k)), sub_axes))
        view[...] = np.moveaxis(result, list(range(k)), sub_axes)

    def _canonical_order(self) -> list[int]:
        # Axis a of the canonical layout holds qubit n-1-a, so flattening puts qubit 0 last.
        return [self.axis_of[self.num_qubits - 1 - a] for a in range(self.num_qubits)]

    def amplitudes(self) -> ComplexArray:
        """A flat copy of the state indexed by basis-state integer (qubit 0 = LSB)."""
        flat: ComplexArray = np.ascontiguousarray(
            self.tensor.transpose(self._canonical_order())
        ).reshape(-1)
        return flat

    def probabilities(self) -> FloatArray:
        """|amplitude|² as a flat array indexed by basis-state integer (qubit 0 = LSB)."""
        squared = np.square(self.tensor.real) + np.square(self.tensor.imag)
        flat: FloatArray = np.ascontiguousarray(squared.transpose(self._canonical_order())).reshape(
            -1
        )
        return flat


# --------------------------------------------------------------------------- public

_DROP_BELOW: Final = 1e-12
_SIGNIFICANT_DIGITS: Final = 14


def _round_significant(values: FloatArray) -> FloatArray:
    """Round to 14 significant digits, so that a Bell state reads exactly 0.5 and 0.5."""
    exponents = np.floor(np.log10(values))
    scale = np.power(10.0, _SIGNIFICANT_DIGITS - 1 - exponents)
    rounded: FloatArray = np.round(values * scale) / scale
    return rounded


def simulate_statevector(
    num_qubits: int,
    gates: Sequence[Gate],
    *,
    gateset: str = "qis",
    initial_state: npt.ArrayLike | None = None,
) -> ComplexArray:
    """The final state vector (length ``2**num_qubits``, qubit 0 = LSB), from |0...0> by default."""
    _check_size(num_qubits, "ideal")
    operations = _compile(num_qubits, gates, gateset)
    state = _State(num_qubits)
    if initial_state is not None:
        initial = np.asarray(initial_state, dtype=np.complex128)
        if initial.shape != (2**num_qubits,):
            raise InvalidCircuitError(
                f"initial state has shape {initial.shape}, expected ({2**num_qubits},)"
            )
        np.copyto(state.tensor, initial.reshape(state.tensor.shape))
    state.run(operations)
    return state.amplitudes()


def ideal_probabilities(
    num_qubits: int, gates: Sequence[Gate], *, gateset: str = "qis"
) -> dict[int, float]:
    """Exact outcome probabilities keyed by basis-state integer; zeros are omitted."""
    _check_size(num_qubits, "ideal")
    operations = _compile(num_qubits, gates, gateset)
    state = _State(num_qubits)
    state.run(operations)
    probabilities = state.probabilities()
    keys = np.flatnonzero(probabilities >= _DROP_BELOW)
    values = _round_significant(probabilities[keys])
    return dict(zip(keys.tolist(), values.tolist(), strict=True))


def _sample(probabilities: FloatArray, shots: int, rng: np.random.Generator) -> Counter[int]:
    """Draw ``shots`` outcomes from a probability vector."""
    if shots == 0:
        return Counter()
    cumulative = np.cumsum(probabilities)
    draws = rng.random(shots) * cumulative[-1]
    # side="right" never lands on a zero-probability outcome.
    outcomes = np.searchsorted(cumulative, draws, side="right")
    np.minimum(outcomes, probabilities.size - 1, out=outcomes)
    keys, counts = np.unique(outcomes, return_counts=True)
    return Counter(dict(zip(keys.tolist(), counts.tolist(), strict=True)))


_ErrorPattern = tuple[tuple[int, int], ...]
"""(operation index, Pauli code) pairs in circuit order; code digit i (base 4) acts on qubit i."""

_PATTERN_SAMPLE_CELLS: Final = 1_000_000
"""Bound on shots x operations drawn when sampling error patterns (memory and time)."""

_TRAJECTORY_WORK: Final = 2**30
"""Amplitude-operation budget that lowers the trajectory count for large circuits."""

_MIN_TRAJECTORIES: Final = 8


def _draw_error_patterns(
    rng: np.random.Generator,
    error_rates: FloatArray,
    widths: IntArray,
    samples: int,
) -> list[_ErrorPattern]:
    """Draw ``samples`` independent error patterns conditioned on at least one error."""
    count = error_rates.size
    survival = np.concatenate(([1.0], np.cumprod(1.0 - error_rates)[:-1]))
    first_weights = survival * error_rates
    first = rng.choice(count, size=samples, p=first_weights / first_weights.sum())
    errors = rng.random((samples, count)) < error_rates
    errors &= np.arange(count)[None, :] > first[:, None]
    errors[np.arange(samples), first] = True
    rows, columns = np.nonzero(errors)
    codes = rng.integers(1, np.int64(4) ** widths[columns])
    patterns: list[list[tuple[int, int]]] = [[] for _ in range(samples)]
    for row, column, code in zip(rows.tolist(), columns.tolist(), codes.tolist(), strict=True):
        patterns[row].append((column, code))
    return [tuple(pattern) for pattern in patterns]


def _pauli_operation(qubits: tuple[int, ...], code: int) -> _Operation:
    """The Pauli product whose base-4 digit i (0=I, 1=X, 2=Y, 3=Z) acts on ``qubits[i]``."""
    matrix = np.ones((1, 1), dtype=np.complex128)
    for i in range(len(qubits)):
        matrix = _kron(_PAULI_BY_CODE[(code >> (2 * i)) & 3], matrix)
    return _Operation(targets=qubits, matrix=matrix)


def _trajectory_budget(num_qubits: int, num_operations: int, max_trajectories: int) -> int:
    work = (1 << num_qubits) * max(num_operations, 1)
    affordable = max(_MIN_TRAJECTORIES, _TRAJECTORY_WORK // work)
    return max(1, min(max_trajectories, affordable))


def noisy_histogram(
    num_qubits: int,
    gates: Sequence[Gate],
    shots: int,
    *,
    model: str,
    seed: int | None,
    gateset: str = "qis",
    max_trajectories: int = 128,
) -> dict[int, int]:
    """Shot counts under a per-gate depolarizing noise model; they sum exactly to ``shots``.

    Noise is a Pauli twirl after every gate: with probability r1q (gates on one qubit)
    or r2q (gates on two or more qubits, targets and controls together) a uniformly
    random non-identity Pauli acts on the gate's qubits. Gates wider than two qubits
    get r2q once, although hardware would compile them into several 2-qubit gates.

    Shots are grouped rather than simulated one by one (an approximation):

    - the number of error-free shots is drawn from a binomial, and those shots are
      sampled from the ideal final state;
    - error patterns are drawn for the other shots (at most ``16 x`` the trajectory
      budget of them). If they hold at most ``max_trajectories`` distinct patterns
      (fewer for very large circuits, where each simulation is expensive), each
      distinct pattern is simulated once and gets its shots: exact per-shot
      simulation when every erroneous shot was drawn;
    - otherwise a sub-batch of that many independently drawn patterns is simulated
      and the erroneous shots are spread over them multinomially.

    The estimate of the noisy distribution is unbiased, but shots that share a
    trajectory are correlated, so a histogram from a long, noisy circuit varies a
    little more than true per-shot simulation would. Trajectories share the error-free
    prefix of the circuit. The same ``seed`` gives the same histogram.
    """
    name = canonical_noise_model(model)
    _check_size(num_qubits, model)
    if shots < 0:
        raise InvalidCircuitError("shots must not be negative")
    operations = _compile(num_qubits, gates, gateset)
    rates = NOISE_MODELS[name]
    # The API's seed is an int32 and may be negative; NumPy wants a non-negative one.
    rng = np.random.default_rng(None if seed is None else seed % 2**64)

    widths = np.array([len(op.qubits) for op in operations], dtype=np.int64)
    error_rates = np.where(widths == 1, rates.one_qubit, rates.two_qubit).astype(np.float64)
    clean_probability = float(np.prod(1.0 - error_rates))
    noisy_shots = 0
    if clean_probability < 1.0:
        noisy_shots = int(rng.binomial(shots, 1.0 - clean_probability))
    clean_shots = shots - noisy_shots

    trajectories: list[tuple[_ErrorPattern, int]] = []
    if noisy_shots:
        budget = _trajectory_budget(num_qubits, len(operations), max_trajectories)
        sample_size = min(
            noisy_shots,
            max(budget, min(16 * budget, _PATTERN_SAMPLE_CELLS // max(len(operations), 1))),
        )
        patterns = _draw_error_patterns(rng, error_rates, widths, sample_size)
        distinct = Counter(patterns)
        if len(distinct) > budget:
            # Too many to simulate each: keep an independent sub-batch.
            distinct = Counter(patterns[:budget])
        if distinct.total() == noisy_shots:
            shares = list(distinct.values())
        else:
            weights = np.array(list(distinct.values()), dtype=np.float64)
            shares = rng.multinomial(noisy_shots, weights / weights.sum()).tolist()
        trajectories = [
            (pattern, share) for pattern, share in zip(distinct, shares, strict=True) if share > 0
        ]
        # Sorting by the first error lets every trajectory start from a shared,
        # error-free prefix state that only ever moves forward.
        trajectories.sort(key=lambda item: item[0][0][0])

    counts: Counter[int] = Counter()
    prefix = _State(num_qubits)
    state = _State(num_qubits) if trajectories else prefix
    done = 0
    for pattern, share in trajectories:
        first_error = pattern[0][0]
        prefix.run(operations[done : first_error + 1])
        done = first_error + 1
        state.copy_from(prefix)
        sequence: list[_Operation] = []
        errors = dict(pattern)
        for index in range(first_error, len(operations)):
            if index > first_error:
                sequence.append(operations[index])
            if index in errors:
                sequence.append(_pauli_operation(operations[index].qubits, errors[index]))
        state.run(sequence)
        counts.update(_sample(state.probabilities(), share, rng))
    prefix.run(operations[done:])
    counts.update(_sample(prefix.probabilities(), clean_shots, rng))
    return dict(sorted(counts.items()))
