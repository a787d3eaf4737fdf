"""REST routes under /api/v10: the bot's identity, channels, messages, threads, DMs, commands."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tests.fake_discord import rules
from tests.fake_discord.models import DM, PRIVATE_THREAD, PUBLIC_THREAD, Call, StoredMessage
from tests.fake_discord.payloads import member_json, role_json, user_json
from tests.fake_discord.rules import DiscordError

if TYPE_CHECKING:
    from tests.fake_discord.server import FakeDiscord

Result = tuple[int, Any]  # (status, JSON body or None for 204)
Handler = Callable[["FakeDiscord", Call], Awaitable[Result]]


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


# -- commands ---------------------------------------------------------------------------------


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


# -- channels and messages ---------------------------------------------------------------------


async def get_channel(fake: FakeDiscord, call: Call) -> Result:
    chan = fake.channel(int(call.params["channel_id"]))
    return 200, fake.channel_payload(chan)


def _writable(fake: FakeDiscord, channel_id: int) -> int | None:
    """The channel's guild id, after the checks Discord makes before a bot writes there."""
    chan = fake.channel(channel_id)
    if chan.type == DM:
        if chan.recipient_id in fake.dms_closed:
            raise DiscordError(403, 50007, "Cannot send messages to this user")
        return None
    if "view_channel" in chan.denied:
        raise rules.missing_access()
    needed = "send_messages_in_threads" if chan.is_thread else "send_messages"
    if needed in chan.denied:
        raise rules.missing_permissions()
    if chan.is_thread and chan.archived:
        chan.archived = False  # sending to an archived (unlocked) thread reopens it
    return chan.guild_id


