"""FakeRelay's Suno routes: music and lyrics submits, tasks that advance per fetch, clip media."""

from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fake_relay_media import png
from tests.fake_relay_scripts import Json, Raw

__all__ = ["FakeSunoTask", "SunoRoutes", "mp3", "suno_error"]

# (task status, progress, clip status) on the 1st, 2nd, ... fetch; it stays on the last one.
MUSIC_STAGES = [
    ("NOT_START", "0%", ""),
    ("SUBMITTED", "0%", "submitted"),
    ("IN_PROGRESS", "30%", "streaming"),
    ("SUCCESS", "100%", "complete"),
]
FAIL = ("FAILURE", "100%", "error")
# A clip fails: the gateway shows it one fetch late (still IN_PROGRESS), then FAILURE.
FAIL_STAGES = [*MUSIC_STAGES[:3], ("IN_PROGRESS", "60%", "error"), FAIL]
LYRICS_STAGES = [("NOT_START", "0%", ""), ("SUCCESS", "100%", "complete")]
DURATIONS = (123.48, 98.2)


def suno_error(code: str, message: str, status: int = 500) -> Json:
    """new-api's task error (relay-api §2.1 shape 4); 500 is how it passes an upstream refusal."""
    return Json(status, {"code": code, "message": message, "data": None})


def mp3(seed: str) -> bytes:
    """A small MP3-looking file: an ID3v2 header, then MPEG frame sync bytes."""
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + seed.encode() * 8


