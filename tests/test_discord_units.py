"""The Discord adapter's pure parts: settings with key paths, addressing rules, conversation
places, Markdown made readable, splitting at 2000 characters, button ids, slash commands."""

from __future__ import annotations

import re

import discord
import pytest
from discord import app_commands

from bots.discord.addressing import (
    MessageFacts,
    addressed,
    opens_thread,
    place_of,
    strip_mention,
    thread_name,
)
from bots.discord.commands import LOCALES, Texts, slash_commands, typed
from bots.discord.components import custom_id, layout, token_of
from bots.discord.markdown import MESSAGE_LIMIT, split_message, to_discord
from bots.discord.settings import DiscordSettings
from bots.platforms import SECTIONS
from core.commands.actions import action_token
from core.config.settings import ChatSettings, parse_config
from core.engine.keys import conversation_key
from core.errors import ConfigError
from core.platform.types import Button, ButtonRows, IncomingMessage

RELAY = "relay:\n  base_url: https://relay.test/v1\n  api_key: sk-relay-secret\n"


def problems(section: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_config(RELAY + section, "test.yaml", {}, sections=SECTIONS)
    return caught.value.problems


def discord_of(section: str) -> DiscordSettings:
    settings = parse_config(RELAY + section, "test.yaml", {}, sections=SECTIONS)
    return settings.section("discord", DiscordSettings)


# ---- settings ----


def test_defaults_are_the_documented_ones() -> None:
    config = discord_of("discord:\n  enabled: true\n  token: tok\n")
    assert config.api_base == "https://discord.com/api/v10"
    assert config.gateway_url == "wss://gateway.discord.gg/"
    assert config.message_content and config.threads
    assert config.guild_ids == () and config.trigger_words == ()
    assert config.filesize_limit_bytes == 10 * 1024 * 1024
    assert config.shard_count is None and config.shard_ids == ()


def test_every_key_validated_with_its_path() -> None:
    found = problems(
        "discord:\n  enabled: true\n  token: tok\n  api_base: ftp://x\n"
        "  gateway_url: https://gateway\n  message_content: maybe\n  guild_ids: [abc]\n"
        "  threads: 3\n  filesize_limit: -1\n"
    )
    paths = {path for path, _ in found}
    assert {
        "discord.api_base", "discord.gateway_url", "discord.message_content",
        "discord.guild_ids[0]", "discord.threads", "discord.filesize_limit",
    } <= paths, found
    assert ("discord.gateway_url", "must be a ws:// or wss:// URL") in found


def test_token_required_when_enabled() -> None:
    assert problems("discord:\n  enabled: true\n") == [
        ("discord.token", "required when discord.enabled is true")
    ]


def test_unknown_key_named() -> None:
    found = problems("discord:\n  tokn: x\n")
    assert found[0][0] == "discord.tokn"


def test_guild_ids_accept_quoted_snowflakes() -> None:
    config = discord_of("discord:\n  guild_ids: ['123456789012345678', 42]\n")
    assert config.guild_ids == (123456789012345678, 42)


def test_shards_validated() -> None:
    config = discord_of("discord:\n  shard_count: 4\n  shard_ids: [1, '3']\n")
    assert config.shard_count == 4 and config.shard_ids == (1, 3)
    found = problems("discord:\n  shard_count: 2\n  shard_ids: [0, 2]\n")
    assert found[0][0] == "discord.shard_ids" and "0 to discord.shard_count - 1" in found[0][1]
    assert problems("discord:\n  shard_ids: [0]\n")[0] == (
        "discord.shard_ids", "needs discord.shard_count (the total)"
    )
    assert problems("discord:\n  shard_count: 0\n")[0][0] == "discord.shard_count"
    assert problems("discord:\n  shard_count: 2\n  shard_ids: [1, 1]\n")[0] == (
        "discord.shard_ids", "lists a shard twice"
    )
    assert problems("discord:\n  shard_ids: [-1]\n")[0][0] == "discord.shard_ids[0]"


def test_summary_names_what_matters_and_no_token() -> None:
    config = discord_of(
        "discord:\n  enabled: true\n  token: SECRET-tok\n  api_base: http://127.0.0.1:9/api/v10\n"
        "  guild_ids: [5]\n  shard_count: 2\n  shard_ids: [1]\n  trigger_words: [bot]\n"
    )
    text = "\n".join(config.summary())
    assert "SECRET" not in text
    assert "http://127.0.0.1:9/api/v10" in text and "shards: 1 of 2" in text and "5" in text


def test_token_is_a_secret() -> None:
    settings = parse_config(
        RELAY + "discord:\n  enabled: true\n  token: dc-SECRET\n", "t.yaml", {}, sections=SECTIONS
    )
    assert "dc-SECRET" in settings.secrets()


# ---- addressing ----

ME = 777


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (MessageFacts(in_guild=False, text="hello"), True),  # DMs: every message
        (MessageFacts(in_guild=True, text="hello"), False),  # people talking
        (MessageFacts(in_guild=True, text="hi", mentions_bot=True), True),
        (MessageFacts(in_guild=True, text="hi", reply_to_bot=True), True),
        (MessageFacts(in_guild=True, text="/img a cat"), True),  # our typed command
        (MessageFacts(in_guild=True, text="/play song"), False),  # another bot's
        (MessageFacts(in_guild=True, text="go on", in_thread=True, in_bot_thread=True), True),
        (MessageFacts(in_guild=True, text="go on", in_thread=True), False),  # someone's thread
        (MessageFacts(in_guild=True, text="hey Robo, hi"), True),  # trigger word
        (MessageFacts(in_guild=True, text="robotics"), False),  # not as a word
        (MessageFacts(in_guild=True, text="小助手你好"), True),  # CJK: anywhere
    ],
)
def test_who_the_bot_answers(facts: MessageFacts, expected: bool) -> None:
    assert addressed(facts, ("robo", "小助手")) is expected


