"""Telegram files in: photos, image documents, voice and audio, downloaded within the limit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Bot, Message
from telegram.error import BadRequest, TelegramError

from core.platform.types import Attachment, AttachmentKind

log = logging.getLogger("relaybot.telegram")


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file of a message, before download."""

    file_id: str
    kind: AttachmentKind
    mime: str
    name: str
    size: int | None
    duration_s: float | None = None


class FileTooBig(Exception):
    """A file over the Bot API download limit; ``size`` in bytes."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class DownloadFailed(Exception):
    """A file that could not be fetched."""


def _kind_of(mime: str) -> AttachmentKind:
    for prefix, kind in (("image/", "image"), ("audio/", "audio"), ("video/", "video")):
        if mime.startswith(prefix):
            return kind  # type: ignore[return-value]
    return "file"


def _seconds(duration: object) -> float | None:
    """PTB 22 gives durations as int seconds or, with PTB_TIMEDELTA, as a timedelta."""
    if isinstance(duration, int | float):
        return float(duration)
    total = getattr(duration, "total_seconds", None)
    return float(total()) if callable(total) else None


def files_of(message: Message) -> list[FileRef]:
    """The files a message carries; for a photo, only its largest size."""
    refs: list[FileRef] = []
    if message.photo:
        largest = message.photo[-1]
        refs.append(FileRef(largest.file_id, "image", "image/jpeg", "photo.jpg", largest.file_size))
    if message.document:
        doc = message.document
        mime = doc.mime_type or "application/octet-stream"
        refs.append(
            FileRef(doc.file_id, _kind_of(mime), mime, doc.file_name or "file", doc.file_size)
        )
    if message.voice:
        voice = message.voice
        refs.append(
            FileRef(
                voice.file_id, "audio", voice.mime_type or "audio/ogg", "voice.ogg",
                voice.file_size, _seconds(voice.duration),
            )
        )
    if message.audio:
        audio = message.audio
        refs.append(
            FileRef(
                audio.file_id,
                "audio",
                audio.mime_type or "audio/mpeg",
                audio.file_name or "audio",
                audio.file_size,
                _seconds(audio.duration),
            )
        )
    return refs


async def download(bot: Bot, refs: list[FileRef], limit: int) -> tuple[Attachment, ...]:
    """Fetch ``refs`` as bytes; FileTooBig before any download when one is over ``limit``."""
    for ref in refs:
        if ref.size is not None and ref.size > limit:
            raise FileTooBig(ref.size)

    async def one(ref: FileRef) -> Attachment:
        try:
            file = await bot.get_file(ref.file_id)
            data = bytes(await file.download_as_bytearray())
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                raise FileTooBig(ref.size or limit + 1) from None
            raise DownloadFailed(exc.message) from None
        except TelegramError as exc:
            raise DownloadFailed(exc.message) from None
        if len(data) > limit:
            raise FileTooBig(len(data))
        return Attachment(ref.kind, data, ref.mime, ref.name, ref.duration_s)

    return tuple(await asyncio.gather(*(one(ref) for ref in refs)))


class AlbumCollector:
    """Holds the messages of an album (one ``media_group_id``) until ``wait_s`` passes with no
    new part, then hands them over together: Telegram sends each photo as its own update."""

    def __init__(self, wait_s: float, deliver: Callable[[list[Message]], Awaitable[None]]) -> None:
        self._wait_s = wait_s
        self._deliver = deliver
        self._albums: dict[tuple[int, str], list[Message]] = {}
        self._timers: dict[tuple[int, str], asyncio.Task[None]] = {}
        self._running: set[asyncio.Task[None]] = set()

    def add(self, message: Message) -> None:
        key = (message.chat.id, str(message.media_group_id))
        self._albums.setdefault(key, []).append(message)
        timer = self._timers.get(key)
        if timer is not None:
            timer.cancel()
        self._timers[key] = asyncio.create_task(self._later(key), name="telegram-album")

    async def _later(self, key: tuple[int, str]) -> None:
        await asyncio.sleep(self._wait_s)
        self._timers.pop(key, None)
        messages = self._albums.pop(key, [])
        if messages:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)  # from here on, shutdown waits for this delivery
            try:
                await self._safe(messages)
            finally:
                self._running.discard(task)

    async def flush(self) -> None:
        """At shutdown: deliver every album still waiting, and wait for those being
        delivered. The caller bounds the wait; one failure never stops the others."""
        for key, timer in list(self._timers.items()):
            if not timer.done():
                timer.cancel()
            self._timers.pop(key, None)
            messages = self._albums.pop(key, [])
            if messages:
                self._running.add(asyncio.create_task(self._safe(messages)))
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _safe(self, messages: list[Message]) -> None:
        try:
            await self._deliver(sorted(messages, key=lambda m: m.message_id))
        except Exception:
            log.exception("album delivery failed chat=%s", messages[0].chat.id)
