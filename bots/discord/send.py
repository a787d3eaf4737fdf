"""Discord REST calls for replies: the flood gate, error outcomes, and the two places a reply
can go (a channel, or an interaction's response and follow-ups)."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import aiohttp
import discord

from bots.shared.flood import FloodGate, Ticket
from core.metrics import NO_METRICS, Metrics

log = logging.getLogger("relaybot.discord")

T = TypeVar("T")
MAX_ATTEMPTS = 6  # a final text survives this many rate limits in a row
NETWORK_TRIES = 3  # ...and this many network or server failures
INTERACTION_TTL_S = 15 * 60  # an interaction token's life
INTERACTION_MARGIN_S = 30  # stop using it this long before it ends
NO_PINGS = discord.AllowedMentions(everyone=False, roles=False, users=False, replied_user=False)

# Discord's JSON error codes that mean "this channel or thread cannot be written to".
GONE_CODES = frozenset({10003, 50001, 50013, 50007, 50083, 160005, 10004})
# ...and "this interaction's token is no longer usable" (the reply moves to the channel).
EXPIRED_CODES = frozenset({10015, 10062, 50027, 40060})
CANNOT_REPLY = 160002  # "Cannot reply without permission to read message history"


class ChatGone(Exception):
    """The channel, thread or DM cannot receive messages (no permission, deleted, archived)."""


class Skipped(Exception):
    """A call not worth waiting for (a streaming edit when the budget is short)."""


class MessageGone(Exception):
    """A message that can no longer be edited (deleted, or its interaction token expired):
    the caller sends its text anew."""


class TokenExpired(Exception):
    """The interaction's 15 minutes are over (or Discord forgot it): use the channel."""


@dataclass(frozen=True, slots=True)
class FileOut:
    """A file to upload."""

    data: bytes
    filename: str

    def file(self) -> discord.File:
        return discord.File(io.BytesIO(self.data), filename=self.filename)


class Sent(Protocol):
    """A message we sent (a channel message, an interaction response or follow-up)."""

    id: int

    async def edit(self, **fields: Any) -> Any: ...


def retry_after(exc: discord.HTTPException) -> float:
    """The wait a 429 asks for, from its ``Retry-After`` header (1 s when it says none)."""
    if isinstance(exc, discord.RateLimited):
        return float(exc.retry_after)
    headers = getattr(exc.response, "headers", None) or {}
    try:
        return max(0.0, float(headers.get("Retry-After", 1.0)))
    except (TypeError, ValueError):
        return 1.0


class DiscordSender:
    """Makes the bot's calls; every message and edit passes the flood gate first."""

    def __init__(
        self, gate: FloodGate, *, retry_s: float = 1.0, metrics: Metrics = NO_METRICS
    ) -> None:
        self.gate = gate
        self.retry_s = retry_s
        self.metrics = metrics

    async def call(
        self,
        key: str,
        make: Callable[[], Awaitable[T]],
        *,
        wait: bool,
        what: str,
        idempotent: bool = False,
    ) -> T:
        """Run ``make()`` within channel ``key``'s limits. Waits its turn when ``wait`` (a
        first or final text, media), else is skipped when the budget is short. discord.py
        itself waits out 429s that carry ``Via`` and the ``X-RateLimit-*`` buckets; a bare
        429 pauses the channel here for its ``Retry-After``. 5xx and network errors are
        retried when the call must arrive; a send that timed out is not (it may be there)."""
        failures = 0
        ticket: Ticket | None = None
        for _ in range(MAX_ATTEMPTS + NETWORK_TRIES):
            if wait:
                ticket = await self.gate.acquire(key, False, place=ticket)
            elif (ticket := self.gate.try_acquire(key, False)) is None:
                raise Skipped(what)
            pause = 0.0
            try:
                result = await make()
                self.metrics.platform_call("discord", "ok")
                return result
            except discord.Forbidden as exc:
                self.metrics.platform_call("discord", "error")
                if exc.code in GONE_CODES or exc.code == 0:
                    raise ChatGone(f"{exc.status} {exc.code} {exc.text}") from None
                raise
            except discord.NotFound as exc:
                self.metrics.platform_call("discord", "error")
                if exc.code in GONE_CODES:
                    raise ChatGone(f"{exc.status} {exc.code} {exc.text}") from None
                raise
            except (discord.RateLimited, discord.HTTPException) as exc:
                status = getattr(exc, "status", 429)
                if isinstance(exc, discord.RateLimited) or status == 429:
                    seconds = retry_after(exc)
                    self.metrics.platform_call("discord", "rate_limited")
                    self.metrics.flood_wait("discord", seconds)
                    self.gate.penalize(key, seconds)
                    log.warning("rate limited channel=%s %s: retry after %gs", key, what, seconds)
                    if not wait:
                        raise Skipped(what) from None
                    continue
                self.metrics.platform_call("discord", "error")
                if status < 500 or not wait:
                    raise
                failures += 1
                log.warning("discord %s channel=%s %s (try %d)", status, key, what, failures)
                if failures >= NETWORK_TRIES:
                    raise
                pause = self.retry_s * 2 ** (failures - 1)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                self.metrics.platform_call("discord", "error")
                failures += 1
                log.warning("network error channel=%s %s (try %d): %s", key, what, failures, exc)
                if not wait or not idempotent or failures >= NETWORK_TRIES:
                    raise
                pause = self.retry_s * 2 ** (failures - 1)
            finally:
                self.gate.release(ticket)
            if pause:
                await asyncio.sleep(pause)
        raise ChatGone(f"{what}: still rate limited after {MAX_ATTEMPTS} tries")


