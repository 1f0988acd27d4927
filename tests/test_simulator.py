"""The emulator's state-vector simulator against an independent dense-matrix reference."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from functools import reduce
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ionq_async.circuits import Circuit, Gate
from ionq_async.emulator import simulator
from ionq_async.emulator.simulator import (
    MAX_QUBITS,
    NOISE_MODELS,
    InvalidCircuitError,
    SimulationError,
    TooManyQubitsError,
    UnknownNoiseModelError,
    UnsupportedGateError,
    canonical_noise_model,
    ideal_probabilities,
    noise_model_for_backend,
    noisy_histogram,
    simulate_statevector,
)

Matrix = npt.NDArray[Any]

# ------------------------------------------------------------------ dense reference
# Built only from np.kron and a Hermitian matrix exponential over the full 2**n space,
# so it shares no code path with the simulator's fused tensor contractions.

I2 = np.eye(2, dtype=complex)
X = np.array([[0, 1], [1, 0]], dtype=complex)
Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
Z = np.array([[1, 0], [0, -1]], dtype=complex)
H = np.array([[1, 1], [1, -1]], dtype=complex) / math.sqrt(2)
PROJECT_ONE = np.array([[0, 0], [0, 1]], dtype=complex)
PAULI = {"I": I2, "X": X, "Y": Y, "Z": Z}


def on_qubits(n: int, factors: dict[int, Matrix]) -> Matrix:
    """⊗ over qubits n-1..0 (qubit 0 is the rightmost factor, the least significant bit)."""
    return reduce(np.kron, [factors.get(q, I2) for q in reversed(range(n))])


def expm_hermitian(generator: Matrix, scale: complex) -> Matrix:
    """exp(scale * generator) for a Hermitian generator."""
    values, vectors = np.linalg.eigh(generator)
    result: Matrix = (vectors * np.exp(scale * values)) @ vectors.conj().T
    return result


def single_qubit_full(n: int, target: int, matrix: Matrix) -> Matrix:
    return on_qubits(n, {target: matrix})


def controlled(n: int, controls: tuple[int, ...], full_unitary: Matrix) -> Matrix:
    """I - P + P·U where P projects every control onto |1> (U must not act on controls)."""
    projector = on_qubits(n, dict.fromkeys(controls, PROJECT_ONE))
    identity = np.eye(2**n, dtype=complex)
    result: Matrix = identity - projector + projector @ full_unitary
    return result


def sigma(phase_turns: float) -> Matrix:
    return math.cos(2 * math.pi * phase_turns) * X + math.sin(2 * math.pi * phase_turns) * Y


def reference_unitary(n: int, gate: Gate, gateset: str = "qis") -> Matrix:
    """The full 2**n x 2**n unitary of one gate, from the formulas in api notes §5."""
    name = gate.gate
    t = gate.targets
    fixed = {
        "x": X,
        "not": X,
        "cnot": X,
        "y": Y,
        "z": Z,
        "h": H,
        "s": np.diag([1, 1j]),
        "si": np.diag([1, -1j]),
        "t": np.diag([1, np.exp(1j * math.pi / 4)]),
        "ti": np.diag([1, np.exp(-1j * math.pi / 4)]),
        "v": 0.5 * np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]]),
    }
    fixed["vi"] = fixed["v"].conj().T
    if gateset == "native":
        if name == "gpi":
            full = single_qubit_full(n, t[0], sigma(gate.phase or 0.0))
        elif name == "gpi2":
            full = single_qubit_full(n, t[0], (I2 - 1j * sigma(gate.phase or 0.0)) / math.sqrt(2))
        elif name == "ms":
            assert gate.phases is not None
            theta = 0.25 if gate.angle is None else gate.angle
            generator = on_qubits(n, {t[0]: sigma(gate.phases[0]), t[1]: sigma(gate.phases[1])})
            full = expm_hermitian(generator, -1j * math.pi * theta)
        elif name == "zz":
            generator = on_qubits(n, {t[0]: Z, t[1]: Z})
            full = expm_hermitian(generator, -1j * math.pi * (gate.angle or 0.0))
        else:
            raise AssertionError(name)
    elif name == "z" and gate.rotation is not None:
        full = single_qubit_full(n, t[0], np.diag([1, np.exp(1j * gate.rotation)]))
    elif name in fixed:
        full = single_qubit_full(n, t[0], fixed[name])
    elif name in ("rx", "ry", "rz"):
        pauli = {"rx": X, "ry": Y, "rz": Z}[name]
        assert gate.rotation is not None
        full = expm_hermitian(single_qubit_full(n, t[0], pauli), -0.5j * gate.rotation)
    elif name in ("xx", "yy", "zz"):
        pauli = {"xx": X, "yy": Y, "zz": Z}[name]
        assert gate.rotation is not None
        generator = on_qubits(n, {t[0]: pauli, t[1]: pauli})
        full = expm_hermitian(generator, -0.5j * gate.rotation)
    elif name == "swap":
        # SWAP = (I + XX + YY + ZZ) / 2
        full = 0.5 * sum(
            (on_qubits(n, {t[0]: p, t[1]: p}) for p in (I2, X, Y, Z)),
            start=np.zeros((2**n, 2**n), dtype=complex),
        )
    elif name == "pauliexp":
        assert gate.terms is not None and gate.coefficients is not None and gate.time is not None
        generator = np.zeros((2**n, 2**n), dtype=complex)
        for term, coefficient in zip(gate.terms, gate.coefficients, strict=True):
            # The last character acts on targets[0].
            factors = {t[i]: PAULI[letter] for i, letter in enumerate(reversed(term))}
            generator += coefficient * on_qubits(n, factors)
        full = expm_hermitian(generator, -1j * gate.time)
    else:
        raise AssertionError(name)
    return controlled(n, gate.controls, full) if gate.controls else full


def reference_state(
    n: int, gates: list[Gate], initial: Matrix | None = None, gateset: str = "qis"
) -> Matrix:
    state = np.zeros(2**n, dtype=complex)
    state[0] = 1.0
    if initial is not None:
        state = initial.copy()
    for gate in gates:
        state = reference_unitary(n, gate, gateset) @ state
    return state


def random_state(n: int, rng: np.random.Generator) -> Matrix:
    state = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    result: Matrix = state / np.linalg.norm(state)
    return result


def g(name: str, *targets: int, controls: tuple[int, ...] = (), **params: object) -> Gate:
    return Gate(gate=name, targets=targets, controls=controls, **params)  # type: ignore[arg-type]


BELL = [g("h", 0), g("x", 1, controls=(0,))]


@pytest.fixture(params=["direct", "fused"])
def gate_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test gate by gate and with gates fused into blocks (normally >= 14 qubits only)."""
    if request.param == "fused":
        monkeypatch.setattr(simulator, "_FUSE_FROM_QUBITS", 1)
    return str(request.param)


