"""The job engine on a fake clock: persisted first, delivered once, resumed after restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from core.errors import JobLimitError, RelayTimeoutError, RelayUpstreamError, SubmitUncertainError
from core.jobs import store as js
from core.jobs.runner import JobRunner, TaskUpdate
from core.jobs.store import Job
from core.platform.outbox import Destination, NothingSent, Outbox
from core.platform.types import ButtonRows, FinalText, ImageReply, ReplyEvent
from core.storage.sqlite import SqliteStore
from core.texts.i18n import Lang

DEST = Destination("test", "chat-1", "user-1", "en")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class FakeFamily:
    """A job family whose tasks the test moves by hand."""

    family = "fake"
    poll_interval_s = 5.0
    deadline_s = 600.0

    def __init__(self) -> None:
        self.states: dict[str, TaskUpdate] = {}
        self.fetches = 0
        self.fail_fetch = False

    async def fetch_many(self, jobs: Sequence[Job]) -> dict[str, TaskUpdate]:
        self.fetches += 1
        if self.fail_fetch:
            raise RelayUpstreamError("relay down", status=502)
        ids = [j.relay_task_id for j in jobs]
        return {i: self.states[i] for i in ids if i in self.states}

    async def result_events(self, job: Job) -> list[ReplyEvent]:
        return [ImageReply(job.result.encode() if job.result else b"", "image/png", job.prompt)]

    def describe(self, job: Job, lang: Lang) -> str:
        return "Fake"


class Sink:
    """Records what would reach the chat; can be told to fail."""

    def __init__(self) -> None:
        self.sent: list[ReplyEvent] = []
        self.edits: list[tuple[str, str]] = []
        self.fail = False
        self.break_after_first = False

    async def send(self, dest: Destination, events: Sequence[ReplyEvent]) -> list[str]:
        if self.fail:
            raise NothingSent("platform down")
        if self.break_after_first:
            self.break_after_first = False
            self.sent.append(events[0])
            raise ConnectionError("connection lost halfway")
        self.sent += events
        return [f"m{len(self.sent)}"]

    async def edit_text(
        self, dest: Destination, message_id: str, text: str, *, final: bool
    ) -> bool:
        self.edits.append((message_id, text))
        return True

    def images(self) -> list[ImageReply]:
        return [e for e in self.sent if isinstance(e, ImageReply)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "jobs.db", clock=clock)
    await store.open()
    yield store
    await store.close()


async def poll(jobs: JobRunner) -> None:
    """One round of the poller, and the deliveries it started."""
    await jobs.poll_once()
    await jobs.wait_deliveries()


def runner(
    store: SqliteStore, sink: Sink, clock: Clock, family: FakeFamily, **kw: int
) -> JobRunner:
    outbox = Outbox()
    outbox.register("test", sink)
    jobs = JobRunner(store, outbox, clock=clock, **kw)
    jobs.add_backend(family)
    return jobs


async def test_a_job_is_written_before_it_is_submitted_and_delivered_once(
    store: SqliteStore, clock: Clock
) -> None:
    sink, family = Sink(), FakeFamily()
    jobs = runner(store, sink, clock, family)
    seen_before_submit: list[str] = []

    async def submit() -> str:
        rows = await jobs.jobs.active()
        seen_before_submit.extend(j.state for j in rows)
        return "task-1"

    job = await jobs.submit("fake", "imagine", "k", DEST, "a cat", submit)
    assert seen_before_submit == [js.SUBMITTING]
    assert job.state == js.RUNNING and job.relay_task_id == "task-1"
    assert sink.sent == [FinalText("⏳ #1 Fake: queued…", markdown=False)]
    assert job.status_message_id == "m1"

    family.states["task-1"] = TaskUpdate("running", 37)
    await poll(jobs)
    assert family.fetches == 0  # not due yet: polled every poll_interval_s
    clock.now += 5
    await poll(jobs)
    assert sink.edits == [("m1", "⏳ #1 Fake: 37%")]

    family.states["task-1"] = TaskUpdate("done", 100, result="PNGDATA")
    clock.now += 5
    await poll(jobs)
    clock.now += 5
    await poll(jobs)  # the job is done: no second delivery
    assert [i.data for i in sink.images()] == [b"PNGDATA"]
    assert sink.edits[-1] == ("m1", "✅ #1 Fake: done")
    assert (await jobs.jobs.get(job.id)).state == js.DELIVERED  # type: ignore[union-attr]


async def test_a_restart_resumes_polling_and_the_result_arrives_once(
    store: SqliteStore, clock: Clock
) -> None:
    sink, family = Sink(), FakeFamily()
    first = runner(store, sink, clock, family)
    await first.submit("fake", "imagine", "k", DEST, "a dog", _returns("task-9"))
    await first.stop()  # the process stops before the relay finishes

    family.states["task-9"] = TaskUpdate("done", 100, result="DOG")
    clock.now += 1
    second = runner(store, sink, clock, family)  # a new process, same database
    await second.start()
    try:
        clock.now += 5
        await poll(second)
        await poll(second)
    finally:
        await second.stop()
    assert [i.data for i in sink.images()] == [b"DOG"]


async def test_stopped_mid_delivery_offers_a_resend_never_a_duplicate(
    store: SqliteStore, clock: Clock
) -> None:
    sink, family = Sink(), FakeFamily()
    jobs = runner(store, sink, clock, family)
    job = await jobs.submit("fake", "imagine", "k", DEST, "a bird", _returns("task-5"))
    # The process died after marking the job delivering (the result may or may not have gone).
    await jobs.jobs.update(job.id, state=js.DELIVERING, result="BIRD")

    clock.now += 1  # later, a new process
    again = runner(store, sink, clock, family)
    await again.start()
    await again.stop()
    assert (await again.jobs.get(job.id)).state == js.IN_DOUBT  # type: ignore[union-attr]
    assert sink.images() == []  # not sent on its own
    menu = [e for e in sink.sent if isinstance(e, ButtonRows)][-1]
    button = menu.rows[0][0]
    assert button.action == f"/jobs resend {job.id}" and button.token
    assert await again.resend(job.id, "someone-else") is False
    assert await again.resend(job.id, "user-1") is True
    assert await again.resend(job.id, "user-1") is False  # only once
    await again.wait_deliveries()
    assert [i.data for i in sink.images()] == [b"BIRD"]


async def test_stopped_mid_submit_is_not_resubmitted_and_the_user_is_told(
    store: SqliteStore, clock: Clock
) -> None:
    sink, family = Sink(), FakeFamily()
    previous = runner(store, sink, clock, family)
    await previous.jobs.create("fake", "imagine", "k", DEST, "lost", clock.now + 600)
    clock.now += 1  # the process died mid-submit; a new one starts
    jobs = runner(store, sink, clock, family)
    await jobs.start()
    await jobs.stop()
    assert (await jobs.jobs.get(1)).state == js.FAILED  # type: ignore[union-attr]
    assert "did not confirm job #1" in sink.sent[-1].text  # type: ignore[union-attr]


async def test_per_user_limit_and_listing(store: SqliteStore, clock: Clock) -> None:
    sink, family = Sink(), FakeFamily()
    jobs = runner(store, sink, clock, family, max_running_per_user=2)
    await jobs.submit("fake", "imagine", "k", DEST, "one", _returns("t1"))
    await jobs.submit("fake", "imagine", "k", DEST, "two", _returns("t2"))
    with pytest.raises(JobLimitError) as caught:
        await jobs.submit("fake", "imagine", "k", DEST, "three", _returns("t3"))
    assert caught.value.fields["count"] == "2" and "#1 Fake 0% — one" in caught.value.fields["jobs"]
    other = Destination("test", "chat-1", "user-2", "en")
    await jobs.submit("fake", "imagine", "k2", other, "theirs", _returns("t4"))  # others may
    listing = await jobs.listing(DEST)
    assert listing[0].text.splitlines() == [  # type: ignore[union-attr]
        "Your jobs (2 of 2 running):",
        "#1 Fake 0% — one",
        "#2 Fake 0% — two",
    ]


async def test_a_submit_that_timed_out_is_not_repeated(store: SqliteStore, clock: Clock) -> None:
    sink, family = Sink(), FakeFamily()
    jobs = runner(store, sink, clock, family)
    calls = 0

    async def slow() -> str:
        nonlocal calls
        calls += 1
        raise RelayTimeoutError("read timeout")

    with pytest.raises(SubmitUncertainError):
        await jobs.submit("fake", "imagine", "k", DEST, "slow", slow)
    assert calls == 1
    assert (await jobs.jobs.get(1)).state == js.FAILED  # type: ignore[union-attr]


async def test_failure_deadline_and_backoff(store: SqliteStore, clock: Clock) -> None:
    sink, family = Sink(), FakeFamily()
    jobs = runner(store, sink, clock, family)
    failing = await jobs.submit("fake", "imagine", "k", DEST, "bad", _returns("f1"))
    slow = await jobs.submit("fake", "imagine", "k", DEST, "slow", _returns("s1"))
    family.states["f1"] = TaskUpdate("failed", error="banned prompt")
    family.states["s1"] = TaskUpdate("running", 10)
    clock.now += 5
    await poll(jobs)
    assert sink.edits[-2:] == [
        ("m1", "❌ #1 Fake failed: banned prompt"),
        ("m2", "⏳ #2 Fake: 10%"),
    ]

    family.fail_fetch = True  # the relay is down: polls back off, nothing is lost
    for _ in range(3):
        clock.now += 60
        await poll(jobs)
    job = await jobs.jobs.get(slow.id)
    assert job is not None and job.attempts == 3 and job.next_poll_at > clock.now + 5
    family.fail_fetch = False
    clock.now = slow.deadline + 120
    await poll(jobs)
    assert sink.edits[-1] == (
        "m2",
        "⌛ #2 Fake did not finish within 10 min; stopped waiting. Please try again later.",
    )
    assert (await jobs.jobs.get(failing.id)).state == js.FAILED  # type: ignore[union-attr]


async def test_a_failed_delivery_is_tried_again_later(store: SqliteStore, clock: Clock) -> None:
    sink, family = Sink(), FakeFamily()
    jobs = runner(store, sink, clock, family)
    job = await jobs.submit("fake", "imagine", "k", DEST, "x", _returns("d1"))
    family.states["d1"] = TaskUpdate("done", result="X")
    sink.fail = True
    clock.now += 5
    await poll(jobs)
    assert (await jobs.jobs.get(job.id)).state == js.RUNNING  # type: ignore[union-attr]
    sink.fail = False
    clock.now += 5
    await poll(jobs)
    assert [i.data for i in sink.images()] == [b"X"]


def _returns(task_id: str):  # type: ignore[no-untyped-def]
    async def submit() -> str:
        return task_id

    return submit


async def test_a_delivery_cut_halfway_is_offered_again_not_repeated(
    store: SqliteStore, clock: Clock
) -> None:
    sink, family = Sink(), FakeFamily()
    jobs = runner(store, sink, clock, family)
    job = await jobs.submit("fake", "imagine", "k", DEST, "y", _returns("h1"))
    family.states["h1"] = TaskUpdate("done", result="Y")
    sink.break_after_first = True
    clock.now += 5
    await poll(jobs)
    clock.now += 5
    await poll(jobs)
    assert [i.data for i in sink.images()] == [b"Y"]  # once, not again on the next poll
    assert (await jobs.jobs.get(job.id)).state == js.IN_DOUBT  # type: ignore[union-attr]
    assert any(isinstance(e, ButtonRows) for e in sink.sent)  # the resend button


async def test_concurrent_submits_cannot_pass_the_limit(store: SqliteStore, clock: Clock) -> None:
    import asyncio

    sink, family = Sink(), FakeFamily()
    jobs = runner(store, sink, clock, family, max_running_per_user=1)
    results = await asyncio.gather(
        *(jobs.submit("fake", "imagine", "k", DEST, f"p{n}", _returns(f"c{n}")) for n in range(3)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, JobLimitError) for r in results) == 2


async def test_a_bug_in_a_submit_frees_the_slot(store: SqliteStore, clock: Clock) -> None:
    sink, family = Sink(), FakeFamily()
    jobs = runner(store, sink, clock, family, max_running_per_user=1)

    async def broken() -> str:
        raise ValueError("not a number")

    with pytest.raises(ValueError):
        await jobs.submit("fake", "imagine", "k", DEST, "x", broken)
    await jobs.submit("fake", "imagine", "k", DEST, "y", _returns("ok"))  # the slot is free


async def test_jobs_of_a_platform_not_running_here_are_left_alone(
    store: SqliteStore, clock: Clock
) -> None:
    sink, family = Sink(), FakeFamily()
    jobs = runner(store, sink, clock, family)
    elsewhere = Destination("telegram", "chat-9", "user-9", "en")
    other = await jobs.jobs.create("fake", "imagine", "k9", elsewhere, "theirs", clock.now + 600)
    await jobs.jobs.update(other.id, state=js.RUNNING, relay_task_id="t9")
    family.states["t9"] = TaskUpdate("done", result="THEIRS")
    clock.now += 5
    await poll(jobs)
    assert family.fetches == 0 and sink.images() == []
    assert (await jobs.jobs.get(other.id)).state == js.RUNNING  # type: ignore[union-attr]


def test_a_finished_task_without_its_media_is_still_running() -> None:
    from core.jobs.midjourney import MjBackend
    from core.relay.midjourney import MjTask

    task = MjTask("1", "SUCCESS", 100, "", "", (), "a cat", "IMAGINE", ())
    assert MjBackend._update(task).state == "running"  # keep looking for the picture
