"""Suno as a job family: two clips with covers, the lyrics, and a continue button per clip."""

from __future__ import annotations

import json

from core.jobs.batched import BatchedBackend
from core.jobs.runner import TaskUpdate
from core.jobs.store import Job
from core.platform.types import AudioReply, Button, ButtonRows, FinalText, ImageReply, ReplyEvent
from core.relay.suno import SunoClient, SunoTask
from core.texts.i18n import Lang, t


class SunoBackend(BatchedBackend[SunoClient, SunoTask]):
    """The ``suno`` job family: ``/song`` (kind music), ``/lyrics`` (kind lyrics)."""

    family = "suno"

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

    def buttons(self, job: Job, lang: Lang) -> list[Button]:
        """A continue button per clip of a finished song; typed: /continue 1, /continue 2."""
        if job.kind == "lyrics":
            return []
        result = json.loads(job.result or "{}")
        buttons = []
        for n, clip in enumerate(result.get("clips", []), start=1):
            at = clip.get("duration")
            # "-": no duration known; the relay then continues from the clip's end itself
            action = f"/song continue {result.get('task_id', '')} {clip.get('id', '')} {at or '-'}"
            buttons.append(Button(t("suno.continue", lang, n=n), action, typed=f"/continue {n}"))
        return buttons

    async def result_events(self, job: Job) -> list[ReplyEvent]:
        result = json.loads(job.result or "{}")
        lang = job.dest.lang
        if job.kind == "lyrics":
            title = result.get("lyrics_title") or ""
            text = result.get("lyrics") or t("job.no_reason", lang)
            return [FinalText(f"{title}\n\n{text}".strip(), markdown=False)]
        events: list[ReplyEvent] = []
        lyrics = ""
        for clip in result.get("clips", []):
            title = clip.get("title") or f"#{job.id}"
            lyrics = lyrics or clip.get("lyrics") or ""
            if clip.get("image"):
                cover = await self._media.fetch_or_link(clip["image"], lang, "image")
                if isinstance(cover, tuple):  # no cover is no loss: no link for it
                    caption = f"{title} · {clip.get('tags') or ''}".strip(" ·")
                    events.append(ImageReply(cover[0], cover[1], caption))
            audio = await self._media.fetch_or_link(clip.get("audio") or "", lang, "audio")
            if isinstance(audio, tuple):
                events.append(AudioReply(audio[0], audio[1], title))
            else:
                events.append(audio)
        if lyrics:
            events.append(FinalText(lyrics, markdown=False))
        buttons = self.buttons(job, lang)
        if buttons:
            events.append(ButtonRows((tuple(buttons),)))
        return events
