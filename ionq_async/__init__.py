"""ionq_async: an asyncio-first client for the IonQ Quantum Cloud REST API v0.4.

::

    import ionq_async as ionq

    async with ionq.Client() as client:          # key: api_key= or IONQ_API_KEY
        bell = ionq.Circuit(qubits=2).h(0).cnot(0, 1)
        result = await client.run(bell, backend="simulator", shots=1000)
        result.bitstring_counts()                # {"00": 500, "11": 500}; qubit 0 rightmost

The offline emulator lives in :mod:`ionq_async.emulator`; every error in
:mod:`ionq_async.exceptions`; a blocking facade in :mod:`ionq_async.sync`.
"""

from ._batch.handle import BatchRun
from ._batch.pricing import BatchEstimate
from ._batch.values import BatchProgress, Outcome
from ._failures import is_transient_failure
from ._plot import plot_results
from ._retry import RetryPolicy
from ._sessions import SessionScope
from ._spend import Spend, track_cost
from .circuits import Circuit, Gate, circuits_from_multi_json, multi_circuit_json
from .client import Client
from .exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    BatchTimeoutError,
    BudgetExceededError,
    CircuitError,
    ClientClosedError,
    ConfigurationError,
    ConflictError,
    InvalidRequestError,
    IonQConnectionError,
    IonQError,
    IonQTimeoutError,
    JobCanceled,
    JobError,
    JobFailed,
    JobUnreachableError,
    JournalError,
    MissingExtraError,
    MissingKeyError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ResponseError,
    ResultsNotReadyError,
    ServerError,
    TransportError,
    WaitTimeoutError,
)
from .interop import from_cirq, from_qasm, from_qiskit
from .models import (
    Artifact,
    Backend,
    Characterization,
    CharacterizationPage,
    Cost,
    Estimate,
    Failure,
    Job,
    JobStatus,
    Money,
    Noise,
    Session,
    WhoAmI,
)
from .parameters import Parameter, ParameterExpression
from .programs import Qasm3Program
from .readout import Readout
from .results import (
    Result,
    bitstring,
    counts_from_probabilities,
    marginal,
    sample_counts,
    to_bitstrings,
)
from .settings import Compilation, Debiasing, ErrorMitigation, PhiChiTwirling, Settings
from .sync import SyncClient
from .tables import to_dataframe, to_rows

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "Artifact",
    "AuthenticationError",
    "Backend",
    "BadRequestError",
    "BatchEstimate",
    "BatchProgress",
    "BatchRun",
    "BatchTimeoutError",
    "BudgetExceededError",
    "Characterization",
    "CharacterizationPage",
    "Circuit",
    "CircuitError",
    "Client",
    "ClientClosedError",
    "Compilation",
    "ConfigurationError",
    "ConflictError",
    "Cost",
    "Debiasing",
    "ErrorMitigation",
    "Estimate",
    "Failure",
    "Gate",
    "InvalidRequestError",
    "IonQConnectionError",
    "IonQError",
    "IonQTimeoutError",
    "Job",
    "JobCanceled",
    "JobError",
    "JobFailed",
    "JobStatus",
    "JobUnreachableError",
    "JournalError",
    "MissingExtraError",
    "MissingKeyError",
    "Money",
    "Noise",
    "NotFoundError",
    "Outcome",
    "Parameter",
    "ParameterExpression",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PhiChiTwirling",
    "Qasm3Program",
    "RateLimitError",
    "Readout",
    "ResponseError",
    "Result",
    "ResultsNotReadyError",
    "RetryPolicy",
    "ServerError",
    "Session",
    "SessionScope",
    "Settings",
    "Spend",
    "SyncClient",
    "TransportError",
    "WaitTimeoutError",
    "WhoAmI",
    "__version__",
    "bitstring",
    "circuits_from_multi_json",
    "counts_from_probabilities",
    "from_cirq",
    "from_qasm",
    "from_qiskit",
    "is_transient_failure",
    "marginal",
    "multi_circuit_json",
    "plot_results",
    "sample_counts",
    "to_bitstrings",
    "to_dataframe",
    "to_rows",
    "track_cost",
]
