"""Which Discord messages are addressed to the bot, and where a conversation lives.

Pure functions over plain facts (no discord.py objects), so the rules are unit-tested alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.commands.table import parse_command
from core.platform.types import ChatType

PLATFORM = "discord"
THREAD_NAME_LIMIT = 100  # Discord's limit on a thread's name
THREAD_NAME_WANTED = 60  # ...and what we aim at, cut at a word


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What the addressing rules need to know of one message."""

    in_guild: bool  # a server channel or thread (else a DM)
    text: str
    mentions_bot: bool = False  # <@bot> in the text, or the bot among the message's mentions
    reply_to_bot: bool = False  # a reply to one of the bot's messages
    in_bot_thread: bool = False  # inside a thread the bot started
    in_thread: bool = False  # inside any thread
    can_thread: bool = True  # the channel can hold threads (a text channel, not a forum post)


def has_word(text: str, word: str) -> bool:
    """``word`` in ``text`` as a word of its own ("ai" is not in "said"); CJK words, which
    have no spaces around them, match anywhere."""
    if not word.isascii():
        return word.lower() in text.lower()
    return re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", text, re.IGNORECASE) is not None


def addressed(facts: MessageFacts, trigger_words: tuple[str, ...] = ()) -> bool:
    """DMs: every message. Server channels: a mention of the bot, a reply to it, a trigger
    word or one of our commands typed as text; in a thread the bot started, every message."""
    if not facts.in_guild or facts.in_bot_thread:
        return True
    if facts.mentions_bot or facts.reply_to_bot:
        return True
    command = parse_command(facts.text)
    if command is not None:
        return command.spec is not None  # a bare /word may be meant for another bot
    return any(has_word(facts.text, word) for word in trigger_words if word)


def opens_thread(facts: MessageFacts, threads: bool) -> bool:
    """With ``discord.threads`` on, a mention in a server channel (not already in a thread)
    opens a public thread on that message, and the answer goes there."""
    return threads and facts.in_guild and facts.mentions_bot and not facts.in_thread and (
        facts.can_thread
    )


def strip_mention(text: str, bot_id: int) -> str:
    """The text without ``<@bot>`` / ``<@!bot>`` (other mentions stay), blanks tidied."""
    cleaned = re.sub(rf"<@!?{bot_id}>", "", text)
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip()


def thread_name(text: str, fallback: str) -> str:
    """A short name for a thread opened on ``text``: its first line, cut at a word."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first = re.sub(r"<[@#][!&]?\d+>", "", first).strip() or fallback
    if len(first) <= THREAD_NAME_WANTED:
        return first
    cut = first[:THREAD_NAME_WANTED].rsplit(" ", 1)[0].rstrip(",.;:!?，。") or first
    return (cut[: THREAD_NAME_LIMIT - 1] + "…")


@dataclass(frozen=True, slots=True)
class Place:
    """Where a message was written, as the engine keys its conversation: the channel (the
    parent channel for a thread), the thread, DM or server."""

    chat_id: str
    chat_type: ChatType
    thread_id: str | None = None

    @property
    def channel_id(self) -> int:
        """The channel messages are sent to: the thread if there is one."""
        return int(self.thread_id or self.chat_id)


def place_of(channel_id: int, *, in_guild: bool, parent_id: int | None = None) -> Place:
    """A DM is private; a server channel is a group; a thread is its parent channel plus the
    thread, so ``chat.group_mode`` and overrides of the channel apply inside its threads."""
    if not in_guild:
        return Place(str(channel_id), "private")
    if parent_id is not None:
        return Place(str(parent_id), "group", str(channel_id))
    return Place(str(channel_id), "group")
