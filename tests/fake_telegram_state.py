"""FakeTelegram state: chats, messages, files, queued updates and the user actions behind them."""

from __future__ import annotations

import asyncio
import itertools
import mimetypes
import time
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from tests.fake_telegram_rules import utf16_len

DEFAULT_USER_ID = 1001  # who speaks in a group when no user_id is given
# Update types delivered when allowed_updates is [] or was never given (Bot API getUpdates docs).
NOT_DEFAULT_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class UploadedFile:
    """A multipart file part as PTB sent it."""

    name: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Call:
    """One request to the fake: decoded params, uploads, and how it was answered."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    uploads: dict[str, UploadedFile] = field(default_factory=dict)
    time: float = field(default_factory=time.monotonic)
    status: int = 0  # 0 while the request is still open; 499 if the client went away
    description: str | None = None
    retry_after: int | None = None
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    size: int  # declared file_size; may exceed len(data) to emulate huge files
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None

    def meta(self, **extra: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if self.file_name:
            out["file_name"] = self.file_name
        if self.mime_type:
            out["mime_type"] = self.mime_type
        return {**out, **extra}


@dataclass
class StoredMessage:
    """A message as Telegram keeps it: ``text``/``caption`` are the visible (parsed) text."""

    chat: dict[str, Any]
    message_id: int
    sender: dict[str, Any]
    date: int = field(default_factory=lambda: int(time.time()))
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    parse_mode: str | None = None
    source: str | None = None  # text or caption exactly as sent, before parsing
    reply_markup: dict[str, Any] | None = None
    media: dict[str, Any] = field(default_factory=dict)  # e.g. {"photo": [...]}
    media_group_id: str | None = None
    thread_id: int | None = None
    is_topic_message: bool = False
    reply_to: StoredMessage | None = None
    edit_date: int | None = None
    deleted: bool = False

    @property
    def chat_id(self) -> int:
        return int(self.chat["id"])

    @property
    def from_bot(self) -> bool:
        return bool(self.sender.get("is_bot"))

    def to_json(self, *, nested: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": dict(self.chat),
            "from": dict(self.sender),
        }
        if self.thread_id is not None:
            out["message_thread_id"] = self.thread_id
            if self.is_topic_message:
                out["is_topic_message"] = True
        if self.reply_to is not None and not nested:
            out["reply_to_message"] = self.reply_to.to_json(nested=True)
        if self.edit_date is not None:
            out["edit_date"] = self.edit_date
        if self.media_group_id is not None:
            out["media_group_id"] = self.media_group_id
        if self.text is not None:
            out["text"] = self.text
            if self.entities:
                out["entities"] = self.entities
        out.update(self.media)
        if self.caption:
            out["caption"] = self.caption
            if self.caption_entities:
                out["caption_entities"] = self.caption_entities
        if self.reply_markup is not None and "inline_keyboard" in self.reply_markup:
            out["reply_markup"] = self.reply_markup  # Telegram echoes only inline keyboards
        return out


class Sender(TypedDict, total=False):
    """Who sends an injected message and where (keyword arguments of the send_* helpers)."""

    user_id: int
    first_name: str
    username: str
    language_code: str
    chat_type: str  # default: "private" for positive ids, "group"/"supergroup" for negative ones
    chat_title: str
    reply_to_message_id: int
    thread_id: int
    is_topic_message: bool


def auto_entities(text: str) -> list[dict[str, Any]]:
    """bot_command and mention entities as Telegram adds them (tdlib match_bot_commands and
    find_mentions); URLs, hashtags, cashtags and the like are not detected."""

    def word(ch: str) -> bool:
        return ch == "_" or ch.isalnum()

    def ascii_word(ch: str) -> bool:
        return ch.isascii() and word(ch)

    found: list[tuple[int, int, str]] = []
    n = len(text)
    i = text.find("/")
    while i != -1:
        if i > 0 and (word(text[i - 1]) or text[i - 1] in "/<>"):
            i = text.find("/", i + 1)
            continue
        j = i + 1
        while j < n and ascii_word(text[j]):
            j += 1
        ok = 1 <= j - i - 1 <= 64
        if ok and j < n and text[j] == "@":
            k = j + 1
            while k < n and ascii_word(text[k]):
                k += 1
            ok, j = 3 <= k - j - 1 <= 32, k
        if ok and not (j < n and (word(text[j]) or text[j] in "/<>")):
            found.append((i, j, "bot_command"))
        i = text.find("/", j)
    i = text.find("@")
    while i != -1:
        if i > 0 and word(text[i - 1]):
            i = text.find("@", i + 1)
            continue
        j = i + 1
        while j < n and ascii_word(text[j]):
            j += 1
        if 4 <= j - i - 1 <= 32 and not (j < n and word(text[j])):
            found.append((i, j, "mention"))
        i = text.find("@", j)
    return [
        {"type": kind, "offset": utf16_len(text[:a]), "length": utf16_len(text[a:b])}
        for a, b, kind in sorted(found)
    ]


class TelegramState:
    """Everything the fake Bot API remembers, plus helpers that inject user actions."""

    def __init__(self, token: str, bot_username: str) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_user: dict[str, Any] = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "Relay Test Bot",
            "username": bot_username,
        }
        self.me: dict[str, Any] = {  # getMe; tests may flip e.g. can_read_all_group_messages
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.chats: dict[int, dict[str, Any]] = {}
        self.files: dict[str, StoredFile] = {}
        self.updates: list[dict[str, Any]] = []  # queued, not yet confirmed by getUpdates offset
        self.dropped_updates: list[dict[str, Any]] = []  # filtered out by allowed_updates
        self.allowed_updates: list[str] = []
        self.callback_queries: dict[str, dict[str, Any]] = {}  # id -> query (+ "answer")
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (scope, lang) -> list
        self._messages: dict[int, list[StoredMessage]] = {}
        self._next_message_id: dict[int, int] = {}
        self._photo_sets: dict[str, list[dict[str, Any]]] = {}
        self._update_ids = itertools.count(100001)
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(7001)
        self._album_ids = itertools.count(13_000_000_000_000_001)
        self._update_waiter: asyncio.Future[str] | None = None  # the open long poll

    # -- reading state ----------------------------------------------------------------------

    def messages(self, chat_id: int) -> list[StoredMessage]:
        """The bot's messages in ``chat_id`` as they are now (edits applied, deletions gone)."""
        return [m for m in self._messages.get(chat_id, []) if m.from_bot and not m.deleted]

    def all_messages(self, chat_id: int) -> list[StoredMessage]:
        """Every live message in the chat, the user's included, in order."""
        return [m for m in self._messages.get(chat_id, []) if not m.deleted]

    def message(self, chat_id: int, message_id: int) -> StoredMessage | None:
        for stored in self._messages.get(chat_id, []):
            if stored.message_id == message_id and not stored.deleted:
                return stored
        return None

    def commands_for(self, language_code: str = "", scope: dict[str, Any] | None = None) -> Any:
        return self.commands.get((scope_key(scope), language_code), [])

    # -- chats and files --------------------------------------------------------------------

    def add_chat(
        self,
        chat_id: int,
        *,
        chat_type: str | None = None,
        title: str | None = None,
        first_name: str = "Alice",
        username: str | None = None,
        is_forum: bool = False,
    ) -> dict[str, Any]:
        """Make a chat known (sending to an unknown chat fails with "chat not found")."""
        kind = chat_type or ("private" if chat_id > 0 else "group")
        chat: dict[str, Any] = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = first_name
            if username:
                chat["username"] = username
        else:
            chat["title"] = title or self.chats.get(chat_id, {}).get("title") or f"Chat {chat_id}"
            if is_forum:
                chat["is_forum"] = True
        self.chats[chat_id] = chat
        return chat

    def add_file(
        self,
        data: bytes,
        *,
        size: int | None = None,
        kind: str = "documents",
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> str:
        """Store a file the bot may getFile and download; ``size`` overrides file_size."""
        return self._store_file(data, size=size, kind=kind, file_name=file_name, mime=mime_type)

    def _store_file(
        self,
        data: bytes,
        *,
        size: int | None = None,
        kind: str = "documents",
        file_name: str | None = None,
        mime: str | None = None,
    ) -> str:
        n = next(self._file_ids)
        if kind == "photos":
            ext = "jpg"
        elif file_name and "." in file_name:
            ext = file_name.rsplit(".", 1)[1]
        else:
            ext = (mimetypes.guess_extension(mime or "") or ".bin").lstrip(".")
        file_id = f"BQACAgIAAxk{n:06d}{kind[:3]}"
        self.files[file_id] = StoredFile(
            file_id=file_id,
            file_unique_id=f"AgAD{n:06d}",
            data=data,
            size=len(data) if size is None else size,
            file_path=f"{kind}/file_{n}.{ext}",
            mime_type=mime,
            file_name=file_name,
        )
        return file_id

    def _photo_sizes(self, data: bytes, size: int | None = None) -> list[dict[str, Any]]:
        """Three PhotoSize entries, smallest first; the last one holds the full bytes."""
        sizes: list[dict[str, Any]] = []
        for (w, h), part in zip(((90, 67), (320, 240), (1280, 960)), (16, 4, 1), strict=True):
            chunk = data if part == 1 else data[: max(1, len(data) // part)]
            declared = size if part == 1 else None
            stored = self.files[self._store_file(chunk, size=declared, kind="photos")]
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": stored.size,
                    "width": w,
                    "height": h,
                }
            )
        for entry in sizes:
            self._photo_sets[entry["file_id"]] = sizes
        return sizes

    # -- messages ---------------------------------------------------------------------------

    def _new_message(
        self, chat: dict[str, Any], sender: dict[str, Any], **kw: Any
    ) -> StoredMessage:
        chat_id = int(chat["id"])
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        stored = StoredMessage(chat=chat, message_id=message_id, sender=sender, **kw)
        self._messages.setdefault(chat_id, []).append(stored)
        return stored

    def _user_message(self, chat_id: int, sender: Sender, **content: Any) -> StoredMessage:
        chat_type = sender.get("chat_type") or (
            "private"
            if chat_id > 0
            else ("supergroup" if str(chat_id).startswith("-100") else "group")
        )
        user_id = sender.get("user_id") or (chat_id if chat_type == "private" else DEFAULT_USER_ID)
        user: dict[str, Any] = {
            "id": user_id,
            "is_bot": False,
            "first_name": sender.get("first_name", "Alice"),
            "language_code": sender.get("language_code", "en"),
        }
        if sender.get("username"):
            user["username"] = sender["username"]
        known = self.chats.get(chat_id, {})
        chat = self.add_chat(
            chat_id,
            chat_type=chat_type,
            title=sender.get("chat_title") or known.get("title"),
            first_name=user["first_name"],
            username=sender.get("username"),
            is_forum=bool(known.get("is_forum") or sender.get("is_topic_message")),
        )
        reply_to = None
        if "reply_to_message_id" in sender:
            reply_to = self.message(chat_id, sender["reply_to_message_id"])
            if reply_to is None:
                raise ValueError(f"no message {sender['reply_to_message_id']} in chat {chat_id}")
        return self._new_message(
            chat,
            user,
            reply_to=reply_to,
            thread_id=sender.get("thread_id"),
            is_topic_message=bool(sender.get("is_topic_message")),
            **content,
        )

    # -- updates ----------------------------------------------------------------------------

    def queue_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue ``{"update_id": n, kind: payload}`` for getUpdates and return it."""
        update = {"update_id": next(self._update_ids), kind: payload}
        allowed = set(self.allowed_updates)
        if (allowed and kind not in allowed) or (not allowed and kind in NOT_DEFAULT_UPDATES):
            self.dropped_updates.append(update)
            return update
        self.updates.append(update)
        if self._update_waiter is not None and not self._update_waiter.done():
            self._update_waiter.set_result("update")
        return update

    def _message_update(self, stored: StoredMessage) -> dict[str, Any]:
        return self.queue_update("message", stored.to_json())

    def send_text(self, chat_id: int, text: str, **sender: Unpack[Sender]) -> dict[str, Any]:
        """A user writes ``text``; commands and @mentions get their entities."""
        stored = self._user_message(chat_id, sender, text=text, entities=auto_entities(text))
        return self._message_update(stored)

    def send_photo(
        self, chat_id: int, data: bytes, caption: str | None = None, **sender: Unpack[Sender]
    ) -> dict[str, Any]:
        stored = self._user_message(chat_id, sender, **self._caption(caption))
        stored.media = {"photo": self._photo_sizes(data)}
        return self._message_update(stored)

    def send_document(
        self,
        chat_id: int,
        data: bytes,
        file_name: str,
        mime_type: str,
        caption: str | None = None,
        *,
        size: int | None = None,
        **sender: Unpack[Sender],
    ) -> dict[str, Any]:
        file_id = self._store_file(data, size=size, file_name=file_name, mime=mime_type)
        stored = self._user_message(chat_id, sender, **self._caption(caption))
        stored.media = {"document": self.files[file_id].meta()}
        return self._message_update(stored)

    def send_voice(
        self,
        chat_id: int,
        data: bytes,
        duration: int = 3,
        mime_type: str = "audio/ogg",
        **sender: Unpack[Sender],
    ) -> dict[str, Any]:
        file_id = self._store_file(data, kind="voice", mime=mime_type)
        stored = self._user_message(chat_id, sender)
        stored.media = {"voice": self.files[file_id].meta(duration=duration)}
        return self._message_update(stored)

    def send_audio(
        self,
        chat_id: int,
        data: bytes,
        duration: int = 3,
        mime_type: str = "audio/mpeg",
        file_name: str = "audio.mp3",
        caption: str | None = None,
        **sender: Unpack[Sender],
    ) -> dict[str, Any]:
        file_id = self._store_file(data, kind="music", file_name=file_name, mime=mime_type)
        stored = self._user_message(chat_id, sender, **self._caption(caption))
        stored.media = {"audio": self.files[file_id].meta(duration=duration)}
        return self._message_update(stored)

    def send_album(
        self,
        chat_id: int,
        items: list[bytes],
        caption: str | None = None,
        **sender: Unpack[Sender],
    ) -> list[dict[str, Any]]:
        """Several photo messages sharing one media_group_id; the caption sits on the first."""
        group_id = str(next(self._album_ids))
        updates = []
        for index, data in enumerate(items):
            stored = self._user_message(
                chat_id,
                sender,
                media_group_id=group_id,
                **self._caption(caption if index == 0 else None),
            )
            stored.media = {"photo": self._photo_sizes(data)}
            updates.append(self._message_update(stored))
        return updates

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        first_name: str = "Alice",
    ) -> dict[str, Any]:
        """A user presses the inline button carrying ``data`` under a bot message."""
        stored = self.message(chat_id, message_id)
        if stored is None or not stored.from_bot:
            raise ValueError(f"no bot message {message_id} in chat {chat_id}")
        buttons = [
            b.get("callback_data")
            for row in (stored.reply_markup or {}).get("inline_keyboard", [])
            for b in row
        ]
        if data not in buttons:
            raise ValueError(f"message {message_id} has no button {data!r}; it has {buttons}")
        user = {
            "id": user_id or (chat_id if chat_id > 0 else DEFAULT_USER_ID),
            "is_bot": False,
            "first_name": first_name,
            "language_code": "en",
        }
        query_id = str(next(self._callback_ids))
        query = {
            "id": query_id,
            "from": user,
            "message": stored.to_json(),
            "chat_instance": f"-{abs(chat_id) * 7 + 3}",
            "data": data,
        }
        self.callback_queries[query_id] = query
        return self.queue_update("callback_query", query)

    @staticmethod
    def _caption(caption: str | None) -> dict[str, Any]:
        if not caption:
            return {}
        return {"caption": caption, "caption_entities": auto_entities(caption)}


def scope_key(scope: Any) -> str:
    if not scope or scope == {"type": "default"}:
        return "default"
    if isinstance(scope, dict):
        return ",".join(f"{k}={scope[k]}" for k in sorted(scope))
    return str(scope)
