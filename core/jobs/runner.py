"""The job engine: submit, persist, poll, deliver once, resume after a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from core.commands.actions import tokenize
from core.engine.locks import KeyedLocks
from core.errors import BotError, JobLimitError, RelayTimeoutError, SubmitUncertainError
from core.jobs import store as js
from core.jobs.results import JobResults
from core.jobs.store import Job, JobStore
from core.platform.outbox import Destination, NothingSent, Outbox, OutboxUnavailable
from core.platform.shape import shape
from core.platform.traits import TraitsRegistry
from core.platform.types import Button, ButtonRows, FinalText, ReplyEvent
from core.storage.sqlite import SqliteStore
from core.texts.i18n import Lang, t

log = logging.getLogger("relaybot.jobs")

MAX_BACKOFF_S = 60.0
MAX_DELIVERY_ATTEMPTS = 5
IDLE_WAIT_S = 3600.0


@dataclass(frozen=True, slots=True)
class TaskUpdate:
    """What the relay says about one task, in family-neutral terms."""

    # "error": this one task could not be fetched now (the others may have been)
    state: Literal["queued", "running", "done", "failed", "error"]
    progress: int = 0
    error: str = ""
    result: str = ""  # the family's result, serialised, kept in the job row


class JobBackend(Protocol):
    """One family of relay tasks (Midjourney, Suno, video)."""

    family: str
    poll_interval_s: float
    deadline_s: float

    async def fetch_many(self, jobs: Sequence[Job]) -> dict[str, TaskUpdate]:
        """The state of each job's task, by relay task id; a task missing from the answer is
        still queued."""
        ...

    async def result_events(self, job: Job) -> list[ReplyEvent]:
        """The reply of a finished job from its stored result (downloads media)."""
        ...

    def describe(self, job: Job, lang: Lang) -> str:
        """A short name of the job for status lines (``Midjourney imagine``)."""
        ...


class JobRunner:
    """Owns every job. ``start()`` resumes what a previous process left; ``stop()`` leaves
    running jobs in the database for the next start."""

    def __init__(
        self,
        store: SqliteStore,
        outbox: Outbox,
        *,
        max_running_per_user: int = 3,
        clock: Callable[[], float] | None = None,
        traits: TraitsRegistry | None = None,
    ) -> None:
        self.jobs = JobStore(store)
        self.results = JobResults(store, self.jobs)
        self._traits = traits  # None: events go out as the backends made them
        self._store = store
        self._outbox = outbox
        self._max = max_running_per_user
        self._clock = clock or store.clock
        self._backends: dict[str, JobBackend] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._submitting = KeyedLocks()
        self._born = self._clock()  # rows older than this process are a previous run's

    def add_backend(self, backend: JobBackend) -> None:
        self._backends[backend.family] = backend

    def backend(self, family: str) -> JobBackend | None:
        return self._backends.get(family)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume: running jobs are polled again; a job stopped mid-submit or mid-delivery is
        never repeated on its own (it may be charged, or already delivered): its user is told."""
        for job in await self.jobs.active():
            if job.created_at >= self._born or not self._outbox.available(job.dest.owner):
                continue  # this run's own job, or another process's adapter: not ours
            if job.state == js.SUBMITTING:
                await self.jobs.update(
                    job.id,
                    expect=js.SUBMITTING,
                    state=js.FAILED,
                    error="interrupted while submitting",
                )
                await self._tell(job, t("job.submit_unknown", job.dest.lang, id=job.id))
            elif job.state == js.DELIVERING:
                await self.jobs.update(job.id, expect=js.DELIVERING, state=js.IN_DOUBT)
                await self._offer_resend(job)
        self._task = asyncio.create_task(self._loop(), name="job-poller")
        log.info("job runner started, %d jobs running", len(await self.jobs.active()))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_until_done(self, platform: str, user_id: str, limit_s: float) -> bool:
        """Wait (bounded) until the user has no job running; False if some still run."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        while await self.jobs.running_for(platform, user_id):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.2)
        return True

    # --- submit ----------------------------------------------------------------------------

    async def submit(
        self,
        family: str,
        kind: str,
        conv_key: str,
        dest: Destination,
        prompt: str,
        call: Callable[[], Awaitable[str]],
    ) -> Job:
        """Record the job, submit it, tell the user it is queued. The row exists before the
        relay is called, and the relay's task id is stored before the user hears of it."""
        backend = self._backends[family]
        # One user's submits one at a time (private chat and groups run in parallel), so the
        # count and the new row cannot race past the limit.
        async with self._submitting.hold(f"{dest.platform}:{dest.user_id}"):
            running = await self.jobs.running_for(dest.platform, dest.user_id)
            if len(running) >= self._max:
                listing = "; ".join(self._line(job, dest.lang) for job in running)
                raise JobLimitError(count=str(len(running)), max=str(self._max), jobs=listing)
            job = await self.jobs.create(
                family, kind, conv_key, dest, prompt, self._clock() + backend.deadline_s
            )
        try:
            task_id = await call()
        except RelayTimeoutError as exc:
            await self.jobs.update(job.id, state=js.FAILED, error=f"submit timed out: {exc}")
            raise SubmitUncertainError(id=str(job.id)) from exc
        except BaseException as exc:  # refused, or our own bug: the slot is freed either way
            await self.jobs.update(job.id, state=js.FAILED, error=str(exc) or type(exc).__name__)
            raise
        await self.jobs.update(
            job.id,
            expect=js.SUBMITTING,
            state=js.RUNNING,
            relay_task_id=task_id,
            next_poll_at=self._clock() + backend.poll_interval_s,
        )
        log.info(
            "job submitted id=%d family=%s kind=%s task=%s key=%s",
            job.id,
            family,
            kind,
            task_id,
            conv_key,
        )
        status = t("job.queued", dest.lang, id=job.id, what=backend.describe(job, dest.lang))
        ids = await self._send(dest, [FinalText(status, markdown=False)])
        if ids:
            await self.jobs.update(job.id, status_message_id=ids[0])
        self._wake.set()
        fresh = await self.jobs.get(job.id)
        assert fresh is not None
        return fresh

    # --- polling ---------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:
                log.exception("job poll failed")
            await self._sleep_until_due()

    async def _sleep_until_due(self) -> None:
        due = await self.jobs.next_poll_times()
        times = [at for adapter, at in due.items() if self._outbox.available(adapter)]
        wait = max(0.0, min(times) - self._clock()) if times else IDLE_WAIT_S
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait)

    async def poll_once(self) -> None:
        """Fetch every due job (one batch call per family) and move each one on."""
        now = self._clock()
        by_family: dict[str, list[Job]] = defaultdict(list)
        for job in await self.jobs.due(now):
            if self._outbox.available(job.dest.owner):  # others belong to another process
                by_family[job.family].append(job)
        for family, jobs in by_family.items():
            backend = self._backends.get(family)
            if backend is None:  # a family this build does not know: look again later
                for job in jobs:
                    await self.jobs.update(job.id, next_poll_at=now + MAX_BACKOFF_S)
                continue
            try:
                updates = await backend.fetch_many(jobs)
            except BotError as exc:
                log.warning("poll failed family=%s code=%s: %s", family, exc.code, exc)
                updates = {j.relay_task_id or "": TaskUpdate("error", error=str(exc)) for j in jobs}
            for job in jobs:
                update = updates.get(job.relay_task_id or "", TaskUpdate("queued"))
                await self._advance(backend, job, update, now)

    async def _advance(self, backend: JobBackend, job: Job, update: TaskUpdate, now: float) -> None:
        lang = job.dest.lang
        what = backend.describe(job, lang)
        if update.state == "done":
            if await self.jobs.update(
                job.id, expect=js.RUNNING, state=js.DELIVERING, result=update.result, progress=100
            ):
                await self._deliver(backend, job.id)
        elif update.state == "failed":
            if await self.jobs.update(
                job.id, expect=js.RUNNING, state=js.FAILED, error=update.error
            ):
                log.info("job failed id=%d: %s", job.id, update.error)
                reason = update.error or t("job.no_reason", lang)
                await self._status(job, t("job.failed", lang, id=job.id, what=what, reason=reason))
        elif now > job.deadline:  # also when the relay cannot be asked any more
            if await self.jobs.update(job.id, expect=js.RUNNING, state=js.TIMED_OUT):
                minutes = max(1, round((job.deadline - job.created_at) / 60))
                await self._status(
                    job, t("job.timed_out", lang, id=job.id, what=what, minutes=minutes)
                )
        elif update.state == "error":  # back off, keep the progress we knew
            backoff = min(MAX_BACKOFF_S, backend.poll_interval_s * 2 ** (job.attempts + 1))
            await self.jobs.update(job.id, attempts=job.attempts + 1, next_poll_at=now + backoff)
        else:
            await self.jobs.update(
                job.id,
                progress=update.progress,
                attempts=0,
                next_poll_at=now + backend.poll_interval_s,
            )
            if update.progress != job.progress and update.state == "running":
                text = t("job.progress", lang, id=job.id, what=what, progress=update.progress)
                await self._status(job, text, final=False)

    # --- delivery --------------------------------------------------------------------------

    async def _deliver(self, backend: JobBackend, job_id: int) -> None:
        """Send a finished job's result. The job is DELIVERING while this runs: a crash here
        leaves it IN_DOUBT at the next start, and the user gets a resend button instead of a
        second copy."""
        job = await self.jobs.get(job_id)
        assert job is not None
        try:
            try:
                events = [await tokenize(self._store, e) for e in await backend.result_events(job)]
            except Exception as exc:  # nothing was sent yet
                raise NothingSent(str(exc)) from exc
            ids = await self._outbox.send(job.dest, self._shape(job.dest, events))
        except NothingSent as exc:  # try again later, a few times
            attempts = job.attempts + 1
            log.warning("delivery failed id=%d attempt=%d: %s", job.id, attempts, exc)
            if attempts >= MAX_DELIVERY_ATTEMPTS:
                await self.jobs.update(job.id, state=js.FAILED, error=f"undeliverable: {exc}")
            else:
                await self.jobs.update(
                    job.id,
                    state=js.RUNNING,
                    attempts=attempts,
                    next_poll_at=self._clock() + backend.poll_interval_s,
                )
            return
        except Exception as exc:  # part of it may have arrived: no automatic second copy
            log.warning("delivery interrupted id=%d: %s", job.id, exc)
            if await self.jobs.update(job.id, expect=js.DELIVERING, state=js.IN_DOUBT):
                await self._offer_resend(job)
            return
        await self.jobs.update(job.id, expect=js.DELIVERING, state=js.DELIVERED)
        await self.results.record(job, ids)  # a reply to the result can act on it (/u2)
        log.info("job delivered id=%d family=%s key=%s", job.id, job.family, job.conv_key)
        what = backend.describe(job, job.dest.lang)
        await self._status(job, t("job.done", job.dest.lang, id=job.id, what=what))

    async def resend(self, job_id: int, user_id: str) -> bool:
        """Deliver a job left in doubt again, because its user asked."""
        job = await self.jobs.get(job_id)
        if job is None or job.dest.user_id != user_id or job.state != js.IN_DOUBT:
            return False
        if await self.jobs.update(job.id, expect=js.IN_DOUBT, state=js.DELIVERING):
            await self._deliver(self._backends[job.family], job.id)
        return True

    # --- messages --------------------------------------------------------------------------

    def _line(self, job: Job, lang: Lang) -> str:
        backend = self._backends.get(job.family)
        what = backend.describe(job, lang) if backend else job.family
        return t(
            "job.line", lang, id=job.id, what=what, progress=job.progress, prompt=job.prompt[:40]
        )

    async def listing(self, dest: Destination) -> list[ReplyEvent]:
        """``/jobs``: the user's running jobs, and a resend button for any left in doubt."""
        running = await self.jobs.running_for(dest.platform, dest.user_id)
        doubt = await self.jobs.in_doubt_for(dest.platform, dest.user_id)
        if not running and not doubt:
            return [FinalText(t("jobs.none", dest.lang), markdown=False)]
        lines = [t("jobs.head", dest.lang, count=len(running), max=self._max)]
        lines += [self._line(job, dest.lang) for job in running]
        events: list[ReplyEvent] = [FinalText("\n".join(lines), markdown=False)]
        if doubt:
            buttons = tuple((_resend_button(j),) for j in doubt)
            events.append(ButtonRows(buttons))
        return events

    async def _offer_resend(self, job: Job) -> None:
        typed = self._traits is not None and not self._traits.of(job.dest.platform).buttons
        text = t("job.in_doubt.plain" if typed else "job.in_doubt", job.dest.lang, id=job.id)
        button = _resend_button(job)
        events = [
            FinalText(text, markdown=False),
            await tokenize(self._store, ButtonRows(((button,),))),
        ]
        await self._send(job.dest, events)

    async def _tell(self, job: Job, text: str) -> None:
        await self._send(job.dest, [FinalText(text, markdown=False)])

    async def _status(self, job: Job, text: str, *, final: bool = True) -> None:
        """Show ``text`` in the job's status message, or as a new message if it has none.
        A platform without edits gets only the final states, each as a new message."""
        edits = self._traits is None or self._traits.of(job.dest.platform).edits
        if not edits and not final:
            return
        if job.status_message_id is not None and edits:
            try:
                if await self._outbox.edit_text(job.dest, job.status_message_id, text, final=final):
                    return
            except Exception as exc:
                log.info("status edit failed id=%d: %s", job.id, exc)
            if not final:
                return
        await self._tell(job, text)

    def _shape(self, dest: Destination, events: list[ReplyEvent]) -> list[ReplyEvent]:
        """Events fitted to the destination platform's traits (core.platform.shape)."""
        if self._traits is None:
            return events
        return shape(events, self._traits.of(dest.platform), dest.lang)

    async def _send(self, dest: Destination, events: list[ReplyEvent]) -> list[str]:
        try:
            return await self._outbox.send(dest, self._shape(dest, events))
        except OutboxUnavailable:
            log.warning(
                "no %s adapter running; message to chat %s not sent", dest.owner, dest.chat_id
            )
        except Exception as exc:
            log.warning("could not send to %s chat %s: %s", dest.platform, dest.chat_id, exc)
        return []


def _resend_button(job: Job) -> Button:
    """The button that delivers a job left in doubt again; typed: /resend ID."""
    label = t("job.resend", job.dest.lang, id=job.id)
    return Button(label, f"/jobs resend {job.id}", typed=f"/resend {job.id}")
