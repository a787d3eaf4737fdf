"""Split Markdown into message-sized chunks (UTF-16 limits), keeping code fences balanced."""

from __future__ import annotations

import re
from typing import NamedTuple

# A fence opener: indentation, then ``` (info without backticks) or ~~~ (any info).
_FENCE_OPEN_RE = re.compile(r"([ \t]*)(?:(`{3,})([^`]*)|(~{3,})(.*))$")
_FENCE_CLOSE_RE = re.compile(r"[ \t]*(`{3,}|~{3,})\s*$")
_PARA_RE = re.compile(r"\n[ \t\r]*\n")
# A sentence end, with what closes around it ("**", quotes, brackets), then the blanks to drop.
_SENTENCE_RE = re.compile(
    r"(?:[.!?][*_~|`'\")\]”’]*(?=[ \t])|[。！？；][*_~|`'\")\]”’」』）]*)[ \t]*"
)
_BLANKS_RE = re.compile(r"[ \t]*")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts it (a non-BMP emoji counts 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def match_fence_open(line: str) -> tuple[str, str, str] | None:
    """``(indent, fence, info)`` when ``line`` opens a fenced code block, else ``None``."""
    if "``" not in line and "~~" not in line:
        return None
    m = _FENCE_OPEN_RE.match(line)
    if m is None:
        return None
    if m.group(2) is not None:
        return m.group(1), m.group(2), m.group(3).strip()
    return m.group(1), m.group(4), m.group(5).strip()


def is_fence_close(line: str, fence: str) -> bool:
    """True when ``line`` closes a block opened by ``fence`` (same char, at least as long)."""
    m = _FENCE_CLOSE_RE.match(line)
    return m is not None and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence)


class _Fence(NamedTuple):
    start: int  # where the opener line starts
    body: int  # where the code body starts (after the opener line)
    opener: str  # the opener line, to reopen the block in the next chunk
    fence: str  # the fence characters, e.g. "```"
    close: str  # the closing line to append, e.g. "```" (with the opener's indentation)


def _prefix_end(text: str, budget: int) -> int:
    """The largest ``n`` with ``utf16_len(text[:n]) <= budget``; never splits a surrogate pair."""
    raw = text[:budget].encode("utf-16-le", "surrogatepass")
    if len(raw) <= 2 * budget:
        return min(budget, len(text))
    raw = raw[: 2 * budget]
    if 0xD8 <= raw[-1] <= 0xDB:  # high surrogate of a pair cut in half
        raw = raw[:-2]
    return len(raw.decode("utf-16-le", "surrogatepass"))


def _fence_at(text: str, cut: int) -> _Fence | None:
    """The fenced block left open by ``text[:cut]``, if any."""
    open_: _Fence | None = None
    pos = 0
    while pos < cut:
        nl = text.find("\n", pos)
        line_end = len(text) if nl < 0 else nl
        line = text[pos:line_end]
        if open_ is None:
            found = match_fence_open(line)
            if found is not None:
                indent, fence, _ = found
                open_ = _Fence(pos, line_end + 1, line.rstrip(), fence, indent + fence)
        elif line_end <= cut and is_fence_close(line, open_.fence):
            open_ = None
        pos = line_end + 1
    return open_


def _is_fence_line(line: str) -> bool:
    return _FENCE_CLOSE_RE.match(line) is not None or match_fence_open(line) is not None


def _last_match(pattern: re.Pattern[str], text: str, lo: int, end: int) -> re.Match[str] | None:
    found = None
    for found in pattern.finditer(text, lo, end):  # noqa: B007 - we want the last one
        pass
    return found


def _closed_spans(text: str, line_start: int, cut: int) -> bool:
    """Whether ``text[:cut]`` leaves no ``**``, ``~~``, ``||`` or backtick span of its line
    open, so that neither half shows a raw marker once rendered. A heuristic, by parity."""
    seg = text[line_start:cut]
    return not (seg.count("**") % 2 or seg.count("`") % 2 or seg.count("~~") % 2) and (
        seg.count("||") % 2 == 0
    )


