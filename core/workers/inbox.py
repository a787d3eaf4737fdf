"""The inbox of updates a platform pushed to us (Telegram webhooks), shared by every worker.

An update is stored before the platform hears "200" (so a worker killed right after loses
nothing), under a unique (source, update_id): the same update delivered again, to any
worker, is stored once and answered once. Each row names its ``chat``, which is also the
name of the lease a worker holds while it answers that chat's updates: one worker at a time
per chat, in update order.

States: ``pending`` (stored, nobody took it yet), ``taken`` (a worker is answering it),
``done``, ``interrupted`` (its worker died while answering: never answered twice; its user is
told to send it again).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.storage.store import Store
from core.workers.sql import write

PENDING = "pending"
TAKEN = "taken"
DONE = "done"
INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class InboxRow:
    update_id: int
    chat: str
    payload: dict[str, Any]


class Inbox:
    """Statements on the ``inbox`` table for one ``source`` (``telegram:<bot id>``)."""

    def __init__(self, store: Store, source: str, holder: str) -> None:
        self._store = store
        self.source = source
        self.holder = holder

    def now(self) -> float:
        return float(self._store.clock())

    async def accept(self, update_id: int, chat: str, payload: dict[str, Any]) -> bool:
        """Store an update; False when it was stored before (a platform's retry)."""
        sql = self._store.dialect.insert_ignore(
            "inbox", ("source", "update_id", "chat", "payload", "state", "created_at")
        )
        text = json.dumps(payload, ensure_ascii=False)
        now = float(self._store.clock())
        stored = await write(self._store, sql, (self.source, update_id, chat, text, PENDING, now))
        return stored == 1

    async def ready_chats(self, limit: int = 50) -> list[str]:
        """Chats this worker may take now, oldest waiting update first: with updates
        waiting or left by a dead worker, and no lease of another live worker."""
        now = self._store.dialect.now()
        rows = await self._store.query(
            "SELECT chat, MIN(update_id) AS first FROM inbox i WHERE source = ?"
            " AND (state = ? OR (state = ? AND holder <> ?)) AND NOT EXISTS (SELECT 1"
            f" FROM leases l WHERE l.name = i.chat AND l.expires_at >= {now} AND l.holder <> ?)"
            " GROUP BY chat ORDER BY first LIMIT ?",
            (self.source, PENDING, TAKEN, self.holder, self.holder, limit),
        )
        return [str(r[0]) for r in rows]

    async def take(self, chat: str) -> tuple[list[InboxRow], list[InboxRow]]:
        """With ``chat``'s lease held: (updates now ours to answer, in order; updates a dead
        worker was answering, now marked interrupted)."""
        async with self._store.transaction() as tx:
            lost = await tx.fetch(
                "UPDATE inbox SET state = ? WHERE source = ? AND chat = ? AND state = ?"
                " AND holder <> ? RETURNING update_id, chat, payload",
                (INTERRUPTED, self.source, chat, TAKEN, self.holder),
            )
            taken = await tx.fetch(
                "UPDATE inbox SET state = ?, holder = ? WHERE source = ? AND chat = ?"
                " AND state = ? RETURNING update_id, chat, payload",
                (TAKEN, self.holder, self.source, chat, PENDING),
            )
        return _rows(taken), _rows(lost)

    async def finish(self, update_id: int) -> None:
        await write(
            self._store,
            "UPDATE inbox SET state = ? WHERE source = ? AND update_id = ? AND holder = ?"
            " AND state = ?",
            (DONE, self.source, update_id, self.holder, TAKEN),
        )

    async def put_back(self, update_ids: list[int]) -> None:
        """Updates taken but never started (a clean stop): another worker answers them."""
        async with self._store.transaction() as tx:
            for update_id in update_ids:
                await tx.execute(
                    "UPDATE inbox SET state = ?, holder = NULL WHERE source = ?"
                    " AND update_id = ? AND holder = ? AND state = ?",
                    (PENDING, self.source, update_id, self.holder, TAKEN),
                )

    async def release_if_idle(self, chat: str) -> bool:
        """Give ``chat``'s lease back unless updates of it wait or are being answered here;
        whether it was given back."""
        released = await write(
            self._store,
            "DELETE FROM leases WHERE name = ? AND holder = ? AND NOT EXISTS"
            " (SELECT 1 FROM inbox WHERE source = ? AND chat = ? AND (state = ?"
            " OR (state = ? AND holder = ?)))",
            (chat, self.holder, self.source, chat, PENDING, TAKEN, self.holder),
        )
        return released == 1

    async def purge(self, before: float) -> int:
        """Forget answered updates stored before ``before`` (the dedupe window ends)."""
        async with self._store.transaction() as tx:
            return await tx.execute(
                "DELETE FROM inbox WHERE source = ? AND state IN (?, ?) AND created_at < ?",
                (self.source, DONE, INTERRUPTED, before),
            )

    async def states(self) -> dict[int, str]:
        """update_id -> state (for tests and operators)."""
        rows = await self._store.query(
            "SELECT update_id, state FROM inbox WHERE source = ?", (self.source,)
        )
        return {int(r[0]): str(r[1]) for r in rows}


def _rows(rows: list[Any]) -> list[InboxRow]:
    found = [InboxRow(int(r[0]), str(r[1]), json.loads(r[2])) for r in rows]
    return sorted(found, key=lambda row: row.update_id)


__all__ = ["DONE", "INTERRUPTED", "PENDING", "TAKEN", "Inbox", "InboxRow"]
