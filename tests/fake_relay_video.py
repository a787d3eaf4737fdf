"""FakeRelay's video routes (filled in by the video work)."""

from __future__ import annotations

from aiohttp import web


class VideoRoutes:
    """Mixin of FakeRelay: state in ``_init_video``, routes in ``_add_video_routes``."""

    def _init_video(self) -> None:
        pass

    def _add_video_routes(self, app: web.Application) -> None:
        pass
