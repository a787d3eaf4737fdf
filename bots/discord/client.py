"""The discord.py client relaybot runs: intents, sharding, the API and gateway it talks to, and
start-up failures worded for the admin (never with the token)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bots.discord.settings import DiscordSettings
from core.config.fields import without_userinfo
from core.errors import CredentialsError, StartupError

PORTAL = "https://discord.com/developers/applications"


class GatewayUnreachable(Exception):
    """No READY from the gateway within ``discord.connect_timeout_s`` at start-up."""


class Hooks:
    """What the client calls back into the adapter."""

    def __init__(
        self,
        setup: Callable[[discord.Client], Awaitable[None]],
        connect: Callable[[], None],
        ready: Callable[[], None],
        message: Callable[[discord.Message], Awaitable[None]],
    ) -> None:
        self.setup = setup
        self.connect = connect  # the gateway answered our IDENTIFY (READY arrived)
        self.ready = ready  # ...and the servers are loaded
        self.message = message


class QuietReconnects(logging.Filter):
    """discord.py logs each gateway reconnect attempt as an ERROR with a traceback; for the
    admin that is one WARNING line saying what broke (added to ``discord.client`` while the
    adapter runs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Attempting a reconnect") and record.exc_info:
            exc = record.exc_info[1]
            record.msg = "gateway connection lost (%s: %s); reconnecting in %.2fs"
            record.args = (type(exc).__name__, exc, *(record.args or ()))  # type: ignore[misc]
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


RECONNECT_LOGGER = logging.getLogger("discord.client")


def point_at(config: DiscordSettings) -> None:
    """Point discord.py at ``discord.api_base`` and ``discord.gateway_url``. Both are
    process-global class attributes of discord.py, set on every start (never on import)."""
    Route.BASE = config.api_base.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(config.gateway_url)


def intents(config: DiscordSettings) -> discord.Intents:
    """Servers, their messages and DMs; Message Content (privileged) when configured."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = config.message_content
    return wanted


def build_client(config: DiscordSettings, hooks: Hooks) -> discord.Client:
    """A ``Client``, or an ``AutoShardedClient`` running ``shard_ids`` of ``shard_count``."""
    base: type[discord.Client] = discord.Client
    kwargs: dict[str, Any] = {
        "intents": intents(config),
        "guild_ready_timeout": config.guild_ready_timeout_s,
        "chunk_guilds_at_startup": False,
        "member_cache_flags": discord.MemberCacheFlags.none(),
        "allowed_mentions": discord.AllowedMentions.none(),
    }
    if config.shard_count is not None:
        base = discord.AutoShardedClient
        kwargs["shard_count"] = config.shard_count
        if config.shard_ids:
            kwargs["shard_ids"] = list(config.shard_ids)

    class RelayClient(base):  # type: ignore[valid-type,misc]
        async def setup_hook(self) -> None:
            await hooks.setup(self)

        async def on_connect(self) -> None:
            hooks.connect()

        async def on_ready(self) -> None:
            hooks.ready()

        async def on_message(self, message: discord.Message) -> None:
            await hooks.message(message)

    client: discord.Client = RelayClient(**kwargs)
    return client


def startup_error(exc: BaseException, config: DiscordSettings) -> BaseException:
    """``exc`` from start-up as one line for the admin that names what to fix."""
    api = without_userinfo(config.api_base)
    if isinstance(exc, discord.LoginFailure) or (
        isinstance(exc, discord.ConnectionClosed) and exc.code == 4004
    ):
        return CredentialsError(
            f"Discord rejected discord.token (or discord.api_base {api} is not the Discord "
            f"API); copy the bot's token again from the developer portal ({PORTAL}, Bot → "
            "Reset Token)"
        )
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return CredentialsError(privileged_intents_text())
    if isinstance(exc, discord.ConnectionClosed):
        return StartupError(
            f"the Discord gateway {config.gateway_url} closed the connection (code {exc.code}); "
            "check discord.gateway_url, discord.shard_count and discord.shard_ids"
        )
    if isinstance(exc, aiohttp.ClientError | OSError | TimeoutError):
        return StartupError(
            f"cannot reach the Discord API at {api} ({type(exc).__name__}); check the network "
            "and discord.api_base"
        )
    if isinstance(exc, GatewayUnreachable):
        return StartupError(
            f"cannot reach the Discord gateway at {config.gateway_url} within "
            f"{config.connect_timeout_s:g}s; check the network and discord.gateway_url"
        )
    if isinstance(exc, discord.HTTPException):
        return StartupError(
            f"Discord refused to start the bot ({exc.status} {exc.code}); check discord.api_base"
        )
    return exc


def privileged_intents_text() -> str:
    return (
        "Discord refused the Message Content intent (gateway close 4014): turn on "
        f"\"Message Content Intent\" under Bot → Privileged Gateway Intents in the developer "
        f"portal ({PORTAL}), or set discord.message_content: false (the bot then reads only "
        "DMs, mentions and replies to it)"
    )


async def sync_commands(
    tree: app_commands.CommandTree[Any], guild_ids: tuple[int, ...]
) -> list[str]:
    """Register the slash commands: in each of ``guild_ids`` at once (and none globally),
    else globally. Returns where it failed (a server the bot is not in), for the log."""
    failed: list[str] = []
    if not guild_ids:
        await tree.sync()
        return failed
    for gid in guild_ids:
        guild = discord.Object(id=gid)
        tree.copy_global_to(guild=guild)
        try:
            await tree.sync(guild=guild)
        except discord.HTTPException as exc:
            failed.append(f"{gid} ({exc.status} {exc.code})")
    # Instead of globally: global copies from an earlier run would show twice there.
    tree.clear_commands(guild=None)
    await tree.sync()
    return failed
