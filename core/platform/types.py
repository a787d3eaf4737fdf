"""Values that cross the core boundary: incoming messages and the reply events adapters render."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

ChatType = Literal["private", "group"]
AttachmentKind = Literal["image", "audio", "video", "file"]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file the user sent; adapters download it, so core only ever sees bytes."""

    kind: AttachmentKind
    data: bytes
    mime: str = "application/octet-stream"
    name: str = ""
    duration_s: float | None = None  # for audio and video, when the platform says


@dataclass(frozen=True, slots=True)
class ReplyContext:
    """The message an incoming message replies to (text only; media arrive as attachments)."""

    message_id: str
    text: str = ""
    from_bot: bool = False
    user_id: str = ""  # who wrote it (admins /block by replying to it); "" when unknown


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One message from a platform, already translated by its adapter.

    ``thread_id`` is a forum topic or thread; it is part of the conversation key.
    ``language`` is the user's language as the platform reports it (``zh-hans``, ``en-US``...),
    or ``None`` when the platform does not tell. ``action_token`` is set when the user pressed
    a button: the engine looks the action up and handles it as if the user had typed it.
    """

    platform: str
    chat_id: str
    chat_type: ChatType
    user_id: str
    text: str
    display_name: str = ""
    language: str | None = None
    attachments: tuple[Attachment, ...] = ()
    reply_to: ReplyContext | None = None
    message_id: str = ""
    thread_id: str | None = None
    action_token: str | None = None
    adapter: str = ""  # the adapter that received it, for the outbox; "": named as the platform
    # Is the sender an admin of this group (may change a shared conversation's /model and
    # /system)? None: the adapter did not say (only bot admins may then).
    chat_admin: bool | None = None


# --- reply events: what the engine yields and an adapter renders --------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of an answer that is still streaming."""

    text: str


@dataclass(frozen=True, slots=True)
class FinalText:
    """The complete text of an answer; always the last text event of a streamed answer.

    ``markdown`` tells the adapter whether the text is model Markdown to render, or plain text
    written by the bot itself.
    """

    text: str
    markdown: bool = True


@dataclass(frozen=True, slots=True)
class Notice:
    """A short note from the bot about the answer (cut off, empty...), in the user's language."""

    text: str


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """A failure explained to the user in their language; never a traceback or a raw body."""

    text: str
    code: str = "internal"


@dataclass(frozen=True, slots=True)
class ImageReply:
    """A picture to send."""

    data: bytes
    mime: str = "image/png"
    caption: str = ""


@dataclass(frozen=True, slots=True)
class AudioReply:
    """A sound to send; ``voice`` asks for a voice message where the platform has one."""

    data: bytes
    mime: str = "audio/mpeg"
    title: str = ""
    voice: bool = False


@dataclass(frozen=True, slots=True)
class VideoReply:
    """A clip to send, as bytes or, when too large to upload, as a link."""

    data: bytes | None = None
    url: str | None = None
    mime: str = "video/mp4"
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Button:
    """One button. ``action`` is the message text the press stands for (``/model gpt-4o``);
    ``token`` is the short id the engine stored it under, which adapters put in the
    platform's callback data (Telegram allows 64 bytes) and send back on a press."""

    label: str
    action: str
    token: str = ""
    typed: str = ""  # what a person can type instead of pressing it (/u2, /continue 1...)


@dataclass(frozen=True, slots=True)
class ButtonRows:
    """Rows of buttons attached to the previous reply."""

    rows: tuple[tuple[Button, ...], ...] = field(default_factory=tuple)

    @classmethod
    def chunked(cls, buttons: Sequence[Button], per_row: int) -> ButtonRows:
        """``buttons`` in rows of at most ``per_row`` (the one place rows are cut)."""
        return cls(
            tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))
        )

    @property
    def typed_forms(self) -> tuple[tuple[str, ...], ...]:
        """What a person can type instead of pressing, row by row (buttons without a typed
        form are left out, and so are rows left empty)."""
        rows = (tuple(b.typed for b in row if b.typed) for row in self.rows)
        return tuple(row for row in rows if row)


ReplyEvent = (
    TextDelta | FinalText | Notice | ErrorReply | ImageReply | AudioReply | VideoReply | ButtonRows
)
