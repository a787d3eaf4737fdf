"""Pictures for the vision model: re-encoded, and remembered briefly for follow-up questions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from core.config.features import VisionSettings
from core.media.images import PreparedImage, data_uri, thumbnail_for_history
from core.platform.types import Attachment
from core.storage.store import Store

HOUR = 3600.0


class VisionMemory:
    """Turns user pictures into data URIs within the size limits, and keeps the last picture
    of each conversation (a small copy, for a few turns and a few hours) so that a follow-up
    question, or a /vision sent after the photo, still sees it."""

    def __init__(
        self,
        settings: VisionSettings,
        store: Store,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock

    async def prepare(self, images: Sequence[Attachment]) -> tuple[str, ...]:
        """Data URIs of ``images``; UnsupportedImageError for a file that is no picture."""
        limits = {"max_side": self._settings.max_side, "max_bytes": self._settings.max_kb * 1000}
        return tuple([await data_uri(image.data, **limits) for image in images])

    async def remember(self, key: str, image: Attachment, *, turns: int | None = None) -> None:
        """Keep a small copy of ``image`` for this conversation (replacing the previous)."""
        small = await asyncio.to_thread(thumbnail_for_history, image.data)
        await self._store.save_image(
            key,
            small.data,
            small.mime,
            self._settings.history_turns if turns is None else turns,
        )
        await self._store.forget_images(before=self._clock() - self._settings.retention_h * HOUR)

    async def recent_photo(self, key: str) -> Attachment | None:
        """The picture sent in this conversation within ``recent_photo_s``, if any."""
        found = await self._store.recent_image(key, self._clock() - self._settings.recent_photo_s)
        return Attachment("image", found[0], found[1], "recent.jpg") if found else None

    async def recent_photos(self, key: str, limit: int = 5) -> list[Attachment]:
        """Pictures sent in a row within ``recent_photo_s``, oldest first (for /blend)."""
        since = self._clock() - self._settings.recent_photo_s
        found = await self._store.recent_images(key, since, limit)
        return [
            Attachment("image", d, m, f"recent{i}.jpg")
            for i, (d, m, _) in enumerate(reversed(found))
        ]

    async def follow_up(self, key: str) -> str | None:
        """The data URI of the picture a follow-up question should still see, using one of
        its turns; None when there is none (or it is used up, or too old)."""
        since = self._clock() - self._settings.retention_h * HOUR
        found = await self._store.recent_image(key, since)
        if found is None or found[2] <= 0:
            return None
        await self._store.use_image_turn(key)
        return PreparedImage(found[0], found[1], 0, 0).data_uri
