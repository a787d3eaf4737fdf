"""The storage contract: every test runs on SQLite (a file) and on PostgreSQL (a real server,
one database for the module, emptied between tests). Both backends must give the same
answers to the same calls: history, settings, pictures, actions, usage, jobs, the access
ledger and retention, the WeChat bridge's tables, transactions and errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.wechat.store import BridgeStore
from core.access.ids import Who
from core.access.retention import forget_user, prune
from core.access.store import AccessStore
from core.engine.history import Turn
from core.errors import StorageError
from core.jobs import store as js
from core.jobs.results import JobResults
from core.jobs.store import JobStore
from core.platform.outbox import Destination
from core.relay.types import Usage
from core.storage import schema_postgres, schema_sqlite
from core.storage.db import POSTGRES, SQLITE, dollar_placeholders, rowcount
from core.storage.postgres import PostgresStore
from core.storage.sqlite import SqliteStore
from core.storage.store import Store, UsageRecord
from tests.pg import pg_url, truncate_all

__all__ = ["pg_url"]  # the module's database (a fixture)

DAY = 86400.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        found: Store = SqliteStore(tmp_path / "bot.db", clock=clock)
    else:
        url = request.getfixturevalue("pg_url")
        found = PostgresStore(url, pool_size=3, clock=clock)
    await found.open()
    if request.param == "postgresql":
        await truncate_all(url)
    try:
        yield found
    finally:
        await found.close()


DEST = Destination("telegram", "c1", "u1", "en")


# --- the schema ------------------------------------------------------------------------------


def test_both_backends_have_the_same_migrations() -> None:
    assert len(schema_sqlite.MIGRATIONS) == len(schema_postgres.MIGRATIONS)


async def test_the_schema_is_at_the_latest_version_with_the_same_tables(
    store: Store, tmp_path: Path
) -> None:
    assert await store.schema_version() == len(schema_sqlite.MIGRATIONS)
    reference = SqliteStore(tmp_path / "reference.db")
    await reference.open()
    try:
        assert await store.backend.tables() == await reference.backend.tables()
    finally:
        await reference.close()
    assert await store.migrate() == (len(schema_sqlite.MIGRATIONS),) * 2  # nothing left to do


# --- history, settings, pictures, actions, usage ---------------------------------------------


async def test_history_keeps_the_newest_turns_in_order(store: Store) -> None:
    for n in range(4):
        turns = [Turn("user", f"q{n}", n + 1), Turn("assistant", f"a{n}", n + 2)]
        await store.append_turns("k", turns, keep=5)
    got = await store.recent_turns("k", 10)
    assert [t.content for t in got] == ["a1", "q2", "a2", "q3", "a3"]
    assert got[-1] == Turn("assistant", "a3", 5)
    assert [t.content for t in await store.recent_turns("k", 2)] == ["q3", "a3"]
    assert await store.recent_turns("other", 5) == []
    await store.clear_history("k")
    assert await store.recent_turns("k", 5) == []


async def test_a_nul_character_in_text_is_stored(store: Store) -> None:
    """SQLite keeps U+0000; PostgreSQL's TEXT cannot hold it: U+FFFD instead, never a failure."""
    await store.append_turns("k", [Turn("assistant", "a\x00b", 1)], keep=5)
    expected = "a\ufffdb" if store.dialect.is_postgres else "a\x00b"
    assert [t.content for t in await store.recent_turns("k", 5)] == [expected]


async def test_usage_is_stored_with_the_turns_and_alone(store: Store) -> None:
    usage = UsageRecord("gpt", Usage(3, 4, 7), "req-1")
    await store.append_turns("k", [Turn("user", "hi", 1)], keep=10, usage=usage)
    await store.record_usage("k", "gpt", Usage(1, 0, 1), "req-2")
    rows = await store.query(
        "SELECT model, prompt_tokens, completion_tokens, total_tokens, request_id FROM usage"
        " WHERE conv_key = ? ORDER BY id",
        ("k",),
    )
    assert rows == [("gpt", 3, 4, 7, "req-1"), ("gpt", 1, 0, 1, "req-2")]


