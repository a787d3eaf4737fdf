"""Luma, Kling and Runway video tasks through the relay, all read into one ``VideoTask``."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from core.errors import RelayBadRequestError, RelayBadResponseError, VideoSubmitError
from core.relay.client import RelayClient

__all__ = [
    "RUNWAY_RATIOS",
    "KlingClient",
    "KlingKind",
    "LumaClient",
    "RunwayClient",
    "VideoStatus",
    "VideoTask",
    "runway_ratio",
]

VideoStatus = Literal["queued", "running", "done", "failed"]
KlingKind = Literal["text2video", "image2video"]
RUNWAY_VERSION = "2024-11-06"  # X-Runway-Version (relay-api §14.1)
# The ratios Runway takes per model family (relay-api §14.1): landscape default first, then the
# portrait one; ``ratio`` is required on every submit.
RUNWAY_RATIOS: dict[str, tuple[str, ...]] = {
    "gen3a": ("1280:768", "768:1280"),
    "gen4": ("1280:720", "720:1280", "960:960", "1104:832", "832:1104", "1584:672"),
}
NOT_EXIST_GRACE_S = 60.0  # a Runway task this young may still answer task_not_exist (§14.1)

# Backend status words, lower-cased: Luma, Kling native, Runway, new-api's task wrapper and its
# OpenAI-video object. Any other word counts as "running" (keep polling; the poller has a cap).
_STATES: dict[str, VideoStatus] = {
    **dict.fromkeys(("", "pending", "queued", "submitted", "not_start", "throttled"), "queued"),
    **dict.fromkeys(("processing", "in_progress", "running"), "running"),
    **dict.fromkeys(("completed", "succeed", "succeeded", "success"), "done"),
    **dict.fromkeys(("failed", "failure", "cancelled", "canceled", "cancel"), "failed"),
}
_OK_CODES = frozenset({"", "0", "200", "success", "ok"})
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_NOT_EXIST_RE = re.compile(r"not[_ ]exist|不存在", re.IGNORECASE)  # Runway's task_not_exist


@dataclass(frozen=True, slots=True)
class VideoTask:
    """A video task as fetched. ``video_url`` is set exactly when ``status`` is "done";
    ``fail_reason`` only when "failed"; ``raw_state`` is the backend's own status word."""

    id: str
    status: VideoStatus
    progress: int = 0
    video_url: str = ""
    thumbnail_url: str = ""
    fail_reason: str = ""
    raw_state: str = ""

    @property
    def finished(self) -> bool:
        """True once polling can stop ("done" or "failed")."""
        return self.status in ("done", "failed")


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first(*values: Any) -> str:
    return next((s for s in map(_str, values) if s), "")


def _url(value: Any) -> str:
    """A URL given as a string or as an object with ``url``."""
    return _str(value) if isinstance(value, str) else _str(_dict(value).get("url"))


def _percent(value: Any, *, fraction: bool = False) -> int:
    """Percent from "30%", "30" or 30; with ``fraction`` (Runway's 0–1) 0.4 is 40 too."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value) * 100 if fraction and value <= 1 else float(value)
    else:
        found = _NUMBER_RE.search(_str(value))
        number = float(found.group()) if found else 0.0
    return max(0, min(100, int(number)))


def _refusal(data: dict[str, Any]) -> str:
    """The refusal ``code`` of a 2xx body (Kling ≠ 0, wrapper ≠ "success") with its message."""
    code = data.get("code")
    if code is None or (not isinstance(code, bool) and _str(code).lower() in _OK_CODES):
        return ""
    return f"code {code}: {_first(data.get('message'), data.get('msg')) or '-'}"


def _first_video(result: Any) -> str:
    videos = _dict(result).get("videos")
    return _url(videos[0]) if isinstance(videos, list) and videos else ""


def _task(
    task_id: str, raw_state: str, progress: int, video: str, thumb: str, reason: str
) -> VideoTask:
    """The normalised task: "done" needs a video URL, else it is still "running" (§12)."""
    status = _STATES.get(raw_state.lower(), "running")
    if status == "done" and not video:
        status, progress = "running", min(progress, 99)
    done, failed = status == "done", status == "failed"
    video, reason = (video if done else ""), (reason if failed else "")
    return VideoTask(task_id, status, 100 if done else progress, video, thumb, reason, raw_state)


def _duration(value: int | str | None, unit: str = "") -> str | None:
    return f"{value}{unit}" if isinstance(value, int) else value


def _body(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class _VideoClient:
    """Submit and fetch shared by the three clients; ``_parse`` reads one backend's task."""

    _headers: dict[str, str] | None = None

    def __init__(self, relay: RelayClient) -> None:
        self._relay = relay

    def _parse(self, data: dict[str, Any], task_id: str) -> VideoTask | None:
        raise NotImplementedError

    async def _submit(self, path: str, body: dict[str, Any]) -> str:
        """POST a paid submit once; its task id, ``VideoSubmitError`` when the answer refuses it."""
        data, request_id = await self._relay.request_json(
            "POST", path, body, retry=False, headers=self._headers
        )
        if not isinstance(data, dict):
            raise RelayBadResponseError(f"{path}: not an object", status=200, request_id=request_id)
        if refusal := _refusal(data):
            raise VideoSubmitError(f"{path}: {refusal}", status=200, request_id=request_id)
        inner = data.get("data")
        if isinstance(inner, str) and inner.strip():  # new-api's {code:"success", data:"<id>"}
            return inner.strip()
        task = self._parse(data, "")
        ids = (d.get(key) for d in (_dict(inner), data) for key in ("task_id", "id"))
        task_id = task.id if task else _first(*ids)
        if not task_id:
            detail = f"{path}: accepted without a task id"
            raise RelayBadResponseError(detail, status=200, request_id=request_id)
        if task is not None and task.status == "failed":
            detail = f"{path}: failed at once: {task.fail_reason or task.raw_state}"
            raise VideoSubmitError(detail, status=200, request_id=request_id)
        return task_id

    async def _fetch(self, path: str, task_id: str) -> VideoTask:
        data, request_id = await self._relay.request_json("GET", path)
        if isinstance(data, dict) and (refusal := _refusal(data)):  # e.g. Kling's code ≠ 0
            return VideoTask(task_id, "failed", fail_reason=refusal, raw_state="refused")
        task = self._parse(data, task_id) if isinstance(data, dict) else None
        if task is None:
            detail = f"{path}: unreadable task"
            raise RelayBadResponseError(detail, status=200, request_id=request_id)
        return task


