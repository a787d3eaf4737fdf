"""The contract every platform adapter fulfils, so the runner can start and stop them alike."""

from __future__ import annotations

from typing import Protocol

from core.platform.traits import PlatformTraits


class Adapter(Protocol):
    """A platform connection: translates platform updates into ``Engine.handle`` calls.

    ``start()`` returns once the adapter is receiving (it runs in the background);
    ``stop()`` stops receiving new messages and returns when the connection is closed.
    """

    name: str
    traits: PlatformTraits  # what the platform can do; the runner registers it with the core

    async def start(self) -> None:
        """Connect and begin receiving messages."""
        ...

    async def stop(self) -> None:
        """Stop receiving and close the connection."""
        ...