# ------------------------------------------------------------------------ known states


def test_bell_state_gives_exactly_half_and_half() -> None:
    assert ideal_probabilities(2, BELL) == {0: 0.5, 3: 0.5}


def test_ghz_on_three_qubits() -> None:
    gates = [g("h", 0), g("cnot", 1, controls=(0,)), g("not", 2, controls=(1,))]
    assert ideal_probabilities(3, gates) == {0: 0.5, 7: 0.5}


def test_qubit_zero_is_the_least_significant_bit() -> None:
    assert ideal_probabilities(2, [g("x", 1)]) == {2: 1.0}
    assert ideal_probabilities(3, [g("x", 0), g("x", 2)]) == {5: 1.0}


def test_empty_circuit_is_the_zero_state() -> None:
    assert ideal_probabilities(4, []) == {0: 1.0}


def test_probability_keys_are_ints_and_values_floats() -> None:
    probabilities = ideal_probabilities(3, [g("h", 0), g("ry", 1, rotation=0.3)])
    assert all(type(k) is int for k in probabilities)
    assert all(type(v) is float for v in probabilities.values())
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-12)


def test_zero_probabilities_are_omitted() -> None:
    # H·H = I, so the |1> amplitude cancels to rounding error and must not appear.
    assert ideal_probabilities(1, [g("h", 0), g("h", 0)]) == {0: 1.0}


