"""The storage contract: one ``Database`` per process (SQLite or PostgreSQL), transactions
with the same five calls on both, ``?`` placeholders everywhere and a ``Dialect`` for what
the two spell differently.

    async with store.transaction() as tx:          # commits at the end, rolls back on error
        n = await tx.execute("UPDATE jobs SET state = ? WHERE id = ?", ("running", 3))
        job_id = await tx.fetchval("INSERT INTO jobs (...) VALUES (?, ...) RETURNING id", ...)
        rows = await tx.fetch("SELECT id FROM jobs WHERE state = ?" + tx.dialect.skip_locked())

Every failure of the driver leaves as a ``StorageError`` (``StorageUnavailableError`` for
"not now": connection lost, locked, disk full) whose text names ``storage.url`` without its
password.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Literal

from core.storage.url import StorageUrl

Row = tuple[Any, ...]
Params = Sequence[Any]


@dataclass(frozen=True, slots=True)
class Dialect:
    """What SQLite and PostgreSQL spell differently, as SQL fragments."""

    name: Literal["sqlite", "postgresql"]

    @property
    def is_postgres(self) -> bool:
        return self.name == "postgresql"

    @property
    def is_sqlite(self) -> bool:
        return self.name == "sqlite"

    def skip_locked(self) -> str:
        """Appended to a SELECT inside a transaction: lock the rows read and skip rows another
        transaction holds (PostgreSQL). SQLite has one writer at a time: nothing to add."""
        return " FOR UPDATE SKIP LOCKED" if self.is_postgres else ""

    def for_update(self) -> str:
        """Appended to a SELECT inside a transaction: lock the rows read (wait for them)."""
        return " FOR UPDATE" if self.is_postgres else ""

    def instr(self, haystack: str, needle: str) -> str:
        """The 1-based position of ``needle`` in ``haystack`` (0: absent)."""
        name = "strpos" if self.is_postgres else "instr"
        return f"{name}({haystack}, {needle})"

    def now(self) -> str:
        """The database server's time in epoch seconds (double precision)."""
        if self.is_postgres:
            return "extract(epoch from clock_timestamp())::double precision"
        return "((julianday('now') - 2440587.5) * 86400.0)"

    def upsert(
        self,
        table: str,
        columns: Sequence[str],
        key: Sequence[str],
        update: Sequence[str] | None = None,
    ) -> str:
        """``INSERT INTO table (columns) VALUES (?, ...)``, and on a conflict on ``key`` set
        ``update`` (default: every column not in ``key``) to the new values. Both backends
        accept this form (SQLite >= 3.24)."""
        names = ", ".join(columns)
        marks = ", ".join("?" * len(columns))
        update = [c for c in columns if c not in key] if update is None else list(update)
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT ({', '.join(key)})"
        if not update:
            return sql + " DO NOTHING"
        sets = ", ".join(f"{c} = excluded.{c}" for c in update)
        return f"{sql} DO UPDATE SET {sets}"

    def insert_ignore(self, table: str, columns: Sequence[str]) -> str:
        """``INSERT`` that does nothing when the row's unique key exists (rowcount 0)."""
        names = ", ".join(columns)
        marks = ", ".join("?" * len(columns))
        return f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"


SQLITE = Dialect("sqlite")
POSTGRES = Dialect("postgresql")


class Tx(ABC):
    """One transaction; ``params`` use ``?`` placeholders on both backends."""

    dialect: Dialect

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; how many rows it changed (0 for DDL)."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run a statement once per parameter row."""

    @abstractmethod
    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row of a query, as tuples."""

    async def fetchrow(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row, or None when there is no row."""
        row = await self.fetchrow(sql, params)
        return row[0] if row else None

    @abstractmethod
    async def lock(self, key: str) -> None:
        """Hold a lock named ``key`` until this transaction ends, across every process using
        the database (PostgreSQL advisory lock). On SQLite a transaction already excludes
        every other writer of the process: nothing to do."""


class Database(ABC):
    """A backend: opens, migrates and closes the database and gives out transactions."""

    dialect: Dialect
    url: StorageUrl
    # (version before, version after) of the last migration this object ran, if any
    last_migration: tuple[int, int] | None = None

    @abstractmethod
    async def open(self, *, migrate: bool = True) -> None:
        """Connect; apply pending migrations unless ``migrate`` is false (a StorageError
        when the schema is newer than this relaybot, or older and ``migrate`` is false)."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        """Statements that commit together or not at all."""

    @abstractmethod
    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        """One statement on its own (autocommitted on PostgreSQL)."""

    @abstractmethod
    async def schema_version(self) -> int: ...

    @abstractmethod
    async def migrate(self) -> tuple[int, int]:
        """Apply pending migrations; (version before, version after)."""

    @abstractmethod
    def latest_version(self) -> int: ...

    @abstractmethod
    async def tables(self) -> dict[str, list[str]]:
        """relaybot's tables and their columns in order (not the schema bookkeeping)."""

    @abstractmethod
    async def after_copy(self, tables: Iterable[str]) -> None:
        """Rows were inserted with their ids: move id generators past them."""

    def describe(self) -> str:
        """``storage.url`` as it may be shown (no password)."""
        return self.url.redacted()


@functools.lru_cache(maxsize=2048)
def dollar_placeholders(sql: str) -> str:
    """``sql`` with each ``?`` outside quotes turned into ``$1``, ``$2``... (asyncpg)."""
    out: list[str] = []
    number = 0
    quote = ""
    for ch in sql:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "?":
            number += 1
            out.append(f"${number}")
            continue
        out.append(ch)
    return "".join(out)


def rowcount(status: str) -> int:
    """The row count of an asyncpg status line: "UPDATE 3" -> 3, "INSERT 0 1" -> 1."""
    last = status.rsplit(" ", 1)[-1] if status else ""
    return int(last) if last.isdigit() else 0


__all__ = [
    "POSTGRES",
    "SQLITE",
    "Database",
    "Dialect",
    "Params",
    "Row",
    "Tx",
    "dollar_placeholders",
    "rowcount",
]
