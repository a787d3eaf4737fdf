"""A bare discord.py client that records what it receives, and a small world to run it in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import discord

from tests.fake_discord.harness import intents, serving
from tests.fake_discord.models import Channel, Guild, User
from tests.fake_discord.server import FakeDiscord


@dataclass
class World:
    fake: FakeDiscord
    guild: Guild
    general: Channel
    alice: User


@asynccontextmanager
async def small_world() -> AsyncIterator[World]:
    """One guild "Relay Lab" with #general and member alice, served on loopback."""
    fake = FakeDiscord()
    guild = fake.add_guild("Relay Lab")
    general = fake.add_channel(guild.id, "general")
    alice = fake.add_user("alice")
    fake.add_member(guild.id, alice)
    async with serving(fake):
        yield World(fake, guild, general, alice)


class Recorder(discord.Client):
    """Keeps every message and raw event it gets; ``await seen(pred)`` waits without sleeps."""

    def __init__(self, message_content: bool = True) -> None:
        super().__init__(intents=intents(message_content), guild_ready_timeout=0.05)
        self.seen: list[discord.Message] = []
        self.events: list[tuple[str, Any]] = []
        self.changed = asyncio.Condition()

    async def _record(self, item: Callable[[], None]) -> None:
        async with self.changed:
            item()
            self.changed.notify_all()

    async def on_message(self, message: discord.Message) -> None:
        await self._record(lambda: self.seen.append(message))

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self._record(lambda: self.events.append(("edit", payload)))

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self._record(lambda: self.events.append(("delete", payload)))

    async def on_thread_create(self, thread: discord.Thread) -> None:
        await self._record(lambda: self.events.append(("thread", thread)))

    async def on_ready(self) -> None:
        await self._record(lambda: self.events.append(("ready", None)))

    async def until(self, predicate: Callable[[], Any], timeout: float = 5) -> Any:  # noqa: ASYNC109
        async with self.changed:
            return await asyncio.wait_for(self.changed.wait_for(predicate), timeout)

    async def message(self, message_id: int) -> discord.Message:
        """Until on_message saw ``message_id``."""
        await self.until(lambda: any(m.id == message_id for m in self.seen))
        return next(m for m in self.seen if m.id == message_id)

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.events if k == kind)
