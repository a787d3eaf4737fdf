"""Telegram updates shared by several workers (``workers.count`` > 1, webhook mode).

Any worker may receive any update (a load balancer in front of all of them). PTB's webhook
server awaits ``update_queue.put(update)`` before it answers Telegram, so ``StoringQueue``
stores the update in the shared inbox first (core.workers.inbox): Telegram hears "200" only
for an update that is stored, and a storage failure answers 500 (Telegram delivers it again).

``SharedUpdates`` then answers what the inbox holds: for each chat with updates waiting it
takes the chat's lease (one worker per chat at a time) and hands the chat's updates to PTB in
update order, as long polling would; the engine's per-conversation line does the rest, as in
one process. A chat whose worker died is taken over when its lease expires; the update that
worker was answering is not answered again (it may have been paid for, or half sent): its user
is told to send it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update

from core.workers.inbox import Inbox, InboxRow
from core.workers.leases import Leases

log = logging.getLogger("relaybot.telegram")

PURGE_EVERY_S = 600.0
KEEP_ANSWERED_S = 86_400.0  # the dedupe window: Telegram stops retrying long before
MAX_BACKOFF_S = 30.0

Handle = Callable[[dict[str, Any]], Awaitable[None]]


def chat_of(payload: dict[str, Any]) -> str:
    """The chat an update belongs to (its message's, or its button's message's)."""
    for kind in ("message", "edited_message", "channel_post", "callback_query"):
        found = payload.get(kind)
        if kind == "callback_query" and isinstance(found, dict):
            found = found.get("message")
        chat = found.get("chat") if isinstance(found, dict) else None
        if isinstance(chat, dict) and "id" in chat:
            return str(chat["id"])
    return f"update:{payload.get('update_id')}"


class StoringQueue(asyncio.Queue[object]):
    """PTB's update queue in shared mode: an update put here is stored, not queued (the
    dispatcher takes it from the database); anything else (PTB's stop signal) is queued."""

    def __init__(self, accept: Callable[[Update], Awaitable[None]]) -> None:
        super().__init__()
        self._accept = accept

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            await self._accept(item)
        else:
            await super().put(item)


class SharedUpdates:
    """Stores updates, and answers those of the chats this worker holds."""

    def __init__(
        self,
        inbox_of: Callable[[str], Inbox],
        leases: Leases,
        *,
        poll_s: float,
        max_concurrent: int,
        handle: Handle,
        interrupted: Handle,
    ) -> None:
        self._inbox_of = inbox_of
        self._inbox: Inbox | None = None
        self._leases = leases
        self._poll_s = poll_s
        self._handle = handle
        self._interrupted = interrupted
        self._slots = asyncio.Semaphore(max_concurrent)
        self.in_progress = 0  # updates being answered now (holding one of the slots)
        self._active: dict[str, int] = {}  # chat (lease name) -> its updates in hand here
        self._waiting: dict[asyncio.Task[None], int] = {}  # not started yet -> update_id
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._chats = asyncio.Lock()  # taking a chat and giving it back never interleave
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_purge = 0.0

    def bind(self, source: str) -> None:
        """Known once the bot knows who it is (getMe): ``telegram:<bot id>``."""
        self._inbox = self._inbox_of(source)

    @property
    def inbox(self) -> Inbox:
        if self._inbox is None:
            raise RuntimeError("SharedUpdates used before bind()")
        return self._inbox

    def lease_name(self, chat: str) -> str:
        return f"{self.inbox.source}:chat:{chat}"

    async def accept(self, update: Update) -> None:
        """Store ``update`` (raises on a storage failure: PTB answers 500, Telegram retries)."""
        payload = update.to_dict()
        stored = await self.inbox.accept(
            update.update_id, self.lease_name(chat_of(payload)), payload
        )
        if stored:
            self._wake.set()
        else:
            log.info("telegram update %d delivered again: answered once", update.update_id)

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._loop_task = asyncio.create_task(self._loop(), name="telegram-shared-updates")

    async def stop(self, wait_s: float) -> None:
        """No new updates taken; those taken but not started go back to the inbox for
        another worker; those being answered get ``wait_s`` to finish; leases are given back."""
        self._stopping = True
        task, self._loop_task = self._loop_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        unstarted = list(self._waiting.items())
        for waiting, _ in unstarted:
            waiting.cancel()
        running = [t for t in self._tasks if t not in self._waiting]
        await asyncio.gather(*(t for t, _ in unstarted), return_exceptions=True)
        if running:
            _, late = await asyncio.wait(running, timeout=wait_s)
            for straggler in late:
                straggler.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        try:
            await self.inbox.put_back([update_id for _, update_id in unstarted])
            await self._leases.release_all()
        except Exception as exc:
            log.warning("could not hand back updates and chats at stop: %s", exc)

    async def wait_idle(self) -> None:
        """Until nothing taken here is still being answered (for tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- the dispatcher --------------------------------------------------------------------

    async def _loop(self) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            wait = self._poll_s
            try:
                await self.round()
                if loop.time() - self._last_purge > PURGE_EVERY_S:
                    self._last_purge = loop.time()
                    await self.inbox.purge(self.inbox.now() - KEEP_ANSWERED_S)
                failures = 0
            except Exception as exc:
                failures += 1
                wait = min(MAX_BACKOFF_S, self._poll_s * 2**failures)
                log.warning("telegram inbox round failed (%d in a row): %s", failures, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def round(self) -> None:
        """Take the chats that are free (or ours) and have updates waiting; start them."""
        inbox = self.inbox
        for chat in await inbox.ready_chats():
            if self._stopping:
                return
            async with self._chats:
                if chat not in self._active and not await self._leases.acquire(chat):
                    continue  # another worker got it first
                taken, lost = await inbox.take(chat)
                if not taken and chat not in self._active:
                    await inbox.release_if_idle(chat)
            for row in lost:
                log.warning(
                    "telegram update %d was being answered by a worker that stopped; its user"
                    " is asked to send it again",
                    row.update_id,
                )
                self._spawn(self._tell_interrupted(row))
            for row in taken:
                self._active[chat] = self._active.get(chat, 0) + 1
                task = self._spawn(self._answer(row))
                self._waiting[task] = row.update_id

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _tell_interrupted(self, row: InboxRow) -> None:
        try:
            await self._interrupted(row.payload)
        except Exception as exc:
            log.info("could not tell about interrupted update %d: %s", row.update_id, exc)

    async def _answer(self, row: InboxRow) -> None:
        me = asyncio.current_task()
        try:
            async with self._slots:
                if me is not None:
                    self._waiting.pop(me, None)  # started: no longer handed back at a stop
                self.in_progress += 1
                try:
                    await self._handle(row.payload)
                except Exception:
                    log.exception("telegram update %d failed", row.update_id)
                finally:
                    self.in_progress -= 1
            await self.inbox.finish(row.update_id)
        finally:
            if me is not None:
                self._waiting.pop(me, None)
            left = self._active.get(row.chat, 1) - 1
            if left > 0:
                self._active[row.chat] = left
            else:
                self._active.pop(row.chat, None)
                if not self._stopping:
                    self._spawn(self._release(row.chat))

    async def _release(self, chat: str) -> None:
        try:
            async with self._chats:
                if chat in self._active:
                    return  # more came meanwhile
                released = await self.inbox.release_if_idle(chat)
            if not released:
                self._wake.set()  # updates of it wait: take them now
        except Exception as exc:
            log.info("could not give back chat %s: %s", chat, exc)


__all__ = ["SharedUpdates", "StoringQueue", "chat_of"]
