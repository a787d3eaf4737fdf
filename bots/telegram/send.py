"""Bot API calls for one reply: flood gate, HTML with a plain-text fallback, typed outcomes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ChatAction, ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bots.shared.flood import FloodGate, Ticket
from bots.telegram.format import Rendered
from core.metrics import NO_METRICS, Metrics

log = logging.getLogger("relaybot.telegram")

T = TypeVar("T")
MAX_ATTEMPTS = 6  # a final text survives this many flood waits in a row
NETWORK_TRIES = 4  # ...and this many network failures, with pauses of 1, 2, 4 x retry_s
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a reply goes: the chat, its forum topic, and the user's message it answers."""

    chat_id: int
    group: bool
    thread_id: int | None = None
    reply_to: int | None = None

    @property
    def key(self) -> str:
        return str(self.chat_id)


class ChatGone(Exception):
    """The chat cannot receive messages any more (bot blocked, kicked, chat deleted)."""


class Skipped(Exception):
    """A call that was not worth waiting for (a streaming edit when the budget is short)."""


def _is(exc: TelegramError, fragment: str) -> bool:
    # PTB rewrites descriptions ("Bad Request: x" -> "X" with the rest lower-cased), so
    # match a stable fragment without case.
    return fragment in exc.message.lower()


class TelegramSender:
    """Makes the calls of one platform; every call passes the flood gate first."""

    def __init__(
        self, bot: Bot, gate: FloodGate, *, retry_s: float = 1.0, metrics: Metrics = NO_METRICS
    ) -> None:
        self.metrics = metrics
        self.bot = bot
        self.gate = gate
        self.retry_s = retry_s

    async def _call(
        self,
        target: Target,
        make: Callable[[], Awaitable[T]],
        *,
        wait: bool,
        what: str,
        idempotent: bool = False,
    ) -> T:
        """Run ``make()`` within the chat's limits. A flood wait is sat out when ``wait`` (the
        final text must arrive), else the call is skipped. Network errors of a call that
        must arrive are retried with growing pauses; a timed-out send is not retried:
        Telegram may have delivered it, and a second copy is worse than a late one (edits
        and deletes are ``idempotent`` and are retried)."""
        failures = 0
        ticket: Ticket | None = None
        for _ in range(MAX_ATTEMPTS + NETWORK_TRIES):
            if wait:  # a try again keeps the place in line of the first one
                ticket = await self.gate.acquire(target.key, target.group, place=ticket)
            elif (ticket := self.gate.try_acquire(target.key, target.group)) is None:
                raise Skipped(what)
            pause = 0.0
            try:
                result = await make()
                self.metrics.platform_call("telegram", "ok")
                return result
            except RetryAfter as exc:
                seconds = float(
                    exc.retry_after
                    if isinstance(exc.retry_after, int | float)
                    else exc.retry_after.total_seconds()
                )
                self.metrics.platform_call("telegram", "rate_limited")
                self.metrics.flood_wait("telegram", seconds)
                self.gate.penalize(target.key, seconds)  # before the slot is given back
                log.warning("flood control chat=%s %s: retry after %gs", target.key, what, seconds)
                if not wait:
                    raise Skipped(what) from None
            except Forbidden as exc:
                self.metrics.platform_call("telegram", "error")
                raise ChatGone(exc.message) from None
            except BadRequest:
                self.metrics.platform_call("telegram", "error")
                raise
            except NetworkError as exc:  # timeouts, 5xx, 413
                self.metrics.platform_call("telegram", "error")
                if isinstance(exc, TimedOut) and not idempotent:
                    raise
                failures += 1
                log.warning(
                    "network error chat=%s %s (try %d): %s", target.key, what, failures,
                    exc.message,
                )
                if not wait or failures >= NETWORK_TRIES:
                    raise
                pause = self.retry_s * 2 ** (failures - 1)
            finally:
                self.gate.release(ticket)  # the call counts from when its answer came back
            if pause:
                await asyncio.sleep(pause)
        raise NetworkError(f"{what}: still flood-limited after {MAX_ATTEMPTS} tries")

    def _common(self, target: Target) -> dict[str, Any]:
        args: dict[str, Any] = {"chat_id": target.chat_id}
        if target.thread_id is not None:
            args["message_thread_id"] = target.thread_id
        return args

    async def send_text(
        self,
        target: Target,
        text: Rendered,
        markup: InlineKeyboardMarkup | None = None,
        *,
        wait: bool = True,
        reply: bool = True,
        fresh: Callable[[], tuple[Rendered, InlineKeyboardMarkup | None]] | None = None,
    ) -> Message:
        """Send a new message, as HTML, or as plain text if Telegram rejects the HTML.
        ``fresh`` gives the text and buttons when the call's turn comes (a streamed answer
        waiting in line sends what it has by then)."""
        args = self._common(target)
        if reply and target.reply_to is not None:
            args["reply_parameters"] = ReplyParameters(
                target.reply_to, allow_sending_without_reply=True
            )

        async def html() -> Message:
            nonlocal text, markup
            if fresh is not None:
                text, markup = fresh()
            return await self.bot.send_message(
                text=text.html,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=NO_PREVIEW,
                **args,
            )

        async def plain() -> Message:
            return await self.bot.send_message(
                text=text.plain, reply_markup=markup, link_preview_options=NO_PREVIEW, **args
            )

        return await self._with_fallback(target, html, plain, wait=wait, what="sendMessage")

    async def edit_text(
        self,
        target: Target,
        message_id: int,
        text: Rendered,
        markup: InlineKeyboardMarkup | None = None,
        *,
        wait: bool = True,
    ) -> bool:
        """Edit a sent message; False when it no longer exists (the caller sends anew)."""

        async def html() -> object:
            return await self.bot.edit_message_text(
                text=text.html,
                chat_id=target.chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=NO_PREVIEW,
            )

        async def plain() -> object:
            return await self.bot.edit_message_text(
                text=text.plain,
                chat_id=target.chat_id,
                message_id=message_id,
                reply_markup=markup,
                link_preview_options=NO_PREVIEW,
            )

        try:
            await self._with_fallback(
                target, html, plain, wait=wait, what="editMessageText", idempotent=True
            )
        except BadRequest as exc:
            if _is(exc, "not modified"):
                return True
            if _is(exc, "not found") or _is(exc, "can't be edited"):
                return False
            raise
        return True

    async def _with_fallback(
        self,
        target: Target,
        html: Callable[[], Awaitable[T]],
        plain: Callable[[], Awaitable[T]],
        *,
        wait: bool,
        what: str,
        idempotent: bool = False,
    ) -> T:
        try:
            return await self._call(target, html, wait=wait, what=what, idempotent=idempotent)
        except BadRequest as exc:
            if not _is(exc, "can't parse entities"):
                raise
            log.warning(
                "telegram rejected HTML chat=%s (%s); sending plain text", target.key, exc.message
            )
        # The rejected call used this chat's slot: the plain text waits for the next one.
        return await self._call(target, plain, wait=True, what=what, idempotent=idempotent)

    async def typing(self, target: Target) -> None:
        """Show "typing…" (lasts ~5 s); not counted against flood limits, never fatal."""
        try:
            await self.bot.send_chat_action(action=ChatAction.TYPING, **self._common(target))
        except TelegramError as exc:
            log.debug("typing failed chat=%s: %s", target.key, exc.message)

    async def delete(self, target: Target, message_id: int) -> None:
        """Delete a message if possible; never fatal."""
        try:
            await self._call(
                target,
                lambda: self.bot.delete_message(chat_id=target.chat_id, message_id=message_id),
                wait=True,
                what="deleteMessage",
                idempotent=True,
            )
        except (TelegramError, Skipped, ChatGone) as exc:
            log.debug("delete failed chat=%s: %s", target.key, exc)

    async def call(self, target: Target, make: Callable[[], Awaitable[T]], what: str) -> T:
        """Any other call (media, markup), waiting out flood control."""
        return await self._call(target, make, wait=True, what=what)
