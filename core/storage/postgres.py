"""The PostgreSQL backend on asyncpg: a pool of ``storage.pool_size`` connections; the
schema version in ``relaybot_schema``; migrations serialised across processes by an
advisory lock (several workers may start at once)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from core.errors import StorageError
from core.storage.db import POSTGRES, Database, Params, Row, Tx, dollar_placeholders, rowcount
from core.storage.pg_errors import DRIVER_ERRORS, connection_lost, pg_error, scrub
from core.storage.schema_postgres import MIGRATIONS, VERSION_TABLE
from core.storage.store import Store
from core.storage.url import StorageUrl, parse_storage_url

CONNECT_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 60.0
MIGRATION_LOCK = 0x72656C61  # "rela": the advisory lock migrations hold


def pg_params(params: Iterable[Any]) -> tuple[Any, ...]:
    """``params`` as PostgreSQL takes them: TEXT cannot hold U+0000 (SQLite can), so a NUL in
    a string (a relay's answer, a copied row) becomes U+FFFD instead of failing the write."""
    return tuple(
        v.replace("\x00", "\ufffd") if isinstance(v, str) and "\x00" in v else v for v in params
    )


class PgTx(Tx):
    """Statements on one pooled connection inside a transaction."""

    dialect = POSTGRES

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        status = await self._conn.execute(dollar_placeholders(sql), *pg_params(params))
        return rowcount(str(status))

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        rows = [pg_params(r) for r in rows]
        if rows:
            await self._conn.executemany(dollar_placeholders(sql), rows)

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        found = await self._conn.fetch(dollar_placeholders(sql), *pg_params(params))
        return [tuple(r) for r in found]

    async def lock(self, key: str) -> None:
        await self._conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", key)


class PostgresDatabase(Database):
    """A PostgreSQL database reached through a pool of ``pool_size`` connections."""

    dialect = POSTGRES

    def __init__(
        self,
        url: StorageUrl | str,
        *,
        pool_size: int = 10,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        command_timeout_s: float = COMMAND_TIMEOUT_S,
    ) -> None:
        self.url = parse_storage_url(url) if isinstance(url, str) else url
        if not self.url.is_postgres:
            raise StorageError(f"{self.url.redacted()} is not a PostgreSQL URL")
        self._pool_size = max(1, pool_size)
        self._connect_timeout_s = connect_timeout_s
        self._command_timeout_s = command_timeout_s
        self._pool: Any = None
        self.key = "storage.url"  # where the URL came from, for messages (or "--to"...)

    def __repr__(self) -> str:
        return f"PostgresDatabase({self.url.redacted()!r})"

    @property
    def pool(self) -> Any:
        if self._pool is None:
            raise StorageError("the database was used before open() or after close()")
        return self._pool

    def latest_version(self) -> int:
        return len(MIGRATIONS)

    async def open(self, *, migrate: bool = True) -> None:
        """Connect the pool, check the schema version and apply pending migrations."""
        try:
            self._pool = await asyncio.wait_for(
                asyncpg.create_pool(
                    self.url.dsn,
                    min_size=1,
                    max_size=self._pool_size,
                    timeout=self._connect_timeout_s,
                    command_timeout=self._command_timeout_s,
                ),
                self._connect_timeout_s + 5,
            )
        except DRIVER_ERRORS as exc:
            error = pg_error("cannot connect to the PostgreSQL database", exc, self.url, self.key)
            raise StorageError(str(error)) from None  # exit 2 at start-up: fix storage.url
        except (ValueError, TypeError) as exc:  # the driver could not read the URL
            detail = scrub(str(exc), self.url)
            shown = self.url.redacted()
            raise StorageError(f"{self.key}={shown} is not usable: {detail}") from None
        try:
            if migrate:
                await self.migrate()
            else:
                await self._check_version(required=True)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 10)
            except (TimeoutError, *DRIVER_ERRORS):
                pool.terminate()

    async def _drop(self, conn: Any) -> None:
        """Give back a connection found dead: closed, so the pool opens a new one."""
        conn.terminate()
        await self.pool.release(conn)

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        """One statement. A SELECT that meets a dead pooled connection (the server restarted,
        an idle connection was cut) is tried again on a fresh one; other statements are not
        (they may have run)."""
        query = dollar_placeholders(sql)
        retry = sql.lstrip()[:6].upper() == "SELECT"
        for attempt in range(self._pool_size + 1):
            try:
                conn = await self.pool.acquire()
            except DRIVER_ERRORS as exc:
                raise pg_error("database read failed", exc, self.url, self.key) from None
            try:
                rows = await conn.fetch(query, *pg_params(params))
            except DRIVER_ERRORS as exc:
                if connection_lost(exc):
                    await self._drop(conn)
                    if retry and attempt < self._pool_size:
                        continue
                else:
                    await self.pool.release(conn)
                raise pg_error("database read failed", exc, self.url, self.key) from None
            await self.pool.release(conn)
            return [tuple(r) for r in rows]
        raise AssertionError("unreachable")  # pragma: no cover

    async def _begin(self) -> tuple[Any, Any]:
        """A pooled connection inside a started transaction. BEGIN on a dead connection is
        tried again on another (nothing ran yet), up to every connection of the pool."""
        for attempt in range(self._pool_size + 1):
            conn = await self.pool.acquire()
            transaction = conn.transaction()
            try:
                await transaction.start()
            except DRIVER_ERRORS as exc:
                if not connection_lost(exc) or attempt == self._pool_size:
                    await self._drop(conn)
                    raise
                await self._drop(conn)
                continue
            return conn, transaction
        raise AssertionError("unreachable")  # pragma: no cover

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        try:
            conn, transaction = await self._begin()
        except DRIVER_ERRORS as exc:
            raise pg_error("database write failed", exc, self.url, self.key) from None
        try:
            yield PgTx(conn)
        except BaseException as exc:
            try:
                await transaction.rollback()
            except DRIVER_ERRORS:
                await self._drop(conn)
                conn = None
            if conn is not None:
                await self.pool.release(conn)
            if isinstance(exc, DRIVER_ERRORS):
                raise pg_error("database write failed", exc, self.url, self.key) from None
            raise
        try:
            await transaction.commit()
        except DRIVER_ERRORS as exc:
            await self._drop(conn)
            raise pg_error("database write failed", exc, self.url, self.key) from None
        await self.pool.release(conn)

    async def schema_version(self) -> int:
        rows = await self.fetch("SELECT to_regclass(?) IS NOT NULL", (VERSION_TABLE,))
        if not rows or not rows[0][0]:
            return 0
        version = await self.fetch(f"SELECT COALESCE(MAX(version), 0) FROM {VERSION_TABLE}")
        return int(version[0][0])

    async def _check_version(self, *, required: bool, conn: Any = None) -> int:
        if conn is None:
            version = await self.schema_version()
        else:  # the migrating connection (the pool may have no other)
            version = int(
                await conn.fetchval(f"SELECT COALESCE(MAX(version), 0) FROM {VERSION_TABLE}")
            )
        known = len(MIGRATIONS)
        if version > known:
            raise StorageError(
                f"the database at {self.key}={self.url.redacted()} has schema version "
                f"{version}, newer than this relaybot ({known}); upgrade relaybot"
            )
        if required and version < known:
            raise StorageError(
                f"the database at {self.key}={self.url.redacted()} has schema version "
                f"{version}, this relaybot needs {known}: run `relaybot migrate` first"
            )
        return version

    async def migrate(self) -> tuple[int, int]:
        """Apply pending migrations, each in its own transaction with its version row, while
        holding an advisory lock (another worker starting now waits, then finds nothing)."""
        try:
            async with self.pool.acquire() as conn:
                await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
                try:
                    await conn.execute(
                        f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version BIGINT PRIMARY KEY,"
                        " applied_at DOUBLE PRECISION NOT NULL)"
                    )
                    before = await self._check_version(required=False, conn=conn)
                    for number, script in enumerate(MIGRATIONS[before:], start=before + 1):
                        async with conn.transaction():
                            await conn.execute(script)
                            await conn.execute(
                                f"INSERT INTO {VERSION_TABLE} (version, applied_at)"
                                " VALUES ($1, $2)",
                                number,
                                time.time(),
                            )
                finally:
                    await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        except DRIVER_ERRORS as exc:
            raise pg_error("cannot migrate the database", exc, self.url, self.key) from None
        self.last_migration = (before, len(MIGRATIONS))
        return self.last_migration

    async def tables(self) -> dict[str, list[str]]:
        rows = await self.fetch(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c"
            " JOIN information_schema.tables t ON t.table_schema = c.table_schema"
            " AND t.table_name = c.table_name"
            " WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"
            " AND c.table_name <> ? ORDER BY c.table_name, c.ordinal_position",
            (VERSION_TABLE,),
        )
        found: dict[str, list[str]] = {}
        for table, column in rows:
            found.setdefault(str(table), []).append(str(column))
        return found

    async def after_copy(self, tables: Iterable[str]) -> None:
        """Move each identity column's sequence past the largest id copied in."""
        wanted = set(tables)
        with_ids = await self.fetch(
            "SELECT table_name FROM information_schema.columns WHERE table_schema ="
            " current_schema() AND column_name = 'id' AND (is_identity = 'YES'"
            " OR column_default LIKE 'nextval(%')"
        )
        async with self.transaction() as tx:
            for table in sorted(str(r[0]) for r in with_ids if r[0] in wanted):
                seq = await tx.fetchval("SELECT pg_get_serial_sequence(?, 'id')", (table,))
                if seq:
                    await tx.fetch(
                        f"SELECT setval(?, COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)",
                        (seq,),
                    )