def qft(n: int) -> list[Gate]:
    gates: list[Gate] = []
    for target in reversed(range(n)):
        gates.append(g("h", target))
        for control in reversed(range(target)):
            angle = math.pi / 2 ** (target - control)
            gates.append(g("z", target, controls=(control,), rotation=angle))
    gates.extend(g("swap", q, n - 1 - q) for q in range(n // 2))
    return gates


@pytest.mark.parametrize("basis_state", [0, 1, 5, 13])
def test_qft_of_a_basis_state_has_uniform_magnitude(basis_state: int) -> None:
    n = 4
    prepare = [g("x", q) for q in range(n) if basis_state >> q & 1]
    state = simulate_statevector(n, prepare + qft(n))
    np.testing.assert_allclose(np.abs(state), np.full(2**n, 0.25), atol=1e-12)
    probabilities = ideal_probabilities(n, prepare + qft(n))
    assert probabilities == dict.fromkeys(range(2**n), 0.0625)


def test_qft_matches_the_dense_reference(gate_path: str) -> None:
    rng = np.random.default_rng(3)
    initial = random_state(5, rng)
    np.testing.assert_allclose(
        simulate_statevector(5, qft(5), initial_state=initial),
        reference_state(5, qft(5), initial),
        atol=1e-10,
    )


# ------------------------------------------------------------------ every gate, dense

ONE_QUBIT_FIXED = ["x", "y", "z", "h", "s", "si", "t", "ti", "v", "vi", "not"]


SINGLE_QUBIT_CASES: list[tuple[str, dict[str, Any]]] = [
    *[(name, {}) for name in ONE_QUBIT_FIXED],
    *[(name, {"rotation": 0.73}) for name in ("rx", "ry", "rz")],
    ("z", {"rotation": 1.1}),  # the phase gate
]
TWO_QUBIT_CASES: list[tuple[str, dict[str, Any]]] = [
    *[(name, {"rotation": -0.91}) for name in ("xx", "yy", "zz")],
    ("swap", {}),
    ("pauliexp", {"terms": ("XZ", "YY", "ZI"), "coefficients": (0.4, -0.25, 1.3), "time": 0.7}),
]


LAYOUTS_1Q = [
    (1, (0,), ()),
    (2, (1,), ()),
    (2, (0,), (1,)),  # target < control
    (2, (1,), (0,)),  # target > control
    (3, (1,), (0, 2)),
    (3, (0,), (2, 1)),
]
LAYOUTS_2Q = [
    (2, (0, 1), ()),
    (2, (1, 0), ()),
    (3, (2, 0), ()),
    (3, (0, 2), (1,)),
    (3, (1, 2), (0,)),
    (3, (2, 1), (0,)),
]


@pytest.mark.parametrize(("name", "params"), SINGLE_QUBIT_CASES)
@pytest.mark.parametrize(("n", "targets", "controls"), LAYOUTS_1Q)
def test_single_qubit_gate_matches_its_matrix(
    name: str,
    params: dict[str, object],
    n: int,
    targets: tuple[int, ...],
    controls: tuple[int, ...],
) -> None:
    gate = g(name, *targets, controls=controls, **params)
    initial = random_state(n, np.random.default_rng(len(name) + 10 * n))
    np.testing.assert_allclose(
        simulate_statevector(n, [gate], initial_state=initial),
        reference_unitary(n, gate) @ initial,
        atol=1e-12,
    )


@pytest.mark.parametrize(("name", "params"), TWO_QUBIT_CASES)
@pytest.mark.parametrize(("n", "targets", "controls"), LAYOUTS_2Q)
def test_two_qubit_gate_matches_its_matrix(
    name: str,
    params: dict[str, object],
    n: int,
    targets: tuple[int, ...],
    controls: tuple[int, ...],
) -> None:
    gate = g(name, *targets, controls=controls, **params)
    initial = random_state(n, np.random.default_rng(len(name) + 10 * n))
    np.testing.assert_allclose(
        simulate_statevector(n, [gate], initial_state=initial),
        reference_unitary(n, gate) @ initial,
        atol=1e-12,
    )


def test_rotation_matrices_have_the_documented_form() -> None:
    theta = 0.6
    c, s = math.cos(theta / 2), math.sin(theta / 2)
    rx = simulate_statevector(1, [g("rx", 0, rotation=theta)])
    np.testing.assert_allclose(rx, [c, -1j * s], atol=1e-15)
    ry = simulate_statevector(1, [g("ry", 0, rotation=theta)])
    np.testing.assert_allclose(ry, [c, s], atol=1e-15)
    rz = simulate_statevector(1, [g("h", 0), g("rz", 0, rotation=theta)])
    np.testing.assert_allclose(
        rz, np.array([np.exp(-0.5j * theta), np.exp(0.5j * theta)]) / math.sqrt(2), atol=1e-15
    )


def test_z_with_rotation_is_the_phase_gate_not_rz() -> None:
    theta = 0.9
    state = simulate_statevector(1, [g("h", 0), g("z", 0, rotation=theta)])
    np.testing.assert_allclose(state, np.array([1, np.exp(1j * theta)]) / math.sqrt(2), atol=1e-15)


def test_controlled_phase_only_changes_the_all_ones_amplitude() -> None:
    theta = 1.7
    gates = [g("h", 0), g("h", 1), g("z", 1, controls=(0,), rotation=theta)]
    expected = np.array([1, 1, 1, np.exp(1j * theta)]) / 2
    np.testing.assert_allclose(simulate_statevector(2, gates), expected, atol=1e-15)


def test_v_is_the_square_root_of_x() -> None:
    assert ideal_probabilities(1, [g("v", 0), g("v", 0)]) == {1: 1.0}
    state = simulate_statevector(1, [g("v", 0), g("vi", 0)])
    np.testing.assert_allclose(state, [1, 0], atol=1e-15)


def test_single_qubit_gate_with_several_targets_acts_on_each() -> None:
    assert ideal_probabilities(3, [g("x", 0, 2)]) == {5: 1.0}


def test_circuits_parsed_from_api_json_simulate_as_expected() -> None:
    bell = Circuit.from_json(
        {
            "gateset": "qis",
            "qubits": 2,
            "circuit": [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}],
        }
    )
    assert ideal_probabilities(bell.num_qubits, bell.gates) == {0: 0.5, 3: 0.5}
    native = Circuit.from_json(
        {
            "gateset": "native",
            "qubits": 2,
            "circuit": [{"gate": "ms", "targets": [0, 1], "phases": [0, 0]}],
        }
    )
    assert ideal_probabilities(native.num_qubits, native.gates, gateset=native.gateset) == {
        0: 0.5,
        3: 0.5,
    }


def test_qubit_lists_are_accepted_where_tuples_are_expected() -> None:
    gate = Gate(gate="x", targets=[1], controls=[0])  # type: ignore[arg-type]
    assert ideal_probabilities(2, [g("x", 0), gate]) == {3: 1.0}


def test_toffoli_in_the_ionq_docs_form() -> None:
    gates = [g("x", 1), g("x", 2), g("cnot", 0, controls=(1, 2))]
    assert ideal_probabilities(3, gates) == {7: 1.0}


def test_controlled_swap_exchanges_only_when_the_control_is_set() -> None:
    assert ideal_probabilities(3, [g("x", 1), g("swap", 1, 2, controls=(0,))]) == {2: 1.0}
    gates = [g("x", 0), g("x", 1), g("swap", 1, 2, controls=(0,))]
    assert ideal_probabilities(3, gates) == {5: 1.0}


# ------------------------------------------------------------------------- pauliexp


def test_pauliexp_last_character_acts_on_the_first_target() -> None:
    # exp(-i·(π/2)·X) = -iX flips only the qubit the X acts on.
    gate = g("pauliexp", 0, 2, terms=("IX",), coefficients=(1.0,), time=math.pi / 2)
    assert ideal_probabilities(3, [gate]) == {1: 1.0}
    gate = g("pauliexp", 0, 2, terms=("XI",), coefficients=(1.0,), time=math.pi / 2)
    assert ideal_probabilities(3, [gate]) == {4: 1.0}


@pytest.mark.parametrize("seed", range(4))
def test_pauliexp_matches_the_exponential_of_the_dense_pauli_sum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 4
    width = int(rng.integers(1, 5))
    targets = tuple(int(q) for q in rng.permutation(n)[:width])
    terms = tuple("".join(rng.choice(list("IXYZ"), size=width)) for _ in range(3))
    coefficients = tuple(float(c) for c in rng.normal(size=3))
    gate = g("pauliexp", *targets, terms=terms, coefficients=coefficients, time=0.37)
    initial = random_state(n, rng)
    np.testing.assert_allclose(
        simulate_statevector(n, [gate], initial_state=initial),
        reference_unitary(n, gate) @ initial,
        atol=1e-12,
    )


def test_gates_wider_than_a_fused_block_are_applied_directly(gate_path: str) -> None:
    rng = np.random.default_rng(11)
    n = 7
    gates = [
        g("h", 0),
        g("x", 6, controls=(0, 1, 2, 3, 4, 5)),
        g(
            "pauliexp",
            3,
            5,
            1,
            controls=(0, 2, 6),
            terms=("XYZ", "ZZI"),
            coefficients=(0.5, 0.25),
            time=1.2,
        ),
        g(
            "pauliexp",
            0,
            1,
            2,
            3,
            4,
            5,
            terms=("XXYYZZ", "IZIZIZ"),
            coefficients=(0.3, -0.8),
            time=0.9,
        ),
        g("ry", 4, controls=(6,), rotation=0.4),
    ]
    initial = random_state(n, rng)
    np.testing.assert_allclose(
        simulate_statevector(n, gates, initial_state=initial),
        reference_state(n, gates, initial),
        atol=1e-12,
    )


# ------------------------------------------------------------------------- natives


NATIVE_CASES = [
    g("gpi", 0, phase=0.0),
    g("gpi", 1, phase=0.3),
    g("gpi2", 0, phase=0.0),
    g("gpi2", 2, phase=-0.7),
    g("ms", 0, 1, phases=(0.0, 0.0)),
    g("ms", 2, 0, phases=(0.1, 0.35), angle=0.17),
    g("ms", 0, 2, phases=(0.6, -0.2), angle=0.25),
    g("zz", 1, 2, angle=0.12),
    g("zz", 2, 0, angle=-0.4),
]


@pytest.mark.parametrize("gate", NATIVE_CASES, ids=lambda gate: f"{gate.gate}{gate.targets}")
def test_native_gate_matches_its_matrix(gate: Gate) -> None:
    n = 3
    initial = random_state(n, np.random.default_rng(42))
    np.testing.assert_allclose(
        simulate_statevector(n, [gate], gateset="native", initial_state=initial),
        reference_unitary(n, gate, "native") @ initial,
        atol=1e-12,
    )


def test_fully_entangling_ms_makes_a_bell_like_state() -> None:
    assert ideal_probabilities(2, [g("ms", 0, 1, phases=(0.0, 0.0))], gateset="native") == {
        0: 0.5,
        3: 0.5,
    }


def test_native_zz_accepts_phase_for_angle_as_cirq_sends_it() -> None:
    with_angle = simulate_statevector(
        2, [g("gpi2", 0, phase=0.0), g("zz", 0, 1, angle=0.2)], gateset="native"
    )
    with_phase = simulate_statevector(
        2, [g("gpi2", 0, phase=0.0), g("zz", 0, 1, phase=0.2)], gateset="native"
    )
    np.testing.assert_allclose(with_angle, with_phase, atol=1e-15)


def test_nop_is_the_identity() -> None:
    gates = [g("gpi2", 0, phase=0.25), g("nop", 0), g("nop", 1)]
    state = simulate_statevector(2, gates, gateset="native")
    np.testing.assert_allclose(
        state, simulate_statevector(2, gates[:1], gateset="native"), atol=1e-15
    )


# ---------------------------------------------------------------- random circuits

RANDOM_1Q = ["x", "y", "z", "h", "s", "si", "t", "ti", "v", "vi"]


def random_circuit(n: int, count: int, rng: np.random.Generator) -> list[Gate]:
    gates: list[Gate] = []
    for _ in range(count):
        kind = int(rng.integers(6))
        qubits = [int(q) for q in rng.permutation(n)]
        max_controls = n - 1
        controls = tuple(qubits[1 : 1 + int(rng.integers(0, min(2, max_controls) + 1))])
        if kind == 0:
            gates.append(g(str(rng.choice(RANDOM_1Q)), qubits[0], controls=controls))
        elif kind == 1:
            name = str(rng.choice(["rx", "ry", "rz", "z"]))
            angle = float(rng.uniform(-4, 4))
            gates.append(g(name, qubits[0], controls=controls, rotation=angle))
        elif n >= 2 and kind in (2, 3):
            name = str(rng.choice(["xx", "yy", "zz", "swap"]))
            pair = (qubits[0], qubits[1])
            rest = tuple(qubits[2 : 2 + int(rng.integers(0, min(1, n - 2) + 1))])
            rotation = None if name == "swap" else float(rng.uniform(-4, 4))
            gates.append(g(name, *pair, controls=rest, rotation=rotation))
        elif n >= 2 and kind == 4:
            gates.append(g("x", qubits[0], controls=(qubits[1],)))
        else:
            width = int(rng.integers(1, min(3, n) + 1))
            terms = tuple("".join(rng.choice(list("IXYZ"), size=width)) for _ in range(2))
            gates.append(
                g(
                    "pauliexp",
                    *qubits[:width],
                    terms=terms,
                    coefficients=(float(rng.normal()), float(rng.normal())),
                    time=float(rng.uniform(0, 2)),
                )
            )
    return gates


@pytest.mark.parametrize("seed", range(30))
def test_random_circuit_matches_the_dense_reference(seed: int, gate_path: str) -> None:
    rng = np.random.default_rng(seed)
    n = 1 + seed % 6
    gates = random_circuit(n, 25, rng)
    expected = reference_state(n, gates)
    np.testing.assert_allclose(simulate_statevector(n, gates), expected, atol=1e-10)
    probabilities = ideal_probabilities(n, gates)
    dense = np.zeros(2**n)
    for key, value in probabilities.items():
        dense[key] = value
    np.testing.assert_allclose(dense, np.abs(expected) ** 2, atol=1e-12)


def random_native_circuit(n: int, count: int, rng: np.random.Generator) -> list[Gate]:
    gates: list[Gate] = []
    for _ in range(count):
        kind = int(rng.integers(4))
        a, b = (int(q) for q in rng.permutation(n)[:2])
        phase = float(rng.uniform(-1, 1))
        if kind == 0:
            gates.append(g("gpi", a, phase=phase))
        elif kind == 1:
            gates.append(g("gpi2", a, phase=phase))
        elif kind == 2:
            phases = (phase, float(rng.uniform(-1, 1)))
            gates.append(g("ms", a, b, phases=phases, angle=float(rng.uniform(0, 0.25))))
        else:
            gates.append(g("zz", a, b, angle=float(rng.uniform(-0.5, 0.5))))
    return gates


@pytest.mark.parametrize("seed", range(8))
def test_random_native_circuit_matches_the_dense_reference(seed: int, gate_path: str) -> None:
    rng = np.random.default_rng(100 + seed)
    n = 2 + seed % 4
    gates = random_native_circuit(n, 20, rng)
    np.testing.assert_allclose(
        simulate_statevector(n, gates, gateset="native"),
        reference_state(n, gates, gateset="native"),
        atol=1e-10,
    )


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), seed=st.integers(0, 2**32 - 1), count=st.integers(0, 40))
def test_probabilities_of_any_circuit_sum_to_one(n: int, seed: int, count: int) -> None:
    gates = random_circuit(n, count, np.random.default_rng(seed))
    probabilities = ideal_probabilities(n, gates)
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-12)
    assert all(0 <= key < 2**n for key in probabilities)


