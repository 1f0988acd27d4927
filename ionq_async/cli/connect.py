"""The client a command talks to: configured from the options, or an in-process emulator."""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from .._retry import RetryPolicy
from .._transport import check_base_url
from ..client import Client
from ..emulator import Emulator
from ..exceptions import ConfigurationError
from .exit_codes import MissingKeyError, fail

__all__ = ["JOB_ID_COMMANDS", "KEYLESS_COMMANDS", "open_client"]

KEYLESS_COMMANDS = frozenset({"backends", "emulator", "demo"})
JOB_ID_COMMANDS = frozenset({"status", "result", "cost", "cancel"})
"""Commands that name an existing job: a fresh ``--emulator`` can never know it."""


@asynccontextmanager
async def open_client(ns: argparse.Namespace) -> AsyncIterator[Client]:
    """A Client configured from the options, or aimed at an in-process emulator."""
    options: dict[str, Any] = {}
    if ns.retries is not None:
        options["retry"] = RetryPolicy(max_attempts=ns.retries + 1)
    if ns.request_timeout is not None:
        options["timeout_s"] = ns.request_timeout
    if ns.emulator:
        async with (
            Emulator() as emu,
            Client(api_key=emu.api_key, base_url=emu.url, **options) as client,
        ):
            yield client
        return
    api_key = ns.api_key or os.environ.get("IONQ_API_KEY") or None
    base_url = ns.base_url or os.environ.get("IONQ_API_URL") or None
    if api_key is None and ns.command not in KEYLESS_COMMANDS:
        if ns.command in JOB_ID_COMMANDS:
            raise MissingKeyError("no API key: pass --api-key or set IONQ_API_KEY")
        raise MissingKeyError("no API key: pass --api-key, set IONQ_API_KEY, or add --emulator")
    if base_url is not None and not ns.allow_insecure_http:
        _check_plain_http(base_url)
    async with Client(
        api_key=api_key, base_url=base_url, allow_insecure_http=ns.allow_insecure_http, **options
    ) as client:
        yield client


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
