"""Suno music through the relay (relay-api §11): submit songs and lyrics, fetch and poll tasks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from core.errors import (
    FeatureUnavailableError,
    RelayBadRequestError,
    RelayBadResponseError,
    RelayUpstreamError,
    SunoSubmitError,
)
from core.relay.client import RelayClient

__all__ = ["SUNO_STATUSES", "SunoClient", "SunoClip", "SunoTask", "parse_task"]

SUNO_STATUSES = frozenset(
    {"", "NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS", "FAILURE", "UNKNOWN"}
)
_ALIASES = {"QUEUEING": "QUEUED", "COMPLETE": "SUCCESS", "SUCCEEDED": "SUCCESS"}  # other builds
_ALIASES |= {"FAILED": "FAILURE", "ERROR": "FAILURE"}
_ALIASES |= dict.fromkeys(("PROCESSING", "RUNNING", "STREAMING"), "IN_PROGRESS")
_PENDING = frozenset({"", "NOT_START", "SUBMITTED", "QUEUED"})
_CLIP_DONE = frozenset({"complete", "succeeded", "success"})
_PROGRESS_RE = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class SunoClip:
    """One song of a music task; ``status`` is the clip's own (submitted … complete | error)."""

    id: str
    title: str
    status: str
    audio_url: str
    image_url: str
    video_url: str
    tags: str
    lyrics: str
    duration: float | None
    error: str


@dataclass(frozen=True, slots=True)
class SunoTask:
    """A task as fetched. ``status`` is one of ``SUNO_STATUSES`` ("" = just submitted)."""

    id: str
    status: str
    progress: int
    fail_reason: str
    action: str  # "MUSIC" or "LYRICS"
    clips: tuple[SunoClip, ...] = ()
    lyrics_title: str = ""
    lyrics_text: str = ""

    @property
    def done(self) -> bool:
        """True once polling can stop: SUCCESS, FAILURE or UNKNOWN (relay-api §15.3)."""
        return self.status in ("SUCCESS", "FAILURE", "UNKNOWN")


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _progress(value: Any) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = int(value)
    else:
        found = _PROGRESS_RE.search(_str(value))
        number = int(found.group()) if found else 0
    return max(0, min(100, number))


