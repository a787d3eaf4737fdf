"""The SQLite backend on aiosqlite: one connection per process, serialised by a lock."""

from __future__ import annotations

import asyncio
import errno
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from core.errors import StorageError, StorageUnavailableError
from core.storage.db import SQLITE, Database, Params, Row, Tx
from core.storage.schema_sqlite import MIGRATIONS
from core.storage.store import ConversationSettings, Store, UsageRecord
from core.storage.url import StorageUrl, sqlite_url

BUSY_TIMEOUT_S = 5.0  # how long a statement waits for a database another process has locked
# SQLite result codes that say "not now" rather than "not this file": locked, full, I/O.
_UNAVAILABLE_CODES = frozenset({5, 6, 10, 13})  # BUSY, LOCKED, IOERR, FULL
SQLITE_HEADER = b"SQLite format 3\x00"


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


class SqliteTx(Tx):
    """Statements on the one connection, inside ``SqliteDatabase.transaction``."""

    dialect = SQLITE

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        # One trip to aiosqlite's thread (execute + close of a cursor are two, ~80 us each on
        # a 2-core VM). The rows changed are read from the connection's counter, which no
        # other statement moves meanwhile (the database lock is held); the schema has no
        # triggers or foreign-key actions, so it counts what ``cursor.rowcount`` would.
        before = self._conn.total_changes
        await self._conn.execute_fetchall(sql, tuple(params))
        return self._conn.total_changes - before

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._conn.executemany(sql, [tuple(r) for r in rows])

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        return [tuple(r) for r in await self._conn.execute_fetchall(sql, tuple(params))]

    async def lock(self, key: str) -> None:
        return None


class SqliteDatabase(Database):
    """A SQLite file: WAL, a busy timeout, migrations in ``PRAGMA user_version``."""

    dialect = SQLITE

    def __init__(self, path: str | Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.url = StorageUrl("sqlite", str(path))
        self._busy_timeout_s = busy_timeout_s
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise StorageError("the database was used before open() or after close()")
        return self._conn

    def describe(self) -> str:
        return str(self.path)

    def latest_version(self) -> int:
        return len(MIGRATIONS)

    async def open(self, *, migrate: bool = True) -> None:
        """Create the folder and file if needed, switch to WAL, apply pending migrations and
        make sure the database can be written; a StorageError names what to fix."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = await aiosqlite.connect(self.path)
            await self._conn.execute("PRAGMA journal_mode=WAL")
            await self._conn.execute("PRAGMA synchronous=NORMAL")
            await self._conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_s * 1000)}")
            await self._check_version(migrate)
            if migrate:
                await self._migrate()
            # A write now, not at the first message: read-only or locked shows at start-up.
            await self._conn.execute("BEGIN IMMEDIATE")
            await self._conn.rollback()
        except (OSError, sqlite3.Error) as exc:
            await self.close()
            raise _storage_error(f"cannot open the database {self.path}", exc) from exc
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()  # stops aiosqlite's thread even when closing fails
            except sqlite3.Error:
                pass

    async def schema_version(self) -> int:
        rows = await self.fetch("PRAGMA user_version")
        return int(rows[0][0]) if rows else 0

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        # One connection serves every conversation: the lock keeps one coroutine's statements
        # from interleaving with another's (sqlite3 misuse errors, half-committed writes).
        async with self._lock:
            try:
                return [tuple(r) for r in await self.conn.execute_fetchall(sql, tuple(params))]
            except sqlite3.Error as exc:
                raise _storage_error(f"database read failed ({self.path})", exc) from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self._lock:
            conn = self.conn
            try:
                yield SqliteTx(conn)
                await conn.commit()
            except BaseException as exc:
                try:
                    await conn.rollback()
                except sqlite3.Error:
                    pass  # the failed statement may have rolled back already
                if isinstance(exc, sqlite3.Error):
                    raise _storage_error(f"database write failed ({self.path})", exc) from exc
                raise

    async def _check_version(self, migrate: bool) -> None:
        version = await self.schema_version()
        if version > len(MIGRATIONS):
            raise StorageError(
                f"the database {self.path} has schema version {version}, newer than this "
                f"relaybot ({len(MIGRATIONS)}); upgrade relaybot or use another storage.path"
            )
        if not migrate and version < len(MIGRATIONS):
            raise StorageError(
                f"the database {self.path} has schema version {version}, this relaybot needs "
                f"{len(MIGRATIONS)}: run `relaybot migrate` first"
            )

    async def _version(self) -> int:
        """The schema version, read without the lock (its holder calls this)."""
        rows = list(await self.conn.execute_fetchall("PRAGMA user_version"))
        return int(rows[0][0]) if rows else 0

    async def _migrate(self) -> tuple[int, int]:
        before = await self._version()
        for number, script in enumerate(MIGRATIONS[before:], start=before + 1):
            # executescript commits first; the version bump is part of the same script so a
            # crash never leaves a migrated schema with an old version number.
            await self.conn.executescript(
                f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;"
            )
        self.last_migration = (before, len(MIGRATIONS))
        return self.last_migration

    async def migrate(self) -> tuple[int, int]:
        try:
            async with self._lock:
                return await self._migrate()
        except sqlite3.Error as exc:
            raise _storage_error(f"cannot migrate the database {self.path}", exc) from exc

    async def tables(self) -> dict[str, list[str]]:
        names = await self.fetch(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name"
        )
        found: dict[str, list[str]] = {}
        for (name,) in names:
            columns = await self.fetch(f'PRAGMA table_info("{name}")')
            found[str(name)] = [str(c[1]) for c in columns]
        return found

    async def after_copy(self, tables: Iterable[str]) -> None:
        return None  # AUTOINCREMENT follows the largest id inserted (sqlite_sequence)


class SqliteStore(Store):
    """The store on a SQLite file (``storage.path``, or ``storage.url: sqlite:///...``)."""

    backend: SqliteDatabase

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
    ) -> None:
        self.backend = SqliteDatabase(path, busy_timeout_s=busy_timeout_s)
        super().__init__(self.backend, clock=clock)

    @property
    def db(self) -> aiosqlite.Connection:
        """The aiosqlite connection itself (tests and SQLite-only tools)."""
        return self.backend.conn


__all__ = [
    "MIGRATIONS",
    "ConversationSettings",
    "SqliteDatabase",
    "SqliteStore",
    "UsageRecord",
    "sqlite_url",
    "storage_problem",
]
