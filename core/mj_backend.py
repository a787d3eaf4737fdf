"""Midjourney as a job family: polling in batches, the grid with its buttons, describe prompts."""

from __future__ import annotations

import json
from collections.abc import Sequence

from core.i18n import Lang, t
from core.job_store import Job
from core.jobs import TaskUpdate
from core.media import MediaFetcher
from core.relay.midjourney import MidjourneyClient, MjTask
from core.types import Button, ButtonRows, FinalText, ImageReply, ReplyEvent

BUTTONS_PER_ROW = 5
PROMPT_NUMBERS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣")
# Actions that open a form on Discord (a mask or a zoom factor to type): a button alone
# would leave the task waiting for input, so they are not offered.
NEEDS_INPUT = ("CustomZoom", "Inpaint")


def button_label(custom_id: str, label: str = "", emoji: str = "") -> str:
    """A short label for an MJ button: U2, V3, 🔄, or the relay's own label."""
    parts = custom_id.split("::")
    if len(parts) >= 4 and parts[2] in ("upsample", "variation"):
        return ("U" if parts[2] == "upsample" else "V") + parts[3]
    if len(parts) >= 3 and parts[2] == "reroll":
        return "🔄"
    text = " ".join(p for p in (emoji, label) if p).strip()
    return text or (parts[2] if len(parts) > 2 else custom_id[:20])


class MjBackend:
    """The ``mj`` job family on the relay's midjourney-proxy routes."""

    family = "mj"

    def __init__(
        self,
        client: MidjourneyClient,
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
    def _update(task: MjTask) -> TaskUpdate:
        if task.status == "SUCCESS" and not (task.image_url or task.description_prompts):
            return TaskUpdate("running", 99)  # done but no picture yet: keep looking
        if task.status == "SUCCESS":
            result = {
                "task_id": task.id,
                "image_url": task.image_url,
                "buttons": [[b.custom_id, b.label, b.emoji] for b in task.buttons],
                "prompts": list(task.description_prompts),
            }
            return TaskUpdate("done", 100, result=json.dumps(result, ensure_ascii=False))
        if task.status in ("FAILURE", "CANCEL"):
            return TaskUpdate("failed", task.progress, error=task.fail_reason or task.status)
        if task.status in ("IN_PROGRESS", "MODAL"):
            return TaskUpdate("running", task.progress)
        return TaskUpdate("queued", task.progress)

    def describe(self, job: Job, lang: Lang) -> str:
        return t(f"mj.{job.kind}", lang) if job.kind != "action" else f"Midjourney {job.prompt}"

    async def result_events(self, job: Job) -> list[ReplyEvent]:
        result = json.loads(job.result or "{}")
        lang = job.dest.lang
        if job.kind == "describe":
            prompts = [p for p in result.get("prompts", []) if p][:4]
            lines = [f"{PROMPT_NUMBERS[i]} {p}" for i, p in enumerate(prompts)]
            choices = tuple(
                (Button(t("mj.imagine_this", lang, n=PROMPT_NUMBERS[i]), f"/img -m mj {p}"),)
                for i, p in enumerate(prompts)
            )
            text = "\n\n".join(lines) or t("job.no_reason", lang)
            return [FinalText(text, markdown=False), ButtonRows(choices)]
        events: list[ReplyEvent] = []
        url = str(result.get("image_url") or "")
        caption = f"#{job.id} {job.prompt}"[:1000]
        fetched = await self._media.fetch(url, "image")
        if fetched is None:
            key = "job.link" if self._media.linkable(url) else "job.result_gone"
            events.append(FinalText(t(key, lang, url=url), markdown=False))
        else:
            data, mime = fetched
            events.append(ImageReply(data, mime, caption))
        buttons = [
            Button(button_label(cid, label, emoji), f"/mj {result.get('task_id', '')} {cid}")
            for cid, label, emoji in result.get("buttons", [])
            if not any(kind in cid for kind in NEEDS_INPUT)
        ]
        if buttons:
            rows: tuple[tuple[Button, ...], ...] = tuple(
                tuple(buttons[i : i + BUTTONS_PER_ROW])
                for i in range(0, len(buttons), BUTTONS_PER_ROW)
            )
            events.append(ButtonRows(rows))
        return events