def test_a_mention_opens_a_thread_only_in_a_channel_with_threads_on() -> None:
    mention = MessageFacts(in_guild=True, text="<@777> hi", mentions_bot=True)
    assert opens_thread(mention, True)
    assert not opens_thread(mention, False)
    assert not opens_thread(MessageFacts(in_guild=True, text="x", reply_to_bot=True), True)
    in_thread = MessageFacts(in_guild=True, text="x", mentions_bot=True, in_thread=True)
    assert not opens_thread(in_thread, True)
    assert not opens_thread(MessageFacts(in_guild=False, text="x", mentions_bot=True), True)
    no_threads_here = MessageFacts(in_guild=True, text="x", mentions_bot=True, can_thread=False)
    assert not opens_thread(no_threads_here, True)


def test_mentions_stripped_but_others_kept() -> None:
    assert strip_mention("<@777> what is  <@888>?", ME) == "what is <@888>?"
    assert strip_mention("hey <@!777>", ME) == "hey"


def test_thread_names_are_short() -> None:
    assert thread_name("<@777> what is a cat?\nmore", "Chat") == "what is a cat?"
    assert thread_name("<@777>", "Chat") == "Chat"
    long = thread_name("word " * 50, "Chat")
    assert len(long) <= 100 and long.endswith("…")


def _incoming(place_chat: str, chat_type: str, thread: str | None, user: str) -> IncomingMessage:
    return IncomingMessage(
        platform="discord", chat_id=place_chat, chat_type=chat_type,  # type: ignore[arg-type]
        user_id=user, text="x", thread_id=thread,
    )


def test_thread_channel_and_dm_are_part_of_the_conversation_key() -> None:
    dm = place_of(10, in_guild=False)
    channel = place_of(20, in_guild=True)
    thread = place_of(30, in_guild=True, parent_id=20)
    assert (dm.chat_type, channel.chat_type, thread.chat_type) == ("private", "group", "group")
    assert thread.chat_id == "20" and thread.thread_id == "30" and thread.channel_id == 30
    assert channel.channel_id == 20
    per_user = ChatSettings()
    keys = {
        conversation_key(_incoming(p.chat_id, p.chat_type, p.thread_id, "5"), per_user)
        for p in (dm, channel, thread)
    }
    assert keys == {"discord:u:5", "discord:g:20:u:5", "discord:g:20:t:30:u:5"}
    shared = ChatSettings(group_mode="shared")
    key = conversation_key(_incoming("20", "group", "30", "5"), shared)
    assert key == "discord:g:20:t:30"  # chat.group_mode applies to server channels


# ---- Markdown for Discord ----


def test_markdown_discord_renders_passes_through() -> None:
    text = "# Title\n**bold** *it* ~~s~~ ||spoiler|| `code`\n> quote\n- item\n[link](https://x.y)"
    assert to_discord(text) == text


def test_tables_become_aligned_code_blocks() -> None:
    out = to_discord("before\n| name | n |\n|:--|--:|\n| **cat** | 1 |\n| 狗 | 22 |\nafter")
    assert out.splitlines() == [
        "before", "```", "name |   n", "-----|----", "cat  |   1", "狗   |  22", "```", "after",
    ]


