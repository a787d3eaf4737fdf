"""Attachments in (Discord's files, pictures, voice messages -> the engine's bytes) and the
file names of media out."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
import discord

from core.platform.types import Attachment, AttachmentKind

log = logging.getLogger("relaybot.discord")

EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/wav": "wav",
    "video/mp4": "mp4",
}
_BY_EXTENSION = {
    "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp",
    "gif": "image/gif", "mp3": "audio/mpeg", "ogg": "audio/ogg", "wav": "audio/wav",
    "m4a": "audio/mp4", "mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime",
}


class FileTooBig(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


class DownloadFailed(Exception):
    """An attachment could not be fetched from Discord's CDN."""


@dataclass(frozen=True, slots=True)
class FileRef:
    """One attachment as the message announced it (nothing downloaded yet)."""

    url: str
    size: int
    mime: str
    name: str
    kind: AttachmentKind
    duration_s: float | None = None


def kind_of(mime: str) -> AttachmentKind:
    top = mime.split("/", 1)[0]
    if top == "image":
        return "image"
    if top == "audio":
        return "audio"
    if top == "video":
        return "video"
    return "file"


def mime_of(content_type: str | None, filename: str) -> str:
    """The attachment's type: what Discord says, else guessed from the file name."""
    if content_type:
        return content_type.split(";", 1)[0].strip().lower()
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return _BY_EXTENSION.get(ext, "application/octet-stream")


def ref_of(att: discord.Attachment) -> FileRef:
    """A Discord attachment; a voice message is audio with its duration."""
    mime = mime_of(att.content_type, att.filename)
    kind: AttachmentKind = "audio" if att.is_voice_message() else kind_of(mime)
    return FileRef(att.url, att.size, mime, att.filename, kind, att.duration)


async def download(
    session: aiohttp.ClientSession, refs: Sequence[FileRef], limit: int
) -> tuple[Attachment, ...]:
    """Every file of ``refs`` as bytes. ``FileTooBig`` before anything is fetched when one
    is over ``limit`` (by its announced size, and again while reading); ``DownloadFailed``
    when the CDN does not give it."""
    for ref in refs:
        if ref.size > limit:
            raise FileTooBig(ref.size)
    out: list[Attachment] = []
    for ref in refs:
        try:
            async with session.get(ref.url, timeout=aiohttp.ClientTimeout(total=60)) as resp:
                if resp.status != 200:
                    raise DownloadFailed(f"HTTP {resp.status}")
                data = bytearray()
                async for block in resp.content.iter_chunked(65536):
                    data += block
                    if len(data) > limit:
                        raise FileTooBig(len(data))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DownloadFailed(type(exc).__name__) from exc
        out.append(Attachment(ref.kind, bytes(data), ref.mime, ref.name, ref.duration_s))
    return tuple(out)


def filename(mime: str, stem: str) -> str:
    return f"{stem}.{EXTENSIONS.get(mime, 'bin')}"
