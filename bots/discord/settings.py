"""The ``discord:`` section of the configuration: the Discord adapter's own settings.

It imports no discord.py: ``relaybot check-config`` validates it without loading the adapter.
"""

from __future__ import annotations

import re
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import Field, PlainValidator, model_validator
from pydantic_core import PydanticCustomError

from core.config import fields as ce
from core.config.fields import (
    Bool,
    ConcurrentUpdates,
    OptionalPositiveInt,
    PositiveInt,
    PositiveNumber,
    Secret,
    Text,
    Url,
    without_userinfo,
)
from core.config.sections import Section, TokenPlatformSection

DEFAULT_API = "https://discord.com/api/v10"
DEFAULT_GATEWAY = "wss://gateway.discord.gg/"
MIB = 1024 * 1024
MAX_SHARDS = 4096


def _fail(message: str) -> PydanticCustomError:
    return PydanticCustomError(ce.OWN_ERROR, message)


def _ws_url(value: object) -> str:
    """A ``ws://`` or ``wss://`` URL with a host (the gateway discord.py connects to)."""
    if isinstance(value, str):
        url = value.strip()
        try:
            parts = urlsplit(url)
            ok = parts.scheme in ("ws", "wss") and bool(parts.hostname)
            parts.port  # noqa: B018 - raises ValueError on a port that is no number
        except ValueError:
            ok = False
        if ok and not any(c.isspace() for c in url):
            return url if url.endswith("/") else url + "/"
    raise _fail("must be a ws:// or wss:// URL")


def _snowflake(value: object) -> int:
    """A Discord id: a positive integer (YAML may quote it)."""
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,20}\s*", value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**64:
        return value
    raise _fail("must be a Discord id (a positive integer, e.g. 123456789012345678)")


def _shard_id(value: object) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_SHARDS:
        return value
    raise _fail(f"must be a shard number from 0 to {MAX_SHARDS - 1}")


WsUrl = Annotated[str, PlainValidator(_ws_url)]
Snowflake = Annotated[int, PlainValidator(_snowflake)]
ShardId = Annotated[int, PlainValidator(_shard_id)]


class DiscordLimits(Section):
    """Discord's per-channel limit, which the bot stays inside (edits count like messages)."""

    per_channel: PositiveInt = Field(
        default=5, description="Messages+edits per channel in any window_s seconds."
    )
    window_s: PositiveNumber = Field(default=5.0, description="The per-channel window.")
    global_per_s: PositiveInt = Field(default=50, description="Requests/s in all channels.")


class DiscordSettings(TokenPlatformSection):
    """The Discord bot."""

    enabled: Bool = Field(default=False, description="Run the Discord bot.")
    token: Secret = Field(default="", repr=False, description="Bot token (secret).")
    api_base: Url = Field(default=DEFAULT_API, description="REST API base URL.")
    gateway_url: WsUrl = Field(default=DEFAULT_GATEWAY, description="Gateway WebSocket URL.")
    message_content: Bool = Field(
        default=True, description="Ask for the privileged Message Content intent."
    )
    guild_ids: tuple[Snowflake, ...] = Field(
        default=(), description="Sync slash commands to these servers at once (else globally)."
    )
    threads: Bool = Field(
        default=True, description="A mention in a channel opens a thread for the answer."
    )
    trigger_words: tuple[Text, ...] = Field(
        default=(), description="Words that make the bot answer in channels, besides a mention."
    )
    filesize_limit: PositiveNumber = Field(
        default=10, description="Largest upload in MiB (Discord: 10; boosted servers more)."
    )
    max_download_mb: PositiveNumber = Field(
        default=25, description="Largest attachment the bot downloads, in MB."
    )
    edit_interval_s: PositiveNumber = Field(
        default=1.0, description="Shortest time between two edits of a streaming answer."
    )
    shard_count: OptionalPositiveInt = Field(
        default=None, description="Total gateway shards (null: one connection, no sharding)."
    )
    shard_ids: tuple[ShardId, ...] = Field(
        default=(), description="The shards this process runs (empty: all of shard_count)."
    )
    connect_timeout_s: PositiveNumber = Field(
        default=30.0, description="Start-up fails when the gateway has not answered by then."
    )
    guild_ready_timeout_s: PositiveNumber = Field(
        default=2.0, description="How long start-up waits for more servers before ready."
    )
    max_concurrent_updates: ConcurrentUpdates = Field(
        default=64, description="Messages handled at once (1..256); more wait for a slot."
    )
    limits: DiscordLimits = Field(default_factory=DiscordLimits)

    @model_validator(mode="after")
    def _shards(self) -> Self:
        if self.shard_ids and self.shard_count is None:
            raise ce.field_error("shard_ids", "needs {section}.shard_count (the total)")
        count = self.shard_count
        if count is not None and count > MAX_SHARDS:
            raise ce.field_error("shard_count", f"must be at most {MAX_SHARDS}")
        if count is not None:
            for n in self.shard_ids:
                if n >= count:
                    raise ce.field_error(
                        "shard_ids",
                        f"shard {n} does not exist: ids go from 0 to {{section}}.shard_count - 1"
                        f" ({count - 1})",
                    )
        if len(set(self.shard_ids)) != len(self.shard_ids):
            raise ce.field_error("shard_ids", "lists a shard twice")
        return self

    @property
    def filesize_limit_bytes(self) -> int:
        return int(self.filesize_limit * MIB)

    def workers_problems(self, count: int) -> list[tuple[str, str]]:
        # Every worker with the whole gateway would answer every message once per worker.
        if count > 1 and not self.shard_ids:
            return [
                (
                    "shard_ids",
                    f"required when workers.count is {count}: give each worker its own shards"
                    " of discord.shard_count (e.g. [0] on one, [1] on another), otherwise every"
                    " worker answers every Discord message",
                )
            ]
        return []

    def summary(self) -> list[str]:
        intents = "message content" if self.message_content else "no message content"
        lines = [f"discord intents: {intents}; threads: {'on' if self.threads else 'off'}"]
        if self.api_base != DEFAULT_API:
            lines.append(f"discord api: {without_userinfo(self.api_base)}")
        if self.gateway_url != DEFAULT_GATEWAY:
            lines.append(f"discord gateway: {self.gateway_url}")
        if self.guild_ids:
            lines.append(f"discord commands synced to: {', '.join(map(str, self.guild_ids))}")
        if self.shard_count is not None:
            ids = ", ".join(map(str, self.shard_ids)) or "all"
            lines.append(f"discord shards: {ids} of {self.shard_count}")
        if self.trigger_words:
            lines.append(f"discord trigger words: {', '.join(self.trigger_words)}")
        return lines
