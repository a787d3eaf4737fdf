"""Issue 15's primitives on both backends (SQLite file, real PostgreSQL): chat leases, the
shared Telegram inbox (dedupe, order, a dead worker's updates) and job claims (one worker per
job, expiry hands a dead worker's jobs to another, submits and deliveries never redone)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bots.wechat.store import BridgeStore
from core.jobs import store as js
from core.jobs.claims import JobClaims
from core.jobs.store import JobStore
from core.platform.outbox import Destination
from core.storage.postgres import PostgresStore
from core.storage.sqlite import SqliteStore
from core.storage.store import Store
from core.workers.inbox import DONE, INTERRUPTED, PENDING, TAKEN, Inbox
from core.workers.leases import Leases, holder_name
from tests.pg import pg_url, truncate_all

__all__ = ["pg_url"]  # the module's database (a fixture)

DEST = Destination("telegram", "c1", "u1", "en")
SHORT = 0.3  # seconds: a lease that expires while the test waits for it
LONG = 60.0


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        found: Store = SqliteStore(tmp_path / "bot.db")
    else:
        url = request.getfixturevalue("pg_url")
        found = PostgresStore(url, pool_size=4)
    await found.open()
    if request.param == "postgresql":
        await truncate_all(url)
    try:
        yield found
    finally:
        await found.close()


async def eventually(check: Callable[[], Awaitable[bool]], limit_s: float = 5) -> None:
    """Until ``check()`` is true (a lease running out on the database's clock)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {limit_s}s")
        await asyncio.sleep(0.02)


# --- leases ----------------------------------------------------------------------------------


async def test_a_lease_has_one_holder_until_it_expires(store: Store) -> None:
    a = Leases(store, holder_name("a"), SHORT)
    b = Leases(store, holder_name("b"), LONG)
    assert await a.acquire("chat:1")
    assert await a.acquire("chat:1")  # ours: renewed
    assert not await b.acquire("chat:1")
    assert await b.acquire("chat:2")
    assert await a.held() == ["chat:1"]
    await eventually(lambda: b.acquire("chat:1"))  # a stopped renewing: b takes it over
    assert not await a.acquire("chat:1")
    assert await b.held() == ["chat:1", "chat:2"]
    assert not await a.release("chat:1")  # not a's any more
    assert await b.release_all() == 2


async def test_renewing_keeps_a_lease(store: Store) -> None:
    a = Leases(store, holder_name("a"), 0.5)
    b = Leases(store, holder_name("b"), LONG)
    assert await a.acquire("chat:1")
    loop = asyncio.get_running_loop()
    end = loop.time() + 1.5  # three lease lengths, renewed all along
    while loop.time() < end:
        assert await a.renew() == 1
        assert not await b.acquire("chat:1")
        await asyncio.sleep(0.1)


# --- the inbox -------------------------------------------------------------------------------


def update(update_id: int, chat: int, text: str = "hi") -> dict[str, object]:
    return {"update_id": update_id, "message": {"chat": {"id": chat}, "text": text}}


async def test_an_update_delivered_twice_is_stored_once(store: Store) -> None:
    inbox = Inbox(store, "telegram:1", holder_name("a"))
    assert await inbox.accept(10, "chat:5", update(10, 5))
    assert not await inbox.accept(10, "chat:5", update(10, 5))  # Telegram's retry
    other = Inbox(store, "telegram:2", holder_name("a"))  # another bot: its own ids
    assert await other.accept(10, "chat:5", update(10, 5))
    assert await inbox.states() == {10: PENDING}


async def test_a_chat_is_taken_by_one_worker_in_update_order(store: Store) -> None:
    a_leases = Leases(store, holder_name("a"), LONG)
    b_leases = Leases(store, holder_name("b"), LONG)
    a = Inbox(store, "telegram:1", a_leases.holder)
    b = Inbox(store, "telegram:1", b_leases.holder)
    for update_id, chat in ((12, 5), (11, 5), (13, 6)):
        await a.accept(update_id, f"chat:{chat}", update(update_id, chat))
    assert await b.ready_chats() == ["chat:5", "chat:6"]  # oldest waiting update first
    assert await b_leases.acquire("chat:5")
    taken, lost = await b.take("chat:5")
    assert [r.update_id for r in taken] == [11, 12] and not lost
    assert taken[0].payload == update(11, 5)
    assert await a.ready_chats() == ["chat:6"]  # chat 5 is b's
    await a.accept(14, "chat:5", update(14, 5))
    assert await a.ready_chats() == ["chat:6"]
    assert not await b.release_if_idle("chat:5")  # 11 and 12 are being answered, 14 waits
    assert [r.update_id for r in (await b.take("chat:5"))[0]] == [14]
    for update_id in (11, 12, 14):
        await b.finish(update_id)
    assert await b.release_if_idle("chat:5")
    assert (await a.states())[11] == DONE


async def test_a_dead_workers_update_is_not_answered_again(store: Store) -> None:
    dead = Leases(store, holder_name("dead"), SHORT)
    live = Leases(store, holder_name("live"), LONG)
    dead_inbox = Inbox(store, "telegram:1", dead.holder)
    inbox = Inbox(store, "telegram:1", live.holder)
    await inbox.accept(1, "chat:5", update(1, 5))
    assert await dead.acquire("chat:5")
    await dead_inbox.take("chat:5")  # being answered... and the worker is killed
    await inbox.accept(2, "chat:5", update(2, 5))
    assert await inbox.ready_chats() == []  # its lease still runs

    async def free() -> bool:  # ... until it expires
        return await inbox.ready_chats() == ["chat:5"]

    await eventually(free)
    assert await live.acquire("chat:5")
    taken, lost = await inbox.take("chat:5")
    assert [r.update_id for r in lost] == [1] and [r.update_id for r in taken] == [2]
    assert await inbox.states() == {1: INTERRUPTED, 2: TAKEN}
    await dead_inbox.finish(1)  # a late write of the dead worker changes nothing
    assert (await inbox.states())[1] == INTERRUPTED


async def test_taken_updates_go_back_at_a_clean_stop_and_old_ones_are_purged(
    store: Store,
) -> None:
    a = Inbox(store, "telegram:1", holder_name("a"))
    await a.accept(1, "chat:5", update(1, 5))
    await a.accept(2, "chat:5", update(2, 5))
    await a.take("chat:5")
    await a.finish(1)
    await a.put_back([2])
    assert await a.states() == {1: DONE, 2: PENDING}
    assert await a.purge(a.now() + 1) == 1  # the answered one only
    assert await a.states() == {2: PENDING}


# --- job claims ------------------------------------------------------------------------------


async def running_job(jobs: JobStore, prompt: str = "a cat") -> int:
    job = await jobs.create("mj", "imagine", "k", DEST, prompt, deadline=10**10)
    await jobs.update(job.id, state=js.RUNNING, relay_task_id=f"t-{job.id}", next_poll_at=0)
    return job.id


async def test_each_due_job_is_claimed_by_one_worker(store: Store) -> None:
    jobs = JobStore(store)
    ids = [await running_job(jobs, f"p{n}") for n in range(6)]
    a = JobClaims(store, holder_name("a"), LONG)
    b = JobClaims(store, holder_name("b"), LONG)
    got_a, got_b = await asyncio.gather(
        a.claim_due(1.0, ["telegram"], limit=4), b.claim_due(1.0, ["telegram"], limit=4)
    )
    mine = {job.id for job in got_a}
    theirs = {job.id for job in got_b}
    assert not mine & theirs and mine | theirs == set(ids)
    again = {job.id for job in await a.claim_due(1.0, ["telegram"])}
    assert again == mine  # a keeps its own; b's are b's while b lives
    assert await b.claim_due(1.0, ["discord"]) == []  # no adapter of theirs runs here


async def test_a_dead_workers_jobs_go_to_another(store: Store) -> None:
    jobs = JobStore(store)
    job_id = await running_job(jobs)
    dead = JobClaims(store, holder_name("dead"), SHORT)
    live = JobClaims(store, holder_name("live"), LONG)
    assert [j.id for j in await dead.claim_due(1.0, ["telegram"])] == [job_id]
    assert await live.claim_due(1.0, ["telegram"]) == []

    async def taken_over() -> bool:
        return [j.id for j in await live.claim_due(1.0, ["telegram"])] == [job_id]

    await eventually(taken_over)
    assert (await live.holders())[job_id] == live.holder
    assert await dead.renew() == 0  # too late: the claim is not the dead one's any more


async def test_a_submit_or_delivery_left_by_a_dead_worker_is_settled_not_redone(
    store: Store,
) -> None:
    jobs = JobStore(store)
    dead = JobClaims(store, holder_name("dead"), SHORT)
    live = JobClaims(store, holder_name("live"), LONG)
    submitting = await jobs.create("mj", "imagine", "k", DEST, "p", deadline=10**10)
    assert await dead.claim(submitting.id)
    delivering = await running_job(jobs)
    await dead.claim_due(1.0, ["telegram"])
    await jobs.update(delivering, expect=js.RUNNING, state=js.DELIVERING)
    assert await live.orphans(["telegram"]) == []  # the dead worker's claims still run

    found: list[int] = []

    async def settled() -> bool:  # each is returned once, as its claim runs out
        found.extend(j.id for j in await live.orphans(["telegram"]))
        return sorted(found) == [submitting.id, delivering]

    await eventually(settled)
    assert await live.orphans(["telegram"]) == []  # once
    assert await live.move(delivering, expect=js.DELIVERING, state=js.IN_DOUBT)
    assert not await dead.move(delivering, expect=js.DELIVERING, state=js.IN_DOUBT)


async def test_renewed_claims_last_and_a_clean_stop_frees_running_jobs(store: Store) -> None:
    jobs = JobStore(store)
    job_id = await running_job(jobs)
    a = JobClaims(store, holder_name("a"), 0.5)
    b = JobClaims(store, holder_name("b"), LONG)
    await a.claim_due(1.0, ["telegram"])
    loop = asyncio.get_running_loop()
    end = loop.time() + 1.2
    while loop.time() < end:
        assert await a.renew() == 1
        assert await b.claim_due(1.0, ["telegram"]) == []
        await asyncio.sleep(0.1)
    assert await a.release_running() == 1
    assert [j.id for j in await b.claim_due(1.0, ["telegram"])] == [job_id]


# --- the WeChat outbox -----------------------------------------------------------------------


async def test_two_workers_leasing_the_wechat_outbox_get_different_deliveries(
    store: Store,
) -> None:
    bridge = BridgeStore(store)
    made = {
        await bridge.add_delivery("cow", None, "succeeded", "c", "u", [{"type": "text"}], 600)
        for _ in range(6)
    }
    one, two = await asyncio.gather(bridge.lease("cow", 4, 60), bridge.lease("cow", 4, 60))
    first = {d.delivery_id for d in one}
    second = {d.delivery_id for d in two}
    assert not first & second and first | second == made
    assert await bridge.lease("cow", 10, 60) == []  # all hidden while leased
