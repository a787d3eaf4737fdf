"""Who may use the bot: the config's lists plus what admins set at run time."""

from __future__ import annotations

from typing import Literal

from core.access.ids import Who
from core.access.store import Rules
from core.config.access import AccessSettings

Verdict = Literal["ok", "refuse", "silent"]


def is_admin(access: AccessSettings, who: Who) -> bool:
    return who.user in access.admins


def verdict(access: AccessSettings, rules: Rules, who: Who) -> Verdict:
    """``ok``; ``refuse`` (a private chat is told, once per message, with the user's id);
    ``silent`` (a group the bot does not answer in, or anyone refused inside a group).

    Admins always pass. A chat listed in ``allowed_chats`` (or allowed with /allow) lets its
    members in even when they are not on ``allowed_users``; a blocked user stays blocked."""
    if is_admin(access, who):
        return "ok"
    no: Verdict = "silent" if who.group else "refuse"
    chat_listed = who.group and (who.chat in access.allowed_chats or who.chat in rules.allowed)
    if who.group and access.allowed_chats and not chat_listed:
        return "silent"
    if who.user in access.blocked_users or who.user in rules.blocked:
        return no
    if chat_listed:
        return "ok"
    if access.allowed_users and not (who.user in access.allowed_users or who.user in rules.allowed):
        return no
    return "ok"
