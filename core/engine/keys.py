"""Conversation keys: who shares a history with whom."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from core.platform.types import IncomingMessage


class GroupPolicy(Protocol):
    """The part of the chat settings that decides group sharing."""

    @property
    def group_mode(self) -> str: ...

    @property
    def group_overrides(self) -> Mapping[str, str]: ...


def group_mode(platform: str, chat_id: str, policy: GroupPolicy) -> str:
    """``shared`` or ``per_user`` for one group, the per-chat override winning."""
    return policy.group_overrides.get(f"{platform}:{chat_id}", policy.group_mode)


def conversation_key(msg: IncomingMessage, policy: GroupPolicy) -> str:
    """The key of the conversation ``msg`` belongs to.

    Private chats: one per (platform, user). Groups: one per (platform, chat[, topic], user),
    or one per (platform, chat[, topic]) when the group is shared.
    """
    if msg.chat_type == "private":
        return f"{msg.platform}:u:{msg.user_id}"
    base = f"{msg.platform}:g:{msg.chat_id}"
    if msg.thread_id:
        base += f":t:{msg.thread_id}"
    if group_mode(msg.platform, msg.chat_id, policy) == "shared":
        return base
    return f"{base}:u:{msg.user_id}"
