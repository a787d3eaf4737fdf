"""Video as a job family: Luma, Kling and Runway tasks, the clip, and Luma's extend button."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence

from core.errors import BotError
from core.jobs.runner import TaskUpdate
from core.jobs.store import Job
from core.media.fetcher import MediaFetcher
from core.platform.types import Button, ButtonRows, ReplyEvent, VideoReply
from core.relay.video import KlingClient, KlingKind, LumaClient, RunwayClient, VideoTask
from core.texts.i18n import Lang, t

log = logging.getLogger("relaybot.jobs")

# Job kinds: which client and route a task belongs to.
LUMA, KLING_T2V, KLING_I2V, RUNWAY = "luma", "kling-t2v", "kling-i2v", "runway"


class VideoBackend:
    """The ``video`` job family; the job's kind says which backend polls it."""

    family = "video"

    def __init__(
        self,
        *,
        luma: LumaClient,
        kling: KlingClient,
        runway: RunwayClient,
        media: MediaFetcher,
        poll_interval_s: float,
        deadline_s: float,
    ) -> None:
        self.luma = luma
        self.kling = kling
        self.runway = runway
        self.poll_interval_s = poll_interval_s
        self.deadline_s = deadline_s
        self._media = media

    async def fetch_many(self, jobs: Sequence[Job]) -> dict[str, TaskUpdate]:
        """These relays have no batch route: one fetch per task, side by side. Results are
        keyed by the id the job stored (the backend's own id in the answer may differ), and
        one task that cannot be fetched does not hold up the others."""
        tasks = await asyncio.gather(*(self._fetch(job) for job in jobs), return_exceptions=True)
        updates: dict[str, TaskUpdate] = {}
        for job, task in zip(jobs, tasks, strict=True):
            task_id = job.relay_task_id or ""
            if isinstance(task, BotError):
                log.warning("video poll failed job=%d: %s", job.id, task)
                updates[task_id] = TaskUpdate("error", error=str(task))
            elif isinstance(task, BaseException):
                raise task
            else:
                updates[task_id] = self._update(task, task_id)
        return updates

    async def _fetch(self, job: Job) -> VideoTask:
        task_id = job.relay_task_id or ""
        if job.kind == LUMA:
            return await self.luma.fetch(task_id)
        if job.kind in (KLING_T2V, KLING_I2V):
            kind: KlingKind = "text2video" if job.kind == KLING_T2V else "image2video"
            return await self.kling.fetch(kind, task_id)
        return await self.runway.fetch(task_id)

    @staticmethod
    def _update(task: VideoTask, task_id: str) -> TaskUpdate:
        if task.status == "done":
            result = {"task_id": task_id, "video": task.video_url}
            return TaskUpdate("done", 100, result=json.dumps(result))
        if task.status == "failed":
            return TaskUpdate("failed", task.progress, error=task.fail_reason or task.raw_state)
        return TaskUpdate("running" if task.status == "running" else "queued", task.progress)

    def describe(self, job: Job, lang: Lang) -> str:
        name = {LUMA: "Luma", KLING_T2V: "Kling", KLING_I2V: "Kling", RUNWAY: "Runway"}
        return t("video.job", lang, backend=name.get(job.kind, job.kind))

    async def result_events(self, job: Job) -> list[ReplyEvent]:
        result = json.loads(job.result or "{}")
        url = str(result.get("video") or "")
        caption = f"#{job.id} {job.prompt}"  # cut to the platform's longest when sent
        fetched = await self._media.fetch(url, "video")  # too large, refused...: the link
        if fetched is None and not self._media.linkable(url):  # no file and no link
            return [self._media.instead(url, job.dest.lang)]
        video = VideoReply(fetched[0] if fetched else None, url, "video/mp4", caption)
        events: list[ReplyEvent] = [video]
        buttons = self.buttons(job, job.dest.lang)
        if buttons:
            events.append(ButtonRows((tuple(buttons),)))
        return events

    def buttons(self, job: Job, lang: Lang) -> list[Button]:
        """Luma's extend button (typed: /extend); other video models have none."""
        if job.kind != LUMA:
            return []
        task_id = json.loads(job.result or "{}").get("task_id", "")
        return [Button(t("video.extend", lang), f"/video extend {task_id}", typed="/extend")]
