"""Download a generated file under a byte cap and a deadline, without leaking the relay key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import httpx

from core.errors import MediaDownloadError, MediaTooLargeError

__all__ = ["fetch_media", "same_origin"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        return None
    scheme = parsed.scheme.lower()
    port = parsed.port or _DEFAULT_PORTS.get(scheme, 0)
    return scheme, parsed.host.lower(), port


def same_origin(url: str, other: str) -> bool:
    """True when both URLs have the same scheme, host and (effective) port."""
    mine = _origin(url)
    return mine is not None and mine == _origin(other)


def _where(url: str) -> str:
    """The URL without its query (signed CDN links carry tokens there), for logs."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        return "<invalid url>"
    return f"{parsed.scheme}://{parsed.netloc.decode('ascii', 'replace')}{parsed.path}"


async def fetch_media(
    http: httpx.AsyncClient,
    url: str,
    headers: Mapping[str, str],
    *,
    max_bytes: int,
    timeout_s: float,
    redact: Callable[[str], str] = str,
) -> tuple[bytes, str]:
    """(bytes, content type) of ``url``; streams and stops as soon as ``max_bytes`` is passed.

    ``timeout_s`` bounds the whole download (a slow drip cannot outlast it). Redirects are
    followed; httpx drops ``Authorization`` when one leaves the origin.
    """
    where = redact(_where(url))
    if _origin(url) is None or not url.lower().startswith(("http://", "https://")):
        raise MediaDownloadError(f"not an http(s) URL: {where}")
    try:
        async with asyncio.timeout(timeout_s):
            async with http.stream(
                "GET",
                url,
                headers=dict(headers),
                timeout=httpx.Timeout(timeout_s),
                follow_redirects=True,
            ) as resp:
                if not resp.is_success:
                    detail = f"HTTP {resp.status_code} from {where}"
                    raise MediaDownloadError(detail, status=resp.status_code)
                declared = resp.headers.get("content-length", "").strip()
                if declared.isdigit() and int(declared) > max_bytes:
                    raise MediaTooLargeError(max_bytes, f"{where} declares {declared} bytes")
                data = bytearray()
                async for chunk in resp.aiter_bytes():
                    data += chunk
                    if len(data) > max_bytes:
                        raise MediaTooLargeError(max_bytes, f"{where} sent more")
                ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                return bytes(data), ctype or "application/octet-stream"
    except TimeoutError:
        raise MediaDownloadError(f"no complete answer in {timeout_s:g}s from {where}") from None
    except httpx.HTTPError as exc:
        raise MediaDownloadError(redact(f"{type(exc).__name__} from {where}")) from None
