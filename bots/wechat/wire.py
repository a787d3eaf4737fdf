"""Bridge API v1 bodies (../shared/wechat-cow.md §5.3): a POST /messages body checked and
turned into typed values; a bad one raises ``BadRequest`` (400, with the reason) or
``TooLarge`` (413)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

ORIGINS = ("text", "voice", "image", "file", "image_create")
KINDS = {"image": "image", "audio": "audio", "voice": "audio", "video": "video", "file": "file"}
MAX_ID = 256
# 2.x channels append "[图片: /path]" (also 视频, 文件) to the next text; the plugin strips
# them and sends the files, this removes any it left (a path on the CoW host means nothing).
MARKER_RE = re.compile(r"\[(?:图片|视频|文件|image|video|file):\s*[^\]\n]*\]\s*")
QUOTE_RE = re.compile(r"^\s*\[引用:\s*(.*?)\]\s*", re.DOTALL)


class BadRequest(Exception):
    """The body is not a valid v1 message; the text says why."""


class TooLarge(Exception):
    """An attachment is over the cap."""


@dataclass(frozen=True, slots=True)
class WireAttachment:
    kind: str  # image | audio | video | file
    mime: str
    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class WireMessage:
    message_id: str
    channel: str
    chat_id: str
    group: bool
    sender_id: str
    sender_name: str
    origin: str
    text: str
    quote: str
    attachments: tuple[WireAttachment, ...]
    max_text_chars: int | None
    conversation_ref: dict[str, Any]


def _obj(body: dict[str, Any], key: str, required: bool = False) -> dict[str, Any]:
    value = body.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{key}: must be an object")
    return value


def _str(obj: dict[str, Any], key: str, where: str, required: bool = False) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise BadRequest(f"{where}{key}: required")
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{where}{key}: must be a string")
    return value


def _id(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{where}{key}: required (a non-empty string)")
    if len(value) > MAX_ID:
        raise BadRequest(f"{where}{key}: longer than {MAX_ID} characters")
    return value.strip()


def parse_message(body: Any, max_attachment_bytes: int) -> WireMessage:
    if not isinstance(body, dict):
        raise BadRequest("body: must be a JSON object")
    message_id = _id(body, "message_id", "")
    source = _obj(body, "source")
    chat = _obj(body, "chat", required=True)
    sender = _obj(body, "sender", required=True)
    ref = _obj(body, "conversation_ref")
    caps = _obj(body, "capabilities")
    channel = _str(source, "channel", "source.") or _str(ref, "channel", "conversation_ref.")
    channel = channel.strip() or "cow"
    chat_type = _str(chat, "type", "chat.") or "private"
    if chat_type not in ("private", "group"):
        raise BadRequest("chat.type: must be 'private' or 'group'")
    origin = _str(body, "origin", "") or "text"
    if origin not in ORIGINS:
        raise BadRequest(f"origin: must be one of {', '.join(ORIGINS)}")
    text = _str(body, "text", "")
    quote = _str(body, "quote", "")
    found = QUOTE_RE.match(text)
    if found and not quote:  # the plugin left the iLink quote in the text
        quote, text = found.group(1), text[found.end() :]
    text = MARKER_RE.sub("", text).strip()
    max_chars = caps.get("max_text_chars")
    if max_chars is not None and (
        not isinstance(max_chars, int) or isinstance(max_chars, bool) or max_chars < 50
    ):
        raise BadRequest("capabilities.max_text_chars: must be an integer of at least 50")
    attachments = _attachments(body.get("attachments"), max_attachment_bytes)
    chat_id = _id(chat, "id", "chat.") if chat_type == "group" or chat.get("id") else ""
    sender_id = _id(sender, "id", "sender.")
    if origin == "image_create" and not text.startswith("/"):
        text = f"/img {text}"  # CoW's image_create_prefix: the prompt, drawn
    return WireMessage(
        message_id=message_id,
        channel=channel,
        chat_id=chat_id or sender_id,
        group=chat_type == "group",
        sender_id=sender_id,
        sender_name=_str(sender, "name", "sender."),
        origin=origin,
        text=text,
        quote=quote.strip(),
        attachments=attachments,
        max_text_chars=max_chars,
        conversation_ref=ref,
    )


def _attachments(value: Any, cap: int) -> tuple[WireAttachment, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadRequest("attachments: must be a list")
    if len(value) > 10:
        raise BadRequest("attachments: at most 10")
    found: list[WireAttachment] = []
    for i, item in enumerate(value):
        where = f"attachments[{i}]."
        if not isinstance(item, dict):
            raise BadRequest(f"attachments[{i}]: must be an object")
        kind = KINDS.get(_str(item, "kind", where, required=True))
        if kind is None:
            raise BadRequest(f"{where}kind: must be one of {', '.join(KINDS)}")
        size = item.get("size")
        if isinstance(size, int) and size > cap:
            raise TooLarge(f"{where}size: {size} bytes is over the cap of {cap}")
        raw = _str(item, "data_b64", where, required=True)
        if len(raw) > cap * 4 // 3 + 8:
            raise TooLarge(f"{where}data_b64: over the cap of {cap} bytes")
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(f"{where}data_b64: not valid base64") from None
        if len(data) > cap:
            raise TooLarge(f"{where}: {len(data)} bytes is over the cap of {cap}")
        if not data:
            raise BadRequest(f"{where}data_b64: empty")
        mime = _str(item, "mime", where) or "application/octet-stream"
        found.append(WireAttachment(kind, mime, _str(item, "filename", where), data))
    return tuple(found)


__all__ = ["BadRequest", "TooLarge", "WireAttachment", "WireMessage", "parse_message"]
