"""``relaybot export`` / ``import``: SQLite -> PostgreSQL -> SQLite loses nothing (every table,
blobs, ids, times), new ids continue after the copied ones, a non-empty target is refused
unless --replace, and the command line says what happened with clear exit statuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.cli import main
from bots.wechat.store import BridgeStore
from core.access.ids import Who
from core.access.store import AccessStore
from core.engine.history import Turn
from core.jobs import store as js
from core.jobs.claims import JobClaims
from core.jobs.results import JobResults
from core.jobs.store import JobStore
from core.platform.outbox import Destination
from core.relay.types import Usage
from core.storage.copy import TargetNotEmptyError, copy_database
from core.storage.postgres import PostgresStore
from core.storage.sqlite import SqliteStore
from core.storage.store import Store, UsageRecord
from core.workers.inbox import Inbox
from core.workers.leases import Leases
from tests.conftest import write_config
from tests.pg import pg_url, truncate_all

__all__ = ["pg_url"]

PASSWORD = "Copy-S3cret-Passw0rd"
BLOB = bytes(range(256)) * 8


async def fill(store: Store) -> None:
    """A row (or a few) in every table, through the code that writes them."""
    turns = [Turn("user", "héllo ✓ 'quoted' ?", 3), Turn("assistant", "answer", 4)]
    await store.append_turns("telegram:u:1", turns, 50, UsageRecord("gpt", Usage(1, 2, 3), "r1"))
    await store.record_usage("telegram:u:1", "gpt", Usage(5, 0, 5), "r2")
    await store.set_model("telegram:u:1", "gpt-x")
    await store.set_voice_reply("telegram:u:1", True)
    await store.save_image("telegram:u:1", BLOB, "image/png", 3)
    await store.save_actions({"tok": "/u1 task"})
    jobs = JobStore(store)
    dest = Destination("telegram", "1", "1", "zh", thread_id="7", group=True, adapter="tg2")
    job = await jobs.create("mj", "imagine", "telegram:u:1", dest, "a cat", 2e9)
    await jobs.update(job.id, state=js.DELIVERED, result='{"url": "x"}', progress=100)
    await jobs.create("suno", "music", "telegram:u:1", dest, "a song", 2e9)
    await JobResults(store, jobs).record(job, ["m1", "m2"])
    access = AccessStore(store)
    await access.set_rule("telegram:9", "block", "admin")
    await access.add(Who("telegram", "1", "g", True), "images", 2, "mj", ref="job:1")
    bridge = BridgeStore(store)
    await bridge.signing_key()
    await bridge.claim("inst", "msg-1", "req-1")
    await bridge.save_reply("inst", "msg-1", {"text": "hi"})
    await bridge.add_delivery("inst", "1", "done", "room", "u", [{"type": "text"}], 3600)
    await bridge.put_media("video/mp4", "v.mp4", b"\x00\x01video", 3600)
    await bridge.save_ref("room", "u", {"ref": 1})
    # issue 15: a worker's lease on a chat, a stored Telegram update, a claimed job
    await Leases(store, "w1/abc", 30).acquire("telegram:1:chat:5")
    await Inbox(store, "telegram:1", "w1/abc").accept(7, "telegram:1:chat:5", {"update_id": 7})
    await JobClaims(store, "w1/abc", 30).claim(job.id)
    async with store.transaction() as tx:  # a daily summary (retention writes them)
        await tx.execute(
            "INSERT INTO usage_daily (day, platform, user_id, chat, kind, model, amount, count)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ("2026-01-01", "telegram", "1", "", "chat_tokens", "gpt", 10, 2),
        )


async def dump(store: Store) -> dict[str, list[tuple[object, ...]]]:
    tables = await store.backend.tables()
    found = {}
    for table, columns in tables.items():
        rows = await store.query(f"SELECT {', '.join(columns)} FROM {table}")
        found[table] = sorted(rows, key=repr)
    return found


async def test_sqlite_to_postgresql_and_back_loses_nothing(tmp_path: Path, pg_url: str) -> None:
    original = SqliteStore(tmp_path / "a.db")
    pg = PostgresStore(pg_url)
    back = SqliteStore(tmp_path / "b.db")
    for store in (original, pg, back):
        await store.open()
    try:
        await truncate_all(pg_url)
        await fill(original)
        there = await copy_database(original, pg)
        again = await copy_database(pg, back)
        before = await dump(original)
        assert all(before.values())  # every table had rows
        assert await dump(pg) == before
        assert await dump(back) == before
        assert there.rows == again.rows and there.total == sum(len(r) for r in before.values())
        # new ids continue after the copied ones, on both sides
        dest = Destination("telegram", "1", "1", "en")
        assert (await JobStore(pg).create("mj", "imagine", "k", dest, "p", 2e9)).id == 3
        assert (await JobStore(back).create("mj", "imagine", "k", dest, "p", 2e9)).id == 3
    finally:
        for store in (original, pg, back):
            await store.close()


async def test_a_non_empty_target_is_refused_unless_replaced(tmp_path: Path, pg_url: str) -> None:
    source, target = SqliteStore(tmp_path / "a.db"), PostgresStore(pg_url)
    await source.open()
    await target.open()
    try:
        await truncate_all(pg_url)
        await source.save_actions({"new": "/a"})
        await target.save_actions({"old": "/b"})
        with pytest.raises(TargetNotEmptyError, match="--replace"):
            await copy_database(source, target)
        assert await target.get_action("old") == "/b"  # untouched
        await copy_database(source, target, replace=True)
        assert (await target.get_action("old"), await target.get_action("new")) == (None, "/a")
    finally:
        await source.close()
        await target.close()


def test_the_commands_export_import_and_migrate(
    tmp_path: Path,
    pg_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELAY_API_KEY", "sk-test-key")
    scheme, rest = pg_url.split("://", 1)
    user, host = rest.split("@", 1)
    secret_url = f"{scheme}://{user}:{PASSWORD}@{host}"
    config = str(write_config(tmp_path, "http://127.0.0.1:9/v1"))

    assert main(["migrate", "-c", config]) == 0
    assert "migrated from schema version 0 to" in capsys.readouterr().out
    assert main(["migrate", "-c", config]) == 0
    assert "up to date" in capsys.readouterr().out

    assert main(["export", "-c", config, "--to", secret_url, "--replace"]) == 0
    out, err = capsys.readouterr()
    assert "total: 0 rows" in out and "postgresql://***@" in out and PASSWORD not in out + err

    assert main(["export", "-c", config, "--to", "mysql://u:" + PASSWORD + "@h/db"]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("relaybot: --to: ") and PASSWORD not in err

    bad = secret_url.replace(host.split("/")[0], "127.0.0.1:1")
    assert main(["import", "-c", config, "--from", bad]) == 2
    out, err = capsys.readouterr()
    assert "cannot connect" in err and "--from=postgresql://***@127.0.0.1:1/" in err
    assert PASSWORD not in out + err

    db = tmp_path / "data" / "bot.db"
    assert main(["export", "-c", config, "--to", f"sqlite:///{db}"]) == 2
    assert "the same database" in capsys.readouterr().err


def test_import_into_postgresql_as_the_readme_says(
    tmp_path: Path,
    pg_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The documented move: the config points at PostgreSQL (password from the environment),
    ``relaybot import --from sqlite:///old.db`` copies the old file in."""
    import asyncio

    async def old_file() -> None:
        store = SqliteStore(tmp_path / "old.db")
        await store.open()
        try:
            await fill(store)
        finally:
            await store.close()

    async def count_rows() -> int:
        store = PostgresStore(pg_url)
        await store.open()
        try:
            return int(await store.fetchval("SELECT COUNT(*) FROM messages"))
        finally:
            await store.close()

    asyncio.run(old_file())
    scheme, rest = pg_url.split("://", 1)
    user, host = rest.split("@", 1)
    monkeypatch.setenv("RELAY_API_KEY", "sk-test-key")
    monkeypatch.setenv("RELAYBOT_DB_URL", f"{scheme}://{user}:{PASSWORD}@{host}")
    config = str(
        write_config(tmp_path, "http://127.0.0.1:9/v1", storage="  url: ${RELAYBOT_DB_URL}")
    )
    source = f"sqlite:///{tmp_path / 'old.db'}"
    assert main(["import", "-c", config, "--from", source, "--replace"]) == 0
    out, err = capsys.readouterr()
    assert "messages: 2 rows" in out and "conv_images: 1 rows" in out
    assert PASSWORD not in out + err
    assert asyncio.run(count_rows()) == 2
