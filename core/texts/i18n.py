"""Texts in the user's language: lookup of the table in core.texts.replies, and picking zh or en."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

from core.texts.replies import _TEXTS  # noqa: E402  (the table needs Lang, defined above)


def t(key: str, lang: Lang, **fields: object) -> str:
    """The text ``key`` in ``lang``, with ``{fields}`` filled in."""
    text = _TEXTS[key][lang]
    return text.format(**fields) if fields else text


def pick_lang(reported: str | None, default: Lang) -> Lang:
    """Map a platform's language code (``zh-hans``, ``en-US``, ``zh_CN``) to zh or en."""
    if reported:
        code = reported.strip().lower().replace("_", "-").split("-", 1)[0]
        if code == "zh":
            return "zh"
        if code:
            return "en"
    return default


def has_text(key: str) -> bool:
    return key in _TEXTS
