"""Media, jobs, access and the two-platform process through the Discord adapter: attachments in
and out within the size limits, voice messages, jobs delivered to their thread once after a
restart, chat admins, the interaction's 15 minutes, Telegram and Discord together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.discord_harness import (
    JOBS,
    World,
    bot_settings,
    discord_config,
    running_bot,
    world,
)
from tests.fake_discord import FakeDiscord, serving
from tests.fake_relay import FakeRelay, Stream
from tests.fake_telegram import FakeTelegram
from tests.pictures import picture
from tests.telegram_harness import USER, telegram_config, texts

MANAGE_GUILD = 1 << 5


@pytest.fixture
async def w() -> AsyncIterator[World]:
    async with world() as built:
        yield built


async def test_a_voice_message_reaches_the_engine_as_audio(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    fake_relay.transcript = "/img -m dall-e-3 a cat"
    dm = fake.dm_channel(w.alice)
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        await fake.user_says(
            dm.id, "", author=w.alice, voice=True,
            attachments=[("voice-message.ogg", b"OggS" + b"\x00" * 200, "audio/ogg")],
        )
        await fake.wait_for(lambda: any(m.attachments for m in fake.bot_messages(dm.id)))
        assert "🎤 /img -m dall-e-3 a cat" in fake.texts(dm.id)
    assert len(fake_relay.transcriptions) == 1
    [picture_message] = [m for m in fake.bot_messages(dm.id) if m.attachments]
    assert picture_message.attachments[0].data.startswith(b"\x89PNG")  # uploaded, not a link


async def test_an_attachment_over_the_limit_gets_a_clear_message_and_is_not_fetched(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    dm = fake.dm_channel(w.alice)
    settings = bot_settings(tmp_path, fake_relay, fake, "  max_download_mb: 0.001\n")
    async with running_bot(settings):
        await fake.user_says(
            dm.id, "/vision what is it?", author=w.alice,
            attachments=[("big.jpg", picture(400, 400, "blue"), "image/jpeg")],
        )
        await fake.wait_for(lambda: any("too big" in t for t in fake.texts(dm.id)))
    assert not fake.cdn_gets and not fake_relay.requests


async def test_results_over_filesize_limit_go_as_a_link(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    dm = fake.dm_channel(w.alice)
    settings = bot_settings(tmp_path, fake_relay, fake, "  filesize_limit: 0.00001\n")  # 10 B
    async with running_bot(settings):
        await fake.user_says(dm.id, "/video a paper boat on a river", author=w.alice)
        await fake.wait_for(lambda: "✅ #1 Luma video: done" in fake.texts(dm.id))
        await fake.wait_for(lambda: any("/files/luma-" in t for t in fake.texts(dm.id)))
    assert not any(m.attachments for m in fake.bot_messages(dm.id))  # no upload over the limit
    assert not [c for c in fake.calls if c.status == 413]


async def test_a_job_in_a_thread_is_delivered_there_once_after_a_restart(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    fake_relay.mj_steps_per_state = 1000  # the relay will not finish while the bot runs
    settings = bot_settings(tmp_path, fake_relay, fake)
    async with running_bot(settings):
        asked = await fake.user_says(
            w.general.id, f"{fake.mention()} /img -m mj a castle", author=w.alice
        )
        thread = await fake.wait_for(lambda: fake.messages[asked.id].thread_id)
        await fake.wait_for(lambda: any("queued" in t for t in fake.texts(thread)))
    fake_relay.mj_steps_per_state = 1  # meanwhile the relay went on
    async with running_bot(settings):
        await fake.wait_for(lambda: "✅ #1 Midjourney imagine: done" in fake.texts(thread))
        await fake.wait_for(lambda: any(m.attachments for m in fake.bot_messages(thread)))
    assert len([m for m in fake.bot_messages(thread) if m.attachments]) == 1
    assert len([r for r in fake_relay.requests if r.path == "/mj/submit/imagine"]) == 1
    assert fake.bot_messages(w.general.id) == []


async def test_only_members_who_manage_the_server_change_a_shared_channel(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    fake = FakeDiscord()
    guild = fake.add_guild("Lab")
    general = fake.add_channel(guild.id, "general")
    mods = fake.add_role(guild.id, "mods", MANAGE_GUILD)
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    fake.add_member(guild.id, alice, roles=(mods.id,))
    fake.add_member(guild.id, bob)
    async with serving(fake):
        shared = f"chat:\n  group_overrides:\n    'discord:{general.id}': shared\n"
        settings = bot_settings(tmp_path, fake_relay, fake, "  threads: false\n", more=shared)
        async with running_bot(settings):
            await fake.user_says(general.id, "/system talk like a pirate", author=bob)
            await fake.wait_for(lambda: any("chat admins" in t for t in fake.texts(general.id)))
            rec = await fake.slash("system", {"text": "talk like a pirate"},
                                   channel_id=general.id, user=bob)
            await fake.wait_for(lambda: len(fake.texts(general.id)) == 2)
            await fake.user_says(general.id, "/system talk like a pirate", author=alice)
            await fake.wait_for(lambda: len(fake.texts(general.id)) == 3)
            await fake.slash("system", {"text": "talk like a robot"}, channel_id=general.id,
                             user=alice)
            await fake.wait_for(lambda: len(fake.texts(general.id)) == 4)
    shown = fake.texts(general.id)
    assert "chat admins" in shown[1] and rec.original_id is not None
    assert "chat admins" not in shown[2] and "chat admins" not in shown[3]


async def test_past_the_interactions_15_minutes_the_answer_goes_to_the_channel(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake, general = w.fake, w.general.id
    release = asyncio.Event()
    fake_relay.enqueue(Stream(chunks=["A slow start", ", and the end."], hold=release))
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        rec = await fake.slash("chat", {"prompt": "take your time"}, channel_id=general,
                               user=w.alice)
        await fake.wait_for(lambda: rec.original_id is not None
                            and fake.messages[rec.original_id].content == "A slow start")
        fake.expire(rec, 901)  # the token is dead: the rest goes to the channel
        release.set()
        await fake.wait_for(lambda: "A slow start, and the end." in fake.texts(general))
    final = next(m for m in fake.bot_messages(general) if m.content.endswith("the end."))
    assert final.webhook_id is None  # an ordinary channel message
    assert rec.response_types == [5]


async def test_telegram_and_discord_run_in_one_process(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    dm = fake.dm_channel(w.alice)
    async with FakeTelegram() as tg:
        extra = JOBS + telegram_config(tg) + discord_config(fake)
        settings = make_settings(tmp_path, fake_relay.url, extra)
        async with running_bot(settings, platforms=("telegram", "discord")):
            await tg.wait_for(lambda: any(c.method == "getUpdates" for c in tg.calls))
            tg.send_text(USER, "hello from telegram")
            await fake.user_says(dm.id, "hello from discord", author=w.alice)
            await fake.wait_for(lambda: fake.texts(dm.id) == ["echo: hello from discord"])
            await tg.wait_for(lambda: texts(tg, USER) == ["echo: hello from telegram"])


async def test_blend_and_describe_take_their_pictures_from_slash_options(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    dm = fake.dm_channel(w.alice)
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        rec = await fake.slash("blend", {}, channel_id=dm.id, user=w.alice, attachments={
            "image": ("a.jpg", picture(64, 64, "red"), "image/jpeg"),
            "image2": ("b.jpg", picture(64, 64, "blue"), "image/jpeg"),
        })
        await fake.wait_for(lambda: "✅ #1 Midjourney blend: done" in fake.texts(dm.id))
        assert rec.response_types == [5]
        await fake.slash("describe", {}, channel_id=dm.id, user=w.alice, attachments={
            "image": ("c.jpg", picture(64, 64, "green"), "image/jpeg"),
        })
        await fake.wait_for(lambda: any("fox" in t for t in fake.texts(dm.id)))
    blend = next(r for r in fake_relay.requests if r.path == "/mj/submit/blend")
    assert len(blend.json["base64Array"]) == 2
    assert any(r.path == "/mj/submit/describe" for r in fake_relay.requests)


async def test_tts_sends_an_audio_file(tmp_path: Path, fake_relay: FakeRelay, w: World) -> None:
    fake = w.fake
    dm = fake.dm_channel(w.alice)
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        rec = await fake.slash("tts", {"prompt": "hello there"}, channel_id=dm.id, user=w.alice)
        spoken = await fake.wait_for(
            lambda: rec.original_id and fake.messages[rec.original_id].attachments
            and fake.messages[rec.original_id].attachments[0]
        )
    assert spoken.filename.endswith((".mp3", ".ogg")) and spoken.data
    assert [s["input"] for s in fake_relay.speeches] == ["hello there"]


async def test_an_upload_the_server_refuses_as_too_large_becomes_a_note(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    fake.upload_limit = 20  # a server that takes less than discord.filesize_limit says
    dm = fake.dm_channel(w.alice)
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        await fake.user_says(dm.id, "/img -m dall-e-3 a lighthouse", author=w.alice)
        await fake.wait_for(lambda: any("too large to send here" in x for x in fake.texts(dm.id)))
        await fake.user_says(dm.id, "still fine?", author=w.alice)
        await fake.wait_for(lambda: fake.texts(dm.id)[-1:] == ["echo: still fine?"])
    assert fake.count("POST /channels/{channel_id}/messages", 413) == 1


async def test_vision_typed_in_reply_to_a_picture_takes_that_picture(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake, general = w.fake, w.general.id
    async with running_bot(bot_settings(tmp_path, fake_relay, fake, "  threads: false\n")):
        shared = await fake.user_says(
            general, "look at this", author=w.bob,
            attachments=[("leaf.png", picture(40, 30, "green", "PNG"), "image/png")],
        )
        await fake.user_says(general, "/vision what is it?", author=w.alice, reference=shared.id)
        await fake.wait_for(lambda: any(t.startswith("echo: what is it?")
                                        for t in fake.texts(general)))
    parts = fake_relay.requests[-1].json["messages"][-1]["content"]
    assert parts[1]["image_url"]["url"].startswith("data:image/")
    assert len(fake_relay.requests) == 1  # the picture alone was not answered


async def test_a_slash_job_leaves_no_thinking_response_behind(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    dm = fake.dm_channel(w.alice)
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        rec = await fake.slash("img", {"prompt": "-m mj a fox"}, channel_id=dm.id, user=w.alice)
        await fake.wait_for(lambda: "✅ #1 Midjourney imagine: done" in fake.texts(dm.id))
        # The job reports in the channel; the response shows the command instead of
        # "thinking…" forever.
        await fake.wait_for(lambda: rec.original_id is not None
                            and fake.messages[rec.original_id].content == "`/img -m mj a fox`")
    assert not fake.messages[rec.original_id].flags & 128  # no longer loading


async def test_song_delivers_its_clips_and_continue_works(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    dm = fake.dm_channel(w.alice)
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        await fake.slash("song", {"prompt": "a pop song about summer"}, channel_id=dm.id,
                         user=w.alice)
        await fake.wait_for(lambda: "✅ #1 Suno song: done" in fake.texts(dm.id))
        audio = [a for m in fake.bot_messages(dm.id) for a in m.attachments
                 if a.filename.endswith(".mp3")]
        assert len(audio) == 2
        buttons = [(m.id, c) for m in fake.bot_messages(dm.id) for row in m.components
                   for c in row["components"] if "Continue" in c["label"]]
        assert [c["label"] for _, c in buttons] == ["▶️ Continue #1", "▶️ Continue #2"]
        message_id, first = buttons[0]
        await fake.press(message_id, first["custom_id"], user=w.alice)
        await fake.wait_for(lambda: any("#2 Suno song: done" in t for t in fake.texts(dm.id)))
    extend = [t.body for t in fake_relay.suno_tasks.values() if "mv" in t.body][1]
    assert extend["continue_clip_id"] and extend["continue_at"] > 0
