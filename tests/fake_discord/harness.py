"""Starting the fake, and running a bare discord.py client against it.

The seam: discord.py has no constructor argument for its REST base or gateway URL; both are
class attributes (``discord.http.Route.BASE``, ``discord.gateway.DiscordWebSocket.
DEFAULT_GATEWAY``, platforms.md 2.1). The adapter sets them from its config (``api_base``,
``gateway_url``) on every start; for bare clients in tests, :func:`pointed_at` sets them here
and restores the defaults afterwards. Nothing else in discord.py is changed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import TypeVar

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.fake_discord.server import FakeDiscord

ClientT = TypeVar("ClientT", bound=discord.Client)


@asynccontextmanager
async def serving(fake: FakeDiscord | None = None) -> AsyncIterator[FakeDiscord]:
    """The fake on 127.0.0.1:<ephemeral port>; ``fake.api_base`` / ``fake.gateway_url``."""
    fake = fake or FakeDiscord()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@asynccontextmanager
async def pointed_at(api_base: str, gateway_url: str) -> AsyncIterator[None]:
    """discord.py's two process-global endpoints, for the block (the adapter's own seam)."""
    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway


def intents(message_content: bool = True) -> discord.Intents:
    """What the adapter asks for: guilds, guild and DM messages, optionally message content."""
    value = discord.Intents.none()
    value.guilds = True
    value.guild_messages = True
    value.dm_messages = True
    value.message_content = message_content
    return value


def new_client(message_content: bool = True) -> discord.Client:
    return discord.Client(intents=intents(message_content), guild_ready_timeout=0.05)


@asynccontextmanager
async def running(
    fake: FakeDiscord, client: ClientT, token: str | None = None
) -> AsyncIterator[ClientT]:
    """``client.start()`` against ``fake`` until it is ready; closed when the block ends.

    A start that fails (bad token, 4014) raises here, from the client's own exception."""
    async with pointed_at(fake.api_base, fake.gateway_url):
        task = asyncio.create_task(client.start(token or fake.token))
        ready = asyncio.create_task(client.wait_until_ready())
        try:
            done, _ = await asyncio.wait(
                {task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED
            )
            if task in done:
                task.result()  # raises the start-up failure
                raise AssertionError("discord.py client stopped before it was ready")
            if ready not in done:
                raise AssertionError("discord.py client not ready within 10 s")
            yield client
        finally:
            ready.cancel()
            await client.close()
            with suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)


async def start_failure(
    fake: FakeDiscord, client: discord.Client, token: str | None = None
) -> BaseException:
    """The exception ``client.start()`` ends with against ``fake`` (a start that must fail)."""
    async with pointed_at(fake.api_base, fake.gateway_url):
        try:
            await asyncio.wait_for(client.start(token or fake.token), 10)
        except Exception as exc:  # the test asserts its type
            return exc
        finally:
            await client.close()
    raise AssertionError("client.start() returned without an error")
