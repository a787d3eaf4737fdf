"""A model's Markdown as readable plain text (WeChat shows no Markdown), cut to message size."""

from __future__ import annotations

import re

from bots.shared.md_inline import render_inline
from bots.shared.text_split import is_fence_close, match_fence_open, take_chunk

_HEADING_RE = re.compile(r"[ \t]{0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_HR_RE = re.compile(r"[ \t]{0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_BULLET_RE = re.compile(r"([ \t]*)[-*+][ \t]+(.*)$")
_QUOTE_RE = re.compile(r"[ \t]{0,3}>[ \t]?(.*)$")
_TABLE_SEP_RE = re.compile(r"[ \t]*\|?(?:[ \t]*:?-+:?[ \t]*\|)*[ \t]*:?-+:?[ \t]*\|?[ \t]*$")
_CELL_SPLIT_RE = re.compile(r"(?<!\\)\|")


def _inline(text: str) -> str:
    return render_inline(text)[1]


def _row(line: str) -> str:
    cells = [c.strip() for c in _CELL_SPLIT_RE.split(line.strip().strip("|"))]
    return " | ".join(_inline(c) for c in cells)


def to_plain(markdown: str) -> str:
    """``markdown`` without its syntax: headings as their text, bullets as •, code blocks
    without fences, quotes marked with │, tables as ``a | b`` rows, links as ``text (url)``."""
    lines = markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    fence = ""
    for i, line in enumerate(lines):
        if fence:
            if is_fence_close(line, fence):
                fence = ""
            else:
                out.append(line)
            continue
        opened = match_fence_open(line)
        if opened is not None:
            fence = opened[1]
            continue
        if _TABLE_SEP_RE.fullmatch(line) and "|" in line and i > 0 and "|" in lines[i - 1]:
            continue  # the |---|---| under a table's head
        if _HR_RE.fullmatch(line):
            out.append("———")
            continue
        heading = _HEADING_RE.fullmatch(line)
        if heading is not None:
            out.append(_inline(heading.group(1) or ""))
            continue
        bullet = _BULLET_RE.fullmatch(line)
        if bullet is not None:
            out.append(f"{bullet.group(1)}• {_inline(bullet.group(2))}")
            continue
        quote = _QUOTE_RE.fullmatch(line)
        if quote is not None:
            out.append(f"│ {_inline(quote.group(1))}".rstrip())
            continue
        if line.count("|") >= 2 and line.strip().startswith("|"):
            out.append(_row(line))
            continue
        out.append(_inline(line))
    return "\n".join(out).strip("\n")


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at paragraphs, lines,
    sentences or spaces where possible; empty pieces are left out."""
    pieces: list[str] = []
    rest = text
    while rest.strip():
        chunk, rest = take_chunk(rest, limit)
        if chunk.strip():
            pieces.append(chunk)
    return pieces


__all__ = ["split_text", "to_plain"]
