"""Results of jobs and image calls fetched from the relay's links, within a size and a time."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.errors import BotError
from core.platform.types import FinalText
from core.relay.client import RelayClient
from core.texts.i18n import Lang, t

log = logging.getLogger("relaybot.media")


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """How much of a result the bot downloads before it sends a link instead."""

    max_bytes: int = 50_000_000
    timeout_s: float = 60.0


class MediaFetcher:
    """Downloads a result at once (relay links expire); None means "send the link"."""

    def __init__(self, relay: RelayClient, limits: MediaLimits) -> None:
        self._relay = relay
        self._limits = limits

    @staticmethod
    def linkable(url: str) -> bool:
        """Whether ``url`` is worth showing to a user as a link (http or https only)."""
        return url.startswith(("https://", "http://"))

    async def fetch(self, url: str) -> tuple[bytes, str] | None:
        """(bytes, content type), or None when the file is too large or cannot be had."""
        if not url:
            return None
        try:
            return await self._relay.download(
                url, max_bytes=self._limits.max_bytes, timeout_s=self._limits.timeout_s
            )
        except BotError as exc:
            log.warning("download failed, sending the link instead: %s", exc)
            return None

    def instead(self, url: str, lang: Lang) -> FinalText:
        """What the user gets instead of a result that cannot be sent as a file: its link, or,
        with no link worth showing, that the result is gone."""
        key = "job.link" if self.linkable(url) else "job.result_gone"
        return FinalText(t(key, lang, url=url), markdown=False)

    async def fetch_or_link(self, url: str, lang: Lang) -> tuple[bytes, str] | FinalText:
        """(bytes, content type), or else the text ``instead`` gives."""
        fetched = await self.fetch(url)
        return self.instead(url, lang) if fetched is None else fetched
