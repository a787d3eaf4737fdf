"""A fake Discord for running the real discord.py (2.7) against, on 127.0.0.1.

One aiohttp server holds the REST API (``/api/v10``), the gateway WebSocket (``/gateway/``,
resumes at ``/resume-gateway/``) and the CDN (``/attachments/...``). Point discord.py at it
with :func:`pointed_at` (its two class attributes, the only seam it has; platforms.md 2.1).
tests/test_fake_discord*.py show every feature against the real client.

Emulated: login (401 -> LoginFailure), application info, /gateway/bot; HELLO, heartbeats,
IDENTIFY -> READY + GUILD_CREATE, RESUME with replay by sequence, RECONNECT, INVALID_SESSION,
close codes 4001-4005, 4008, 4014 (privileged intents off in the "portal"), zlib-stream; the
MESSAGE_CONTENT intent emptying guild messages; messages (JSON and multipart, edit history,
delete, history, replies, mentions as Discord computes them), threads (from a message: same
id), DMs, voice-channel text chats, announcement channels, forum posts, typing, reactions;
slash commands (bulk overwrite with validation and localizations), interactions (types 2-5;
callbacks 4-9 with ``with_response``, the 3 s and 15 min windows, 40060), modals,
autocomplete, follow-ups and @original; roles and channel permission
overwrites for the bot (50013 and friends); content/embed/component/file limits (50035,
50006, 413 40005); rate-limit headers, buckets, injected and global 429s with ``Via``.

Not emulated: voice, presences, member chunking and GUILD_MEMBER_* events, stickers, polls,
forum tags, scheduled events, audit logs, webhooks other than interaction tokens, the
ETF encoding and zstd-stream (text frames are sent instead; discord.py accepts them), shard
counts other than what the client asks, Cloudflare bans, and edits of messages older than an
hour (30046). Error texts marked APPROX in rules.py follow Discord's format, not its words."""

from tests.fake_discord.harness import (
    intents,
    new_client,
    pointed_at,
    running,
    serving,
    start_failure,
)
from tests.fake_discord.models import Call, Channel, Guild, InteractionRecord, StoredMessage, User
from tests.fake_discord.ratelimits import Limit
from tests.fake_discord.recorder import Recorder, World, small_world
from tests.fake_discord.rules import DiscordError
from tests.fake_discord.server import TOKEN, FakeDiscord

__all__ = [
    "TOKEN",
    "Call",
    "Channel",
    "DiscordError",
    "FakeDiscord",
    "Guild",
    "InteractionRecord",
    "Limit",
    "Recorder",
    "StoredMessage",
    "User",
    "World",
    "intents",
    "new_client",
    "pointed_at",
    "running",
    "serving",
    "small_world",
    "start_failure",
]
