"""Telegram files in: photos, image documents, voice and audio, downloaded within the limit
(checked while downloading); albums collected into one message."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
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


DOWNLOAD_TIMEOUT_S = 120.0  # a whole file download, however slowly it drips


async def download(
    bot: Bot, refs: list[FileRef], limit: int, *, proxy: str = ""
) -> tuple[Attachment, ...]:
    """Fetch ``refs`` as bytes, none over ``limit`` bytes.

    FileTooBig before any download when a declared size (the message's, getFile's, the
    Content-Length) is over ``limit``, and as soon as more than ``limit`` bytes arrived: the
    size is checked while downloading, so a file larger than declared costs at most ``limit``
    bytes. PTB's own download reads the whole body first, so the file is streamed here with
    httpx (through ``proxy``, like the Bot API calls). The file URL holds the bot token: it
    never appears in an error or a log.
    """
    for ref in refs:
        if ref.size is not None and ref.size > limit:
            raise FileTooBig(ref.size)

    async def one(http: httpx.AsyncClient, ref: FileRef) -> Attachment:
        try:
            file = await bot.get_file(ref.file_id)
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                raise FileTooBig(ref.size or limit + 1) from None
            raise DownloadFailed(exc.message) from None
        except TelegramError as exc:
            raise DownloadFailed(exc.message) from None
        if file.file_size is not None and file.file_size > limit:
            raise FileTooBig(file.file_size)
        if not file.file_path:
            raise DownloadFailed("getFile gave no file_path")
        data = await _fetch(http, file.file_path, limit)
        return Attachment(ref.kind, data, ref.mime, ref.name, ref.duration_s)

    timeout = httpx.Timeout(30.0, connect=10.0)
    try:
        async with asyncio.timeout(DOWNLOAD_TIMEOUT_S):
            async with httpx.AsyncClient(proxy=proxy or None, timeout=timeout) as http:
                return tuple(await asyncio.gather(*(one(http, ref) for ref in refs)))
    except TimeoutError:
        raise DownloadFailed(f"no complete file in {DOWNLOAD_TIMEOUT_S:g}s") from None


async def _fetch(http: httpx.AsyncClient, file_url: str, limit: int) -> bytes:
    """The file at ``file_url`` (``base_file_url`` + token + path), at most ``limit`` bytes."""
    if not file_url.startswith(("http://", "https://")):
        raise DownloadFailed("getFile gave no http(s) file URL")
    parts = urlsplit(file_url)  # as PTB does: the path percent-encoded
    url = urlunsplit(parts._replace(path=quote(parts.path)))
    data = bytearray()
    try:
        async with http.stream("GET", url) as resp:
            if not resp.is_success:
                raise DownloadFailed(f"HTTP {resp.status_code} from the Bot API file server")
            declared = resp.headers.get("content-length", "").strip()
            if declared.isdigit() and int(declared) > limit:
                raise FileTooBig(int(declared))
            async for chunk in resp.aiter_bytes():
                data += chunk
                if len(data) > limit:
                    raise FileTooBig(len(data))  # closing the response drops the rest
    except httpx.HTTPError as exc:  # str(exc) may hold the URL, and so the token
        raise DownloadFailed(f"{type(exc).__name__} from the Bot API file server") from None
    return bytes(data)


@dataclass(slots=True)
class _Album:
    messages: list[Message]
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class AlbumCollector:
    """Holds the messages of an album (one ``media_group_id``) until ``wait_s`` passes with no
    new part, then hands them over together: Telegram sends each photo as its own update.

    The update handler of the album's first part waits and then delivers the album; later
    parts only join it and return. So an album, however many photos, is handled within one
    update slot (``telegram.max_concurrent_updates``), like any other message.
    """

    def __init__(self, wait_s: float, deliver: Callable[[list[Message]], Awaitable[None]]) -> None:
        self._wait_s = wait_s
        self._deliver = deliver
        self._albums: dict[tuple[int, str], _Album] = {}
        self._running: set[asyncio.Task[object]] = set()
        self._flushing = False

    async def add(self, message: Message) -> None:
        """Called by the update handler of each part; returns once the album was delivered
        (first part) or at once (the others)."""
        key = (message.chat.id, str(message.media_group_id))
        album = self._albums.get(key)
        if album is not None:
            album.messages.append(message)
            album.arrived.set()  # the quiet period starts again
            return
        album = self._albums[key] = _Album([message])
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            while not self._flushing:
                album.arrived.clear()
                try:
                    async with asyncio.timeout(self._wait_s):
                        await album.arrived.wait()
                except TimeoutError:
                    break  # no new part for wait_s: the album is complete
            if self._albums.get(key) is album:
                del self._albums[key]
            await self._safe(album.messages)
        finally:
            if task is not None:
                self._running.discard(task)

    async def flush(self) -> None:
        """At shutdown: deliver every album still waiting now, and wait for those being
        delivered. The caller bounds the wait; one failure never stops the others."""
        self._flushing = True
        for album in self._albums.values():
            album.arrived.set()
        running = [t for t in self._running if t is not asyncio.current_task()]
        if running:
            await asyncio.gather(*running, return_exceptions=True)

    async def _safe(self, messages: list[Message]) -> None:
        try:
            await self._deliver(sorted(messages, key=lambda m: m.message_id))
        except Exception:
            log.exception("album delivery failed chat=%s", messages[0].chat.id)
