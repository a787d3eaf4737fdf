"""One write, committed on its own, in as few round trips as the backend allows.

The workers' bookkeeping (leases, the inbox, job claims) is many small single-statement writes
on the hot path of every update. On PostgreSQL a statement outside a transaction is committed
by itself: one round trip instead of three (BEGIN, the statement, COMMIT), which the bench
shows on every answer. SQLite commits only in a transaction.
"""

from __future__ import annotations

from core.storage.db import Params
from core.storage.store import Store


async def write(store: Store, sql: str, params: Params = ()) -> int:
    """Run one INSERT, UPDATE or DELETE on its own; how many rows it changed."""
    if store.dialect.is_postgres:
        return len(await store.query(sql + " RETURNING 1", params))
    async with store.transaction() as tx:
        return await tx.execute(sql, params)


__all__ = ["write"]
