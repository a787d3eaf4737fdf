"""Streaming removal of ``<think>…</think>`` blocks from answer text."""

from __future__ import annotations

__all__ = ["ThinkFilter", "strip_think"]

OPEN = "<think>"
CLOSE = "</think>"


def _partial_tag_len(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkFilter:
    """Remove think blocks from text that arrives in pieces.

    ``feed`` returns the text that is certainly outside any block; at most ``len("</think>") - 1``
    characters that may begin a tag are held back. Whitespace right after a removed block is
    dropped. ``flush`` ends the text: held-back characters outside a block are returned, and an
    unclosed block is dropped whole. Cost is linear in the text fed.
    """

    __slots__ = ("_inside", "_strip", "_tail")

    def __init__(self) -> None:
        self._tail = ""
        self._inside = False
        self._strip = False

    def _emit(self, text: str) -> str:
        if self._strip and text:
            text = text.lstrip()
            if text:
                self._strip = False
        return text

    def feed(self, text: str) -> str:
        """Take the next piece of text; return what can be shown now."""
        if not text:
            return ""
        buf = self._tail + text if self._tail else text
        self._tail = ""
        out: list[str] = []
        pos = 0
        while True:
            if self._inside:
                end = buf.find(CLOSE, pos)
                if end < 0:
                    keep = _partial_tag_len(buf[max(pos, len(buf) - len(CLOSE)) :], CLOSE)
                    self._tail = buf[len(buf) - keep :] if keep else ""
                    break
                self._inside = False
                self._strip = True
                pos = end + len(CLOSE)
            else:
                start = buf.find(OPEN, pos)
                if start < 0:
                    keep = _partial_tag_len(buf[max(pos, len(buf) - len(OPEN)) :], OPEN)
                    out.append(self._emit(buf[pos : len(buf) - keep]))
                    self._tail = buf[len(buf) - keep :] if keep else ""
                    break
                out.append(self._emit(buf[pos:start]))
                self._inside = True
                pos = start + len(OPEN)
        return "".join(out)

    def flush(self) -> str:
        """End of text: return what was held back, unless it is inside an unclosed block."""
        tail, self._tail = self._tail, ""
        if self._inside:
            return ""
        return self._emit(tail)


def strip_think(text: str) -> str:
    """Remove think blocks from a whole text (non-streamed answers)."""
    f = ThinkFilter()
    return f.feed(text) + f.flush()
