"""Application commands: bulk overwrite (PUT) and read (GET), global and per guild."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.fake_discord import rules
from tests.fake_discord.models import Call
from tests.fake_discord.routing import Result
from tests.fake_discord.rules import DiscordError

if TYPE_CHECKING:
    from tests.fake_discord.server import FakeDiscord


def _stored_commands(fake: FakeDiscord, body: Any, guild_id: int | None) -> list[dict[str, Any]]:
    if not isinstance(body, list):
        raise rules.invalid_form("_", "LIST_TYPE_CONVERT", "Must be a list.")
    rules.check_commands(body, is_global=guild_id is None)
    old = {c["name"]: c for c in fake.commands(guild_id)}
    stored = []
    for cmd in body:
        kept = old.get(cmd["name"])
        stored.append(
            {
                "type": 1,
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "dm_permission": True,
                "nsfw": False,
                "contexts": None,
                "integration_types": [0],
                **cmd,
                "id": kept["id"] if kept else str(fake.ids.next()),
                "application_id": str(fake.app_id),
                "version": str(fake.ids.next()),
                **({"guild_id": str(guild_id)} if guild_id else {}),
            }
        )
    fake.command_syncs.append((guild_id, body))
    if guild_id is None:
        fake.global_commands = stored
    else:
        fake.guild_commands[guild_id] = stored
    return stored


async def put_global_commands(fake: FakeDiscord, call: Call) -> Result:
    _check_app(fake, call)
    return 200, _stored_commands(fake, call.json, None)


async def get_global_commands(fake: FakeDiscord, call: Call) -> Result:
    _check_app(fake, call)
    return 200, fake.global_commands


async def put_guild_commands(fake: FakeDiscord, call: Call) -> Result:
    _check_app(fake, call)
    guild_id = int(call.params["guild_id"])
    if guild_id not in fake.guilds:
        raise rules.missing_access()
    return 200, _stored_commands(fake, call.json, guild_id)


async def get_guild_commands(fake: FakeDiscord, call: Call) -> Result:
    _check_app(fake, call)
    return 200, fake.guild_commands.get(int(call.params["guild_id"]), [])


def _check_app(fake: FakeDiscord, call: Call) -> None:
    if call.params.get("app_id") != str(fake.app_id):
        raise DiscordError(
            403, 20012, "You are not authorized to perform this action on this application"
        )
