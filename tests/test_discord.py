"""The Discord adapter end to end: the real discord.py client started by relaybot's own start-up
path, against the fake Discord (REST + gateway) and the fake relay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.discord.inbound import ChannelInfos
from core.texts.i18n import t
from tests.discord_harness import World, bot_settings, running_bot, world
from tests.fake_discord import new_client, running
from tests.fake_relay import FakeRelay, Stream
from tests.pictures import decode_data_uri, picture


@pytest.fixture
async def w() -> AsyncIterator[World]:
    async with world() as built:
        yield built


def relay_texts(relay: FakeRelay) -> list[str]:
    return [r.json["messages"][-1]["content"] for r in relay.requests if r.json]


async def test_a_dm_answer_streams_and_ends_complete(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    release = asyncio.Event()
    fake_relay.enqueue(Stream(chunks=["Hello, ", "**world**", "! All done."], hold=release))
    dm = fake.dm_channel(w.alice)
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        await fake.user_says(dm.id, "hi there", author=w.alice)
        await fake.wait_for(lambda: fake.texts(dm.id) == ["Hello,"])
        release.set()
        await fake.wait_for(lambda: fake.texts(dm.id) == ["Hello, **world**! All done."])
    [answer] = fake.bot_messages(dm.id)
    assert answer.edits  # one message, edited as the answer grew
    assert relay_texts(fake_relay) == ["hi there"]


async def test_a_server_message_needs_a_mention_a_reply_or_a_slash_command(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake, general = w.fake, w.general.id
    settings = bot_settings(tmp_path, fake_relay, fake, "  threads: false\n")
    async with running_bot(settings):
        await fake.user_says(general, "just chatting among us", author=w.alice)
        await fake.user_says(general, "/play something", author=w.alice)  # another bot's
        asked = await fake.user_says(general, f"{fake.mention()} what is 2+2?", author=w.alice)
        await fake.wait_for(lambda: "echo: what is 2+2?" in fake.texts(general))
        answer = fake.bot_messages(general)[-1]
        assert answer.reference == asked.id  # the answer quotes the question

        await fake.user_says(general, "and 3+3?", author=w.bob, reference=answer.id)
        await fake.wait_for(lambda: "echo: and 3+3?" in fake.texts(general))

        rec = await fake.slash("chat", {"prompt": "and 4+4?"}, channel_id=general, user=w.alice)
        await fake.wait_for(lambda: rec.original_id is not None and any(
            m.id == rec.original_id and m.content == "echo: and 4+4?"
            for m in fake.channel_messages(general, bot_only=True)
        ))
        assert rec.response_types[0] == 5  # deferred at once ("thinking…")
    # Only the addressed messages reached the relay; the others got no answer at all.
    assert relay_texts(fake_relay) == ["what is 2+2?", "and 3+3?", "and 4+4?"]
    assert len(fake.bot_messages(general)) == 3


async def test_a_mention_opens_a_thread_where_no_mention_is_needed(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake, general = w.fake, w.general.id
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        asked = await fake.user_says(
            general, f"{fake.mention()} remember the word kiwi", author=w.alice
        )
        thread = await fake.wait_for(lambda: fake.messages[asked.id].thread_id)
        await fake.wait_for(lambda: fake.texts(thread) == ["echo: remember the word kiwi"])
        assert fake.channels[thread].name == "remember the word kiwi"
        await fake.user_says(thread, "what was the word?", author=w.alice)
        await fake.wait_for(lambda: "echo: what was the word?" in fake.texts(thread))
        # A thread somebody else started is not the bot's: no answer without a mention.
        other = fake.add_thread(general, "people", owner=w.bob)
        await fake.user_says(other.id, "not for the bot", author=w.bob)
        await fake.user_says(thread, "one more", author=w.alice)
        await fake.wait_for(lambda: "echo: one more" in fake.texts(thread))
    assert fake.bot_messages(general) == []  # the channel itself stays clean
    assert fake.texts(other.id) == []
    # The thread is one conversation: the follow-up carried the earlier turn.
    second = [r.json for r in fake_relay.requests if r.json][1]
    assert [m["content"] for m in second["messages"] if m["role"] == "user"] == [
        "remember the word kiwi", "what was the word?",
    ]


async def test_a_5000_character_answer_arrives_complete_in_several_messages(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    paragraphs = [f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 8 for i in range(24)]
    answer = "\n\n".join(paragraphs)
    assert len(answer) > 5000
    fake_relay.enqueue(Stream(chunks=[answer[i : i + 200] for i in range(0, len(answer), 200)]))
    dm = fake.dm_channel(w.alice)
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        await fake.user_says(dm.id, "write a lot", author=w.alice)
        await fake.wait_for(lambda: _same_words(fake.texts(dm.id), answer))
    shown = fake.texts(dm.id)
    assert len(shown) >= 3 and all(len(t) <= 2000 for t in shown)
    assert all(t.startswith("Paragraph") for t in shown)  # cut between paragraphs
    assert not [c for c in fake.calls if c.status == 400]  # never refused as too long


def _same_words(shown: list[str], answer: str) -> bool:
    return " ".join(" ".join(shown).split()) == " ".join(answer.split())


async def test_a_429_during_streaming_delays_edits_and_the_final_text_arrives(
    tmp_path: Path, fake_relay: FakeRelay, w: World, caplog: pytest.LogCaptureFixture
) -> None:
    fake = w.fake
    release = asyncio.Event()
    fake_relay.enqueue(Stream(chunks=["Part one. ", "Part two. ", "Part three."], hold=release))
    dm = fake.dm_channel(w.alice)
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        await fake.user_says(dm.id, "go", author=w.alice)
        await fake.wait_for(lambda: fake.texts(dm.id) == ["Part one."])
        # A 429 without Via (discord.py raises it) pauses the channel for its Retry-After;
        # one with Via is waited out inside discord.py. Both delay the edits, neither loses one.
        fake.limits.inject(route=None, retry_after=0.3, count=1, via=False)
        fake.limits.inject(route=None, retry_after=0.2, count=1, via=True)
        release.set()
        await fake.wait_for(lambda: fake.texts(dm.id) == ["Part one. Part two. Part three."])
    assert len(fake.limits.hits) == 2
    refused = [i for i, c in enumerate(fake.calls) if c.status == 429]
    assert refused and any(c.method == "PATCH" and c.status == 200
                           for c in fake.calls[refused[-1] + 1 :])  # edits went on after
    assert len(fake.bot_messages(dm.id)) == 1
    # The bare 429 paused the channel for its Retry-After (whole seconds, as Discord sends).
    assert any("rate limited" in r.message and "retry after 1s" in r.message
               for r in caplog.records if r.name == "relaybot.discord")


async def test_vision_with_an_attachment_reaches_the_engine_as_image_bytes(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake, general = w.fake, w.general.id
    photo = picture(120, 80, "green")
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        rec = await fake.slash(
            "vision", {"prompt": "what is in it?"}, channel_id=general, user=w.alice,
            attachments={"image": ("leaf.jpg", photo, "image/jpeg")},
        )
        expected = "echo: what is in it?\n\n🖼 answered by gpt-4o-mini"
        await fake.wait_for(lambda: rec.original_id is not None
                            and fake.messages[rec.original_id].content == expected)
        assert rec.response_types[0] == 5
    parts = fake_relay.requests[-1].json["messages"][-1]["content"]
    sent = decode_data_uri(parts[1]["image_url"]["url"])
    assert sent.size == (120, 80) and sent.getpixel((5, 5))[1] > 100  # the user's green photo
    assert fake.cdn_gets  # downloaded from Discord's CDN, as the bot must


async def test_a_midjourney_u1_button_works_after_a_restart(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    dm = fake.dm_channel(w.alice)
    settings = bot_settings(tmp_path, fake_relay, fake)
    async with running_bot(settings):
        await fake.user_says(dm.id, "/img -m mj a fox in the snow", author=w.alice)
        await fake.wait_for(lambda: "✅ #1 Midjourney imagine: done" in fake.texts(dm.id))
        grid = await fake.wait_for(lambda: next(
            (m for m in fake.bot_messages(dm.id) if m.attachments and m.components), None
        ))
        assert any("37%" in text for m in fake.bot_messages(dm.id) for text in m.history)
    buttons = {c["label"]: c for row in grid.components for c in row["components"]}
    assert {"U1", "U2", "U3", "U4", "V1", "🔄"} <= set(buttons)
    u1 = buttons["U1"]["custom_id"]
    assert u1.startswith("a:") and len(u1) <= 100

    async with running_bot(settings):  # a new process, same database
        rec = await fake.press(grid.id, u1, user=w.alice)
        await fake.wait_for(lambda: any("#2 Midjourney U1: done" in t for t in fake.texts(dm.id)))
        assert rec.response_types == [6]  # acknowledged at once (deferred update)
    submits = [r for r in fake_relay.requests if r.path.startswith("/mj/submit/")]
    assert [r.path for r in submits] == ["/mj/submit/imagine", "/mj/submit/action"]
    assert "upsample::1" in submits[1].json["customId"]
    assert len([m for m in fake.bot_messages(dm.id) if m.attachments]) == 2


async def test_the_model_menu_is_buttons_and_img_answers_with_a_file(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake, general = w.fake, w.general.id
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        menu = await fake.slash("model", {}, channel_id=general, user=w.alice)
        original = await fake.wait_for(
            lambda: menu.original_id and fake.messages[menu.original_id].components
            and fake.messages[menu.original_id]
        )
        buttons = {c["label"]: c["custom_id"] for row in original.components
                   for c in row["components"]}
        pressed = await fake.press(original.id, buttons["fake-think"], user=w.alice)
        await fake.wait_for(lambda: "Switched to model fake-think." in fake.texts(general))
        assert pressed.response_types == [6]

        draw = await fake.slash("img", {"prompt": "-m dall-e-3 a lighthouse"},
                                channel_id=general, user=w.alice)
        picture_msg = await fake.wait_for(
            lambda: draw.original_id and fake.messages[draw.original_id].attachments
            and fake.messages[draw.original_id]
        )
    assert picture_msg.attachments[0].data.startswith(b"\x89PNG")  # the file, not its URL
    assert draw.response_types == [5]


async def test_a_user_not_allowed_is_refused_and_nothing_is_fetched_or_asked(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    dm = fake.dm_channel(w.bob)
    access = f"access:\n  allowed_users: ['discord:{w.alice.id}']\n"
    settings = bot_settings(tmp_path, fake_relay, fake, more=access)
    async with running_bot(settings):
        await fake.user_says(
            dm.id, "what is this?", author=w.bob,
            attachments=[("cat.jpg", picture(), "image/jpeg")],
        )
        await fake.wait_for(lambda: len(fake.texts(dm.id)) == 1)
        rec = await fake.slash("chat", {"prompt": "hello"}, channel_id=dm.id, user=w.bob)
        await fake.wait_for(lambda: rec.original_id is not None
                            and f"discord:{w.bob.id}" in fake.messages[rec.original_id].content)
    assert f"discord:{w.bob.id}" in fake.texts(dm.id)[0]
    assert fake_relay.requests == [] and not fake.cdn_gets


async def test_the_users_discord_locale_picks_the_bots_language(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    dm = fake.dm_channel(w.bob)  # bob's client is in Chinese (zh-CN)
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        rec = await fake.slash("reset", {}, channel_id=dm.id, user=w.bob)
        reset = await fake.wait_for(
            lambda: rec.original_id is not None and fake.messages[rec.original_id].content
        )
        # A later typed message (which carries no locale) is answered in Chinese too.
        await fake.user_says(dm.id, "/reset", author=w.bob)
        await fake.wait_for(lambda: len(fake.texts(dm.id)) == 2)
    assert reset == t("cmd.reset.done", "zh")
    assert fake.texts(dm.id)[-1] == t("cmd.reset.done", "zh")


async def test_streaming_keeps_inside_the_channel_limit(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    """Discord's 5 messages or edits per 5 s per channel, scaled to 5 per 0.5 s on both sides:
    three answers at once stream and complete without one 429. (discord.py's own bucket
    handling helps here too; the flood gate's arithmetic is tested in test_flood.py.)"""
    fake = w.fake
    fake.limits.set("messages", 5, 0.5)
    limits = "    per_channel: 5\n    window_s: 0.5\n    global_per_s: 50\n"
    words = [f"word{i} " for i in range(120)]
    for _ in range(3):
        fake_relay.enqueue(Stream(chunks=words, pace_s=0.003))
    dm = fake.dm_channel(w.alice)
    settings = bot_settings(tmp_path, fake_relay, fake, "", limits)
    async with running_bot(settings):
        for n in range(3):
            await fake.user_says(dm.id, f"talk {n}", author=w.alice)
        expected = "".join(words).strip()
        await fake.wait_for(lambda: fake.texts(dm.id) == [expected] * 3, 15)
    assert fake.limits.hits == []
    assert sum(len(m.edits) for m in fake.bot_messages(dm.id)) >= 3  # it did stream


async def test_the_bots_thread_goes_on_after_a_restart(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake, general = w.fake, w.general.id
    settings = bot_settings(tmp_path, fake_relay, fake)
    async with running_bot(settings):
        asked = await fake.user_says(general, f"{fake.mention()} the word is kiwi", author=w.bob)
        thread = await fake.wait_for(lambda: fake.messages[asked.id].thread_id)
        await fake.wait_for(lambda: fake.texts(thread) == ["echo: the word is kiwi"])
    async with running_bot(settings):  # a new process: no cache, the same database
        await fake.user_says(thread, "which word?", author=w.bob)
        await fake.wait_for(lambda: "echo: which word?" in fake.texts(thread))
    last = [r.json for r in fake_relay.requests if r.json][-1]
    assert [m["content"] for m in last["messages"] if m["role"] == "user"] == [
        "the word is kiwi", "which word?",
    ]


async def test_a_channel_discord_py_never_saw_is_looked_up_once(w: World) -> None:
    fake = w.fake
    thread = fake.add_thread(w.general.id, "old thread", owner=fake.bot)
    client = new_client()
    async with running(fake, client):
        infos = ChannelInfos(client)
        first = await infos.of(None, thread.id, w.guild.id)  # as if not in the cache
        again = await infos.of(None, thread.id, w.guild.id)
    assert first == again
    assert first.thread and first.parent_id == w.general.id and first.owner_id == fake.bot.id
    assert fake.count("GET /channels/{channel_id}") == 1


async def test_forum_posts_voice_chats_and_news_channels(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    forum = fake.add_channel(w.guild.id, "questions", kind="forum")
    voice = fake.add_channel(w.guild.id, "lounge", kind="voice")
    news = fake.add_channel(w.guild.id, "announcements", kind="news")
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        # A forum post is someone else's thread: answered on a mention, in the post itself.
        post, _ = await fake.user_posts(forum.id, "Help", "anyone?", author=w.alice)
        await fake.user_says(post.id, f"{fake.mention()} how do I start?", author=w.alice)
        await fake.wait_for(lambda: "echo: how do I start?" in fake.texts(post.id))
        # A voice channel's text chat holds no threads: the answer stays there.
        await fake.user_says(voice.id, f"{fake.mention()} hi from voice", author=w.bob)
        await fake.wait_for(lambda: "echo: hi from voice" in fake.texts(voice.id))
        # An announcement channel takes threads like a text channel.
        asked = await fake.user_says(news.id, f"{fake.mention()} news?", author=w.bob)
        thread = await fake.wait_for(lambda: fake.messages[asked.id].thread_id)
        await fake.wait_for(lambda: fake.texts(thread) == ["echo: news?"])
    assert relay_texts(fake_relay) == ["how do I start?", "hi from voice", "news?"]
    assert not [c for c in fake.calls if c.status >= 400]


async def test_an_answer_never_pings_anyone(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake, general = w.fake, w.general.id
    fake_relay.enqueue(Stream(chunks=[f"@everyone and <@{w.bob.id}>, look!"]))
    async with running_bot(bot_settings(tmp_path, fake_relay, fake, "  threads: false\n")):
        await fake.user_says(general, f"{fake.mention()} say it", author=w.alice)
        answer = await fake.wait_for(
            lambda: next((m for m in fake.bot_messages(general) if "look" in m.content), None)
        )
    assert answer.mentions == [] and not answer.mention_everyone


async def test_guild_ids_register_the_commands_in_those_servers_only(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake, general = w.fake, w.general.id
    extra = f"  guild_ids: [{w.guild.id}]\n"
    async with running_bot(bot_settings(tmp_path, fake_relay, fake, extra)):
        rec = await fake.slash("chat", {"prompt": "hi"}, channel_id=general, user=w.alice)
        await fake.wait_for(lambda: rec.original_id is not None
                            and fake.messages[rec.original_id].content == "echo: hi")
    names = {c["name"] for c in fake.commands(w.guild.id)}
    assert {"chat", "img", "vision", "model"} <= names
    assert fake.commands(None) == []  # not globally as well (they would show twice)
    zh = next(c for c in fake.commands(w.guild.id) if c["name"] == "img")
    assert zh["description_localizations"]["zh-CN"] == "画图：/img 描述"
