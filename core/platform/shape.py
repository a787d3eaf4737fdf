"""The one step that fits replies to a platform's traits, for answers and out-of-band sends."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from core.platform.traits import MB, PlatformTraits
from core.platform.types import (
    AudioReply,
    ButtonRows,
    FinalText,
    ImageReply,
    ReplyEvent,
    TextDelta,
    VideoReply,
)
from core.texts.i18n import Lang, t

ELLIPSIS = "…"


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, ending with … when it was cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(ELLIPSIS))] + ELLIPSIS


def typed_line(rows: ButtonRows, lang: Lang) -> FinalText | None:
    """Buttons offered as text: one short line of the commands to type, or None when none of
    them has a typed form."""
    forms = rows.typed_forms
    if not forms:
        return None
    return FinalText(t("typed.line", lang, forms=" · ".join(" ".join(r) for r in forms)), False)


def shape_event(event: ReplyEvent, traits: PlatformTraits, lang: Lang) -> ReplyEvent | None:
    """``event`` as the platform can show it, or None when it has no place there.

    Without edits a streamed answer's pieces are dropped (its ``FinalText`` carries it whole);
    without buttons their choices become one line of typed commands; captions are cut to the
    platform's longest; a voice message becomes an audio file where there are none.
    """
    if isinstance(event, TextDelta):
        return event if traits.edits else None
    if isinstance(event, ButtonRows):
        return event if traits.buttons else typed_line(event, lang)
    too_large = _too_large(event, traits, lang)
    if too_large is not None:
        return too_large
    if isinstance(event, ImageReply | VideoReply) and len(event.caption) > traits.max_caption:
        return replace(event, caption=cut(event.caption, traits.max_caption))
    if isinstance(event, AudioReply) and event.voice and traits.voice_format is None:
        return replace(event, voice=False)
    return event


def _too_large(event: ReplyEvent, traits: PlatformTraits, lang: Lang) -> ReplyEvent | None:
    """A file over the platform's upload limit: a clip with a link goes as its link, any
    other file becomes a short note saying so (never a failed upload)."""
    if not isinstance(event, ImageReply | AudioReply | VideoReply) or event.data is None:
        return None
    if len(event.data) <= traits.max_upload_bytes:
        return None
    if isinstance(event, VideoReply) and event.url:
        return replace(event, data=None)
    mb, max_mb = len(event.data) / MB, traits.max_upload_bytes / MB
    return FinalText(t("media.too_large_here", lang, mb=f"{mb:.1f}", max_mb=f"{max_mb:g}"), False)


def shape(events: Iterable[ReplyEvent], traits: PlatformTraits, lang: Lang) -> list[ReplyEvent]:
    """Every event of ``events`` shaped for the platform (see ``shape_event``)."""
    shaped = (shape_event(event, traits, lang) for event in events)
    return [event for event in shaped if event is not None]


__all__ = ["cut", "shape", "shape_event", "typed_line"]
