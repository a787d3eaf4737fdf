"""The CDN on the same server: attachment files at their signed URLs.

Like cdn.discordapp.com since 2024, an attachment URL carries ``ex``/``is``/``hm`` query
parameters; without a valid ``hm`` the CDN answers 404 "This content is no longer available."."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from tests.fake_discord.state import FakeState


def cdn_handler(state: FakeState) -> web.RouteDef:
    async def get(request: web.Request) -> web.Response:
        state.cdn_gets.append(request.path)
        state.notify()
        att = state.attachments.get(int(request.match_info["attachment_id"]))
        ok = (
            att is not None
            and att.filename == request.match_info["filename"]
            and request.query.get("hm") == state.cdn_sign(request.path)
        )
        if att is None or not ok:
            return web.Response(status=404, text="This content is no longer available.")
        return web.Response(
            body=att.data, content_type=att.content_type or "application/octet-stream"
        )

    return web.get("/attachments/{channel_id}/{attachment_id}/{filename}", get)
