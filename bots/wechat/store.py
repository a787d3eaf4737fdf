"""The WeChat bridge's tables (migration of issue 11 in core/storage/schema_*.py): answered
messages, the outbox, stored media, conversation refs and the link-signing key."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.storage.store import Store


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of the outbox, as the plugin gets it."""

    delivery_id: str
    job_id: str | None
    status: str
    chat_id: str
    user_id: str
    parts: list[dict[str, Any]]
    created_at: float


@dataclass(frozen=True, slots=True)
class Media:
    mime: str
    filename: str
    data: bytes


class BridgeStore:
    """Statements on the bridge's tables, through the process's one ``Store``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def clock(self) -> Any:
        return self._store.clock

    async def signing_key(self) -> bytes:
        """The random key media links are signed with, made once and kept in the database
        (links keep working across restarts and token changes)."""
        rows = await self._store.query("SELECT value FROM wechat_keys WHERE name = 'media'")
        if rows:
            return bytes(rows[0][0])
        async with self._store.transaction() as tx:
            await tx.execute(
                "INSERT INTO wechat_keys (name, value) VALUES ('media', ?) ON CONFLICT DO NOTHING",
                (secrets.token_bytes(32),),
            )
        rows = await self._store.query("SELECT value FROM wechat_keys WHERE name = 'media'")
        return bytes(rows[0][0])

    # --- messages: dedupe on message_id -----------------------------------------------------

    async def answered(self, instance: str, message_id: str) -> tuple[str, str | None] | None:
        """(request_id, stored reply or None while it is being answered), or None if new."""
        rows = await self._store.query(
            "SELECT request_id, reply FROM wechat_messages WHERE instance = ? AND message_id = ?",
            (instance, message_id),
        )
        return (str(rows[0][0]), rows[0][1]) if rows else None

    async def claim(self, instance: str, message_id: str, request_id: str) -> bool:
        """Record that ``message_id`` is being answered; False if it already was."""
        async with self._store.transaction() as tx:
            added = await tx.execute(
                "INSERT INTO wechat_messages (instance, message_id, request_id, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (instance, message_id, request_id, float(self._store.clock())),
            )
            return added == 1

    async def save_reply(self, instance: str, message_id: str, reply: dict[str, Any]) -> None:
        async with self._store.transaction() as tx:
            await tx.execute(
                "UPDATE wechat_messages SET reply = ? WHERE instance = ? AND message_id = ?",
                (json.dumps(reply, ensure_ascii=False), instance, message_id),
            )

    # --- conversation refs ------------------------------------------------------------------

    async def save_ref(self, chat_id: str, user_id: str, ref: dict[str, Any]) -> None:
        async with self._store.transaction() as tx:
            await tx.execute(
                "INSERT INTO wechat_refs (chat_id, user_id, ref, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(chat_id, user_id) DO UPDATE SET ref = excluded.ref,"
                " updated_at = excluded.updated_at",
                (chat_id, user_id, json.dumps(ref, ensure_ascii=False), float(self._store.clock())),
            )

    async def ref(self, chat_id: str, user_id: str) -> dict[str, Any]:
        rows = await self._store.query(
            "SELECT ref FROM wechat_refs WHERE chat_id = ? AND user_id = ?", (chat_id, user_id)
        )
        if not rows:
            rows = await self._store.query(  # a shared group: any member's ref reaches it
                "SELECT ref FROM wechat_refs WHERE chat_id = ? ORDER BY updated_at DESC LIMIT 1",
                (chat_id,),
            )
        found: dict[str, Any] = json.loads(rows[0][0]) if rows else {}
        return found

    # --- the outbox -------------------------------------------------------------------------

    async def add_delivery(
        self,
        instance: str,
        job_id: str | None,
        status: str,
        chat_id: str,
        user_id: str,
        parts: Sequence[dict[str, Any]],
        ttl_s: float,
    ) -> str:
        now = float(self._store.clock())
        delivery_id = "d_" + secrets.token_hex(8)
        async with self._store.transaction() as tx:
            await tx.execute(
                "INSERT INTO wechat_outbox (delivery_id, instance, job_id, status, chat_id,"
                " user_id, parts, created_at, visible_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    delivery_id,
                    instance,
                    job_id,
                    status,
                    chat_id,
                    user_id,
                    json.dumps(list(parts), ensure_ascii=False),
                    now,
                    now,
                    now + ttl_s,
                ),
            )
        return delivery_id

    async def lease(self, instance: str, limit: int, visibility_s: float) -> list[Delivery]:
        """Up to ``limit`` deliveries not acked, not expired and not leased now; each is
        hidden for ``visibility_s`` (offered again after that unless acked)."""
        now = float(self._store.clock())
        async with self._store.transaction() as tx:
            # SKIP LOCKED (PostgreSQL): two workers leasing at once get different rows
            rows = await tx.fetch(
                "SELECT id, delivery_id, job_id, status, chat_id, user_id, parts, created_at"
                " FROM wechat_outbox WHERE instance = ? AND acked_at IS NULL"
                " AND visible_at <= ? AND expires_at > ? ORDER BY id LIMIT ?"
                + tx.dialect.skip_locked(),
                (instance, now, now, limit),
            )
            if rows:
                marks = ",".join("?" * len(rows))
                await tx.execute(
                    f"UPDATE wechat_outbox SET visible_at = ? WHERE id IN ({marks})",
                    (now + visibility_s, *[r[0] for r in rows]),
                )
        return [
            Delivery(
                str(r[1]), r[2], str(r[3]), str(r[4]), str(r[5]), json.loads(r[6]), float(r[7])
            )
            for r in rows
        ]

    async def ack(self, instance: str, results: dict[str, str]) -> int:
        """Mark deliveries done (never offered again); how many were open."""
        now = float(self._store.clock())
        done = 0
        async with self._store.transaction() as tx:
            for delivery_id, result in results.items():
                done += await tx.execute(
                    "UPDATE wechat_outbox SET acked_at = ?, result = ? WHERE instance = ?"
                    " AND delivery_id = ? AND acked_at IS NULL",
                    (now, result, instance, delivery_id),
                )
        return done

    async def job_parts(self, job_id: str) -> list[dict[str, Any]]:
        rows = await self._store.query(
            "SELECT parts FROM wechat_outbox WHERE job_id = ? ORDER BY id", (job_id,)
        )
        return [part for row in rows for part in json.loads(row[0])]

    # --- media ------------------------------------------------------------------------------

    async def put_media(self, mime: str, filename: str, data: bytes, ttl_s: float) -> str:
        media_id = secrets.token_hex(12)
        now = float(self._store.clock())
        async with self._store.transaction() as tx:
            await tx.execute(
                "INSERT INTO wechat_media (id, mime, filename, data, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (media_id, mime, filename, data, now, now + ttl_s),
            )
        return media_id

    async def media(self, media_id: str) -> Media | None:
        rows = await self._store.query(
            "SELECT mime, filename, data FROM wechat_media WHERE id = ? AND expires_at > ?",
            (media_id, self._store.clock()),
        )
        return Media(str(rows[0][0]), str(rows[0][1]), bytes(rows[0][2])) if rows else None

    async def purge(self, messages_before: float) -> None:
        """Drop expired media and deliveries, and dedupe records older than the bound."""
        now = float(self._store.clock())
        async with self._store.transaction() as tx:
            await tx.execute("DELETE FROM wechat_media WHERE expires_at <= ?", (now,))
            await tx.execute("DELETE FROM wechat_outbox WHERE expires_at <= ?", (now,))
            await tx.execute("DELETE FROM wechat_messages WHERE created_at < ?", (messages_before,))


__all__ = ["BridgeStore", "Delivery", "Media"]