async def test_settings_upsert_column_by_column(store: Store) -> None:
    assert (await store.get_settings("k")).model is None
    await store.set_model("k", "m1")
    await store.set_system_prompt("k", "be brief")
    await store.set_voice_reply("k", True)
    await store.set_model("k", "m2")
    got = await store.get_settings("k")
    assert (got.model, got.system_prompt, got.voice_reply) == ("m2", "be brief", True)
    await store.set_system_prompt("k", None)
    assert (await store.get_settings("k")).system_prompt is None


async def test_pictures_are_blobs_trimmed_and_counted(store: Store, clock: Clock) -> None:
    blob = bytes(range(256)) * 4  # every byte value, NULs included
    for n in range(7):
        clock.now += 1
        await store.save_image("k", blob + bytes([n]), "image/png", 3, keep=5)
    got = await store.recent_images("k", since=0, limit=10)
    assert len(got) == 5 and got[0] == (blob + b"\x06", "image/png", 3)
    await store.use_image_turn("k")
    assert (await store.recent_image("k", 0)) == (blob + b"\x06", "image/png", 2)
    assert await store.recent_images("k", since=clock.now + 1) == []
    await store.forget_images(before=clock.now)  # all but the newest
    assert len(await store.recent_images("k", 0)) == 1
    await store.forget_images("k")
    assert await store.recent_image("k", 0) is None


async def test_an_action_token_keeps_its_first_action(store: Store) -> None:
    await store.save_actions({"t1": "/a", "t2": "/b"})
    await store.save_actions({"t1": "/changed"})
    await store.save_actions({})
    assert (await store.get_action("t1"), await store.get_action("t2")) == ("/a", "/b")
    assert await store.get_action("nope") is None


# --- transactions, placeholders, errors ------------------------------------------------------


async def test_a_failed_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(StorageError):
        async with store.transaction() as tx:
            await tx.execute(
                "INSERT INTO actions (token, action, created_at) VALUES (?, ?, ?)", ("t", "/a", 1.0)
            )
            await tx.execute(
                "INSERT INTO actions (token, action, created_at) VALUES (?, ?, ?)", ("t", "/b", 1.0)
            )  # the same key again
    assert await store.get_action("t") is None


async def test_an_error_of_the_caller_rolls_back_and_passes_through(store: Store) -> None:
    with pytest.raises(KeyError):
        async with store.transaction() as tx:
            await tx.execute(
                "INSERT INTO actions (token, action, created_at) VALUES (?, ?, ?)", ("t", "/a", 1.0)
            )
            raise KeyError("mine")
    assert await store.get_action("t") is None


async def test_fetch_helpers_rowcounts_and_returning(store: Store) -> None:
    async with store.transaction() as tx:
        first = await tx.fetchval(
            "INSERT INTO quota_events (platform, user_id, chat, kind, amount, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            ("tg", "u", "", "message", 1, 1.0),
        )
        await tx.executemany(
            "INSERT INTO quota_events (platform, user_id, chat, kind, amount, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [("tg", "u", "", "message", n, 2.0) for n in range(3)],
        )
        changed = await tx.execute(
            "UPDATE quota_events SET amount = amount + 1 WHERE id > ?", (first,)
        )
        row = await tx.fetchrow("SELECT COUNT(*), SUM(amount) FROM quota_events")
        none = await tx.fetchrow("SELECT id FROM quota_events WHERE id < 0")
        literal = await tx.fetchval("SELECT 'what? who?' || ?", ("!",))
    assert first == 1 and changed == 3 and row == (4, 1 + 1 + 2 + 3) and none is None
    assert literal == "what? who?!"
    assert await store.fetchval("SELECT COUNT(*) FROM quota_events WHERE amount > ?", (1,)) == 2
    assert await store.execute("DELETE FROM quota_events WHERE amount > ?", (1,)) == 2
    assert await store.fetchrow("SELECT COUNT(*) FROM quota_events") == (2,)


async def test_a_bad_statement_is_a_storage_error(store: Store) -> None:
    with pytest.raises(StorageError):
        await store.query("SELECT nope FROM nowhere")
    assert await store.query("SELECT 1") == [(1,)]  # the store still works


