"""``relaybot migrate``, ``export`` and ``import``, and the storage lines of ``check-config``.

    relaybot migrate                      apply pending migrations to storage.url, then exit
    relaybot export --to URL [--replace]  copy storage.url's database into URL
    relaybot import --from URL [--replace]  copy URL's database into storage.url's

A copy refuses a target that holds rows unless ``--replace`` (which deletes them first).
Exit statuses as ``relaybot run``'s: 0 done, 2 a bad URL, a non-empty target or a storage
problem to fix, 3 the database unavailable now.
"""

from __future__ import annotations

import asyncio

from core.config.fields import url_credentials
from core.config.settings import Settings
from core.errors import StorageError
from core.storage.copy import copy_database
from core.storage.factory import make_store
from core.storage.store import Store
from core.storage.url import StorageUrl, parse_storage_url


def storage_secrets(*urls: str) -> list[str]:
    """The passwords inside URLs given on the command line (for the redactor)."""
    return [secret for url in urls for secret in url_credentials(url)]


def check_lines(settings: Settings, timeout_s: float = 5.0) -> tuple[list[str], list[str]]:
    """``check-config``: (lines, problems) about the database. PostgreSQL is connected to
    (nothing is changed); SQLite is left to ``preflight``'s file checks."""
    database = settings.storage.database()
    if not database.is_postgres:
        return [], []
    from core.storage.postgres import MIGRATIONS, probe

    version, problem = asyncio.run(probe(database, timeout_s))
    if problem is not None:
        return [], [problem]
    known = len(MIGRATIONS)
    if version == 0:
        state = "reachable, empty (the first start or `relaybot migrate` creates the tables)"
    elif version is not None and version > known:
        return [], [
            f"the database has schema version {version}, newer than this relaybot ({known})"
        ]
    elif version == known:
        state = f"reachable, schema version {version}"
    else:
        state = f"reachable, schema version {version} of {known} (migrated at the next start)"
    return [f"database: {state}"], []


async def migrate(settings: Settings) -> str:
    """Apply pending migrations to the configured database; a line saying what was done."""
    store = make_store(settings.storage.database(), settings.storage.pool_size)
    try:
        await store.open()  # opening migrates (on PostgreSQL under an advisory lock)
        before, after = store.backend.last_migration or (0, 0)
    finally:
        await store.close()
    if before == after:
        return f"{store.describe()}: schema version {after}, up to date"
    return f"{store.describe()}: migrated from schema version {before} to {after}"


async def copy(settings: Settings, other: str, *, to_other: bool, replace: bool) -> list[str]:
    """Copy the configured database into ``other`` (``to_other``) or ``other`` into it."""
    configured = settings.storage.database()
    elsewhere = parse_storage_url(other)
    if _same(configured, elsewhere):
        raise StorageError("the source and the target are the same database; nothing was copied")
    mine = make_store(configured, settings.storage.pool_size)
    theirs = make_store(elsewhere, settings.storage.pool_size)
    option = "--to" if to_other else "--from"
    if hasattr(theirs.backend, "key"):
        theirs.backend.key = option  # its errors name the option, not storage.url
    source, target = (mine, theirs) if to_other else (theirs, mine)
    opened: list[Store] = []
    try:
        for store in (source, target):
            await store.open()
            opened.append(store)
        report = await copy_database(source, target, replace=replace)
    finally:
        for store in opened:
            await store.close()
    lines = [f"copied {source.describe()} -> {target.describe()}:"]
    lines += [f"  {table}: {count} rows" for table, count in report.rows.items()]
    lines.append(f"  total: {report.total} rows")
    return lines


def _same(a: StorageUrl, b: StorageUrl) -> bool:
    return a.path == b.path if not a.is_postgres else a.dsn == b.dsn


__all__ = ["check_lines", "copy", "migrate", "storage_secrets"]
