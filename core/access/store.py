"""The access tables: admins' allow/block rules and the ledger of what each user spent."""

from __future__ import annotations

from dataclasses import dataclass

from core.access.ids import Who
from core.storage.sqlite import SqliteStore


@dataclass(frozen=True, slots=True)
class Rules:
    """What admins set at run time (``/allow``, ``/block``), by ``platform:id``."""

    allowed: frozenset[str] = frozenset()
    blocked: frozenset[str] = frozenset()


class AccessStore:
    """Statements on the tables of issue 12, on the process's one database."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    @property
    def db(self) -> SqliteStore:
        return self._store

    # --- rules -----------------------------------------------------------------------------

    async def rules(self) -> Rules:
        rows = await self._store.query("SELECT subject, rule FROM access_rules")
        allowed = frozenset(str(s) for s, r in rows if r == "allow")
        blocked = frozenset(str(s) for s, r in rows if r == "block")
        return Rules(allowed, blocked)

    async def set_rule(self, subject: str, rule: str | None, by: str) -> None:
        """``rule`` "allow" or "block" for ``subject``; None removes its rule."""
        async with self._store.transaction() as db:
            if rule is None:
                await db.execute("DELETE FROM access_rules WHERE subject = ?", (subject,))
            else:
                await db.execute(
                    "INSERT INTO access_rules (subject, rule, set_by, created_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT(subject) DO UPDATE SET rule = excluded.rule,"
                    " set_by = excluded.set_by, created_at = excluded.created_at",
                    (subject, rule, by, self._store.clock()),
                )

    # --- the ledger ------------------------------------------------------------------------

    async def add(
        self, who: Who, kind: str, amount: int, model: str = "", ref: str | None = None
    ) -> int:
        """Record ``amount`` of ``kind`` used by ``who``; the row's id."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO quota_events (platform, user_id, chat, kind, amount, model, ref,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    who.platform,
                    who.user_id,
                    who.chat,
                    kind,
                    amount,
                    model,
                    ref,
                    self._store.clock(),
                ),
            )
            return int(cursor.lastrowid or 0)

    async def set_ref(self, event_id: int, ref: str) -> None:
        async with self._store.transaction() as db:
            await db.execute("UPDATE quota_events SET ref = ? WHERE id = ?", (ref, event_id))

    async def remove(self, ref: str) -> int:
        """Give back what was charged under ``ref``; how many rows it was."""
        async with self._store.transaction() as db:
            cursor = await db.execute("DELETE FROM quota_events WHERE ref = ?", (ref,))
            return int(cursor.rowcount or 0)

    async def remove_id(self, event_id: int) -> None:
        async with self._store.transaction() as db:
            await db.execute("DELETE FROM quota_events WHERE id = ?", (event_id,))

    async def settle(self, event_id: int, amount: int) -> None:
        """Replace an estimate by the real figure."""
        async with self._store.transaction() as db:
            await db.execute("UPDATE quota_events SET amount = ? WHERE id = ?", (amount, event_id))

    async def used_by_user(self, who: Who, kind: str, since: float) -> int:
        rows = await self._store.query(
            "SELECT COALESCE(SUM(amount), 0) FROM quota_events"
            " WHERE platform = ? AND user_id = ? AND kind = ? AND created_at >= ?",
            (who.platform, who.user_id, kind, since),
        )
        return int(rows[0][0])

    async def used_in_chat(self, chat: str, kind: str, since: float) -> int:
        rows = await self._store.query(
            "SELECT COALESCE(SUM(amount), 0) FROM quota_events"
            " WHERE chat = ? AND kind = ? AND created_at >= ?",
            (chat, kind, since),
        )
        return int(rows[0][0])

    async def totals(self, since: float) -> list[tuple[str, str, int, int]]:
        """(kind, model, amount, count) of everyone since ``since``."""
        rows = await self._store.query(
            "SELECT kind, model, SUM(amount), COUNT(*) FROM quota_events WHERE created_at >= ?"
            " GROUP BY kind, model ORDER BY kind, SUM(amount) DESC",
            (since,),
        )
        return [(str(k), str(m), int(a), int(c)) for k, m, a, c in rows]

    async def top_users(self, since: float, limit: int = 5) -> list[tuple[str, str, int, int]]:
        """The users who used most since ``since``: (platform:id, kind, amount, count)."""
        rows = await self._store.query(
            "SELECT platform || ':' || user_id AS who, kind, SUM(amount), COUNT(*)"
            " FROM quota_events WHERE created_at >= ? AND kind != 'message' AND kind != 'error'"
            " GROUP BY who, kind ORDER BY COUNT(*) DESC, SUM(amount) DESC LIMIT ?",
            (since, limit),
        )
        return [(str(w), str(k), int(a), int(c)) for w, k, a, c in rows]

    async def stats(self) -> dict[str, object]:
        """Counts for /stats over everything kept."""
        q = self._store.query
        users = await q(
            "SELECT COUNT(*) FROM (SELECT DISTINCT platform, user_id FROM quota_events)"
        )
        chats = await q("SELECT COUNT(DISTINCT chat) FROM quota_events WHERE chat != ''")
        messages = await q("SELECT COUNT(*) FROM quota_events WHERE kind = 'message'")
        jobs = await q("SELECT COUNT(*), COALESCE(SUM(state = 'failed'), 0) FROM jobs")
        errors = await q(
            "SELECT model, COUNT(*) FROM quota_events WHERE kind = 'error'"
            " GROUP BY model ORDER BY COUNT(*) DESC"
        )
        return {
            "users": int(users[0][0]),
            "chats": int(chats[0][0]),
            "messages": int(messages[0][0]),
            "jobs": int(jobs[0][0]),
            "failed": int(jobs[0][1]),
            "errors": [(str(c), int(n)) for c, n in errors],
        }
