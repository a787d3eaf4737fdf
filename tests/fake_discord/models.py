"""The fake Discord's state: users, guilds, channels, messages, interactions, recorded calls."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

DISCORD_EPOCH_MS = 1420070400000

# Channel types (discord-api-docs resources/channel "Channel Types").
GUILD_TEXT = 0
DM = 1
GUILD_VOICE = 2  # has a text chat: messages arrive there too
GUILD_NEWS = 5  # announcement channel
ANNOUNCEMENT_THREAD = 10
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
GUILD_FORUM = 15  # only threads ("posts"), no messages of its own
THREAD_TYPES = (ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD)
CHANNEL_KINDS = {"text": GUILD_TEXT, "voice": GUILD_VOICE, "news": GUILD_NEWS, "forum": GUILD_FORUM}


class Snowflakes:
    """Real-looking snowflakes: the creation time in the high bits, a counter in the low ones."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)


@dataclass
class User:
    id: int
    name: str
    bot: bool = False
    global_name: str | None = None
    locale: str = "en-US"


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False  # the bot's own role


@dataclass
class Channel:
    id: int
    type: int
    name: str = ""
    guild_id: int | None = None
    parent_id: int | None = None  # a thread's channel
    owner_id: int | None = None  # a thread's creator
    recipient_id: int | None = None  # a DM's other user
    position: int = 0
    # Permissions the BOT lacks here, as names of PERMISSIONS (sent as a member overwrite so
    # discord.py's permissions_for agrees, and enforced by the REST routes: 403 / 50013).
    denied: set[str] = field(default_factory=set)
    archived: bool = False
    locked: bool = False  # an archived locked thread refuses messages (400 50083)
    message_count: int = 0
    deleted: bool = False

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES


@dataclass
class Guild:
    id: int
    name: str
    roles: list[Role] = field(default_factory=list)
    members: dict[int, list[int]] = field(default_factory=dict)  # user id -> role ids
    channel_ids: list[int] = field(default_factory=list)
    # The channel's per-file upload limit (discord.py: guild.filesize_limit from premium_tier).
    premium_tier: int = 0
    owner_id: int = 0  # the application owner (not a member unless added): not the bot


@dataclass
class StoredAttachment:
    id: int
    filename: str
    content_type: str | None
    data: bytes
    url: str
    channel_id: int = 0  # where it was uploaded (part of its CDN path)
    description: str | None = None
    duration_secs: float | None = None  # voice messages
    waveform: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class Snapshot:
    """A message as it looked before one edit."""

    content: str
    embeds: list[dict[str, Any]]
    components: list[dict[str, Any]]
    attachments: list[StoredAttachment]
    flags: int


@dataclass
class StoredMessage:
    id: int
    channel_id: int
    author: User
    content: str = ""
    guild_id: int | None = None
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[StoredAttachment] = field(default_factory=list)
    mentions: list[int] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    reference: int | None = None  # the message this one replies to
    flags: int = 0
    type: int = 0  # 0 default, 19 reply, 20 chat input command
    webhook_id: int | None = None  # set on interaction responses and follow-ups
    interaction_id: int | None = None
    thread_id: int | None = None  # a thread started from this message
    tts: bool = False
    edits: list[Snapshot] = field(default_factory=list)  # earlier versions, oldest first
    deleted: bool = False
    created_at: float = field(default_factory=time.time)
    edited_at: float | None = None

    @property
    def history(self) -> list[str]:
        """Every content this message had, oldest first, ending with the current one."""
        return [s.content for s in self.edits] + [self.content]

    def snapshot(self) -> Snapshot:
        return Snapshot(
            self.content,
            list(self.embeds),
            list(self.components),
            list(self.attachments),
            self.flags,
        )


@dataclass
class InteractionRecord:
    """An interaction the test dispatched, and what the bot answered."""

    id: int
    token: str
    type: int  # 2 application command, 3 component, 5 modal submit
    channel_id: int
    guild_id: int | None
    user: User
    data: dict[str, Any]
    message_id: int | None = None  # the component's message (type 3)
    created: float = field(default_factory=time.monotonic)
    responses: list[dict[str, Any]] = field(default_factory=list)  # callback bodies in order
    original_id: int | None = None  # the @original message
    followups: list[int] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return bool(self.responses)

    @property
    def response_types(self) -> list[int]:
        return [int(r.get("type", 0)) for r in self.responses]


@dataclass(frozen=True)
class UploadedFile:
    field: str  # "files[0]"
    filename: str
    content_type: str | None
    data: bytes


@dataclass
class Call:
    """One REST request as the fake received it."""

    method: str
    route: str  # "POST /channels/{channel_id}/messages"
    path: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any = None
    files: list[UploadedFile] = field(default_factory=list)
    status: int = 0
    error_code: int | None = None
