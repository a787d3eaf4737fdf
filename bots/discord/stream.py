"""One streamed answer on Discord: a message edited as text arrives, continued in a new message
past 2000 characters, and a final text that always lands."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import discord

from bots.discord.markdown import MESSAGE_LIMIT, to_discord
from bots.discord.send import ChatGone, DiscordSender, MessageGone, Sent, Skipped, Surface
from bots.shared.text_split import take_chunk

log = logging.getLogger("relaybot.discord")

MAX_INTERVAL_S = 5.0


class StreamingAnswer:
    """Shows an answer while it streams, inside the channel's limits, and lands the end.

    The first message goes out half an interval after the first text; edits are spaced by at
    least ``interval_s`` (growing by ``growth`` after each, up to 5 s), and an edit is skipped
    when the channel's budget is short (the flood gate: ~5 messages or edits per 5 s). The
    first and the final text wait their turn. Past 2000 characters the message is finished
    with a chunk cut at a paragraph, line or sentence (fences closed and reopened), and the
    answer continues in a new message.
    """

    def __init__(
        self,
        sender: DiscordSender,
        surface: Surface,
        *,
        interval_s: float = 1.0,
        growth: float = 1.5,
        markdown: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sender = sender
        self._surface = surface
        self._interval = interval_s
        self._growth = growth
        self._markdown = markdown
        self._clock = clock
        self._text = ""  # the text of the message being written (the last one)
        self._message: Sent | None = None
        self._shown = ""  # what that message shows now
        self._shown_view = False
        self._wake = asyncio.Event()
        self._closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._edits = 0
        self._version = 0
        self._shown_version = 0
        self.gone = False
        self.message_ids: list[int] = []

    @property
    def started(self) -> bool:
        return self._task is not None

    def add(self, delta: str) -> None:
        """Append streamed text; the message catches up in the background."""
        self._text += delta
        self._version += 1
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="discord-stream")

    async def finish(self, text: str | None = None, view: discord.ui.View | None = None) -> None:
        """Deliver the complete answer; ``text`` is used when nothing was streamed."""
        self._closed.set()
        self._wake.set()
        if self._task is not None:
            await self._task
        elif text is not None:
            self._text = text
        if self.gone:
            return
        try:
            await self._land(view)
        except ChatGone:
            self.gone = True
        except (discord.HTTPException, Skipped) as exc:
            log.error("final text lost channel=%s: %s", self._surface.key, exc)

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _render(self, text: str) -> str:
        # Discord drops trailing blanks itself; comparing without them spares empty edits.
        return (to_discord(text) if self._markdown else text).rstrip()

    async def _run(self) -> None:
        next_at = self._clock() + self._interval / 2
        while not self._closed.is_set():
            if self._version == self._shown_version:
                self._wake.clear()
                await self._wake.wait()
                continue
            delay = next_at - self._clock()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._closed.wait(), delay)
                    return
                except TimeoutError:
                    pass
            try:
                await self._seal_overflow()
                await self._show()
            except Skipped:
                pass  # the budget was short: try again after the interval
            except ChatGone:
                self.gone = True
                return
            except discord.HTTPException as exc:
                log.warning("streaming edit failed channel=%s: %s", self._surface.key, exc)
            next_at = self._clock() + min(
                MAX_INTERVAL_S, self._interval * self._growth**self._edits
            )

    async def _seal_overflow(self) -> None:
        """While the message's text is over the limit: finish it with its first chunk; the
        rest starts a new message."""
        while len(self._render(self._text)) > MESSAGE_LIMIT:
            snapshot = self._text
            chunk, rest = take_chunk(self._render(snapshot), MESSAGE_LIMIT)
            await self._put(chunk, None, final=True)
            self._text = rest + self._text[len(snapshot) :]  # add() only appends
            self._message, self._shown = None, ""

    async def _show(self) -> None:
        version = self._version
        rendered = self._render(self._text)
        if rendered == self._shown or not rendered.strip():
            self._shown_version = version
            return
        await self._put(rendered, None, final=self._message is None)
        self._shown_version = version
        self._edits += 1

    async def _land(self, view: discord.ui.View | None) -> None:
        await self._seal_overflow()
        rendered = self._render(self._text)
        if not rendered.strip():
            if view is not None:
                await self._put("⬇️", view, final=True)
            return
        if rendered == self._shown and view is None and self._message is not None:
            return  # the last send or edit already shows the final text
        await self._put(rendered, view, final=True)

    async def _put(self, content: str, view: discord.ui.View | None, *, final: bool) -> None:
        """Show ``content`` in the current message: edit it, or send a new one when there is
        none or when the edit cannot be made (the message was deleted)."""
        surface, key = self._surface, self._surface.key
        message = self._message
        if message is not None:
            try:
                await self._sender.call(
                    key, lambda: surface.edit(message, content, view), wait=final,
                    what="edit", idempotent=True,
                )
                self._shown, self._shown_view = content, view is not None
                return
            except (discord.NotFound, MessageGone):
                log.info("message %s is gone channel=%s; sending anew", message.id, key)
            except discord.HTTPException as exc:
                if not final:
                    raise
                log.warning("final edit failed channel=%s (%s); sending anew", key, exc)
        reply = not self.message_ids  # only the first message quotes the user's
        sent = await self._sender.call(
            key, lambda: surface.send(content, view=view, reply=reply), wait=True, what="send"
        )
        self._message = sent
        self.message_ids.append(sent.id)
        self._shown, self._shown_view = content, view is not None
