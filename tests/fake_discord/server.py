"""FakeDiscord: REST (/api/v10), gateway (/gateway/) and CDN (/attachments/) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import BodyPartReader, web
from multidict import CIMultiDict

from tests.fake_discord import rules
from tests.fake_discord.actions import UserActions
from tests.fake_discord.cdn import cdn_handler
from tests.fake_discord.gateway import Gateway
from tests.fake_discord.interactions import WEBHOOK_ROUTES
from tests.fake_discord.models import Call, UploadedFile
from tests.fake_discord.rest import ROUTES
from tests.fake_discord.routing import Handler
from tests.fake_discord.rules import DiscordError
from tests.fake_discord.state import MESSAGE_CONTENT

API = "/api/v10"
HELD = -1  # Call.status of a request that waits on hold()
MESSAGE_CONTENT_FLAG = 1 << 19
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
TOKEN = "MTAxMDEwMTAxMDEwMTAxMDEw.FAKE.discord-test-token-SECRET"


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """Exactly ``Content-Type: application/json``: discord.py compares the string (2.4 #1)."""
    hdrs = CIMultiDict(headers or {})
    if body is None:
        return web.Response(status=status, headers=hdrs)
    hdrs["Content-Type"] = "application/json"
    return web.Response(status=status, body=json.dumps(body).encode(), headers=hdrs)


class FakeDiscord(UserActions):
    """Discord for one bot; build guilds/channels/users, start(), point discord.py at it."""

    def __init__(self, token: str = TOKEN, bot_name: str = "RelayBot") -> None:
        super().__init__(token, bot_name)
        # GATEWAY_MESSAGE_CONTENT_LIMITED: the portal switch is on (a bot in < 100 servers)
        self.application_flags = MESSAGE_CONTENT_FLAG
        self.upload_limit: int | None = None  # None: by the guild's boost tier (10 MiB)
        self.interaction_response_s = rules.INTERACTION_RESPONSE_S
        self.interaction_token_s = float(rules.INTERACTION_TOKEN_S)
        self.gateway = Gateway(self)
        self.emit = self.gateway.dispatch
        self.fail_next: list[tuple[str, DiscordError]] = []  # (route, error) served once
        self.holds: dict[str, asyncio.Event] = {}
        self._runner: web.AppRunner | None = None

    @property
    def api_base(self) -> str:
        return self.base_url + API

    @property
    def gateway_url(self) -> str:
        return self.gateway.url

    def portal(self, *, message_content: bool = True, members: bool = True) -> None:
        """The developer portal's privileged intent switches: an IDENTIFY asking for one that
        is off is closed with 4014, and applications/@me's flags say which are on."""
        bits = (MESSAGE_CONTENT if message_content else 0) | (GUILD_MEMBERS if members else 0)
        self.gateway.portal_intents = bits | GUILD_PRESENCES
        self.application_flags = MESSAGE_CONTENT_FLAG if message_content else 0

    def fail(self, route: str, error: DiscordError, count: int = 1) -> None:
        """The next ``count`` requests to ``route`` get ``error`` (e.g. DiscordError(503, 0,
        "Service Unavailable"); 500/502/504 make discord.py retry after 1+2n s sleeps)."""
        self.fail_next.extend([(route, error)] * count)

    def hold(self, route: str) -> asyncio.Event:
        """Requests to ``route`` wait (recorded, unanswered) until the returned event is set:
        a slow Discord, without sleeps. ``held(route)`` counts the waiting ones."""
        release = self.holds[route] = asyncio.Event()
        return release

    def held(self, route: str) -> int:
        return sum(1 for c in self.calls if c.route == route and c.status == HELD)

    async def delivered(self) -> None:
        await self.gateway.drain()

    # -- serving -----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=rules.REQUEST_LIMIT + 1024 * 1024)
        for method, path, handler in ROUTES:
            app.router.add_route(method, API + path, self._wrap(method, path, handler, True))
        for method, path, handler in WEBHOOK_ROUTES:
            app.router.add_route(method, API + path, self._wrap(method, path, handler, False))
        app.router.add_get("/gateway/", self.gateway.handle)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/resume-gateway/", self.gateway.handle)
        app.router.add_route("*", API + "/{tail:.*}", self._unknown_route)
        app.add_routes([cdn_handler(self)])
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        self.gateway.url = f"ws://127.0.0.1:{port}/gateway/"
        self.gateway.resume_url = f"ws://127.0.0.1:{port}/resume-gateway/"
        for att in self.attachments.values():  # files created before the port was known
            att.url = self.cdn_url(att.channel_id, att.id, att.filename)

    async def stop(self) -> None:
        self.gateway.open.set()  # no handler may stay parked before HELLO
        for release in self.holds.values():
            release.set()
        for conn in list(self.gateway.connections):
            await conn.close(1001, b"fake: stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the REST pipeline -------------------------------------------------------------------

    async def _unknown_route(self, request: web.Request) -> web.Response:
        return json_response(404, {"message": "404: Not Found", "code": 0})

    def _wrap(self, method: str, path: str, handler: Handler, auth: bool) -> Any:
        route = f"{method} {path}"

        async def serve(request: web.Request) -> web.Response:
            call = Call(method, route, request.path, dict(request.match_info), dict(request.query))
            self.calls.append(call)
            try:
                return await self._serve(request, call, handler, auth)
            finally:
                self.notify()

        return serve

    async def _serve(
        self, request: web.Request, call: Call, handler: Handler, auth: bool
    ) -> web.Response:
        if auth and request.headers.get("Authorization") != f"Bot {self.token}":
            return self._error(call, rules.unauthorized(), {})
        major = next(
            (call.params[k] for k in ("channel_id", "guild_id", "token") if k in call.params), ""
        )
        status, headers, body = self.limits.check(call.route, major)
        if status:
            call.status = status
            return json_response(status, body, headers)
        release = self.holds.get(call.route)
        if release is not None and not release.is_set():
            call.status = HELD
            self.notify()
            await release.wait()
            call.status = 0
        for i, (route, error) in enumerate(self.fail_next):
            if route == call.route:
                del self.fail_next[i]
                return self._error(call, error, headers)
        try:
            await self._read_body(request, call)
            status, data = await handler(self, call)
        except DiscordError as exc:
            return self._error(call, exc, headers)
        call.status = status
        return json_response(status, data, headers)

    def _error(self, call: Call, exc: DiscordError, headers: dict[str, str]) -> web.Response:
        call.status, call.error_code = exc.status, exc.code
        return json_response(exc.status, exc.body(), headers)

    async def _read_body(self, request: web.Request, call: Call) -> None:
        """JSON, or multipart with ``payload_json`` and ``files[n]`` (platforms.md 2.3)."""
        if request.content_type == "application/json":
            raw = await request.read()
            call.json = json.loads(raw) if raw else None
        elif request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue  # discord.py sends no nested multiparts
                name = part.name or ""
                data = await part.read()
                if name == "payload_json":
                    call.json = json.loads(data)
                else:
                    ctype = part.headers.get("Content-Type")
                    call.files.append(UploadedFile(name, part.filename or name, ctype, bytes(data)))
        elif request.can_read_body:
            raw = await request.read()
            if raw:
                raise rules.DiscordError(400, 50109, "The request body contains invalid JSON.")
