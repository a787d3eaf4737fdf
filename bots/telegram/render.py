"""Renders the engine's reply events for one Telegram message: text, media, buttons, typing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut

from bots.telegram.send import ChatGone, Target, TelegramSender
from bots.telegram.stream import StreamingAnswer, plain
from core.platform.types import (
    AudioReply,
    ButtonRows,
    ErrorReply,
    FinalText,
    ImageReply,
    Notice,
    ReplyEvent,
    TextDelta,
    VideoReply,
)

log = logging.getLogger("relaybot.telegram")

CALLBACK_PREFIX = "a:"
CAPTION_LIMIT = 1024
NOTICE_LIMIT = 3500  # the bot's own short texts; one that quotes user input is cut
PHOTO_LIMIT = 10_000_000
TYPING_EVERY_S = 4.5  # Telegram shows "typing…" for about 5 s
TYPING_DELAY_S = 0.25  # a reply faster than this (commands) needs no "typing…" call

Pending = Callable[[InlineKeyboardMarkup | None], Awaitable[None]]


class TextLost(TelegramError):
    """A text of a job delivery did not go out (refused, or timed out: it may have arrived).
    The delivery counts as cut short: its user is offered a resend, never sent a copy."""


def keyboard(rows: ButtonRows) -> InlineKeyboardMarkup:
    """Inline keyboard whose callback data is the short stored token (fits 64 bytes)."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.label, callback_data=CALLBACK_PREFIX + b.token) for b in row]
            for row in rows.rows
        ]
    )


