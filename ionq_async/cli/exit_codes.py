"""The command's exit codes, its own errors, and which code each error ends with."""

from __future__ import annotations

import enum
from typing import NoReturn

from ..exceptions import (
    APIError,
    BudgetExceededError,
    CircuitError,
    ConfigurationError,
    InvalidRequestError,
    IonQError,
    JobError,
    JournalError,
    MissingKeyError,
    ResponseError,
    TransportError,
)

__all__ = [
    "ExitCode",
    "InputFileError",
    "MissingKeyError",
    "SpendingNotConfirmedError",
    "exit_code_for",
    "fail",
    "hint",
    "hints",
    "invalid",
]


class ExitCode(enum.IntEnum):
    """The documented exit codes of ``ionq-async``."""

    OK = 0
    JOB_FAILED = 1
    USAGE = 2
    API = 3
    NETWORK = 4
    INVALID_INPUT = 5
    NOT_CONFIRMED = 6
    OVER_BUDGET = 7
    INTERNAL = 70
    INTERRUPTED = 130


# MissingKeyError (no API key for a command that needs one) is the library's own, from
# ionq_async.exceptions: exit 3, like a rejected key.


class InputFileError(IonQError):
    """A file given on the command line cannot be read or is not a job input (exit 5)."""


class SpendingNotConfirmedError(IonQError):
    """Jobs that cost money were not sent: no one confirmed the projected cost (exit 6).

    Off a terminal (nothing to ask) without ``--yes``, or answered anything but yes at
    the prompt. Its own code, not usage (2): the command line was right, and a script can
    tell "review the price, then add --yes" apart from a typo.
    """


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code the command ends with after ``error``."""
    match error:
        case SpendingNotConfirmedError():
            return ExitCode.NOT_CONFIRMED
        case BudgetExceededError():
            # Before any job (nothing sent), or the outcome of circuits left unsent.
            return ExitCode.OVER_BUDGET
        case JobError():
            return ExitCode.JOB_FAILED
        case MissingKeyError():
            return ExitCode.API
        case InputFileError() | CircuitError() | InvalidRequestError() | JournalError():
            return ExitCode.INVALID_INPUT
        case ConfigurationError():
            return ExitCode.USAGE
        case TransportError():
            return ExitCode.NETWORK
        case APIError() | ResponseError():
            return ExitCode.API
        case KeyboardInterrupt():
            return ExitCode.INTERRUPTED
        case _:
            return ExitCode.INTERNAL


def fail(message: str) -> NoReturn:
    """Stop the command with a usage error (exit 2)."""
    raise ConfigurationError(message)


def invalid(message: str) -> NoReturn:
    """Stop the command with an invalid-input error (exit 5)."""
    raise InvalidRequestError(message)


HINT_PREFIX = "hint: "


def hint(error: BaseException, text: str) -> None:
    """Attach a pointer to the fix to ``error``; the command prints it after the error."""
    error.add_note(HINT_PREFIX + text)


def hints(error: BaseException) -> list[str]:
    """The hints attached to ``error`` by :func:`hint`."""
    notes = getattr(error, "__notes__", None) or []
    return [note for note in notes if isinstance(note, str) and note.startswith(HINT_PREFIX)]
