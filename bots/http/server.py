"""One HTTP server per process (aiohttp), started only when something mounts a route on it.

Adapters that serve HTTP (the WeChat bridge) and operations (health, metrics) add their
routes before ``start()``; ``http.listen`` and ``http.port`` say where it listens.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from core.errors import StartupError

log = logging.getLogger("relaybot.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    """One route: ``method`` (GET, POST...), ``path`` (``/bridge/cow/v1/messages``, may hold
    ``{name}`` parts) and its handler."""

    method: str
    path: str
    handler: Handler


class HttpServer:
    """Serves the routes given to ``add``; ``start()`` binds, ``stop()`` closes."""

    def __init__(self, listen: str, port: int, *, client_max_size: int = 1024**2) -> None:
        self._listen = listen
        self._port = port
        self._app = web.Application(client_max_size=client_max_size)
        self._routes: list[Route] = []
        self._runner: web.AppRunner | None = None
        self.port = port  # the bound port once started (port 0 picks a free one)

    @property
    def needed(self) -> bool:
        """Whether anything mounted a route (if not, the server is not started at all)."""
        return bool(self._routes)

    def add(self, *routes: Route) -> None:
        if self._runner is not None:
            raise RuntimeError("routes must be added before the HTTP server starts")
        for route in routes:
            self._app.router.add_route(route.method, route.path, route.handler)
            self._routes.append(route)

    async def start(self) -> None:
        runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._listen, self._port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            what = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc})"
            raise StartupError(
                f"http.listen {self._listen} port {self._port} {what}: "
                "change http.port or stop the other program"
            ) from None
        self._runner = runner
        sockets = site._server.sockets if site._server is not None else []  # noqa: SLF001
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("http server listening on %s:%d", self._listen, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


__all__ = ["Handler", "HttpServer", "Route"]
