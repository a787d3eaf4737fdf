"""The relay's JSON wire format: request bodies out, usage/choices/errors read defensively."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.relay.types import ChatMessage, Usage

__all__ = [
    "chat_body",
    "content_text",
    "error_status",
    "first_choice",
    "normalize_base_url",
    "parse_usage",
]


def normalize_base_url(base_url: str) -> str:
    """The relay root without a trailing "/" or "/v1" (routes are then ``{root}/v1/...``)."""
    root = base_url.strip().rstrip("/")
    if root.lower().endswith("/v1"):
        root = root[:-3].rstrip("/")
    return root


def message_json(msg: ChatMessage) -> dict[str, Any]:
    if not msg.images:
        return {"role": msg.role, "content": msg.content}
    parts: list[dict[str, Any]] = []
    if msg.content:
        parts.append({"type": "text", "text": msg.content})
    parts.extend({"type": "image_url", "image_url": {"url": url}} for url in msg.images)
    return {"role": msg.role, "content": parts}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("completion_tokens_details")
    reasoning = _int(details.get("reasoning_tokens")) if isinstance(details, dict) else 0
    prompt, completion = _int(raw.get("prompt_tokens")), _int(raw.get("completion_tokens"))
    total = _int(raw.get("total_tokens")) or prompt + completion
    return Usage(prompt, completion, total, reasoning)


def first_choice(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    choices = payload.get("choices")
    if not isinstance(choices, list):
        return None
    for choice in choices:
        if isinstance(choice, dict) and choice.get("index", 0) in (0, None):
            return choice
    return None


def content_text(content: Any) -> str:
    """``content`` as text: a string, or the text parts of a list (some upstreams send parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def error_status(err: Any) -> int:
    """The HTTP status an in-body error object claims, else 500."""
    if isinstance(err, dict):
        for key in ("status", "code"):
            value = err.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and 400 <= value < 600:
                return value
    return 500


def chat_body(
    model: str, messages: Sequence[ChatMessage], max_tokens: int | None, stream: bool
) -> dict[str, Any]:
    """The body of ``POST /v1/chat/completions``."""
    body: dict[str, Any] = {"model": model, "messages": [message_json(m) for m in messages]}
    body["stream"] = stream
    if stream:
        body["stream_options"] = {"include_usage": True}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return body
