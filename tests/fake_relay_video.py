"""FakeRelay's video routes: Luma, Kling and Runway tasks that advance one state per fetch."""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fake_relay_media import png
from tests.fake_relay_scripts import Json, Raw

__all__ = ["MP4", "FakeVideoTask", "VideoRoutes", "task_error"]

MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free"  # a few bytes
# (state, progress) a task shows on its 1st, 2nd, ... fetch; it stays on the last one.
STAGES: dict[str, list[tuple[str, str]]] = {
    # the first "completed" has no video.download_url yet (relay-api §12)
    "luma": [("pending", ""), ("processing", ""), ("completed", "no-url"), ("completed", "")],
    "kling": [("submitted", "0%"), ("processing", "30%"), ("succeed", "100%")],
    "runway": [("PENDING", ""), ("RUNNING", "0.4"), ("SUCCEEDED", "1")],
}
RUNWAY_VERSION = "2024-11-06"  # the one X-Runway-Version value the API takes (§14.1)
RUNWAY_RATIOS = {  # model -> the ratios Runway accepts; ``ratio`` is required (§14.1)
    "gen3a_turbo": ("1280:768", "768:1280"),
    "gen4_turbo": ("1280:720", "720:1280", "960:960", "1104:832", "832:1104", "1584:672"),
}
FAIL_STAGES: dict[str, list[tuple[str, str]]] = {
    "luma": [("pending", ""), ("processing", ""), ("failed", "")],
    "kling": [("submitted", "0%"), ("processing", "30%"), ("failed", "100%")],
    "runway": [("PENDING", ""), ("RUNNING", "0.4"), ("FAILED", "")],
}
NEW_API_STATUS = {  # new-api's task status for each backend state (wrapper shape)
    **dict.fromkeys(("submitted", "PENDING"), "SUBMITTED"),
    **dict.fromkeys(("processing", "RUNNING"), "IN_PROGRESS"),
    **dict.fromkeys(("succeed", "SUCCEEDED"), "SUCCESS"),
    **dict.fromkeys(("failed", "FAILED"), "FAILURE"),
}


def task_error(status: int, code: str, message: str) -> Json:
    """new-api's task error (relay-api §2.1 shape 4)."""
    return Json(status, {"code": code, "message": message, "data": None})


