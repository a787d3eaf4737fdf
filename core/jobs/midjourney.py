"""Midjourney as a job family: polling in batches, the grid with its buttons, describe prompts."""

from __future__ import annotations

import json

from core.jobs.batched import BatchedBackend
from core.jobs.runner import TaskUpdate
from core.jobs.store import Job
from core.platform.types import Button, ButtonRows, FinalText, ImageReply, ReplyEvent
from core.relay.midjourney import MidjourneyClient, MjTask
from core.texts.i18n import Lang, t

BUTTONS_PER_ROW = 5
PROMPT_NUMBERS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣")
# Actions that open a form on Discord (a mask or a zoom factor to type): a button alone
# would leave the task waiting for input, so they are not offered.
NEEDS_INPUT = ("CustomZoom", "Inpaint")


_PAN = ("pan_left", "pan_right", "pan_up", "pan_down")
_ZOOM = {"50": "2", "75": "1.5"}  # MJ::Outpaint::<size %>: Zoom Out 2x, 1.5x


def typed_form(custom_id: str) -> str:
    """What a person types for an MJ button: /u2, /v3, /reroll, /zoom 2, /vary strong,
    /pan left, /upscale creative; "" for a button without one (bookmark...)."""
    parts = custom_id.split("::")
    if len(parts) < 3:
        return ""
    if parts[1] == "Outpaint":
        zoom = _ZOOM.get(parts[2])
        return f"/zoom {zoom}" if zoom else ""
    if parts[1] != "JOB":
        return ""
    action, index = parts[2], parts[3] if len(parts) > 3 else ""
    if action in ("upsample", "variation") and index in ("1", "2", "3", "4"):
        return ("/u" if action == "upsample" else "/v") + index
    if action == "reroll":
        return "/reroll"
    if action in ("high_variation", "low_variation"):
        return "/vary " + ("strong" if action.startswith("high") else "subtle")
    if action in _PAN:
        return "/pan " + action.removeprefix("pan_")
    if action.startswith("upsample_"):  # upsample_v6_2x_subtle, upsample_v5_4x...
        for word in ("subtle", "creative", "2x", "4x"):
            if action.endswith(word) or f"_{word}_" in f"{action}_":
                return f"/upscale {word}"
    return ""


def button_label(custom_id: str, label: str = "", emoji: str = "") -> str:
    """A short label for an MJ button: U2, V3, 🔄, or the relay's own label."""
    parts = custom_id.split("::")
    if len(parts) >= 4 and parts[2] in ("upsample", "variation"):
        return ("U" if parts[2] == "upsample" else "V") + parts[3]
    if len(parts) >= 3 and parts[2] == "reroll":
        return "🔄"
    text = " ".join(p for p in (emoji, label) if p).strip()
    return text or (parts[2] if len(parts) > 2 else custom_id[:20])


class MjBackend(BatchedBackend[MidjourneyClient, MjTask]):
    """The ``mj`` job family on the relay's midjourney-proxy routes."""

    family = "mj"

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

    def buttons(self, job: Job, lang: Lang) -> list[Button]:
        """The buttons of a finished job, each with its typed form."""
        result = json.loads(job.result or "{}")
        if job.kind == "describe":
            prompts = [p for p in result.get("prompts", []) if p][:4]
            return [
                Button(
                    t("mj.imagine_this", lang, n=PROMPT_NUMBERS[i]),
                    f"/img -m mj {p}",
                    typed=f"/imagine {i + 1}",
                )
                for i, p in enumerate(prompts)
            ]
        return [
            Button(
                button_label(cid, label, emoji),
                f"/mj {result.get('task_id', '')} {cid}",
                typed=typed_form(cid),
            )
            for cid, label, emoji in result.get("buttons", [])
            if not any(kind in cid for kind in NEEDS_INPUT)
        ]

    async def result_events(self, job: Job) -> list[ReplyEvent]:
        result = json.loads(job.result or "{}")
        lang = job.dest.lang
        buttons = self.buttons(job, lang)
        if job.kind == "describe":
            prompts = [p for p in result.get("prompts", []) if p][:4]
            lines = [f"{PROMPT_NUMBERS[i]} {p}" for i, p in enumerate(prompts)]
            text = "\n\n".join(lines) or t("job.no_reason", lang)
            return [FinalText(text, markdown=False), ButtonRows.chunked(buttons, 1)]
        events: list[ReplyEvent] = []
        url = str(result.get("image_url") or "")
        caption = f"#{job.id} {job.prompt}"  # cut to the platform's longest when sent
        fetched = await self._media.fetch_or_link(url, lang, "image")
        if isinstance(fetched, FinalText):
            events.append(fetched)
        else:
            data, mime = fetched
            events.append(ImageReply(data, mime, caption))
        if buttons:
            events.append(ButtonRows.chunked(buttons, BUTTONS_PER_ROW))
        return events
