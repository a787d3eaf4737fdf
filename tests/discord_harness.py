"""Runs relaybot's Discord adapter through its own start-up path against the fake Discord
(tests/fake_discord) and the fake relay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import discord
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bots.app import App, build_adapters, serve
from bots.discord.adapter import DiscordAdapter
from core.config.settings import Settings
from tests.conftest import make_settings
from tests.fake_discord import Channel, FakeDiscord, Guild, User, serving
from tests.fake_relay import FakeRelay

T = TypeVar("T")

JOBS = (
    "jobs:\n  mj_poll_interval_s: 0.05\n  suno_poll_interval_s: 0.05\n"
    "  video_poll_interval_s: 0.05\n  media_timeout_s: 10\n"
)


def discord_config(fake: FakeDiscord, extra: str = "", limits: str = "") -> str:
    """A discord section pointing at ``fake``; fast pacing, generous limits unless told."""
    limits = limits or "    per_channel: 1000\n    window_s: 1\n    global_per_s: 1000\n"
    return (
        "discord:\n"
        "  enabled: true\n"
        f"  token: {fake.token}\n"
        f"  api_base: {fake.api_base}\n"
        f"  gateway_url: {fake.gateway_url}\n"
        "  guild_ready_timeout_s: 0.05\n"
        "  edit_interval_s: 0.05\n"
        f"{extra}"
        "  limits:\n"
        f"{limits}"
    )


def bot_settings(
    tmp_path: Path, relay: FakeRelay, fake: FakeDiscord, extra: str = "", limits: str = "",
    more: str = "",
) -> Settings:
    return make_settings(tmp_path, relay.url, JOBS + more + discord_config(fake, extra, limits))


@dataclass
class World:
    """A fake Discord with one server, its #general channel, and two members."""

    fake: FakeDiscord
    guild: Guild
    general: Channel
    alice: User
    bob: User


@asynccontextmanager
async def world() -> AsyncIterator[World]:
    fake = FakeDiscord()
    guild = fake.add_guild("Relay Lab")
    general = fake.add_channel(guild.id, "general")
    alice = fake.add_user("alice", locale="en-US")
    bob = fake.add_user("bob", locale="zh-CN")
    fake.add_member(guild.id, alice)
    fake.add_member(guild.id, bob)
    async with serving(fake):
        yield World(fake, guild, general, alice, bob)


@contextmanager
def restored_endpoints() -> Iterator[None]:
    """discord.py's process-global endpoints as they were before the block."""
    old = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old


@asynccontextmanager
async def running_bot(
    settings: Settings, platforms: Sequence[str] = ("discord",)
) -> AsyncIterator[App]:
    """``relaybot run`` in-process: App, the registered adapters, serve() until the block
    ends; the block starts once every adapter has started (Discord: after READY)."""
    stop = asyncio.Event()
    with restored_endpoints():
        async with App(settings) as app:
            adapters = build_adapters(app, list(platforms))
            serving_task = asyncio.create_task(serve(adapters, stop=stop, jobs=app.jobs))
            try:
                await until(lambda: all(app.outbox.available(n) for n in platforms)
                            or serving_task.done())
                if serving_task.done():
                    serving_task.result()  # raises why start-up failed
                yield app
            finally:
                stop.set()
                await asyncio.wait_for(serving_task, 30)


def adapter_of(app: App) -> DiscordAdapter:
    return next(a for a in app.adapters if isinstance(a, DiscordAdapter))


async def until(predicate: Callable[[], T], limit_s: float = 10) -> T:
    """Wait for a condition the fake cannot see (state inside relaybot), re-checked on each
    turn of the event loop: no fixed sleep stands in for it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


def bot_texts(fake: FakeDiscord, channel_id: int) -> list[str]:
    """The bot's messages in a channel as they read now."""
    return fake.texts(channel_id)


def client_of(app: App) -> discord.Client:
    client = adapter_of(app).client
    assert client is not None
    return client
