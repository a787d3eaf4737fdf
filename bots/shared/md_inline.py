"""Inline Markdown (emphasis, code, links, math) to Telegram HTML plus plain text, in one pass."""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache

_OPEN = {"b": "<b>", "i": "<i>", "s": "<s>", "sp": '<span class="tg-spoiler">'}
_CLOSE = {"b": "</b>", "i": "</i>", "s": "</s>", "sp": "</span>"}
_PAIR_TAG = {"~": "s", "|": "sp"}  # ~~x~~ and ||x||: runs of exactly two; * and _: any

# Candidates are found with a cheap character class, then identified with an anchored match.
_SPECIAL_RE = re.compile(r"[\\$`*_~|!\[<]")
_TOKEN_RE = re.compile(
    r"(?P<math>\\[(\[]|\$)"
    r"|(?P<lit>\\(?P<ch>[!-/:-@\[-`{-~])|<(?P<al>(?:https?|tg|mailto):[^\s<>]*)>)"
    r"|(?P<code>`+)"
    r"|(?P<link>!?\[)"
    r"|(?P<br><br\s*/?>)",
    re.IGNORECASE,
)
_DOLLAR_RE = re.compile(r"\$(?=[^\s$])[^$\n]*?[^\s$\\]\$(?!\d)")
# "[text]" with escapes and one level of nested brackets: "[a [b] c]".
_LINK_TEXT_RE = re.compile(r"\[(?:[^\[\]\\]|\\.|\[(?:[^\[\]\\]|\\.)*\])*\]", re.DOTALL)
_LINK_TAIL_RE = re.compile(
    r"\(\s*(?:<([^<>\n]*)>|([^\s()<>]*(?:\([^\s()]*\)[^\s()<>]*)*))"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)"
)
_URL_BODY_RE = re.compile(r"[!-;=?-_a-~]*")  # printable ASCII except < > and backtick
_SAFE_URL_RE = re.compile(r"(?:https?|tg|mailto):", re.IGNORECASE)
_URL_ESCAPE_RE = re.compile(r"\\([!-/:-@\[-`{-~])")


