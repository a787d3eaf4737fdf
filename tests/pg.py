"""A real PostgreSQL for tests: the local server on 127.0.0.1:5432 (trust auth), a database
created per test module and dropped after it, emptied between tests.

    from tests.pg import pg_url, pg_store   # fixtures (import them into the test module)

    async def test_x(pg_store: PostgresStore) -> None: ...   # open, every table empty

``RELAYBOT_TEST_PG`` may name another server (an admin URL ending in a database that exists,
e.g. postgresql://me@db:5432/postgres). With no server reachable the tests are skipped with
the reason; CI has one, so there they run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import getpass
import os
import secrets
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

import asyncpg
import pytest

from core.storage.postgres import PostgresStore

T = TypeVar("T")
HOST = "127.0.0.1:5432"
_found: list[str | None] = []  # the admin URL once looked for ([None]: no server)
_why: list[str] = []


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """``coro`` on a loop of its own in a thread (a sync fixture may run beside a test loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _try(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        _why.append(f"{url}: {type(exc).__name__}: {exc}")
        return False
    await conn.close()
    return True


def admin_url() -> str | None:
    """A URL that may create databases, or None when no server answers."""
    if not _found:
        candidates = [os.environ["RELAYBOT_TEST_PG"]] if os.environ.get("RELAYBOT_TEST_PG") else []
        users = dict.fromkeys([getpass.getuser(), "postgres", "root"])
        candidates += [f"postgresql://{u}@{HOST}/{db}" for u in users for db in ("postgres", u)]

        async def first() -> str | None:
            for url in candidates:
                if await _try(url):
                    return url
            return None

        _found.append(_run(first()))
    return _found[0]


def create_database(prefix: str = "relaybot_test") -> tuple[str, str]:
    """(URL, name) of a new empty database; skips the test when no server is reachable."""
    admin = admin_url()
    if admin is None:
        pytest.skip("no PostgreSQL server reachable on 127.0.0.1:5432: " + "; ".join(_why[-3:]))
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"

    async def create() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    _run(create())
    parts = admin.split("/")
    return "/".join(parts[:3]) + f"/{name}", name


def drop_database(name: str) -> None:
    admin = admin_url()
    assert admin is not None

    async def drop() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    _run(drop())


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A database of this test module (migrated by the first store opened on it)."""
    url, name = create_database()
    try:
        yield url
    finally:
        drop_database(name)


async def truncate_all(url: str) -> None:
    """Empty every relaybot table (ids start again at 1); the schema stays."""
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " AND tablename <> 'relaybot_schema'"
        )
        if tables:
            names = ", ".join(f'"{r[0]}"' for r in tables)
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY")
    finally:
        await conn.close()


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[PostgresStore]:
    """An open store on the module's database, every table empty."""
    store = PostgresStore(pg_url, pool_size=4)
    await store.open()
    await truncate_all(pg_url)
    try:
        yield store
    finally:
        await store.close()
