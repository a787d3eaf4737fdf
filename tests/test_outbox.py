"""The outbox routes by the adapter that owns a conversation, and job rows remember it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.jobs import store as js
from core.jobs.runner import JobRunner, TaskUpdate
from core.platform.outbox import Destination, NothingSent, Outbox, OutboxUnavailable
from core.platform.types import FinalText, IncomingMessage
from core.storage.sqlite import SqliteStore
from tests.test_jobs import Clock, FakeFamily, Sink


def test_a_destination_is_owned_by_its_adapter_or_else_its_platform() -> None:
    msg = IncomingMessage("telegram", "c1", "group", "u1", "hi", adapter="tg-second")
    assert Destination.of(msg, "en").owner == "tg-second"
    plain = IncomingMessage("telegram", "c1", "private", "u1", "hi")
    assert Destination.of(plain, "en").owner == "telegram"


async def test_the_outbox_sends_through_the_owning_adapter() -> None:
    first, second = Sink(), Sink()
    outbox = Outbox()
    outbox.register("telegram", first)
    outbox.register("tg-second", second)
    hello = [FinalText("hello", markdown=False)]
    await outbox.send(Destination("telegram", "c", "u", "en", adapter="tg-second"), hello)
    assert (first.sent, second.sent) == ([], hello)
    await outbox.send(Destination("telegram", "c", "u", "en"), hello)
    assert first.sent == hello
    outbox.unregister("tg-second")
    with pytest.raises(OutboxUnavailable) as caught:
        await outbox.send(Destination("telegram", "c", "u", "en", adapter="tg-second"), hello)
    assert isinstance(caught.value, NothingSent)  # nothing went out: safe to try again
    assert first.sent == hello


async def test_a_job_result_reaches_its_adapter_also_after_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "jobs.db"
    dest = Destination("telegram", "chat-1", "user-1", "en", adapter="tg-second")
    store = SqliteStore(path, clock=clock)
    await store.open()
    try:
        job = await JobRunner(store, Outbox(), clock=clock).jobs.create(
            "fake", "imagine", "k", dest, "a cat", clock.now + 600
        )
        await JobRunner(store, Outbox(), clock=clock).jobs.update(
            job.id, state=js.RUNNING, relay_task_id="t1", next_poll_at=clock.now
        )
    finally:
        await store.close()

    # the next process: only the platform's default adapter runs: the job waits for its own
    store = SqliteStore(path, clock=clock)
    await store.open()
    try:
        default, owner, family = Sink(), Sink(), FakeFamily()
        family.states["t1"] = TaskUpdate("done", result="PNG")
        outbox = Outbox()
        outbox.register("telegram", default)
        jobs = JobRunner(store, outbox, clock=clock)
        jobs.add_backend(family)
        stored = await jobs.jobs.get(job.id)
        assert stored is not None and stored.dest == dest
        assert await jobs.jobs.next_poll_times() == {"tg-second": clock.now}
        await jobs.poll_once()
        assert family.fetches == 0 and default.sent == []

        outbox.register("tg-second", owner)
        await jobs.poll_once()
        await jobs.wait_deliveries()  # deliveries run in tasks of their own
        assert [i.data for i in owner.images()] == [b"PNG"] and default.sent == []
        assert (await jobs.jobs.get(job.id)).state == js.DELIVERED  # type: ignore[union-attr]
    finally:
        await store.close()


async def test_rows_without_an_adapter_belong_to_the_platforms_adapter(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "jobs.db")
    await store.open()
    try:
        jobs = JobRunner(store, Outbox()).jobs
        job = await jobs.create(
            "fake", "imagine", "k", Destination("console", "c", "u", "zh"), "x", 9e9
        )
        await jobs.update(job.id, state=js.RUNNING)
        async with store.transaction() as db:  # as a row written before the column existed
            await db.execute("UPDATE jobs SET adapter = NULL")
        again = await jobs.get(job.id)
        assert again is not None and again.dest.adapter == "" and again.dest.owner == "console"
        assert list(await jobs.next_poll_times()) == ["console"]
    finally:
        await store.close()
