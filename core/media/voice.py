"""Voice: notes transcribed within limits, and text spoken as a voice message."""

from __future__ import annotations

import logging

from core.config.features import VoiceSettings
from core.errors import AudioTooLongError
from core.platform.traits import TraitsRegistry
from core.platform.types import Attachment, AudioReply
from core.relay.audio import AudioClient

log = logging.getLogger("relaybot.engine")

MB = 1_000_000
_LANGS = {"zh": "zh", "en": "en"}


class Voice:
    """Speech to text and text to speech on the relay (``models.transcribe`` and ``.tts``)."""

    def __init__(
        self,
        settings: VoiceSettings,
        audio: AudioClient,
        *,
        transcribe_model: str,
        tts_model: str,
        traits: TraitsRegistry | None = None,
    ) -> None:
        self._settings = settings
        self._traits = traits or TraitsRegistry()
        self._audio = audio
        self._stt = transcribe_model
        self._tts = tts_model

    def reconfigure(self, settings: VoiceSettings, transcribe_model: str, tts_model: str) -> None:
        """A config reload: limits, voice and models for the next voice note."""
        self._settings, self._stt, self._tts = settings, transcribe_model, tts_model

    @property
    def show_transcript(self) -> bool:
        return self._settings.show_transcript

    async def transcribe(self, note: Attachment) -> str:
        """What ``note`` says; AudioTooLongError when it is over the size or length limit."""
        settings = self._settings
        too_big = len(note.data) > settings.max_mb * MB
        too_long = note.duration_s is not None and note.duration_s > settings.max_seconds
        if too_big or too_long:
            raise AudioTooLongError(
                max_minutes=str(max(1, settings.max_seconds // 60)),
                max_mb=f"{settings.max_mb:g}",
            )
        name = note.name or "voice.ogg"
        text = await self._audio.transcribe(note.data, name, note.mime, model=self._stt)
        log.info("transcribed %d bytes to %d characters", len(note.data), len(text))
        return text.strip()

    async def speak(self, text: str, platform: str) -> AudioReply:
        """``text`` spoken, in the audio ``platform``'s voice messages take (OGG/Opus or MP3);
        where it has none, an MP3 file sent as ordinary audio."""
        fmt = self._traits.of(platform).voice_format
        response_format = "opus" if fmt == "ogg_opus" else "mp3"
        data = await self._audio.speech(
            text, model=self._tts, voice=self._settings.tts_voice, response_format=response_format
        )
        mime = "audio/ogg" if fmt == "ogg_opus" else "audio/mpeg"
        return AudioReply(data, mime, voice=fmt is not None)
