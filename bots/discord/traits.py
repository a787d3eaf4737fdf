"""What Discord can do, as the core reads it (core.platform.traits)."""

from __future__ import annotations

from bots.discord.markdown import MESSAGE_LIMIT
from bots.discord.render import CAPTION_LIMIT
from core.platform.traits import PlatformTraits


def discord_traits(filesize_limit_bytes: int) -> PlatformTraits:
    """Buttons (components), edits (answers stream), Discord Markdown, no voice messages the
    bot can send (spoken replies go as audio files); uploads up to ``discord.filesize_limit``
    (larger results go as links)."""
    return PlatformTraits(
        buttons=True,
        edits=True,
        max_text=MESSAGE_LIMIT,
        max_caption=CAPTION_LIMIT,
        markdown="discord",
        voice_format=None,
        max_upload_bytes=filesize_limit_bytes,
    )