def test_fused_and_direct_paths_agree_on_a_large_circuit(monkeypatch: pytest.MonkeyPatch) -> None:
    gates = random_circuit(15, 120, np.random.default_rng(77))
    fused = simulate_statevector(15, gates)
    monkeypatch.setattr(simulator, "_FUSE_FROM_QUBITS", 100)
    direct = simulate_statevector(15, gates)
    np.testing.assert_allclose(fused, direct, atol=1e-10)


def test_simulation_is_safe_from_several_threads() -> None:
    gates = random_circuit(8, 60, np.random.default_rng(5))
    expected = ideal_probabilities(8, gates)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: ideal_probabilities(8, gates), range(8)))
    assert all(result == expected for result in results)


# -------------------------------------------------------------------------- errors


def test_unknown_gate_is_unsupported() -> None:
    with pytest.raises(UnsupportedGateError, match="gate 1"):
        ideal_probabilities(1, [g("h", 0), g("frobnicate", 0)])


def test_gates_are_checked_against_the_gateset() -> None:
    with pytest.raises(UnsupportedGateError):
        ideal_probabilities(1, [g("gpi", 0, phase=0.1)])
    with pytest.raises(UnsupportedGateError):
        ideal_probabilities(1, [g("h", 0)], gateset="native")


@pytest.mark.parametrize(
    "gate",
    [
        g("rx", 0),
        g("x", 3),
        g("x", 0, controls=(0,)),
        g("xx", 0, rotation=1.0),
        g("rz", 0, rotation=math.nan),
        g("pauliexp", 0, 1, terms=("XQ",), coefficients=(1.0,), time=1.0),
        g("pauliexp", 0, 1, terms=("XX",), coefficients=(1.0, 2.0), time=1.0),
        g("pauliexp", 0, 1, terms=("X",), coefficients=(1.0,), time=1.0),
    ],
)
def test_malformed_gates_are_invalid_input(gate: Gate) -> None:
    with pytest.raises(InvalidCircuitError) as caught:
        ideal_probabilities(2, [gate])
    assert caught.value.failure_code == "InvalidInput"


