"""FakeState: what the fake Discord knows and records, and the waiting helper tests use."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections import Counter
from collections.abc import Callable
from typing import Any

from tests.fake_discord.models import (
    Call,
    Channel,
    Guild,
    InteractionRecord,
    Snowflakes,
    StoredAttachment,
    StoredMessage,
    User,
)
from tests.fake_discord.payloads import channel_json, guild_json, message_json, user_json
from tests.fake_discord.ratelimits import RateLimits
from tests.fake_discord.rules import unknown_channel

MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")

# Gateway intents (discord-api-docs topics/gateway "List of Intents").
GUILDS = 1 << 0
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15


class FakeState:
    """Users, guilds, channels, messages, interactions and every REST call, with wait_for."""

    def __init__(self, token: str, bot_name: str) -> None:
        self.token = token
        self.ids = Snowflakes()
        self.bot = User(self.ids.next(), bot_name, bot=True)
        self.app_id = self.bot.id  # a bot's application id equals its user id
        self.users: dict[int, User] = {self.bot.id: self.bot}
        self.owner = User(self.ids.next(), "owner", global_name="Owner")  # owns app and guilds
        self.users[self.owner.id] = self.owner
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, StoredMessage] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self.interactions_by_token: dict[str, InteractionRecord] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.command_syncs: list[tuple[int | None, list[dict[str, Any]]]] = []  # (guild, body)
        self.calls: list[Call] = []
        self.attachments: dict[int, StoredAttachment] = {}  # every file, served by the CDN
        self.cdn_gets: list[str] = []  # paths downloaded from the CDN
        self.typing: list[int] = []  # channel ids, one per POST .../typing
        self.reactions: list[tuple[int, str]] = []  # (message id, emoji) the bot added
        self.dms_closed: set[int] = set()  # users whose DMs refuse the bot (403 50007)
        self.limits = RateLimits()
        self.base_url = ""  # http://127.0.0.1:PORT, set when serving
        self._cdn_secret = secrets.token_hex(8)
        self._waiters: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self.emit: Callable[..., None] = lambda *a, **k: None  # the gateway's dispatch

    # -- waiting -----------------------------------------------------------------------------

    def notify(self) -> None:
        """Re-check every wait_for predicate (called after each change: REST call, frame...)."""
        for predicate, future in list(self._waiters):
            if future.done():
                self._waiters.remove((predicate, future))
                continue
            try:
                value = predicate()
            except Exception as exc:  # a broken predicate fails its test, not the fake
                future.set_exception(exc)
                continue
            if value:
                future.set_result(value)

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 5.0,  # noqa: ASYNC109 - waits on a condition, not one awaitable
    ) -> Any:
        """Until ``predicate()`` is truthy (re-checked on every change); returns its value."""
        value = predicate()
        if value:
            return value
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            recent = ", ".join(f"{c.method} {c.path}={c.status}" for c in self.calls[-8:])
            raise AssertionError(
                f"fake Discord: condition not met in {timeout}s; last calls: {recent}"
            ) from None
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    # -- records -----------------------------------------------------------------------------

    def count(self, route: str, status: int | None = None) -> int:
        """REST calls to ``route`` ("POST /channels/{channel_id}/messages"), by status if given."""
        return sum(1 for c in self.calls if c.route == route and status in (None, c.status))

    def routes(self) -> Counter[str]:
        """REST calls per route so far."""
        return Counter(c.route for c in self.calls)

    def invalid_requests(self) -> int:
        """401, 403 and 429 answers: Discord bans an IP after 10,000 of them in 10 minutes."""
        return sum(1 for c in self.calls if c.status in (401, 403, 429))

    def channel_messages(
        self, channel_id: int, *, bot_only: bool = False, deleted: bool = False
    ) -> list[StoredMessage]:
        return [
            m
            for m in self.messages.values()
            if m.channel_id == channel_id
            and (deleted or not m.deleted)
            and (not bot_only or m.author.id == self.bot.id)
        ]

    def bot_messages(self, channel_id: int) -> list[StoredMessage]:
        return self.channel_messages(channel_id, bot_only=True)

    def texts(self, channel_id: int) -> list[str]:
        """The bot's visible texts in a channel, oldest first, as users see them now."""
        return [m.content for m in self.bot_messages(channel_id)]

    def threads(self, parent_id: int | None = None) -> list[Channel]:
        """Threads (of ``parent_id`` if given), oldest first, deleted ones left out."""
        return [
            c
            for c in self.channels.values()
            if c.is_thread and not c.deleted and parent_id in (None, c.parent_id)
        ]

    def commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        return self.global_commands if guild_id is None else self.guild_commands.get(guild_id, [])

    def changed_channel(self, chan: Channel) -> None:
        event = "THREAD_UPDATE" if chan.is_thread else "CHANNEL_UPDATE"
        self.emit(event, self.channel_payload(chan), intent=GUILDS)

    # -- lookups and payloads ----------------------------------------------------------------

    def channel(self, channel_id: int) -> Channel:
        chan = self.channels.get(channel_id)
        if chan is None or chan.deleted:
            raise unknown_channel()
        return chan

    def guild_of(self, chan: Channel) -> Guild | None:
        return self.guilds.get(chan.guild_id) if chan.guild_id else None

    def guild_payload(self, guild: Guild) -> dict[str, Any]:
        chans = [self.channels[c] for c in guild.channel_ids]
        chans += [c for c in self.channels.values() if c.is_thread and c.guild_id == guild.id]
        return guild_json(guild, chans, self.bot, self.users)

    def channel_payload(self, chan: Channel) -> dict[str, Any]:
        return channel_json(chan, self.bot, self.users)

    def message_payload(self, msg: StoredMessage) -> dict[str, Any]:
        guild = self.guilds.get(msg.guild_id) if msg.guild_id else None
        data = message_json(msg, self.users, guild, self.messages)
        thread = self.channels.get(msg.thread_id) if msg.thread_id else None
        if thread is not None and not thread.deleted:
            data["thread"] = self.channel_payload(thread)  # the thread started from it
        rec = self.interactions.get(msg.interaction_id) if msg.interaction_id else None
        if rec is not None:  # who ran the command whose answer this is
            data["interaction_metadata"] = {
                "id": str(rec.id),
                "type": rec.type,
                "user": user_json(rec.user),
                "authorizing_integration_owners": {"0": str(rec.guild_id or 0)},
                **({"name": rec.data.get("name")} if rec.type == 2 else {}),
            }
        return data

    def new_attachment(
        self, channel_id: int, filename: str, data: bytes, content_type: str | None
    ) -> StoredAttachment:
        aid = self.ids.next()
        att = StoredAttachment(
            aid, filename, content_type, data, self.cdn_url(channel_id, aid, filename), channel_id
        )
        self.attachments[aid] = att
        return att

    def cdn_url(self, channel_id: int, attachment_id: int, filename: str) -> str:
        """Like cdn.discordapp.com: signed (ex/is/hm) and refused without the signature."""
        path = f"/attachments/{channel_id}/{attachment_id}/{filename}"
        return f"{self.base_url}{path}?ex=7fffffff&is=00000000&hm={self.cdn_sign(path)}&"

    def cdn_sign(self, path: str) -> str:
        return hashlib.sha256((self._cdn_secret + path).encode()).hexdigest()

    def store_message(self, msg: StoredMessage) -> StoredMessage:
        """Record a new message, count it in its thread, and dispatch MESSAGE_CREATE."""
        self.messages[msg.id] = msg
        chan = self.channels.get(msg.channel_id)
        if chan is not None and chan.is_thread:
            chan.message_count += 1
        if not msg.flags & 64:  # ephemeral messages are not dispatched
            self.emit_message("MESSAGE_CREATE", msg, self.message_payload(msg))
        self.notify()
        return msg

    def emit_message(self, event: str, msg: StoredMessage, data: dict[str, Any]) -> None:
        intent = GUILD_MESSAGES if msg.guild_id else DIRECT_MESSAGES
        self.emit(event, data, intent=intent, content_of=msg)

    def parse_mentions(self, content: str) -> tuple[list[int], list[int], bool]:
        users = [int(m) for m in MENTION.findall(content) if int(m) in self.users]
        roles = [int(m) for m in ROLE_MENTION.findall(content)]
        return list(dict.fromkeys(users)), roles, "@everyone" in content or "@here" in content
