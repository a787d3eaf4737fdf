"""What a platform can do, declared once by its adapter and read by the core to shape replies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MarkdownFlavour = Literal["telegram_html", "discord", "plain"]
VoiceFormat = Literal["ogg_opus", "mp3"]

MB = 1_000_000


@dataclass(frozen=True, slots=True)
class PlatformTraits:
    """One platform's abilities and limits.

    ``buttons``: replies may carry buttons (else their choices are offered as typed commands).
    ``edits``: a sent message can be edited, so answers stream (else an answer arrives once,
    complete). ``max_text`` / ``max_caption``: the longest message text and media caption, in
    characters. ``markdown``: how the adapter renders the model's Markdown. ``voice_format``:
    the audio a voice message must be in, or None when the platform has no voice messages
    (spoken replies then go out as an ordinary audio file). ``max_upload_bytes``: the largest
    file the bot may send; larger results go out as links.
    """

    buttons: bool
    edits: bool
    max_text: int
    max_caption: int
    markdown: MarkdownFlavour
    voice_format: VoiceFormat | None
    max_upload_bytes: int


# A platform that has nothing: plain text, no buttons, no edits. The safe default for a
# platform the core has not been told about.
PLAIN = PlatformTraits(
    buttons=False,
    edits=False,
    max_text=4000,
    max_caption=1000,
    markdown="plain",
    voice_format=None,
    max_upload_bytes=20 * MB,
)



class TraitsRegistry:
    """Each running platform's traits, registered by whoever starts its adapter; the engine and
    the job runner read them to shape replies. A platform nobody registered gets ``PLAIN``."""

    def __init__(self) -> None:
        self._traits: dict[str, PlatformTraits] = {}

    def register(self, platform: str, traits: PlatformTraits) -> None:
        self._traits[platform] = traits

    def of(self, platform: str) -> PlatformTraits:
        return self._traits.get(platform, PLAIN)


__all__ = ["PLAIN", "MarkdownFlavour", "PlatformTraits", "TraitsRegistry", "VoiceFormat"]
