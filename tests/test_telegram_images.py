"""/img, Midjourney jobs and pictures through the Telegram adapter, the fake Bot API and relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fake_relay import FakeRelay
from tests.fake_telegram import FakeTelegram
from tests.telegram_harness import USER, bot_settings, running_bot, texts


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def photos(fake: FakeTelegram) -> list[object]:
    return [m for m in fake.messages(USER) if m.media.get("photo") or m.media.get("document")]


async def test_img_with_dall_e_3_sends_a_photo(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        fake.send_text(USER, "/img -m dall-e-3 a lighthouse at dusk --ar 16:9")
        await fake.wait_for(lambda: len(fake.calls_to("sendPhoto", ok=True)) == 1)
    request = next(r for r in fake_relay.requests if r.path == "/v1/images/generations")
    assert request.json["model"] == "dall-e-3" and request.json["size"] == "1792x1024"
    assert request.json["prompt"] == "a lighthouse at dusk"
    upload = fake.calls_to("sendPhoto", ok=True)[0].files["photo"]
    assert upload.startswith(b"\x89PNG")  # the image itself was uploaded, not its URL


async def test_midjourney_progress_grid_buttons_and_an_upscale(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        fake.send_text(USER, "/img -m mj a fox in the snow --ar 4:3")
        await fake.wait_for(lambda: texts(fake, USER)[:1] == ["✅ #1 Midjourney imagine: done"])
        assert len(fake.calls_to("sendPhoto", ok=True)) == 1
        edits = [c.params["text"] for c in fake.calls_to("editMessageText", ok=True)]
        assert "⏳ #1 Midjourney imagine: 37%" in edits  # progress was shown on the way
        grid = next(m for m in fake.messages(USER) if m.media.get("photo"))
        labels = [b["text"] for row in grid.reply_markup["inline_keyboard"] for b in row]
        assert labels[:4] == ["U1", "U2", "U3", "U4"] and "🔄" in labels and "V4" in labels
        u2 = next(
            b for row in grid.reply_markup["inline_keyboard"] for b in row if b["text"] == "U2"
        )
        fake.press_button(USER, grid.message_id, u2["callback_data"])
        await fake.wait_for(lambda: any("#2 Midjourney U2: done" in t for t in texts(fake, USER)))
        assert len(fake.calls_to("sendPhoto", ok=True)) == 2
    upscaled = [m for m in fake.messages(USER) if m.media.get("photo")][-1]
    labels = [b["text"] for row in upscaled.reply_markup["inline_keyboard"] for b in row]
    assert labels and not any("Custom Zoom" in x or "Vary (Region)" in x for x in labels)
    submits = [r for r in fake_relay.requests if r.path.startswith("/mj/submit/")]
    assert [r.path for r in submits] == ["/mj/submit/imagine", "/mj/submit/action"]
    assert submits[0].json["prompt"] == "a fox in the snow --ar 4:3"  # MJ flags pass through
    assert "upsample::2" in submits[1].json["customId"]


async def test_a_restart_in_the_middle_of_a_job_still_delivers_it_once(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    fake_relay.mj_steps_per_state = 1000  # the relay will not finish while the bot runs
    settings = bot_settings(tmp_path, fake_relay, fake)
    async with running_bot(settings, fake):
        fake.send_text(USER, "/img -m mj a castle")
        await fake.wait_for(lambda: any("queued" in t for t in texts(fake, USER)))
    fake_relay.mj_steps_per_state = 1  # meanwhile the relay went on
    async with running_bot(settings, fake):
        await fake.wait_for(lambda: len(fake.calls_to("sendPhoto", ok=True)) == 1)
        await fake.wait_for(lambda: "✅ #1 Midjourney imagine: done" in texts(fake, USER))
    assert len(fake.calls_to("sendPhoto", ok=True)) == 1
    assert len([r for r in fake_relay.requests if r.path == "/mj/submit/imagine"]) == 1


async def test_a_job_that_fails_upstream_says_why_and_refused_prompts_say_so(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    fake_relay.mj_script(prompt_contains="volcano", fail_reason="Job action restricted")
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        fake.send_text(USER, "/img -m mj an erupting volcano")
        await fake.wait_for(
            lambda: "❌ #1 Midjourney imagine failed: Job action restricted" in texts(fake, USER)
        )
        fake_relay.mj_next_code = 24
        fake.send_text(USER, "/img -m mj something banned")
        banned = "Midjourney flagged a banned word in the prompt. Please rephrase it."
        await fake.wait_for(lambda: banned in texts(fake, USER))
    assert not fake.calls_to("sendPhoto")


async def test_jobs_lists_running_jobs_and_the_limit_is_enforced(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    fake_relay.mj_steps_per_state = 1000
    settings = bot_settings(tmp_path, fake_relay, fake)
    async with running_bot(settings, fake):
        for n in range(4):
            fake.send_text(USER, f"/img -m mj castle number {n}")
        await fake.wait_for(lambda: any("at most 3" in t for t in texts(fake, USER)))
        fake.send_text(USER, "/jobs")
        await fake.wait_for(lambda: any(t.startswith("Your jobs") for t in texts(fake, USER)))
    listing = next(t for t in texts(fake, USER) if t.startswith("Your jobs"))
    assert listing.splitlines()[0] == "Your jobs (3 of 3 running):"
    assert len([r for r in fake_relay.requests if r.path == "/mj/submit/imagine"]) == 3


async def test_describe_gives_four_prompts_with_buttons(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    from tests.pictures import picture

    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        fake.send_photo(USER, picture(), caption="/describe")
        await fake.wait_for(lambda: any(t.startswith("1️⃣") for t in texts(fake, USER)))
    answer = next(m for m in fake.messages(USER) if (m.text or "").startswith("1️⃣"))
    buttons = [b["text"] for row in answer.reply_markup["inline_keyboard"] for b in row]
    assert buttons == ["1️⃣ Imagine this", "2️⃣ Imagine this", "3️⃣ Imagine this", "4️⃣ Imagine this"]


async def test_a_broken_image_file_gets_a_clear_message(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        fake.send_document(
            USER,
            b"\x89PNG\r\n\x1a\n garbage",
            "scan.png",
            "image/png",
            caption="/vision what is this?",
        )
        await fake.wait_for(lambda: any("JPEG, PNG" in t for t in texts(fake, USER)))
    assert not [r for r in fake_relay.requests if r.path == "/v1/chat/completions"]


async def test_img_with_a_photo_mj_image_prompt_and_openai_edit(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    from tests.pictures import picture

    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        update = fake.send_photo(USER, picture(200, 100, "orange"))
        photo_id = update["message"]["message_id"]
        fake.send_text(USER, "/img -m mj in the style of van gogh", reply_to_message_id=photo_id)
        await fake.wait_for(
            lambda: any("#1 Midjourney imagine: done" in t for t in texts(fake, USER))
        )
        fake.send_photo(USER, picture(64, 64, "blue"), caption="/img -m gpt-image-1 add a hat")
        await fake.wait_for(lambda: len(fake.calls_to("sendPhoto", ok=True)) == 2)
        fake_relay.edits_supported = False
        fake.send_photo(USER, picture(64, 64, "blue"), caption="/img -m dall-e-2 add a hat")
        await fake.wait_for(
            lambda: any("edit" in t.lower() and "support" in t.lower() for t in texts(fake, USER))
        )
    imagine = next(r for r in fake_relay.requests if r.path == "/mj/submit/imagine")
    assert imagine.json["base64Array"][0].startswith("data:image/jpeg;base64,")
    edit = next(r for r in fake_relay.requests if r.path == "/v1/images/edits")
    assert edit.form["model"] == "gpt-image-1" and edit.form["prompt"] == "add a hat"


async def test_blend_an_album_and_ideogram_aspect(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    from tests.pictures import picture

    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        fake.send_album(USER, [picture(color="red"), picture(color="blue")], caption="/blend")
        await fake.wait_for(
            lambda: any("#1 Midjourney blend: done" in t for t in texts(fake, USER))
        )
        fake.send_text(USER, "/img -m ideogram a poster --ar 16:9")
        await fake.wait_for(lambda: len(fake.calls_to("sendPhoto", ok=True)) == 2)
    blend = next(r for r in fake_relay.requests if r.path == "/mj/submit/blend")
    assert len(blend.json["base64Array"]) == 2
    ideogram = next(r for r in fake_relay.requests if r.path == "/ideogram/generate")
    assert ideogram.json["image_request"]["aspect_ratio"] == "ASPECT_16_9"
    assert ideogram.json["image_request"]["prompt"] == "a poster"


async def test_blend_photos_sent_in_a_row(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    from tests.pictures import picture

    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        for color in ("red", "green", "blue"):
            fake.send_photo(USER, picture(color=color))
        await fake.wait_for(lambda: sum("Got the picture" in t for t in texts(fake, USER)) == 3)
        fake.send_text(USER, "/blend")
        await fake.wait_for(lambda: any("Midjourney blend: done" in t for t in texts(fake, USER)))
    blend = next(r for r in fake_relay.requests if r.path == "/mj/submit/blend")
    assert len(blend.json["base64Array"]) == 3