def test_simulation_errors_are_value_errors_with_failure_codes() -> None:
    assert issubclass(SimulationError, ValueError)
    assert UnsupportedGateError.failure_code == "UnsupportedGate"
    assert TooManyQubitsError.failure_code == "NotEnoughQubits"


def test_too_many_qubits_fails_before_allocating() -> None:
    with pytest.raises(TooManyQubitsError):
        ideal_probabilities(30, [g("h", 0)])
    with pytest.raises(TooManyQubitsError):
        noisy_histogram(26, [g("h", 0)], 10, model="aria-1", seed=1)
    with pytest.raises(TooManyQubitsError):
        noisy_histogram(12, [g("h", 0)], 10, model="harmony-1", seed=1)


def test_qubit_limits_follow_the_api_notes() -> None:
    assert MAX_QUBITS["ideal"] == MAX_QUBITS["forte-1"] == 29
    assert MAX_QUBITS["aria-1"] == MAX_QUBITS["aria-2"] == 25
    assert MAX_QUBITS["harmony"] == 11
    assert set(MAX_QUBITS) == set(NOISE_MODELS)


# --------------------------------------------------------------------------- noise


def odd_parity_fraction(histogram: dict[int, int]) -> float:
    shots = sum(histogram.values())
    return sum(count for key, count in histogram.items() if key in (1, 2)) / shots


