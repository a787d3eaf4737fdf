"""What Telegram can do, as the core reads it (core.platform.traits)."""

from __future__ import annotations

from bots.telegram.render import CAPTION_LIMIT
from bots.telegram.stream import MESSAGE_LIMIT
from core.platform.traits import MB, PlatformTraits


def telegram_traits(max_upload_mb: float) -> PlatformTraits:
    """Buttons, edits (answers stream), Telegram HTML, OGG/Opus voice notes; uploads up to
    ``telegram.max_upload_mb`` (50 MB on the public Bot API, more on a local server)."""
    return PlatformTraits(
        buttons=True,
        edits=True,
        max_text=MESSAGE_LIMIT,
        max_caption=CAPTION_LIMIT,
        markdown="telegram_html",
        voice_format="ogg_opus",
        max_upload_bytes=int(max_upload_mb * MB),
    )
