"""Leases: a named hold on a piece of shared work (a Telegram chat) that one worker keeps while
it renews it. A worker that dies renews nothing, and after ``lease_s`` another worker may take
the lease over. Expiry is judged by the database server's clock, so the workers' clocks may
disagree without harm.

On SQLite (one process) a lease is always free or this process's own: the same statements
run, and nothing waits on them.
"""

from __future__ import annotations

import logging
import secrets

from core.storage.store import Store
from core.workers.sql import write

log = logging.getLogger("relaybot.workers")


def holder_name(worker: str) -> str:
    """The name this process holds leases and claims under: the worker's name and a random
    part, so a worker restarted under the same name never mistakes its dead self's holds for
    its own."""
    return f"{worker}/{secrets.token_hex(3)}"


class Leases:
    """The ``leases`` table, for one holder. Every statement is one short transaction."""

    def __init__(self, store: Store, holder: str, lease_s: float) -> None:
        self._store = store
        self.holder = holder
        self.lease_s = float(lease_s)

    def _now(self) -> str:
        return self._store.dialect.now()

    async def acquire(self, name: str) -> bool:
        """Take ``name`` if it is free, expired or already ours (then it is renewed)."""
        now = self._now()
        changed = await write(
            self._store,
            f"INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, {now} + ?)"
            " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
            f" expires_at = excluded.expires_at WHERE leases.expires_at < {now}"
            " OR leases.holder = excluded.holder",
            (name, self.holder, self.lease_s),
        )
        return changed == 1

    async def renew(self) -> int:
        """Push back the expiry of every lease this holder has; how many it has."""
        return await write(
            self._store,
            f"UPDATE leases SET expires_at = {self._now()} + ? WHERE holder = ?",
            (self.lease_s, self.holder),
        )

    async def release(self, name: str) -> bool:
        sql = "DELETE FROM leases WHERE name = ? AND holder = ?"
        return await write(self._store, sql, (name, self.holder)) == 1

    async def release_all(self) -> int:
        """At a clean stop: every lease of this holder, so others take over at once."""
        return await write(self._store, "DELETE FROM leases WHERE holder = ?", (self.holder,))

    async def held(self) -> list[str]:
        rows = await self._store.query(
            f"SELECT name FROM leases WHERE holder = ? AND expires_at >= {self._now()}"
            " ORDER BY name",
            (self.holder,),
        )
        return [str(r[0]) for r in rows]


__all__ = ["Leases", "holder_name"]
