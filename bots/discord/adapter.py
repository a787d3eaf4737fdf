"""Discord adapter: start-up (login, slash commands, persistent buttons, gateway READY), stop,
and the wiring of discord.py's events to the engine and of the outbox to Discord."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bots.discord.addressing import PLATFORM
from bots.discord.answer import Answerer
from bots.discord.client import (
    RECONNECT_LOGGER,
    GatewayUnreachable,
    Hooks,
    QuietReconnects,
    build_client,
    point_at,
    privileged_intents_text,
    startup_error,
    sync_commands,
)
from bots.discord.commands import Texts, slash_commands
from bots.discord.components import action_button_class
from bots.discord.events import Events
from bots.discord.send import DiscordSender
from bots.discord.settings import DiscordSettings
from bots.discord.sink import JobSink
from bots.discord.traits import discord_traits
from bots.shared.flood import FloodGate, Rules, Window
from core.config.settings import Settings
from core.engine.engine import Engine
from core.platform.outbox import Destination, NothingSent, Outbox
from core.platform.types import ReplyEvent

log = logging.getLogger("relaybot.discord")

READY_WAIT_S = 60.0  # start-up waits this long for the gateway's READY, then goes on
STOP_WAIT_S = 30.0  # replies in flight get this long at a stop
CLOSE_WAIT_S = 5.0  # ...and the gateway task this long to end after close()


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
        self._events: Events | None = None
        self._sink: JobSink | None = None
        self._session: aiohttp.ClientSession | None = None
        self._connection: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None
        self._reached: asyncio.Event | None = None
        self._tree: app_commands.CommandTree[Any] | None = None
        self._running = False
        self._quiet = QuietReconnects()

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
        """A config reload: what applies live (trigger words) applies to the next message."""
        self._settings = settings
        self._config = settings.section(PLATFORM, DiscordSettings)

    async def start(self) -> None:
        """Log in, register the slash commands, connect to the gateway and wait for READY. A
        failure undoes what started and raises an error that names what to fix."""
        config = self._config
        point_at(config)
        RECONNECT_LOGGER.addFilter(self._quiet)
        self._ready, self._reached = asyncio.Event(), asyncio.Event()
        self._session = session = aiohttp.ClientSession()
        hooks = Hooks(self._setup, self._reached.set, self._ready.set, self._on_message)
        client = build_client(config, hooks)
        self._client = client
        answerer = Answerer(
            self._engine, client, self._sender, self._buttons, session, lambda: self._config
        )
        self._events = Events(
            client, self._engine, answerer, lambda: self._config,
            lambda: self._settings.language, config.max_concurrent_updates,
        )
        self._sink = JobSink(client, self._sender, self._buttons,
                             lambda: self._config.edit_interval_s)
        try:
            await client.login(config.token)  # GET /users/@me: a wrong token fails here
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
        self._running = True
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
        assert self._tree is not None  # made by the setup hook during login
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
        """Until the gateway answered (else ``GatewayUnreachable`` after
        ``discord.connect_timeout_s``) and the servers are loaded (else a warning after
        ``READY_WAIT_S``: a bot in very many servers may take longer; it goes on)."""
        assert self._ready is not None and self._reached is not None
        if not await self._until(self._reached, connection, self._config.connect_timeout_s):
            raise GatewayUnreachable()
        if not await self._until(self._ready, connection, READY_WAIT_S):
            log.warning("the Discord gateway is not ready after %gs; still trying", READY_WAIT_S)

    @staticmethod
    async def _until(event: asyncio.Event, connection: asyncio.Task[None], limit: float) -> bool:
        """Whether ``event`` was set within ``limit`` seconds; raises if the gateway task
        ended first (why the gateway refused us)."""
        waiter = asyncio.create_task(event.wait())
        try:
            done, _ = await asyncio.wait(
                {waiter, connection}, timeout=limit, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiter.cancel()
        if connection in done:
            exc = connection.exception()
            if exc is None:
                raise discord.ConnectionClosed(_Closed(), shard_id=None, code=1000)
            if isinstance(exc, discord.ClientException | discord.ConnectionClosed):
                raise exc  # a refusal with a meaning (4004, 4014...)
            # discord.py gives up on a gateway it never reached with whatever broke in its
            # retry (even an AttributeError): for the admin, the gateway is unreachable.
            raise GatewayUnreachable() from exc
        return waiter in done

    def _connection_ended(self, task: asyncio.Task[None]) -> None:
        """The gateway task ended while running (it reconnects by itself otherwise)."""
        if task.cancelled() or not self._running:
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
        self._running = False
        if self._outbox is not None:
            self._outbox.unregister(PLATFORM)
        if self._events is not None and not await self._events.drain(STOP_WAIT_S):
            log.warning("discord replies still running after %ss; stopping", STOP_WAIT_S)
        await self._close()
        log.info("discord stopped")

    async def _close(self) -> None:
        self._running = False
        if self._events is not None:
            self._events.accepting = False
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
        RECONNECT_LOGGER.removeFilter(self._quiet)

    # --- events (discord.py calls these) ----------------------------------------------------

    async def _on_message(self, message: discord.Message) -> None:
        if self._events is not None:
            await self._events.on_message(message)

    async def _on_slash(
        self, interaction: discord.Interaction[Any], text: str, files: list[discord.Attachment]
    ) -> None:
        if self._events is not None:
            await self._events.on_slash(interaction, text, files)

    async def _on_press(self, interaction: discord.Interaction[Any], token: str) -> None:
        if self._events is not None:
            await self._events.on_press(interaction, token)

    async def _on_tree_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        log.error("slash command failed: %s", error, exc_info=error)

    # --- the outbox's sink (job progress and results) ----------------------------------------

    async def send(self, dest: Destination, events: Sequence[ReplyEvent]) -> list[str]:
        if self._sink is None or not self._running:
            raise NothingSent("discord is not running")
        return await self._sink.send(dest, events)

    async def edit_text(
        self, dest: Destination, message_id: str, text: str, *, final: bool
    ) -> bool:
        if self._sink is None or not self._running:
            return False
        return await self._sink.edit_text(dest, message_id, text, final=final)


class _Closed:
    """The socket discord.ConnectionClosed wants, when the gateway task ended quietly."""

    close_code = 1000


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
