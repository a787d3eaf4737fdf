"""The one HTTP server: routes mounted by adapters are served; no route, no server."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from aiohttp import web

from bots.app import serve
from bots.http.server import HttpServer, Route
from core.errors import StartupError
from core.platform.traits import PLAIN


class RoutedAdapter:
    """An adapter that serves one route, as the WeChat bridge does."""

    name = "routed"
    traits = PLAIN

    def __init__(self) -> None:
        self.started = asyncio.Event()

    def routes(self) -> list[Route]:
        async def hello(request: web.Request) -> web.Response:
            return web.json_response({"hello": request.match_info["who"]})

        return [Route("GET", "/hello/{who}", hello)]

    async def start(self) -> None:
        self.started.set()

    async def stop(self) -> None:
        pass


async def test_an_adapters_routes_are_served_while_it_runs() -> None:
    http = HttpServer("127.0.0.1", 0)
    adapter, stop = RoutedAdapter(), asyncio.Event()
    serving = asyncio.create_task(serve([adapter], stop=stop, http=http))
    await asyncio.wait_for(adapter.started.wait(), 10)
    async with httpx.AsyncClient() as client:
        reply = await client.get(f"http://127.0.0.1:{http.port}/hello/ada")
        assert reply.status_code == 200 and reply.json() == {"hello": "ada"}
        assert (await client.get(f"http://127.0.0.1:{http.port}/nothing")).status_code == 404
    stop.set()
    await asyncio.wait_for(serving, 10)
    with pytest.raises(httpx.ConnectError):  # closed with the adapters
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{http.port}/hello/ada")


async def test_without_routes_no_server_is_started() -> None:
    http = HttpServer("127.0.0.1", 0)
    stop = asyncio.Event()
    stop.set()
    await asyncio.wait_for(serve([], stop=stop, http=http), 10)
    assert not http.needed and http.port == 0  # never bound


async def test_a_port_in_use_is_a_startup_error_naming_the_key() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        http = HttpServer("127.0.0.1", taken.getsockname()[1])
        http.add(*RoutedAdapter().routes())
        with pytest.raises(StartupError, match="http.port"):
            await http.start()
    finally:
        taken.close()