def _inline_cut(text: str, lo: int, end: int) -> tuple[int, int] | None:
    """Within a line: a sentence end, else a space; the last one that leaves no inline span
    open, else simply the last one (up to 64 candidates of each kind are tried)."""
    line_start = text.rfind("\n", 0, lo) + 1
    sentences: list[tuple[int, int]] = []
    for m in list(_SENTENCE_RE.finditer(text, lo, end))[:-65:-1]:  # the last 64, rightmost first
        cut = m.start() + len(m.group().rstrip())
        sentences.append((cut, m.end()))
        if cut > m.start() + 1:  # "。**" may also open the next span: then cut before "**"
            sentences.append((m.start() + 1, m.start() + 1))
    spaces: list[tuple[int, int]] = []
    sp = text.rfind(" ", lo, end + 1)
    while sp >= 0 and len(spaces) < 64:
        spaces.append((sp, _BLANKS_RE.match(text, sp).end()))  # type: ignore[union-attr]
        sp = text.rfind(" ", lo, sp)
    candidates = sentences + spaces
    for cut, resume in candidates:
        if _closed_spans(text, line_start, cut):
            return cut, resume
    return (sentences or spaces)[0] if candidates else None


def _best_cut(text: str, end: int) -> tuple[int, int]:
    """``(cut, resume)``: the chunk is ``text[:cut]``, the rest starts at ``resume``."""
    first = len(text) - len(text.lstrip())
    lo = max(end // 2, first + 1)
    if lo < end:
        para = _last_match(_PARA_RE, text, lo, end)
        if para is not None:
            return para.start(), para.end()
        nl = text.rfind("\n", lo, end + 1)  # text[:nl] still fits when nl == end
        if nl >= 0:
            return nl, nl + 1
        inline = _inline_cut(text, lo, end)
        if inline is not None:
            return inline
    cut = _hard_cut(text, end)
    return cut, cut


def _hard_cut(text: str, end: int) -> int:
    if 1 < end < len(text) and text[end - 1] == "\r" and text[end] == "\n":
        return end - 1  # never split "\r\n"
    return end


def _splits_fence_line(text: str, cut: int) -> int | None:
    """The start of the fence line that ``cut`` falls strictly inside, if any."""
    line_start = text.rfind("\n", 0, cut) + 1
    line_end = text.find("\n", cut)
    if line_end < 0:
        line_end = len(text)
    if line_start < cut < line_end and _is_fence_line(text[line_start:line_end]):
        return line_start
    return None


def _plan(text: str, budget: int) -> tuple[int, int, _Fence | None] | None:
    """Where to cut within ``budget`` units, and the fence open there (``None``: impossible)."""
    end = max(_prefix_end(text, budget), 1)
    cut, resume = _best_cut(text, end)
    line_start = _splits_fence_line(text, cut)
    if line_start is not None:  # never cut through a fence line
        if not text[:line_start].strip():
            return None
        cut = resume = line_start
    fence = _fence_at(text, cut)
    if fence is not None and cut <= fence.body:
        # Nothing of the block's body would be in this chunk: cut before the block instead,
        # or, when the chunk starts with the block, hard-cut inside its body.
        if text[: fence.start].strip():
            return fence.start, fence.start, None
        cut = resume = _hard_cut(text, end)
        if _splits_fence_line(text, cut) is not None:
            return None
        fence = _fence_at(text, cut)
        if fence is not None and cut <= fence.body:
            return None
    return cut, resume, fence


def take_chunk(text: str, limit: int) -> tuple[str, str]:
    """Split off the longest first chunk of at most ``limit`` UTF-16 units; ``(chunk, rest)``.

    The cut prefers, within the second half of the window: a blank line, a newline, the end of
    a sentence, a space; else a hard cut that keeps surrogate pairs and ``\\r\\n`` whole. A cut
    inside a fenced code block closes the fence in the chunk and reopens it (same info string)
    at the start of ``rest``; the closing line is counted in ``limit``.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if utf16_len(text) <= limit:
        return text, ""
    if not text[: _prefix_end(text, limit)].strip() and text.strip():
        return take_chunk(text.lstrip(), limit)
    reserve = 0
    for _ in range(4):
        if limit - reserve < 1:
            break
        plan = _plan(text, limit - reserve)
        if plan is None:
            break
        cut, resume, fence = plan
        need = 0 if fence is None else 1 + len(fence.close)
        if need > reserve:
            reserve = need
            continue
        chunk = text[:cut].rstrip()
        rest = text[resume:].lstrip("\r\n")
        if fence is not None:
            chunk = f"{chunk}\n{fence.close}"
            first_line, _, after = rest.partition("\n")
            if not rest.strip() or is_fence_close(first_line, fence.fence):
                # The block (or the text) ended right there: nothing to reopen.
                rest = after.lstrip("\r\n") if rest.strip() else ""
            else:
                rest = f"{fence.opener}\n{rest}"
        if chunk.strip() and len(rest) < len(text):
            return chunk, rest
        break
    # Fallback (a limit too small for the fences): a plain hard cut.
    cut = _hard_cut(text, max(_prefix_end(text, limit), 1))
    return text[:cut], text[cut:]
