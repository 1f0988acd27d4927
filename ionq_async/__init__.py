"""ionq_async: an asyncio-first client for the IonQ Quantum Cloud REST API v0.4."""

from __future__ import annotations

__version__ = "0.1.0"
