"""Messages: create (JSON or multipart), read, edit (with history), delete, history, typing."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from tests.fake_discord import rules
from tests.fake_discord.models import DM, GUILD_FORUM, Call, StoredMessage
from tests.fake_discord.routing import Result
from tests.fake_discord.rules import DiscordError

EPHEMERAL = 64

if TYPE_CHECKING:
    from tests.fake_discord.server import FakeDiscord


def _writable(fake: FakeDiscord, channel_id: int) -> int | None:
    """The channel's guild id, after the checks Discord makes before a bot writes there."""
    chan = fake.channel(channel_id)
    if chan.type == DM:
        if chan.recipient_id in fake.dms_closed:
            raise DiscordError(403, 50007, "Cannot send messages to this user")
        return None
    if "view_channel" in chan.denied:
        raise rules.missing_access()
    if chan.type == GUILD_FORUM:
        raise DiscordError(400, 40058, "Cannot send messages in a forum channel")  # APPROX text
    needed = "send_messages_in_threads" if chan.is_thread else "send_messages"
    if needed in chan.denied:
        raise rules.missing_permissions()
    if chan.is_thread and chan.archived:
        if chan.locked:
            raise DiscordError(400, 50083, "Thread is archived")  # APPROX text
        chan.archived = False  # sending to an archived (unlocked) thread reopens it
        fake.changed_channel(chan)
    return chan.guild_id


def build_message(
    fake: FakeDiscord, channel_id: int, guild_id: int | None, call: Call, *, webhook: bool = False
) -> StoredMessage:
    """A new message from a create body (JSON or multipart payload_json + files[n]).

    The bot's channel permissions apply to its own messages, not to interaction responses and
    follow-ups (``webhook``), which Discord sends as the application's webhook."""
    body = call.json if isinstance(call.json, dict) else {}
    rules.check_message(body, files=len(call.files))
    chan = fake.channels.get(channel_id)
    denied = chan.denied if chan is not None and not webhook else set()
    if call.files and "attach_files" in denied:
        raise rules.missing_permissions()
    content = body.get("content") or ""
    allowed = body.get("allowed_mentions")
    mentions, roles, everyone = allowed_mentions(fake, content, allowed, denied)
    if body.get("message_reference") and "read_message_history" in denied:
        raise DiscordError(400, 160002, "Cannot reply without permission to read message history")
    embeds = [] if "embed_links" in denied else list(body.get("embeds") or [])  # dropped
    msg = StoredMessage(
        id=fake.ids.next(),
        channel_id=channel_id,
        guild_id=guild_id,
        author=fake.bot,
        content=content,
        embeds=embeds,
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
            # a reply pings its author unless allowed_mentions says replied_user: false
            ping = allowed is None or bool(allowed.get("replied_user"))
            if ping and target.author.id not in msg.mentions:
                msg.mentions.append(target.author.id)
    return msg


def allowed_mentions(
    fake: FakeDiscord, content: str, allowed: dict[str, Any] | None, denied: set[str]
) -> tuple[list[int], list[int], bool]:
    """Who ``content`` really mentions: all it names without ``allowed_mentions``, else only
    what its ``parse`` list and ``users``/``roles`` allow; @everyone also needs the
    mention_everyone permission (discord-api-docs resources/message "Allowed Mentions")."""
    users, roles, everyone = fake.parse_mentions(content)
    if allowed is not None:
        parse = set(allowed.get("parse") or [])
        some_users = {str(u) for u in allowed.get("users") or []}
        some_roles = {str(r) for r in allowed.get("roles") or []}
        users = [u for u in users if "users" in parse or str(u) in some_users]
        roles = [r for r in roles if "roles" in parse or str(r) in some_roles]
        everyone = everyone and "everyone" in parse
    return users, roles, everyone and "mention_everyone" not in denied


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
    if msg is None or msg.deleted or msg.channel_id != channel_id or msg.flags & EPHEMERAL:
        raise rules.unknown_message()  # ephemeral answers exist only for their user
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
    chan = fake.channels.get(msg.channel_id)
    msg.mentions, msg.mention_roles, msg.mention_everyone = allowed_mentions(
        fake, content, body.get("allowed_mentions"), chan.denied if chan else set()
    )
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


async def history(fake: FakeDiscord, call: Call) -> Result:
    """GET messages: newest first; ``limit`` 1-100 (default 50), ``before`` / ``after``."""
    channel_id = int(call.params["channel_id"])
    if "read_message_history" in fake.channel(channel_id).denied:
        return 200, []
    limit = int(call.query.get("limit", 50))
    if not 1 <= limit <= 100:
        raise rules.invalid_form("limit", "NUMBER_TYPE_MAX", "int value should be <= 100.")
    visible = [m for m in fake.channel_messages(channel_id) if not m.flags & EPHEMERAL]
    found = sorted(visible, key=lambda m: m.id, reverse=True)
    if "before" in call.query:
        found = [m for m in found if m.id < int(call.query["before"])]
    if "after" in call.query:
        found = [m for m in found if m.id > int(call.query["after"])][-limit:]
    return 200, [fake.message_payload(m) for m in found[:limit]]
