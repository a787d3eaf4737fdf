"""The model's Markdown as Discord shows it, and cut into messages of at most 2000 characters.

Discord renders most Markdown itself (emphasis, code, quotes, lists, # to ### headings, masked
links, spoilers), so it passes through. What Discord shows raw is made readable: tables become
aligned monospace blocks, HTML tags become Markdown or text, deeper headings become bold lines,
rules become a line, and ``![alt](url)`` becomes a link. Code is never touched.
"""

from __future__ import annotations

import html
import re
import unicodedata

from bots.shared.md_inline import render_inline
from bots.shared.text_split import is_fence_close, match_fence_open, take_chunk

MESSAGE_LIMIT = 2000  # characters of a message's content

_TABLE_SEP_RE = re.compile(r"[ \t]*\|?(?:[ \t]*:?-+:?[ \t]*\|)*[ \t]*:?-+:?[ \t]*\|?[ \t]*$")
_CELL_SPLIT_RE = re.compile(r"(?<!\\)\|")
_HR_RE = re.compile(r"[ \t]{0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_DEEP_HEADING_RE = re.compile(r"[ \t]{0,3}#{4,6}[ \t]+(.*?)[ \t#]*$")
_IMAGE_RE = re.compile(r"!\[([^\]\n]*)\]\(([^()\s]+)\)")
_CODE_SPAN_RE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_BR_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)
_LINK_TAG_RE = re.compile(r"<a\s[^>]*href=[\"']([^\"']+)[\"'][^>]*>(.*?)</a\s*>", re.I | re.S)
_TAGS = {
    "b": "**", "strong": "**", "i": "*", "em": "*", "u": "__", "s": "~~", "del": "~~",
    "strike": "~~", "code": "`", "kbd": "`", "sup": "^", "sub": "_",
}
_PAIRED_RE = re.compile(
    r"<(" + "|".join(_TAGS) + r")(?:\s[^<>]*)?>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL
)
_ANY_TAG_RE = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
_ENTITY_RE = re.compile(r"&(?:[a-zA-Z]{2,8}|#\d{1,6}|#x[0-9a-fA-F]{1,6});")
_BLOCK_TAG_RE = re.compile(r"</?(?:p|div|li|ul|ol|tr|table|h[1-6])(?:\s[^<>]*)?>", re.IGNORECASE)


def to_discord(markdown: str) -> str:
    """``markdown`` adjusted for Discord (see the module's docstring); idempotent."""
    lines = markdown.split("\n")
    out: list[str] = []
    fence: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if fence is not None:
            out.append(line)
            if is_fence_close(line, fence):
                fence = None
            i += 1
            continue
        opened = match_fence_open(line)
        if opened is not None:
            fence = opened[1]
            out.append(line)
            i += 1
            continue
        if _is_table_start(lines, i):
            i = _table(lines, i, out)
            continue
        out.append(_line(line))
        i += 1
    return "\n".join(out)


def _line(line: str) -> str:
    if _HR_RE.match(line):
        return "──────────"
    heading = _DEEP_HEADING_RE.match(line)
    if heading is not None:
        return f"**{heading.group(1)}**" if heading.group(1) else ""
    return _outside_code(line, _inline)


def _outside_code(text: str, change: object) -> str:
    """``change`` applied to the parts of ``text`` outside backtick code spans."""
    assert callable(change)
    parts: list[str] = []
    pos = 0
    for m in _CODE_SPAN_RE.finditer(text):
        parts.append(change(text[pos : m.start()]))
        parts.append(m.group())
        pos = m.end()
    parts.append(change(text[pos:]))
    return "".join(parts)


def _inline(text: str) -> str:
    if "<" not in text and "&" not in text and "![" not in text:
        return text
    text = _IMAGE_RE.sub(lambda m: f"[{m.group(1) or m.group(2)}]({m.group(2)})", text)
    text = _BR_RE.sub("\n", text)
    text = _LINK_TAG_RE.sub(lambda m: f"[{m.group(2)}]({m.group(1)})", text)
    for _ in range(3):  # nested tags, innermost last
        text = _PAIRED_RE.sub(lambda m: _TAGS[m.group(1).lower()] + m.group(2)
                              + _TAGS[m.group(1).lower()], text)
    text = _BLOCK_TAG_RE.sub(" ", text)
    text = _ANY_TAG_RE.sub("", text)
    if _ENTITY_RE.search(text):
        text = _ENTITY_RE.sub(lambda m: html.unescape(m.group()), text)
    return text


def _is_table_start(lines: list[str], i: int) -> bool:
    return (
        "|" in lines[i]
        and i + 1 < len(lines)
        and "|" in lines[i + 1]
        and "-" in lines[i + 1]
        and _TABLE_SEP_RE.match(lines[i + 1]) is not None
    )


def _cells(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return [cell.strip() for cell in _CELL_SPLIT_RE.split(s)]


def _width(text: str) -> int:
    """Monospace columns: East Asian wide characters take two, combining marks none."""
    width = 0
    for ch in text:
        if ch < "\u0300":
            width += 1
        elif not unicodedata.combining(ch):
            width += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return width


def _pad(text: str, width: int, align: str) -> str:
    gap = width - _width(text)
    if align == "r":
        return " " * gap + text
    if align == "c":
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    return text + " " * gap


def _table(lines: list[str], i: int, out: list[str]) -> int:
    """A table as an aligned code block; cell markup reduced to its text."""
    j = i + 2
    while j < len(lines) and lines[j].strip() and "|" in lines[j]:
        j += 1
    seps = _cells(lines[i + 1])
    aligns = ["c" if s.startswith(":") and s.endswith(":") else "r" if s.endswith(":") else ""
              for s in seps]
    rows = [
        [_inline(render_inline(cell)[1]).replace("\n", " ") for cell in _cells(lines[k])]
        for k in (i, *range(i + 2, j))
    ]
    ncol = max(len(row) for row in rows)
    widths = [max([3] + [_width(row[c]) for row in rows if c < len(row)]) for c in range(ncol)]
    aligns += [""] * (ncol - len(aligns))
    out.append("```")
    for r, row in enumerate(rows):
        cells = row + [""] * (ncol - len(row))
        out.append(" | ".join(map(_pad, cells, widths, aligns)).rstrip())
        if r == 0:
            out.append("-|-".join("-" * w for w in widths))
    out.append("```")
    return j


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """``text`` (already adjusted) in chunks of at most ``limit`` characters, cut at a
    paragraph, line or sentence, with code fences closed and reopened."""
    chunks: list[str] = []
    rest = text
    while rest.strip():
        chunk, rest = take_chunk(rest, limit)
        if chunk.strip():
            chunks.append(chunk)
    return chunks
