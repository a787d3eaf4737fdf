"""The REST route table under /api/v10, and the bot's identity, users and guilds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.fake_discord import channels, commands, messages
from tests.fake_discord.models import Call
from tests.fake_discord.payloads import member_json, role_json, user_json
from tests.fake_discord.routing import Handler, Result
from tests.fake_discord.rules import DiscordError

if TYPE_CHECKING:
    from tests.fake_discord.server import FakeDiscord


async def get_me(fake: FakeDiscord, call: Call) -> Result:
    return 200, {**user_json(fake.bot), "verified": True, "mfa_enabled": False, "locale": "en-US"}


async def get_application(fake: FakeDiscord, call: Call) -> Result:
    owner = {**user_json(fake.owner), "bot": False}
    return 200, {
        "id": str(fake.app_id),
        "name": fake.bot.name,
        "icon": None,
        "description": "",
        "rpc_origins": [],
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": owner,
        "team": None,
        "verify_key": "00" * 32,
        "flags": fake.application_flags,
        "bot": user_json(fake.bot),
    }


async def get_gateway_bot(fake: FakeDiscord, call: Call) -> Result:
    return 200, {
        "url": fake.gateway.url.rstrip("/"),
        "shards": 1,
        "session_start_limit": {
            "total": 1000,
            "remaining": 999,
            "reset_after": 14400000,
            "max_concurrency": 1,
        },
    }


async def get_gateway(fake: FakeDiscord, call: Call) -> Result:
    return 200, {"url": fake.gateway.url.rstrip("/")}


async def get_user(fake: FakeDiscord, call: Call) -> Result:
    user = fake.users.get(int(call.params["user_id"]))
    if user is None:
        raise DiscordError(404, 10013, "Unknown User")
    return 200, user_json(user)


async def get_guild(fake: FakeDiscord, call: Call) -> Result:
    guild = fake.guilds.get(int(call.params["guild_id"]))
    if guild is None:
        raise DiscordError(404, 10004, "Unknown Guild")
    data = fake.guild_payload(guild)
    for key in ("members", "channels", "threads", "voice_states", "presences"):
        data.pop(key, None)
    return 200, data


async def get_member(fake: FakeDiscord, call: Call) -> Result:
    guild = fake.guilds.get(int(call.params["guild_id"]))
    if guild is None:
        raise DiscordError(404, 10004, "Unknown Guild")
    user = fake.users.get(int(call.params["user_id"]))
    if user is None or user.id not in guild.members:
        raise DiscordError(404, 10007, "Unknown Member")
    return 200, member_json(guild, user)


async def get_roles(fake: FakeDiscord, call: Call) -> Result:
    guild = fake.guilds.get(int(call.params["guild_id"]))
    if guild is None:
        raise DiscordError(404, 10004, "Unknown Guild")
    return 200, role_json(guild, fake.bot.id)


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/users/@me", get_me),
    ("GET", "/oauth2/applications/@me", get_application),
    ("GET", "/applications/@me", get_application),
    ("GET", "/gateway/bot", get_gateway_bot),
    ("GET", "/gateway", get_gateway),
    ("PUT", "/applications/{app_id}/commands", commands.put_global_commands),
    ("GET", "/applications/{app_id}/commands", commands.get_global_commands),
    ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", commands.put_guild_commands),
    ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", commands.get_guild_commands),
    ("GET", "/channels/{channel_id}", channels.get_channel),
    ("PATCH", "/channels/{channel_id}", channels.edit_channel),
    ("PUT", "/channels/{channel_id}/thread-members/@me", channels.join_thread),
    ("GET", "/channels/{channel_id}/messages", messages.history),
    ("GET", "/users/{user_id}", get_user),
    ("POST", "/channels/{channel_id}/messages", messages.create_message),
    ("GET", "/channels/{channel_id}/messages/{message_id}", messages.get_message),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}", messages.edit_message),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}", messages.delete_message),
    ("POST", "/channels/{channel_id}/typing", messages.typing),
    (
        "PUT",
        "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
        messages.add_reaction,
    ),
    ("POST", "/channels/{channel_id}/messages/{message_id}/threads", channels.thread_from_message),
    ("POST", "/channels/{channel_id}/threads", channels.thread_without_message),
    ("POST", "/users/@me/channels", channels.open_dm),
    ("GET", "/guilds/{guild_id}", get_guild),
    ("GET", "/guilds/{guild_id}/members/{user_id}", get_member),
    ("GET", "/guilds/{guild_id}/roles", get_roles),
]
