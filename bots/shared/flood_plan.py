"""The flood gate's arithmetic, with no clock and no event loop: who may call, and when.

Every call uses a slot in the windows of its scopes: its chat, its group (if it is one) and
all chats together. A window allows ``count`` calls in any ``span`` seconds: a call counts
while ``now < done + span``, where ``done`` is when its answer came back, which is the
latest moment the server can have counted it (the server counts from when the call
arrives, somewhere between leaving and the answer). While a call is on its way it holds its
slot with no end yet. So the next call leaves no earlier than the server's window allows,
whatever the network delay was, and with no margin added.

Calls that must arrive wait in line (``enqueue``): they are served lowest ``priority``
first, then in order of arrival, each as soon as its own scopes (chat, group, a pause after
a 429) and a global slot allow; a call held only by its own chat never holds up other
chats. Calls that may be skipped (intermediate edits of a streamed answer) never wait
(``try_take``): they go now if that takes no slot a waiting call will want within a window,
else they are refused.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from dataclasses import dataclass, field

INF = math.inf
URGENT = 0  # a call that must arrive: the first and the final text of an answer, media
FORGET_EVERY = 1000  # released calls between two clean-ups of idle chats' state


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``count`` calls in any ``span`` seconds."""

    count: int
    span: float

    def __post_init__(self) -> None:
        if self.count < 1 or not self.span > 0:
            raise ValueError(f"a window needs count >= 1 and span > 0, not {self}")


@dataclass(frozen=True, slots=True)
class Rules:
    """The windows of one platform. ``group`` applies on top of ``chat`` in group chats;
    ``None`` means no such limit (Discord: 5 per 5 s per channel, no group limit)."""

    chat: Window
    overall: Window
    group: Window | None = None


class _Scope:
    """One window's state: completion times of recent calls, calls on their way, a pause."""

    __slots__ = ("count", "inflight", "paused_until", "span", "times")

    def __init__(self, window: Window) -> None:
        self.count = window.count
        self.span = window.span
        self.times: deque[float] = deque()
        self.inflight = 0
        self.paused_until = -INF

    def used(self, now: float) -> int:
        times, cutoff = self.times, now - self.span
        while times and times[0] <= cutoff:  # counted while now < done + span
            times.popleft()
        return len(times) + self.inflight

    def free_at(self, now: float, spare: int = 0) -> float:
        """When a call (plus ``spare`` more) fits: ``now`` if it does now, ``INF`` when only
        a call on its way coming back can make room."""
        excess = self.used(now) + spare - self.count  # slots to free before one more fits
        if excess < 0:
            at = now
        elif excess < len(self.times):
            at = self.times[excess] + self.span
        else:
            at = INF
        return max(at, self.paused_until)

    def done(self, now: float) -> None:
        self.inflight -= 1
        if self.times and now < self.times[-1]:  # a clock that went back: keep them sorted
            now = self.times[-1]
        self.times.append(now)

    def idle(self, now: float) -> bool:
        return not self.inflight and self.used(now) == 0 and self.paused_until <= now


@dataclass(eq=False, slots=True)
class Ticket:
    """One call: queued, then granted (holding its slots), then released."""

    key: str
    group: bool
    priority: int
    seq: int
    granted: bool = False
    released: bool = field(default=False, repr=False)


