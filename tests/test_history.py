"""Token estimates fair to CJK text, and trimming history to a budget."""

from __future__ import annotations

from core.engine.history import MESSAGE_OVERHEAD, Turn, estimate_tokens, trim


def test_latin_text_counts_about_four_chars_a_token() -> None:
    assert estimate_tokens("a" * 400) == MESSAGE_OVERHEAD + 100


def test_cjk_text_counts_a_token_per_character() -> None:
    # 100 Chinese characters are ~100 tokens, not 25 as a chars/4 rule would say.
    assert estimate_tokens("你" * 100) == MESSAGE_OVERHEAD + 100
    assert estimate_tokens("こんにちは") == MESSAGE_OVERHEAD + 5
    assert estimate_tokens("안녕하세요") == MESSAGE_OVERHEAD + 5


def test_mixed_text() -> None:
    assert estimate_tokens("用 Python 写") == MESSAGE_OVERHEAD + 2 + 2  # 2 wide, 8 narrow


def _turns(n: int, tokens: int = 10) -> list[Turn]:
    return [Turn("user" if i % 2 == 0 else "assistant", f"m{i}", tokens) for i in range(n)]


def test_trim_keeps_newest_within_budget_in_order() -> None:
    kept = trim(_turns(10), 45)
    assert [t.content for t in kept] == ["m6", "m7", "m8", "m9"]


def test_trim_never_starts_with_an_assistant_turn() -> None:
    kept = trim(_turns(10), 35)  # m7 m8 m9 fit, m7 is an answer without its question
    assert [t.content for t in kept] == ["m8", "m9"]


def test_trim_everything_fits() -> None:
    assert trim(_turns(4), 1000) == _turns(4)


def test_trim_zero_or_negative_budget() -> None:
    assert trim(_turns(4), 0) == []
    assert trim(_turns(4), -5) == []


def test_trim_stops_at_first_turn_that_does_not_fit() -> None:
    turns = [Turn("user", "old", 1), Turn("assistant", "huge", 500), Turn("user", "new", 5)]
    assert [t.content for t in trim(turns, 100)] == ["new"]
