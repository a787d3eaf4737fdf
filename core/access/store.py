"""The access tables: admins' allow/block rules and the ledger of what each user spent."""

from __future__ import annotations

from dataclasses import dataclass

from core.access.ids import Who
from core.storage.store import Store


@dataclass(frozen=True, slots=True)
class Rules:
    """What admins set at run time (``/allow``, ``/block``), by ``platform:id``."""

    allowed: frozenset[str] = frozenset()
    blocked: frozenset[str] = frozenset()


class AccessStore:
    """Statements on the tables of issue 12, on the process's one database."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def db(self) -> Store:
        return self._store

    # --- rules -----------------------------------------------------------------------------

    async def rules(self) -> Rules:
        rows = await self._store.query("SELECT subject, rule FROM access_rules")
        allowed = frozenset(str(s) for s, r in rows if r == "allow")
        blocked = frozenset(str(s) for s, r in rows if r == "block")
        return Rules(allowed, blocked)

    async def set_rule(self, subject: str, rule: str | None, by: str) -> None:
        """``rule`` "allow" or "block" for ``subject``; None removes its rule."""
        columns = ("subject", "rule", "set_by", "created_at")
        async with self._store.transaction() as tx:
            if rule is None:
                await tx.execute("DELETE FROM access_rules WHERE subject = ?", (subject,))
            else:
                await tx.execute(
                    tx.dialect.upsert("access_rules", columns, key=("subject",)),
                    (subject, rule, by, float(self._store.clock())),
                )

    # --- the ledger ------------------------------------------------------------------------

    async def add(
        self, who: Who, kind: str, amount: int, model: str = "", ref: str | None = None
    ) -> int:
        """Record ``amount`` of ``kind`` used by ``who``; the row's id."""
        async with self._store.transaction() as tx:
            event_id = await tx.fetchval(
                "INSERT INTO quota_events (platform, user_id, chat, kind, amount, model, ref,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    who.platform,
                    who.user_id,
                    who.chat,
                    kind,
                    amount,
                    model,
                    ref,
                    float(self._store.clock()),
                ),
            )
            return int(event_id or 0)

    async def set_ref(self, event_id: int, ref: str) -> None:
        async with self._store.transaction() as tx:
            await tx.execute("UPDATE quota_events SET ref = ? WHERE id = ?", (ref, event_id))

    async def remove(self, ref: str) -> int:
        """Give back what was charged under ``ref``; how many rows it was."""
        async with self._store.transaction() as tx:
            return await tx.execute("DELETE FROM quota_events WHERE ref = ?", (ref,))

    async def remove_id(self, event_id: int) -> None:
        async with self._store.transaction() as tx:
            await tx.execute("DELETE FROM quota_events WHERE id = ?", (event_id,))

    async def settle(self, event_id: int, amount: int) -> None:
        """Replace an estimate by the real figure."""
        async with self._store.transaction() as tx:
            await tx.execute("UPDATE quota_events SET amount = ? WHERE id = ?", (amount, event_id))

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
            "SELECT COUNT(*) FROM (SELECT DISTINCT platform, user_id FROM quota_events) AS pairs"
        )
        chats = await q("SELECT COUNT(DISTINCT chat) FROM quota_events WHERE chat != ''")
        messages = await q("SELECT COUNT(*) FROM quota_events WHERE kind = 'message'")
        failed = "CASE WHEN state = 'failed' THEN 1 ELSE 0 END"  # SUM(bool): not on PostgreSQL
        jobs = await q(f"SELECT COUNT(*), COALESCE(SUM({failed}), 0) FROM jobs")
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
