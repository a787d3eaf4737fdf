"""Scripted answers of FakeRelay: SSE streams, JSON and raw bodies, the built-in model names."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from multidict import CIMultiDict

__all__ = [
    "BUILTIN",
    "RecordedRequest",
    "CF_524",
    "REQUEST_ID",
    "Cut",
    "Json",
    "Line",
    "OpenAIError",
    "Raw",
    "Stream",
    "echo",
    "text_of",
]

REQUEST_ID = "{request_id}"  # placeholder in scripted bodies, replaced by this response's id


@dataclass
class RecordedRequest:  # headers are case-insensitive; json is None when the body was not JSON
    method: str
    path: str
    headers: CIMultiDict[str]
    json: Any
    form: dict[str, Any] | None = None  # multipart: field -> str, file -> (name, bytes, type)
    peer: Any = None  # the client's (host, port): one port for requests over one connection


@dataclass(frozen=True)
class Line:
    """A raw SSE line sent as is (e.g. ``": keep-alive"``, ``"event: ping"``, ``"data: junk"``)."""

    text: str


@dataclass
class Stream:
    """A 200 SSE answer. ``chunks``: content strings, dicts of raw delta fields, whole chunk
    dicts (with "choices" or "error"), or ``Line``s. ``usage``: True = synthesise it when the
    request asked for it, False = none, dict = send that. ``hold``: after the first content chunk
    wait for this event before the rest. ``abort``: drop the TCP connection at the end.
    ``pace_s``: a pause between chunks, like a model generating tokens (for tests that need an
    answer to stream over time; they still wait on conditions, not on this)."""

    chunks: list[Any] = field(default_factory=lambda: ["Hello", ", world", "!"])
    done: bool = True
    usage: dict[str, Any] | bool = True
    keepalive: bool = False
    hold: asyncio.Event | None = None
    finish_reason: str | None = "stop"
    abort: bool = False
    pace_s: float = 0.0


@dataclass
class Cut(Stream):
    """A stream whose connection drops mid-body, before ``[DONE]``."""

    chunks: list[Any] = field(default_factory=lambda: ["This answer is ", "cut"])
    done: bool = False
    abort: bool = True


@dataclass
class Json:
    """Any JSON (or bytes) answer; ``{request_id}`` in the body becomes this response's id."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Raw:
    """A non-JSON answer: empty, HTML, plain text."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)


def OpenAIError(  # noqa: N802 - a constructor, like the classes above
    status: int, message: str, code: str | None = None, type: str = "new_api_error"
) -> Json:
    """The gateway's OpenAI-shaped error, message ending with " (request id: X)"."""
    err = {
        "message": f"{message} (request id: {REQUEST_ID})",
        "type": type,
        "param": "",
        "code": code,
    }
    return Json(status, {"error": err})


CF_524 = (
    b"<!DOCTYPE html>\n<html><head><title>relay.example.com | 524: A timeout occurred</title>"
    b"<style>body{font-family:sans-serif}</style></head><body><h1>A timeout occurred</h1>"
    b"<p>The origin web server timed out responding to this request.</p>"
    b"<p>Cloudflare Ray ID: 8c1f2a3b4c5d6e7f</p></body></html>\n"
)


BUILTIN: dict[str, Callable[[], Any]] = {  # what a model name answers when the queue is empty
    "fake-think": lambda: Stream(chunks=["<th", "ink>secret", "</thi", "nk>Answer"]),
    "fake-reasoner": lambda: Stream(
        chunks=[
            {"reasoning_content": "Let me think. "},
            {"reasoning_content": "The user wants 42."},
            {"reasoning": "alias field"},
            "The answer",
            " is 42.",
        ]
    ),
    "fake-cut": Cut,
    "fake-401": lambda: OpenAIError(401, "无效的令牌"),
    "fake-403-quota": lambda: OpenAIError(
        403,
        "pre-consumed quota failed, user quota: 0, need quota: 1500",
        code="insufficient_user_quota",
    ),
    "fake-403-model": lambda: OpenAIError(403, "该令牌无权访问模型 fake-403-model"),
    "fake-429": lambda: Raw(429),
    "fake-503": lambda: OpenAIError(503, "当前分组 default 下对于模型 fake-503 无可用渠道"),
    "fake-524": lambda: Raw(524, CF_524, "text/html; charset=UTF-8"),
    "fake-500": lambda: OpenAIError(500, "请求上游地址失败", code="do_request_failed"),
}


def text_of(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def echo(body: dict[str, Any], keepalive: bool) -> Stream:
    messages = body.get("messages") or []
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    text = "echo: " + (text_of(users[-1].get("content")) if users else "")
    cut = [0, max(1, len(text) // 3), max(2, 2 * len(text) // 3), len(text)]
    return Stream(
        chunks=[text[a:b] for a, b in itertools.pairwise(cut) if text[a:b]], keepalive=keepalive
    )
