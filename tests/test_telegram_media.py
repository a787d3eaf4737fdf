"""/song, /video and voice through the Telegram adapter, the fake Bot API and the fake relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.config.settings import Settings
from core.jobs import store as js
from tests.fake_relay import FakeRelay
from tests.fake_telegram import FakeTelegram
from tests.pictures import picture
from tests.telegram_harness import USER, bot_settings, running_bot, texts


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def settings_for(tmp_path: Path, relay: FakeRelay, fake: FakeTelegram) -> Settings:
    return bot_settings(tmp_path, relay, fake)


def buttons(fake: FakeTelegram) -> list[tuple[int, dict[str, str]]]:
    return [
        (m.message_id, b)
        for m in fake.messages(USER)
        if m.reply_markup
        for row in m.reply_markup["inline_keyboard"]
        for b in row
    ]


async def test_song_delivers_two_clips_with_covers_lyrics_and_continue(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    async with running_bot(settings_for(tmp_path, fake_relay, fake), fake):
        fake.send_text(USER, "/song an upbeat pop song about summer at the beach")
        await fake.wait_for(lambda: "✅ #1 Suno song: done" in texts(fake, USER))
        assert len(fake.calls_to("sendAudio", ok=True)) == 2
        assert len(fake.calls_to("sendPhoto", ok=True)) == 2  # the covers
        titles = [c.params.get("title") for c in fake.calls_to("sendAudio", ok=True)]
        assert all(titles)
        continues = [(mid, b) for mid, b in buttons(fake) if "Continue" in b["text"]]
        assert [b["text"] for _, b in continues] == ["▶️ Continue #1", "▶️ Continue #2"]
        message_id, first = continues[0]
        fake.press_button(USER, message_id, first["callback_data"])
        await fake.wait_for(lambda: any("#2 Suno song: done" in t for t in texts(fake, USER)))
        assert len(fake.calls_to("sendAudio", ok=True)) == 4
    submit, extend = [t.body for t in fake_relay.suno_tasks.values() if "mv" in t.body][:2]
    assert submit["gpt_description_prompt"] == "an upbeat pop song about summer at the beach"
    assert extend["continue_clip_id"] and extend["task_id"] and extend["continue_at"] > 0


async def test_custom_song_and_lyrics_only(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    async with running_bot(settings_for(tmp_path, fake_relay, fake), fake):
        fake.send_text(USER, "/song -i title: Rain\ntags: lo-fi, chill\n[Verse]\nDrops on glass")
        await fake.wait_for(lambda: "✅ #1 Suno song: done" in texts(fake, USER))
        fake.send_text(USER, "/lyrics a ballad about the sea")
        await fake.wait_for(lambda: "✅ #2 Suno lyrics: done" in texts(fake, USER))
    bodies = [t.body for t in fake_relay.suno_tasks.values()]
    assert bodies[0]["title"] == "Rain" and bodies[0]["tags"] == "lo-fi, chill"
    assert bodies[0]["prompt"] == "[Verse]\nDrops on glass" and bodies[0]["make_instrumental"]
    assert bodies[1] == {"prompt": "a ballad about the sea"}


async def test_a_failed_song_says_why(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    fake_relay.suno_fail(prompt_contains="forbidden", message="Song description flagged")
    async with running_bot(settings_for(tmp_path, fake_relay, fake), fake):
        fake.send_text(USER, "/song a forbidden song")
        await fake.wait_for(
            lambda: "❌ #1 Suno song failed: Song description flagged" in texts(fake, USER)
        )
    assert not fake.calls_to("sendAudio")


async def test_luma_video_with_extend_and_image_to_video(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    async with running_bot(settings_for(tmp_path, fake_relay, fake), fake):
        fake.send_text(USER, "/video a paper boat on a river --ar 16:9")
        await fake.wait_for(lambda: "✅ #1 Luma video: done" in texts(fake, USER))
        assert len(fake.calls_to("sendVideo", ok=True)) == 1
        extend = [(mid, b) for mid, b in buttons(fake) if "Extend" in b["text"]]
        assert len(extend) == 1
        fake.send_photo(USER, picture(160, 90), caption="/video -m kling-v1 make it move")
        await fake.wait_for(lambda: "✅ #2 Kling video: done" in texts(fake, USER))
        fake.send_text(USER, "/video -m gen3a_turbo a storm")
        await fake.wait_for(lambda: any("photo" in t.lower() for t in texts(fake, USER)[-1:]))
    bodies = {t.id: t.body for t in fake_relay.video_tasks.values()}
    luma = next(b for b in bodies.values() if "user_prompt" in b)
    assert luma["user_prompt"] == "a paper boat on a river" and luma["aspect_ratio"] == "16:9"
    kling = next(b for b in bodies.values() if "image" in b)
    assert not kling["image"].startswith("data:")  # Kling takes raw base64


async def test_a_voice_note_is_transcribed_and_its_command_runs(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    fake_relay.transcript = "/img -m dall-e-3 a cat"
    async with running_bot(settings_for(tmp_path, fake_relay, fake), fake):
        fake.send_voice(USER, b"OggS" + b"\x00" * 200, duration=2)
        await fake.wait_for(lambda: len(fake.calls_to("sendPhoto", ok=True)) == 1)
        assert "🎤 /img -m dall-e-3 a cat" in texts(fake, USER)
        fake.send_voice(USER, b"OggS" + b"\x00" * 200, duration=3600)
        await fake.wait_for(lambda: any("too long" in t for t in texts(fake, USER)))
    assert len(fake_relay.transcriptions) == 1  # the hour-long note was not sent


async def test_tts_and_voice_answers_to_voice(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    fake_relay.transcript = "how are you?"
    async with running_bot(settings_for(tmp_path, fake_relay, fake), fake):
        fake.send_text(USER, "/tts hello there")
        await fake.wait_for(lambda: len(fake.calls_to("sendVoice", ok=True)) == 1)
        fake.send_text(USER, "/voice on")
        await fake.wait_for(
            lambda: any(t.startswith("OK: when you send") for t in texts(fake, USER))
        )
        fake.send_voice(USER, b"OggS" + b"\x00" * 200, duration=2)
        await fake.wait_for(lambda: len(fake.calls_to("sendVoice", ok=True)) == 2)
    assert "echo: how are you?" in texts(fake, USER)
    assert [s["input"] for s in fake_relay.speeches] == ["hello there", "echo: how are you?"]


async def test_a_restart_in_the_middle_of_a_song_delivers_it_once(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    fake_relay.suno_steps_per_state = 1000
    settings = settings_for(tmp_path, fake_relay, fake)
    async with running_bot(settings, fake):
        fake.send_text(USER, "/song a lullaby")
        await fake.wait_for(lambda: any("queued" in t for t in texts(fake, USER)))
    fake_relay.suno_steps_per_state = 1
    async with running_bot(settings, fake):
        await fake.wait_for(lambda: "✅ #1 Suno song: done" in texts(fake, USER))
    assert len(fake.calls_to("sendAudio", ok=True)) == 2
    assert len([t for t in fake_relay.suno_tasks.values() if "mv" in t.body]) == 1


async def test_tts_in_reply_to_a_message_reads_that_message(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    async with running_bot(settings_for(tmp_path, fake_relay, fake), fake):
        fake.send_text(USER, "tell me something")
        await fake.wait_for(lambda: texts(fake, USER) == ["echo: tell me something"])
        answer = fake.messages(USER)[0]
        fake.send_text(USER, "/tts", reply_to_message_id=answer.message_id)
        await fake.wait_for(lambda: len(fake.calls_to("sendVoice", ok=True)) == 1)
        fake.send_text(USER, "/tts")
        await fake.wait_for(lambda: any("What should I say?" in t for t in texts(fake, USER)))
    assert [s["input"] for s in fake_relay.speeches] == ["echo: tell me something"]


REFUSED = "Bad Request: something unexpected"


def resend_buttons(fake: FakeTelegram) -> list[tuple[int, dict[str, str]]]:
    return [(mid, b) for mid, b in buttons(fake) if "Resend #1" in b["text"]]


@pytest.mark.parametrize(
    ("cut_at", "photos", "songs"),
    [
        ("sendAudio", 1, 0),  # after the first cover
        ("sendMessage", 2, 2),  # at the lyrics with the Continue buttons, after both clips
    ],
)
async def test_a_song_cut_short_is_delivered_once_and_offered_again(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram, cut_at: str, photos: int, songs: int
) -> None:
    fake_relay.suno_steps_per_state = 1000  # held until the failure is armed
    async with running_bot(settings_for(tmp_path, fake_relay, fake), fake) as app:
        fake.send_text(USER, "/song a lullaby")
        await fake.wait_for(lambda: any("queued" in t for t in texts(fake, USER)))
        fake.fail_next(cut_at, 400, REFUSED)
        fake_relay.suno_steps_per_state = 1
        await fake.wait_for(lambda: bool(resend_buttons(fake)))
        job = await app.jobs.jobs.get(1)
        assert job is not None and job.state == js.IN_DOUBT  # never sent again on its own
        assert len(fake.calls_to("sendPhoto", ok=True)) == photos
        assert len(fake.calls_to("sendAudio", ok=True)) == songs
        assert len(fake.calls_to(cut_at, ok=False)) == 1
        # The user asks for it: the whole result comes again, once.
        message_id, button = resend_buttons(fake)[0]
        fake.press_button(USER, message_id, button["callback_data"])
        await fake.wait_for(lambda: "✅ #1 Suno song: done" in texts(fake, USER))
        assert len(fake.calls_to("sendPhoto", ok=True)) == photos + 2
        assert len(fake.calls_to("sendAudio", ok=True)) == songs + 2
        assert any("Continue #2" in b["text"] for _, b in buttons(fake))


async def test_a_video_cut_after_the_video_is_delivered_once_and_offered_again(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    fake_relay.video_steps_per_state = 1000
    async with running_bot(settings_for(tmp_path, fake_relay, fake), fake) as app:
        fake.send_text(USER, "/video a paper boat on a river")
        await fake.wait_for(lambda: any("queued" in t for t in texts(fake, USER)))
        fake.fail_next("sendMessage", 400, REFUSED)  # the Extend button after the video
        fake_relay.video_steps_per_state = 1
        await fake.wait_for(lambda: bool(resend_buttons(fake)))
        job = await app.jobs.jobs.get(1)
        assert job is not None and job.state == js.IN_DOUBT
        assert len(fake.calls_to("sendVideo")) == 1  # the video went out once
        assert not [b for _, b in buttons(fake) if "Extend" in b["text"]]
        message_id, button = resend_buttons(fake)[0]
        fake.press_button(USER, message_id, button["callback_data"])
        await fake.wait_for(lambda: "✅ #1 Luma video: done" in texts(fake, USER))
        assert len(fake.calls_to("sendVideo", ok=True)) == 2
        assert len([b for _, b in buttons(fake) if "Extend" in b["text"]]) == 1
