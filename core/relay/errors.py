"""Map relay error responses (status, body, headers) to the typed errors of core.errors."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import (
    RelayAuthError,
    RelayBadRequestError,
    RelayBadResponseError,
    RelayError,
    RelayForbiddenError,
    RelayNetworkError,
    RelayNoChannelError,
    RelayQuotaError,
    RelayRateLimitError,
    RelayTimeoutError,
    RelayUpstreamError,
)

__all__ = ["RelayConnectError", "RelayErrorBody", "classify", "is_retryable", "parse_error_body"]

DETAIL_MAX = 300
REQUEST_ID_HEADER = "x-oneapi-request-id"

_REQUEST_ID_RE = re.compile(r"\s*[(（]\s*request id:\s*([^)）]*?)\s*[)）]\s*$", re.IGNORECASE)
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<[^>]*>")
_SPACE_RE = re.compile(r"\s+")
_HTML_DROP_RE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)

_QUOTA_CODES = frozenset(
    {
        "insufficient_user_quota",
        "pre_consume_token_quota_failed",
        "quota_not_enough",
        "insufficient_quota",
    }
)
_NO_CHANNEL_WORDS = ("无可用渠道", "no available channel")


class RelayConnectError(RelayNetworkError):
    """The connection to the relay could not be made; the request never left, so a retry is safe."""


@dataclass(frozen=True, slots=True)
class RelayErrorBody:
    """What could be read from an error body: message (suffix removed), code, type, request id."""

    message: str = ""
    code: str = ""
    type: str = ""
    request_id: str = ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return ""


def _from_json(data: Any) -> tuple[str, str, str]:
    """(message, code, type) from any of the four body shapes of relay-api.md §2.1."""
    if not isinstance(data, dict):
        return "", "", ""
    err = data.get("error")
    if isinstance(err, dict):  # OpenAI shape, and Claude {"type":"error","error":{...}}
        msg = _text(err.get("message")) or _text(err.get("msg"))
        return msg, _text(err.get("code")), _text(err.get("type"))
    if isinstance(err, str) and err:  # {"error": "text"} from some upstreams
        return err, _text(data.get("code")), _text(data.get("type"))
    if "description" in data:  # Midjourney gateway error
        return _text(data.get("description")), _text(data.get("code")), _text(data.get("type"))
    # task shape {"code": "...", "message": "...", "data": null}, new-api {"success":false,...}
    msg = _text(data.get("message")) or _text(data.get("msg")) or _text(data.get("detail"))
    return msg, _text(data.get("code")), _text(data.get("type"))


def _from_text(text: str) -> str:
    """A readable line from a non-JSON body (HTML page from a proxy or CDN, or plain text)."""
    if "<" in text and ">" in text:
        title = _TITLE_RE.search(text)
        if title:
            text = title.group(1)
        else:
            text = _TAG_RE.sub(" ", _HTML_DROP_RE.sub(" ", text))
    return _SPACE_RE.sub(" ", text).strip()


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        for key, val in headers.items():
            if key.lower() == name:
                return val.strip()
        return ""
    return value.strip()


def parse_error_body(body: bytes, headers: Mapping[str, str] | None = None) -> RelayErrorBody:
    """Read an error body of any shape (JSON, HTML, text, empty) without ever failing."""
    text = body.decode("utf-8", errors="replace").strip() if body else ""
    message, code, etype = "", "", ""
    if text[:1] in ("{", "["):
        try:
            message, code, etype = _from_json(json.loads(text))
        except ValueError:
            message = _from_text(text)
    elif text:
        message = _from_text(text)
    message = message.strip()
    suffix_id = ""
    found = _REQUEST_ID_RE.search(message)
    if found:
        suffix_id = found.group(1).strip()
        message = message[: found.start()].rstrip()
    if len(message) > DETAIL_MAX:
        message = message[: DETAIL_MAX - 1].rstrip() + "…"
    request_id = _header(headers, REQUEST_ID_HEADER) if headers else ""
    return RelayErrorBody(message, code, etype, request_id or suffix_id)


def _is_quota(info: RelayErrorBody) -> bool:
    lowered = info.message.lower()
    return (
        info.code.lower() in _QUOTA_CODES
        or info.type.lower() in _QUOTA_CODES
        or "quota" in lowered
        or "额度" in info.message
    )


def _is_no_channel(info: RelayErrorBody) -> bool:
    lowered = info.message.lower()
    return info.code == "model_not_found" or any(w in lowered for w in _NO_CHANNEL_WORDS)


def _error_class(status: int, info: RelayErrorBody) -> type[RelayError]:
    if status == 401:
        return RelayAuthError
    if status == 403:
        return RelayQuotaError if _is_quota(info) else RelayForbiddenError
    if status == 429:  # OpenAI's own insufficient_quota arrives as a 429: a balance problem
        return RelayQuotaError if _is_quota(info) else RelayRateLimitError
    if status == 400:
        return RelayQuotaError if _is_quota(info) else RelayBadRequestError
    if 400 <= status < 500:
        return RelayBadRequestError
    if status in (504, 524):
        return RelayTimeoutError
    if status == 503:
        return RelayNoChannelError if _is_no_channel(info) else RelayUpstreamError
    if status == 501 or info.code == "model_price_error":
        return RelayBadRequestError
    if status >= 500:
        return RelayUpstreamError
    return RelayBadResponseError  # not an error status: a response we do not understand


def classify(status: int, body: bytes, headers: Mapping[str, str]) -> RelayError:
    """The typed error for a relay response with a non-2xx ``status`` (relay-api.md §2)."""
    info = parse_error_body(body, headers)
    detail = info.message or info.code
    return _error_class(status, info)(detail, status=status, request_id=info.request_id)


def is_retryable(exc: BaseException) -> bool:
    """True when repeating the same request may succeed and cannot double-charge."""
    return isinstance(exc, RelayRateLimitError | RelayUpstreamError | RelayConnectError)
