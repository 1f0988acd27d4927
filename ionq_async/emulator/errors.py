"""The API's error answers: ``{error, message, statusCode}`` (plus ``validation`` on 400)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from ._validation import BadRequest

__all__ = ["NO_SHOTS", "RESULTS_NOT_READY", "bad_request", "error_response"]

_MESSAGES: Final[dict[int, tuple[str, str]]] = {
    401: (
        "Unauthorized Error",
        "Invalid key provided. See https://docs.ionq.com/#authentication for details, "
        "or email support@ionq.co for help.",
    ),
    404: (
        "Not Found Error",
        "Resource not found. See https://docs.ionq.com/ for details, "
        "or email support@ionq.co for help.",
    ),
    405: ("Method Not Allowed", "This method is not allowed on this resource."),
    413: ("Payload Too Large", "Request Entity Too Large. The request body may not exceed 10MB."),
    429: (
        "Too Many Requests",
        "Too Many Requests. To get a higher rate limit, please reach out to support@ionq.co",
    ),
    500: (
        "Internal Server Error",
        "Internal service outage. Visit https://status.ionq.co/ to track this incident.",
    ),
    502: (
        "Bad Gateway",
        "Bad Gateway, this can be caused by misbehaving proxies, or by service issues. "
        "These can be retried, and downtime can be found on status.ionq.co",
    ),
    503: (
        "Service Unavailable",
        "Service Unavailable, this is indicative of service outage, please check status.ionq.co",
    ),
}
RESULTS_NOT_READY: Final = "Job not found or not yet completed."
"""The message of a 404 for results that do not exist (yet)."""
NO_SHOTS: Final = (
    "This job has no per-shot results: the ideal simulator computes exact probabilities."
)
"""The message of a 404 for the shots or histogram of an ideal-simulator job (with
``EmulatorConfig(ideal_shots="none")``)."""


def error_response(
    status: int,
    message: str | None = None,
    *,
    validation: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """The API's error body for ``status``."""
    title, default_message = _MESSAGES.get(status, ("Error", "Request failed."))
    if status == 400:
        title = "Bad Request"
    body: dict[str, Any] = {
        "error": title,
        "message": message if message is not None else default_message,
        "statusCode": status,
    }
    if validation is not None:
        body["validation"] = dict(validation)
    return web.json_response(body, status=status, headers=headers)


def bad_request(error: BadRequest) -> web.Response:
    """The 400 answer for ``error``, naming its keys and where they came from."""
    return error_response(
        400, error.message, validation={"keys": error.keys, "source": error.source}
    )
