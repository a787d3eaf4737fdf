"""Per-route rate-limit buckets with Discord's headers, and 429s a test injects.

Discord sends ``X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket`` on every limited route
(discord-api-docs topics/rate-limits); discord.py waits pre-emptively when Remaining is 0.
A request over the limit gets 429 ``{"message","retry_after","global"}`` with ``Via`` (without it
discord.py assumes a Cloudflare ban) and ``X-RateLimit-Scope``. Windows are real seconds:
tests use short ones (e.g. 5 per 0.5 s) so waiting stays fast."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limit:
    limit: int
    window_s: float


@dataclass
class Injected:
    """A 429 the test asked for: the next ``count`` requests to ``route`` (None: any) get it."""

    route: str | None
    retry_after: float
    count: int
    is_global: bool = False
    via: bool = True
    scope: str = "user"
    major: str | None = None  # only requests with this major parameter (a channel id, ...)


@dataclass
class _Window:
    started: float
    used: int = 0


# Routes and their bucket name. Message create and edit share one bucket per channel, the
# classic "5 per 5 s per channel" (platforms.md 2.6); interactions/webhooks per token.
BUCKETS: dict[str, str] = {
    "POST /channels/{channel_id}/messages": "messages",
    "PATCH /channels/{channel_id}/messages/{message_id}": "messages",
    "DELETE /channels/{channel_id}/messages/{message_id}": "delete",
    "POST /channels/{channel_id}/typing": "typing",
    "POST /webhooks/{app_id}/{token}": "webhook",
    "PATCH /webhooks/{app_id}/{token}/messages/@original": "webhook",
    "PATCH /webhooks/{app_id}/{token}/messages/{message_id}": "webhook",
}


@dataclass
class RateLimits:
    """Limits by bucket name; the default for any other route is generous (never reached)."""

    limits: dict[str, Limit] = field(default_factory=dict)
    default: Limit = Limit(1000, 1.0)
    clock: Callable[[], float] = time.monotonic
    injected: list[Injected] = field(default_factory=list)
    windows: dict[tuple[str, str], _Window] = field(default_factory=dict)
    global_until: float = 0.0
    hits: list[tuple[str, float]] = field(default_factory=list)  # 429s sent: (route, retry)
    # Discord's global limit (50 requests/s per bot; interaction and webhook-token routes are
    # exempt). None: not enforced. discord.py learns of it only from a 429 with "global".
    global_limit: Limit | None = None
    _global_window: _Window | None = None

    def set(self, bucket: str, limit: int, window_s: float) -> None:
        """E.g. ``set("messages", 5, 0.5)``: 5 creates/edits per 0.5 s per channel."""
        self.limits[bucket] = Limit(limit, window_s)

    def discord_like(self, scale: float = 1.0) -> None:
        """Discord's observed limits (APPROX: Discord publishes none; these are what bots see),
        with every window multiplied by ``scale`` (0.1: ten times faster, for tests):
        5 message creates+edits per 5 s per channel, 5 deletes per 1 s, 5 typing per 5 s,
        5 webhook/follow-up calls per 2 s per token, 50 requests per 1 s globally."""
        self.set("messages", 5, 5.0 * scale)
        self.set("delete", 5, 1.0 * scale)
        self.set("typing", 5, 5.0 * scale)
        self.set("webhook", 5, 2.0 * scale)
        self.global_limit = Limit(50, 1.0 * scale)

    def inject(
        self,
        route: str | None = None,
        *,
        retry_after: float = 0.05,
        count: int = 1,
        is_global: bool = False,
        via: bool = True,
        major: str | None = None,
    ) -> Injected:
        """The next ``count`` matching requests get a 429 before they reach the handler."""
        inj = Injected(
            route, retry_after, count, is_global, via, "global" if is_global else "user", major
        )
        self.injected.append(inj)
        return inj

    def bucket_of(self, route: str) -> str:
        return BUCKETS.get(route, route)

    def check(self, route: str, major: str) -> tuple[int, dict[str, str], dict[str, object]]:
        """(status, headers, 429 body) for this request; status 0 means: go on."""
        now = self.clock()
        for inj in self.injected:
            if inj.count > 0 and inj.route in (None, route) and inj.major in (None, major):
                inj.count -= 1
                if inj.is_global:
                    self.global_until = now + inj.retry_after
                return self._too_many(route, inj.retry_after, inj.is_global, inj.via, inj.scope)
        self.injected = [i for i in self.injected if i.count > 0]
        if now < self.global_until:
            return self._too_many(route, self.global_until - now, True, True, "global")
        exempt = "/interactions/" in route or "/webhooks/" in route
        if self.global_limit is not None and not exempt:
            gwin = self._global_window
            if gwin is None or now - gwin.started >= self.global_limit.window_s:
                gwin = self._global_window = _Window(now)
            if gwin.used >= self.global_limit.limit:
                wait = max(gwin.started + self.global_limit.window_s - now, 0.001)
                self.global_until = now + wait
                return self._too_many(route, wait, True, True, "global")
            gwin.used += 1
        bucket = self.bucket_of(route)
        lim = self.limits.get(bucket, self.default)
        key = (bucket, major)
        win = self.windows.get(key)
        if win is None or now - win.started >= lim.window_s:
            win = self.windows[key] = _Window(now)
        # whole milliseconds, rounded up: a client waiting this long is never early
        reset_after = max(math.ceil((win.started + lim.window_s - now) * 1000) / 1000, 0.001)
        if win.used >= lim.limit:
            status, headers, body = self._too_many(route, reset_after, False, True, "user")
            headers.update(self._headers(bucket, lim, 0, reset_after))
            return status, headers, body
        win.used += 1
        return 0, self._headers(bucket, lim, lim.limit - win.used, reset_after), {}

    def _headers(
        self, bucket: str, lim: Limit, remaining: int, reset_after: float
    ) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(lim.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.md5(bucket.encode()).hexdigest(),
        }

    def _too_many(
        self, route: str, retry_after: float, is_global: bool, via: bool, scope: str
    ) -> tuple[int, dict[str, str], dict[str, object]]:
        self.hits.append((route, retry_after))
        headers = {
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Scope": scope,
        }
        if via:
            headers["Via"] = "1.1 google"
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body: dict[str, object] = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": is_global,
        }
        return 429, headers, body
