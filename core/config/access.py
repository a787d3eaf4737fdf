"""Settings of who may use the bot (``access:``) and how much (``quotas:``) (issue 12)."""

from __future__ import annotations

import re
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PlainValidator, field_validator

from core.config.fields import _as_int, _fail
from core.config.sections import Section

_ID_RE = re.compile(r"[a-z][a-z0-9_]{0,31}:[^\s:]{1,128}")


def _platform_id(value: object) -> str:
    """``platform:id`` ("telegram:123", "discord:456", "wechat:wxid_x"), as /whoami shows it."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise _fail('must be "platform:id" (like "telegram:123"), not a bare number')
    if isinstance(value, str):
        text = value.strip()
        platform, sep, rest = text.partition(":")
        text = f"{platform.lower()}{sep}{rest}"
        if _ID_RE.fullmatch(text):
            return text
    raise _fail('must be "platform:id", like "telegram:123" (what /whoami shows)')


def _limit(value: object) -> int:
    number = _as_int(value)
    if number is None or number < 0:
        raise _fail("must be a whole number, 0 or more (0: unlimited)")
    return number


def _timezone(value: object) -> str:
    if isinstance(value, str) and value.strip():
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            pass
        else:
            return value.strip()
    raise _fail('must be an IANA time zone name like "Asia/Shanghai" or "UTC"')


PlatformId = Annotated[str, PlainValidator(_platform_id)]
Limit = Annotated[int, PlainValidator(_limit)]
TimeZoneName = Annotated[str, PlainValidator(_timezone)]


class AccessSettings(Section):
    """Who may use the bot. Ids are ``platform:id``, the form /whoami shows."""

    admins: tuple[PlatformId, ...] = Field(
        default=(), description="Bot admins: never limited, may /allow, /block, /usage all."
    )
    allowed_users: tuple[PlatformId, ...] = Field(
        default=(), description="Users who may use the bot; empty: everyone."
    )
    allowed_chats: tuple[PlatformId, ...] = Field(
        default=(), description="Groups, channels, servers the bot answers in; empty: all."
    )
    blocked_users: tuple[PlatformId, ...] = Field(
        default=(), description="Users who may not use the bot."
    )

    @field_validator("admins", "allowed_users", "allowed_chats", "blocked_users", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return [] if value is None else value


class DailyLimits(Section):
    """Limits of one day; 0 means unlimited."""

    chat_tokens: Limit = Field(default=0, description="Tokens of chat answers (relay usage).")
    images: Limit = Field(default=0, description="Pictures (/img, Midjourney actions).")
    songs: Limit = Field(default=0, description="Songs (/song).")
    videos: Limit = Field(default=0, description="Videos (/video).")
    speech_chars: Limit = Field(default=0, description="Characters spoken (/tts, voice replies).")


class MinuteLimits(Section):
    """Limits of one minute; 0 means unlimited."""

    messages: Limit = Field(default=0, description="Messages one user may send a minute.")


class QuotaSettings(Section):
    """How much each user and each group may spend; 0 means unlimited."""

    timezone: TimeZoneName = Field(
        default="Asia/Shanghai", description="The time zone in which a day starts."
    )
    per_user_daily: DailyLimits = Field(default_factory=DailyLimits, description="Per user.")
    per_chat_daily: DailyLimits = Field(
        default_factory=DailyLimits, description="Per group, every member's use together."
    )
    per_user_per_minute: MinuteLimits = Field(
        default_factory=MinuteLimits, description="Flood limit per user."
    )

    @field_validator("per_user_daily", "per_chat_daily", "per_user_per_minute", mode="before")
    @classmethod
    def _none_is_default(cls, value: object) -> object:
        return {} if value is None else value
