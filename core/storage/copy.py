"""``relaybot export`` / ``import``: every table of one database into another (SQLite to
PostgreSQL and back) without loss: the same rows, ids, blobs and times; afterwards new ids
continue after the copied ones. Both sides are at the latest schema (opened, so migrated)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.errors import StorageError
from core.storage.store import Store

log = logging.getLogger("relaybot.storage")

BATCH = 500  # rows read and written at a time


class TargetNotEmptyError(StorageError):
    """The target database already holds rows (and ``replace`` was not asked for)."""

    code = "storage_target_not_empty"


@dataclass(frozen=True, slots=True)
class CopyReport:
    """How many rows each table received."""

    rows: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _coercer(data_type: str) -> Callable[[Any], Any]:
    """How a SQLite value (loosely typed) becomes what a PostgreSQL column takes."""
    kind = data_type.lower()
    if kind in ("bigint", "integer", "smallint"):
        return lambda v: v if v is None else int(v)
    if kind in ("double precision", "real", "numeric"):
        return lambda v: v if v is None else float(v)
    if kind == "bytea":
        return lambda v: v if v is None or isinstance(v, bytes) else bytes(str(v), "utf-8")
    if kind == "text":
        return lambda v: v if v is None or isinstance(v, str) else str(v)
    return lambda v: v


async def _coercers(target: Store, table: str, columns: list[str]) -> list[Callable[[Any], Any]]:
    if not target.dialect.is_postgres:
        return [lambda v: v for _ in columns]
    rows = await target.query(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = ?",
        (table,),
    )
    types = {str(name): str(kind) for name, kind in rows}
    return [_coercer(types.get(c, "")) for c in columns]


async def copy_database(
    source: Store,
    target: Store,
    *,
    replace: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> CopyReport:
    """Copy every table of ``source`` into ``target`` in one transaction of the target.
    TargetNotEmptyError when the target has rows, unless ``replace`` (then they are deleted
    first); StorageError when the two schemas differ."""
    src_version, dst_version = await source.schema_version(), await target.schema_version()
    if src_version != dst_version:
        raise StorageError(
            f"the schemas differ ({source.describe()}: {src_version}, "
            f"{target.describe()}: {dst_version}); run `relaybot migrate` on both"
        )
    tables = await source.backend.tables()
    theirs = await target.backend.tables()
    if tables != theirs:
        differ = sorted(set(tables).symmetric_difference(theirs)) or sorted(
            t for t in tables if tables[t] != theirs.get(t)
        )
        raise StorageError(f"the two databases have different tables: {', '.join(differ)}")
    filled = [t for t in tables if await target.fetchval(f"SELECT COUNT(*) FROM {t}")]
    if filled and not replace:
        raise TargetNotEmptyError(
            f"{target.describe()} is not empty (rows in {', '.join(filled)}); nothing was "
            "copied. Pass --replace to delete its rows first"
        )
    counts: dict[str, int] = {}
    async with target.transaction() as tx:
        for table in tables:
            await tx.execute(f"DELETE FROM {table}")
        for table, columns in tables.items():
            names = ", ".join(columns)
            order = "id" if "id" in columns else names
            insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
            convert = await _coercers(target, table, columns)
            copied = 0
            while True:
                rows = await source.query(
                    f"SELECT {names} FROM {table} ORDER BY {order} LIMIT ? OFFSET ?",
                    (BATCH, copied),
                )
                if not rows:
                    break
                await tx.executemany(
                    insert, [tuple(f(v) for f, v in zip(convert, row, strict=True)) for row in rows]
                )
                copied += len(rows)
            counts[table] = copied
            if progress is not None:
                progress(table, copied)
    await target.backend.after_copy(tables)
    log.info(
        "copied %d rows from %s to %s", sum(counts.values()), source.describe(), target.describe()
    )
    return CopyReport(counts)


__all__ = ["BATCH", "CopyReport", "TargetNotEmptyError", "copy_database"]