def build_message(
    fake: FakeDiscord, channel_id: int, guild_id: int | None, call: Call
) -> StoredMessage:
    """A new message from a create body (JSON or multipart payload_json + files[n])."""
    body = call.json if isinstance(call.json, dict) else {}
    rules.check_message(body, files=len(call.files))
    chan = fake.channels.get(channel_id)
    if call.files and chan is not None and "attach_files" in chan.denied:
        raise rules.missing_permissions()
    content = body.get("content") or ""
    mentions, roles, everyone = fake.parse_mentions(content)
    msg = StoredMessage(
        id=fake.ids.next(),
        channel_id=channel_id,
        guild_id=guild_id,
        author=fake.bot,
        content=content,
        embeds=list(body.get("embeds") or []),
        components=list(body.get("components") or []),
        attachments=attachments_of(fake, channel_id, guild_id, call, body),
        mentions=mentions,
        mention_roles=roles,
        mention_everyone=everyone,
        flags=int(body.get("flags") or 0) & (4 | 64 | 4096),
        tts=bool(body.get("tts")),
    )
    ref = body.get("message_reference")
    if ref:
        target = fake.messages.get(int(ref.get("message_id", 0)))
        if target is None or target.deleted:
            if ref.get("fail_if_not_exists", True):
                raise rules.invalid_form(
                    "message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )  # APPROX
        else:
            msg.reference = target.id
            msg.type = 19
    return msg


def attachments_of(
    fake: FakeDiscord, channel_id: int, guild_id: int | None, call: Call, body: dict[str, Any]
) -> list[Any]:
    """Uploaded files as stored attachments, refused over the guild's per-file upload limit."""
    guild = fake.guilds.get(guild_id) if guild_id else None
    limit = rules.PREMIUM_UPLOAD_LIMITS[guild.premium_tier if guild else 0]
    if fake.upload_limit is not None:
        limit = fake.upload_limit
    total = sum(len(f.data) for f in call.files)
    if total > rules.REQUEST_LIMIT or any(len(f.data) > limit for f in call.files):
        raise rules.too_large()
    described = {str(a.get("id")): a for a in body.get("attachments") or [] if "id" in a}
    out = []
    for f in call.files:
        index = f.field.removeprefix("files[").removesuffix("]")
        meta = described.get(index, {})
        att = fake.new_attachment(
            channel_id, meta.get("filename") or f.filename, f.data, f.content_type
        )
        att.description = meta.get("description")
        out.append(att)
    return out


async def create_message(fake: FakeDiscord, call: Call) -> Result:
    channel_id = int(call.params["channel_id"])
    guild_id = _writable(fake, channel_id)
    msg = build_message(fake, channel_id, guild_id, call)
    fake.store_message(msg)
    return 200, fake.message_payload(msg)


def find_message(fake: FakeDiscord, channel_id: int, message_id: int) -> StoredMessage:
    fake.channel(channel_id)
    msg = fake.messages.get(message_id)
    if msg is None or msg.deleted or msg.channel_id != channel_id:
        raise rules.unknown_message()
    return msg


async def get_message(fake: FakeDiscord, call: Call) -> Result:
    msg = find_message(fake, int(call.params["channel_id"]), int(call.params["message_id"]))
    return 200, fake.message_payload(msg)


def apply_edit(fake: FakeDiscord, msg: StoredMessage, call: Call) -> None:
    """PATCH semantics: given fields replace; ``attachments`` names what is kept."""
    body = call.json if isinstance(call.json, dict) else {}
    rules.check_message(body, files=len(call.files), edit=True)
    content = (body.get("content") or "") if "content" in body else msg.content
    embeds = list(body.get("embeds") or []) if "embeds" in body else msg.embeds
    components = list(body.get("components") or []) if "components" in body else msg.components
    kept = msg.attachments
    if "attachments" in body:
        names = {str(a.get("id")) for a in body["attachments"] or []}
        kept = [a for a in msg.attachments if str(a.id) in names]
    attachments = kept + attachments_of(fake, msg.channel_id, msg.guild_id, call, body)
    if not (content or embeds or attachments or components):
        raise rules.empty_message()
    msg.edits.append(msg.snapshot())
    msg.content, msg.embeds, msg.components, msg.attachments = (
        content,
        embeds,
        components,
        attachments,
    )
    msg.mentions, msg.mention_roles, msg.mention_everyone = fake.parse_mentions(content)
    if body.get("flags") is not None:
        msg.flags = (msg.flags & ~4) | (int(body["flags"]) & 4)  # only SUPPRESS_EMBEDS changes
    msg.flags &= ~128  # a deferred ("thinking") response stops loading once edited
    msg.edited_at = time.time()
    fake.emit_message("MESSAGE_UPDATE", msg, fake.message_payload(msg))
    fake.notify()


async def edit_message(fake: FakeDiscord, call: Call) -> Result:
    msg = find_message(fake, int(call.params["channel_id"]), int(call.params["message_id"]))
    if msg.author.id != fake.bot.id:
        raise rules.cannot_edit_others()
    apply_edit(fake, msg, call)
    return 200, fake.message_payload(msg)


def remove_message(fake: FakeDiscord, msg: StoredMessage) -> None:
    msg.deleted = True
    data = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
    if msg.guild_id:
        data["guild_id"] = str(msg.guild_id)
    fake.emit_message("MESSAGE_DELETE", msg, data)
    fake.notify()


async def delete_message(fake: FakeDiscord, call: Call) -> Result:
    msg = find_message(fake, int(call.params["channel_id"]), int(call.params["message_id"]))
    chan = fake.channel(msg.channel_id)
    if msg.author.id != fake.bot.id and (chan.type == DM or "manage_messages" in chan.denied):
        raise rules.missing_permissions()
    remove_message(fake, msg)
    return 204, None


async def typing(fake: FakeDiscord, call: Call) -> Result:
    channel_id = int(call.params["channel_id"])
    _writable(fake, channel_id)
    fake.typing.append(channel_id)
    return 204, None


async def add_reaction(fake: FakeDiscord, call: Call) -> Result:
    msg = find_message(fake, int(call.params["channel_id"]), int(call.params["message_id"]))
    fake.reactions.append((msg.id, call.params["emoji"]))
    return 204, None


# -- threads and DMs ---------------------------------------------------------------------------


async def thread_from_message(fake: FakeDiscord, call: Call) -> Result:
    channel_id = int(call.params["channel_id"])
    msg = find_message(fake, channel_id, int(call.params["message_id"]))
    chan = fake.channel(channel_id)
    if chan.is_thread or chan.type == DM:
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
    if chan.is_thread or chan.type == DM:
        raise DiscordError(400, 50024, "Cannot execute action on this channel type")
    body = call.json if isinstance(call.json, dict) else {}
    private = int(body.get("type") or PRIVATE_THREAD) == PRIVATE_THREAD
    need = "create_private_threads" if private else "create_public_threads"
    if need in chan.denied:
        raise rules.missing_permissions()
    kind = PRIVATE_THREAD if private else PUBLIC_THREAD
    thread = fake.add_thread(channel_id, _thread_name(call), private=kind == PRIVATE_THREAD)
    return 201, fake.channel_payload(thread)


def _thread_name(call: Call) -> str:
    body = call.json if isinstance(call.json, dict) else {}
    name = str(body.get("name") or "")
    if not 1 <= len(name) <= 100:
        raise rules.max_length("name", 100)
    return name


async def open_dm(fake: FakeDiscord, call: Call) -> Result:
    body = call.json if isinstance(call.json, dict) else {}
    user = fake.users.get(int(body.get("recipient_id") or 0))
    if user is None:
        raise rules.invalid_form("recipient_id", "NUMBER_TYPE_COERCE", "Unknown user")  # APPROX
    return 200, fake.channel_payload(fake.dm_channel(user))


async def get_user(fake: FakeDiscord, call: Call) -> Result:
    user = fake.users.get(int(call.params["user_id"]))
    if user is None:
        raise DiscordError(404, 10013, "Unknown User")
    return 200, user_json(user)


async def history(fake: FakeDiscord, call: Call) -> Result:
    """GET messages: newest first; ``limit`` 1-100 (default 50), ``before`` / ``after``."""
    channel_id = int(call.params["channel_id"])
    if "read_message_history" in fake.channel(channel_id).denied:
        return 200, []
    limit = int(call.query.get("limit", 50))
    if not 1 <= limit <= 100:
        raise rules.invalid_form("limit", "NUMBER_TYPE_MAX", "int value should be <= 100.")
    found = sorted(fake.channel_messages(channel_id), key=lambda m: m.id, reverse=True)
    if "before" in call.query:
        found = [m for m in found if m.id < int(call.query["before"])]
    if "after" in call.query:
        found = [m for m in found if m.id > int(call.query["after"])][-limit:]
    return 200, [fake.message_payload(m) for m in found[:limit]]


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


# -- guilds ------------------------------------------------------------------------------------


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
    return 200, role_json(guild)


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/users/@me", get_me),
    ("GET", "/oauth2/applications/@me", get_application),
    ("GET", "/applications/@me", get_application),
    ("GET", "/gateway/bot", get_gateway_bot),
    ("GET", "/gateway", get_gateway),
    ("PUT", "/applications/{app_id}/commands", put_global_commands),
    ("GET", "/applications/{app_id}/commands", get_global_commands),
    ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", put_guild_commands),
    ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", get_guild_commands),
    ("GET", "/channels/{channel_id}", get_channel),
    ("PATCH", "/channels/{channel_id}", edit_channel),
    ("PUT", "/channels/{channel_id}/thread-members/@me", join_thread),
    ("GET", "/channels/{channel_id}/messages", history),
    ("GET", "/users/{user_id}", get_user),
    ("POST", "/channels/{channel_id}/messages", create_message),
    ("GET", "/channels/{channel_id}/messages/{message_id}", get_message),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}", edit_message),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}", delete_message),
    ("POST", "/channels/{channel_id}/typing", typing),
    ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", add_reaction),
    ("POST", "/channels/{channel_id}/messages/{message_id}/threads", thread_from_message),
    ("POST", "/channels/{channel_id}/threads", thread_without_message),
    ("POST", "/users/@me/channels", open_dm),
    ("GET", "/guilds/{guild_id}", get_guild),
    ("GET", "/guilds/{guild_id}/members/{user_id}", get_member),
    ("GET", "/guilds/{guild_id}/roles", get_roles),
]
