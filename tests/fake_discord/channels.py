"""Channels: read and edit, threads (from a message or not), DMs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.fake_discord import rules
from tests.fake_discord.messages import build_message, find_message
from tests.fake_discord.models import (
    DM,
    GUILD_FORUM,
    GUILD_NEWS,
    GUILD_TEXT,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    Call,
)
from tests.fake_discord.routing import Result
from tests.fake_discord.rules import DiscordError

if TYPE_CHECKING:
    from tests.fake_discord.server import FakeDiscord


async def get_channel(fake: FakeDiscord, call: Call) -> Result:
    chan = fake.channel(int(call.params["channel_id"]))
    return 200, fake.channel_payload(chan)


async def thread_from_message(fake: FakeDiscord, call: Call) -> Result:
    channel_id = int(call.params["channel_id"])
    msg = find_message(fake, channel_id, int(call.params["message_id"]))
    chan = fake.channel(channel_id)
    if chan.type not in (GUILD_TEXT, GUILD_NEWS):  # not in threads, DMs, voice chats
        raise DiscordError(400, 50024, "Cannot execute action on this channel type")
    if "create_public_threads" in chan.denied or "view_channel" in chan.denied:
        raise rules.missing_permissions()
    if msg.thread_id is not None:
        raise rules.thread_exists()
    name = _thread_name(call)
    thread = fake.add_thread(channel_id, name, message_id=msg.id)
    return 201, fake.channel_payload(thread)


async def thread_without_message(fake: FakeDiscord, call: Call) -> Result:
    channel_id = int(call.params["channel_id"])
    chan = fake.channel(channel_id)
    if chan.type not in (GUILD_TEXT, GUILD_NEWS, GUILD_FORUM):
        raise DiscordError(400, 50024, "Cannot execute action on this channel type")
    body = call.json if isinstance(call.json, dict) else {}
    if chan.type == GUILD_FORUM:
        return await _forum_post(fake, chan.id, call, body)
    private = int(body.get("type") or PRIVATE_THREAD) == PRIVATE_THREAD
    need = "create_private_threads" if private else "create_public_threads"
    if need in chan.denied:
        raise rules.missing_permissions()
    kind = PRIVATE_THREAD if private else PUBLIC_THREAD
    thread = fake.add_thread(channel_id, _thread_name(call), private=kind == PRIVATE_THREAD)
    return 201, fake.channel_payload(thread)


async def _forum_post(fake: FakeDiscord, forum_id: int, call: Call, body: dict[str, Any]) -> Result:
    """A forum post: a public thread whose starter message (same id) is ``body["message"]``."""
    if "create_public_threads" in fake.channel(forum_id).denied:
        raise rules.missing_permissions()
    first = body.get("message")
    if not isinstance(first, dict):
        raise rules.invalid_form("message", "BASE_TYPE_REQUIRED", "This field is required")
    name = _thread_name(call)
    thread_id = fake.ids.next()
    sub = Call(call.method, call.route, call.path, call.params, call.query, first, call.files)
    thread_stub = fake.add_thread(forum_id, name, message_id=None, thread_id=thread_id)
    msg = build_message(fake, thread_stub.id, thread_stub.guild_id, sub)
    msg.id = thread_id
    fake.store_message(msg)
    data = fake.channel_payload(thread_stub)
    data["message"] = fake.message_payload(msg)
    return 201, data


def _thread_name(call: Call) -> str:
    body = call.json if isinstance(call.json, dict) else {}
    name = str(body.get("name") or "")
    if not 1 <= len(name) <= 100:
        raise rules.max_length("name", 100)
    return name


async def edit_channel(fake: FakeDiscord, call: Call) -> Result:
    """Rename, or (threads) archive/unarchive; CHANNEL_UPDATE / THREAD_UPDATE follows."""
    chan = fake.channel(int(call.params["channel_id"]))
    body = call.json if isinstance(call.json, dict) else {}
    if chan.type == DM:
        raise DiscordError(400, 50024, "Cannot execute action on this channel type")
    if "manage_threads" in chan.denied and not (chan.is_thread and chan.owner_id == fake.bot.id):
        raise rules.missing_permissions()
    if "name" in body:
        chan.name = _thread_name(call)
    if chan.is_thread and "archived" in body:
        chan.archived = bool(body["archived"])
    fake.changed_channel(chan)
    return 200, fake.channel_payload(chan)


async def join_thread(fake: FakeDiscord, call: Call) -> Result:
    chan = fake.channel(int(call.params["channel_id"]))
    if not chan.is_thread:
        raise DiscordError(400, 50024, "Cannot execute action on this channel type")
    return 204, None


async def open_dm(fake: FakeDiscord, call: Call) -> Result:
    body = call.json if isinstance(call.json, dict) else {}
    user = fake.users.get(int(body.get("recipient_id") or 0))
    if user is None:
        raise rules.invalid_form("recipient_id", "NUMBER_TYPE_COERCE", "Unknown user")  # APPROX
    return 200, fake.channel_payload(fake.dm_channel(user))