def escape(text: str) -> str:
    """Escape text for Telegram HTML: exactly ``&``, ``<`` and ``>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@lru_cache(maxsize=16)
def _code_closer(n: int) -> re.Pattern[str]:
    return re.compile(f"(?<!`)`{{{n}}}(?!`)")


class _Delim:
    """A run of ``*``, ``_``, ``~~`` or ``||``; matching turns its characters into tags."""

    __slots__ = ("char", "count", "can_open", "can_close", "opens", "closes")

    def __init__(self, char: str, count: int, can_open: bool, can_close: bool) -> None:
        self.char = char
        self.count = count
        self.can_open = can_open
        self.can_close = can_close
        self.opens: list[str] = []  # outermost first; emitted after the literal rest
        self.closes: list[str] = []  # innermost first; emitted before the literal rest


_Part = tuple[str, str] | _Delim


def _url_starts(text: str) -> list[int]:
    """Where bare URLs (http, https, ftp, www.) start, found with fast substring searches."""
    starts: list[int] = []
    p = text.find("://")
    while p >= 0:
        s = p
        while s > 0 and text[s - 1].isascii() and text[s - 1].isalpha():
            s -= 1
        if text[s:p].lower() in ("http", "https", "ftp"):
            starts.append(s)
        p = text.find("://", p + 3)
    p = text.find("www.")
    while p >= 0:
        if p == 0 or not (text[p - 1].isalnum() or text[p - 1] in "./@"):
            starts.append(p)
        p = text.find("www.", p + 4)
    starts.sort()
    return starts


class _Scanner:
    __slots__ = ("text", "parts", "urls")

    def __init__(self, text: str) -> None:
        self.text = text
        self.parts: list[_Part] = []
        self.urls = _url_starts(text) if "://" in text or "www." in text else []

    def lit(self, s: str) -> None:
        self.parts.append((escape(s), s))

    def scan(self, pos: int, end: int, at_end: bool, in_link: bool) -> list[_Delim]:
        """Tokenize ``text[pos:end]`` into parts; return its emphasis delimiters."""
        text, parts, urls = self.text, self.parts, self.urls
        append, search = parts.append, _SPECIAL_RE.search
        delims: list[_Delim] = []
        while pos < end:
            found = search(text, pos, end)
            start = end if found is None else found.start()
            if urls:
                u = bisect_left(urls, pos)
                if u < len(urls) and urls[u] < start:
                    if urls[u] > pos:
                        chunk = text[pos : urls[u]]
                        append((escape(chunk), chunk))
                    pos = self._url(urls[u], end)
                    continue
            if start > pos:
                chunk = text[pos:start]
                append((escape(chunk), chunk))
            if found is None:
                break
            char = text[start]
            if char in "*_~|":  # the hot path: an emphasis run, inlined
                pos = start + 1
                while pos < end and text[pos] == char:
                    pos += 1
                n = pos - start
                if at_end and pos == end:
                    continue  # a marker still being streamed: show nothing, not a raw "*"
                prev = text[start - 1] if start else " "
                nxt = text[pos] if pos < len(text) else " "
                # Inside a word (snake_case_name, 2*3*4) it is literal. CJK has no spaces
                # between words, so it counts as a boundary: "这是**重要**的" works.
                intraword = prev.isalnum() and nxt.isalnum() and prev < "\u2e80" > nxt
                if (n == 2 or char in "*_") and not intraword:
                    can_open = not nxt.isspace()
                    can_close = not prev.isspace()
                    if can_open or can_close:
                        delim = _Delim(char, n, can_open, can_close)
                        append(delim)
                        delims.append(delim)
                        continue
                chunk = text[start:pos]
                append((chunk, chunk))
                continue
            m = _TOKEN_RE.match(text, start, end)
            if m is None:  # "!", "<", "\\" or "$" that starts nothing
                append((escape(char), char))
                pos = start + 1
                continue
            tok, kind = m.group(), m.lastgroup
            if kind == "code":
                pos = self._code(len(tok), start, end, at_end)
            elif kind == "link" and not in_link:
                pos = self._link(tok, start, end, at_end)
            elif kind == "math":
                pos = self._math(tok, start, end, at_end)
            else:  # an escaped character, <autolink>, <br> or "[" inside a link's text
                shown = m["ch"] or m["al"] or ("\n" if kind == "br" else tok)
                append((escape(shown), shown))
                pos = m.end()
        return delims

    def _code(self, n: int, start: int, end: int, at_end: bool) -> int:
        text = self.text
        closer = _code_closer(n).search(text, start + n, end)
        if closer is not None:
            content, pos = text[start + n : closer.start()], closer.end()
        elif at_end:
            content, pos = text[start + n : end], end  # still streaming: show it as code
        else:
            self.lit(text[start : start + n])
            return start + n
        content = content.replace("\n", " ")
        if len(content) > 2 and content[0] == " " == content[-1] and content.strip():
            content = content[1:-1]
        if content:
            self.parts.append(("<code>" + escape(content) + "</code>", content))
        return pos

    def _math(self, tok: str, start: int, end: int, at_end: bool) -> int:
        """LaTeX stays as literal text, shielded from emphasis parsing."""
        text = self.text
        if tok == "$" and not text.startswith("$$", start):
            m = _DOLLAR_RE.match(text, start, end)
            stop = start + 1 if m is None else m.end()
        else:
            closer = "$$" if tok == "$" else "\\" + (")" if tok[1] == "(" else "]")
            found = text.find(closer, start + 2, end)
            if found >= 0:
                stop = found + 2
            elif at_end:
                stop = end
            elif tok == "$":
                stop = start + 2
            else:  # a lone \( or \[ is an escaped bracket
                self.lit(tok[1])
                return start + 2
        self.lit(text[start:stop])
        return stop

    def _url(self, start: int, end: int) -> int:
        """A bare URL stays text (Telegram links it); ``_`` or ``*`` inside it is not markup."""
        text = self.text
        head = text.find("/", start) + 2 if text[start] not in "wW" else start + 4
        body = _URL_BODY_RE.match(text, head, end)
        stop = head if body is None else body.end()
        while stop > head:
            ch = text[stop - 1]
            pair = "(" if ch == ")" else "["
            if ch in "?!.,:;*_~'\"|" or (
                ch in ")]" and text.count(ch, start, stop) > text.count(pair, start, stop)
            ):
                stop -= 1
            else:
                break
        stop = max(stop, min(head, end))
        self.lit(text[start:stop])
        return stop

    def _link(self, tok: str, start: int, end: int, at_end: bool) -> int:
        text = self.text
        bracket = start + len(tok) - 1
        found = _LINK_TEXT_RE.match(text, bracket, end)
        if found is None:
            if not at_end or "]" in text[bracket:end]:
                self.lit(tok)
                return bracket + 1
            self._link_text(bracket + 1, end, None, at_end=True)  # "[text" still streaming
            return end
        close = found.end() - 1
        tail = _LINK_TAIL_RE.match(text, close + 1, end)
        if tail is not None:
            url = tail.group(1) if tail.group(1) is not None else tail.group(2)
            self._link_text(bracket + 1, close, _URL_ESCAPE_RE.sub(r"\1", url), at_end=False)
            return tail.end()
        if at_end and text.startswith("(", close + 1) and "\n" not in text[close:end]:
            self._link_text(bracket + 1, close, None, at_end=False)  # "[text](htt" streaming
            return end
        self.lit(tok)
        return bracket + 1

    def _link_text(self, start: int, end: int, url: str | None, *, at_end: bool) -> None:
        """The link's text, paired on its own; plain text shows ``text (url)``."""
        parts = self.parts
        first = len(parts)
        _pair(self.scan(start, end, at_end, True), parts, at_end)
        if url is None or _SAFE_URL_RE.match(url) is None:
            return  # unsafe or unfinished: the text alone
        shown = "".join(p.char * p.count if isinstance(p, _Delim) else p[1] for p in parts[first:])
        if not shown:
            parts.append((escape(url), url))
        parts.insert(first, ('<a href="' + escape(url).replace('"', "&quot;") + '">', ""))
        parts.append(("</a>", f" ({url})" if shown and shown != url else ""))


