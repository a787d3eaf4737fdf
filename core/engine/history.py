"""Conversation turns, an approximate token count fair to CJK text, and trimming to a budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

# Per-message overhead the chat format adds (role markers, separators), as OpenAI documents.
MESSAGE_OVERHEAD = 4


@dataclass(frozen=True, slots=True)
class Turn:
    """One stored message of a conversation."""

    role: Literal["user", "assistant"]
    content: str
    tokens: int


def _is_wide(cp: int) -> bool:
    # CJK ideographs, kana, hangul, full-width forms and CJK punctuation: about one token
    # each in every common BPE vocabulary, where Latin text averages four characters a token.
    return (
        0x2E80 <= cp <= 0x9FFF
        or 0xAC00 <= cp <= 0xD7AF
        or 0xF900 <= cp <= 0xFAFF
        or 0xFF00 <= cp <= 0xFFEF
        or 0x20000 <= cp <= 0x3FFFF
    )


def estimate_tokens(text: str) -> int:
    """An upper-leaning token estimate without a tokenizer: wide characters count one token,
    other characters a quarter token, plus the per-message overhead."""
    if text.isascii():
        return MESSAGE_OVERHEAD + (len(text) + 3) // 4
    wide = sum(1 for ch in text if _is_wide(ord(ch)))
    narrow = len(text) - wide
    return MESSAGE_OVERHEAD + wide + (narrow + 3) // 4


def trim(turns: Sequence[Turn], budget: int) -> list[Turn]:
    """The newest turns whose tokens fit ``budget``, oldest first.

    The history never starts with an assistant turn (a reply without its question confuses
    models), and a single turn larger than the budget is dropped rather than cut.
    """
    kept: list[Turn] = []
    used = 0
    for turn in reversed(turns):
        if used + turn.tokens > budget:
            break
        kept.append(turn)
        used += turn.tokens
    kept.reverse()
    while kept and kept[0].role == "assistant":
        kept.pop(0)
    return kept