def _uuid(seed: str) -> str:
    h = hashlib.md5(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


@dataclass
class FakeSunoTask:
    """A task of the fake; ``body`` is the submit body, ``fetches`` counts fetches (one stage
    each, or ``suno_steps_per_state``)."""

    id: str
    action: str  # MUSIC or LYRICS
    body: dict[str, Any]
    fail_message: str = ""  # non-empty: one clip ends in "error" with this message
    fetches: int = 0
    submit_time: int = field(default_factory=lambda: int(time.time()))

    def clip_ids(self) -> list[str]:
        return [_uuid(f"{self.id}/{n}") for n in range(2)]

    def stage(self, steps: int) -> tuple[str, str, str]:
        if self.action == "LYRICS":
            stages = LYRICS_STAGES if not self.fail_message else [*LYRICS_STAGES[:1], FAIL]
        else:
            stages = FAIL_STAGES if self.fail_message else MUSIC_STAGES
        return stages[min(self.fetches // max(1, steps), len(stages) - 1)]

    def _song(self) -> tuple[str, str, str]:
        """(title, tags, lyrics) as Suno would make them from the body."""
        body = self.body
        idea = str(body.get("gpt_description_prompt") or "")
        title = str(body.get("title") or "") or (f"Song of {' '.join(idea.split()[:3])}".strip())
        tags = str(body.get("tags") or "") or "upbeat pop, female vocals"
        lyrics = str(body.get("prompt") or "") or f"[Verse]\n{idea}\n[Chorus]\nla la la"
        return title, tags, "" if body.get("make_instrumental") else lyrics

    def clip(self, base_url: str, n: int, clip_status: str) -> dict[str, Any]:
        clip_id = self.clip_ids()[n]
        title, tags, lyrics = self._song()
        done = clip_status == "complete" or (clip_status == "error" and n == 1)
        failed = clip_status == "error" and n == 0
        cdn = f"{base_url}/suno-cdn"
        audio = f"{cdn}/{clip_id}.mp3" if done else ""
        if clip_status == "streaming":
            audio = f"{cdn}/{clip_id}.mp3?stream=1"
        return {
            "id": clip_id,
            "title": title,
            "status": "complete" if done else clip_status,
            "audio_url": audio,
            "video_url": f"{cdn}/{clip_id}.mp4" if done else "",
            "image_url": f"{cdn}/image_{clip_id}.png" if audio else "",
            "image_large_url": f"{cdn}/image_large_{clip_id}.png" if audio else "",
            "is_video_pending": not done,
            "major_model_version": "v4",
            "model_name": "chirp-v4",
            "metadata": {
                "tags": tags,
                "prompt": lyrics,
                "gpt_description_prompt": self.body.get("gpt_description_prompt"),
                "type": "concat" if self.body.get("continue_clip_id") else "gen",
                "duration": DURATIONS[n] if done else None,
                "error_type": "content_policy" if failed else None,
                "error_message": self.fail_message if failed else None,
                "stream": True,
            },
            "created_at": "2025-01-01T12:00:00.000Z",
            "play_count": 0,
            "is_public": False,
        }

    def view(self, base_url: str, steps: int) -> dict[str, Any]:
        """The §11.3 TaskDto for the current stage."""
        status, progress, clip_status = self.stage(steps)
        data: Any = None
        if self.action == "LYRICS" and status == "SUCCESS":
            prompt = str(self.body.get("prompt") or "")
            text = f"[Verse]\n{prompt}\n\n[Chorus]\nOh {prompt}, oh {prompt}"
            title = prompt.title()
            data = {"id": _uuid(self.id), "text": text, "title": title, "status": "complete"}
        elif self.action == "MUSIC":
            data = [self.clip(base_url, n, clip_status) for n in range(2)] if clip_status else []
        started = status not in ("NOT_START", "SUBMITTED")
        return {
            "task_id": self.id,
            "action": self.action,
            "status": status,
            "fail_reason": self.fail_message if status == "FAILURE" else "",
            "submit_time": self.submit_time,
            "start_time": self.submit_time + 2 if started else 0,
            "finish_time": self.submit_time + 90 if status in ("SUCCESS", "FAILURE") else 0,
            "progress": progress,
            "data": data,
        }



class SunoRoutes:
    """Mixin of FakeRelay: ``/suno/submit/{music,lyrics}``, ``/suno/fetch``, clip media at
    ``/suno-cdn/<file>``. Switches:

    - ``suno_fail(prompt_contains=..., message=...)``: music tasks whose description, prompt,
      title or tags contain the text end with one clip in "error" (``metadata.error_message``
      = message), shown IN_PROGRESS for one fetch and then FAILURE; lyrics tasks just FAILURE.
    - ``suno_steps_per_state``: fetches per stage (default 1: each fetch advances one stage).
    - ``suno_tasks`` (id -> FakeSunoTask, with the submit ``body``) and ``suno_fetches``.
    - Scripted answers (``enqueue``, e.g. ``suno_error(...)``) replace any of these answers.
    """

    url: str
    if TYPE_CHECKING:  # provided by FakeRelay
        async def _record(self, request: web.Request) -> tuple[str, Any]: ...
        def _scripted(self, request: web.Request) -> Any: ...
        def _plain(self, rid: str, script: Json | Raw) -> web.Response: ...

    def _init_suno(self) -> None:
        self.suno_tasks: dict[str, FakeSunoTask] = {}
        self.suno_steps_per_state = 1
        self.suno_fetches = 0
        self._suno_failures: list[tuple[str, str]] = []
        self._suno_ids = itertools.count(1)

    def suno_fail(self, *, prompt_contains: str, message: str = "Unable to generate") -> None:
        self._suno_failures.append((prompt_contains, message))

    def _add_suno_routes(self, app: web.Application) -> None:
        app.router.add_post("/suno/submit/{action}", self._suno_submit)
        app.router.add_get("/suno/fetch/{id}", self._suno_fetch)
        app.router.add_post("/suno/fetch", self._suno_fetch_many)
        app.router.add_get("/suno-cdn/{name}", self._suno_media)

    def _suno_view(self, task: FakeSunoTask) -> dict[str, Any]:
        view = task.view(self.url, self.suno_steps_per_state)
        task.fetches += 1
        self.suno_fetches += 1
        return view

    def _suno_new(self, action: str, body: dict[str, Any]) -> FakeSunoTask | Json:
        """The task a valid submit creates, or new-api's 400 (relay-api §11.1–11.2)."""
        if action not in ("music", "lyrics"):
            return suno_error("invalid_request", "invalid_action", 400)
        if action == "lyrics" and not str(body.get("prompt") or ""):
            return suno_error("invalid_request", "prompt_empty", 400)
        if body.get("continue_clip_id"):
            origin = str(body.get("task_id") or "")
            if not origin:
                return suno_error("invalid_request", "task id is empty", 400)
            if origin not in self.suno_tasks:
                return suno_error("task_origin_not_exist", "task_origin_not_exist", 400)
        task_id = _uuid(f"suno-task-{next(self._suno_ids)}")
        task = FakeSunoTask(task_id, action.upper(), body)
        searched = " ".join(
            str(body.get(k) or "") for k in ("gpt_description_prompt", "prompt", "title", "tags")
        )
        for text, message in self._suno_failures:
            if text and text in searched:
                task.fail_message = message
        return task

    async def _suno_submit(self, request: web.Request) -> web.StreamResponse:
        rid, body = await self._record(request)
        script = self._scripted(request)
        if script is None:
            body = body if isinstance(body, dict) else {}
            task = self._suno_new(request.match_info["action"], body)
            if isinstance(task, Json):
                script = task
            else:
                self.suno_tasks[task.id] = task
                script = Json(200, {"code": "success", "message": "", "data": task.id})
        return self._plain(rid, script)

    async def _suno_fetch(self, request: web.Request) -> web.StreamResponse:
        rid, _ = await self._record(request)
        script = self._scripted(request)
        if script is None:
            task = self.suno_tasks.get(request.match_info["id"])
            if task is None:
                script = suno_error("task_not_exist", "task_not_exist", 400)
            else:
                view = self._suno_view(task)
                script = Json(200, {"code": "success", "message": "", "data": view})
        return self._plain(rid, script)

    async def _suno_fetch_many(self, request: web.Request) -> web.StreamResponse:
        rid, body = await self._record(request)
        script = self._scripted(request)
        if script is None:
            ids = body.get("ids") if isinstance(body, dict) else None
            found = [self.suno_tasks[i] for i in ids or [] if i in self.suno_tasks]
            views = [self._suno_view(task) for task in found]
            script = Json(200, {"code": "success", "message": "", "data": views})
        return self._plain(rid, script)

    async def _suno_media(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        name = request.match_info["name"]
        stem, _, ext = name.rpartition(".")
        clip_id = stem.removeprefix("image_large_").removeprefix("image_")
        if not any(clip_id in t.clip_ids() for t in self.suno_tasks.values()):
            return web.Response(status=404, text="404 page not found")
        if ext == "mp3":
            return web.Response(body=mp3(clip_id), content_type="audio/mpeg")
        if ext == "png":
            seed = int(hashlib.md5(clip_id.encode()).hexdigest()[:2], 16)
            return web.Response(body=png(8, 8, (seed, 120, 255 - seed)), content_type="image/png")
        if ext == "mp4":
            body = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + clip_id.encode()
            return web.Response(body=body, content_type="video/mp4")
        return web.Response(status=404, text="404 page not found")
