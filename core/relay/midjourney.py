"""Midjourney through the relay (midjourney-proxy "plus" format): submit, buttons, polling."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from core.errors import (
    MjBannedPromptError,
    MjQueueFullError,
    MjRejectedError,
    MjSubmitError,
    RelayBadResponseError,
)
from core.relay.client import RelayClient

__all__ = [
    "MJ_MODES",
    "MJ_STATUSES",
    "MjButton",
    "MjTask",
    "MidjourneyClient",
    "mode_base",
    "parse_task",
    "split_prompts",
]

MJ_STATUSES = frozenset(
    {"", "NOT_START", "SUBMITTED", "MODAL", "IN_PROGRESS", "FAILURE", "SUCCESS", "CANCEL"}
)
ACCEPTED_CODES = frozenset({1, 21, 22})  # submitted, already exists, queued (relay-api §10.2)
MJ_MODES = ("fast", "relax", "turbo")  # speed modes of the relay's /mj-<mode>/mj prefix
BLEND_DIMENSIONS = frozenset({"PORTRAIT", "SQUARE", "LANDSCAPE"})
_NUMBER_RE = re.compile(r"[1-9]\ufe0f?\u20e3")  # keycap digits 1️⃣ … 4️⃣ (with or without FE0F)
_PROGRESS_RE = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class MjButton:
    """A button of a finished task; press it with ``MidjourneyClient.action(task, custom_id)``."""

    custom_id: str
    label: str = ""
    emoji: str = ""


@dataclass(frozen=True, slots=True)
class MjTask:
    """A task as fetched. ``status`` is one of ``MJ_STATUSES`` ("" = just submitted, pending)."""

    id: str
    status: str
    progress: int = 0
    image_url: str | None = None
    fail_reason: str = ""
    buttons: tuple[MjButton, ...] = ()
    prompt: str = ""
    action: str = ""
    description_prompts: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        """True once polling can stop: SUCCESS, FAILURE or CANCEL (MODAL needs a modal submit)."""
        return self.status in ("SUCCESS", "FAILURE", "CANCEL")


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
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


def split_prompts(text: str) -> tuple[str, ...]:
    """The numbered prompts of a describe result ("1️⃣ a … 2️⃣ b …" -> ("a …", "b …"))."""
    marks = list(_NUMBER_RE.finditer(text))
    if not marks:
        return ()
    ends = [m.start() for m in marks[1:]] + [len(text)]
    parts = (text[m.end() : end].strip() for m, end in zip(marks, ends, strict=True))
    return tuple(p for p in parts if p)


def _describe_prompts(raw: dict[str, Any], status: str) -> tuple[str, ...]:
    props = raw.get("properties")
    final = _str(props.get("finalPrompt")) if isinstance(props, dict) else ""
    candidates = [final, _str(raw.get("prompt")), _str(raw.get("description"))]
    for text in candidates:
        prompts = split_prompts(text)
        if prompts:
            return prompts
    if status == "SUCCESS":  # an upstream that does not number them: one prompt
        whole = next((c.strip() for c in candidates[:2] if c.strip()), "")
        return (whole,) if whole else ()
    return ()


def _buttons(raw: Any) -> tuple[MjButton, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        MjButton(_str(b["customId"]), _str(b.get("label")), _str(b.get("emoji")))
        for b in raw
        if isinstance(b, dict) and _str(b.get("customId"))
    )


def parse_task(raw: Any) -> MjTask | None:
    """A task object of §10.3 read defensively; None when it has no id."""
    if not isinstance(raw, dict) or not _str(raw.get("id")):
        return None
    status = _str(raw.get("status")).strip().upper()
    status = status if status in MJ_STATUSES else ""
    action = _str(raw.get("action")).strip().upper()
    return MjTask(
        id=_str(raw["id"]),
        status=status,
        progress=100 if status == "SUCCESS" else _progress(raw.get("progress")),
        image_url=_str(raw.get("imageUrl")).strip() or None,
        fail_reason=_str(raw.get("failReason")).strip(),
        buttons=_buttons(raw.get("buttons")),
        prompt=_str(raw.get("prompt")),
        action=action,
        description_prompts=_describe_prompts(raw, status) if action == "DESCRIBE" else (),
    )


def _submit_error(data: dict[str, Any], code: int, request_id: str) -> MjSubmitError:
    detail = f"code {code}: {_str(data.get('description')) or '-'}"
    props = data.get("properties")
    if isinstance(props, dict) and _str(props.get("bannedWord")):
        detail += f" (banned word: {_str(props['bannedWord'])})"
    cls: type[MjSubmitError] = {24: MjBannedPromptError, 23: MjQueueFullError}.get(
        code, MjRejectedError
    )
    return cls(detail, mj_code=code, status=200, request_id=request_id)


def mode_base(mode: str) -> str:
    """The route prefix of a speed mode (relay-api §10.1): "" -> "/mj", "fast" -> "/mj-fast/mj".

    The configured word (``jobs.mj_mode``: fast, relax, turbo) and the route segment itself
    ("mj-fast", "/mj-fast") both work. Anything else is a ValueError."""
    word = mode.strip().strip("/").lower().removeprefix("mj-")
    if not word:
        return "/mj"
    if word not in MJ_MODES:
        raise ValueError(f"unknown Midjourney mode {mode!r} (use one of {', '.join(MJ_MODES)})")
    return f"/mj-{word}/mj"


class MidjourneyClient:
    """The ``/mj`` routes of one relay; ``mode_prefix`` "fast", "relax" or "turbo" (also
    written "mj-fast" or "/mj-fast") sends them under ``/mj-fast/mj/...`` and so on.

    Submits are paid and never retried once sent. Poll ``fetch``/``fetch_many`` every ~5 s.
    """

    def __init__(self, relay: RelayClient, *, mode_prefix: str = "") -> None:
        self._relay = relay
        self._base = mode_base(mode_prefix)

    async def _submit(self, route: str, body: dict[str, Any]) -> str:
        data, request_id = await self._relay.request_json(
            "POST", f"{self._base}/submit/{route}", body, retry=False
        )
        if not isinstance(data, dict):
            raise RelayBadResponseError(
                f"MJ submit/{route} answer is not an object", status=200, request_id=request_id
            )
        raw_code = data.get("code")
        code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else -1
        if isinstance(raw_code, str) and raw_code.strip().isdigit():
            code = int(raw_code)
        if code not in ACCEPTED_CODES:
            raise _submit_error(data, code, request_id)
        task_id = _str(data.get("result")).strip()
        if not task_id:
            raise RelayBadResponseError(
                f"MJ submit/{route} accepted (code {code}) without a task id",
                status=200,
                request_id=request_id,
            )
        return task_id

    async def imagine(self, prompt: str, *, images: Sequence[str] = ()) -> str:
        """Start a 2×2 grid; ``images`` are data URIs used as image prompts. Returns the task id."""
        body: dict[str, Any] = {"prompt": prompt}
        if images:
            body["base64Array"] = list(images)
        return await self._submit("imagine", body)

    async def action(self, task_id: str, custom_id: str) -> str:
        """Press a button (U1, V2, 🔄, Zoom Out 2x …) of a finished task; returns the new id."""
        return await self._submit("action", {"customId": custom_id, "taskId": task_id})

    async def describe(self, image_data_uri: str) -> str:
        """Ask for four prompts describing an image (a data URI). Returns the task id."""
        return await self._submit("describe", {"base64": image_data_uri})

    async def blend(self, images: Sequence[str], dimensions: str = "SQUARE") -> str:
        """Blend 2–5 images (data URIs); ``dimensions`` PORTRAIT, SQUARE or LANDSCAPE."""
        if not 2 <= len(images) <= 5:
            raise ValueError(f"blend needs 2 to 5 images, got {len(images)}")
        dims = dimensions.strip().upper()
        if dims not in BLEND_DIMENSIONS:
            raise ValueError(f"unknown blend dimensions {dimensions!r}")
        return await self._submit("blend", {"base64Array": list(images), "dimensions": dims})

    async def fetch(self, task_id: str) -> MjTask:
        """``GET /mj/task/{id}/fetch``."""
        path = f"{self._base}/task/{quote(task_id, safe='')}/fetch"
        data, request_id = await self._relay.request_json("GET", path)
        task = parse_task(data)
        if task is None:
            raise RelayBadResponseError(
                "MJ task answer without an id", status=200, request_id=request_id
            )
        return task

    async def fetch_many(self, ids: Sequence[str]) -> list[MjTask]:
        """``POST /mj/task/list-by-condition``: the known ones of ``ids`` (any order)."""
        if not ids:
            return []
        data, request_id = await self._relay.request_json(
            "POST", f"{self._base}/task/list-by-condition", {"ids": list(ids)}
        )
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            data = data["data"]
        if not isinstance(data, list):
            raise RelayBadResponseError(
                "MJ task list is not an array", status=200, request_id=request_id
            )
        return [task for task in map(parse_task, data) if task is not None]
