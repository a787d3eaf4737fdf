"""ThinkFilter: think blocks removed whatever the chunking, open blocks dropped, cheap."""

from __future__ import annotations

import time

import pytest

from core.relay.think import ThinkFilter, strip_think

CASES = [
    ("<think>\nreasoning here\n</think>\n\nThe answer.", "The answer."),
    ("Before <think>x</think> after", "Before after"),
    ("no tags at all, a < b and c > d", "no tags at all, a < b and c > d"),
    ("<think>a</think>One<think>b</think>\n Two", "OneTwo"),
    ("Answer<think>never closed", "Answer"),
    ("<think>only thinking", ""),
    ("text ending in <thi", "text ending in <thi"),
    ("<thinking> is not a tag", "<thinking> is not a tag"),
    ("</think> stray close", "</think> stray close"),
    ("<<think>x</think>y", "<y"),
    ("<think><think>nested</think>rest", "rest"),
    ("<think>x</think>   \n\n  ", ""),
    ("你好<think>想一想</think>\n世界", "你好世界"),
]


def run(chunks: list[str]) -> str:
    f = ThinkFilter()
    return "".join(f.feed(c) for c in chunks) + f.flush()


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_whole_text(text: str, expected: str) -> None:
    assert strip_think(text) == expected


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_split_at_every_position(text: str, expected: str) -> None:
    for i in range(len(text) + 1):
        assert run([text[:i], text[i:]]) == expected, i


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_split_at_every_pair_of_positions(text: str, expected: str) -> None:
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            assert run([text[:i], text[i:j], text[j:]]) == expected, (i, j)


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_one_character_at_a_time(text: str, expected: str) -> None:
    assert run(list(text)) == expected


def test_fake_relay_chunking() -> None:
    assert run(["<th", "ink>secret", "</thi", "nk>Answer"]) == "Answer"


def test_text_is_released_as_soon_as_it_cannot_be_a_tag() -> None:
    f = ThinkFilter()
    assert f.feed("Hello <") == "Hello "
    assert f.feed("b>") == "<b>"
    assert f.feed("<think>hidden") == ""
    assert f.feed("</think>") == ""
    assert f.feed("  ") == ""
    assert f.feed(" shown") == "shown"
    assert f.flush() == ""


def test_cheap_per_chunk() -> None:
    answer = "<think>" + "r" * 300 + "</think>" + "The answer is < 42 > 41. " * 12
    start = time.process_time()
    for _ in range(10):
        run(list(answer))
    per_answer = (time.process_time() - start) / 10
    assert per_answer < 0.005


def test_linear_on_long_text() -> None:
    text = "<" * 200_000  # every character could start a tag
    start = time.process_time()
    assert run([text[i : i + 7] for i in range(0, len(text), 7)]) == text
    assert time.process_time() - start < 1.0