@pytest.mark.parametrize("model", sorted(NOISE_MODELS))
@pytest.mark.parametrize("shots", [1, 17, 1000, 100_000])
def test_histogram_counts_sum_to_shots(model: str, shots: int) -> None:
    gates = [*BELL, g("ry", 1, rotation=0.4), g("xx", 0, 1, rotation=0.3)]
    histogram = noisy_histogram(2, gates, shots, model=model, seed=3)
    assert sum(histogram.values()) == shots
    assert all(type(k) is int and type(v) is int and v > 0 for k, v in histogram.items())


def test_zero_shots_give_an_empty_histogram() -> None:
    assert noisy_histogram(2, BELL, 0, model="aria-1", seed=1) == {}


def test_same_seed_gives_the_same_histogram() -> None:
    gates = random_circuit(5, 40, np.random.default_rng(9))
    first = noisy_histogram(5, gates, 5000, model="aria-2", seed=1234)
    second = noisy_histogram(5, gates, 5000, model="aria-2", seed=1234)
    assert first == second


def test_different_seeds_give_different_histograms() -> None:
    gates = random_circuit(5, 40, np.random.default_rng(9))
    first = noisy_histogram(5, gates, 5000, model="aria-2", seed=1)
    second = noisy_histogram(5, gates, 5000, model="aria-2", seed=2)
    assert first != second