class ReplyRenderer:
    """Turns one reply's events into Bot API calls.

    A text or a picture is held back until the next event shows whether buttons belong to it,
    so they go out in one call. "typing…" shows until the first visible output.
    """

    def __init__(
        self, sender: TelegramSender, target: Target, *, interval_s: float, max_upload: int,
        tolerant: bool = True,
    ) -> None:
        self._tolerant = tolerant  # replies go on after a refused part; job deliveries stop
        self._sender = sender
        self._target = target
        self._interval = interval_s
        self._max_upload = max_upload
        self._stream: StreamingAnswer | None = None
        self._pending: Pending | None = None
        self._typing: asyncio.Task[None] | None = None
        self.gone = False
        self.message_ids: list[str] = []  # every message this reply sent, in order

    async def render(self, events: AsyncIterator[ReplyEvent]) -> None:
        self._typing = asyncio.create_task(self._keep_typing(), name="telegram-typing")
        try:
            async for event in events:
                if self.gone:
                    continue  # drain the engine so the turn is still stored
                try:
                    await self._event(event)
                except ChatGone:
                    self.gone = True
                    log.info(
                        "chat %s cannot be written to (blocked?); reply dropped", self._target.key
                    )
                except TelegramError as exc:
                    if not self._tolerant:
                        raise
                    # One part Telegram refused (too long, odd entity...): the rest goes on,
                    # and the engine is drained so the conversation is never left locked.
                    log.error("telegram refused part of a reply chat=%s: %s",
                              self._target.key, exc.message)
            await self._flush(None)
            await self._end_stream()
        except ChatGone:
            self.gone = True
        finally:
            await self._stop_typing()
            if self._stream is not None:  # an error cut us short: no writer may linger
                self._stream.cancel()
                self._stream = None

    async def _end_stream(self) -> None:
        """Land a stream the engine left without its FinalText (an error cut the answer)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                await stream.finish()
            finally:  # counted even when cut short: some of it may be in the chat
                self._record(*stream.message_ids)
            if stream.gone:
                raise ChatGone("chat unavailable")

    async def _event(self, event: ReplyEvent) -> None:
        if isinstance(event, TextDelta):
            await self._stop_typing()
            if self._stream is None:
                self._stream = StreamingAnswer(
                    self._sender, self._target, interval_s=self._interval
                )
            self._stream.add(event.text)
            return
        if isinstance(event, ButtonRows):
            await self._flush(keyboard(event))
            return
        await self._flush(None)
        if not isinstance(event, FinalText):
            await self._end_stream()  # what streamed so far shows before what follows
        if isinstance(event, FinalText):
            stream = self._stream or StreamingAnswer(
                self._sender, self._target, interval_s=self._interval, markdown=event.markdown
            )
            self._stream = None
            self._pending = lambda markup: self._finish(stream, event.text, markup)
        elif isinstance(event, Notice | ErrorReply):
            await self._stop_typing()
            text = event.text
            if len(text) > NOTICE_LIMIT:
                text = text[:NOTICE_LIMIT] + "…"
            self._record(await self._sender.send_text(self._target, plain(text)))
        elif isinstance(event, ImageReply):
            self._pending = lambda markup: self._image(event, markup)
        elif isinstance(event, AudioReply):
            await self._audio(event)
        elif isinstance(event, VideoReply):
            await self._video(event)

    async def _flush(self, markup: InlineKeyboardMarkup | None) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending(markup)
        elif markup is not None:  # buttons with nothing to attach to: their own message
            self._record(await self._sender.send_text(self._target, plain("⬇️"), markup))

    def _record(self, *sent: Message | int) -> None:
        """Count a message as sent, the moment it is: a later failure in the same reply must
        still know that part of it arrived (a job delivery cut short is never sent again)."""
        self.message_ids += [str(m if isinstance(m, int) else m.message_id) for m in sent]

    async def _finish(
        self, stream: StreamingAnswer, text: str, markup: InlineKeyboardMarkup | None
    ) -> None:
        await self._stop_typing()
        streamed = stream.started
        try:
            await stream.finish(None if streamed else text, markup)
        finally:
            self._record(*stream.message_ids)
        if stream.gone:
            raise ChatGone("chat unavailable")
        if not self._tolerant and not streamed and text.strip() and not stream.message_ids:
            raise TextLost("a text of the delivery was not sent")  # (the stream logged why)

    async def _keep_typing(self) -> None:
        await asyncio.sleep(TYPING_DELAY_S)
        while True:
            await self._sender.typing(self._target)
            await asyncio.sleep(TYPING_EVERY_S)

    async def _stop_typing(self) -> None:
        if self._typing is not None:
            self._typing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._typing
            self._typing = None

    # --- media -----------------------------------------------------------------------------

    async def _image(self, image: ImageReply, markup: InlineKeyboardMarkup | None) -> None:
        await self._stop_typing()
        caption = image.caption if len(image.caption) <= CAPTION_LIMIT else ""
        common = {
            "chat_id": self._target.chat_id,
            "message_thread_id": self._target.thread_id,
            "caption": caption or None,
            "reply_markup": markup,
        }
        sent: Message | None = None
        if len(image.data) <= PHOTO_LIMIT:
            try:
                sent = await self._sender.call(
                    self._target,
                    lambda: self._sender.bot.send_photo(
                        photo=InputFile(image.data, filename="image"), **common
                    ),
                    "sendPhoto",
                )
            except TimedOut:
                raise  # it may have arrived: no second copy as a document
            except (BadRequest, NetworkError) as exc:  # rejected or too large: as a file
                log.info(
                    "photo rejected chat=%s (%s); sending as a document",
                    self._target.key,
                    exc.message,
                )
        if sent is None:
            sent = await self._sender.call(
                self._target,
                lambda: self._sender.bot.send_document(
                    document=InputFile(image.data, filename=_filename(image.mime, "image")),
                    **common,
                ),
                "sendDocument",
            )
        self._record(sent)
        if image.caption and not caption:
            self._record(await self._sender.send_text(self._target, plain(image.caption)))

    async def _audio(self, audio: AudioReply) -> None:
        await self._stop_typing()
        data = InputFile(audio.data, filename=_filename(audio.mime, "audio"))
        args = {"chat_id": self._target.chat_id, "message_thread_id": self._target.thread_id}
        if audio.voice:
            sent = await self._sender.call(
                self._target, lambda: self._sender.bot.send_voice(voice=data, **args), "sendVoice"
            )
        else:
            sent = await self._sender.call(
                self._target,
                lambda: self._sender.bot.send_audio(audio=data, title=audio.title or None, **args),
                "sendAudio",
            )
        self._record(sent)

    async def _video(self, video: VideoReply) -> None:
        await self._stop_typing()
        if video.data is not None and len(video.data) <= self._max_upload:
            data = InputFile(video.data, filename=_filename(video.mime, "video"))
            try:
                sent = await self._sender.call(
                    self._target,
                    lambda: self._sender.bot.send_video(
                        video=data,
                        caption=video.caption[:CAPTION_LIMIT] or None,
                        chat_id=self._target.chat_id,
                        message_thread_id=self._target.thread_id,
                    ),
                    "sendVideo",
                )
                self._record(sent)
                return
            except TelegramError as exc:
                if video.url is None:
                    raise
                log.info(
                    "video upload failed chat=%s (%s); sending the link",
                    self._target.key,
                    exc.message,
                )
        if video.url is not None:
            self._record(
                await self._sender.send_text(
                    self._target, plain(f"{video.caption}\n{video.url}".strip())
                )
            )


def _filename(mime: str, stem: str) -> str:
    ext = {
        "image/png": "png",
        "image/jpeg": "jpg",
        "image/webp": "webp",
        "audio/mpeg": "mp3",
        "audio/ogg": "ogg",
        "audio/wav": "wav",
        "video/mp4": "mp4",
    }.get(mime, "bin")
    return f"{stem}.{ext}"
