"""FakeCdn: a tiny file server on a chosen loopback address that records every request.

It stands for a server the bot must NOT reach (another loopback address, a private network)
or for a CDN the test makes reachable by name (the resolver seam plus an allowed host).
"""

from __future__ import annotations

import ssl

from aiohttp import web
from multidict import CIMultiDict

__all__ = ["FakeCdn"]


class FakeCdn:
    """``files``: path -> (bytes, content type); ``tls`` serves https with that context.
    ``GET /redirect?to=URL`` answers 302 to URL, ``GET /loop`` redirects to itself.
    ``requests``: (path, headers) of every request."""

    def __init__(self, host: str = "127.0.0.1", *, tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.tls = tls
        self.files: dict[str, tuple[bytes, str]] = {}
        self.requests: list[tuple[str, CIMultiDict[str]]] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, CIMultiDict(request.headers)))
        if request.path == "/redirect":
            raise web.HTTPFound(request.query["to"])
        if request.path == "/loop":
            raise web.HTTPFound("/loop")
        if request.path not in self.files:
            raise web.HTTPNotFound()
        data, content_type = self.files[request.path]
        return web.Response(body=data, content_type=content_type)

    async def __aenter__(self) -> FakeCdn:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, 0, ssl_context=self.tls).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
