"""Flood control: a bot-wide gate that keeps calls per chat, per group and overall in limits."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FloodLimits:
    """Sliding-window limits; edits count like messages (Telegram's Bot FAQ)."""

    per_chat_per_s: float = 1.0
    per_group_per_min: int = 20
    global_per_s: int = 30


# Calls are counted when they leave; Telegram counts them when they arrive, a network delay
# later (and not always the same delay). Windows 10% longer than the limits keep a burst
# that starts at the edge of a window from being refused.
MARGIN = 1.1
FORGET_EVERY = 1000  # calls between two clean-ups of the state of idle chats


class _Window:
    """Times of recent calls, for a limit of ``count`` calls per ``span`` seconds."""

    __slots__ = ("count", "span", "times")

    def __init__(self, count: int, span: float) -> None:
        self.count = count
        self.span = span * MARGIN
        self.times: deque[float] = deque()

    def wait_time(self, now: float) -> float:
        while self.times and self.times[0] <= now - self.span:
            self.times.popleft()
        if len(self.times) < self.count:
            return 0.0
        return self.times[0] + self.span - now


class FloodGate:
    """Decides when a call to a chat may go out.

    ``ready_in`` answers without waiting (a streaming answer skips an edit it cannot make
    now); ``acquire`` waits for a slot and records the call. ``penalize`` applies a server's
    ``retry_after``: no call goes to that chat before it has passed.
    """

    def __init__(
        self,
        limits: FloodLimits,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._limits = limits
        self._clock = clock
        self._sleep = sleep
        self._global = _Window(limits.global_per_s, 1.0)
        self._chats: dict[str, _Window] = {}
        self._groups: dict[str, _Window] = {}
        self._blocked_until: dict[str, float] = {}
        self._calls = 0

    def _chat_window(self, chat: str) -> _Window:
        window = self._chats.get(chat)
        if window is None:
            # 1/s as one call per second; 0.5/s as one call per two seconds.
            per_s = self._limits.per_chat_per_s
            count, span = (int(per_s), 1.0) if per_s >= 1 else (1, 1.0 / per_s)
            window = self._chats[chat] = _Window(max(1, count), span)
        return window

    def _group_window(self, chat: str) -> _Window:
        window = self._groups.get(chat)
        if window is None:
            window = self._groups[chat] = _Window(self._limits.per_group_per_min, 60.0)
        return window

    def ready_in(self, chat: str, group: bool) -> float:
        """Seconds until a call to ``chat`` may go out (0 when it may go now)."""
        now = self._clock()
        wait = max(
            self._global.wait_time(now),
            self._chat_window(chat).wait_time(now),
            self._blocked_until.get(chat, 0.0) - now,
        )
        if group:
            wait = max(wait, self._group_window(chat).wait_time(now))
        return max(0.0, wait)

    async def acquire(self, chat: str, group: bool) -> None:
        """Wait for a slot for ``chat`` and count the call."""
        while (wait := self.ready_in(chat, group)) > 0:
            await self._sleep(wait)
        now = self._clock()
        self._calls += 1
        if self._calls % FORGET_EVERY == 0:
            self.forget_idle()
        self._global.times.append(now)
        self._chat_window(chat).times.append(now)
        if group:
            self._group_window(chat).times.append(now)

    def penalize(self, chat: str, retry_after: float) -> None:
        """The server said to wait ``retry_after`` seconds before calling ``chat`` again."""
        until = self._clock() + retry_after
        self._blocked_until[chat] = max(until, self._blocked_until.get(chat, 0.0))

    def forget_idle(self) -> None:
        """Drop the state of chats with no recent call, so memory does not grow with chats."""
        now = self._clock()
        for table in (self._chats, self._groups):
            for chat in [c for c, w in table.items() if w.wait_time(now) == 0 and not w.times]:
                del table[chat]
        for chat in [c for c, t in self._blocked_until.items() if t <= now]:
            del self._blocked_until[chat]
