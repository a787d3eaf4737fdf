"""The fake's state as Discord's JSON payloads (the shapes discord.py 2.7 parses)."""

from __future__ import annotations

import datetime
from typing import Any

from tests.fake_discord.models import (
    DM,
    GUILD_FORUM,
    GUILD_VOICE,
    Channel,
    Guild,
    InteractionRecord,
    StoredAttachment,
    StoredMessage,
    User,
)
from tests.fake_discord.rules import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    BOT_PERMISSIONS,
    PERMISSIONS,
    PREMIUM_UPLOAD_LIMITS,
)


def iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat()


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "username": user.name,
        "global_name": user.global_name,
        "discriminator": "0",
        "avatar": None,
        "bot": user.bot,
        "public_flags": 0,
        "flags": 0,
    }


def member_json(guild: Guild, user: User, *, with_user: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "roles": [str(r) for r in guild.members.get(user.id, [])],
        "joined_at": iso(0),
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "nick": None,
    }
    if with_user:
        data["user"] = user_json(user)
    return data


def member_permissions(guild: Guild, user: User) -> int:
    """Guild-level permissions: @everyone | the member's roles; the owner and administrators
    have all (discord-api-docs topics/permissions "Permission Hierarchy")."""
    if user.id == guild.owner_id:
        return ALL_PERMISSIONS | ADMINISTRATOR
    mine = {guild.id, *guild.members.get(user.id, [])}
    value = 0
    for role in guild.roles:
        if role.id in mine:
            value |= role.permissions
    return ALL_PERMISSIONS | ADMINISTRATOR if value & ADMINISTRATOR else value


def role_json(guild: Guild, bot_id: int | None = None) -> list[dict[str, Any]]:
    return [
        {
            "id": str(r.id),
            "name": r.name,
            "permissions": str(r.permissions),
            "position": r.position,
            "color": 0,
            "hoist": False,
            "managed": r.managed,
            **({"tags": {"bot_id": str(bot_id)}} if r.managed and bot_id else {}),
            "mentionable": False,
            "flags": 0,
        }
        for r in guild.roles
    ]


def overwrites(channel: Channel, bot: User) -> list[dict[str, Any]]:
    deny = sum(PERMISSIONS[name] for name in channel.denied)
    if not deny:
        return []
    return [{"id": str(bot.id), "type": 1, "allow": "0", "deny": str(deny)}]


def channel_json(channel: Channel, bot: User, users: dict[int, User]) -> dict[str, Any]:
    if channel.type == DM:
        other = users[channel.recipient_id or 0]
        return {
            "id": str(channel.id),
            "type": DM,
            "last_message_id": None,
            "recipients": [user_json(other)],
        }
    data: dict[str, Any] = {
        "id": str(channel.id),
        "type": channel.type,
        "name": channel.name,
        "guild_id": str(channel.guild_id),
        "position": channel.position,
        "permission_overwrites": overwrites(channel, bot),
        "nsfw": False,
        "parent_id": str(channel.parent_id) if channel.parent_id else None,
        "rate_limit_per_user": 0,
        "topic": None,
        "last_message_id": None,
    }
    if channel.type == GUILD_VOICE:
        data.update(bitrate=64000, user_limit=0, rtc_region=None, video_quality_mode=1)
    elif channel.type == GUILD_FORUM:
        data.update(
            available_tags=[],
            default_reaction_emoji=None,
            default_sort_order=None,
            default_forum_layout=0,
            flags=0,
            default_thread_rate_limit_per_user=0,
        )
    if channel.is_thread:
        data.update(
            owner_id=str(channel.owner_id),
            message_count=channel.message_count,
            member_count=1,
            total_message_sent=channel.message_count,
            thread_metadata={
                "archived": channel.archived,
                "auto_archive_duration": 1440,
                "archive_timestamp": iso(0),
                "locked": channel.locked,
                "create_timestamp": iso(0),
            },
        )
        del data["permission_overwrites"]
    return data


