"""Quotas: what a user (and a group) used today, against the configured limits."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.access.ids import Who
from core.access.store import AccessStore
from core.config.access import QuotaSettings
from core.errors import QuotaExceededError, UserRateLimitedError
from core.texts.i18n import Lang, t

MINUTE_S = 60.0
MAX_TRACKED_USERS = 10_000  # the flood window forgets the quietest users beyond this


@dataclass(frozen=True, slots=True)
class Window:
    """The current day and month in the quota time zone, as epoch seconds."""

    day_start: float
    month_start: float
    resets_at: datetime  # the next midnight, in the quota time zone


def window(now: float, tz_name: str) -> Window:
    tz = ZoneInfo(tz_name)
    local = datetime.fromtimestamp(now, tz)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    tomorrow = (day + timedelta(days=1, hours=3)).replace(hour=0)  # DST-safe next midnight
    return Window(day.timestamp(), month.timestamp(), tomorrow)


def day_of(ts: float, tz_name: str) -> str:
    """The quota day (``YYYY-MM-DD``) a moment belongs to."""
    return datetime.fromtimestamp(ts, ZoneInfo(tz_name)).strftime("%Y-%m-%d")


class Quotas:
    """Checks before a paid call, charges after it. Limits are read from ``settings()`` at each
    call, so a reloaded configuration applies at once."""

    def __init__(
        self,
        settings: Callable[[], QuotaSettings],
        store: AccessStore,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._monotonic = monotonic
        self._recent: dict[str, deque[float]] = {}

    def window(self) -> Window:
        return window(self._clock(), self._settings().timezone)

    async def check(self, who: Who, kind: str, amount: int, lang: Lang) -> None:
        """Raise QuotaExceededError when ``amount`` more of ``kind`` would go over the user's
        or the group's daily limit (for chat tokens pass 1: refused once the limit is used)."""
        quotas = self._settings()
        win = self.window()
        user_limit = int(getattr(quotas.per_user_daily, kind))
        if user_limit:
            used = await self._store.used_by_user(who, kind, win.day_start)
            if used + amount > user_limit:
                raise self._exceeded(kind, used, user_limit, win, lang, group=False)
        chat_limit = int(getattr(quotas.per_chat_daily, kind))
        if who.group and chat_limit:
            used = await self._store.used_in_chat(who.chat, kind, win.day_start)
            if used + amount > chat_limit:
                raise self._exceeded(kind, used, chat_limit, win, lang, group=True)

    def _exceeded(
        self, kind: str, used: int, limit: int, win: Window, lang: Lang, *, group: bool
    ) -> QuotaExceededError:
        name = t(f"quota.limit.{kind}", lang) + (t("quota.group", lang) if group else "")
        resets = t(
            "quota.resets_at",
            lang,
            time=win.resets_at.strftime("%Y-%m-%d %H:%M"),
            tz=self._settings().timezone,
        )
        return QuotaExceededError(limit=name, used=str(used), max=str(limit), resets=resets)

    async def charge(
        self, who: Who, kind: str, amount: int, model: str = "", ref: str | None = None
    ) -> int:
        return await self._store.add(who, kind, amount, model, ref)

    async def refund(self, ref: str) -> bool:
        return await self._store.remove(ref) > 0

    def flood(self, who: Who) -> None:
        """Count one message; UserRateLimitedError when the user is over the per-minute limit."""
        limit = self._settings().per_user_per_minute.messages
        if not limit:
            return
        now = self._monotonic()
        seen = self._recent.setdefault(who.user, deque())
        while seen and seen[0] <= now - MINUTE_S:
            seen.popleft()
        if len(seen) >= limit:
            raise UserRateLimitedError(max=str(limit))
        seen.append(now)
        if len(self._recent) > MAX_TRACKED_USERS:
            for user in [u for u, q in self._recent.items() if not q or q[-1] <= now - MINUTE_S]:
                del self._recent[user]
