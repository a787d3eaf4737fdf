"""``make_store``: the store ``storage.url`` names (SQLite or PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable

from core.storage.store import Store
from core.storage.url import StorageUrl, parse_storage_url


def make_store(
    url: StorageUrl | str,
    pool_size: int = 10,
    *,
    clock: Callable[[], float] = time.time,
) -> Store:
    """A closed store for ``url`` (``open()`` it). ``pool_size`` is PostgreSQL's pool; SQLite
    has one connection. StorageUrlError when the URL cannot be read."""
    parsed = parse_storage_url(url) if isinstance(url, str) else url
    if parsed.is_postgres:
        from core.storage.postgres import PostgresStore  # asyncpg only when it is used

        return PostgresStore(parsed, pool_size=pool_size, clock=clock)
    from core.storage.sqlite import SqliteStore

    return SqliteStore(parsed.path, clock=clock)


__all__ = ["make_store"]