def test_negative_seeds_are_accepted_and_deterministic() -> None:
    # The API's noise seed is an int32, so it may be negative.
    first = noisy_histogram(2, BELL, 1000, model="aria-1", seed=-5)
    assert first == noisy_histogram(2, BELL, 1000, model="aria-1", seed=-5)
    assert sum(first.values()) == 1000


def test_ideal_model_of_a_deterministic_circuit_gives_every_shot_one_outcome() -> None:
    assert noisy_histogram(3, [g("x", 0), g("x", 2)], 777, model="ideal", seed=5) == {5: 777}


def test_ideal_model_samples_the_ideal_distribution() -> None:
    gates = [g("ry", 0, rotation=1.0), g("ry", 1, rotation=2.0), g("x", 2, controls=(1,))]
    probabilities = ideal_probabilities(3, gates)
    shots = 200_000
    histogram = noisy_histogram(3, gates, shots, model="ideal", seed=8)
    assert set(histogram) == set(probabilities)
    for key, p in probabilities.items():
        sigma = math.sqrt(shots * p * (1 - p))
        assert abs(histogram[key] - shots * p) < 5 * sigma + 1


def test_noise_lowers_bell_fidelity_by_about_the_two_qubit_rate() -> None:
    # After the CNOT, 8 of the 15 non-identity 2-qubit Paulis flip exactly one qubit;
    # errors after the H do not change the populations of a Bell state.
    shots = 200_000
    for model in ("aria-1", "aria-2", "forte-1"):
        expected = NOISE_MODELS[model].two_qubit * 8 / 15
        histogram = noisy_histogram(2, BELL, shots, model=model, seed=21)
        assert 0.6 * expected < odd_parity_fraction(histogram) < 1.4 * expected


