"""Which event loops serve which local addresses: a process-wide registry (no I/O).

An in-process server (the emulator) records here the loop it runs on and the addresses it
listens on while it serves. A blocking caller (``SyncClient``) asks, before it blocks a
thread, whether that thread's own running loop is the one that must answer: it would wait
on a loop it is itself blocking, so nothing would answer until the timeout (the notebook
trap: ``await Emulator().start()`` in a cell, then a ``SyncClient`` call in another).

This module is neutral ground: it imports neither the client nor the emulator, so the
emulator can register without importing client code. Loops are held by weak reference;
an entry goes when its server stops or its loop is garbage-collected.
"""

from __future__ import annotations

import ipaddress
import threading
import weakref
from asyncio import AbstractEventLoop
from collections import Counter

__all__ = ["add_server", "is_loopback_host", "remove_server", "serves"]

_lock = threading.Lock()
# loop -> {(host, port): how many registrations}; a count, so that one server's removal
# leaves another registration of the same address on the same loop in place.
_servers: weakref.WeakKeyDictionary[AbstractEventLoop, Counter[tuple[str, int]]] = (
    weakref.WeakKeyDictionary()
)

_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})


def _normal_host(host: str) -> str:
    """``host`` lower-cased, without IPv6 brackets, an IP address in its canonical form."""
    host = host.strip().lower().removeprefix("[").removesuffix("]")
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        return host.removesuffix(".")


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` (and ``*.localhost``), 127.0.0.0/8 and ``::1`` (also as an
    IPv4-mapped address); resolves no name. The one such rule: the transport uses it too."""
    if not host:
        return False
    host = _normal_host(host)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def add_server(loop: AbstractEventLoop, host: str, port: int) -> None:
    """Record that ``loop`` serves ``host:port`` (until :func:`remove_server`)."""
    with _lock:
        _servers.setdefault(loop, Counter())[(_normal_host(host), port)] += 1


def remove_server(loop: AbstractEventLoop, host: str, port: int) -> None:
    """Undo one :func:`add_server` of the same arguments; nothing if there was none."""
    key = (_normal_host(host), port)
    with _lock:
        addresses = _servers.get(loop)
        if addresses is None or addresses[key] <= 0:
            return
        addresses[key] -= 1
        if addresses[key] <= 0:
            del addresses[key]
        if not addresses:
            del _servers[loop]


def serves(loop: AbstractEventLoop, host: str, port: int) -> bool:
    """True if a server registered on ``loop`` answers requests sent to ``host:port``.

    Hosts match themselves; ``localhost`` matches every loopback address and a served
    wildcard (``0.0.0.0``, ``::``) every loopback host. Names are never resolved, so
    this never blocks.
    """
    wanted = _normal_host(host)
    wanted_is_loopback = is_loopback_host(wanted)
    with _lock:
        addresses = list(_servers.get(loop, ()))
    return any(
        served_port == port and _same_server_host(served_host, wanted, wanted_is_loopback)
        for served_host, served_port in addresses
    )


def _same_server_host(served: str, wanted: str, wanted_is_loopback: bool) -> bool:
    if served == wanted:
        return True
    if not wanted_is_loopback:
        return False
    if served in _WILDCARD_HOSTS:
        return True
    # A name (localhost) on either side stands for every loopback address; two different
    # loopback addresses (127.0.0.1, 127.0.0.2) are different sockets.
    return is_loopback_host(served) and (_is_name(served) or _is_name(wanted))


def _is_name(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False