class Surface(Protocol):
    """Where one reply's messages go."""

    key: str  # the flood gate's channel key

    async def send(
        self, content: str, *, view: discord.ui.View | None = None,
        files: Sequence[FileOut] = (), reply: bool = True,
    ) -> Sent: ...

    async def edit(self, sent: Sent, content: str, view: discord.ui.View | None = None) -> Any:
        ...


class ChannelSurface:
    """Ordinary messages in a channel, thread or DM (by id: no cache needed, so it works for
    job deliveries after a restart). ``reply_to`` quotes the user's message (servers)."""

    def __init__(self, client: discord.Client, channel_id: int, reply_to: int | None = None):
        self._client = client
        self.channel_id = channel_id
        self.reply_to = reply_to
        self.key = str(channel_id)

    async def send(
        self, content: str, *, view: discord.ui.View | None = None,
        files: Sequence[FileOut] = (), reply: bool = True,
    ) -> Sent:
        channel = self._client.get_partial_messageable(self.channel_id)
        kwargs: dict[str, Any] = {"allowed_mentions": NO_PINGS}
        if content:
            kwargs["content"] = content
        if view is not None:
            kwargs["view"] = view
        if files:
            kwargs["files"] = [f.file() for f in files]
        if reply and self.reply_to is not None:
            kwargs["reference"] = discord.MessageReference(
                message_id=self.reply_to, channel_id=self.channel_id, fail_if_not_exists=False
            )
            try:
                return await channel.send(**kwargs)
            except discord.HTTPException as exc:
                if exc.code != CANNOT_REPLY:
                    raise
                # No permission to read history: the answer goes out without quoting.
                self.reply_to = None
                del kwargs["reference"]
                if files:
                    kwargs["files"] = [f.file() for f in files]  # the first try read them
        return await channel.send(**kwargs)

    async def edit(self, sent: Sent, content: str, view: discord.ui.View | None = None) -> Any:
        kwargs: dict[str, Any] = {"content": content}
        if view is not None:
            kwargs["view"] = view
        return await sent.edit(**kwargs)


class InteractionSurface:
    """A slash command's answer: the deferred response first, then follow-ups, within the
    interaction's 15 minutes; after them (or when Discord no longer knows the token), the
    rest goes to the channel as ordinary messages."""

    def __init__(
        self,
        interaction: discord.Interaction[Any],
        channel: ChannelSurface,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interaction = interaction
        self._channel = channel
        self._clock = clock
        self._deadline = clock() + INTERACTION_TTL_S - INTERACTION_MARGIN_S
        self._original_used = False
        self.key = channel.key

    @property
    def live(self) -> bool:
        return self._clock() < self._deadline

    async def send(
        self, content: str, *, view: discord.ui.View | None = None,
        files: Sequence[FileOut] = (), reply: bool = True,
    ) -> Sent:
        if self.live:
            try:
                return await self._send(content, view, files)
            except TokenExpired:
                self._deadline = self._clock()
                log.info("interaction token expired; answering in the channel")
        return await self._channel.send(content, view=view, files=files, reply=False)

    async def _send(
        self, content: str, view: discord.ui.View | None, files: Sequence[FileOut]
    ) -> Sent:
        kwargs: dict[str, Any] = {"allowed_mentions": NO_PINGS}
        if view is not None:
            kwargs["view"] = view
        try:
            if not self._original_used:
                if files:
                    kwargs["attachments"] = [f.file() for f in files]
                # Editing the response is safe to repeat: it is marked used only once done,
                # so a try again after a server error still replaces "thinking…".
                sent = await self._interaction.edit_original_response(
                    content=content or None, **kwargs
                )
                self._original_used = True
                return sent
            if files:
                kwargs["files"] = [f.file() for f in files]
            return await self._interaction.followup.send(content or "", wait=True, **kwargs)
        except discord.HTTPException as exc:
            # 401: the token's time is over; 404: Discord no longer knows the interaction or
            # its response (never acknowledged, or deleted): either way, the channel.
            if exc.code in EXPIRED_CODES or exc.status in (401, 404):
                raise TokenExpired() from None
            raise

    async def settle(self, content: str) -> None:
        """When the reply put nothing in the response (a job that reports in the channel),
        replace "thinking…" with ``content`` so the command does not hang; never fatal."""
        if self._original_used or not self.live:
            return
        try:
            await self._interaction.edit_original_response(
                content=content, allowed_mentions=NO_PINGS
            )
            self._original_used = True
        except discord.HTTPException as exc:
            log.info("could not settle the interaction's response: %s %s", exc.status, exc.code)

    async def edit(self, sent: Sent, content: str, view: discord.ui.View | None = None) -> Any:
        kwargs: dict[str, Any] = {"content": content}
        if view is not None:
            kwargs["view"] = view
        webhook = isinstance(sent, discord.WebhookMessage | discord.InteractionMessage)
        if webhook and not self.live:
            raise MessageGone("the interaction token expired")
        try:
            return await sent.edit(**kwargs)
        except discord.HTTPException as exc:
            if webhook and (exc.code in EXPIRED_CODES or exc.status == 401):
                self._deadline = self._clock()
                raise MessageGone("the interaction token expired") from None
            raise
