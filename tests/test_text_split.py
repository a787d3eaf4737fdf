"""text_split: UTF-16 limits, preferred cut points, balanced code fences, nothing lost."""

from __future__ import annotations

import random
import re

import pytest

from bots.shared.text_split import take_chunk, utf16_len


def split_markdown(text: str, limit: int) -> list[str]:
    """``text`` as chunks of at most ``limit`` UTF-16 units each (blank pieces dropped), as
    the adapters take them one by one."""
    pieces: list[str] = []
    rest = text
    while rest:
        chunk, rest = take_chunk(rest, limit)
        if chunk.strip():
            pieces.append(chunk)
    return pieces

_OPEN_RE = re.compile(r"\s*(`{3,}(?=[^`]*$)|~{3,})")
_CLOSE_RE = re.compile(r"\s*(`{3,}|~{3,})\s*$")


def fence_states(text: str) -> tuple[list[tuple[str, bool]], bool]:
    """Non-whitespace characters outside fence lines, each tagged "inside code", and whether
    a block is still open at the end. An independent, line-based CommonMark fence reader."""
    out: list[tuple[str, bool]] = []
    fence = ""
    for line in text.split("\n"):
        if not fence and (m := _OPEN_RE.match(line)):
            fence = m.group(1)
            continue
        if fence and (m := _CLOSE_RE.match(line)):
            if m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = ""
                continue
        out.extend((ch, bool(fence)) for ch in line if not ch.isspace())
    return out, bool(fence)


def check_split(text: str, limit: int) -> list[str]:
    chunks = split_markdown(text, limit)
    for chunk in chunks:
        assert chunk.strip(), chunks
        assert utf16_len(chunk) <= limit, (limit, chunk)
        assert not fence_states(chunk)[1], f"unbalanced fence in {chunk!r}"
    expected, _ = fence_states(text)
    got = [item for chunk in chunks for item in fence_states(chunk)[0]]
    assert got == expected  # same visible characters, each still in (or out of) code
    return chunks


@pytest.mark.parametrize(
    ("text", "units"),
    [("", 0), ("abc", 3), ("中文", 2), ("😀", 2), ("a😀b", 4), ("👍🏽", 4), ("é", 1)],
)
def test_utf16_len(text: str, units: int) -> None:
    assert utf16_len(text) == units


def test_short_text_is_one_chunk() -> None:
    assert take_chunk("hello 😀", 8) == ("hello 😀", "")
    assert split_markdown("hello", 5) == ["hello"]
    assert split_markdown("", 5) == []
    with pytest.raises(ValueError):
        take_chunk("x", 0)


def test_prefers_a_paragraph_break() -> None:
    text = "a" * 60 + "\n\n" + "b" * 20 + "\nc" * 5 + ". d" * 3 + "e" * 50
    chunk, rest = take_chunk(text, 100)
    assert chunk == "a" * 60
    assert rest.startswith("b" * 20)


def test_prefers_a_newline_over_a_sentence() -> None:
    text = "Intro line here that is long enough.\nThen a sentence. And another one. " + "x" * 60
    chunk, rest = take_chunk(text, 60)
    assert chunk == "Intro line here that is long enough."
    assert rest.startswith("Then a sentence.")


def test_sentence_end_then_space() -> None:
    text = "First sentence is here. Second one follows! Third? " + "word " * 30
    chunk, rest = take_chunk(text, 52)
    assert chunk == "First sentence is here. Second one follows! Third?"
    assert rest.startswith("word")
    chunk, rest = take_chunk("alpha beta gamma delta epsilon zeta eta theta", 20)
    assert (chunk, rest) == ("alpha beta gamma", "delta epsilon zeta eta theta")


@pytest.mark.parametrize("mark", ["。", "！", "？", "；"])
def test_chinese_sentence_end_without_space(mark: str) -> None:
    text = f"这是第一个很长很长的句子{mark}这是第二个很长的句子内容继续继续继续继续"
    chunk, rest = take_chunk(text, 20)
    assert chunk == f"这是第一个很长很长的句子{mark}"
    assert rest.startswith("这是第二个")
    # A boundary in the first half of the window is not used: a hard cut instead.
    chunk, rest = take_chunk(f"短句{mark}" + "长" * 40, 20)
    assert chunk == f"短句{mark}" + "长" * 17


def test_a_cut_within_a_line_avoids_open_inline_spans() -> None:
    text = "开头的文字说明内容很长。**重要：第一句。第二句很长很长很长**" + "后文" * 30
    chunk, rest = take_chunk(text, 22)
    assert chunk == "开头的文字说明内容很长。"  # not "…**重要：第一句。", which leaves "**" open
    assert rest.startswith("**重要")
    bold = "**注意：这是很重要的一步。请先备份。**"
    chunk, rest = take_chunk("前言说明文字。" + bold + "后文" * 30, 30)
    assert chunk == "前言说明文字。" + bold  # the sentence end takes its closing "**" along
    assert rest.startswith("后文")
    text = "Some words here and `a long code span with spaces inside it` trailing words go on"
    chunk, rest = take_chunk(text, 36)
    assert chunk == "Some words here and"  # not inside the code span
    text = "Plain start. **Bold sentence one. Bold two.** " + "x" * 40
    chunk, _ = take_chunk(text, 22)
    assert chunk == "Plain start."  # "Plain start. **Bold" would fit too, but leaves "**" open
    chunk, _ = take_chunk("**" + "bold words " * 10 + "**", 40)  # no way out: the last space
    assert chunk == "**" + "bold words " * 3 + "bold"


