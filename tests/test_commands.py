"""The command parser: names, aliases, @bot suffixes, case, full-width slash, chat text."""

from __future__ import annotations

import pytest

from core.commands.table import COMMANDS, parse_command


@pytest.mark.parametrize(
    ("text", "name", "args"),
    [
        ("/help", "help", ""),
        ("/HELP", "help", ""),
        ("/Model gpt-4o", "model", "gpt-4o"),
        ("/model@RelayBot gpt-4o", "model", "gpt-4o"),
        ("/new", "reset", ""),
        ("/reset@relay_bot", "reset", ""),
        ("／help", "help", ""),  # full-width slash from Chinese input methods
        ("／system\u3000你是一只猫", "system", "你是一只猫"),  # and a full-width space
        ("  /system   be brief\nand kind  ", "system", "be brief\nand kind"),
        ("/img a red fox", "img", "a red fox"),
        ("/vision", "vision", ""),
    ],
)
def test_known_commands(text: str, name: str, args: str) -> None:
    command = parse_command(text)
    assert command is not None
    assert (command.name, command.args) == (name, args)
    assert command.spec is not None


def test_mention_is_kept_for_adapters() -> None:
    command = parse_command("/help@OtherBot")
    assert command is not None and command.mention == "OtherBot"
    assert parse_command("/help").mention is None  # type: ignore[union-attr]


def test_unknown_command_has_no_spec() -> None:
    command = parse_command("/frobnicate now")
    assert command is not None
    assert command.spec is None and command.name == "frobnicate" and command.args == "now"


@pytest.mark.parametrize(
    "text", ["hello", "", "   ", "/", "/ help", "a /help", "http://x.y/help", "/help-me", "//x"]
)
def test_chat_text_is_not_a_command(text: str) -> None:
    assert parse_command(text) is None


def test_table_names_are_unique_and_lowercase() -> None:
    names = [n for spec in COMMANDS for n in (spec.name, *spec.aliases)]
    assert len(names) == len(set(names))
    assert all(n == n.lower() for n in names)
