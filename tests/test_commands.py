"""The command parser: names, aliases, @bot suffixes, case, full-width slash, chat text."""

from __future__ import annotations

import pytest

from bots.app import App
from core.commands.table import COMMANDS, parse_command
from core.platform.types import ErrorReply, FinalText
from core.texts.i18n import t
from tests.conftest import collect, message
from tests.fake_relay import FakeRelay


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


# --- /help and photo commands through the engine (fake relay, real store) ---------------------


@pytest.mark.parametrize("text", ["/help /", "/help //", "/help ／", "/help  ／ ", "/help @"])
async def test_help_with_a_bare_slash_shows_the_whole_list(app: App, text: str) -> None:
    events = await collect(app, message(text))
    assert len(events) == 1 and isinstance(events[0], FinalText), events
    assert events[0].text.startswith("Commands:") and "/img — " in events[0].text


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("/help /img", "/img [-m MODEL] PROMPT"),
        ("/help ／IMG@RelayBot more words", "/img [-m MODEL] PROMPT"),
        ("/help reset", "/reset — "),
        ("/help unknowncmd", "Unknown command /unknowncmd."),
        ("/help mj", "Unknown command /mj."),  # a button command, not for typing
        ("/help " + "x" * 500, "Unknown command /" + "x" * 32 + "…."),
    ],
)
async def test_help_topic_edge_cases(app: App, text: str, start: str) -> None:
    events = await collect(app, message(text))
    assert len(events) == 1 and isinstance(events[0], FinalText), events
    assert events[0].text.startswith(start)


@pytest.mark.parametrize("text", ["/", "/ ", "／"])
async def test_a_lone_slash_is_chat_not_an_error(
    app: App, fake_relay: FakeRelay, text: str
) -> None:
    events = await collect(app, message(text))
    assert events[-1] == FinalText(f"echo: {text.strip()}")


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_describe_without_a_photo_gets_its_own_hint(
    app: App, fake_relay: FakeRelay, lang: str
) -> None:
    events = await collect(app, message("/describe", language=lang))
    assert len(events) == 1 and isinstance(events[0], ErrorReply), events
    assert events[0].code == "missing_image"
    assert "/describe" in events[0].text and "/vision" not in events[0].text
    assert events[0].text == t("error.describe_missing_image", lang)  # type: ignore[arg-type]
    assert fake_relay.requests == []  # nothing paid for


async def test_blend_without_an_album_says_what_blend_needs(
    app: App, fake_relay: FakeRelay
) -> None:
    events = await collect(app, message("/blend"))
    assert len(events) == 1 and isinstance(events[0], ErrorReply), events
    assert "/blend" in events[0].text and "/vision" not in events[0].text
    assert "2–5 photos (got 0)" in events[0].text
    assert fake_relay.requests == []
