"""Flood control: a bot-wide gate that keeps calls per chat, per group and overall in limits.

The arithmetic is in bots/flood_plan.py; this drives it on the event loop. A waiting call
sleeps on a future that the gate resolves when its turn comes; the gate keeps one timer, for
the moment the next waiting call may go, so waiting costs nothing while nothing can move.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bots.shared.flood_plan import INF, URGENT, FloodPlan, Rules, Ticket, Window

__all__ = ["EDIT", "URGENT", "FloodGate", "FloodLimits", "Rules", "Ticket", "Window"]

EDIT = 1  # an intermediate edit: never waits, skipped when the budget is short


@dataclass(frozen=True, slots=True)
class FloodLimits:
    """Telegram's limits (``telegram.limits.*``); edits count like messages (Bot FAQ)."""

    per_chat_per_s: float = 1.0
    per_group_per_min: int = 20
    global_per_s: int = 30

    def rules(self) -> Rules:
        # 1/s as one call per second, 2.5/s as two per second, 0.5/s as one per two seconds
        # (the fake Bot API in tests/fake_telegram_rules.py counts the same way).
        per_s = self.per_chat_per_s
        chat = Window(int(per_s), 1.0) if per_s >= 1 else Window(1, 1.0 / per_s)
        return Rules(
            chat=chat,
            group=Window(self.per_group_per_min, 60.0),
            overall=Window(self.global_per_s, 1.0),
        )


class FloodGate:
    """Decides when a call to a chat may go out.

    ``acquire`` waits in line for a slot (order of arrival, within a priority);
    ``try_acquire`` takes one only if that delays no waiting call (a streaming edit is
    skipped otherwise). Either way ``release`` must follow when the call's answer is back:
    windows count a call from then. ``penalize`` applies a server's ``retry_after``.
    """

    def __init__(
        self,
        limits: FloodLimits | Rules,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rules = limits.rules() if isinstance(limits, FloodLimits) else limits
        self._plan = FloodPlan(self.rules)
        self._clock = clock
        self._waiters: dict[Ticket, asyncio.Future[None]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = INF

    async def acquire(
        self, chat: str, group: bool, priority: int = URGENT, place: Ticket | None = None
    ) -> Ticket:
        """Wait for ``chat``'s turn; the slot is held until ``release``. A call tried again
        passes its earlier ticket as ``place`` and keeps its place in line."""
        ticket = self._plan.enqueue(chat, group, self._clock(), priority, place)
        self.wake()
        if ticket.granted:
            return ticket
        future = asyncio.get_running_loop().create_future()
        self._waiters[ticket] = future
        try:
            await future
        except BaseException:  # cancelled: leave the line, or give the slot back unused
            self._waiters.pop(ticket, None)
            self._plan.cancel(ticket, self._clock())
            self.wake()
            raise
        return ticket

    def try_acquire(self, chat: str, group: bool, priority: int = EDIT) -> Ticket | None:
        """A slot now, or ``None`` when taking it would make a waiting call wait longer."""
        return self._plan.try_take(chat, group, self._clock(), priority)

    def release(self, ticket: Ticket) -> None:
        """The call is answered (or failed): it counts from now, and its slot frees later."""
        self._plan.release(ticket, self._clock())
        self.wake()

    @asynccontextmanager
    async def slot(self, chat: str, group: bool) -> AsyncIterator[Ticket]:
        """``acquire`` ... ``release`` around one call."""
        ticket = await self.acquire(chat, group)
        try:
            yield ticket
        finally:
            self.release(ticket)

    def penalize(self, chat: str | None, retry_after: float) -> None:
        """The server said to wait ``retry_after`` seconds before calling ``chat`` again
        (``None``: any chat)."""
        self._plan.pause(chat, retry_after, self._clock())
        self.wake()

    def ready_in(self, chat: str, group: bool) -> float:
        """Seconds until a call to ``chat`` could go if no one else wanted one (0: now)."""
        return self._plan.ready_in(chat, group, self._clock())

    @property
    def waiting(self) -> int:
        """Calls waiting in line."""
        return self._plan.waiting

    def wake(self) -> None:
        """Let go every waiting call whose turn it is; set the timer for the next one."""
        now = self._clock()
        for ticket in self._plan.grant(now):
            future = self._waiters.pop(ticket, None)
            if future is not None and not future.done():
                future.set_result(None)
        at = self._plan.next_at(now)
        if at == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = at
        if at < INF:
            self._timer = asyncio.get_running_loop().call_later(max(0.0, at - now), self._tick)

    def _tick(self) -> None:
        self._timer, self._timer_at = None, INF
        self.wake()
