"""Reading what the relay sends under size caps, so a huge or endless body costs bounded memory.

The caps (``BodyLimits``): a whole JSON (or audio) answer, an error body (only its start is
read: the message is all we use), one SSE line, and a whole SSE stream. Media downloads have
their own cap (``jobs.media_max_mb``, core.relay.download).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from core.errors import RelayTooLargeError

__all__ = ["BodyLimits", "read_body", "read_error_body"]

MB = 1 << 20


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """Largest relay bodies read, in bytes (an SSE line in characters)."""

    body: int = 32 * MB  # a JSON answer (b64 images included) or a speech file
    error: int = 64 * 1024  # the start of an error body; the rest is not read
    sse_line: int = 4 * MB  # one line of a streamed answer
    stream: int = 64 * MB  # a whole streamed answer (about 100k tokens of deltas fit)


def _declared(resp: httpx.Response) -> int | None:
    value = resp.headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


async def read_body(resp: httpx.Response, limit: int, what: str, request_id: str = "") -> bytes:
    """The whole body of a streamed ``resp``; ``RelayTooLargeError`` as soon as it (or its
    Content-Length) passes ``limit`` bytes. Transport errors are httpx's, for the caller."""
    declared = _declared(resp)
    if declared is not None and declared > limit:
        raise RelayTooLargeError(what, limit, status=resp.status_code, request_id=request_id)
    data = bytearray()
    async for chunk in resp.aiter_bytes():
        data += chunk
        if len(data) > limit:
            raise RelayTooLargeError(what, limit, status=resp.status_code, request_id=request_id)
    return bytes(data)


async def read_error_body(resp: httpx.Response, limit: int) -> bytes:
    """At most the first ``limit`` bytes of an error body; whatever arrived if the read fails."""
    data = bytearray()
    try:
        async for chunk in resp.aiter_bytes():
            data += chunk
            if len(data) >= limit:
                break
    except httpx.HTTPError:
        pass
    return bytes(data[:limit])