class LumaClient(_VideoClient):
    """``/luma`` routes (§12); "completed" without a download URL is still "running"."""

    async def generate(
        self,
        prompt: str,
        *,
        aspect_ratio: str | None = None,
        image_url: str | None = None,
        model_name: str | None = None,
        duration: int | str | None = None,
    ) -> str:
        """Start a clip (``image_url``: first frame, URL or data URI); returns the task id."""
        body = {"user_prompt": prompt, "expand_prompt": True}
        body |= _body(aspect_ratio=aspect_ratio, image_url=image_url, model_name=model_name)
        body |= _body(duration=_duration(duration, "s"))
        return await self._submit("/luma/generations", body)

    async def extend(self, task_id: str, prompt: str) -> str:
        """Continue a finished clip; returns the new task id."""
        body = {"user_prompt": prompt, "expand_prompt": True}
        return await self._submit(f"/luma/generations/{quote(task_id, safe='')}/extend", body)

    async def fetch(self, task_id: str) -> VideoTask:
        return await self._fetch(f"/luma/generations/{quote(task_id, safe='')}", task_id)

    def _parse(self, data: dict[str, Any], task_id: str) -> VideoTask | None:
        """A Luma generation, plain or in new-api's task wrapper ``{code, data:{..., data}}``."""
        inner = _dict(data.get("data"))
        luma = next((d for d in (data, inner, _dict(inner.get("data"))) if "state" in d), {})
        if not luma and "task_status" not in inner and "status" not in inner:
            return None
        video = _dict(luma.get("video"))
        return _task(
            _first(luma.get("id"), inner.get("task_id"), data.get("id"), task_id),
            _first(luma.get("state"), inner.get("task_status"), inner.get("status")),
            progress=_percent(inner.get("progress")),
            video=_first(video.get("download_url"), inner.get("result_url")),
            thumb=_url(video.get("thumbnail")) or _url(luma.get("thumbnail")),
            reason=_first(luma.get("failure_reason"), luma.get("fail_reason"))
            or _first(inner.get("fail_reason"), inner.get("failure_reason")),
        )


def _raw_base64(image: str) -> str:
    """Kling wants base64 without a ``data:`` prefix (§13.1); URLs pass unchanged."""
    image = image.strip()
    return image.split(",", 1)[1] if image.startswith("data:") and "," in image else image


class KlingClient(_VideoClient):
    """``/kling/v1/videos`` routes (§13); native and new-api answers alike."""

    async def text2video(
        self,
        prompt: str,
        *,
        model_name: str,
        aspect_ratio: str | None = None,
        duration: int | str | None = None,
        mode: str | None = None,
    ) -> str:
        body = {"model_name": model_name, "prompt": prompt}
        body |= _body(aspect_ratio=aspect_ratio, duration=_duration(duration), mode=mode)
        return await self._submit("/kling/v1/videos/text2video", body)

    async def image2video(
        self, image_b64: str, prompt: str, *, model_name: str, duration: int | str | None = None
    ) -> str:
        """``image_b64``: raw base64 (a data URI's prefix is removed) or a URL."""
        body = {"model_name": model_name, "image": _raw_base64(image_b64)}
        body |= _body(prompt=prompt or None, duration=_duration(duration))
        return await self._submit("/kling/v1/videos/image2video", body)

    async def fetch(self, kind: KlingKind, task_id: str) -> VideoTask:
        if kind not in ("text2video", "image2video"):
            raise ValueError(f"unknown Kling task kind {kind!r}")
        return await self._fetch(f"/kling/v1/videos/{kind}/{quote(task_id, safe='')}", task_id)

    def _parse(self, data: dict[str, Any], task_id: str) -> VideoTask | None:
        """Native ``{code:0, data:{task_status, task_result}}``, new-api's wrapper around that
        (``data.data``), or new-api's video object ``{id, status, metadata:{url}}`` (§13.2)."""
        inner = _dict(data.get("data"))
        raw = _dict(_dict(inner.get("data")).get("data"))  # the wrapper's copy of Kling's answer
        if "task_status" not in inner and "status" not in inner and "status" not in data:
            return None
        return _task(
            _first(inner.get("task_id"), data.get("task_id"), data.get("id"), task_id),
            _first(inner.get("task_status"), inner.get("status"), data.get("status")),
            progress=_percent(inner.get("progress", data.get("progress"))),
            video=_first_video(inner.get("task_result"))
            or _first_video(raw.get("task_result"))
            or _first(_dict(data.get("metadata")).get("url"), inner.get("result_url")),
            thumb="",
            reason=_first(inner.get("fail_reason"), inner.get("task_status_msg"))
            or _first(raw.get("task_status_msg"), _dict(data.get("error")).get("message")),
        )