async def test_a_lock_is_held_until_the_transaction_ends(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.lock("conversation:1")
        await tx.execute(
            "INSERT INTO actions (token, action, created_at) VALUES (?, ?, ?)", ("t", "/a", 1.0)
        )
    assert await store.get_action("t") == "/a"


async def test_skip_locked_gives_a_second_transaction_other_rows(store: Store) -> None:
    """The claim pattern of several workers: rows one transaction holds are skipped by
    another, which neither waits nor takes them too."""
    if store.dialect.is_sqlite:
        pytest.skip("SQLite: one transaction at a time in the process, nothing to skip")
    await store.save_actions({f"t{n}": "/a" for n in range(4)})
    claim = "SELECT token FROM actions ORDER BY token LIMIT 2" + store.dialect.skip_locked()
    async with store.transaction() as first:
        mine = await first.fetch(claim)
        async with store.transaction() as second:
            theirs = await asyncio.wait_for(second.fetch(claim), 10)
    assert mine == [("t0",), ("t1",)] and theirs == [("t2",), ("t3",)]


async def test_a_named_lock_excludes_a_second_holder_until_commit(store: Store) -> None:
    """What several workers rely on: one holder of a conversation's lock at a time."""
    if store.dialect.is_sqlite:
        pytest.skip("SQLite: one transaction at a time in the process, the lock adds nothing")
    order: list[str] = []
    first_in, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with store.transaction() as tx:
            await tx.lock("conv:1")
            order.append("first in")
            first_in.set()
            await release.wait()
            order.append("first out")

    async def second() -> None:
        await first_in.wait()
        async with store.transaction() as tx:
            await tx.lock("conv:1")
            order.append("second in")

    async def other_key() -> None:
        await first_in.wait()
        async with store.transaction() as tx:
            await tx.lock("conv:2")  # another conversation is not held up
            order.append("other in")

    tasks = [asyncio.create_task(c()) for c in (first, second, other_key)]
    waiting = "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    deadline = asyncio.get_running_loop().time() + 10
    while not ("other in" in order and await store.fetchval(waiting)):  # second one waits
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the second holder never waited: {order}")
        await asyncio.sleep(0.01)
    release.set()
    await asyncio.gather(*tasks)
    assert order.index("second in") > order.index("first out")


def test_placeholders_and_status_lines() -> None:
    assert dollar_placeholders("SELECT ? , '?', \"a?\" WHERE x = ?") == (
        "SELECT $1 , '?', \"a?\" WHERE x = $2"
    )
    assert dollar_placeholders("SELECT 'it''s ?' , ?") == "SELECT 'it''s ?' , $1"
    assert [rowcount(s) for s in ("UPDATE 3", "INSERT 0 1", "CREATE TABLE", "")] == [3, 1, 0, 0]
    assert SQLITE.skip_locked() == "" and POSTGRES.skip_locked() == " FOR UPDATE SKIP LOCKED"
    assert POSTGRES.upsert("t", ("k", "v"), key=("k",)) == (
        "INSERT INTO t (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
    )
    assert SQLITE.upsert("t", ("k",), key=("k",)).endswith("ON CONFLICT (k) DO NOTHING")


async def test_the_server_clock_is_epoch_seconds(store: Store) -> None:
    import time

    now = float(await store.fetchval(f"SELECT {store.dialect.now()}"))
    assert abs(now - time.time()) < 120


# --- jobs ------------------------------------------------------------------------------------


async def test_jobs_are_created_moved_on_once_and_found(store: Store, clock: Clock) -> None:
    jobs = JobStore(store)
    a = await jobs.create("mj", "imagine", "k", DEST, "a cat", clock.now + 600)
    b = await jobs.create("suno", "music", "k", DEST, "a song", clock.now + 600)
    assert (a.id, b.id) == (1, 2) and a.state == js.SUBMITTING and a.dest == DEST
    assert await jobs.update(a.id, expect=js.SUBMITTING, state=js.RUNNING, relay_task_id="t1")
    assert not await jobs.update(a.id, expect=js.SUBMITTING, state=js.FAILED)  # moved on
    assert await jobs.update(b.id, state=js.RUNNING, next_poll_at=clock.now + 30, progress=40)
    assert [j.id for j in await jobs.due(clock.now)] == [a.id]
    assert [j.id for j in await jobs.active()] == [a.id, b.id]
    assert (await jobs.by_task("mj", "t1")) == await jobs.get(a.id)
    assert await jobs.next_poll_times() == {"telegram": clock.now}
    assert [j.id for j in await jobs.running_for("telegram", "u1")] == [1, 2]
    await jobs.update(b.id, state=js.IN_DOUBT)
    assert [j.id for j in await jobs.in_doubt_for("telegram", "u1")] == [b.id]
    got = await jobs.get(b.id)
    assert got is not None and got.progress == 40 and isinstance(got.deadline, float)


async def test_job_messages_point_at_their_job(store: Store, clock: Clock) -> None:
    jobs = JobStore(store)
    job = await jobs.create("mj", "imagine", "k", DEST, "a cat", clock.now + 600)
    results = JobResults(store, jobs)
    await results.record(job, ["m1", "m2"])
    await results.record(job, ["m2"])  # again: replaced, not doubled
    assert (await results.of_message("telegram", "c1", "m2")) == job
    assert await results.of_message("telegram", "c1", "m9") is None
    await jobs.update(job.id, state=js.DELIVERED, result='{"ok": 1}')
    assert [j.id for j in await results.latest("k")] == [job.id]


# --- access: rules, ledger, retention --------------------------------------------------------


async def test_rules_and_the_ledger(store: Store, clock: Clock) -> None:
    access = AccessStore(store)
    await access.set_rule("telegram:1", "allow", "admin")
    await access.set_rule("telegram:2", "allow", "admin")
    await access.set_rule("telegram:2", "block", "admin")
    await access.set_rule("telegram:1", None, "admin")
    rules = await access.rules()
    assert (rules.allowed, rules.blocked) == (frozenset(), frozenset({"telegram:2"}))
    who = Who("telegram", "u1", "g1", True)
    first = await access.add(who, "images", 2, "dall-e-3", ref="r1")
    second = await access.add(who, "message", 1)
    await access.add(Who("telegram", "u2", "g1", True), "images", 1, "mj")
    assert second == first + 1
    await access.settle(first, 3)
    await access.set_ref(second, "r2")
    assert await access.used_by_user(who, "images", 0) == 3
    assert await access.used_in_chat("telegram:g1", "images", 0) == 4
    assert await access.totals(0) == [
        ("images", "dall-e-3", 3, 1),
        ("images", "mj", 1, 1),
        ("message", "", 1, 1),
    ]
    assert (await access.top_users(0))[0] == ("telegram:u1", "images", 3, 1)
    stats = await access.stats()
    assert (stats["users"], stats["chats"], stats["messages"], stats["jobs"]) == (2, 1, 1, 0)
    assert await access.remove("r1") == 1 and await access.remove("r1") == 0
    await access.remove_id(second)
    assert await access.used_by_user(who, "message", 0) == 0


async def test_forget_user_and_prune(store: Store, clock: Clock) -> None:
    jobs = JobStore(store)
    private = "telegram:u:u1"
    await store.append_turns(private, [Turn("user", "secret", 1)], keep=10)
    await store.append_turns("telegram:g:g1:u:u1", [Turn("user", "in group", 1)], keep=10)
    await store.append_turns("telegram:u:u2", [Turn("user", "other", 1)], keep=10)
    job = await jobs.create("mj", "imagine", private, DEST, "a cat", clock.now + 600)
    await jobs.update(job.id, state=js.DELIVERED, relay_task_id="task-9", result="{}")
    await store.save_actions({"a": "/u1 task-9", "b": f"/jobs resend {job.id}", "c": "/keep"})
    await forget_user(store, "telegram", "u1")
    assert await store.recent_turns(private, 5) == []
    assert await store.recent_turns("telegram:g:g1:u:u1", 5) == []
    assert len(await store.recent_turns("telegram:u:u2", 5)) == 1
    assert [await store.get_action(t) for t in "abc"] == [None, None, "/keep"]
    forgotten = await jobs.get(job.id)
    assert forgotten is not None and (forgotten.prompt, forgotten.result) == ("", None)

    access = AccessStore(store)
    who = Who("telegram", "u2", "", False)
    await access.add(who, "chat_tokens", 10, "gpt")
    await access.add(who, "chat_tokens", 5, "gpt")
    clock.now += 100 * DAY
    first = await prune(store, 90, "UTC")
    await access.add(who, "chat_tokens", 7, "gpt")
    clock.now += 100 * DAY
    await prune(store, 90, "UTC")
    assert first["quota_events"] == 2 and first["messages"] == 1 and first["jobs"] == 1
    summary = await store.query(
        "SELECT SUM(amount), SUM(count) FROM usage_daily WHERE kind = 'chat_tokens'"
    )
    assert summary == [(22, 3)]
    assert await store.query("SELECT COUNT(*) FROM quota_events") == [(0,)]


async def test_prune_adds_to_an_existing_day(store: Store, clock: Clock) -> None:
    access = AccessStore(store)
    who = Who("telegram", "u2", "", False)
    await access.add(who, "chat_tokens", 10, "gpt")
    clock.now += 100 * DAY
    await prune(store, 90, "UTC")
    clock.now -= 100 * DAY
    await access.add(who, "chat_tokens", 5, "gpt")  # the same day, written late
    clock.now += 100 * DAY
    await prune(store, 90, "UTC")
    rows = await store.query("SELECT amount, count FROM usage_daily")
    assert rows == [(15, 2)]


# --- the WeChat bridge's tables --------------------------------------------------------------


async def test_bridge_dedupe_refs_media_and_key(store: Store, clock: Clock) -> None:
    bridge = BridgeStore(store)
    key = await bridge.signing_key()
    assert len(key) == 32 and await bridge.signing_key() == key
    assert await bridge.claim("i", "m1", "r1") and not await bridge.claim("i", "m1", "r2")
    assert await bridge.answered("i", "m1") == ("r1", None)
    await bridge.save_reply("i", "m1", {"text": "hi"})
    assert await bridge.answered("i", "m1") == ("r1", '{"text": "hi"}')
    await bridge.save_ref("room", "u1", {"a": 1})
    await bridge.save_ref("room", "u1", {"a": 2})
    assert await bridge.ref("room", "u1") == {"a": 2} and await bridge.ref("room", "u9") == {"a": 2}
    media_id = await bridge.put_media("video/mp4", "v.mp4", b"\x00video", 60)
    got = await bridge.media(media_id)
    assert got is not None and got.data == b"\x00video"
    clock.now += 61
    assert await bridge.media(media_id) is None
    await bridge.purge(messages_before=clock.now)
    assert await bridge.answered("i", "m1") is None


async def test_bridge_outbox_lease_and_ack(store: Store, clock: Clock) -> None:
    bridge = BridgeStore(store)
    ids = [
        await bridge.add_delivery("i", "7", "done", "room", "u1", [{"type": "text", "n": n}], 600)
        for n in range(3)
    ]
    first = await bridge.lease("i", 2, visibility_s=30)
    assert [d.delivery_id for d in first] == ids[:2]
    assert [d.delivery_id for d in await bridge.lease("i", 5, 30)] == ids[2:]  # others hidden
    assert await bridge.ack("i", {ids[0]: "ok", ids[0] + "x": "ok"}) == 1
    clock.now += 31
    assert [d.delivery_id for d in await bridge.lease("i", 5, 30)] == ids[1:]
    assert len(await bridge.job_parts("7")) == 3


async def test_concurrent_leases_never_share_a_delivery(store: Store) -> None:
    """Two leases at once (two workers on PostgreSQL, two tasks on SQLite) split the rows."""
    bridge = BridgeStore(store)
    for n in range(6):
        await bridge.add_delivery("i", None, "done", "room", "u1", [{"n": n}], 600)
    a, b = await asyncio.gather(bridge.lease("i", 3, 30), bridge.lease("i", 3, 30))
    got = [d.delivery_id for d in (*a, *b)]
    assert len(got) == 6 and len(set(got)) == 6
