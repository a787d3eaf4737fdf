"""``GET /healthz``: 200 with each part's state, 503 when a part the config enables is down.

Parts: the database (a read), the relay (reachable recently: its last answer, of any status,
came within ``fresh_s`` seconds and after the last failure to reach it; otherwise it is asked
for its model list), each running platform (connected) and the job poller (alive).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from bots.ops.metrics import UNREACHABLE, PrometheusMetrics
from core.errors import RelayError
from core.jobs.runner import JobRunner
from core.relay.client import RelayClient
from core.storage.store import Store

log = logging.getLogger("relaybot.health")

OK = "ok"


class Health:
    """Looks at each part when asked; never raises."""

    def __init__(
        self,
        *,
        store: Store,
        relay: RelayClient,
        metrics: PrometheusMetrics,
        jobs: JobRunner | None,
        adapters: Sequence[object] = (),
        fresh_s: float = 30.0,
        timeout_s: float = 5.0,
    ) -> None:
        self._store = store
        self._relay = relay
        self._metrics = metrics
        self._jobs = jobs
        self.adapters = list(adapters)
        self.fresh_s = fresh_s  # a relay answer younger than this needs no new probe
        self.timeout_s = timeout_s

    async def check(self) -> tuple[bool, dict[str, Any]]:
        """(all up, {part: state}); a state is "ok" or what is wrong."""
        parts: dict[str, Any] = {
            "database": await self._database(),
            "relay": await self._relay_state(),
        }
        platforms = {
            str(getattr(a, "name", "?")): OK if getattr(a, "connected", True) else "disconnected"
            for a in self.adapters
        }
        if platforms:
            parts["platforms"] = platforms
        if self._jobs is not None:
            poller = self._jobs.poller
            parts["job_poller"] = OK if poller is not None and not poller.done() else "stopped"
        up = all(v == OK for k, v in parts.items() if k != "platforms")
        up = up and all(v == OK for v in platforms.values())
        return up, parts

    async def _database(self) -> str:
        try:
            await asyncio.wait_for(self._store.recent_turns("health:probe", 1), self.timeout_s)
        except TimeoutError:
            return "no answer (locked or disk too slow)"
        except Exception as exc:
            return f"down ({type(exc).__name__})"
        return OK

    async def _relay_state(self) -> str:
        m = self._metrics
        recent = time.monotonic() - m.relay_ok_at < self.fresh_s
        if m.relay_ok_at and m.relay_ok_at >= m.relay_down_at and recent:
            return OK
        try:
            await asyncio.wait_for(self._relay.list_models(), self.timeout_s)
        except TimeoutError:
            return "unreachable (no answer)"
        except RelayError as exc:
            if exc.code in UNREACHABLE:
                return f"unreachable ({exc.code})"
        except Exception as exc:  # a bug in the probe is no reason to call the relay down
            log.warning("relay probe failed: %s", type(exc).__name__)
        return OK

    def handler(self) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """The handler of ``GET /healthz``."""

        async def healthz(request: web.Request) -> web.StreamResponse:
            up, parts = await self.check()
            body = {"status": "ok" if up else "down", "parts": parts}
            return web.Response(
                status=200 if up else 503,
                text=json.dumps(body, ensure_ascii=False),
                content_type="application/json",
            )

        return healthz


__all__ = ["Health"]
