"""An offline emulator of the IonQ Quantum Cloud REST API v0.4, for tests and demos.

In-process::

    async with Emulator() as emu:          # listens on 127.0.0.1, a free port
        emu.url                            # http://127.0.0.1:PORT/v0.4
        emu.api_key                        # a key it accepts

From a shell: ``python -m ionq_async.emulator --port 8000`` (or ``ionq-async emulator``).
Job lifecycles follow ``EmulatorConfig`` durations on an injectable clock (``ManualClock``
for tests); faults (429, 5xx, dropped connections, latency, a rate limit) follow
``FaultConfig``. The emulator never imports the client.
"""

from __future__ import annotations

from .clock import ManualClock
from .config import EmulatorConfig
from .faults import FaultConfig
from .server import BackgroundEmulator, Emulator
from .stats import EmulatorStats

__all__ = [
    "BackgroundEmulator",
    "Emulator",
    "EmulatorConfig",
    "EmulatorStats",
    "FaultConfig",
    "ManualClock",
]
