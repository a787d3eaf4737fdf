"""Suno as a job family: two clips with covers, the lyrics, and a continue button per clip."""

from __future__ import annotations

import json
from collections.abc import Sequence

from core.i18n import Lang, t
from core.job_store import Job
from core.jobs import TaskUpdate
from core.media import MediaFetcher
from core.relay.suno import SunoClient, SunoTask
from core.sniff import MediaKind
from core.types import AudioReply, Button, ButtonRows, FinalText, ImageReply, ReplyEvent


class SunoBackend:
    """The ``suno`` job family: ``/song`` (kind music), ``/lyrics`` (kind lyrics)."""

    family = "suno"

    def __init__(
        self,
        client: SunoClient,
        media: MediaFetcher,
        *,
        poll_interval_s: float,
        deadline_s: float,
    ) -> None:
        self.client = client
        self._media = media
        self.poll_interval_s = poll_interval_s
        self.deadline_s = deadline_s

    async def fetch_many(self, jobs: Sequence[Job]) -> dict[str, TaskUpdate]:
        tasks = await self.client.fetch_many([j.relay_task_id or "" for j in jobs])
        return {task.id: self._update(task) for task in tasks}

    @staticmethod
    def _update(task: SunoTask) -> TaskUpdate:
        missing = task.action != "LYRICS" and not any(c.audio_url for c in task.clips)
        if task.status == "SUCCESS" and missing:
            return TaskUpdate("running", 99)  # done but no audio yet: keep looking
        if task.status == "SUCCESS":
            result = {
                "task_id": task.id,
                "clips": [
                    {
                        "id": c.id,
                        "title": c.title,
                        "audio": c.audio_url,
                        "image": c.image_url,
                        "tags": c.tags,
                        "lyrics": c.lyrics,
                        "duration": c.duration,
                    }
                    for c in task.clips
                ],
                "lyrics_title": task.lyrics_title,
                "lyrics": task.lyrics_text,
            }
            return TaskUpdate("done", 100, result=json.dumps(result, ensure_ascii=False))
        if task.status in ("FAILURE", "UNKNOWN"):
            return TaskUpdate("failed", task.progress, error=task.fail_reason or task.status)
        if task.status == "IN_PROGRESS":
            return TaskUpdate("running", task.progress)
        return TaskUpdate("queued", task.progress)

    def describe(self, job: Job, lang: Lang) -> str:
        return t(f"suno.{job.kind}", lang)

    async def result_events(self, job: Job) -> list[ReplyEvent]:
        result = json.loads(job.result or "{}")
        lang = job.dest.lang
        if job.kind == "lyrics":
            title = result.get("lyrics_title") or ""
            text = result.get("lyrics") or t("job.no_reason", lang)
            return [FinalText(f"{title}\n\n{text}".strip(), markdown=False)]
        events: list[ReplyEvent] = []
        buttons: list[Button] = []
        lyrics = ""
        for n, clip in enumerate(result.get("clips", []), start=1):
            title = clip.get("title") or f"#{job.id}"
            lyrics = lyrics or clip.get("lyrics") or ""
            if clip.get("image"):
                cover = await self._fetch(clip["image"], lang, "image")
                if isinstance(cover, bytes):
                    caption = f"{title} · {clip.get('tags') or ''}".strip(" ·")
                    events.append(ImageReply(cover, "image/jpeg", caption))
            audio = await self._fetch(clip.get("audio") or "", lang, "audio")
            if isinstance(audio, bytes):
                events.append(AudioReply(audio, "audio/mpeg", title))
            else:
                events.append(audio)
            at = clip.get("duration")
            # "-": no duration known; the relay then continues from the clip's end itself
            action = f"/song continue {result.get('task_id', '')} {clip.get('id', '')} {at or '-'}"
            buttons.append(Button(t("suno.continue", lang, n=n), action))
        if lyrics:
            events.append(FinalText(lyrics, markdown=False))
        if buttons:
            events.append(ButtonRows((tuple(buttons),)))
        return events

    async def _fetch(self, url: str, lang: Lang, kind: MediaKind) -> bytes | FinalText:
        fetched = await self._media.fetch(url, kind)
        if fetched:
            return fetched[0]
        key = "job.link" if self._media.linkable(url) else "job.result_gone"
        return FinalText(t(key, lang, url=url), markdown=False)
