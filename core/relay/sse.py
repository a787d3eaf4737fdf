"""Incremental parser of the relay's SSE lines: JSON payload dicts out, or the DONE marker."""

from __future__ import annotations

import enum
import json
from typing import Any, Final

__all__ = ["DONE", "Done", "SSEParser"]

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