def test_html_made_readable_outside_code() -> None:
    out = to_discord(
        'a<br>b <b>bold</b> <i>x</i> <a href="https://e.x">e</a> &amp; <span>t</span>'
        "\n`<b>kept</b>`\n```\n<br>\n```"
    )
    assert out.splitlines() == [
        "a", "b **bold** *x* [e](https://e.x) & t", "`<b>kept</b>`", "```", "<br>", "```",
    ]


def test_deep_headings_rules_and_images() -> None:
    assert to_discord("#### Small\n---\n![a cat](https://x/c.png)") == (
        "**Small**\n──────────\n[a cat](https://x/c.png)"
    )


def test_adjusting_twice_changes_nothing() -> None:
    text = "| a | b |\n|---|---|\n| 1 | 2 |\n<b>x</b>"
    once = to_discord(text)
    assert to_discord(once) == once


def test_5000_characters_split_into_messages_of_at_most_2000() -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 60 for i in range(20)]
    text = "\n\n".join(paragraphs)
    assert len(text) > 5000
    chunks = split_message(text)
    assert len(chunks) >= 3 and all(len(c) <= MESSAGE_LIMIT for c in chunks)
    assert " ".join(" ".join(chunks).split()) == " ".join(text.split())  # nothing lost
    assert all(c.rstrip().endswith("word") for c in chunks)  # cut at paragraphs


def test_code_fences_closed_and_reopened_across_messages() -> None:
    code = "\n".join(f"print({i})  # line" for i in range(300))
    chunks = split_message(f"Intro\n\n```python\n{code}\n```\nOutro")
    assert len(chunks) >= 3 and all(len(c) <= MESSAGE_LIMIT for c in chunks)
    for chunk in chunks[1:-1]:
        assert chunk.startswith("```python\n") and chunk.rstrip().endswith("```")
    assert chunks[0].rstrip().endswith("```")
    joined = "".join(chunks)
    assert all(f"print({i})" in joined for i in range(300))


# ---- buttons ----


def test_custom_id_is_the_stored_token() -> None:
    token = action_token("/u1 abc")
    cid = custom_id(token)
    assert cid == "a:" + token and len(cid) <= 100
    assert token_of(cid) == token
    assert token_of(custom_id(token, 2)) == token
    assert token_of("something-else") is None
    with pytest.raises(ValueError):
        custom_id("bad token!")


def test_layout_keeps_discord_limits_and_unique_ids() -> None:
    buttons = [Button(f"B{i}" + "x" * 90, f"/a {i}", action_token(f"/a {i}")) for i in range(30)]
    buttons.append(Button("dup", "/a 0", action_token("/a 0")))
    rows = layout(ButtonRows.chunked(buttons, 8))
    assert len(rows) <= 5 and all(len(r) <= 5 for r in rows)
    ids = [cid for row in rows for _, cid in row]
    assert len(ids) == len(set(ids))
    assert all(len(label) <= 80 for row in rows for label, _ in row)


# ---- slash commands ----


async def _noop(*args: object) -> None:
    return None


def test_slash_commands_cover_the_issue_and_fit_discord() -> None:
    commands = slash_commands(_noop, "en", ["gpt-test", "other"])
    names = {c.name for c in commands}
    assert {
        "chat", "img", "vision", "song", "lyrics", "video", "tts", "model", "system", "reset",
        "jobs", "help",
    } <= names
    assert len(commands) <= 100
    for command in commands:
        assert re.fullmatch(r"[a-z0-9_-]{1,32}", command.name)
        assert 1 <= len(command.description) <= 100
    by_name = {c.name: c for c in commands}
    vision = {p.name: p for p in by_name["vision"].parameters}
    assert vision["image"].required and vision["image"].type.name == "attachment"
    video = {p.name: p for p in by_name["video"].parameters}
    assert not video["image"].required
    model = by_name["model"].parameters[0]
    assert [c.value for c in model.choices] == ["gpt-test", "other"]


async def test_descriptions_localized_in_zh_and_en() -> None:
    commands = slash_commands(_noop, "en", [])
    img = next(c for c in commands if c.name == "img")
    client = discord.Client(intents=discord.Intents.none())  # never connected
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
    payload = await img.get_translated_payload(tree, Texts())
    await client.close()
    localized = payload["description_localizations"]
    for locale in LOCALES["zh"]:
        assert localized[locale.value] == "画图：/img 描述"
    for locale in LOCALES["en"]:
        assert localized[locale.value] == "draw a picture: /img PROMPT"
    option = payload["options"][0]
    assert option["description_localizations"][LOCALES["zh"][0].value] == "你想要什么"


def test_typed_text_of_a_slash_command() -> None:
    assert typed("img", "a cat") == "/img a cat"
    assert typed("reset", None) == "/reset"
    assert typed("model", "  ") == "/model"
