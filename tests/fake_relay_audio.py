"""FakeRelay's audio routes: multipart transcriptions and binary text-to-speech answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fake_relay_scripts import Json, OpenAIError, Raw

__all__ = ["AudioRoutes", "SPEECH_FORMATS", "speech_audio"]

SPEECH_VOICES = frozenset({"alloy", "ash", "coral", "echo", "fable", "onyx", "nova", "sage"})
SPEECH_VOICES |= {"shimmer", "ballad", "verse"}
# response_format -> (content type, first bytes of such a file)
SPEECH_FORMATS = {
    "opus": ("audio/ogg", b"OggS\x00\x02"),
    "mp3": ("audio/mpeg", b"ID3\x04\x00\x00"),
    "aac": ("audio/aac", b"\xff\xf1\x50\x80"),
    "flac": ("audio/flac", b"fLaC\x00\x00"),
    "wav": ("audio/wav", b"RIFF\x24\x00\x00\x00WAVEfmt "),
    "pcm": ("audio/pcm", b"\x00\x00\x01\x00"),
}
SPEECH_MAX = 4096


def speech_audio(text: str, response_format: str = "opus") -> tuple[bytes, str]:
    """(bytes, content type) the fake answers for ``text``: the format's magic, then padding."""
    content_type, magic = SPEECH_FORMATS[response_format]
    return magic + b"\x00" * 16 + text.encode()[:64], content_type


class AudioRoutes:
    """Mixin of FakeRelay: ``POST /v1/audio/transcriptions`` and ``POST /v1/audio/speech``.

    - ``transcript``: the text transcriptions answer (default ``"transcribed: <file name>"``);
      ``response_format=text`` gets it as text/plain.
    - ``transcriptions``: the recorded forms (field -> str, ``file`` -> (name, bytes, type)).
    - ``speeches``: the recorded speech bodies. Over 4096 characters of ``input``, an unknown
      voice or format, or no input answer OpenAI's 400.
    - Scripted answers (``enqueue``) replace either answer.
    """

    if TYPE_CHECKING:  # provided by FakeRelay and MediaRoutes
        async def _record(self, request: web.Request) -> tuple[str, Any]: ...
        async def _record_form(self, request: web.Request) -> tuple[str, dict[str, Any]]: ...
        def _scripted(self, request: web.Request) -> Any: ...
        def _plain(self, rid: str, script: Json | Raw) -> web.Response: ...

    def _init_audio(self) -> None:
        self.transcript: str | None = None
        self.transcriptions: list[dict[str, Any]] = []
        self.speeches: list[dict[str, Any]] = []

    def _add_audio_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        app.router.add_post("/v1/audio/speech", self._speech)

    async def _transcriptions(self, request: web.Request) -> web.StreamResponse:
        rid, form = await self._record_form(request)
        self.transcriptions.append(form)
        script = self._scripted(request)
        if script is None:
            upload = form.get("file")
            if not isinstance(upload, tuple) or not upload[1]:
                script = OpenAIError(400, "file is required", type="invalid_request_error")
            else:
                text = self.transcript
                text = f"transcribed: {upload[0]}" if text is None else text
                if form.get("response_format") == "text":
                    script = Raw(200, f"{text}\n".encode(), "text/plain; charset=utf-8")
                else:
                    script = Json(200, {"text": text})
        return self._plain(rid, script)

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        rid, body = await self._record(request)
        body = body if isinstance(body, dict) else {}
        self.speeches.append(body)
        script = self._scripted(request) or self._speech_error(body)
        if script is not None:
            return self._plain(rid, script)
        data, content_type = speech_audio(body["input"], body.get("response_format") or "mp3")
        headers = {"X-Oneapi-Request-Id": rid}
        return web.Response(body=data, content_type=content_type, headers=headers)

    @staticmethod
    def _speech_error(body: dict[str, Any]) -> Json | None:
        text, voice = body.get("input"), body.get("voice")
        if not isinstance(text, str) or not text:
            missing = "Missing required parameter: 'input'."
            return OpenAIError(400, missing, type="invalid_request_error")
        if len(text) > SPEECH_MAX:
            return OpenAIError(
                400,
                f"[{{'type': 'string_too_long', 'loc': ('body', 'input'), 'msg': 'String should "
                f"have at most {SPEECH_MAX} characters', 'ctx': {{'max_length': {SPEECH_MAX}}}}}]",
                type="invalid_request_error",
            )
        if voice not in SPEECH_VOICES:
            return OpenAIError(400, f"Invalid voice '{voice}'.", type="invalid_request_error")
        if (body.get("response_format") or "mp3") not in SPEECH_FORMATS:
            return OpenAIError(400, "Invalid response_format.", type="invalid_request_error")
        return None