def test_boundaries_in_the_first_half_are_not_used() -> None:
    text = "ab\n" + "x" * 40 + " " + "y" * 60
    chunk, rest = take_chunk(text, 60)
    assert chunk == "ab\n" + "x" * 40
    assert rest == "y" * 60
    chunk, rest = take_chunk("ab\n" + "z" * 100, 60)
    assert chunk == "ab\n" + "z" * 57  # a hard cut, not the early newline


def test_hard_cut_keeps_surrogate_pairs_and_crlf_whole() -> None:
    chunk, rest = take_chunk("😀" * 50, 9)
    assert chunk == "😀" * 4 and rest == "😀" * 46
    chunk, rest = take_chunk("a" + "😀" * 50, 10)
    assert chunk == "a" + "😀" * 4
    text = "x" * 29 + "\r\n" + "y" * 50
    chunk, rest = take_chunk(text, 30)
    assert chunk == "x" * 29
    assert rest == "y" * 50
    # A limit too small for fence handling falls back to a hard cut, which keeps "\r\n" too.
    chunk, rest = take_chunk("`" * 9 + "\r\nabc", 10)
    assert (chunk, rest) == ("`" * 9, "\r\nabc")


def test_code_block_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"    value_{i} = compute({i}) < limit && ok" for i in range(60))
    text = f"Intro.\n\n```python\n{code}\n```\n\nOutro."
    chunks = check_split(text, 500)
    assert len(chunks) > 3
    assert chunks[0].startswith("Intro.")
    for chunk in chunks[1:-1]:
        assert chunk.startswith("```python\n")
        assert chunk.endswith("\n```")
    assert chunks[-1].endswith("Outro.")


def test_tilde_fence_and_fence_length_are_kept() -> None:
    text = "~~~~md\n" + "\n".join(f"line {i} ```not a close```" for i in range(40)) + "\n~~~~"
    chunks = check_split(text, 200)
    assert all(c.startswith("~~~~md\n") and c.endswith("\n~~~~") for c in chunks)


def test_limit_includes_the_added_fence() -> None:
    text = "```\n" + "x" * 300 + "\n```"
    for limit in (20, 50, 101):
        chunks = check_split(text, limit)
        assert max(utf16_len(c) for c in chunks) <= limit
        assert utf16_len(chunks[0]) >= limit - 1


def test_no_empty_code_block_when_the_fence_closes_at_the_cut() -> None:
    body = "```sh\n" + "echo hi\n" * 10
    text = body + "\n```\nafter"
    chunk, rest = take_chunk(text, len(body) + 3)  # the cut lands right before "```"
    assert chunk == body.rstrip() + "\n```"
    assert rest == "after"  # not "```sh\n```\nafter", an empty block
    text = "```py\n" + "x" * 40 + "\n" * 100  # unclosed, then only blank lines
    assert split_markdown(text, 60) == ["```py\n" + "x" * 40 + "\n```"]


def test_never_cuts_through_a_fence_line() -> None:
    text = "intro " * 10 + "\n```javascript\nlet a = 1;\n```\n" + "tail " * 20
    for limit in range(40, 90):
        for piece in take_chunk(text, limit):
            for line in piece.split("\n"):
                assert "`" not in line or line in ("```javascript", "```"), (limit, piece)
        check_split(text, limit)


def test_leading_whitespace_never_yields_a_blank_chunk() -> None:
    chunk, rest = take_chunk("\n" * 50 + "word " * 20, 30)
    assert chunk.strip()
    check_split(" " * 100 + "a b c " * 30, 25)


CJK = "这是一个很长的中文句子没有任何空格但是有标点符号"
EMOJI = "😀👍🏽🚀✨🇨🇳"


def _random_text(rng: random.Random) -> str:
    blocks = []
    for _ in range(rng.randint(1, 12)):
        kind = rng.random()
        if kind < 0.25:
            lang = rng.choice(["", "python", "js", "c++"])
            fence = rng.choice(["```", "~~~", "````"])
            lines = [
                " " * rng.randint(0, 8)
                + "".join(rng.choice("ab<>&_*😀中 ") for _ in range(rng.randint(0, 90)))
                for _ in range(rng.randint(0, 25))
            ]
            blocks.append(f"{fence}{lang}\n" + "\n".join(lines) + f"\n{fence}")
        elif kind < 0.45:
            blocks.append(
                "".join(rng.choice(CJK + "。，！？；") for _ in range(rng.randint(5, 300)))
            )
        elif kind < 0.6:
            blocks.append("".join(rng.choice(EMOJI + "ab ") for _ in range(rng.randint(5, 200))))
        elif kind < 0.7:
            blocks.append("x" * rng.randint(50, 700))  # a long line without any boundary
        elif kind < 0.8:
            blocks.append(
                "\n".join(f"- item {i} **bold** `code`" for i in range(rng.randint(1, 20)))
            )
        else:
            words = ["Some", "words", "here.", "And", "more!", "Really?", "yes", "https://x.y/a_b"]
            blocks.append(" ".join(rng.choice(words) for _ in range(rng.randint(5, 150))))
    sep = rng.choice(["\n\n", "\n", "\r\n\r\n", "\n\n\n"])
    return sep.join(blocks)


@pytest.mark.parametrize("seed", range(60))
def test_random_texts_keep_every_invariant(seed: int) -> None:
    rng = random.Random(seed)
    text = _random_text(rng)
    for limit in (rng.randint(40, 120), rng.randint(121, 600), 4096, 2000):
        check_split(text, limit)


@pytest.mark.parametrize("seed", range(10))
def test_random_take_chunk_rest_is_shorter_and_renders_alone(seed: int) -> None:
    rng = random.Random(1000 + seed)
    text = _random_text(rng) * 3
    rest = text
    while rest:
        before = len(rest)
        chunk, rest = take_chunk(rest, 300)
        assert chunk and utf16_len(chunk) <= 300
        assert len(rest) < before
        assert not rest.startswith(("\n", "\r"))
