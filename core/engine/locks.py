"""One line per conversation key, forgotten as soon as nobody holds or waits in it.

A message first takes a *place* in its key's line (at once, counted, refused when the line is
full), then ``hold()``s the line when its turn comes, then ``leave()``s. Turns go in the order
places were taken, so an await between the two (the access gate's database query) cannot let a
later message overtake. Taking the place before any slow work (downloading a photo) is what
bounds how many messages one conversation can have in flight.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class _Line:
    __slots__ = ("busy", "places", "users")

    def __init__(self) -> None:
        self.busy = False  # a place holds the line now
        self.places: deque[Place] = deque()  # in the order they were taken; the head goes next
        self.users = 0  # places taken: the holder and every message waiting or on its way

    def wake_head(self) -> None:
        if self.places and not self.busy:
            self.places[0].wake()


class Place:
    """A message's place in its conversation's line; ``leave()`` may be called more than once.

    Turns go in the order places were taken (``KeyedLocks.join``), whatever the order in which
    their holders get to ``hold()``: a message that awaits something (the database) between
    taking its place and holding it cannot be overtaken by one that came after it."""

    __slots__ = ("_key", "_left", "_line", "_locks", "_waiter")

    def __init__(self, locks: KeyedLocks, key: str, line: _Line) -> None:
        self._locks = locks
        self._key = key
        self._line = line
        self._left = False
        self._waiter: asyncio.Future[None] | None = None
        line.places.append(self)

    def wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Wait for this message's turn (the order places were taken), then hold the line."""
        line = self._line
        while line.busy or not line.places or line.places[0] is not self:
            if self._left:
                raise RuntimeError("hold() after leave()")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        line.busy = True
        try:
            yield
        finally:
            line.busy = False
            self._drop()

    def _drop(self) -> None:
        """Out of the line's order (done, or gone without a turn); the next one may go."""
        line = self._line
        try:
            line.places.remove(self)
        except ValueError:
            return
        line.wake_head()

    def leave(self) -> None:
        if self._left:
            return
        self._left = True
        if not (self._line.busy and self._line.places and self._line.places[0] is self):
            self._drop()  # never held (or done): the ones behind it need not wait for it
        self._line.users -= 1
        if self._line.users <= 0:
            self._locks._forget(self._key, self._line)


class KeyedLocks:
    """Serialises work per key without blocking other keys, and without the ever-growing dict
    of idle locks."""

    def __init__(self) -> None:
        self._lines: dict[str, _Line] = {}

    def __len__(self) -> int:
        """How many keys have a holder or a waiter (idle keys are gone)."""
        return len(self._lines)

    def busy(self, key: str) -> bool:
        line = self._lines.get(key)
        return line is not None and line.busy

    def waiting(self, key: str) -> int:
        """Messages of ``key`` in line behind the one being handled (or about to be)."""
        line = self._lines.get(key)
        return max(0, line.users - 1) if line is not None else 0

    def join(self, key: str, max_waiting: int | None = None) -> Place | None:
        """A place in ``key``'s line, taken at once; None when ``max_waiting`` messages
        already wait behind the first (``None``: no bound)."""
        line = self._lines.get(key)
        if line is None:
            line = self._lines[key] = _Line()
        elif max_waiting is not None and line.users > max_waiting:
            return None
        line.users += 1
        return Place(self, key, line)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Take a place (unbounded) and hold the lock: ``async with locks.hold(key): ...``."""
        place = self.join(key)
        assert place is not None
        try:
            async with place.hold():
                yield
        finally:
            place.leave()

    def _forget(self, key: str, line: _Line) -> None:
        if self._lines.get(key) is line:
            del self._lines[key]