def test_noisier_models_lose_more_fidelity() -> None:
    gates = [g("h", 0), *[g("x", 1, controls=(0,)) for _ in range(9)]]
    fractions = {
        model: odd_parity_fraction(noisy_histogram(2, gates, 100_000, model=model, seed=4))
        for model in ("forte-1", "aria-1", "aria-2")
    }
    assert fractions["forte-1"] < fractions["aria-1"] < fractions["aria-2"]


def test_single_qubit_errors_flip_bits_at_two_thirds_of_the_rate() -> None:
    # X and Y flip a basis state, Z does not: P(flip) ≈ gates · r1q · 2/3.
    gates = [g("x", 0) for _ in range(40)]
    shots = 200_000
    histogram = noisy_histogram(1, gates, shots, model="harmony", seed=6)
    flipped = histogram.get(1, 0) / shots
    expected = 40 * NOISE_MODELS["harmony"].one_qubit * 2 / 3
    assert 0.7 * expected < flipped < 1.3 * expected


def test_single_qubit_errors_dephase_at_two_thirds_of_the_rate() -> None:
    # Between two H gates only Z and Y errors flip the outcome: P(flip) ≈ gates · r1q · 2/3.
    gates = [g("h", 0), *[g("z", 0) for _ in range(40)], g("h", 0)]
    shots = 200_000
    histogram = noisy_histogram(1, gates, shots, model="harmony", seed=7)
    flipped = histogram.get(1, 0) / shots
    expected = 42 * NOISE_MODELS["harmony"].one_qubit * 2 / 3
    assert 0.7 * expected < flipped < 1.3 * expected


def test_noisy_ghz_on_a_fused_size_state_keeps_most_shots_on_the_two_peaks() -> None:
    n = 14
    gates = [g("h", 0), *[g("x", q, controls=(q - 1,)) for q in range(1, n)]]
    shots = 20_000
    histogram = noisy_histogram(n, gates, shots, model="forte-1", seed=3)
    assert sum(histogram.values()) == shots
    peaks = histogram.get(0, 0) + histogram.get(2**n - 1, 0)
    # 13 CNOTs at r2q ≈ 0.005: about 6% of shots see an error.
    assert 0.85 * shots < peaks < 0.99 * shots


def test_circuits_with_many_error_patterns_still_give_plausible_histograms() -> None:
    # ~85% of shots see an error, far more distinct patterns than trajectories.
    gates = [g("h", 0), *[g("x", 1 + i % 2, controls=(0,)) for i in range(100)]]
    shots = 20_000
    histogram = noisy_histogram(3, gates, shots, model="aria-2", seed=10, max_trajectories=32)
    assert sum(histogram.values()) == shots
    ideal = ideal_probabilities(3, gates)
    kept = sum(histogram.get(key, 0) for key in ideal) / shots
    assert 0.3 < kept < 0.9


def test_native_circuits_run_under_noise() -> None:
    gates = [g("ms", 0, 1, phases=(0.0, 0.0))]
    histogram = noisy_histogram(2, gates, 50_000, model="aria-1", seed=2, gateset="native")
    assert sum(histogram.values()) == 50_000
    assert histogram[0] + histogram[3] > 49_000


def test_unknown_noise_model_is_rejected() -> None:
    with pytest.raises(UnknownNoiseModelError):
        noisy_histogram(2, BELL, 10, model="aria-9", seed=1)


def test_noise_model_aliases() -> None:
    assert canonical_noise_model("forte-enterprise-1") == "forte-1"
    assert canonical_noise_model("harmony-2") == "harmony"
    assert canonical_noise_model("aria-2") == "aria-2"
    assert NOISE_MODELS["forte-enterprise-1"] == NOISE_MODELS["forte-1"]


def test_documented_depolarizing_rates() -> None:
    assert NOISE_MODELS["aria-1"] == (0.0005, 0.0133)
    assert NOISE_MODELS["aria-2"] == (0.0006573333333333332, 0.01856)
    assert NOISE_MODELS["forte-1"] == (0.0002666666666666667, 0.004949333333333333)
    assert NOISE_MODELS["ideal"] == (0.0, 0.0)


@pytest.mark.parametrize(
    ("backend", "model"),
    [
        ("qpu.aria-1", "aria-1"),
        ("qpu.aria-2", "aria-2"),
        ("qpu.forte-1", "forte-1"),
        ("qpu.forte-enterprise-1", "forte-1"),
        ("simulator", None),
        ("qpu.unknown-7", None),
    ],
)
def test_qpu_backends_map_to_noise_models(backend: str, model: str | None) -> None:
    assert noise_model_for_backend(backend) == model
