"""FakeRelay's audio routes (filled in by the audio work)."""

from __future__ import annotations

from aiohttp import web


class AudioRoutes:
    """Mixin of FakeRelay: state in ``_init_audio``, routes in ``_add_audio_routes``."""

    def _init_audio(self) -> None:
        pass

    def _add_audio_routes(self, app: web.Application) -> None:
        pass