def guild_json(
    guild: Guild, channels: list[Channel], bot: User, users: dict[int, User]
) -> dict[str, Any]:
    """GUILD_CREATE's ``d``: roles (@everyone's id is the guild's), channels, members, threads."""
    normal = [c for c in channels if not c.is_thread and not c.deleted]
    threads = [c for c in channels if c.is_thread and not c.deleted and not c.archived]
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "owner_id": str(guild.owner_id),
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": guild.premium_tier,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "features": [],
        "emojis": [],
        "stickers": [],
        "roles": role_json(guild, bot.id),
        "member_count": len(guild.members),
        "large": False,
        "unavailable": False,
        "joined_at": iso(0),
        "members": [member_json(guild, users[uid]) for uid in guild.members],
        "channels": [channel_json(c, bot, users) for c in normal],
        "threads": [channel_json(c, bot, users) for c in threads],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def attachment_json(att: StoredAttachment) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(att.id),
        "filename": att.filename,
        "size": att.size,
        "url": att.url,
        "proxy_url": att.url,
        "content_type": att.content_type,
    }
    if att.description is not None:
        data["description"] = att.description
    if att.duration_secs is not None:
        data["duration_secs"] = att.duration_secs
        data["waveform"] = att.waveform or ""
    return data


def message_json(
    msg: StoredMessage,
    users: dict[int, User],
    guild: Guild | None,
    messages: dict[int, StoredMessage],
    *,
    nested: bool = True,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(msg.id),
        "channel_id": str(msg.channel_id),
        "type": msg.type,
        "author": user_json(msg.author),
        "content": msg.content,
        "timestamp": iso(msg.created_at),
        "edited_timestamp": iso(msg.edited_at) if msg.edited_at else None,
        "tts": msg.tts,
        "mention_everyone": msg.mention_everyone,
        "mentions": [user_json(users[u]) for u in msg.mentions if u in users],
        "mention_roles": [str(r) for r in msg.mention_roles],
        "attachments": [attachment_json(a) for a in msg.attachments],
        "embeds": msg.embeds,
        "components": msg.components,
        "pinned": False,
        "flags": msg.flags,
    }
    if msg.guild_id is not None:
        data["guild_id"] = str(msg.guild_id)
        if guild is not None and msg.webhook_id is None:
            data["member"] = member_json(guild, msg.author, with_user=False)
    if msg.webhook_id is not None:
        data["webhook_id"] = str(msg.webhook_id)
        data["application_id"] = str(msg.webhook_id)
    if msg.reference is not None:
        ref = messages.get(msg.reference)
        data["message_reference"] = {
            "type": 0,
            "message_id": str(msg.reference),
            "channel_id": str(ref.channel_id if ref else msg.channel_id),
            **({"guild_id": str(msg.guild_id)} if msg.guild_id else {}),
        }
        if nested:
            data["referenced_message"] = (
                message_json(ref, users, guild, messages, nested=False)
                if ref is not None and not ref.deleted
                else None
            )
    return data


def interaction_json(
    rec: InteractionRecord,
    app_id: int,
    channel: dict[str, Any],
    guild: Guild | None,
    message: dict[str, Any] | None,
    denied_perms: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """INTERACTION_CREATE's ``d`` (discord-api-docs interactions/receiving-and-responding)."""
    tier = guild.premium_tier if guild else 0
    denied = sum(PERMISSIONS[p] for p in denied_perms)
    data: dict[str, Any] = {
        "id": str(rec.id),
        "application_id": str(app_id),
        "type": rec.type,
        "data": rec.data,
        "token": rec.token,
        "version": 1,
        "channel_id": str(rec.channel_id),
        "channel": channel,
        "app_permissions": str(BOT_PERMISSIONS & ~denied),  # the bot's role, less overwrites
        "locale": rec.user.locale,
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(guild.id) if guild else "0"},
        "context": 0 if guild else 1,
        "attachment_size_limit": PREMIUM_UPLOAD_LIMITS.get(tier, PREMIUM_UPLOAD_LIMITS[0]),
    }
    if guild is not None:
        data["guild_id"] = str(guild.id)
        data["guild_locale"] = "en-US"
        member = member_json(guild, rec.user)
        member["permissions"] = str(member_permissions(guild, rec.user))
        data["member"] = member
    else:
        data["user"] = user_json(rec.user)
    if message is not None:
        data["message"] = message
    return data
