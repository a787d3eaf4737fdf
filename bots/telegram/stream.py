"""One streamed answer on Telegram: a message edited as text arrives, and a final that lands."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from telegram import InlineKeyboardMarkup
from telegram.error import TelegramError

from bots.shared.text_split import take_chunk, utf16_len
from bots.telegram.format import Rendered, render
from bots.telegram.send import ChatGone, Skipped, Target, TelegramSender

log = logging.getLogger("relaybot.telegram")

MESSAGE_LIMIT = 4096  # UTF-16 units of visible text (Bot API); Markdown source is never shorter
MAX_INTERVAL_S = 5.0


class StreamingAnswer:
    """Shows an answer while it streams, within the flood limits, and always lands the end.

    The first message goes out half an interval after the first piece of text; edits are
    spaced by at least ``interval_s``, growing by ``growth`` after each edit up to
    ``MAX_INTERVAL_S``, so a long answer costs a handful of calls rather than one a
    second. The first text and the final text wait in the flood gate's line (the first
    one sends whatever text there is when its turn comes); an edit in between is skipped
    when the budget is short, and tried again an interval later. Past 4096 characters the
    answer goes on in a new message, split at a paragraph, line or sentence, with code
    fences closed and reopened.
    """

    def __init__(
        self,
        sender: TelegramSender,
        target: Target,
        *,
        interval_s: float = 1.0,
        growth: float = 1.5,
        markdown: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sender = sender
        self._target = target
        self._interval = interval_s
        self._growth = growth
        self._markdown = markdown
        self._clock = clock
        self._text = ""  # Markdown of the message being written (the last one)
        self._message_id: int | None = None
        self._shown = ""  # the HTML that message shows now
        self._shown_markup: InlineKeyboardMarkup | None = None  # ...and its buttons
        self._markup: InlineKeyboardMarkup | None = None  # the final buttons, once known
        self._wake = asyncio.Event()
        self._closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._edits = 0
        self._waiting = True  # the writer task is waiting for text, not pausing between edits
        self._version = 0  # how many pieces were added; the writer compares before it waits
        self._shown_version = 0
        self.gone = False  # the chat can no longer be written to
        self.message_ids: list[int] = []

    @property
    def started(self) -> bool:
        return self._task is not None

    def add(self, delta: str) -> None:
        """Append streamed text; the message catches up in the background."""
        self._text += delta
        self._version += 1
        if self._waiting:  # during the pause between edits the text just accumulates
            self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="telegram-stream")

    async def finish(
        self, text: str | None = None, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        """Deliver the complete answer. ``text`` is used when nothing was streamed."""
        self._markup = markup
        self._closed.set()
        self._wake.set()
        if self._task is not None:
            await self._task
        elif text is not None:
            self._text = text
        if self.gone:
            return
        try:
            await self._land(markup)
        except ChatGone:
            self.gone = True
        except TelegramError as exc:
            log.error("final text lost chat=%s: %s", self._target.key, exc.message)

    def cancel(self) -> None:
        """Stop the writer without landing the text (the reply was abandoned)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _render(self, text: str, partial: bool) -> Rendered:
        if self._markdown:
            return render(text, partial=partial)
        return plain(text)

    async def _run(self) -> None:
        # The first message waits half an interval: a short answer that completes by then
        # goes out whole in one call instead of a message and an edit.
        next_at = self._clock() + self._interval / 2
        while not self._closed.is_set():
            if self._version == self._shown_version:  # nothing new since the last edit
                self._waiting = True
                await self._wake.wait()
                self._waiting = False
            self._wake.clear()
            delay = next_at - self._clock()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._closed.wait(), delay)
                    return
                except TimeoutError:
                    pass
            if self._closed.is_set():
                return
            try:
                while utf16_len(self._text) > MESSAGE_LIMIT:
                    await self._seal()
                await self._show()
            except Skipped:
                self._wake.set()  # the budget was short: try again after the interval
            except ChatGone:
                self.gone = True
                return
            except TelegramError as exc:
                log.warning("streaming edit failed chat=%s: %s", self._target.key, exc.message)
            next_at = self._clock() + min(
                MAX_INTERVAL_S, self._interval * self._growth**self._edits
            )

    async def _seal(self) -> None:
        """Finish the current message with the first chunk; the rest starts a new one."""
        snapshot = self._text
        chunk, rest = take_chunk(snapshot, MESSAGE_LIMIT)
        await self._put(self._render(chunk, partial=False), None, final=True)
        # Only now: if that failed, the text is still here for the next try. add() only
        # appends, so what came meanwhile is the part of _text past the snapshot.
        self._text = rest + self._text[len(snapshot) :]
        self._message_id = None
        self._shown = ""

    async def _show(self) -> None:
        version = self._version
        rendered = self._render(self._text, partial=True)
        if rendered.html == self._shown or not rendered.plain.strip():
            self._shown_version = version
            return
        if self._message_id is None:
            await self._first(rendered, version)
        else:
            await self._put(rendered, None, final=False)
            self._shown_version = version
        self._edits += 1

    async def _first(self, rendered: Rendered, version: int) -> None:
        """The first text must arrive: it waits in line, and when its turn comes it sends
        all the text there is by then (all of the answer if it has ended meanwhile)."""
        sent: tuple[Rendered, InlineKeyboardMarkup | None, int] = (rendered, None, version)

        def fresh() -> tuple[Rendered, InlineKeyboardMarkup | None]:
            nonlocal sent
            closed = self._closed.is_set()
            if (closed or self._version != sent[2]) and utf16_len(self._text) <= MESSAGE_LIMIT:
                now = self._render(self._text, partial=not closed)
                if now.plain.strip():
                    sent = (now, self._markup if closed else None, self._version)
            return sent[0], sent[1]

        reply = not self.message_ids  # only the first message quotes the user's
        message = await self._sender.send_text(
            self._target, rendered, None, wait=True, reply=reply, fresh=fresh
        )
        self._message_id = message.message_id
        self.message_ids.append(message.message_id)
        self._shown, self._shown_markup, self._shown_version = sent[0].html, sent[1], sent[2]

    async def _land(self, markup: InlineKeyboardMarkup | None) -> None:
        while utf16_len(self._text) > MESSAGE_LIMIT:
            await self._seal()
        rendered = self._render(self._text, partial=False)
        if not rendered.plain.strip():
            return
        if (
            rendered.html == self._shown
            and markup is self._shown_markup
            and self._message_id is not None
        ):
            return  # the last send or edit already shows the final text
        await self._put(rendered, markup, final=True)

    async def _put(
        self, rendered: Rendered, markup: InlineKeyboardMarkup | None, *, final: bool
    ) -> None:
        """Show ``rendered`` in the current message: edit it, or send it when there is none or
        when the edit cannot be made (message deleted, edit failed for good)."""
        stale: int | None = None
        if self._message_id is not None:
            try:
                edited = await self._sender.edit_text(
                    self._target, self._message_id, rendered, markup, wait=final
                )
            except (ChatGone, Skipped):
                raise
            except TelegramError as exc:
                if not final:
                    raise
                log.warning(
                    "final edit failed chat=%s (%s); sending it anew", self._target.key, exc.message
                )
                edited, stale = False, self._message_id
            if edited:
                self._shown, self._shown_markup = rendered.html, markup
                return
        reply = not self.message_ids  # only the first message quotes the user's
        message = await self._sender.send_text(
            self._target, rendered, markup, wait=final, reply=reply
        )
        self._message_id = message.message_id
        self.message_ids.append(message.message_id)
        self._shown, self._shown_markup = rendered.html, markup
        if stale is not None:  # the half-finished copy would only confuse
            await self._sender.delete(self._target, stale)


def plain(text: str) -> Rendered:
    """Text written by the bot itself: shown as it is, HTML-escaped."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Rendered(escaped, text)
