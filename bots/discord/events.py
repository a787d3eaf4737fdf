"""What the gateway brings: messages (who is answered, in which thread), slash commands
(acknowledged at once) and button presses (acknowledged at once), each handled within the
concurrency bound and tracked so a stop can let them finish."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import discord

from bots.discord.addressing import Place, addressed, opens_thread, thread_name
from bots.discord.answer import Answerer
from bots.discord.inbound import (
    ChannelInfos,
    answerable,
    chat_admin_of,
    facts_of,
    interaction_incoming,
    interaction_place,
    place_in,
    replied_message,
    to_incoming,
)
from bots.discord.media import ref_of
from bots.discord.send import ChannelSurface, InteractionSurface, Surface
from bots.discord.settings import DiscordSettings
from core.commands.table import parse_command
from core.engine.engine import Engine
from core.platform.types import IncomingMessage
from core.texts.i18n import Lang, pick_lang, t

log = logging.getLogger("relaybot.discord")

# Commands that also take the picture of the message they reply to.
REPLIED_PHOTO_COMMANDS = frozenset({"vision", "img", "describe", "blend", "video"})
LOCALES_MAX = 100_000


class Events:
    """The adapter's event handlers, for one connected client."""

    def __init__(
        self,
        client: discord.Client,
        engine: Engine,
        answerer: Answerer,
        config: Callable[[], DiscordSettings],
        language: Callable[[], Lang],
        max_concurrent: int,
    ) -> None:
        self._client = client
        self._engine = engine
        self._answerer = answerer
        self._config = config
        self._language = language
        self._channels = ChannelInfos(client)
        self._slots = asyncio.Semaphore(max_concurrent)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.accepting = True
        # A message does not carry its author's locale; an interaction does: remembered here
        # so the texts of later messages are in the user's language too.
        self._locales: dict[str, str] = {}

    async def drain(self, limit_s: float) -> bool:
        """Take nothing new; wait (bounded) for what is being handled. False if cut short."""
        self.accepting = False
        pending = [t for t in self._tasks if not t.done()]
        if not pending:
            return True
        _, late = await asyncio.wait(pending, timeout=limit_s)
        return not late

    async def _tracked(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run one event's handling within the concurrency bound; errors are logged."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            async with self._slots:
                await work()
        except Exception:
            log.exception("discord event failed")
        finally:
            if task is not None:
                self._tasks.discard(task)

    # --- messages --------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        if self.accepting:
            await self._tracked(lambda: self._message(message))

    async def _message(self, message: discord.Message) -> None:
        client = self._client
        if client.user is None:
            return
        me, config = client.user.id, self._config()
        if not answerable(message, me):
            return
        guild_id = message.guild.id if message.guild is not None else None
        info = await self._channels.of(message.channel, message.channel.id, guild_id)
        facts = facts_of(message, me, info)
        if not addressed(facts, config.trigger_words):
            return
        place = place_in(info)
        incoming = to_incoming(message, me, place, chat_admin=chat_admin_of(message.author))
        incoming = replace(incoming, language=self._locales.get(incoming.user_id))
        lang = pick_lang(incoming.language, self._language())
        reply_to = message.id if place.chat_type == "group" else None
        surface = ChannelSurface(client, place.channel_id, reply_to)
        if opens_thread(facts, config.threads) and await self._engine.allowed(incoming):
            thread = await self._open_thread(message, incoming.text, lang)
            if thread is not None:
                place = Place(place.chat_id, "group", str(thread))
                incoming = replace(incoming, thread_id=place.thread_id)
                surface = ChannelSurface(client, thread)
        refs = [ref_of(a) for a in message.attachments]
        command = parse_command(incoming.text)
        replied = replied_message(message)
        if command is not None and command.name in REPLIED_PHOTO_COMMANDS and replied is not None:
            refs += [r for r in map(ref_of, replied.attachments) if r.kind == "image"]
        await self._answerer.answer(incoming, surface, lang, refs)

    async def _open_thread(self, message: discord.Message, text: str, lang: Lang) -> int | None:
        """A public thread on ``message`` for the answer; None (answer in the channel) when
        the bot may not create one there."""
        name = thread_name(text, t("discord.thread", lang))
        try:
            thread = await message.create_thread(name=name)
        except discord.HTTPException as exc:
            log.info("cannot open a thread channel=%s (%s %s); answering in the channel",
                     message.channel.id, exc.status, exc.code)
            return None
        return thread.id

    # --- interactions ----------------------------------------------------------------------

    async def on_slash(
        self,
        interaction: discord.Interaction[Any],
        text: str,
        attachments: list[discord.Attachment],
    ) -> None:
        """A slash command: acknowledged at once (deferred, "thinking…"), answered through the
        interaction's response and follow-ups, then the channel."""
        acknowledged = True
        try:
            await interaction.response.defer(thinking=True)
        except discord.HTTPException as exc:  # too late (10062): the channel it is, then
            acknowledged = False
            name = interaction.command.name if interaction.command else "?"
            log.warning("could not acknowledge /%s: %s %s", name, exc.status, exc.code)
        if not self.accepting:
            return

        async def work() -> None:
            incoming = self._remember_locale(interaction_incoming(interaction, text))
            lang = pick_lang(incoming.language, self._language())
            channel = ChannelSurface(self._client, interaction_place(interaction).channel_id)
            surface: Surface = channel
            if acknowledged:
                surface = InteractionSurface(interaction, channel)
            refs = [ref_of(a) for a in attachments]
            await self._answerer.answer(incoming, surface, lang, refs)

        await self._tracked(work)

    async def on_press(self, interaction: discord.Interaction[Any], token: str) -> None:
        """A button: acknowledged at once (the press stops spinning), the answer goes to the
        channel as new messages, as if the user had typed the button's command."""
        try:
            await interaction.response.defer()
        except discord.HTTPException as exc:
            log.warning("could not acknowledge a button press: %s %s", exc.status, exc.code)
        if not self.accepting:
            return

        async def work() -> None:
            incoming = interaction_incoming(interaction, "", action_token=token)
            incoming = self._remember_locale(incoming)
            lang = pick_lang(incoming.language, self._language())
            surface = ChannelSurface(self._client, interaction_place(interaction).channel_id)
            await self._answerer.answer(incoming, surface, lang, [])

        await self._tracked(work)

    def _remember_locale(self, incoming: IncomingMessage) -> IncomingMessage:
        if incoming.language:
            if len(self._locales) >= LOCALES_MAX:
                self._locales.clear()
            self._locales[incoming.user_id] = incoming.language
        return incoming
