"""Every user-facing text exists in zh and en, and the language choice."""

from __future__ import annotations

import string

import pytest

from core.commands.table import COMMANDS
from core.texts.i18n import _TEXTS, LANGS, pick_lang, t


def test_every_text_in_every_language_with_the_same_fields() -> None:
    for key in _TEXTS:
        fields = {
            lang: {f for _, f, _, _ in string.Formatter().parse(_TEXTS[key][lang]) if f}
            for lang in LANGS
        }
        assert set(_TEXTS[key]) == set(LANGS), key
        assert fields["zh"] == fields["en"], key
        assert all(_TEXTS[key][lang].strip() for lang in LANGS), key


def test_every_command_has_help_text() -> None:
    for spec in (s for s in COMMANDS if not s.hidden):
        assert t(spec.help_key, "zh") and t(spec.help_key, "en")


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("zh", "zh"),
        ("zh-hans", "zh"),
        ("zh_CN", "zh"),
        ("ZH-TW", "zh"),
        ("en", "en"),
        ("en-US", "en"),
        ("fr", "en"),
        ("", "zh"),
        (None, "zh"),
    ],
)
def test_pick_lang(reported: str | None, expected: str) -> None:
    assert pick_lang(reported, "zh") == expected


def test_default_used_when_platform_is_silent() -> None:
    assert pick_lang(None, "en") == "en"
