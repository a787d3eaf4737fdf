"""The job poller on the real clock: it survives database errors, is restarted if it ends, and
delivers finished jobs in bounded background tasks so a slow one holds up no other."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import pytest

from core.config.settings import parse_config
from core.errors import ConfigError
from core.jobs import store as js
from core.jobs.runner import JobRunner, TaskUpdate
from core.jobs.store import Job
from core.platform.outbox import Destination, Outbox
from core.platform.types import ButtonRows, ImageReply, ReplyEvent
from core.storage.sqlite import SqliteStore
from tests.test_jobs import DEST, FakeFamily, Sink

WAIT_S = 10.0


class Family(FakeFamily):
    """Polled every 10 ms; the result of a job whose prompt has a gate waits for it to open
    (a download that stalls)."""

    poll_interval_s = 0.01

    def __init__(self) -> None:
        super().__init__()
        self.gates: dict[str, asyncio.Event] = {}
        self.downloading: list[str] = []  # prompts whose result_events began

    async def result_events(self, job: Job) -> list[ReplyEvent]:
        self.downloading.append(job.prompt)
        gate = self.gates.get(job.prompt)
        if gate is not None:
            await gate.wait()
        return await super().result_events(job)


class StallingSink(Sink):
    """A chat whose upload of a picture hangs until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.uploading = 0

    async def send(self, dest: Destination, events: Sequence[ReplyEvent]) -> list[str]:
        if any(isinstance(e, ImageReply) for e in events):
            self.uploading += 1
            await self.release.wait()
        return await super().send(dest, events)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "jobs.db")  # the real clock
    await store.open()
    yield store
    await store.close()


def runner(store: SqliteStore, sink: Sink, family: Family, **kw: int) -> JobRunner:
    outbox = Outbox()
    outbox.register("test", sink)
    jobs = JobRunner(store, outbox, retry_s=0.01, **kw)
    jobs.add_backend(family)
    return jobs


async def until(predicate: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"still waiting for: {what}")
        await asyncio.sleep(0.005)


