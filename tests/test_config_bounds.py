"""The bounded-work keys: defaults, and invalid values named by their key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.platforms import SECTIONS
from bots.telegram.settings import TelegramSettings
from core.config.settings import parse_config
from core.errors import ConfigError

BASE = "relay:\n  base_url: https://relay.test\n  api_key: sk-x\n"


def test_defaults() -> None:
    settings = parse_config(BASE, sections=SECTIONS)
    assert settings.chat.max_input_chars == 16000
    assert settings.chat.max_queued_per_conversation == 3
    assert settings.section("telegram", TelegramSettings).max_concurrent_updates == 64


def test_values_from_yaml_and_the_environment() -> None:
    text = BASE + (
        "chat:\n  max_input_chars: ${LIMIT}\n  max_queued_per_conversation: 0\n"
        "telegram:\n  max_concurrent_updates: 256\n"
    )
    settings = parse_config(text, env={"LIMIT": "4000"}, sections=SECTIONS)
    assert settings.chat.max_input_chars == 4000
    assert settings.chat.max_queued_per_conversation == 0  # no waiting: one at a time
    assert settings.section("telegram", TelegramSettings).max_concurrent_updates == 256


def test_invalid_values_name_their_key() -> None:
    text = BASE + (
        "chat:\n  max_input_chars: 0\n  max_queued_per_conversation: 101\n"
        "telegram:\n  max_concurrent_updates: 0\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, sections=SECTIONS)
    assert set(caught.value.problems) == {
        ("chat.max_input_chars", "must be a positive integer"),
        ("chat.max_queued_per_conversation", "must be an integer from 0 to 100"),
        ("telegram.max_concurrent_updates", "must be an integer from 1 to 256"),
    }


def test_the_example_documents_each_key() -> None:
    example = (Path(__file__).resolve().parent.parent / "config.example.yaml").read_text()
    for key in ("max_input_chars:", "max_queued_per_conversation:", "max_concurrent_updates:"):
        line = next(i for i, text in enumerate(example.splitlines()) if key in text)
        assert example.splitlines()[line - 1].strip().startswith("#")  # with a comment
