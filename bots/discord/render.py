"""Renders the engine's reply events for one Discord reply: text, media, buttons, typing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import discord

from bots.discord.components import view_of
from bots.discord.markdown import MESSAGE_LIMIT
from bots.discord.media import filename
from bots.discord.send import ChatGone, DiscordSender, FileOut, Sent, Surface
from bots.discord.stream import StreamingAnswer
from core.platform.shape import cut
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
from core.texts.i18n import Lang, t

log = logging.getLogger("relaybot.discord")

MB = 1_000_000
TOO_LARGE = 40005  # Discord's "Request entity too large"
DEFAULT_LIMIT = 10 * 1024 * 1024  # what every server allows bots (boosted ones more)
CAPTION_LIMIT = 2000  # a caption is the content of the message carrying the file
TYPING_EVERY_S = 8.0  # Discord shows "typing…" for about 10 s
TYPING_DELAY_S = 0.25

Pending = Callable[[discord.ui.View | None], Awaitable[None]]
ButtonClass = type[discord.ui.DynamicItem[discord.ui.Button[Any]]]


class TextLost(Exception):
    """A text of a job delivery did not go out; the delivery counts as cut short."""


class ReplyRenderer:
    """Turns one reply's events into messages on ``surface``. A text or a picture is held
    until the next event shows whether buttons belong to it, so they go out together."""

    def __init__(
        self,
        sender: DiscordSender,
        surface: Surface,
        buttons: ButtonClass,
        *,
        interval_s: float,
        typing: Callable[[], Awaitable[None]] | None = None,
        tolerant: bool = True,
        lang: Lang = "en",
    ) -> None:
        self._lang = lang
        self._sender = sender
        self._surface = surface
        self._buttons = buttons
        self._interval = interval_s
        self._typing_call = typing
        self._tolerant = tolerant  # replies go on after a refused part; job deliveries stop
        self._stream: StreamingAnswer | None = None
        self._pending: Pending | None = None
        self._typing: asyncio.Task[None] | None = None
        self.gone = False
        self.message_ids: list[str] = []

    async def render(self, events: AsyncIterator[ReplyEvent]) -> None:
        if self._typing_call is not None:
            self._typing = asyncio.create_task(self._keep_typing(), name="discord-typing")
        try:
            async for event in events:
                if self.gone:
                    continue  # drain the engine so the turn is still stored
                try:
                    await self._event(event)
                except ChatGone as exc:
                    self.gone = True
                    log.info("channel %s cannot be written to (%s); reply dropped",
                             self._surface.key, exc)
                except discord.HTTPException as exc:
                    if not self._tolerant:
                        raise
                    log.error("discord refused part of a reply channel=%s: %s",
                              self._surface.key, exc)
            await self._flush(None)
            await self._end_stream()
        except ChatGone:
            self.gone = True
        finally:
            await self._stop_typing()
            if self._stream is not None:
                self._stream.cancel()
                self._stream = None

    async def _end_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                await stream.finish()
            finally:
                self._record(*stream.message_ids)
            if stream.gone:
                raise ChatGone("channel unavailable")

    async def _event(self, event: ReplyEvent) -> None:
        if isinstance(event, TextDelta):
            await self._stop_typing()
            if self._stream is None:
                self._stream = StreamingAnswer(
                    self._sender, self._surface, interval_s=self._interval
                )
            self._stream.add(event.text)
            return
        if isinstance(event, ButtonRows):
            await self._flush(view_of(event, self._buttons))
            return
        await self._flush(None)
        if not isinstance(event, FinalText):
            await self._end_stream()
        if isinstance(event, FinalText):
            stream = self._stream or StreamingAnswer(
                self._sender, self._surface, interval_s=self._interval, markdown=event.markdown
            )
            self._stream = None
            self._pending = lambda view: self._finish(stream, event.text, view)
        elif isinstance(event, Notice | ErrorReply):
            await self._stop_typing()
            await self._send(cut(event.text, MESSAGE_LIMIT))
        elif isinstance(event, ImageReply):
            self._pending = lambda view: self._image(event, view)
        elif isinstance(event, AudioReply):
            await self._stop_typing()
            name = filename(event.mime, "voice" if event.voice else (event.title or "audio"))
            await self._send_file("", FileOut(event.data, _safe(name)))
        elif isinstance(event, VideoReply):
            await self._video(event)

    async def _flush(self, view: discord.ui.View | None) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending(view)
        elif view is not None:  # buttons with nothing to attach to: their own message
            await self._send("⬇️", view=view)

    def _record(self, *ids: int | str) -> None:
        self.message_ids += [str(i) for i in ids]

    async def _send(
        self, content: str, *, view: discord.ui.View | None = None,
        files: list[FileOut] | None = None,
    ) -> Sent:
        surface = self._surface
        reply = not self.message_ids
        sent = await self._sender.call(
            surface.key,
            lambda: surface.send(content, view=view, files=files or (), reply=reply),
            wait=True,
            what="send",
        )
        self._record(sent.id)
        return sent

    async def _send_file(
        self, content: str, file: FileOut, view: discord.ui.View | None = None
    ) -> None:
        """A file with its caption; when Discord refuses it as too large for this channel
        (413 / 40005: a server below the configured limit), the caption and a note instead."""
        try:
            await self._send(content, view=view, files=[file])
        except discord.HTTPException as exc:
            if not too_large(exc):
                raise
            log.info("upload refused as too large channel=%s (%d bytes)", self._surface.key,
                     len(file.data))
            note = t("media.too_large_here", self._lang, mb=f"{len(file.data) / MB:.1f}",
                     max_mb=f"{DEFAULT_LIMIT / MB:.1f}")
            await self._send(cut(f"{content}\n{note}".strip(), MESSAGE_LIMIT), view=view)

    async def _finish(
        self, stream: StreamingAnswer, text: str, view: discord.ui.View | None
    ) -> None:
        await self._stop_typing()
        streamed = stream.started
        try:
            await stream.finish(None if streamed else text, view)
        finally:
            self._record(*stream.message_ids)
        if stream.gone:
            raise ChatGone("channel unavailable")
        if not self._tolerant and not streamed and text.strip() and not stream.message_ids:
            raise TextLost("a text of the delivery was not sent")

    async def _image(self, image: ImageReply, view: discord.ui.View | None) -> None:
        await self._stop_typing()
        caption = cut(image.caption, CAPTION_LIMIT)
        await self._send_file(caption, FileOut(image.data, filename(image.mime, "image")), view)

    async def _video(self, video: VideoReply) -> None:
        await self._stop_typing()
        if video.data is not None:
            try:
                await self._send(
                    cut(video.caption, CAPTION_LIMIT),
                    files=[FileOut(video.data, filename(video.mime, "video"))],
                )
                return
            except discord.HTTPException as exc:  # 413 / 40005: too large for this channel
                if video.url is None or not too_large(exc):
                    raise
                log.info("video upload failed channel=%s (%s); sending the link",
                         self._surface.key, exc)
        if video.url is not None:
            await self._send(cut(f"{video.caption}\n{video.url}".strip(), MESSAGE_LIMIT))

    async def _keep_typing(self) -> None:
        assert self._typing_call is not None
        await asyncio.sleep(TYPING_DELAY_S)
        while True:
            try:
                await self._typing_call()
            except Exception as exc:  # "typing…" is a courtesy: never fatal
                log.debug("typing failed channel=%s: %s", self._surface.key, exc)
            await asyncio.sleep(TYPING_EVERY_S)

    async def _stop_typing(self) -> None:
        if self._typing is not None:
            self._typing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._typing
            self._typing = None


def too_large(exc: discord.HTTPException) -> bool:
    return exc.status == 413 or exc.code == TOO_LARGE


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:80] or "file"
