"""Speech on the relay (relay-api §5): transcription of recordings, and text-to-speech audio."""

from __future__ import annotations

import json
from typing import Any

from core.errors import RelayBadResponseError, TextTooLongError
from core.relay.client import RelayClient

__all__ = ["SPEECH_MAX_CHARS", "AudioClient"]

SPEECH_MAX_CHARS = 4096  # OpenAI's limit on /v1/audio/speech ``input``


def _text_of(content: bytes, content_type: str, request_id: str) -> str:
    """The transcript of a json (``{"text"}``) or text/plain answer."""
    decoded = content.decode("utf-8", errors="replace").strip()
    if "json" not in content_type.lower() and not decoded.startswith("{"):
        return decoded  # response_format=text, or an upstream that ignores json
    try:
        data: Any = json.loads(decoded)
    except ValueError:
        raise RelayBadResponseError(
            f"unreadable transcription JSON ({len(content)} bytes)",
            status=200,
            request_id=request_id,
        ) from None
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str):
        raise RelayBadResponseError(
            "transcription answer without a text", status=200, request_id=request_id
        )
    return text.strip()


class AudioClient:
    """The ``/v1/audio`` routes of one relay.

    Both calls are synchronous and short; an error answer is not charged, so the usual
    retries (429, 5xx, connect) apply. Timeouts are never retried.
    """

    def __init__(self, relay: RelayClient) -> None:
        self._relay = relay

    async def transcribe(
        self, data: bytes, filename: str, mime: str, *, model: str, language: str | None = None
    ) -> str:
        """What the recording says (``POST /v1/audio/transcriptions``, multipart)."""
        fields = {"model": model}
        if language:
            fields["language"] = language
        content, content_type, request_id = await self._relay.request_bytes(
            "POST",
            "/v1/audio/transcriptions",
            fields=fields,
            files={"file": (filename or "audio", data, mime or "application/octet-stream")},
        )
        return _text_of(content, content_type, request_id)

    async def speech(
        self, text: str, *, model: str, voice: str, response_format: str = "opus"
    ) -> bytes:
        """``text`` spoken (``POST /v1/audio/speech``): the audio bytes, OGG/Opus by default.

        Raises ``TextTooLongError`` for more than ``SPEECH_MAX_CHARS`` characters, before any
        request is made; ``ValueError`` for empty text.
        """
        if not text.strip():
            raise ValueError("nothing to speak")
        if len(text) > SPEECH_MAX_CHARS:
            raise TextTooLongError(limit=str(SPEECH_MAX_CHARS))
        body = {"model": model, "input": text, "voice": voice, "response_format": response_format}
        content, content_type, request_id = await self._relay.request_bytes(
            "POST", "/v1/audio/speech", body
        )
        kind = content_type.lower()
        if not content or "json" in kind or kind.startswith("text/"):
            what = f"{len(content)} bytes of {content_type or 'unknown type'}"
            raise RelayBadResponseError(
                f"speech answer is not audio ({what})", status=200, request_id=request_id
            )
        return content
