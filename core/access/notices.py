"""Admins are told by private message when the relay says the key or the balance or a model
is the problem: at most once per hour per kind, in each admin's language."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from core.config.access import AccessSettings
from core.errors import (
    BotError,
    RelayAuthError,
    RelayForbiddenError,
    RelayNoChannelError,
    RelayQuotaError,
)
from core.platform.outbox import Destination, Outbox
from core.platform.types import FinalText
from core.texts.i18n import Lang, t

log = logging.getLogger("relaybot.access")

NOTICE_INTERVAL_S = 3600.0


def notice_kind(exc: BaseException) -> str | None:
    """The admin notice an error calls for, or None."""
    if isinstance(exc, RelayAuthError):
        return "relay_auth"
    if isinstance(exc, RelayQuotaError):
        return "relay_quota"
    if isinstance(exc, RelayNoChannelError | RelayForbiddenError):
        return "model_unavailable"
    return None


class AdminNotices:
    def __init__(
        self,
        access: Callable[[], AccessSettings],
        default_lang: Callable[[], Lang],
        outbox: Outbox | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._access = access
        self._default_lang = default_lang
        self._outbox = outbox
        self._clock = clock
        self._last: dict[str, float] = {}
        self._langs: dict[str, Lang] = {}

    def saw(self, user: str, lang: Lang) -> None:
        """Remember the language an admin writes in (for their notices)."""
        if user in self._access().admins:
            self._langs[user] = lang

    async def report(self, exc: BotError) -> int:
        """Tell every admin about ``exc`` if it calls for it and the last notice of its kind
        is over an hour old; how many admins were sent it."""
        kind = notice_kind(exc)
        if kind is None or self._outbox is None:
            return 0
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < NOTICE_INTERVAL_S:
            return 0
        self._last[kind] = now
        sent = 0
        for admin in self._access().admins:
            platform, _, user_id = admin.partition(":")
            lang = self._langs.get(admin) or self._default_lang()
            text = t(f"admin.notice.{kind}", lang, code=exc.code)
            dest = Destination(platform, user_id, user_id, lang)
            try:
                await self._outbox.send(dest, [FinalText(text, markdown=False)])
                sent += 1
            except Exception as err:  # another platform not running, a blocked bot...
                log.warning("admin notice to %s not sent: %s", admin, err)
        log.info("admin notice kind=%s sent=%d", kind, sent)
        return sent
