"""The client a command talks to: configured from the options, or an in-process emulator."""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from yarl import URL

from .._loop_servers import is_loopback_host
from .._retry import RetryPolicy
from .._transport import check_base_url
from ..client import Client
from ..emulator import Emulator
from ..exceptions import AuthenticationError, ConfigurationError, MissingKeyError, NotFoundError
from .exit_codes import fail, hint

__all__ = [
    "API_VERSION_PATH",
    "JOB_ID_COMMANDS",
    "KEYLESS_COMMANDS",
    "LOOPBACK_PLACEHOLDER_KEY",
    "open_client",
]

KEYLESS_COMMANDS = frozenset({"backends", "emulator", "demo"})
JOB_ID_COMMANDS = frozenset({"status", "result", "cost", "cancel", "resume"})
"""Commands that name an existing job: a fresh ``--emulator`` can never know it."""
LOOPBACK_PLACEHOLDER_KEY = "ionq-async-no-key-given"
"""The key sent to a loopback server when none is given: an emulator takes any key."""
API_VERSION_PATH = "/v0.4"


@asynccontextmanager
async def open_client(ns: argparse.Namespace) -> AsyncIterator[Client]:
    """A Client configured from the options, or aimed at an in-process emulator."""
    options: dict[str, Any] = {}
    if ns.retries is not None:
        options["retry"] = RetryPolicy(max_attempts=ns.retries + 1)
    if ns.request_timeout is not None:
        options["timeout_s"] = ns.request_timeout
    if ns.emulator:
        if ns.command in JOB_ID_COMMANDS:
            fail(
                f"--emulator starts a fresh in-process emulator, which knows no job: {ns.command} "
                "needs the server that ran it (--base-url, e.g. that of `ionq-async emulator`)"
            )
        async with (
            Emulator() as emu,
            Client(api_key=emu.api_key, base_url=emu.url, **options) as client,
        ):
            yield client
        return
    api_key = ns.api_key or os.environ.get("IONQ_API_KEY") or None
    base_url = ns.base_url or os.environ.get("IONQ_API_URL") or None
    url = None
    if base_url is not None:
        if not ns.allow_insecure_http:
            _check_plain_http(base_url)
        url = check_base_url(base_url, allow_insecure_http=True)
    placeholder = False
    if api_key is None and ns.command not in KEYLESS_COMMANDS:
        if url is not None and is_loopback_host(url.host):
            # A local emulator accepts any key: no need to make one up by hand.
            api_key, placeholder = LOOPBACK_PLACEHOLDER_KEY, True
        elif ns.command in JOB_ID_COMMANDS:
            raise MissingKeyError("no API key: pass --api-key or set IONQ_API_KEY")
        else:
            raise MissingKeyError("no API key: pass --api-key, set IONQ_API_KEY, or add --emulator")
    try:
        async with Client(
            api_key=api_key,
            base_url=base_url,
            allow_insecure_http=ns.allow_insecure_http,
            **options,
        ) as client:
            yield client
    except AuthenticationError as error:
        if placeholder:
            hint(
                error,
                f"no API key was given and the server at {url} wants one: pass the key it "
                "accepts with --api-key KEY or IONQ_API_KEY (`ionq-async emulator` prints its key)",
            )
        raise
    except NotFoundError as error:
        suggestion = _versioned(url)
        if suggestion is not None:
            hint(error, f"the base URL has no {API_VERSION_PATH}: did you mean {suggestion}?")
        raise


def _versioned(url: URL | None) -> URL | None:
    """The base URL with the API's version path, if it lacks one (None: it has it)."""
    if url is None or url.path.rstrip("/").endswith(API_VERSION_PATH):
        return None
    return url.with_path(url.path.rstrip("/") + API_VERSION_PATH)


def _check_plain_http(base_url: str) -> None:
    """Refuse plain http:// to a host other than loopback, naming the command line's flag."""
    # The client's own message names its keyword argument, which a shell user cannot pass.
    try:
        check_base_url(base_url, allow_insecure_http=False)
    except ConfigurationError:
        # Any other problem with the URL is reported as the client words it.
        url = check_base_url(base_url, allow_insecure_http=True)
        fail(
            f"refusing plain http:// to {url.host}: the API key would travel unencrypted; "
            "use https://, or add --allow-insecure-http if you really mean it"
        )
