"""Signed, expiring media links: ``{base}/bridge/cow/v1/media/{id}/{name}?exp=…&sig=…``.

CoW channels fetch ``IMAGE_URL``/``VIDEO_URL`` with a plain GET and no headers, so the link
itself is the capability: an HMAC-SHA256 over the path and the expiry, with a random key kept
in the database. A changed id, name, expiry or signature, or a link past its expiry, is
refused (403).
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

MEDIA_PATH = "/bridge/cow/v1/media"


class LinkSigner:
    def __init__(self, key: bytes, base_url: str) -> None:
        self._key = key
        self._base = base_url.rstrip("/")

    def _sig(self, media_id: str, name: str, exp: int) -> str:
        message = f"{media_id}/{name}|{exp}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def url(self, media_id: str, name: str, exp: int) -> str:
        sig = self._sig(media_id, name, exp)
        return f"{self._base}{MEDIA_PATH}/{media_id}/{quote(name)}?exp={exp}&sig={sig}"

    def valid(self, media_id: str, name: str, exp: str, sig: str, now: float) -> bool:
        """Whether ``sig`` signs this link and ``exp`` is not past (constant-time compare)."""
        if not exp.isdigit() or len(exp) > 12:
            return False
        good = hmac.compare_digest(self._sig(media_id, name, int(exp)).encode(), sig.encode())
        return good and int(exp) > now


__all__ = ["MEDIA_PATH", "LinkSigner"]
