"""The SQLite store: schema migrations, WAL, history and settings that survive a reopen."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest

from core.engine.history import Turn
from core.errors import StorageError
from core.relay.types import Usage
from core.storage.sqlite import MIGRATIONS, ConversationSettings, SqliteStore


async def usage_totals(store: SqliteStore, conv_key: str) -> Usage:
    """What the usage rows of ``conv_key`` add up to."""
    rows = await store.query(
        "SELECT COALESCE(SUM(prompt_tokens),0), COALESCE(SUM(completion_tokens),0),"
        " COALESCE(SUM(total_tokens),0) FROM usage WHERE conv_key = ?",
        (conv_key,),
    )
    return Usage(int(rows[0][0]), int(rows[0][1]), int(rows[0][2]))


async def test_open_creates_folder_wal_and_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "bot.db"
    store = SqliteStore(path)
    await store.open()
    try:
        assert path.exists()
        assert await store.schema_version() == len(MIGRATIONS)
        async with store.db.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"  # type: ignore[index]
    finally:
        await store.close()


async def test_history_and_settings_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = SqliteStore(path)
    await store.open()
    await store.append_turns("k", [Turn("user", "你好", 6), Turn("assistant", "hi", 5)], keep=50)
    await store.set_model("k", "gpt-4o")
    await store.set_system_prompt("k", "be a cat")
    await store.record_usage("k", "gpt-4o", Usage(10, 5, 15), "req-1")
    await store.close()

    again = SqliteStore(path)
    await again.open()
    try:
        assert await again.recent_turns("k", 50) == [
            Turn("user", "你好", 6),
            Turn("assistant", "hi", 5),
        ]
        assert await again.get_settings("k") == ConversationSettings("gpt-4o", "be a cat")
        assert await usage_totals(again, "k") == Usage(10, 5, 15)
        assert await again.recent_turns("other", 50) == []
        assert await again.get_settings("other") == ConversationSettings()
    finally:
        await again.close()


async def test_append_keeps_only_newest_rows_per_conversation(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    await store.open()
    try:
        for i in range(10):
            await store.append_turns(
                "k", [Turn("user", f"q{i}", 1), Turn("assistant", f"a{i}", 1)], keep=6
            )
        await store.append_turns("other", [Turn("user", "x", 1)], keep=6)
        turns = await store.recent_turns("k", 100)
        assert [t.content for t in turns] == ["q7", "a7", "q8", "a8", "q9", "a9"]
        assert await store.recent_turns("k", 2) == [
            Turn("user", "q9", 1),
            Turn("assistant", "a9", 1),
        ]
        assert len(await store.recent_turns("other", 100)) == 1
    finally:
        await store.close()


async def test_clear_history_keeps_settings(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "bot.db")
    await store.open()
    try:
        await store.append_turns("k", [Turn("user", "q", 1)], keep=10)
        await store.set_model("k", "m")
        await store.clear_history("k")
        assert await store.recent_turns("k", 10) == []
        assert (await store.get_settings("k")).model == "m"
        await store.set_model("k", None)
        assert await store.get_settings("k") == ConversationSettings()
    finally:
        await store.close()


async def test_migrates_an_older_database_in_place(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    async with aiosqlite.connect(path) as db:  # a database from before any migration
        await db.execute("CREATE TABLE unrelated (x INTEGER)")
        await db.commit()
    store = SqliteStore(path)
    await store.open()
    try:
        assert await store.schema_version() == len(MIGRATIONS)
    finally:
        await store.close()


async def test_refuses_a_database_from_a_newer_version(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    async with aiosqlite.connect(path) as db:
        await db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
        await db.commit()
    store = SqliteStore(path)
    try:
        await store.open()
    except StorageError as exc:
        assert "newer than this relaybot" in str(exc) and "storage.path" in str(exc)
    else:
        raise AssertionError("opened a database with a newer schema")
    finally:
        await store.close()


async def test_unusable_path_is_a_clear_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = SqliteStore(blocker / "bot.db")
    try:
        await store.open()
    except StorageError as exc:
        assert "storage.path" in str(exc) and str(blocker) in str(exc)
    else:
        raise AssertionError("opened a database under a file")


async def test_usage_is_stored_with_the_turn_it_produced(tmp_path: Path) -> None:
    from core.storage.sqlite import UsageRecord

    store = SqliteStore(tmp_path / "bot.db")
    await store.open()
    try:
        await store.append_turns(
            "k",
            [Turn("user", "q", 1), Turn("assistant", "a", 1)],
            10,
            UsageRecord("m", Usage(3, 4, 7), "req-9"),
        )
        assert await usage_totals(store, "k") == Usage(3, 4, 7)
        assert await store.recent_images("k", 0) == []
        await store.save_image("k", b"jpeg", "image/jpeg", 2)
        assert len(await store.recent_images("k", 0)) == 1
    finally:
        await store.close()


async def test_a_failed_write_is_rolled_back_whole_and_is_a_storage_error(tmp_path: Path) -> None:
    import sqlite3

    from core.storage.sqlite import UsageRecord

    path = tmp_path / "bot.db"
    store = SqliteStore(path)
    await store.open()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute(  # the messages insert fails after the usage insert of the same turn
        "CREATE TRIGGER refuse BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    try:
        with pytest.raises(StorageError, match="database write failed"):
            await store.append_turns(
                "k", [Turn("user", "q", 1)], 10, UsageRecord("m", Usage(1, 2, 3), "r")
            )
        assert await usage_totals(store, "k") == Usage(0, 0, 0)  # rolled back with it
        other.execute("DROP TRIGGER refuse")
        await store.append_turns("k", [Turn("user", "q", 1)], 10)  # the store goes on
        assert len(await store.recent_turns("k", 10)) == 1
    finally:
        other.close()
        await store.close()


async def test_a_full_disk_is_storage_unavailable_and_the_store_goes_on(tmp_path: Path) -> None:
    from core.errors import StorageUnavailableError

    store = SqliteStore(tmp_path / "bot.db")
    await store.open()
    try:
        pages = (await store.query("PRAGMA page_count"))[0][0]
        await store.query(f"PRAGMA max_page_count={pages}")  # the disk is full now
        with pytest.raises(StorageUnavailableError, match="full"):
            await store.append_turns("k", [Turn("user", "x" * 100_000, 1)], 10)
        await store.query(f"PRAGMA max_page_count={pages + 1000}")  # space again
        await store.append_turns("k", [Turn("user", "small", 1)], 10)
        assert [t.content for t in await store.recent_turns("k", 10)] == ["small"]
    finally:
        await store.close()


async def test_a_locked_database_fails_open_instead_of_starting(tmp_path: Path) -> None:
    import sqlite3

    from core.errors import StorageUnavailableError

    path = tmp_path / "bot.db"
    first = SqliteStore(path)
    await first.open()
    await first.close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    store = SqliteStore(path, busy_timeout_s=0.05)
    try:
        with pytest.raises(StorageUnavailableError, match="locked.*storage.path"):
            await store.open()
        with pytest.raises(StorageError, match="before open"):
            _ = store.db  # closed again: no aiosqlite thread left running
    finally:
        other.close()


async def test_a_damaged_database_is_a_clear_storage_error(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "bot.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE filler (x TEXT)")
        db.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,)] * 200)
    data = bytearray(path.read_bytes())
    data[2000:6000] = b"\xff" * 4000  # pages after the header are garbage now
    path.write_bytes(bytes(data))
    store = SqliteStore(path)
    with pytest.raises(StorageError, match="damaged or not a database.*storage.path"):
        await store.open()
