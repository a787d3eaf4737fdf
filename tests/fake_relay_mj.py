"""FakeRelay's Midjourney routes: submits, tasks that advance one state per fetch, images."""

from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fake_relay_media import png
from tests.fake_relay_scripts import Json, Raw

__all__ = ["MJ_DESCRIPTIONS", "FakeMjTask", "MjRoutes", "mj_error"]

# (status, progress) a task shows on its 1st, 2nd, ... fetch; it stays on the last one.
STAGES = [
    ("", "0%"),  # new-api right after submit, before its poller ran
    ("SUBMITTED", "0%"),
    ("IN_PROGRESS", "0%"),
    ("IN_PROGRESS", "37%"),
    ("IN_PROGRESS", "76%"),
    ("SUCCESS", "100%"),
]
FAIL_STAGES = [("", "0%"), ("SUBMITTED", "0%"), ("FAILURE", "0%")]
MJ_DESCRIPTIONS = {  # midjourney-proxy's texts for each submit code (novicezk ReturnCode)
    1: "提交成功",
    3: "无可用的账号实例",
    4: "参数错误",
    9: "提交失败",
    21: "任务已存在",
    22: "排队中，前面还有1个任务",
    23: "队列已满，请稍后尝试",
    24: "可能包含敏感词",
}
GRID_ACTIONS = {"IMAGINE", "BLEND", "VARIATION", "HIGH_VARIATION", "LOW_VARIATION", "REROLL"}
GRID_ACTIONS |= {"ZOOM", "PAN"}
DESCRIBE_TEXT = (
    "1️⃣ a red fox curled up in fresh snow, soft morning light, national geographic style "
    "--ar 4:3\n\n"
    "2️⃣ minimalist illustration of a fox sleeping in a winter forest, muted colors --ar 4:3\n\n"
    "3️⃣ a cozy fox resting on a snowy hill, detailed fur, wildlife photography --ar 4:3\n\n"
    "4️⃣ watercolor painting of an orange fox in the snow, gentle brush strokes --ar 4:3"
)


def mj_error(description: str, status: int = 400, code: int = 4) -> Json:
    """new-api's own Midjourney error (relay-api §2.1 shape 3)."""
    return Json(status, {"description": description, "type": "upstream_error", "code": code})