class PostgresStore(Store):
    """The store on PostgreSQL (``storage.url: postgresql://...``)."""

    backend: PostgresDatabase

    def __init__(
        self,
        url: StorageUrl | str,
        *,
        pool_size: int = 10,
        clock: Callable[[], float] = time.time,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.backend = PostgresDatabase(
            url, pool_size=pool_size, connect_timeout_s=connect_timeout_s
        )
        super().__init__(self.backend, clock=clock)


async def probe(url: StorageUrl, timeout_s: float = 5.0) -> tuple[int | None, str | None]:
    """For ``check-config``: (schema version, None) when the server lets us in, else (None,
    what is wrong). One short connection; nothing is created or changed."""
    try:
        conn = await asyncpg.connect(url.dsn, timeout=timeout_s)
    except (*DRIVER_ERRORS, ValueError) as exc:
        return None, str(pg_error("cannot connect to the PostgreSQL database", exc, url))
    try:
        exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", VERSION_TABLE)
        if not exists:
            return 0, None
        version = await conn.fetchval(f"SELECT COALESCE(MAX(version), 0) FROM {VERSION_TABLE}")
        return int(version), None
    except DRIVER_ERRORS as exc:
        return None, str(pg_error("cannot read the PostgreSQL database", exc, url))
    finally:
        await conn.close()


__all__ = ["PgTx", "PostgresDatabase", "PostgresStore", "probe"]
