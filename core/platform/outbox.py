"""Messages the core sends on its own (job progress and results), routed to the platform."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from core.platform.types import IncomingMessage, ReplyEvent
from core.texts.i18n import Lang


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a conversation's out-of-band messages go, and in which language."""

    platform: str
    chat_id: str
    user_id: str
    lang: Lang
    thread_id: str | None = None
    group: bool = False

    @classmethod
    def of(cls, msg: IncomingMessage, lang: Lang) -> Destination:
        return cls(
            msg.platform, msg.chat_id, msg.user_id, lang, msg.thread_id, msg.chat_type == "group"
        )


class PlatformSink(Protocol):
    """What an adapter offers for messages that are not a reply to a user's message."""

    async def send(self, dest: Destination, events: Sequence[ReplyEvent]) -> list[str]:
        """Send ``events`` to ``dest``; returns the ids of the messages sent."""
        ...

    async def edit_text(
        self, dest: Destination, message_id: str, text: str, *, final: bool
    ) -> bool:
        """Replace the text of a message sent before; False when it cannot be edited.
        ``final`` edits must arrive (they wait out flood control); others may be skipped."""
        ...


class NothingSent(Exception):
    """A send failed before any message went out: trying again cannot make a duplicate.
    Any other exception from a sink means some of it may have arrived."""


class OutboxUnavailable(NothingSent):
    """No adapter is running for the destination's platform (yet)."""


class Outbox:
    """Routes to the sink of each running platform; adapters register when they start."""

    def __init__(self) -> None:
        self._sinks: dict[str, PlatformSink] = {}

    def register(self, platform: str, sink: PlatformSink) -> None:
        self._sinks[platform] = sink

    def unregister(self, platform: str) -> None:
        self._sinks.pop(platform, None)

    def available(self, platform: str) -> bool:
        return platform in self._sinks

    def _sink(self, dest: Destination) -> PlatformSink:
        sink = self._sinks.get(dest.platform)
        if sink is None:
            raise OutboxUnavailable(dest.platform)
        return sink

    async def send(self, dest: Destination, events: Sequence[ReplyEvent]) -> list[str]:
        return await self._sink(dest).send(dest, events)

    async def edit_text(
        self, dest: Destination, message_id: str, text: str, *, final: bool
    ) -> bool:
        return await self._sink(dest).edit_text(dest, message_id, text, final=final)
