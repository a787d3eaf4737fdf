"""What a downloaded result really is, from its first bytes (a server's Content-Type can lie:
an HTML error page answered with 200 must not be posted as a song or a clip)."""

from __future__ import annotations

from typing import Literal

__all__ = ["MediaKind", "audio_type", "image_magic", "video_type"]

MediaKind = Literal["image", "audio", "video"]


def image_magic(data: bytes) -> str | None:
    """image/png, image/jpeg, image/webp or image/gif by signature; None otherwise."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return None


def _iso_brand(data: bytes) -> bytes | None:
    """The major brand of an ISO media file (MP4, M4A, MOV: a ``ftyp`` box first)."""
    return data[8:12] if len(data) >= 12 and data[4:8] == b"ftyp" else None


def audio_type(data: bytes) -> str | None:
    """The MIME type of an MP3, AAC, Ogg, WAV, FLAC, M4A or WebM sound; None otherwise."""
    if data.startswith(b"ID3"):
        return "audio/mpeg"
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:  # MPEG frame sync
        return "audio/aac" if data[1] & 0x06 == 0 else "audio/mpeg"  # layer bits 00: ADTS
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"fLaC"):
        return "audio/flac"
    if _iso_brand(data) is not None:
        return "audio/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm"
    return None


def video_type(data: bytes) -> str | None:
    """video/mp4 (MP4 and other ISO brands), video/quicktime or video/webm; None otherwise."""
    brand = _iso_brand(data)
    if brand is not None:
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return None
