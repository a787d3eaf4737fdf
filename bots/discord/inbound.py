"""Discord messages and interactions in: the facts the addressing rules read, and the engine's
IncomingMessage."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import discord

from bots.discord.addressing import PLATFORM, MessageFacts, Place, place_of, strip_mention
from core.commands.table import parse_command
from core.platform.types import IncomingMessage, ReplyContext

log = logging.getLogger("relaybot.discord")

CHANNEL_CACHE_MAX = 10_000
ANSWERED_TYPES = (discord.MessageType.default, discord.MessageType.reply)


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """What the rules need of a channel: is it a thread (whose, under which channel), and can
    it hold threads."""

    id: int
    in_guild: bool
    thread: bool = False
    parent_id: int | None = None
    owner_id: int | None = None
    can_thread: bool = False


def info_of(channel: object) -> ChannelInfo | None:
    """What a cached channel says of itself; None when discord.py does not know it."""
    if isinstance(channel, discord.Thread):
        return ChannelInfo(channel.id, True, True, channel.parent_id, channel.owner_id)
    if isinstance(channel, discord.DMChannel | discord.GroupChannel):
        return ChannelInfo(channel.id, False)
    if isinstance(channel, discord.TextChannel):
        return ChannelInfo(channel.id, True, can_thread=True)
    if isinstance(channel, discord.abc.GuildChannel):
        return ChannelInfo(channel.id, True)
    return None


class ChannelInfos:
    """Channel facts, from discord.py's cache or, for a channel it has not seen (a thread
    created while the bot was away), asked once from the REST API and remembered."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client
        self._known: dict[int, ChannelInfo] = {}

    async def of(self, channel: object, channel_id: int, guild_id: int | None) -> ChannelInfo:
        info = info_of(channel)
        if info is not None:
            return info
        known = self._known.get(channel_id)
        if known is not None:
            return known
        try:
            fetched = await self._client.fetch_channel(channel_id)
        except (discord.HTTPException, discord.InvalidData) as exc:
            log.info("cannot look up channel=%s: %s", channel_id, exc)
            return ChannelInfo(channel_id, guild_id is not None)
        info = info_of(fetched) or ChannelInfo(channel_id, guild_id is not None)
        if len(self._known) >= CHANNEL_CACHE_MAX:
            self._known.clear()
        self._known[channel_id] = info
        return info


def answerable(message: discord.Message, me_id: int) -> bool:
    """A person's ordinary message (not ours, not another bot's, not a system message)."""
    return (
        message.author.id != me_id
        and not message.author.bot
        and message.type in ANSWERED_TYPES
        and message.webhook_id is None
    )


def replied_message(message: discord.Message) -> discord.Message | None:
    ref = message.reference
    resolved = ref.resolved if ref is not None else None
    return resolved if isinstance(resolved, discord.Message) else None


def facts_of(message: discord.Message, me_id: int, info: ChannelInfo) -> MessageFacts:
    replied = replied_message(message)
    to_bot = replied is not None and replied.author.id == me_id
    # A reply pings its author without a mention in the text: that is a reply, not a mention.
    listed = any(u.id == me_id for u in message.mentions)
    return MessageFacts(
        in_guild=info.in_guild,
        text=message.content,
        mentions_bot=_typed_mention(message, me_id) or (listed and not to_bot),
        reply_to_bot=to_bot,
        in_bot_thread=info.thread and info.owner_id == me_id,
        in_thread=info.thread,
        can_thread=info.can_thread,
    )


def _typed_mention(message: discord.Message, me_id: int) -> bool:
    return f"<@{me_id}>" in message.content or f"<@!{me_id}>" in message.content


def place_in(info: ChannelInfo) -> Place:
    return place_of(info.id, in_guild=info.in_guild, parent_id=info.parent_id)


def chat_admin_of(user: object) -> bool | None:
    """Is a server member allowed to manage the server (Discord's "Manage Server")? None when
    discord.py does not know the member's roles."""
    if isinstance(user, discord.Member):
        try:
            return bool(user.guild_permissions.manage_guild)
        except (AttributeError, KeyError):
            return None
    return None


def to_incoming(
    message: discord.Message, me_id: int, place: Place, *, chat_admin: bool | None
) -> IncomingMessage:
    """The engine's view of ``message`` written at ``place`` (its thread, if one was opened)."""
    text = message.content
    if parse_command(text) is None:
        text = strip_mention(text, me_id)
    else:
        text = text.strip()
    replied = replied_message(message)
    reply = None
    if replied is not None:
        reply = ReplyContext(
            str(replied.id), replied.content, replied.author.id == me_id, str(replied.author.id)
        )
    author = message.author
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=place.chat_id,
        chat_type=place.chat_type,
        user_id=str(author.id),
        text=text,
        display_name=author.display_name,
        language=None,  # a message does not carry its author's locale
        reply_to=reply,
        message_id=str(message.id),
        thread_id=place.thread_id,
        chat_admin=chat_admin if place.chat_type == "group" else None,
    )


def interaction_place(interaction: discord.Interaction[Any]) -> Place:
    """Where a slash command or a button press happened."""
    channel = interaction.channel
    channel_id = interaction.channel_id or 0
    in_guild = interaction.guild_id is not None
    if isinstance(channel, discord.Thread):
        return place_of(channel.id, in_guild=True, parent_id=channel.parent_id)
    return place_of(channel_id, in_guild=in_guild)


def interaction_incoming(
    interaction: discord.Interaction[Any], text: str, *, action_token: str | None = None
) -> IncomingMessage:
    place = interaction_place(interaction)
    user = interaction.user
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=place.chat_id,
        chat_type=place.chat_type,
        user_id=str(user.id),
        text=text,
        display_name=user.display_name,
        language=str(interaction.locale) if interaction.locale else None,
        message_id=str(interaction.id),
        thread_id=place.thread_id,
        action_token=action_token,
        chat_admin=_manages_server(interaction) if place.chat_type == "group" else None,
    )


def _manages_server(interaction: discord.Interaction[Any]) -> bool | None:
    """The member's permissions as the interaction carries them (no role cache needed)."""
    try:
        return bool(interaction.permissions.manage_guild)
    except (AttributeError, KeyError, TypeError):
        return chat_admin_of(interaction.user)