def _uuid(seed: str) -> str:
    h = hashlib.md5(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


@dataclass
class FakeVideoTask:
    """A task of the fake; ``body`` is its submit body, ``fetches`` counts fetches (stages)."""

    id: str
    backend: str  # "luma" | "kling" | "runway"
    kind: str  # "generate", "extend", "text2video", "image2video", "image_to_video"
    prompt: str
    body: dict[str, Any]
    video_url: str = ""
    thumbnail_url: str = ""
    parent: str = ""  # Luma extend: the task it continues
    runway_version: str = ""  # the X-Runway-Version header of the submit
    missing: int = 0  # Runway: fetches still to answer task_not_exist
    fail_reason: str = ""  # non-empty: the task ends failed with this reason
    fetches: int = 0
    created: int = field(default_factory=lambda: int(time.time()))

    def stage(self, steps: int) -> tuple[str, str]:
        stages = (FAIL_STAGES if self.fail_reason else STAGES)[self.backend]
        return stages[min(self.fetches // max(1, steps), len(stages) - 1)]


class VideoRoutes:
    """Mixin of FakeRelay: ``/luma``, ``/kling/v1/videos``, ``/runwayml/v1``. Switches:

    - ``video_fail(prompt_contains=..., reason=...)``: tasks whose prompt contains the text end
      failed with ``reason`` (Luma failure_reason, Kling task_status_msg, Runway failure).
    - ``video_refuse(prompt_contains=..., message=...)``: such submits answer HTTP 200 with a
      refusal code (Kling native ``code`` 1301, else ``code`` "prompt_rejected") and no task.
    - ``video_steps_per_state``: fetches per state (default 1: each fetch advances one).
    - ``kling_shape``: "native" (``{code:0, data:{task_status...}}``) or "new-api" (video
      object on submit, ``{code:"success", data:{status, progress, data:<native>}}`` on fetch).
    - ``runway_shape``: "raw" or "wrapped" (``{code:"success", data:{..., data:<raw>}}``).
    - ``runway_not_exist_fetches``: the first N fetches of each Runway task answer new-api's
      400 ``task_not_exist`` (a just-created task). ``runway_require_version``: a submit
      without ``X-Runway-Version: 2024-11-06`` gets a 400 (default True). A gen3a_turbo or
      gen4_turbo submit without a ``ratio`` that model takes gets a 400 too.
    - ``video_tasks`` (id -> FakeVideoTask, with submit body and header) for asserts.
    Videos are served at ``/files/<backend>-<id>.mp4`` (``MP4``), Luma thumbnails as PNG.
    """

    url: str
    if TYPE_CHECKING:  # provided by FakeRelay and MediaRoutes

        async def _record(self, request: web.Request) -> tuple[str, Any]: ...
        def _scripted(self, request: web.Request) -> Any: ...
        def _plain(self, rid: str, script: Json | Raw) -> web.Response: ...
        def add_file(self, data: bytes, content_type: str = ..., name: str = ...) -> str: ...

    def _init_video(self) -> None:
        self.video_tasks: dict[str, FakeVideoTask] = {}
        self.video_steps_per_state = 1
        self.kling_shape = "native"
        self.runway_shape = "raw"
        self.runway_not_exist_fetches = 0
        self.runway_require_version = True
        self._video_failures: list[tuple[str, str]] = []
        self._video_refusals: list[tuple[str, str]] = []
        self._video_ids = itertools.count(1)

    def video_fail(self, *, prompt_contains: str, reason: str = "content moderation") -> None:
        self._video_failures.append((prompt_contains, reason))

    def video_refuse(
        self, *, prompt_contains: str, message: str = "prompt violates content policy"
    ) -> None:
        self._video_refusals.append((prompt_contains, message))

    def _add_video_routes(self, app: web.Application) -> None:
        app.router.add_post("/luma/generations", self._luma_submit)
        app.router.add_post("/luma/generations/{id}/extend", self._luma_submit)
        app.router.add_get("/luma/generations/{id}", self._luma_fetch)
        for kind in ("text2video", "image2video"):
            app.router.add_post(f"/kling/v1/videos/{kind}", self._kling_submit)
            app.router.add_get(f"/kling/v1/videos/{kind}/{{id}}", self._kling_fetch)
        app.router.add_post("/runwayml/v1/image_to_video", self._runway_submit)
        app.router.add_get("/runwayml/v1/tasks/{id}", self._runway_fetch)

    # -- tasks -------------------------------------------------------------------------------

    def _new_video(
        self, backend: str, kind: str, prompt: str, body: dict[str, Any]
    ) -> FakeVideoTask:
        n = next(self._video_ids)
        task_id = f"{800_000_000 + n}" if backend == "kling" else _uuid(f"{backend}-{n}")
        task = FakeVideoTask(task_id, backend, kind, prompt, body)
        task.video_url = self.add_file(MP4, "video/mp4", name=f"{backend}-{task_id}.mp4")
        if backend == "luma":
            task.thumbnail_url = self.add_file(png(), "image/png", name=f"luma-{task_id}.png")
        task.fail_reason = next((r for t, r in self._video_failures if t and t in prompt), "")
        task.missing = self.runway_not_exist_fetches if backend == "runway" else 0
        self.video_tasks[task_id] = task
        return task

    def _refusal(self, prompt: str) -> str:
        return next((m for t, m in self._video_refusals if t and t in prompt), "")

    def _advance(self, task: FakeVideoTask) -> tuple[str, str]:
        stage = task.stage(self.video_steps_per_state)
        task.fetches += 1
        return stage

    def _answer(self, request: web.Request, rid: str, make: Callable[[], Json]) -> web.Response:
        """The scripted answer if one is queued, else ``make()``."""
        script = self._scripted(request)
        return self._plain(rid, script if script is not None else make())

    async def _fetch(
        self, request: web.Request, view: Callable[[FakeVideoTask], Json]
    ) -> web.Response:
        rid, _ = await self._record(request)
        task = self.video_tasks.get(request.match_info["id"])
        missing = task_error(400, "task_not_exist", "task_not_exist")
        return self._answer(request, rid, lambda: view(task) if task else missing)

    # -- Luma --------------------------------------------------------------------------------

    def _luma_view(self, task: FakeVideoTask, state: str, note: str) -> dict[str, Any]:
        video = None
        if state == "completed":
            url = None if note == "no-url" else task.video_url
            video = {"url": task.video_url, "download_url": url, "width": 1360, "height": 752}
        thumb = {"url": task.thumbnail_url, "width": 1360, "height": 752}
        return {
            "id": task.id,
            "prompt": task.prompt,
            "state": state,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(task.created)),
            "batch_id": "",
            **dict.fromkeys(("queue_state", "liked", "estimate_wait_seconds", "last_frame")),
            "video": video,
            "thumbnail": thumb if state == "completed" else None,
            "failure_reason": task.fail_reason if state == "failed" else None,
        }

    async def _luma_submit(self, request: web.Request) -> web.StreamResponse:
        rid, body = await self._record(request)
        body = body if isinstance(body, dict) else {}

        def make() -> Json:
            prompt = str(body.get("user_prompt") or "")
            if not prompt.strip():
                return task_error(400, "invalid_request", "user_prompt is required")
            if refusal := self._refusal(prompt):
                return Json(200, {"code": "prompt_rejected", "message": refusal, "data": None})
            parent = request.match_info.get("id", "")
            if parent:
                origin = self.video_tasks.get(parent)
                if origin is None:
                    return task_error(400, "task_not_exist", "task_not_exist")
                if origin.stage(self.video_steps_per_state)[0] != "completed":
                    return task_error(400, "invalid_request", "task is not completed")
            task = self._new_video("luma", "extend" if parent else "generate", prompt, body)
            task.parent = parent
            return Json(201, self._luma_view(task, "pending", ""))

        return self._answer(request, rid, make)

    async def _luma_fetch(self, request: web.Request) -> web.StreamResponse:
        return await self._fetch(
            request, lambda t: Json(200, self._luma_view(t, *self._advance(t)))
        )

    # -- Kling -------------------------------------------------------------------------------

    def _kling_native(self, task: FakeVideoTask, state: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "task_id": task.id,
            "task_status": state,
            "task_status_msg": task.fail_reason if state == "failed" else "",
            "created_at": task.created * 1000,
            "updated_at": task.created * 1000 + 1000 * task.fetches,
        }
        if state == "succeed":
            video = {"id": f"v-{task.id}", "url": task.video_url, "duration": "5.1"}
            data["task_result"] = {"videos": [video]}
        return {"code": 0, "message": "SUCCEED", "request_id": _uuid(task.id), "data": data}

    def _kling_error(self, message: str) -> Json:
        if self.kling_shape == "native":
            return Json(400, {"code": 1201, "message": message, "data": None})
        return task_error(400, "invalid_request", message)

    async def _kling_submit(self, request: web.Request) -> web.StreamResponse:
        rid, body = await self._record(request)
        body = body if isinstance(body, dict) else {}
        kind = request.path.rsplit("/", 1)[-1]

        def make() -> Json:
            prompt, image = str(body.get("prompt") or ""), str(body.get("image") or "")
            if kind == "text2video" and not prompt.strip():
                return self._kling_error("prompt is required")
            if kind == "image2video" and not image:
                return self._kling_error("image is required")
            if image.startswith("data:"):  # Kling wants raw base64 (relay-api §13.1)
                return self._kling_error("image: invalid base64 (remove the data: prefix)")
            if refusal := self._refusal(prompt):
                if self.kling_shape == "native":
                    return Json(200, {"code": 1301, "message": refusal, "data": None})
                return Json(200, {"code": "prompt_rejected", "message": refusal, "data": None})
            task = self._new_video("kling", kind, prompt, body)
            if self.kling_shape == "native":
                return Json(200, self._kling_native(task, "submitted"))
            model = body.get("model_name") or "kling-v1"
            video = {"id": task.id, "task_id": task.id, "object": "video", "model": model}
            return Json(
                200, {**video, "status": "queued", "progress": 0, "created_at": task.created}
            )

        return self._answer(request, rid, make)

    def _kling_view(self, task: FakeVideoTask) -> dict[str, Any]:
        state, progress = self._advance(task)
        native = self._kling_native(task, state)
        if self.kling_shape == "native":
            return native
        return {
            "code": "success",
            "message": "",
            "data": self._wrapper(task, state, progress, native),
        }

    def _wrapper(
        self, task: FakeVideoTask, state: str, progress: str, raw: dict[str, Any]
    ) -> dict[str, Any]:
        """new-api's task DTO around the upstream's own answer."""
        status = NEW_API_STATUS[state]
        done = status in ("SUCCESS", "FAILURE")
        return {
            "task_id": task.id,
            "action": "textGenerate" if task.kind == "text2video" else "generate",
            "status": status,
            "progress": progress
            if progress.endswith("%")
            else f"{int(float(progress or 0) * 100)}%",
            "fail_reason": task.fail_reason if status == "FAILURE" else "",
            "submit_time": task.created,
            "start_time": task.created + 2 if status != "SUBMITTED" else 0,
            "finish_time": task.created + 60 if done else 0,
            "data": raw,
        }

    async def _kling_fetch(self, request: web.Request) -> web.StreamResponse:
        return await self._fetch(request, lambda t: Json(200, self._kling_view(t)))

    # -- Runway ------------------------------------------------------------------------------

    async def _runway_submit(self, request: web.Request) -> web.StreamResponse:
        rid, body = await self._record(request)
        body = body if isinstance(body, dict) else {}
        version = request.headers.get("X-Runway-Version", "")

        def make() -> Json:
            if self.runway_require_version and version != RUNWAY_VERSION:
                return task_error(400, "invalid_request", "X-Runway-Version header is required")
            if not body.get("promptImage") or not body.get("model"):
                return task_error(400, "invalid_request", "promptImage and model are required")
            allowed = RUNWAY_RATIOS.get(str(body["model"]), ())
            if allowed and body.get("ratio") not in allowed:  # what Runway's API answers
                return task_error(400, "invalid_request", f"ratio must be one of {allowed}")
            prompt = str(body.get("promptText") or "")
            if refusal := self._refusal(prompt):
                return Json(200, {"code": "prompt_rejected", "message": refusal, "data": None})
            task = self._new_video("runway", "image_to_video", prompt, body)
            task.runway_version = version
            return Json(200, {"id": task.id})

        return self._answer(request, rid, make)

    def _runway_view(self, task: FakeVideoTask) -> Json:
        if task.missing > 0:  # just created: the relay does not know it yet
            task.missing -= 1
            return task_error(400, "task_not_exist", "task_not_exist")
        state, progress = self._advance(task)
        raw: dict[str, Any] = {"id": task.id, "status": state, "createdAt": task.created}
        if state == "RUNNING":
            raw["progress"] = float(progress)
        if state == "SUCCEEDED":
            raw["output"] = [task.video_url]
        if state == "FAILED":
            raw |= {"failure": task.fail_reason, "failureCode": "SAFETY.INPUT.TEXT"}
        if self.runway_shape == "raw":
            return Json(200, raw)
        wrapped = self._wrapper(task, state, progress, raw)
        return Json(200, {"code": "success", "message": "", "data": wrapped})

    async def _runway_fetch(self, request: web.Request) -> web.StreamResponse:
        return await self._fetch(request, self._runway_view)
