"""The public surface is small, sorted and deliberate: a change to it must change this test."""

from __future__ import annotations

import ionq_async
import ionq_async.emulator
import ionq_async.exceptions

EXPECTED = [
    "APIError", "Artifact", "AuthenticationError", "Backend", "BadRequestError",
    "BatchEstimate", "BatchProgress", "BatchRun", "BatchTimeoutError", "BudgetExceededError",
    "Characterization", "CharacterizationPage", "Circuit", "CircuitError", "Client",
    "ClientClosedError", "Compilation", "ConfigurationError", "ConflictError", "Cost",
    "Debiasing", "ErrorMitigation", "Estimate", "Failure", "Gate", "InvalidRequestError",
    "IonQConnectionError", "IonQError", "IonQTimeoutError", "Job", "JobCanceled", "JobError",
    "JobFailed", "JobStatus", "JobUnreachableError", "JournalError", "MissingExtraError",
    "MissingKeyError", "Money", "Noise", "NotFoundError", "Outcome", "Parameter",
    "ParameterExpression", "PayloadTooLargeError", "PermissionDeniedError", "PhiChiTwirling",
    "Qasm3Program", "RateLimitError", "Readout", "ResponseError", "Result",
    "ResultsNotReadyError", "RetryPolicy", "ServerError", "Session", "SessionScope", "Settings",
    "Spend", "SyncClient", "TransportError", "WaitTimeoutError", "WhoAmI", "__version__",
    "bitstring", "circuits_from_multi_json", "counts_from_probabilities", "from_cirq",
    "from_qasm", "from_qiskit", "is_transient_failure", "marginal", "multi_circuit_json",
    "plot_results", "sample_counts", "to_bitstrings", "to_dataframe", "to_rows", "track_cost"
]  # fmt: skip


def test_all_is_pinned() -> None:
    assert ionq_async.__all__ == EXPECTED


def test_all_is_sorted() -> None:
    assert ionq_async.__all__ == sorted(ionq_async.__all__)


def test_no_stray_names_are_public() -> None:
    # Every public attribute is in __all__ or is a submodule (a ``from __future__ import
    # annotations`` in the package once made ``ionq_async.annotations`` visible).
    import types

    stray = [
        name
        for name in dir(ionq_async)
        if not name.startswith("_")
        and name not in ionq_async.__all__
        and not isinstance(getattr(ionq_async, name), types.ModuleType)
    ]
    assert stray == []


def test_a_missing_key_is_its_own_configuration_error() -> None:
    assert issubclass(ionq_async.MissingKeyError, ionq_async.ConfigurationError)


def test_every_name_in_all_exists() -> None:
    for name in ionq_async.__all__:
        assert hasattr(ionq_async, name), name


def test_every_exception_derives_from_ionq_error() -> None:
    for name in ionq_async.exceptions.__all__:
        value = getattr(ionq_async.exceptions, name)
        if isinstance(value, type):
            assert issubclass(value, ionq_async.exceptions.IonQError), name


def test_every_exception_is_drawn_in_the_tree() -> None:
    tree = ionq_async.exceptions.__doc__ or ""
    for name in ionq_async.exceptions.__all__:
        if isinstance(getattr(ionq_async.exceptions, name), type):
            assert name in tree, name


def test_the_emulator_package_exports_its_entry_points() -> None:
    assert {"Emulator", "EmulatorConfig", "FaultConfig", "ManualClock"} <= set(
        ionq_async.emulator.__all__
    )


def test_the_batch_module_re_exports_exactly_its_public_values() -> None:
    # ionq_async.batch is a facade over ionq_async._batch and ionq_async._flow: patch
    # names where they are defined, never here (a patch here would reach nothing).
    import ionq_async.batch

    assert ionq_async.batch.__all__ == [
        "TOKEN_METADATA_KEY", "AdaptiveLimiter", "BatchProgress", "BatchRun", "Outcome",
        "PackLimits", "PollSchedule", "RatePacer", "plan_packs",
    ]  # fmt: skip
    for name in ionq_async.batch.__all__:
        value = getattr(ionq_async.batch, name)
        if isinstance(value, type):
            assert value.__module__.startswith(("ionq_async._batch.", "ionq_async._flow")), name