async def until_state(jobs: JobRunner, job_id: int, state: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while (job := await jobs.jobs.get(job_id)) is None or job.state != state:
        if loop.time() > deadline:
            raise AssertionError(f"job {job_id} is still {job and job.state}, not {state}")
        await asyncio.sleep(0.005)


def _returns(task_id: str) -> Callable[[], asyncio.Future[str]]:
    async def submit() -> str:
        return task_id

    return submit  # type: ignore[return-value]


def delivered(sink: Sink) -> list[bytes]:
    return [i.data for i in sink.images()]


async def test_a_database_error_in_the_poll_loop_is_logged_and_polling_goes_on(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="relaybot.jobs")
    sink, family = Sink(), Family()
    jobs = runner(store, sink, family)
    await jobs.start()
    try:
        await jobs.submit("fake", "imagine", "k", DEST, "a cat", _returns("task-1"))
        poller = jobs.poller
        async with store.transaction() as db:  # every query of the loop now fails
            await db.execute("ALTER TABLE jobs RENAME TO jobs_away")

        def failures() -> int:
            return sum("job poll failed" in r.getMessage() for r in caplog.records)

        await until(lambda: failures() >= 3, "the loop to fail, pause and try again")
        async with store.transaction() as db:
            await db.execute("ALTER TABLE jobs_away RENAME TO jobs")
        family.states["task-1"] = TaskUpdate("done", result="CAT")
        await until(lambda: delivered(sink) == [b"CAT"], "the job to be delivered")
        assert jobs.poller is poller  # the same loop went on: it did not die
        assert "no such table: jobs" in caplog.text
    finally:
        await jobs.stop()


async def test_a_poller_that_ends_is_restarted_and_that_is_logged(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="relaybot.jobs")
    sink, family = Sink(), Family()
    jobs = runner(store, sink, family)
    await jobs.start()
    try:
        first = jobs.poller
        assert first is not None
        first.cancel()  # it ends, for whatever reason
        await until(lambda: jobs.poller is not first, "a new poller")
        assert "job poller ended (cancelled); restarting it" in caplog.text
        await jobs.submit("fake", "imagine", "k", DEST, "a dog", _returns("task-2"))
        family.states["task-2"] = TaskUpdate("done", result="DOG")
        await until(lambda: delivered(sink) == [b"DOG"], "the new poller to deliver")
    finally:
        await jobs.stop()
    assert jobs.poller is None  # stop() is final: nothing restarts it


async def test_a_slow_download_does_not_hold_up_another_job(store: SqliteStore) -> None:
    sink, family = Sink(), Family()
    family.gates["slow"] = asyncio.Event()
    jobs = runner(store, sink, family)
    await jobs.start()
    try:
        slow = await jobs.submit("fake", "imagine", "k", DEST, "slow", _returns("t-slow"))
        await jobs.submit("fake", "imagine", "k", DEST, "quick", _returns("t-quick"))
        family.states["t-slow"] = TaskUpdate("done", result="SLOW")
        await until(lambda: "slow" in family.downloading, "the slow download to begin")
        family.states["t-quick"] = TaskUpdate("done", result="QUICK")
        await until(lambda: delivered(sink) == [b"QUICK"], "the quick job to arrive meanwhile")
        assert (await jobs.jobs.get(slow.id)).state == js.DELIVERING  # type: ignore[union-attr]
        family.gates["slow"].set()
        await until(lambda: delivered(sink) == [b"QUICK", b"SLOW"], "the slow job")
        await jobs.wait_deliveries()
    finally:
        await jobs.stop()
    assert delivered(sink) == [b"QUICK", b"SLOW"]  # each once


async def test_deliveries_are_bounded_and_polling_goes_on_meanwhile(store: SqliteStore) -> None:
    sink, family = Sink(), Family()
    family.gates["first"] = asyncio.Event()
    jobs = runner(store, sink, family, max_parallel_deliveries=1)
    await jobs.start()
    try:
        await jobs.submit("fake", "imagine", "k", DEST, "first", _returns("t1"))
        second = await jobs.submit("fake", "imagine", "k", DEST, "second", _returns("t2"))
        waiting = await jobs.submit("fake", "imagine", "k", DEST, "third", _returns("t3"))
        family.states["t1"] = TaskUpdate("done", result="ONE")
        await until(lambda: family.downloading == ["first"], "the first download")
        family.states["t2"] = TaskUpdate("done", result="TWO")
        await until_state(jobs, second.id, js.DELIVERING)
        family.states["t3"] = TaskUpdate("running", 42)
        # The poller moves on (the third job's progress shows) while the one slot is taken.
        await until(lambda: ("m3", "⏳ #3 Fake: 42%") in sink.edits, "polling to go on")
        assert family.downloading == ["first"]  # the second waits for the slot
        family.gates["first"].set()
        await until(lambda: delivered(sink) == [b"ONE", b"TWO"], "both, one after the other")
        assert (await jobs.jobs.get(waiting.id)).state == js.RUNNING  # type: ignore[union-attr]
    finally:
        await jobs.stop()


async def test_stopped_during_a_download_the_next_start_delivers_it_once(
    store: SqliteStore,
) -> None:
    sink, family = Sink(), Family()
    family.gates["slow"] = asyncio.Event()
    jobs = runner(store, sink, family)
    await jobs.start()
    job = await jobs.submit("fake", "imagine", "k", DEST, "slow", _returns("t-slow"))
    family.states["t-slow"] = TaskUpdate("done", result="SLOW")
    await until(lambda: "slow" in family.downloading, "the download to begin")
    await jobs.stop()  # nothing was sent: the job is simply polled again next time
    assert (await jobs.jobs.get(job.id)).state == js.RUNNING  # type: ignore[union-attr]
    assert delivered(sink) == []

    family.gates["slow"].set()
    again = runner(store, sink, family)
    await again.start()
    try:
        await until(lambda: delivered(sink) == [b"SLOW"], "the result after the restart")
        await again.wait_deliveries()
    finally:
        await again.stop()
    assert (await again.jobs.get(job.id)).state == js.DELIVERED  # type: ignore[union-attr]
    assert not any(isinstance(e, ButtonRows) for e in sink.sent)  # no resend offer needed


async def test_stopped_while_sending_the_next_start_offers_a_resend_not_a_copy(
    store: SqliteStore,
) -> None:
    sink, family = StallingSink(), Family()
    jobs = runner(store, sink, family)
    await jobs.start()
    job = await jobs.submit("fake", "imagine", "k", DEST, "big", _returns("t-big"))
    family.states["t-big"] = TaskUpdate("done", result="BIG")
    await until(lambda: sink.uploading == 1, "the upload to begin")
    await jobs.stop()  # the upload may or may not have reached the chat
    assert (await jobs.jobs.get(job.id)).state == js.DELIVERING  # type: ignore[union-attr]

    sink.release.set()
    again = runner(store, sink, family)
    await again.start()
    await again.stop()
    assert (await again.jobs.get(job.id)).state == js.IN_DOUBT  # type: ignore[union-attr]
    assert sink.uploading == 1 and delivered(sink) == []  # not sent again on its own
    assert any(isinstance(e, ButtonRows) for e in sink.sent)  # the resend offer


def test_max_parallel_deliveries_is_a_positive_integer() -> None:
    relay = "relay:\n  base_url: https://relay.test/v1\n  api_key: k\n"
    settings = parse_config(relay, "test.yaml", {})
    assert settings.jobs.max_parallel_deliveries == 4
    with pytest.raises(ConfigError) as caught:
        parse_config(relay + "jobs:\n  max_parallel_deliveries: 0\n", "test.yaml", {})
    assert caught.value.problems == [
        ("jobs.max_parallel_deliveries", "must be a positive integer")
    ]