def _uuid(seed: str) -> str:
    h = hashlib.md5(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _button(custom_id: str, label: str = "", emoji: str = "") -> dict[str, Any]:
    return {"customId": custom_id, "emoji": emoji, "label": label, "type": 2, "style": 2}


def grid_buttons(h: str) -> list[dict[str, Any]]:
    """U1–U4, 🔄, V1–V4 as Discord lays them out under a 2×2 grid."""
    ups = [_button(f"MJ::JOB::upsample::{i}::{h}", f"U{i}") for i in range(1, 5)]
    reroll = _button(f"MJ::JOB::reroll::0::{h}::SOLO", "", "🔄")
    vary = [_button(f"MJ::JOB::variation::{i}::{h}", f"V{i}") for i in range(1, 5)]
    return [*ups, reroll, *vary]


def upscale_buttons(h: str) -> list[dict[str, Any]]:
    """The buttons under one upscaled image (MJ v6)."""
    return [
        _button(f"MJ::JOB::upsample_v6_2x_subtle::1::{h}::SOLO", "Upscale (Subtle)"),
        _button(f"MJ::JOB::upsample_v6_2x_creative::1::{h}::SOLO", "Upscale (Creative)"),
        _button(f"MJ::JOB::high_variation::1::{h}::SOLO", "Vary (Strong)", "🪄"),
        _button(f"MJ::JOB::low_variation::1::{h}::SOLO", "Vary (Subtle)", "🪄"),
        _button(f"MJ::Inpaint::1::{h}::SOLO", "Vary (Region)", "🖌️"),
        _button(f"MJ::Outpaint::50::1::{h}::SOLO", "Zoom Out 2x", "🔍"),
        _button(f"MJ::Outpaint::75::1::{h}::SOLO", "Zoom Out 1.5x", "🔍"),
        _button(f"MJ::CustomZoom::{h}", "Custom Zoom", "🔍"),
        _button(f"MJ::JOB::pan_left::1::{h}::SOLO", "", "⬅️"),
        _button(f"MJ::JOB::pan_right::1::{h}::SOLO", "", "➡️"),
        _button(f"MJ::JOB::pan_up::1::{h}::SOLO", "", "⬆️"),
        _button(f"MJ::JOB::pan_down::1::{h}::SOLO", "", "⬇️"),
        _button(f"MJ::BOOKMARK::{h}", "", "❤️"),
    ]


def describe_buttons() -> list[dict[str, Any]]:
    picks = [_button(f"MJ::Job::PicReader::{i}", str(i)) for i in range(1, 5)]
    return [
        *picks,
        _button("MJ::Picread::Retry", "", "🔄"),
        _button("MJ::Job::PicReader::all", "Imagine all", "🎉"),
    ]


def action_of(custom_id: str) -> str:
    """new-api's CoverPlusActionToNormalAction (relay-api §10.3)."""
    parts = custom_id.split("::")
    name = (
        parts[2] if len(parts) > 2 and parts[1] == "JOB" else (parts[1] if len(parts) > 1 else "")
    )
    if name.startswith("upsample"):
        return "UPSCALE"
    if "pan" in name:
        return "PAN"
    named = {
        "variation": "VARIATION",
        "low_variation": "LOW_VARIATION",
        "high_variation": "HIGH_VARIATION",
        "reroll": "REROLL",
        "Outpaint": "ZOOM",
        "CustomZoom": "CUSTOM_ZOOM",
        "Inpaint": "INPAINT",
        "PicReader": "IMAGINE",
    }
    return named.get(name, "")


@dataclass
class FakeMjTask:
    """A task of the fake; ``fetches`` counts how often it was fetched (one stage each)."""

    id: str
    action: str
    prompt: str
    custom_id: str = ""
    parent: str = ""
    images: list[str] = field(default_factory=list)  # data URIs it was submitted with
    fail_reason: str = ""  # non-empty: the task ends in FAILURE with this reason
    modal: bool = False  # waits for /mj/submit/modal (CustomZoom, Inpaint)
    fetches: int = 0
    submit_time: int = field(default_factory=lambda: int(time.time() * 1000))

    def stage(self, steps: int) -> tuple[str, str]:
        if self.modal:
            return "MODAL", "0%"
        stages = FAIL_STAGES if self.fail_reason else STAGES
        return stages[min(self.fetches // max(1, steps), len(stages) - 1)]

    def buttons(self) -> list[dict[str, Any]]:
        h = _uuid(self.id)
        if self.action == "DESCRIBE":
            return describe_buttons()
        return upscale_buttons(h) if self.action == "UPSCALE" else grid_buttons(h)

    def view(self, base_url: str, steps: int) -> dict[str, Any]:
        """The §10.3 object for the current stage."""
        status, progress = self.stage(steps)
        done = status in ("SUCCESS", "FAILURE")
        image = ""
        if status == "SUCCESS":
            image = f"{base_url}/mj/image/{self.id}"
        elif status == "IN_PROGRESS" and progress != "0%":
            image = f"{base_url}/mj/image/{self.id}?rand={self.fetches}"
        final = DESCRIBE_TEXT if self.action == "DESCRIBE" and status == "SUCCESS" else ""
        prompt = final or self.prompt
        return {
            "id": self.id,
            "action": self.action,
            "customId": self.custom_id,
            "botType": "MID_JOURNEY",
            "prompt": prompt,
            "promptEn": prompt,
            "description": "Submit success",
            "state": "",
            "submitTime": self.submit_time,
            "startTime": self.submit_time + 1500 if status not in ("", "SUBMITTED") else 0,
            "finishTime": self.submit_time + 45_000 if done else 0,
            "imageUrl": image,
            "status": status,
            "progress": progress,
            "failReason": self.fail_reason if status == "FAILURE" else "",
            "buttons": self.buttons() if status == "SUCCESS" else None,
            "maskBase64": "",
            "properties": {"finalPrompt": final or self.prompt, "finalZhPrompt": ""},
        }


class MjRoutes:
    """Mixin of FakeRelay: ``/mj`` and ``/{mj-fast,mj-relax,mj-turbo}/mj`` routes. Switches:

    - ``mj_next_code``: the next submit answers HTTP 200 with this code and the proxy's own
      description (21/22 still create the task); it then resets to None.
    - ``mj_script(prompt_contains=..., fail_reason=...)``: tasks whose prompt contains the text
      end in FAILURE after SUBMITTED.
    - ``mj_steps_per_state``: fetches per stage (default 1: each fetch advances one stage).
    - ``mj_tasks`` (id -> FakeMjTask) and ``mj_fetches`` (fetch + list lookups) for asserts.
    """

    url: str
    if TYPE_CHECKING:  # provided by FakeRelay
        _queue: Any

        async def _record(self, request: web.Request) -> tuple[str, Any]: ...
        def _scripted(self, request: web.Request) -> Any: ...
        def _plain(self, rid: str, script: Json | Raw) -> web.Response: ...

    def _init_mj(self) -> None:
        self.mj_tasks: dict[str, FakeMjTask] = {}
        self.mj_next_code: int | None = None
        self.mj_steps_per_state = 1
        self.mj_fetches = 0
        self._mj_failures: list[tuple[str, str]] = []
        self._mj_ids = itertools.count(1_730_000_000_000_001)

    def mj_script(
        self, *, prompt_contains: str, fail_reason: str = "Request cancelled due to image filters"
    ) -> None:
        self._mj_failures.append((prompt_contains, fail_reason))

    def _add_mj_routes(self, app: web.Application) -> None:
        for mode in ("", "/mj-fast", "/mj-relax", "/mj-turbo"):
            for kind in ("imagine", "action", "describe", "blend"):
                app.router.add_post(f"{mode}/mj/submit/{kind}", self._mj_submit)
            app.router.add_get(f"{mode}/mj/task/{{id}}/fetch", self._mj_fetch)
            app.router.add_post(f"{mode}/mj/task/list-by-condition", self._mj_list)
        app.router.add_get("/mj/image/{id}", self._mj_image)

    def _mj_view(self, task: FakeMjTask) -> dict[str, Any]:
        view = task.view(self.url, self.mj_steps_per_state)
        task.fetches += 1
        self.mj_fetches += 1
        return view

    def _new_task(self, body: dict[str, Any], kind: str) -> FakeMjTask | Json:
        """The task a valid submit creates, or new-api's 400 for a missing field."""
        if kind == "imagine":
            if not str(body.get("prompt") or "").strip():
                return mj_error("prompt_is_required")
            task = FakeMjTask("", "IMAGINE", body["prompt"], images=body.get("base64Array") or [])
        elif kind == "action":
            custom_id, parent = str(body.get("customId") or ""), str(body.get("taskId") or "")
            if not custom_id:
                return mj_error("custom_id_is_required")
            origin = self.mj_tasks.get(parent)
            if origin is None:
                return mj_error("task_not_found")
            if origin.stage(self.mj_steps_per_state)[0] != "SUCCESS":
                return mj_error("task_status_not_success")
            action = action_of(custom_id)
            task = FakeMjTask("", action, origin.prompt, custom_id=custom_id, parent=parent)
            task.modal = action in ("CUSTOM_ZOOM", "INPAINT")
        elif kind == "describe":
            if not str(body.get("base64") or "").startswith("data:"):
                return mj_error("base64_is_required")
            task = FakeMjTask("", "DESCRIBE", "", images=[body["base64"]])
        else:
            images = body.get("base64Array") or []
            if not 2 <= len(images) <= 5:
                return Json(200, {"code": 4, "description": "base64List参数错误", "result": None})
            task = FakeMjTask("", "BLEND", "", images=list(images))
        task.id = str(next(self._mj_ids))
        for text, reason in self._mj_failures:
            if text and text in task.prompt:
                task.fail_reason = reason
        return task

    async def _mj_submit(self, request: web.Request) -> web.StreamResponse:
        rid, body = await self._record(request)
        script = self._scripted(request)
        if script is not None:
            return self._plain(rid, script)
        code, self.mj_next_code = self.mj_next_code or 1, None
        if code not in (1, 21, 22):
            desc = MJ_DESCRIPTIONS.get(code, "未知错误")
            answer: dict[str, Any] = {"code": code, "description": desc, "result": None}
            if code == 24:
                prompt = str((body or {}).get("prompt", ""))
                answer["properties"] = {"promptEn": prompt, "bannedWord": "nsfw"}
            return self._plain(rid, Json(200, answer))
        kind = request.path.rsplit("/", 1)[-1]
        task = self._new_task(body if isinstance(body, dict) else {}, kind)
        if isinstance(task, Json):
            return self._plain(rid, task)
        self.mj_tasks[task.id] = task
        props: dict[str, Any] = {"discordChannelId": "1184329810483204112"}
        if task.modal:  # new-api does not rewrite 21 for CustomZoom/Inpaint (relay-api §10.2)
            code, desc = 21, "Waiting for window confirm"
            props |= {"status": "MODAL", "imageUrl": ""}
        else:
            desc = MJ_DESCRIPTIONS[code]
            if code == 22:
                props["numberOfQueues"] = 1
        answer = {"code": code, "description": desc, "result": task.id, "properties": props}
        return self._plain(rid, Json(200, answer))

    async def _mj_fetch(self, request: web.Request) -> web.StreamResponse:
        rid, _ = await self._record(request)
        script = self._scripted(request)
        if script is None:
            task = self.mj_tasks.get(request.match_info["id"])
            script = Json(200, self._mj_view(task)) if task else mj_error("task_no_found")
        return self._plain(rid, script)

    async def _mj_list(self, request: web.Request) -> web.StreamResponse:
        rid, body = await self._record(request)
        script = self._scripted(request)
        if script is None:
            ids = body.get("ids") if isinstance(body, dict) else None
            found = [self.mj_tasks[i] for i in ids or [] if i in self.mj_tasks]
            script = Json(200, [self._mj_view(task) for task in found])
        return self._plain(rid, script)

    async def _mj_image(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        task = self.mj_tasks.get(request.match_info["id"])
        if task is None:
            return web.Response(status=404, text="404 page not found")
        seed = int(task.id) % 200
        return web.Response(body=png(8, 8, (seed, 100, 255 - seed)), content_type="image/png")
