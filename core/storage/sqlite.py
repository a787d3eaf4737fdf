"""SQLite store on aiosqlite: conversation history, per-conversation settings and usage."""

from __future__ import annotations

import asyncio
import errno
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from core.engine.history import Turn
from core.errors import StorageError, StorageUnavailableError
from core.relay.types import Usage

# Each entry moves the schema one version up; never edit a released entry, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conv_key TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content TEXT NOT NULL,
        tokens INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX messages_by_conv ON messages (conv_key, id);
    CREATE TABLE conversations (
        conv_key TEXT PRIMARY KEY,
        model TEXT,
        system_prompt TEXT,
        updated_at REAL NOT NULL
    );
    CREATE TABLE usage (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conv_key TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        total_tokens INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    """,
    """
    CREATE TABLE actions (
        token TEXT PRIMARY KEY,
        action TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    """,
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        family TEXT NOT NULL,
        kind TEXT NOT NULL,
        conv_key TEXT NOT NULL,
        platform TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        thread_id TEXT,
        user_id TEXT NOT NULL,
        lang TEXT NOT NULL,
        is_group INTEGER NOT NULL,
        prompt TEXT NOT NULL,
        state TEXT NOT NULL,
        relay_task_id TEXT,
        status_message_id TEXT,
        progress INTEGER NOT NULL DEFAULT 0,
        deadline REAL NOT NULL,
        next_poll_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        result TEXT,
        error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX jobs_by_state ON jobs (state, next_poll_at);
    CREATE INDEX jobs_by_user ON jobs (platform, user_id, state);
    """,
    """
    CREATE TABLE conv_images (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conv_key TEXT NOT NULL,
        data BLOB NOT NULL,
        mime TEXT NOT NULL,
        turns_left INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX conv_images_by_conv ON conv_images (conv_key, id);
    """,
    """
    ALTER TABLE conversations ADD COLUMN voice_reply INTEGER NOT NULL DEFAULT 0;
    """,
    """
    CREATE TABLE job_messages (
        job_id INTEGER NOT NULL,
        platform TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        PRIMARY KEY (platform, chat_id, message_id)
    );
    """,
    # the adapter that owns a job's conversation; NULL: the adapter named after the
    # platform (every row written before this column).
    """
    ALTER TABLE jobs ADD COLUMN adapter TEXT;
    """,
    # issue 12: access rules set by admins at run time, a content-free ledger of what each
    # user spent (quotas, /usage, /stats), and its daily summary kept after retention.
    """
    CREATE TABLE access_rules (
        subject TEXT PRIMARY KEY,
        rule TEXT NOT NULL CHECK (rule IN ('allow', 'block')),
        set_by TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE quota_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        chat TEXT NOT NULL,
        kind TEXT NOT NULL,
        amount INTEGER NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        ref TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX quota_events_by_user ON quota_events (platform, user_id, kind, created_at);
    CREATE INDEX quota_events_by_chat ON quota_events (chat, kind, created_at);
    CREATE INDEX quota_events_by_ref ON quota_events (ref);
    CREATE TABLE usage_daily (
        day TEXT NOT NULL,
        platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        chat TEXT NOT NULL,
        kind TEXT NOT NULL,
        model TEXT NOT NULL,
        amount INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (day, platform, user_id, chat, kind, model)
    );
    """,
    # issue 11: the WeChat bridge (bots/wechat/store.py): messages answered (dedupe by
    # message_id), the outbox of deliveries, stored media behind signed links, the
    # conversation_ref of each conversation, and the key that signs media links.
    """
    CREATE TABLE wechat_messages (
        instance TEXT NOT NULL,
        message_id TEXT NOT NULL,
        request_id TEXT NOT NULL,
        reply TEXT,
        created_at REAL NOT NULL,
        PRIMARY KEY (instance, message_id)
    );
    CREATE TABLE wechat_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        delivery_id TEXT NOT NULL UNIQUE,
        instance TEXT NOT NULL,
        job_id TEXT,
        status TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        parts TEXT NOT NULL,
        created_at REAL NOT NULL,
        visible_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        acked_at REAL,
        result TEXT
    );
    CREATE INDEX wechat_outbox_open ON wechat_outbox (instance, acked_at, visible_at);
    CREATE TABLE wechat_media (
        id TEXT PRIMARY KEY,
        mime TEXT NOT NULL,
        filename TEXT NOT NULL,
        data BLOB NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE TABLE wechat_refs (
        chat_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        ref TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (chat_id, user_id)
    );
    CREATE TABLE wechat_keys (
        name TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    """,
)


BUSY_TIMEOUT_S = 5.0  # how long a statement waits for a database another process has locked
# SQLite result codes that say "not now" rather than "not this file": locked, full, I/O.
_UNAVAILABLE_CODES = frozenset({5, 6, 10, 13})  # BUSY, LOCKED, IOERR, FULL
SQLITE_HEADER = b"SQLite format 3\x00"

USAGE_INSERT = (
    "INSERT INTO usage (conv_key, model, prompt_tokens, completion_tokens, total_tokens,"
    " request_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _storage_error(what: str, exc: BaseException) -> StorageError:
    """``exc`` (sqlite3 or OS) as a StorageError whose message says what to fix."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in _UNAVAILABLE_CODES or isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        hint = (
            "is another relaybot using the same storage.path? is the disk full?"
            if code in (5, 6)
            else "check the disk (full, or failing) that holds storage.path"
        )
        return StorageUnavailableError(f"{what}: {exc}; {hint}")
    if code in (11, 26):  # CORRUPT, NOTADB
        hint = "the file is damaged or not a database: restore a backup or change storage.path"
    elif code == 8:  # READONLY
        hint = "make the file and its folder writable by the user running relaybot (storage.path)"
    else:
        hint = "check storage.path and that the folder is writable"
    return StorageError(f"{what} ({exc}); {hint}")


def storage_problem(path: str | Path) -> str | None:
    """Why relaybot could not use ``path`` as its database, or None; touches nothing
    (for ``check-config``: a running bot may be using the file)."""
    path = Path(path)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is not a folder, so {path} cannot be created"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"cannot create {path}: no files can be made in {folder} ({exc.strerror or exc})"
    if not path.exists():
        return None
    if not path.is_file():
        return f"{path} is not a file"
    try:
        with path.open("r+b") as file:
            header = file.read(100)
    except OSError as exc:
        return f"cannot write {path} ({exc.strerror or exc})"
    if header and not header.startswith(SQLITE_HEADER):
        return f"{path} is not a SQLite database"
    if len(header) >= 64:
        version = int.from_bytes(header[60:64], "big")  # PRAGMA user_version
        if version > len(MIGRATIONS):
            known = len(MIGRATIONS)
            return f"{path} is from a newer relaybot (schema {version}, this one knows {known})"
    return None


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


class SqliteStore:
    """The one database of the process. ``open()`` before use, ``close()`` at shutdown."""

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
    ) -> None:
        self._path = Path(path)
        self._clock = clock
        self._busy_timeout_s = busy_timeout_s
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StorageError("SqliteStore used before open() or after close()")
        return self._db

    async def open(self) -> None:
        """Create the folder and file if needed, switch to WAL, apply pending migrations and
        make sure the database can be written; a StorageError names what to fix."""
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._db = await aiosqlite.connect(self._path)
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._db.execute("PRAGMA synchronous=NORMAL")
            await self._db.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_s * 1000)}")
            await self._migrate()
            # A write now, not at the first message: read-only or locked shows at start-up.
            await self._db.execute("BEGIN IMMEDIATE")
            await self._db.rollback()
        except (OSError, sqlite3.Error) as exc:
            await self.close()
            raise _storage_error(f"cannot open the database {self._path}", exc) from exc
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            try:
                await db.close()  # stops aiosqlite's thread even when closing fails
            except sqlite3.Error:
                pass

    async def schema_version(self) -> int:
        rows = await self.query("PRAGMA user_version")
        return int(rows[0][0]) if rows else 0

    async def query(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        # One connection serves every conversation: the lock keeps one coroutine's statements
        # from interleaving with another's (sqlite3 misuse errors, half-committed writes).
        async with self._lock:
            try:
                return list(await self.db.execute_fetchall(sql, params))
            except sqlite3.Error as exc:
                raise _storage_error(f"database read failed ({self._path})", exc) from exc

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection, for statements that commit together or not at all. A failed
        statement or commit rolls everything back and raises a StorageError."""
        async with self._lock:
            db = self.db
            try:
                yield db
                await db.commit()
            except BaseException as exc:
                try:
                    await db.rollback()
                except sqlite3.Error:
                    pass  # the failed statement may have rolled back already
                if isinstance(exc, sqlite3.Error):
                    raise _storage_error(f"database write failed ({self._path})", exc) from exc
                raise

    async def _migrate(self) -> None:
        version = await self.schema_version()
        if version > len(MIGRATIONS):
            raise StorageError(
                f"the database {self._path} has schema version {version}, newer than this "
                f"relaybot ({len(MIGRATIONS)}); upgrade relaybot or use another storage.path"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            # executescript commits first; the version bump is part of the same script so a
            # crash never leaves a migrated schema with an old version number.
            await self.db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")

    # --- history ---------------------------------------------------------------------------

    async def recent_turns(self, conv_key: str, limit: int) -> list[Turn]:
        """The newest ``limit`` turns of ``conv_key``, oldest first."""
        rows = await self.query(
            "SELECT role, content, tokens FROM messages WHERE conv_key = ?"
            " ORDER BY id DESC LIMIT ?",
            (conv_key, limit),
        )
        return [Turn(role, content, tokens) for role, content, tokens in reversed(rows)]

    async def append_turns(
        self, conv_key: str, turns: list[Turn], keep: int, usage: UsageRecord | None = None
    ) -> None:
        """Append ``turns`` (and the call's ``usage``) in one transaction, keeping only the
        newest ``keep`` rows of the conversation."""
        now = self._clock()
        async with self.transaction() as db:
            if usage is not None:
                await db.execute(USAGE_INSERT, (conv_key, *usage.row(), now))
            await db.executemany(
                "INSERT INTO messages (conv_key, role, content, tokens, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(conv_key, t.role, t.content, t.tokens, now) for t in turns],
            )
            await db.execute(
                "DELETE FROM messages WHERE conv_key = ? AND id <= ("
                " SELECT id FROM messages WHERE conv_key = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (conv_key, conv_key, keep),
            )

    async def clear_history(self, conv_key: str) -> None:
        async with self.transaction() as db:
            await db.execute("DELETE FROM messages WHERE conv_key = ?", (conv_key,))
            await db.execute("DELETE FROM conv_images WHERE conv_key = ?", (conv_key,))

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
        async with self.transaction() as db:
            await db.execute(
                f"INSERT INTO conversations (conv_key, {column}, updated_at) VALUES (?, ?, ?) "
                f"ON CONFLICT(conv_key) DO UPDATE SET {column} = excluded.{column}, "
                "updated_at = excluded.updated_at",
                (conv_key, value, self._clock()),
            )

    # --- the last picture of a conversation (for follow-up questions) ----------------------

    async def save_image(
        self, conv_key: str, data: bytes, mime: str, turns: int, keep: int = 5
    ) -> None:
        """Keep a small picture for the conversation; only the newest ``keep`` stay."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO conv_images (conv_key, data, mime, turns_left, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (conv_key, data, mime, turns, self._clock()),
            )
            await db.execute(
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
            (conv_key, since, limit),
        )
        return [(bytes(r[0]), str(r[1]), int(r[2])) for r in rows]

    async def recent_image(self, conv_key: str, since: float) -> tuple[bytes, str, int] | None:
        found = await self.recent_images(conv_key, since, 1)
        return found[0] if found else None

    async def use_image_turn(self, conv_key: str) -> None:
        """One follow-up question used the newest picture."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE conv_images SET turns_left = turns_left - 1 WHERE id = ("
                " SELECT MAX(id) FROM conv_images WHERE conv_key = ?)",
                (conv_key,),
            )

    async def forget_images(self, conv_key: str | None = None, before: float | None = None) -> None:
        """Drop the picture of one conversation, or every picture older than ``before``."""
        async with self.transaction() as db:
            if conv_key is not None:
                await db.execute("DELETE FROM conv_images WHERE conv_key = ?", (conv_key,))
            if before is not None:
                await db.execute("DELETE FROM conv_images WHERE created_at < ?", (before,))

    # --- button actions ----------------------------------------------------------------------

    async def save_actions(self, actions: dict[str, str]) -> None:
        """Store ``token -> action`` pairs; a token already stored keeps its action."""
        now = self._clock()
        async with self.transaction() as db:
            await db.executemany(
                "INSERT OR IGNORE INTO actions (token, action, created_at) VALUES (?, ?, ?)",
                [(token, action, now) for token, action in actions.items()],
            )

    async def get_action(self, token: str) -> str | None:
        rows = await self.query("SELECT action FROM actions WHERE token = ?", (token,))
        return str(rows[0][0]) if rows else None

    # --- usage ----------------------------------------------------------------------------

    async def record_usage(self, conv_key: str, model: str, usage: Usage, request_id: str) -> None:
        """Usage of a call that added no turn (an empty or failed answer)."""
        row = UsageRecord(model, usage, request_id).row()
        async with self.transaction() as db:
            await db.execute(USAGE_INSERT, (conv_key, *row, self._clock()))
