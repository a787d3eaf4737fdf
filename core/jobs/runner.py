"""The job engine: submit, persist, poll, deliver once, resume after a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal, Protocol

from core.commands.actions import tokenize
from core.engine.locks import KeyedLocks
from core.errors import BotError, JobLimitError, RelayTimeoutError, SubmitUncertainError
from core.jobs import store as js
from core.jobs.claims import JobClaims
from core.jobs.results import JobResults
from core.jobs.store import Job, JobStore
from core.metrics import NO_METRICS, Metrics
from core.platform.outbox import Destination, NothingSent, Outbox, OutboxUnavailable
from core.platform.shape import shape
from core.platform.traits import TraitsRegistry
from core.platform.types import Button, ButtonRows, FinalText, ReplyEvent
from core.storage.store import Store
from core.texts.i18n import Lang, t
from core.workers.context import WorkerContext

log = logging.getLogger("relaybot.jobs")

MAX_BACKOFF_S = 60.0
MAX_DELIVERY_ATTEMPTS = 5
IDLE_WAIT_S = 3600.0
RETRY_S = 1.0  # first pause after the poll loop failed (database error); doubles to 60 s
# The job a send through the outbox is about, while it runs (a sink may label its messages).
SENDING_FOR_JOB: ContextVar[int | None] = ContextVar("sending_for_job", default=None)


@contextlib.contextmanager
def _about(job_id: int) -> Iterator[None]:
    token = SENDING_FOR_JOB.set(job_id)
    try:
        yield
    finally:
        SENDING_FOR_JOB.reset(token)


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


class JobMeter(Protocol):
    """Counts jobs against quotas (core.access): charged at submit, given back when the
    relay refuses or fails them."""

    async def charge_job(self, family: str, kind: str, dest: Destination) -> int | None: ...

    async def bind_job(self, event_id: int, job_id: int) -> None: ...

    async def refund_job(self, job_id: int) -> bool: ...


class JobRunner:
    """Owns every job. ``start()`` resumes what a previous process left; ``stop()`` leaves
    running jobs in the database for the next start.

    One poller task asks the relay about due jobs; it survives errors (logged, then a pause
    that grows) and is restarted if it ends anyway. Finished jobs are delivered by tasks of
    their own, at most ``max_parallel_deliveries`` at a time, so a slow download never holds
    up the polling or the other jobs."""

    def __init__(
        self,
        store: Store,
        outbox: Outbox,
        *,
        max_running_per_user: int = 3,
        max_parallel_deliveries: int = 4,
        clock: Callable[[], float] | None = None,
        traits: TraitsRegistry | None = None,
        retry_s: float = RETRY_S,
        metrics: Metrics = NO_METRICS,
        worker: WorkerContext | None = None,
    ) -> None:
        self.metrics = metrics
        # Several workers on one database: jobs are claimed (core.jobs.claims); alone, every
        # job in the database is this process's, as it always was.
        self.claims: JobClaims | None = None
        self._poll_cap_s = IDLE_WAIT_S
        if worker is not None and worker.shared:
            self.claims = JobClaims(store, worker.holder, worker.settings.lease_s)
            worker.heartbeat.add("job claims", self.claims.renew)
            self._poll_cap_s = worker.settings.poll_s
        self.jobs = JobStore(store)
        self.results = JobResults(store, self.jobs)
        self._traits = traits  # None: events go out as the backends made them
        self._store = store
        self._outbox = outbox
        self._max = max_running_per_user
        self._clock = clock or store.clock
        self._retry_s = retry_s
        self._backends: dict[str, JobBackend] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._restarts = 0  # poller restarts since its last good round
        self._slots = asyncio.Semaphore(max_parallel_deliveries)
        self._deliveries: set[asyncio.Task[None]] = set()
        self._submitting = KeyedLocks()
        self._born = self._clock()  # rows older than this process are a previous run's
        self.meter: JobMeter | None = None  # set by the engine when quotas apply

    def reconfigure(self, max_running_per_user: int) -> None:
        """A config reload: the limit applies to the next submit."""
        self._max = max_running_per_user

    def add_backend(self, backend: JobBackend) -> None:
        self._backends[backend.family] = backend

    def backend(self, family: str) -> JobBackend | None:
        return self._backends.get(family)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume: running jobs are polled again; a job stopped mid-submit or mid-delivery is
        never repeated on its own (it may be charged, or already delivered): its user is told.
        With several workers, only jobs whose worker is gone (claim expired) are settled, here
        and at every poll."""
        if self.claims is not None:
            await self._settle_orphans()
        else:
            for job in await self.jobs.active():
                if job.created_at >= self._born or not self._outbox.available(job.dest.owner):
                    continue  # this run's own job, or another process's adapter: not ours
                await self._settle(job)
        self._stopping = False
        self._start_poller()
        log.info("job runner started, %d jobs running", len(await self.jobs.active()))

    async def _settle(self, job: Job) -> None:
        """A job whose process stopped while submitting or delivering it: never redone."""
        if job.state == js.SUBMITTING:
            if await self.jobs.update(
                job.id,
                expect=js.SUBMITTING,
                state=js.FAILED,
                error="interrupted while submitting",
            ):
                await self._tell(job, t("job.submit_unknown", job.dest.lang, id=job.id))
        elif job.state == js.DELIVERING:
            if await self.jobs.update(job.id, expect=js.DELIVERING, state=js.IN_DOUBT):
                await self._offer_resend(job)

    def _owners(self) -> list[str]:
        """The adapters running in this process (jobs of others are not ours to send)."""
        return self._outbox.names()

    async def _settle_orphans(self) -> None:
        assert self.claims is not None
        for job in await self.claims.orphans(self._owners()):
            log.warning("job id=%d was left %s by a worker that stopped", job.id, job.state)
            await self._settle(job)

    async def stop(self) -> None:
        """Stop polling and cancel the deliveries in flight. A delivery that had not sent
        anything yet is polled again at the next start; one stopped while sending is left
        DELIVERING, which the next start turns into a resend offer (never a second copy)."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        deliveries = list(self._deliveries)
        for delivery in deliveries:
            delivery.cancel()
        await asyncio.gather(*deliveries, return_exceptions=True)
        if self.claims is not None:  # the other workers take the running jobs over at once
            try:
                await self.claims.release_running()
            except Exception as exc:
                log.warning("could not hand the running jobs to the other workers: %s", exc)

    @property
    def poller(self) -> asyncio.Task[None] | None:
        """The poll loop's task while the runner is started (to watch it in tests)."""
        return self._task

    async def wait_deliveries(self) -> None:
        """Wait until no delivery is in flight (those started meanwhile included)."""
        while self._deliveries:
            await asyncio.gather(*self._deliveries, return_exceptions=True)

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
            charged = await self.meter.charge_job(family, kind, dest) if self.meter else None
            job = await self.jobs.create(
                family, kind, conv_key, dest, prompt, self._clock() + backend.deadline_s
            )
            if self.claims is not None:  # ours while it is submitted and polled
                await self.claims.claim(job.id)
            if charged is not None and self.meter is not None:
                await self.meter.bind_job(charged, job.id)
        try:
            task_id = await call()
        except RelayTimeoutError as exc:  # it may run (and be paid): stays counted
            await self.jobs.update(job.id, state=js.FAILED, error=f"submit timed out: {exc}")
            raise SubmitUncertainError(id=str(job.id)) from exc
        except BaseException as exc:  # refused, or our own bug: the slot is freed either way
            await self.jobs.update(job.id, state=js.FAILED, error=str(exc) or type(exc).__name__)
            if self.meter is not None:
                await self.meter.refund_job(job.id)
            raise
        await self.jobs.update(
            job.id,
            expect=js.SUBMITTING,
            state=js.RUNNING,
            relay_task_id=task_id,
            next_poll_at=self._clock() + backend.poll_interval_s,
        )
        self.metrics.job(family, "submitted")
        log.info(
            "job submitted id=%d family=%s kind=%s task=%s key=%s",
            job.id,
            family,
            kind,
            task_id,
            conv_key,
        )
        status = t("job.queued", dest.lang, id=job.id, what=backend.describe(job, dest.lang))
        with _about(job.id):
            ids = await self._send(dest, [FinalText(status, markdown=False)])
        if ids:
            await self.jobs.update(job.id, status_message_id=ids[0])
        self._wake.set()
        fresh = await self.jobs.get(job.id)
        assert fresh is not None
        return fresh

    # --- polling ---------------------------------------------------------------------------

    def _start_poller(self, delay: float = 0.0) -> None:
        task = asyncio.create_task(self._loop(delay), name="job-poller")
        task.add_done_callback(self._poller_ended)
        self._task = task

    def _poller_ended(self, task: asyncio.Task[None]) -> None:
        """The poll loop never ends on its own: if it does anyway (a bug, someone cancelled
        it), it is started again, after a pause that grows if it keeps ending."""
        if self._stopping or task is not self._task:
            return
        exc = None if task.cancelled() else task.exception()
        reason = "cancelled" if task.cancelled() else repr(exc) if exc else "returned"
        delay = min(MAX_BACKOFF_S, self._retry_s * (2**self._restarts - 1))
        self._restarts += 1
        log.error("job poller ended (%s); restarting it in %gs", reason, delay, exc_info=exc)
        self._start_poller(delay)

    async def _loop(self, delay: float = 0.0) -> None:
        if delay:
            await asyncio.sleep(delay)
        failures = 0
        while True:
            self._wake.clear()  # a submit from now on wakes the wait below
            try:
                await self.poll_once()
                wait = await self._until_due()
            except Exception:  # the database, most likely: log, pause, go on
                failures += 1
                wait = min(MAX_BACKOFF_S, self._retry_s * 2 ** (failures - 1))
                log.exception("job poll failed (%d in a row); next try in %gs", failures, wait)
            else:
                failures = self._restarts = 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _until_due(self) -> float:
        """Seconds until the next job of an adapter running here is due."""
        due = await self.jobs.next_poll_times()
        times = [at for adapter, at in due.items() if self._outbox.available(adapter)]
        wait = max(0.0, min(times) - self._clock()) if times else IDLE_WAIT_S
        return min(wait, self._poll_cap_s)  # other workers add jobs, or die, meanwhile

    async def poll_once(self) -> None:
        """Fetch every due job (one batch call per family) and move each one on."""
        now = self._clock()
        by_family: dict[str, list[Job]] = defaultdict(list)
        if self.claims is not None:
            await self._settle_orphans()
            due = await self.claims.claim_due(now, self._owners())
        else:
            due = await self.jobs.due(now)
        for job in due:
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
                self._start_delivery(backend, job.id)
        elif update.state == "failed":
            if await self.jobs.update(
                job.id, expect=js.RUNNING, state=js.FAILED, error=update.error
            ):
                self.metrics.job(job.family, "failed")
                log.info("job failed id=%d: %s", job.id, update.error)
                if self.meter is not None:
                    await self.meter.refund_job(job.id)
                reason = update.error or t("job.no_reason", lang)
                await self._status(job, t("job.failed", lang, id=job.id, what=what, reason=reason))
        elif now > job.deadline:  # also when the relay cannot be asked any more
            if await self.jobs.update(job.id, expect=js.RUNNING, state=js.TIMED_OUT):
                self.metrics.job(job.family, "timed_out")
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

    def _start_delivery(self, backend: JobBackend, job_id: int) -> None:
        """Deliver a DELIVERING job in a task of its own (``stop()`` cancels it)."""

        async def run() -> None:
            try:
                await self._deliver(backend, job_id)
            except Exception:  # the database failed: the row says what is left to do
                log.exception("delivery failed id=%d", job_id)

        task = asyncio.create_task(run(), name=f"job-delivery-{job_id}")
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, backend: JobBackend, job_id: int) -> None:
        """Send a finished job's result, once one of the delivery slots is free. The job is
        DELIVERING while this runs: a crash here leaves it IN_DOUBT at the next start, and the
        user gets a resend button instead of a second copy."""
        sending = False
        try:
            async with self._slots:
                job = await self.jobs.get(job_id)
                assert job is not None
                try:
                    events = [
                        await tokenize(self._store, e) for e in await backend.result_events(job)
                    ]
                except Exception as exc:  # nothing was sent yet
                    await self._retry_later(backend, job, exc)
                    return
                sending = True
                try:
                    with _about(job.id):
                        ids = await self._outbox.send(job.dest, self._shape(job.dest, events))
                except NothingSent as exc:
                    await self._retry_later(backend, job, exc)
                    return
                except Exception as exc:  # part of it may have arrived: no automatic second copy
                    log.warning("delivery interrupted id=%d: %s", job.id, exc)
                    self.metrics.delivery(job.dest.platform, "failed")
                    self.metrics.job(job.family, "in_doubt")
                    if await self.jobs.update(job.id, expect=js.DELIVERING, state=js.IN_DOUBT):
                        await self._offer_resend(job)
                    return
        except asyncio.CancelledError:
            if not sending:  # stopped before anything went out: the next start polls it again
                with contextlib.suppress(Exception):
                    await self.jobs.update(
                        job_id, expect=js.DELIVERING, state=js.RUNNING, next_poll_at=self._clock()
                    )
            raise  # stopped while sending: left DELIVERING, a resend offer at the next start
        await self.jobs.update(job.id, expect=js.DELIVERING, state=js.DELIVERED)
        await self.results.record(job, ids)  # a reply to the result can act on it (/u2)
        log.info("job delivered id=%d family=%s key=%s", job.id, job.family, job.conv_key)
        self.metrics.job(job.family, "delivered")
        self.metrics.delivery(job.dest.platform, "ok")
        what = backend.describe(job, job.dest.lang)
        await self._status(job, t("job.done", job.dest.lang, id=job.id, what=what))

    async def _retry_later(self, backend: JobBackend, job: Job, exc: Exception) -> None:
        """Nothing of the result was sent: try again at a later poll, a few times."""
        attempts = job.attempts + 1
        log.warning("delivery failed id=%d attempt=%d: %s", job.id, attempts, exc)
        if attempts >= MAX_DELIVERY_ATTEMPTS:
            await self.jobs.update(job.id, state=js.FAILED, error=f"undeliverable: {exc}")
            return
        await self.jobs.update(
            job.id,
            state=js.RUNNING,
            attempts=attempts,
            next_poll_at=self._clock() + backend.poll_interval_s,
        )
        self._wake.set()  # the poller may be waiting for longer than that

    async def resend(self, job_id: int, user_id: str) -> bool:
        """Deliver a job left in doubt again, because its user asked."""
        job = await self.jobs.get(job_id)
        if job is None or job.dest.user_id != user_id or job.state != js.IN_DOUBT:
            return False
        if self.claims is not None:
            moved = await self.claims.move(job.id, expect=js.IN_DOUBT, state=js.DELIVERING)
        else:
            moved = await self.jobs.update(job.id, expect=js.IN_DOUBT, state=js.DELIVERING)
        if moved:
            self._start_delivery(self._backends[job.family], job.id)
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
        with _about(job.id):
            await self._send(job.dest, events)

    async def _tell(self, job: Job, text: str) -> None:
        with _about(job.id):
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
