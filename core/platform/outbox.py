"""Messages the core sends on its own (job progress and results), routed to the adapter that
owns the conversation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from core.platform.types import IncomingMessage, ReplyEvent
from core.texts.i18n import Lang


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a conversation's out-of-band messages go, and in which language.

    ``adapter`` names the adapter that owns the conversation (the one its messages came in
    through); empty means the adapter named after the platform, the usual case of one adapter
    per platform.
    """

    platform: str
    chat_id: str
    user_id: str
    lang: Lang
    thread_id: str | None = None
    group: bool = False
    adapter: str = ""

    @property
    def owner(self) -> str:
        """The name of the adapter that delivers to this destination."""
        return self.adapter or self.platform

    @classmethod
    def of(cls, msg: IncomingMessage, lang: Lang) -> Destination:
        group = msg.chat_type == "group"
        return cls(msg.platform, msg.chat_id, msg.user_id, lang, msg.thread_id, group, msg.adapter)


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
    """No adapter of that name is running (yet)."""


class Outbox:
    """Routes each message to the sink of the adapter that owns its destination
    (``Destination.owner``); adapters register under their name when they start."""

    def __init__(self) -> None:
        self._sinks: dict[str, PlatformSink] = {}

    def register(self, adapter: str, sink: PlatformSink) -> None:
        """Messages to destinations owned by ``adapter`` go to ``sink`` from now on."""
        self._sinks[adapter] = sink

    def unregister(self, adapter: str) -> None:
        self._sinks.pop(adapter, None)

    def names(self) -> list[str]:
        """The adapters running in this process."""
        return list(self._sinks)

    def available(self, adapter: str) -> bool:
        """Whether the adapter ``adapter`` is running in this process."""
        return adapter in self._sinks

    def _sink(self, dest: Destination) -> PlatformSink:
        sink = self._sinks.get(dest.owner)
        if sink is None:
            raise OutboxUnavailable(dest.owner)
        return sink

    async def send(self, dest: Destination, events: Sequence[ReplyEvent]) -> list[str]:
        return await self._sink(dest).send(dest, events)

    async def edit_text(
        self, dest: Destination, message_id: str, text: str, *, final: bool
    ) -> bool:
        return await self._sink(dest).edit_text(dest, message_id, text, final=final)