def _ratio_value(ratio: str) -> float | None:
    width, _, height = ratio.partition(":")
    if not (width.strip().isdigit() and height.strip().isdigit()):
        return None
    w, h = int(width), int(height)
    return w / h if w > 0 and h > 0 else None


def runway_ratio(model: str, aspect: str | None = None, size: tuple[int, int] | None = None) -> str:
    """The ``ratio`` of a Runway submit: the model's ratio closest to ``aspect`` ("16:9", from
    ``--ar``); without one, the portrait default for a portrait picture of ``size`` (width,
    height) and the landscape default otherwise (1280:768 for gen3a_turbo, 1280:720 for
    gen4_turbo and other models)."""
    choices = RUNWAY_RATIOS["gen3a" if "gen3" in model.lower() else "gen4"]
    wanted = _ratio_value(aspect or "")
    if wanted is not None:
        return min(choices, key=lambda c: abs(math.log(wanted) - math.log(_ratio_value(c) or 1.0)))
    portrait = size is not None and size[1] > size[0]
    return choices[1] if portrait else choices[0]


class RunwayClient(_VideoClient):
    """``/runwayml/v1`` routes (§14.1). A task this client submitted less than
    ``not_exist_grace_s`` ago that answers ``task_not_exist`` is reported as "queued"."""

    _headers = {"X-Runway-Version": RUNWAY_VERSION}

    def __init__(
        self,
        relay: RelayClient,
        *,
        not_exist_grace_s: float = NOT_EXIST_GRACE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(relay)
        self._grace_s = not_exist_grace_s
        self._clock = clock
        self._submitted: dict[str, float] = {}

    async def image_to_video(
        self,
        image: str,
        prompt: str,
        *,
        model: str,
        ratio: str | None = None,
        duration: int | None = None,
    ) -> str:
        """``image``: URL or data URI. Returns the task id. ``ratio`` is required by Runway:
        without one, the model's landscape default (``runway_ratio``)."""
        body = {"promptImage": image, "model": model, "ratio": ratio or runway_ratio(model)}
        body |= _body(promptText=prompt or None, duration=duration)
        task_id = await self._submit("/runwayml/v1/image_to_video", body)
        now = self._clock()
        self._submitted = {k: v for k, v in self._submitted.items() if now - v < self._grace_s}
        self._submitted[task_id] = now
        return task_id

    async def fetch(self, task_id: str) -> VideoTask:
        queued = VideoTask(task_id, "queued", raw_state="task_not_exist")
        submitted = self._submitted.get(task_id)
        young = submitted is not None and self._clock() - submitted < self._grace_s
        try:
            task = await self._fetch(f"/runwayml/v1/tasks/{quote(task_id, safe='')}", task_id)
        except RelayBadRequestError as exc:
            if young and _NOT_EXIST_RE.search(exc.detail):
                return queued
            raise
        not_exist = task.status == "failed" and _NOT_EXIST_RE.search(task.fail_reason)
        return queued if young and not_exist else task

    def _parse(self, data: dict[str, Any], task_id: str) -> VideoTask | None:
        """``{id, status, progress: 0–1, output: [url], failure}``, or that wrapped as
        ``{code:"success", data:{task_id, status, progress:"40%", fail_reason, data:{...}}}``."""
        inner = _dict(data.get("data"))
        raw = data if "status" in data else _dict(inner.get("data")) or inner
        if "status" not in raw and "status" not in inner:
            return None
        output = raw.get("output")
        progress = inner["progress"] if "progress" in inner else raw.get("progress")
        return _task(
            _first(raw.get("id"), inner.get("task_id"), inner.get("id"), task_id),
            _first(inner.get("status"), raw.get("status")),
            progress=_percent(progress, fraction=True),
            video=_url(output[0]) if isinstance(output, list) and output else "",
            thumb=_url(raw.get("thumbnail")),
            reason=_first(raw.get("failure"), inner.get("fail_reason"), raw.get("failureCode")),
        )
