"""FakeRelay's suno routes (filled in by the suno work)."""

from __future__ import annotations

from aiohttp import web


class SunoRoutes:
    """Mixin of FakeRelay: state in ``_init_suno``, routes in ``_add_suno_routes``."""

    def _init_suno(self) -> None:
        pass

    def _add_suno_routes(self, app: web.Application) -> None:
        pass
