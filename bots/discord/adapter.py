"""Discord adapter: discord.py in (gateway events, slash commands, button presses), engine calls
through, rendered replies out; start-up, stop, and the outbox sink for job deliveries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import replace
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bots.discord.addressing import PLATFORM, Place, addressed, opens_thread, thread_name
from bots.discord.client import (
    Hooks,
    build_client,
    point_at,
    privileged_intents_text,
    startup_error,
    sync_commands,
)
from bots.discord.commands import Texts, slash_commands
from bots.discord.components import action_button_class
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
from bots.discord.markdown import MESSAGE_LIMIT
from bots.discord.media import DownloadFailed, FileRef, FileTooBig, download, mime_of, ref_of
from bots.discord.render import ReplyRenderer, TextLost
from bots.discord.send import (
    ChannelSurface,
    ChatGone,
    DiscordSender,
    InteractionSurface,
    Skipped,
    Surface,
)
from bots.discord.settings import DiscordSettings
from bots.discord.traits import discord_traits
from bots.shared.flood import FloodGate, Rules, Window
from core.commands.table import parse_command
from core.config.settings import Settings
from core.engine.engine import Engine
from core.engine.locks import Place as Turn
from core.errors import ConversationBusyError, InputTooLongError, user_text
from core.platform.outbox import Destination, NothingSent, Outbox
from core.platform.shape import cut
from core.platform.types import IncomingMessage, ReplyEvent
from core.texts.i18n import Lang, pick_lang, t

log = logging.getLogger("relaybot.discord")

MB = 1_000_000
READY_WAIT_S = 60.0  # start-up waits this long for the gateway's READY, then goes on
STOP_WAIT_S = 30.0
CLOSE_WAIT_S = 5.0
LOCALES_MAX = 100_000
# Commands that also take the picture of the message they reply to.
REPLIED_PHOTO_COMMANDS = frozenset({"vision", "img", "describe", "blend", "video"})


class DiscordAdapter:
    """Runs the bot on Discord through discord.py."""

    name = PLATFORM

    def __init__(self, settings: Settings, engine: Engine, outbox: Outbox | None = None) -> None:
        self._settings = settings
        self._engine = engine
        self._outbox = outbox
        self._config = config = settings.section(PLATFORM, DiscordSettings)
        self.traits = discord_traits(config.filesize_limit_bytes)
        limits = config.limits
        gate = FloodGate(
            Rules(
                chat=Window(limits.per_channel, limits.window_s),
                overall=Window(limits.global_per_s, 1.0),
            )
        )
        self._sender = DiscordSender(gate, metrics=engine.metrics)
        self._buttons = action_button_class(self._on_press)
        self._client: discord.Client | None = None
        self._tree: app_commands.CommandTree[Any] | None = None
        self._channels: ChannelInfos | None = None
        self._session: aiohttp.ClientSession | None = None
        self._connection: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._accepting = False
        self._refusing: set[str] = set()
        # A message does not carry its author's locale; an interaction does: remembered here
        # so the texts of later messages are in the user's language too.
        self._locales: dict[str, str] = {}

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Started, and the gateway is up (for /healthz)."""
        client = self._client
        return client is not None and client.is_ready() and not client.is_closed()

    @property
    def client(self) -> discord.Client | None:
        return self._client

    def reconfigure(self, settings: Settings) -> None:
        """A config reload: trigger words, threads and pacing apply to the next message."""
        self._settings = settings
        self._config = settings.section(PLATFORM, DiscordSettings)

    async def start(self) -> None:
        """Log in, register the slash commands, connect to the gateway and wait for READY. A
        failure undoes what started and raises an error that names what to fix."""
        config = self._config
        point_at(config)
        self._ready = asyncio.Event()
        self._slots = asyncio.Semaphore(config.max_concurrent_updates)
        self._session = aiohttp.ClientSession()
        client = build_client(config, Hooks(self._setup, self._ready.set, self._on_message))
        self._client = client
        self._channels = ChannelInfos(client)
        self._accepting = True
        try:
            await client.login(config.token)
            await self._sync()
            self._connection = asyncio.create_task(
                client.connect(reconnect=True), name="discord-gateway"
            )
            await self._wait_ready(self._connection)
        except BaseException as exc:
            await self._close()
            error = startup_error(exc, config)
            if error is exc:
                raise
            raise error from None
        self._connection.add_done_callback(self._connection_ended)
        if self._outbox is not None:
            self._outbox.register(PLATFORM, self)
        user = client.user
        log.info("discord started as %s (%s)", user, user.id if user else "?")

    async def _setup(self, client: discord.Client) -> None:
        """discord.py's setup hook (during login): the slash commands and the persistent
        button handler, registered anew at every start so old buttons keep working."""
        tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)
        await tree.set_translator(Texts())
        settings = self._settings
        for command in slash_commands(
            self._on_slash, settings.language, settings.models.chat_models()
        ):
            tree.add_command(command)
        tree.on_error = self._on_tree_error  # type: ignore[method-assign]
        client.add_dynamic_items(self._buttons)
        self._tree = tree

    async def _sync(self) -> None:
        assert self._tree is not None
        try:
            failed = await sync_commands(self._tree, self._config.guild_ids)
        except discord.HTTPException as exc:
            log.warning("could not register the slash commands: %s %s", exc.status, exc.code)
            return
        if failed:
            log.warning(
                "could not register the slash commands in %s (is the bot in those servers? "
                "check discord.guild_ids)", ", ".join(failed)
            )

    async def _wait_ready(self, connection: asyncio.Task[None]) -> None:
        assert self._ready is not None
        ready = asyncio.create_task(self._ready.wait())
        try:
            done, _ = await asyncio.wait(
                {ready, connection}, timeout=READY_WAIT_S, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
        if connection in done:
            connection.result()  # raises why the gateway refused us
            raise discord.ConnectionClosed(_Closed(), shard_id=None, code=1000)
        if ready not in done:
            log.warning("the Discord gateway is not ready after %gs; still trying", READY_WAIT_S)

    def _connection_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or not self._accepting:
            return
        exc = task.exception()
        if isinstance(exc, discord.PrivilegedIntentsRequired):
            log.error("discord stopped: %s", privileged_intents_text())
        elif exc is not None:
            log.error("discord gateway stopped: %s", startup_error(exc, self._config))

    async def stop(self) -> None:
        """Take no new messages, let replies in flight finish (bounded), then disconnect."""
        if self._client is None:
            return
        self._accepting = False
        if self._outbox is not None:
            self._outbox.unregister(PLATFORM)
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=STOP_WAIT_S)
            if late:
                log.warning("discord replies still running after %ss; stopping", STOP_WAIT_S)
        await self._close()
        log.info("discord stopped")

    async def _close(self) -> None:
        self._accepting = False
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.close()
            except Exception as exc:  # closing must not fail the stop
                log.debug("discord close: %s", exc)
        connection, self._connection = self._connection, None
        if connection is not None:
            # close() ends the gateway task; one stuck in a handshake is cancelled.
            await asyncio.wait({connection}, timeout=CLOSE_WAIT_S)
            if not connection.done():
                connection.cancel()
            try:
                await connection
            except BaseException as exc:  # noqa: BLE001 - its outcome is reported elsewhere
                if isinstance(exc, asyncio.CancelledError) and _cancelling():
                    raise
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # --- events ----------------------------------------------------------------------------

    async def _tracked(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run one event's handling within the concurrency bound; errors are logged."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            assert self._slots is not None
            async with self._slots:
                await work()
        except Exception:
            log.exception("discord event failed")
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _on_message(self, message: discord.Message) -> None:
        if self._accepting:
            await self._tracked(lambda: self._handle_message(message))

    async def _handle_message(self, message: discord.Message) -> None:
        client, channels = self._client, self._channels
        if client is None or client.user is None or channels is None:
            return
        me = client.user.id
        if not answerable(message, me):
            return
        guild_id = message.guild.id if message.guild is not None else None
        info = await channels.of(message.channel, message.channel.id, guild_id)
        facts = facts_of(message, me, info)
        if not addressed(facts, self._config.trigger_words):
            return
        place = place_in(info)
        admin = chat_admin_of(message.author)
        incoming = to_incoming(message, me, place, chat_admin=admin)
        incoming = replace(incoming, language=self._locales.get(incoming.user_id))
        lang = pick_lang(incoming.language, self._settings.language)
        reply_to = message.id if place.chat_type == "group" else None
        surface = ChannelSurface(client, place.channel_id, reply_to)
        if opens_thread(facts, self._config.threads) and await self._engine.allowed(incoming):
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
        await self._answer(incoming, surface, lang, refs)

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

    async def _on_slash(
        self,
        interaction: discord.Interaction[Any],
        text: str,
        attachments: list[discord.Attachment],
    ) -> None:
        """A slash command: acknowledged at once (deferred, "thinking…"), answered through the
        interaction's response and follow-ups, then the channel."""
        try:
            await interaction.response.defer(thinking=True)
        except discord.HTTPException as exc:
            log.warning("could not acknowledge /%s: %s %s", text, exc.status, exc.code)
        if not self._accepting or self._client is None:
            return
        client = self._client

        async def work() -> None:
            incoming = self._remember_locale(interaction_incoming(interaction, text))
            lang = pick_lang(incoming.language, self._settings.language)
            channel = ChannelSurface(client, interaction_place(interaction).channel_id)
            surface = InteractionSurface(interaction, channel)
            refs = [
                FileRef(a.url, a.size, mime_of(a.content_type, a.filename), a.filename,
                        "image" if mime_of(a.content_type, a.filename).startswith("image/")
                        else "file")
                for a in attachments
            ]
            await self._answer(incoming, surface, lang, refs)

        await self._tracked(work)

    async def _on_press(self, interaction: discord.Interaction[Any], token: str) -> None:
        """A button: acknowledged at once (the press stops spinning), the answer goes to the
        channel as new messages, as if the user had typed the button's command."""
        try:
            await interaction.response.defer()
        except discord.HTTPException as exc:
            log.warning("could not acknowledge a button press: %s %s", exc.status, exc.code)
        if not self._accepting or self._client is None:
            return
        client = self._client

        async def work() -> None:
            incoming = self._remember_locale(
                interaction_incoming(interaction, "", action_token=token)
            )
            lang = pick_lang(incoming.language, self._settings.language)
            surface = ChannelSurface(client, interaction_place(interaction).channel_id)
            await self._answer(incoming, surface, lang, [])

        await self._tracked(work)

    def _remember_locale(self, incoming: IncomingMessage) -> IncomingMessage:
        if incoming.language:
            if len(self._locales) >= LOCALES_MAX:
                self._locales.clear()
            self._locales[incoming.user_id] = incoming.language
        return incoming

    async def _on_tree_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        log.error("slash command failed: %s", error, exc_info=error)

    # --- answering -------------------------------------------------------------------------

    async def _answer(
        self, incoming: IncomingMessage, surface: Surface, lang: Lang, refs: list[FileRef]
    ) -> None:
        turn = await self._admit(incoming, surface, lang)
        if turn is None:
            return
        try:
            if refs and await self._engine.allowed(incoming):  # nothing fetched if refused
                limit = int(self._config.max_download_mb * MB)
                assert self._session is not None
                try:
                    attachments = await download(self._session, refs, limit)
                except FileTooBig as exc:
                    await self._notify(surface, t(
                        "error.file_too_big", lang,
                        size_mb=f"{exc.size / MB:.0f}", limit_mb=f"{limit / MB:.0f}",
                    ))
                    return
                except DownloadFailed as exc:
                    log.warning("download failed channel=%s: %s", surface.key, exc)
                    await self._notify(surface, t("error.download_failed", lang))
                    return
                incoming = replace(incoming, attachments=attachments)
            await self._reply(incoming, surface, turn)
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
                    await self._notify(surface, user_text(exc, lang))
                finally:
                    self._refusing.discard(key)
            return None

    async def _reply(self, incoming: IncomingMessage, surface: Surface, turn: Turn) -> None:
        channel_id = int(surface.key)
        # An interaction shows "thinking…" itself; a channel gets "typing…".
        typing = None if isinstance(surface, InteractionSurface) else (
            lambda: self._typing(channel_id)
        )
        renderer = ReplyRenderer(
            self._sender, surface, self._buttons,
            interval_s=self._config.edit_interval_s, typing=typing,
        )
        async with aclosing(self._engine.handle(incoming, place=turn)) as events:
            await renderer.render(events)

    async def _typing(self, channel_id: int) -> None:
        if self._client is not None:
            await self._client.http.send_typing(channel_id)

    async def _notify(self, surface: Surface, text: str) -> None:
        try:
            await self._sender.call(
                surface.key, lambda: surface.send(cut(text, MESSAGE_LIMIT)), wait=True,
                what="send",
            )
        except (discord.HTTPException, ChatGone) as exc:
            log.info("could not notify channel=%s: %s", surface.key, exc)

    # --- messages the core sends on its own (jobs) -------------------------------------------

    def _channel_of(self, dest: Destination) -> int:
        return int(dest.thread_id or dest.chat_id)

    async def send(self, dest: Destination, events: Sequence[ReplyEvent]) -> list[str]:
        """Send ``events`` to a channel, thread or DM outside a reply (a finished job)."""
        client = self._client
        if client is None:
            raise NothingSent("discord is not running")

        async def stream() -> AsyncIterator[ReplyEvent]:
            for event in events:
                yield event

        renderer = ReplyRenderer(
            self._sender, ChannelSurface(client, self._channel_of(dest)), self._buttons,
            interval_s=self._config.edit_interval_s, tolerant=False,
        )
        try:
            await renderer.render(stream())
        except TextLost:
            raise
        except Exception as exc:
            if not renderer.message_ids:
                raise NothingSent(str(exc)) from exc  # safe to try again later
            raise
        if renderer.gone and not renderer.message_ids:
            raise NothingSent(f"channel {self._channel_of(dest)} cannot be written to")
        return renderer.message_ids

    async def edit_text(
        self, dest: Destination, message_id: str, text: str, *, final: bool
    ) -> bool:
        client = self._client
        if client is None:
            return False
        channel = self._channel_of(dest)
        message = client.get_partial_messageable(channel).get_partial_message(int(message_id))
        try:
            await self._sender.call(
                str(channel), lambda: message.edit(content=cut(text, MESSAGE_LIMIT)),
                wait=final, what="edit", idempotent=True,
            )
        except (Skipped, ChatGone, discord.NotFound):
            return False
        return True


class _Closed:
    """The socket discord.ConnectionClosed wants, when the gateway task ended quietly."""

    close_code = 1000


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
