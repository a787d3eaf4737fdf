"""Telegram updates in: who the bot answers in groups, and the engine's IncomingMessage."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import Message, MessageEntity

from core.commands.table import parse_command
from core.platform.types import IncomingMessage, ReplyContext

PLATFORM = "telegram"


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """What the adapter knows of itself after ``getMe``, and the configured trigger words."""

    id: int
    username: str
    trigger_words: tuple[str, ...] = ()


def _entities(message: Message) -> dict[MessageEntity, str]:
    if message.text is not None:
        return message.parse_entities()
    return message.parse_caption_entities()


def _mentions_bot(message: Message, me: BotIdentity) -> bool:
    handle = "@" + me.username.lower()
    for entity, text in _entities(message).items():
        if entity.type == MessageEntity.MENTION and text.lower() == handle:
            return True
        if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == me.id:
            return True
    return False


def addressed_to_bot(message: Message, me: BotIdentity) -> bool:
    """In a group, the bot answers a command meant for it, a mention, a reply to one of its
    messages or a trigger word; everything else is members talking to each other."""
    text = message.text or message.caption or ""
    command = parse_command(text)
    if command is not None:
        if command.mention is not None:
            return command.mention.lower() == me.username.lower()
        # A bare /word in a group may be meant for another bot: only our own commands.
        return command.spec is not None
    if _mentions_bot(message, me):
        return True
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == me.id:
        return True
    return any(_has_word(text, word) for word in me.trigger_words if word)


def _has_word(text: str, word: str) -> bool:
    """``word`` in ``text`` as a word of its own ("ai" is not in "said"); CJK words, which
    have no spaces around them, match anywhere."""
    if not word.isascii():
        return word.lower() in text.lower()
    return re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", text, re.IGNORECASE) is not None


def _without_mention(text: str, me: BotIdentity) -> str:
    """The text without ``@ThisBot`` (but ``@ThisBot2`` stays)."""
    pattern = rf"@{re.escape(me.username)}(?![\w])"
    return re.sub(r"[ \t]{2,}", " ", re.sub(pattern, "", text, flags=re.IGNORECASE)).strip()


def thread_of(message: Message) -> int | None:
    """The forum topic of a message; replies go to the same topic."""
    return message.message_thread_id if message.is_topic_message else None


def to_incoming(message: Message, me: BotIdentity) -> IncomingMessage | None:
    """The engine's view of ``message``, or None when the bot should stay silent."""
    chat = message.chat
    user = message.from_user
    if user is None or user.is_bot or chat.type not in ("private", "group", "supergroup"):
        return None
    group = chat.type != "private"
    if group and not addressed_to_bot(message, me):
        return None
    text = message.text or message.caption or ""
    command = parse_command(text)
    if command is None:
        text = _without_mention(text, me)
    replied = message.reply_to_message
    reply = None
    if replied is not None:
        from_bot = replied.from_user is not None and replied.from_user.id == me.id
        sender = str(replied.from_user.id) if replied.from_user is not None else ""
        reply = ReplyContext(
            str(replied.message_id), replied.text or replied.caption or "", from_bot, sender
        )
    thread = thread_of(message)
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=str(chat.id),
        chat_type="group" if group else "private",
        user_id=str(user.id),
        text=text,
        display_name=user.full_name,
        language=user.language_code,
        reply_to=reply,
        message_id=str(message.message_id),
        thread_id=str(thread) if thread is not None else None,
    )
