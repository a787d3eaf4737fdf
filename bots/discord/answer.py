"""One message, slash command or button press answered: its place in the conversation, its
attachments downloaded within the limit, the engine's reply rendered on its surface."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import replace

import aiohttp
import discord

from bots.discord.markdown import MESSAGE_LIMIT
from bots.discord.media import DownloadFailed, FileRef, FileTooBig, download
from bots.discord.render import ButtonClass, ReplyRenderer
from bots.discord.send import ChatGone, DiscordSender, InteractionSurface, Surface
from bots.discord.settings import DiscordSettings
from core.engine.engine import Engine
from core.engine.locks import Place as Turn
from core.errors import ConversationBusyError, InputTooLongError, user_text
from core.platform.shape import cut
from core.platform.types import IncomingMessage
from core.texts.i18n import Lang, t

log = logging.getLogger("relaybot.discord")

MB = 1_000_000


class Answerer:
    """Hands incoming messages to the engine and renders its replies on Discord."""

    def __init__(
        self,
        engine: Engine,
        client: discord.Client,
        sender: DiscordSender,
        buttons: ButtonClass,
        session: aiohttp.ClientSession,
        config: Callable[[], DiscordSettings],
    ) -> None:
        self._engine = engine
        self._client = client
        self._sender = sender
        self._buttons = buttons
        self._session = session
        self._config = config
        self._refusing: set[str] = set()  # conversations with a refusal being sent

    async def answer(
        self, incoming: IncomingMessage, surface: Surface, lang: Lang, refs: list[FileRef]
    ) -> None:
        turn = await self._admit(incoming, surface, lang)
        if turn is None:
            return
        try:
            if refs and await self._engine.allowed(incoming):  # nothing fetched if refused
                limit = int(self._config().max_download_mb * MB)
                try:
                    attachments = await download(self._session, refs, limit)
                except FileTooBig as exc:
                    await self.notify(surface, t(
                        "error.file_too_big", lang,
                        size_mb=f"{exc.size / MB:.1f}", limit_mb=f"{limit / MB:g}",
                    ))
                    return
                except DownloadFailed as exc:
                    log.warning("download failed channel=%s: %s", surface.key, exc)
                    await self.notify(surface, t("error.download_failed", lang))
                    return
                incoming = replace(incoming, attachments=attachments)
            await self._reply(incoming, surface, turn, lang)
        finally:
            turn.leave()

    async def _admit(self, incoming: IncomingMessage, surface: Surface, lang: Lang) -> Turn | None:
        """The message's place in its conversation, or None after telling the user why not
        (one refusal per conversation at a time; a flood's others are dropped)."""
        try:
            return self._engine.admit(incoming)
        except (InputTooLongError, ConversationBusyError) as exc:
            key = self._engine.key_of(incoming)
            log.info("refused key=%s code=%s", key, exc.code)
            if key not in self._refusing:
                self._refusing.add(key)
                try:
                    await self.notify(surface, user_text(exc, lang))
                finally:
                    self._refusing.discard(key)
            return None

    async def _reply(
        self, incoming: IncomingMessage, surface: Surface, turn: Turn, lang: Lang
    ) -> None:
        channel_id = int(surface.key)
        # An interaction shows "thinking…" itself; a channel gets "typing…".
        typing = None if isinstance(surface, InteractionSurface) else (
            lambda: self._client.http.send_typing(channel_id)
        )
        renderer = ReplyRenderer(
            self._sender, surface, self._buttons,
            interval_s=self._config().edit_interval_s, typing=typing, lang=lang,
        )
        # aclosing: whatever happens while rendering, the engine's reply is closed at once,
        # which releases its conversation for the next message.
        async with aclosing(self._engine.handle(incoming, place=turn)) as events:
            await renderer.render(events)
        if isinstance(surface, InteractionSurface):  # the command as the user gave it
            await surface.settle(cut(f"`{incoming.text}`" if incoming.text else "✅", 2000))

    async def notify(self, surface: Surface, text: str) -> None:
        """A short text of the bot's own (a refusal, a download problem); never fatal."""
        try:
            await self._sender.call(
                surface.key, lambda: surface.send(cut(text, MESSAGE_LIMIT)), wait=True,
                what="send",
            )
        except (discord.HTTPException, ChatGone) as exc:
            log.info("could not notify channel=%s: %s", surface.key, exc)
