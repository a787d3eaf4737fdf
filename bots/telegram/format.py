"""Render LLM Markdown as Telegram HTML (parse_mode=HTML), with a plain-text twin as fallback."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bots.shared.md_inline import escape, render_inline
from bots.shared.text_split import is_fence_close, match_fence_open

__all__ = ["Rendered", "render"]

_HEADING_RE = re.compile(r"[ \t]{0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_HR_RE = re.compile(r"[ \t]{0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_BULLET_RE = re.compile(r"([ \t]*)[-*+](?:[ \t]+(.*))?$")
_QUOTE_RE = re.compile(r"[ \t]{0,3}> ?")
_TABLE_SEP_RE = re.compile(r"[ \t]*\|?(?:[ \t]*:?-+:?[ \t]*\|)*[ \t]*:?-+:?[ \t]*\|?[ \t]*$")
_CELL_SPLIT_RE = re.compile(r"(?<!\\)\|")
_LANG_RE = re.compile(r"[\w+#.-]{1,32}")
# Lines that start a block of their own (and so end a paragraph).
_BLOCK_START_RE = re.compile(
    r"[ \t]*(?:#{1,6}(?:[ \t]|$)|>|[-*+](?:[ \t]|$)|\d{1,9}[.)](?:[ \t]|$)|(?:\$\$|\\\[)[ \t]*$)"
)
# A line whose first non-blank character is none of these (and has no "|") is plain text.
_BLOCK_CHARS = frozenset("#>-*+_|`~$\\0123456789")
# While streaming, a last line like "-", "***", "##" or "``" is a marker still being typed.
_PARTIAL_TAIL_RE = re.compile(r"[ \t]*(?:[-*+_>|~`]{1,3}|#{1,6})[ \t]*")
_HR = "———"


@dataclass(frozen=True, slots=True)
class Rendered:
    """``html`` for parse_mode=HTML; ``plain``: the same visible text without any markup."""

    html: str
    plain: str


def render(markdown: str, *, partial: bool = False) -> Rendered:
    """Convert a model's Markdown answer to Telegram HTML and plain text.

    ``partial``: the answer is still streaming. An open code fence is closed at the end, and
    markers opened at the end (``**``, ``*``, ``_``, ``~~``, `````, ``[text](ur``) are rendered
    as if closed or dropped, so no raw marker flickers on screen.

    The visible text (and ``plain``) is never longer than ``markdown``, in characters and in
    UTF-16 units, so a chunk cut from the source to fit a message limit still fits rendered.
    """
    if "\r" in markdown:
        markdown = markdown.replace("\r\n", "\n").replace("\r", "\n")
    lines = markdown.split("\n")
    if partial and lines[-1] and _PARTIAL_TAIL_RE.fullmatch(lines[-1]):
        lines.pop()
    out = _Blocks()
    out.render(lines, partial, in_quote=False)
    return Rendered("\n".join(out.html), "\n".join(out.plain))


def _is_table_start(lines: list[str], i: int) -> bool:
    return (
        "|" in lines[i]
        and i + 1 < len(lines)
        and "|" in lines[i + 1]
        and "-" in lines[i + 1]
        and _TABLE_SEP_RE.match(lines[i + 1]) is not None
    )


def _starts_block(lines: list[str], i: int) -> bool:
    line = lines[i]
    return (
        _BLOCK_START_RE.match(line) is not None
        or _HR_RE.match(line) is not None
        or match_fence_open(line) is not None
        or _is_table_start(lines, i)
    )


class _Blocks:
    """Block-level pass: one line at a time, paragraphs handed to the inline renderer."""

    __slots__ = ("html", "plain", "blank", "unclosed")

    def __init__(self) -> None:
        self.html: list[str] = []
        self.plain: list[str] = []
        self.blank = False
        self.unclosed: dict[tuple[int, str], int] = {}  # math closer absent up to this line

    def emit(self, html: str, plain: str) -> None:
        if self.blank and self.html:
            self.html.append("")
            self.plain.append("")
        self.blank = False
        self.html.append(html)
        self.plain.append(plain)

    def render(self, lines: list[str], partial: bool, *, in_quote: bool) -> None:
        n = len(lines)
        last = n - 1
        while last >= 0 and not lines[last].strip():
            last -= 1
        i = 0
        while i < n:
            line = lines[i]
            if not line.strip():
                self.blank = True
                i += 1
                continue
            at_end = partial and i >= last  # this block is the streamed tail
            if line.lstrip()[0] not in _BLOCK_CHARS and "|" not in line:
                i = self._paragraph(lines, i, partial, last)
                continue
            fence = match_fence_open(line)
            if fence is not None:
                i = self._code(lines, i, fence)
                continue
            if line.strip() in ("$$", "\\["):
                j = self._math(lines, i, partial)
                if j:
                    i = j
                    continue
            if _is_table_start(lines, i):
                i = self._table(lines, i)
                continue
            m = _HEADING_RE.match(line)
            if m is not None:
                if m.group(2):
                    html, plain = render_inline(m.group(2), at_end, ("b",))
                    self.emit(f"<b>{html}</b>", plain)
                i += 1
                continue
            if _HR_RE.match(line):
                self.emit(_HR, _HR)
                i += 1
                continue
            m = _QUOTE_RE.match(line)
            if m is not None:
                i = self._quote(lines, i, partial, last, in_quote)
                continue
            m = _BULLET_RE.match(line)
            if m is not None:
                html, plain = render_inline((m.group(2) or "").rstrip(), at_end)
                bullet = m.group(1) + ("• " if plain else "•")
                self.emit(bullet + html, bullet + plain)
                i += 1
                continue
            if _BLOCK_START_RE.match(line):  # an ordered item stands alone
                self.emit(*render_inline(line.rstrip(), at_end))
                i += 1
            else:
                i = self._paragraph(lines, i, partial, last)

    def _paragraph(self, lines: list[str], i: int, partial: bool, last: int) -> int:
        """Consecutive text lines form one paragraph (emphasis may span its lines)."""
        j = i + 1
        n = len(lines)
        while j < n:
            line = lines[j]
            head = line.lstrip()[:1]
            if not head or ((head in _BLOCK_CHARS or "|" in line) and _starts_block(lines, j)):
                break
            j += 1
        text = "\n".join(raw.rstrip() for raw in lines[i:j])
        self.emit(*render_inline(text, partial and j > last))
        return j

    def _code(self, lines: list[str], i: int, fence: tuple[str, str, str]) -> int:
        indent, marker, info = fence
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not is_fence_close(lines[j], marker):
            line = lines[j]
            strip = min(len(indent), len(line) - len(line.lstrip(" \t")))
            body.append(line[strip:])
            j += 1
        content = "\n".join(body)
        if content.strip():  # an unclosed block runs to the end of the text
            lang = info.split()[0] if info else ""
            cls = f' class="language-{lang}"' if _LANG_RE.fullmatch(lang) else ""
            self.emit(f"<pre><code{cls}>{escape(content)}</code></pre>", content)
        return j + 1

    def _math(self, lines: list[str], i: int, partial: bool) -> int:
        """A display-math block ($$ … $$ or \\[ … \\]) stays verbatim; 0 when not closed
        before a blank line. While streaming, an open block at the very end counts."""
        closer = "$$" if lines[i].strip() == "$$" else "\\]"
        key = (id(lines), closer)
        if i < self.unclosed.get(key, -1):
            return 0  # an earlier search from above found no closer up to there
        j = i + 1
        while j < len(lines) and lines[j].strip() not in ("", closer):
            j += 1
        if j == len(lines) and partial:
            j -= 1  # still streaming: the block runs to the end
        elif j == len(lines) or not lines[j].strip():
            self.unclosed[key] = j
            return 0
        text = "\n".join(lines[i : j + 1])
        self.emit(escape(text), text)
        return j + 1

    def _quote(self, lines: list[str], i: int, partial: bool, last: int, in_quote: bool) -> int:
        inner: list[str] = []
        j = i
        while j < len(lines):
            m = _QUOTE_RE.match(lines[j])
            if m is None:
                break
            inner.append(lines[j][m.end() :])
            j += 1
        tail = partial and j > last
        if in_quote:  # Telegram can't nest quotes: flatten "> > x" into the outer one
            self.render(inner, tail, in_quote=True)
            return j
        sub = _Blocks()
        sub.render(inner, tail, in_quote=True)
        if sub.html:
            self.emit("<blockquote>" + "\n".join(sub.html) + "</blockquote>", "\n".join(sub.plain))
        return j

    def _table(self, lines: list[str], i: int) -> int:
        """A table becomes aligned monospace text; cell markup is reduced to its text."""
        j = i + 2
        while j < len(lines) and lines[j].strip() and "|" in lines[j]:
            j += 1
        aligns = [_align(cell) for cell in _cells(lines[i + 1])]
        rows = [
            [render_inline(cell)[1].replace("\n", " ") for cell in _cells(lines[k])]
            for k in (i, *range(i + 2, j))
        ]
        ncol = max(len(row) for row in rows)
        widths = [max([3] + [_width(row[c]) for row in rows if c < len(row)]) for c in range(ncol)]
        out: list[str] = []
        aligns += [""] * (ncol - len(aligns))
        for r, row in enumerate(rows):
            cells = row + [""] * (ncol - len(row))
            out.append(" | ".join(map(_pad, cells, widths, aligns)).rstrip())
            if r == 0:
                out.append("-|-".join("-" * w for w in widths))
        text = "\n".join(out)
        source = "\n".join(lines[i:j])
        if len(text) > len(source):  # never longer than the source: split sizes must hold
            out = ["|".join(row).rstrip() for row in rows]
            text = "\n".join([out[0], lines[i + 1].strip(), *out[1:]])
        self.emit(f"<pre>{escape(text)}</pre>", text)
        return j


def _cells(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return [cell.strip() for cell in _CELL_SPLIT_RE.split(s)]


def _align(sep: str) -> str:
    if sep.endswith(":"):
        return "c" if sep.startswith(":") else "r"
    return ""


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
