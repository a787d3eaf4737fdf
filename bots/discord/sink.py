"""Messages the core sends on its own (job progress and results) to a Discord channel, thread
or DM: the outbox's sink for the Discord adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

import discord

from bots.discord.markdown import MESSAGE_LIMIT
from bots.discord.render import ButtonClass, ReplyRenderer, TextLost
from bots.discord.send import ChannelSurface, ChatGone, DiscordSender, Skipped
from core.platform.outbox import Destination, NothingSent
from core.platform.shape import cut
from core.platform.types import ReplyEvent


class JobSink:
    """Sends by channel id (no cache needed: works for deliveries resumed after a restart)."""

    def __init__(
        self,
        client: discord.Client,
        sender: DiscordSender,
        buttons: ButtonClass,
        interval_s: Callable[[], float],
    ) -> None:
        self._client = client
        self._sender = sender
        self._buttons = buttons
        self._interval_s = interval_s

    @staticmethod
    def channel_of(dest: Destination) -> int:
        """The thread if the conversation lives in one, else its channel or DM."""
        return int(dest.thread_id or dest.chat_id)

    async def send(self, dest: Destination, events: Sequence[ReplyEvent]) -> list[str]:
        """Send ``events`` to ``dest``; the ids of the messages sent. ``NothingSent`` when
        nothing went out (the job runner may try again without making a duplicate)."""

        async def stream() -> AsyncIterator[ReplyEvent]:
            for event in events:
                yield event

        channel = self.channel_of(dest)
        renderer = ReplyRenderer(
            self._sender, ChannelSurface(self._client, channel), self._buttons,
            interval_s=self._interval_s(), tolerant=False, lang=dest.lang,
        )
        try:
            await renderer.render(stream())
        except TextLost:
            raise  # the delivery counts as cut short: offered again, never sent twice
        except Exception as exc:
            if not renderer.message_ids:
                raise NothingSent(str(exc)) from exc  # safe to try again later
            raise
        if renderer.gone and not renderer.message_ids:
            raise NothingSent(f"channel {channel} cannot be written to")
        return renderer.message_ids

    async def edit_text(
        self, dest: Destination, message_id: str, text: str, *, final: bool
    ) -> bool:
        """Replace a job's status text; False when it cannot be edited (deleted, no access)."""
        channel = self.channel_of(dest)
        message = self._client.get_partial_messageable(channel).get_partial_message(
            int(message_id)
        )
        try:
            await self._sender.call(
                str(channel), lambda: message.edit(content=cut(text, MESSAGE_LIMIT)),
                wait=final, what="edit", idempotent=True,
            )
        except (Skipped, ChatGone, discord.NotFound):
            return False
        return True