def _pair(delims: list[_Delim], parts: list[_Part], at_end: bool) -> None:
    """Match openers with closers (CommonMark's delimiter stack, simplified); at the end of a
    streamed text, close what is still open."""
    stack: list[_Delim] = []
    open_count: dict[str, int] = {}
    for d in delims:
        if d.can_close:
            while d.count and open_count.get(d.char):
                k = len(stack) - 1
                while stack[k].char != d.char:
                    k -= 1
                opener = stack[k]
                for skipped in stack[k + 1 :]:  # markers inside the pair stay literal
                    open_count[skipped.char] -= 1
                del stack[k + 1 :]
                if d.char in _PAIR_TAG:
                    use, tag = 2, _PAIR_TAG[d.char]
                else:
                    use = 2 if opener.count >= 2 and d.count >= 2 else 1
                    tag = "b" if use == 2 else "i"
                opener.count -= use
                d.count -= use
                opener.opens.insert(0, tag)
                d.closes.append(tag)
                if not opener.count:
                    stack.pop()
                    open_count[d.char] -= 1
        if d.count and d.can_open:
            stack.append(d)
            open_count[d.char] = open_count.get(d.char, 0) + 1
    if at_end and stack:
        tail = _Delim("", 0, False, False)
        for opener in reversed(stack):
            if opener.char in _PAIR_TAG:
                tags = [_PAIR_TAG[opener.char]]
            else:
                tags = {1: ["i"], 2: ["b"]}.get(opener.count, ["i", "b"])
            opener.count = 0
            opener.opens[:0] = tags
            tail.closes.extend(reversed(tags))
        parts.append(tail)


def _serialize(parts: list[_Part], suppress: tuple[str, ...]) -> tuple[str, str]:
    html: list[str] = []
    plain: list[str] = []
    depth = dict.fromkeys(suppress, 1)  # a tag already open around us is not reopened
    for part in parts:
        if not isinstance(part, _Delim):
            html.append(part[0])
            plain.append(part[1])
        else:
            for tag in part.closes:
                depth[tag] -= 1
                if not depth[tag]:
                    html.append(_CLOSE[tag])
            if part.count:
                literal = part.char * part.count
                html.append(escape(literal))
                plain.append(literal)
            for tag in part.opens:
                if not depth.get(tag):
                    html.append(_OPEN[tag])
                depth[tag] = depth.get(tag, 0) + 1
    return "".join(html), "".join(plain)


def render_inline(
    text: str, at_end: bool = False, suppress: tuple[str, ...] = ()
) -> tuple[str, str]:
    """``(html, plain)`` for one paragraph's inline Markdown.

    ``at_end``: the text is the tail of a message still streaming; unclosed markers are closed
    at the end and a trailing marker is dropped. ``suppress``: tags already open around it.
    """
    if at_end:  # a streamed tail changes at every edit: not worth caching
        return _render(text, True, suppress)
    return _render_cached(text, False, suppress)


def _render(text: str, at_end: bool, suppress: tuple[str, ...]) -> tuple[str, str]:
    if _SPECIAL_RE.search(text) is None and "://" not in text and "www." not in text:
        return escape(text), text
    scanner = _Scanner(text)
    _pair(scanner.scan(0, len(text), at_end, False), scanner.parts, at_end)
    return _serialize(scanner.parts, suppress)


# While an answer streams, every paragraph but the last is the same at each edit.
_render_cached = lru_cache(maxsize=1024)(_render)
