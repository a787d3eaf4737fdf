"""Results of jobs and image calls fetched from the relay's links, within a size and a time,
only from addresses allowed (``core.relay.download``), and only when they are what they claim."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from core.errors import BotError, MediaRefusedError
from core.media.images import verified_image_type
from core.media.sniff import MediaKind, audio_type, image_magic, video_type
from core.platform.types import FinalText
from core.relay.client import RelayClient
from core.relay.download import DownloadPolicy, Resolver, system_resolver
from core.texts.i18n import Lang, t

log = logging.getLogger("relaybot.media")

_REFUSED_KEPT = 256  # refused URLs remembered so that ``linkable`` does not show them


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """How much of a result the bot downloads before it sends a link instead."""

    max_bytes: int = 50_000_000
    timeout_s: float = 60.0


class MediaFetcher:
    """Downloads a result at once (relay links expire); None means "send the link" (or, when
    ``linkable`` says no, a message without it).

    ``allow_hosts`` (``jobs.media_allow_hosts``): names, IPs or CIDR networks downloads may
    reach although they are not public. ``resolver`` (host, port -> addresses) is the name
    lookup; the system's by default, a table in tests.
    """

    def __init__(
        self,
        relay: RelayClient,
        limits: MediaLimits,
        *,
        allow_hosts: Iterable[str] = (),
        resolver: Resolver = system_resolver,
    ) -> None:
        self._relay = relay
        self._limits = limits
        self._policy = DownloadPolicy.of(relay.root, allow_hosts)
        self._resolver = resolver
        self._refused: dict[str, None] = {}

    def reconfigure(self, allow_hosts: Iterable[str]) -> None:
        """A config reload: the relay's origin (it may have moved) and ``allow_hosts``."""
        self._policy = DownloadPolicy.of(self._relay.root, allow_hosts)

    def linkable(self, url: str) -> bool:
        """Whether ``url`` may be shown to a user as a link: http(s), not a non-public address
        (a literal one, or one a download of it was refused for)."""
        return (
            url.startswith(("https://", "http://"))
            and url not in self._refused
            and self._policy.may_show(url)
        )

    async def fetch(
        self, url: str, kind: MediaKind | Literal["any"] = "any"
    ) -> tuple[bytes, str] | None:
        """(bytes, MIME type found in them), or None when the file is too large, cannot be
        had, is refused, or is not a ``kind`` ("any": a picture, a sound or a clip). The
        type is read from the bytes, never taken from the server's Content-Type."""
        if not url:
            return None
        try:
            data, declared = await self._relay.download(
                url,
                max_bytes=self._limits.max_bytes,
                timeout_s=self._limits.timeout_s,
                policy=self._policy,
                resolver=self._resolver,
            )
        except MediaRefusedError as exc:
            log.warning("download refused, not fetched: %s", exc)
            self._refused[url] = None
            while len(self._refused) > _REFUSED_KEPT:
                del self._refused[next(iter(self._refused))]
            return None
        except BotError as exc:
            log.warning("download failed, sending the link instead: %s", exc)
            return None
        mime = await _media_type(data, kind)
        if mime is None:
            log.warning(
                "download is not a %s (%s, %d bytes, starts %r), not sent as a file",
                "picture, sound or clip" if kind == "any" else kind,
                declared,
                len(data),
                data[:16],
            )
            return None
        return data, mime

    def instead(self, url: str, lang: Lang) -> FinalText:
        """What the user gets instead of a result that cannot be sent as a file: its link, or,
        with no link worth showing, that the result is gone."""
        key = "job.link" if self.linkable(url) else "job.result_gone"
        return FinalText(t(key, lang, url=url), markdown=False)

    async def fetch_or_link(
        self, url: str, lang: Lang, kind: MediaKind | Literal["any"] = "any"
    ) -> tuple[bytes, str] | FinalText:
        """(bytes, MIME type), or else the text ``instead`` gives."""
        fetched = await self.fetch(url, kind)
        return self.instead(url, lang) if fetched is None else fetched


async def _media_type(data: bytes, kind: MediaKind | Literal["any"]) -> str | None:
    if kind in ("image", "any") and image_magic(data):
        return await asyncio.to_thread(verified_image_type, data)
    if kind == "image":
        return None
    if kind == "audio":
        return audio_type(data)
    if kind == "video":
        return video_type(data)
    return video_type(data) or audio_type(data)