def _duration(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if value > 0 else None
    try:
        number = float(_str(value))
    except ValueError:
        return None
    return number if number > 0 else None


def _status(value: Any) -> str:
    status = _str(value).upper().replace("-", "_").replace(" ", "_")
    status = _ALIASES.get(status, status)
    return status if status in SUNO_STATUSES else ""  # unknown words: still pending


def _clip(raw: dict[str, Any]) -> SunoClip:
    meta = raw.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    status = (_str(raw.get("status")) or _str(raw.get("state"))).lower()
    error = _str(meta.get("error_message")) or _str(raw.get("error_message"))
    if status == "error" and not error:
        error = _str(meta.get("error_type")) or "error"
    return SunoClip(
        id=_str(raw.get("id")),
        title=_str(raw.get("title")),
        status=status,
        audio_url=_str(raw.get("audio_url")),
        image_url=_str(raw.get("image_url")) or _str(raw.get("image_large_url")),
        video_url=_str(raw.get("video_url")),
        tags=_str(meta.get("tags")) or _str(raw.get("tags")),
        lyrics=_str(meta.get("prompt")) or _str(raw.get("lyric")),
        duration=_duration(meta.get("duration") or raw.get("duration")),
        error=error,
    )


def _lyrics(data: Any) -> dict[str, Any] | None:
    if isinstance(data, list):
        data = next((d for d in data if isinstance(d, dict)), None)
    return data if isinstance(data, dict) and "text" in data else None


def parse_task(raw: Any) -> SunoTask | None:
    """A TaskDto of §11.3 read defensively, with the clip-level status mapping; None without id.

    A clip in ``error`` makes the task FAILURE (reason: the clip's ``error_message``); all clips
    complete make it SUCCESS and a streaming clip IN_PROGRESS, even while the gateway lags.
    """
    if not isinstance(raw, dict):
        return None
    task_id = _str(raw.get("task_id")) or _str(raw.get("id"))
    if not task_id:
        return None
    status, data = _status(raw.get("status")), raw.get("data")
    fail_reason = _str(raw.get("fail_reason")) or _str(raw.get("failReason"))
    lyrics = _lyrics(data)
    action = _str(raw.get("action")).upper() or ("LYRICS" if lyrics is not None else "MUSIC")
    clips: tuple[SunoClip, ...] = ()
    title = text = ""
    if action == "LYRICS":
        if lyrics is not None:
            title, text = _str(lyrics.get("title")), _str(lyrics.get("text"))
            lyrics_status = _str(lyrics.get("status")).lower()
            if lyrics_status == "error":
                status = "FAILURE"
                fail_reason = fail_reason or _str(lyrics.get("error_message")) or "error"
            elif lyrics_status in _CLIP_DONE and text and status not in ("FAILURE", "UNKNOWN"):
                status = "SUCCESS"
    else:
        items = data if isinstance(data, list) else []
        clips = tuple(_clip(c) for c in items if isinstance(c, dict) and _str(c.get("id")))
        failed = next((c for c in clips if c.status == "error"), None)
        if failed is not None:
            status, fail_reason = "FAILURE", failed.error or fail_reason
        elif status in ("FAILURE", "UNKNOWN"):
            pass
        elif clips and all(c.status in _CLIP_DONE for c in clips):
            status = "SUCCESS"
        elif status in _PENDING and any(c.status == "streaming" for c in clips):
            status = "IN_PROGRESS"
    progress = 100 if status == "SUCCESS" else _progress(raw.get("progress"))
    return SunoTask(task_id, status, progress, fail_reason, action, clips, title, text)


def _given(value: str | None) -> bool:
    return value is not None and bool(value.strip())


def music_body(
    *,
    description: str | None,
    prompt: str | None,
    title: str | None,
    tags: str | None,
    mv: str,
    instrumental: bool,
    continue_clip_id: str | None,
    continue_at: float | None,
    task_id: str | None,
) -> dict[str, Any]:
    """The §11.2 body of one mode: inspiration, custom, or continue; ValueError if mixed up."""
    custom = {"prompt": prompt, "title": title, "tags": tags}
    body: dict[str, Any] = {}
    if _given(description):
        if any(_given(v) for v in custom.values()) or _given(continue_clip_id):
            raise ValueError("description (inspiration mode) excludes prompt/title/tags/continue")
        body["gpt_description_prompt"] = description
    else:
        body = {k: v for k, v in custom.items() if _given(v)}
        if not body and not _given(continue_clip_id):
            raise ValueError("Suno music needs a description, or a prompt, title or tags")
    body |= {"mv": mv, "make_instrumental": instrumental}
    if _given(continue_clip_id):
        if not _given(task_id):
            raise ValueError("continuing a clip needs the task_id of its task (relay-api §11.2)")
        body |= {"continue_clip_id": continue_clip_id, "task_id": task_id}
        if continue_at is not None:
            body["continue_at"] = continue_at
    elif continue_at is not None or _given(task_id):
        raise ValueError("continue_at and task_id go with continue_clip_id")
    return body


class SunoClient:
    """The ``/suno`` routes of one relay. Submits are paid and never retried once sent; poll
    ``fetch``/``fetch_many`` every 5–10 s until ``task.done`` (about 6 min at most)."""

    def __init__(self, relay: RelayClient) -> None:
        self._relay = relay

    async def _submit(self, action: str, body: dict[str, Any]) -> str:
        path = f"/suno/submit/{action}"
        try:
            data, request_id = await self._relay.request_json("POST", path, body, retry=False)
        except RelayBadRequestError as exc:  # §11.3 error body: 400 gateway validation
            if exc.status in (404, 501):
                raise FeatureUnavailableError(feature="Suno") from exc
            raise SunoSubmitError(exc.detail, status=exc.status, request_id=exc.request_id) from exc
        except RelayUpstreamError as exc:  # new-api answers an upstream refusal with a 500
            if exc.status != 500:
                raise
            raise SunoSubmitError(exc.detail, status=500, request_id=exc.request_id) from exc
        if not isinstance(data, dict):
            raise RelayBadResponseError(
                f"Suno submit/{action} answer is not an object", status=200, request_id=request_id
            )
        code = _str(data.get("code"))
        if code.lower() != "success":
            detail = f"code {code or '-'}: {_str(data.get('message')) or '-'}"
            raise SunoSubmitError(detail, suno_code=code, status=200, request_id=request_id)
        task_id = _str(data.get("data"))
        if not task_id:
            detail = f"Suno submit/{action} succeeded without a task id"
            raise RelayBadResponseError(detail, status=200, request_id=request_id)
        return task_id

    async def music(
        self,
        *,
        description: str | None = None,
        prompt: str | None = None,
        title: str | None = None,
        tags: str | None = None,
        mv: str,
        instrumental: bool = False,
        continue_clip_id: str | None = None,
        continue_at: float | None = None,
        task_id: str | None = None,
    ) -> str:
        """Start two clips; returns the task id.

        Inspiration mode: ``description``. Custom mode: ``prompt`` (lyrics), ``title``, ``tags``.
        Continue: ``continue_clip_id`` + ``continue_at`` (s) + ``task_id`` of the clip's task.
        """
        body = music_body(
            description=description,
            prompt=prompt,
            title=title,
            tags=tags,
            mv=mv,
            instrumental=instrumental,
            continue_clip_id=continue_clip_id,
            continue_at=continue_at,
            task_id=task_id,
        )
        return await self._submit("music", body)

    async def lyrics(self, prompt: str) -> str:
        """Write lyrics (title and text) from ``prompt``; returns the task id."""
        if not prompt.strip():
            raise ValueError("Suno lyrics need a prompt")
        return await self._submit("lyrics", {"prompt": prompt})

    @staticmethod
    def _unwrap(data: Any, request_id: str) -> Any:
        """``data`` of the ``{"code": "success", "data": ...}`` envelope (or a bare answer)."""
        if not (isinstance(data, dict) and "data" in data and "code" in data):
            return data
        code = _str(data.get("code"))
        if code.lower() != "success":
            detail = f"Suno fetch answered code {code or '-'}: {_str(data.get('message')) or '-'}"
            raise RelayBadResponseError(detail, status=200, request_id=request_id)
        return data["data"]

    async def fetch(self, task_id: str) -> SunoTask:
        """``GET /suno/fetch/{id}``."""
        path = f"/suno/fetch/{quote(task_id, safe='')}"
        data, request_id = await self._relay.request_json("GET", path)
        task = parse_task(self._unwrap(data, request_id))
        if task is None:
            detail = "Suno task answer without a task id"
            raise RelayBadResponseError(detail, status=200, request_id=request_id)
        return task

    async def fetch_many(self, ids: Sequence[str]) -> list[SunoTask]:
        """``POST /suno/fetch``: the known ones of ``ids`` (any order)."""
        if not ids:
            return []
        data, request_id = await self._relay.request_json("POST", "/suno/fetch", {"ids": list(ids)})
        items = self._unwrap(data, request_id)
        if not isinstance(items, list):
            raise RelayBadResponseError(
                "Suno task list is not an array", status=200, request_id=request_id
            )
        return [task for task in map(parse_task, items) if task is not None]