class FloodPlan:
    """The gate's decisions; the caller passes the time in (see bots/flood.py)."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self._all = _Scope(rules.overall)
        self._chats: dict[str, _Scope] = {}
        self._groups: dict[str, _Scope] = {}
        self._queues: dict[str, list[Ticket]] = {}  # per chat, sorted by (priority, seq)
        self._ready: list[tuple[int, int, str]] = []  # heads free to go but for a global slot
        self._later: list[tuple[float, int, str]] = []  # heads free to go at a known time
        self._placed: dict[str, tuple[int, float]] = {}  # key -> (head seq, when) last pushed
        self._seq = itertools.count()
        self._released = 0

    # -- scopes --------------------------------------------------------------------------

    def _chat(self, key: str) -> _Scope:
        scope = self._chats.get(key)
        if scope is None:
            scope = self._chats[key] = _Scope(self.rules.chat)
        return scope

    def _group(self, key: str) -> _Scope | None:
        if self.rules.group is None:
            return None
        scope = self._groups.get(key)
        if scope is None:
            scope = self._groups[key] = _Scope(self.rules.group)
        return scope

    def _own_at(self, key: str, group: bool, now: float, spare: int = 0) -> float:
        """When the call's own scopes (chat, group) let it go, not counting the global one."""
        at = self._chat(key).free_at(now)
        if group and (scope := self._group(key)) is not None:
            at = max(at, scope.free_at(now, min(spare, scope.count - 1)))
        return at

    def _take(self, ticket: Ticket) -> None:
        ticket.granted = True
        self._all.inflight += 1
        self._chat(ticket.key).inflight += 1
        if ticket.group and (scope := self._group(ticket.key)) is not None:
            scope.inflight += 1

    # -- queue ---------------------------------------------------------------------------

    def enqueue(
        self,
        key: str,
        group: bool,
        now: float,
        priority: int = URGENT,
        place: Ticket | None = None,
    ) -> Ticket:
        """A call that must arrive joins the line; ``grant`` says when it may go. A call
        tried again (after a network error or a 429) keeps the ``place`` of its first try."""
        seq = place.seq if place is not None else next(self._seq)
        ticket = Ticket(key, group, priority, seq)
        queue = self._queues.setdefault(key, [])
        queue.append(ticket)
        if len(queue) > 1 and (queue[-2].priority, queue[-2].seq) > (priority, ticket.seq):
            queue.sort(key=lambda t: (t.priority, t.seq))
        if queue[0] is ticket:
            self._place(key, now)
        return ticket

    def cancel(self, ticket: Ticket, now: float) -> None:
        """A waiting call gave up; a granted one gives its slots back unused."""
        if ticket.granted:
            self.release(ticket, now, used=False)
            return
        queue = self._queues.get(ticket.key)
        if queue is None or ticket not in queue:
            return
        head = queue[0] is ticket
        queue.remove(ticket)
        if not queue:
            del self._queues[ticket.key]
            self._placed.pop(ticket.key, None)
        elif head:
            self._place(ticket.key, now)

    def _place(self, key: str, now: float) -> None:
        """File the head of ``key``'s line as ready, due at a time, or waiting for a call of
        its own chat to come back (then ``release`` files it again)."""
        head = self._queues[key][0]
        at = self._own_at(key, head.group, now)
        mark = (head.seq, -INF if at <= now else at)
        if self._placed.get(key) == mark:
            return
        self._placed[key] = mark
        if at <= now:
            heapq.heappush(self._ready, (head.priority, head.seq, key))
        elif at < INF:
            heapq.heappush(self._later, (at, head.seq, key))

    def _head(self, key: str, seq: int) -> Ticket | None:
        queue = self._queues.get(key)
        if not queue or queue[0].seq != seq:
            return None  # a stale entry: that call was served or gave up
        return queue[0]

    def grant(self, now: float) -> list[Ticket]:
        """The waiting calls that may go now, in the order they should go."""
        while self._later and self._later[0][0] <= now:
            _, seq, key = heapq.heappop(self._later)
            if self._head(key, seq) is not None:
                self._placed.pop(key, None)
                self._place(key, now)
        granted: list[Ticket] = []
        while self._ready and self._all.free_at(now) <= now:
            _, seq, key = heapq.heappop(self._ready)
            head = self._head(key, seq)
            if head is None:
                continue
            self._placed.pop(key, None)
            if self._own_at(key, head.group, now) > now:
                self._place(key, now)  # its chat was used meanwhile
                continue
            self._take(head)
            granted.append(head)
            queue = self._queues[key]
            queue.pop(0)
            if queue:
                self._place(key, now)
            else:
                del self._queues[key]
        return granted

    def next_at(self, now: float) -> float:
        """When ``grant`` may have a call to let go next (``INF``: only after a release)."""
        while self._ready and self._head(self._ready[0][2], self._ready[0][1]) is None:
            heapq.heappop(self._ready)
        while self._later and self._head(self._later[0][2], self._later[0][1]) is None:
            heapq.heappop(self._later)
        soonest = INF
        if self._ready:
            soonest = now
        if self._later:
            soonest = min(soonest, self._later[0][0])
        if soonest == INF:
            return INF
        return max(soonest, self._all.free_at(now))

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._queues.values())

    # -- calls that are not worth waiting for --------------------------------------------

    def try_take(self, key: str, group: bool, now: float, priority: int = 1) -> Ticket | None:
        """A call that may be skipped: granted now, or ``None``. It is refused when its own
        scopes are busy, when its chat has a call waiting, when it would take the last slot
        of a group's window (kept for the text that must arrive), or when it would take a
        global slot that a waiting call can use within a window."""
        if key in self._queues or self._own_at(key, group, now, spare=1) > now:
            return None
        if self._all.free_at(now) > now:
            return None
        if self._queues:
            # Heads due within a window, or held by a call of their own chat on its way.
            horizon = now + self._all.span
            soon = sum(
                1
                for k, q in self._queues.items()
                if not horizon <= self._own_at(k, q[0].group, now) < INF
            )
            if soon and self._all.free_at(now, spare=soon) > now:
                return None
        ticket = Ticket(key, group, priority, next(self._seq))
        self._take(ticket)
        return ticket

    # -- after the call ------------------------------------------------------------------

    def release(self, ticket: Ticket, now: float, used: bool = True) -> None:
        """The call's answer came back at ``now`` (``used``), or it was never made."""
        if not ticket.granted or ticket.released:
            return
        ticket.released = True
        scopes = [self._all, self._chat(ticket.key)]
        if ticket.group and (scope := self._group(ticket.key)) is not None:
            scopes.append(scope)
        for scope in scopes:
            if used:
                scope.done(now)
            else:
                scope.inflight -= 1
        if ticket.key in self._queues:
            self._placed.pop(ticket.key, None)
            self._place(ticket.key, now)
        self._released += 1
        if self._released % FORGET_EVERY == 0:
            self.forget_idle(now)

    def pause(self, key: str | None, seconds: float, now: float) -> None:
        """The server said to wait: no call to ``key`` (``None``: to any chat) for a while."""
        scope = self._all if key is None else self._chat(key)
        scope.paused_until = max(scope.paused_until, now + seconds)
        if key in self._queues:
            self._placed.pop(key, None)
            self._place(key, now)

    def ready_in(self, key: str, group: bool, now: float) -> float:
        """Seconds until a call to ``key`` could go if nothing else wanted one (0: now)."""
        at = max(self._own_at(key, group, now), self._all.free_at(now))
        return max(0.0, at - now)

    def forget_idle(self, now: float) -> None:
        """Drop the state of chats with nothing recent, so memory does not grow with chats."""
        for table in (self._chats, self._groups):
            for key in [k for k, s in table.items() if k not in self._queues and s.idle(now)]:
                del table[key]
