"""The relay's SSE stream: bytes to lines under size caps, and lines to JSON payloads or DONE."""

from __future__ import annotations

import codecs
import enum
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Final

__all__ = ["DONE", "Done", "OverLimit", "SSEParser", "sse_lines"]

_EOL = re.compile(r"\r\n|\r|\n")  # SSE line ends; not str.splitlines (JSON may hold U+2028)

_MAX_PENDING = 1 << 20  # a multi-line event larger than this is garbage: drop it


class Done(enum.Enum):
    """Type of the ``DONE`` marker (``data: [DONE]``)."""

    DONE = "[DONE]"


DONE: Final = Done.DONE


class SSEParser:
    """Feed one text line at a time (without its line ending); get a payload, DONE or None.

    Only ``data:`` lines count (with or without a space after the colon). Comments such as
    ``: keep-alive``, ``event:``/``id:``/``retry:`` lines and blank lines give None, as does data
    that is not a JSON object. A JSON object split over several ``data:`` lines of one event is
    joined, as the SSE standard says; the usual one-line events are returned at once.
    """

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: list[str] = []

    def feed(self, line: str) -> dict[str, Any] | Done | None:
        """Parse one line; return a JSON object, ``DONE`` or None (nothing to act on)."""
        if not line.strip():
            self._pending.clear()  # end of an event: a multi-line payload that never parsed
            return None
        if not line.startswith("data:"):
            return None
        data = line[5:].strip()
        if not self._pending:
            if data == "[DONE]":
                return DONE
            if not data:
                return None
            payload = _load(data)
            if payload is not None:
                return payload
            if data[0] in "{[":
                self._pending.append(data)
            return None
        self._pending.append(data)
        joined = "\n".join(self._pending)
        payload = _load(joined)
        if payload is not None or len(joined) > _MAX_PENDING:
            self._pending.clear()
        return payload


def _load(data: str) -> dict[str, Any] | None:
    if data[:1] != "{":
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class OverLimit(Exception):
    """A stream passed a cap: ``what`` is "line" or "stream", ``limit`` the cap."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"SSE {what} over {limit}")
        self.what = what
        self.limit = limit


async def sse_lines(
    chunks: AsyncIterator[bytes], *, max_line: int, max_total: int
) -> AsyncGenerator[str, None]:
    """The lines (without line ends) of a UTF-8 byte stream.

    Raises ``OverLimit("line", max_line)`` as soon as one line passes ``max_line`` characters
    (a line without an end is not buffered forever), and ``OverLimit("stream", max_total)`` once
    more than ``max_total`` bytes arrived. ``\r\n``, ``\r`` and ``\n`` end lines.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    rest, total = "", 0
    async for chunk in chunks:
        total += len(chunk)
        if total > max_total:
            raise OverLimit("stream", max_total)
        text = rest + decoder.decode(chunk)
        held = text.endswith("\r")  # maybe the first half of "\r\n"
        parts = _EOL.split(text[:-1] if held else text)
        rest = parts.pop() + ("\r" if held else "")
        for line in parts:
            if len(line) > max_line:
                raise OverLimit("line", max_line)
            yield line
        if len(rest) > max_line:
            raise OverLimit("line", max_line)
    parts = _EOL.split(rest + decoder.decode(b"", final=True))
    if not parts[-1]:
        parts.pop()  # the stream ended with a line end
    for line in parts:
        if len(line) > max_line:
            raise OverLimit("line", max_line)
        yield line
