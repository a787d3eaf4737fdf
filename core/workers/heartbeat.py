"""The heartbeat of a worker: every third of ``workers.lease_s`` it renews what this process
holds (its leases, its job claims), so they expire only when the process is gone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("relaybot.workers")

Beat = Callable[[], Awaitable[object]]


class Heartbeat:
    """Calls each registered renewal every ``lease_s / 3`` seconds until ``stop()``. A failed
    renewal is logged and tried again at the next beat; holds last a full ``lease_s``, so two
    beats may fail before anything expires."""

    def __init__(self, lease_s: float) -> None:
        self.interval_s = max(0.05, lease_s / 3)
        self._beats: list[tuple[str, Beat]] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, name: str, beat: Beat) -> None:
        self._beats.append((name, beat))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="worker-heartbeat")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def beat_once(self) -> None:
        for name, beat in self._beats:
            try:
                await beat()
            except Exception as exc:  # the database, most likely: the next beat tries again
                log.warning("could not renew %s: %s", name, exc)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.beat_once()


__all__ = ["Heartbeat"]
