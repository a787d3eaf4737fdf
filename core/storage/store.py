"""The process's one store: conversation history, per-conversation settings, pictures, button
actions and usage, on either backend (``Database``). Other parts (jobs, access, the WeChat
bridge) run their own statements through ``transaction()`` and ``query()``."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from core.engine.history import Turn
from core.relay.types import Usage
from core.storage.db import Database, Dialect, Params, Row, Tx

USAGE_INSERT = (
    "INSERT INTO usage (conv_key, model, prompt_tokens, completion_tokens, total_tokens,"
    " request_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """What one relay call used, as stored with the turn it produced."""

    model: str
    usage: Usage
    request_id: str

    def row(self) -> tuple[str, int, int, int, str]:
        u = self.usage
        return (self.model, u.prompt_tokens, u.completion_tokens, u.total_tokens, self.request_id)


@dataclass(frozen=True, slots=True)
class ConversationSettings:
    """What a conversation overrides; ``None`` means the configured default."""

    model: str | None = None
    system_prompt: str | None = None
    voice_reply: bool = False  # answer a voice note with a voice message


class Store:
    """The one database of the process. ``open()`` before use, ``close()`` at shutdown."""

    def __init__(self, backend: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.backend = backend
        self._clock = clock

    # --- the contract ----------------------------------------------------------------------

    @property
    def dialect(self) -> Dialect:
        return self.backend.dialect

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    def describe(self) -> str:
        """Where the data is, as it may be shown (no password)."""
        return self.backend.describe()

    async def open(self, *, migrate: bool = True) -> None:
        await self.backend.open(migrate=migrate)

    async def close(self) -> None:
        await self.backend.close()

    async def schema_version(self) -> int:
        return await self.backend.schema_version()

    async def migrate(self) -> tuple[int, int]:
        return await self.backend.migrate()

    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        """A ``Tx`` for statements that commit together or not at all. A failed statement or
        commit rolls everything back and raises a StorageError."""
        return self.backend.transaction()

    async def query(self, sql: str, params: Params = ()) -> list[Row]:
        """The rows of one statement on its own."""
        return await self.backend.fetch(sql, params)

    async def fetchrow(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.backend.fetch(sql, params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row, or None."""
        rows = await self.backend.fetch(sql, params)
        return rows[0][0] if rows else None

    async def execute(self, sql: str, params: Params = ()) -> int:
        """One statement in a transaction of its own; how many rows it changed."""
        async with self.transaction() as tx:
            return await tx.execute(sql, params)

    # --- history ---------------------------------------------------------------------------

    async def recent_turns(self, conv_key: str, limit: int) -> list[Turn]:
        """The newest ``limit`` turns of ``conv_key``, oldest first."""
        rows = await self.query(
            "SELECT role, content, tokens FROM messages WHERE conv_key = ?"
            " ORDER BY id DESC LIMIT ?",
            (conv_key, limit),
        )
        return [Turn(role, content, int(tokens)) for role, content, tokens in reversed(rows)]

    async def append_turns(
        self, conv_key: str, turns: list[Turn], keep: int, usage: UsageRecord | None = None
    ) -> None:
        """Append ``turns`` (and the call's ``usage``) in one transaction, keeping only the
        newest ``keep`` rows of the conversation."""
        now = float(self._clock())
        async with self.transaction() as tx:
            if usage is not None:
                await tx.execute(USAGE_INSERT, (conv_key, *usage.row(), now))
            await tx.executemany(
                "INSERT INTO messages (conv_key, role, content, tokens, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(conv_key, t.role, t.content, t.tokens, now) for t in turns],
            )
            await tx.execute(
                "DELETE FROM messages WHERE conv_key = ? AND id <= ("
                " SELECT id FROM messages WHERE conv_key = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (conv_key, conv_key, keep),
            )

    async def clear_history(self, conv_key: str) -> None:
        async with self.transaction() as tx:
            await tx.execute("DELETE FROM messages WHERE conv_key = ?", (conv_key,))
            await tx.execute("DELETE FROM conv_images WHERE conv_key = ?", (conv_key,))

    # --- per-conversation settings --------------------------------------------------------

    async def get_settings(self, conv_key: str) -> ConversationSettings:
        rows = await self.query(
            "SELECT model, system_prompt, voice_reply FROM conversations WHERE conv_key = ?",
            (conv_key,),
        )
        if not rows:
            return ConversationSettings()
        return ConversationSettings(rows[0][0], rows[0][1], bool(rows[0][2]))

    async def set_model(self, conv_key: str, model: str | None) -> None:
        await self._upsert(conv_key, "model", model)

    async def set_system_prompt(self, conv_key: str, prompt: str | None) -> None:
        await self._upsert(conv_key, "system_prompt", prompt)

    async def set_voice_reply(self, conv_key: str, on: bool) -> None:
        await self._upsert(conv_key, "voice_reply", int(on))

    async def _upsert(self, conv_key: str, column: str, value: str | int | None) -> None:
        assert column in ("model", "system_prompt", "voice_reply")
        sql = self.dialect.upsert(
            "conversations", ("conv_key", column, "updated_at"), key=("conv_key",)
        )
        async with self.transaction() as tx:
            await tx.execute(sql, (conv_key, value, float(self._clock())))

    # --- the last picture of a conversation (for follow-up questions) ----------------------

    async def save_image(
        self, conv_key: str, data: bytes, mime: str, turns: int, keep: int = 5
    ) -> None:
        """Keep a small picture for the conversation; only the newest ``keep`` stay."""
        async with self.transaction() as tx:
            await tx.execute(
                "INSERT INTO conv_images (conv_key, data, mime, turns_left, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (conv_key, bytes(data), mime, turns, float(self._clock())),
            )
            await tx.execute(
                "DELETE FROM conv_images WHERE conv_key = ? AND id <= ("
                " SELECT id FROM conv_images WHERE conv_key = ? ORDER BY id DESC"
                " LIMIT 1 OFFSET ?)",
                (conv_key, conv_key, keep),
            )

    async def recent_images(
        self, conv_key: str, since: float, limit: int = 5
    ) -> list[tuple[bytes, str, int]]:
        """The conversation's pictures newer than ``since``, newest first:
        (data, mime, turns left)."""
        rows = await self.query(
            "SELECT data, mime, turns_left FROM conv_images WHERE conv_key = ? AND created_at >= ?"
            " ORDER BY id DESC LIMIT ?",
            (conv_key, float(since), limit),
        )
        return [(bytes(r[0]), str(r[1]), int(r[2])) for r in rows]

    async def recent_image(self, conv_key: str, since: float) -> tuple[bytes, str, int] | None:
        found = await self.recent_images(conv_key, since, 1)
        return found[0] if found else None

    async def use_image_turn(self, conv_key: str) -> None:
        """One follow-up question used the newest picture."""
        async with self.transaction() as tx:
            await tx.execute(
                "UPDATE conv_images SET turns_left = turns_left - 1 WHERE id = ("
                " SELECT MAX(id) FROM conv_images WHERE conv_key = ?)",
                (conv_key,),
            )

    async def forget_images(self, conv_key: str | None = None, before: float | None = None) -> None:
        """Drop the picture of one conversation, or every picture older than ``before``."""
        async with self.transaction() as tx:
            if conv_key is not None:
                await tx.execute("DELETE FROM conv_images WHERE conv_key = ?", (conv_key,))
            if before is not None:
                await tx.execute("DELETE FROM conv_images WHERE created_at < ?", (float(before),))

    # --- button actions ----------------------------------------------------------------------

    async def save_actions(self, actions: dict[str, str]) -> None:
        """Store ``token -> action`` pairs; a token already stored keeps its action."""
        now = float(self._clock())
        sql = self.dialect.insert_ignore("actions", ("token", "action", "created_at"))
        async with self.transaction() as tx:
            await tx.executemany(sql, [(token, action, now) for token, action in actions.items()])

    async def get_action(self, token: str) -> str | None:
        rows = await self.query("SELECT action FROM actions WHERE token = ?", (token,))
        return str(rows[0][0]) if rows else None

    # --- usage ----------------------------------------------------------------------------

    async def record_usage(self, conv_key: str, model: str, usage: Usage, request_id: str) -> None:
        """Usage of a call that added no turn (an empty or failed answer)."""
        row = UsageRecord(model, usage, request_id).row()
        async with self.transaction() as tx:
            await tx.execute(USAGE_INSERT, (conv_key, *row, float(self._clock())))


__all__ = ["ConversationSettings", "Store", "UsageRecord"]
