"""Rendering reply events with the real PTB Bot against the fake Bot API: media and fallbacks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from bots.shared.flood import FloodGate, FloodLimits
from bots.telegram.format import render
from bots.telegram.render import ReplyRenderer
from bots.telegram.send import Target, TelegramSender
from bots.telegram.stream import StreamingAnswer
from core.platform.types import (
    AudioReply,
    Button,
    ButtonRows,
    FinalText,
    ImageReply,
    ReplyEvent,
    TextDelta,
    VideoReply,
)
from tests.fake_telegram import FakeTelegram

CHAT = 1001


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.add_chat(CHAT)
        yield server


@pytest.fixture
async def sender(fake: FakeTelegram) -> AsyncIterator[TelegramSender]:
    bot = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
    await bot.initialize()
    try:
        yield TelegramSender(bot, FloodGate(FloodLimits(50, 1000, 1000)), retry_s=0.01)
    finally:
        await bot.shutdown()


async def events(*items: ReplyEvent) -> AsyncIterator[ReplyEvent]:
    for item in items:
        yield item


def renderer(sender: TelegramSender, max_upload: int = 50_000_000) -> ReplyRenderer:
    return ReplyRenderer(sender, Target(CHAT, False), interval_s=0.01, max_upload=max_upload)


async def test_text_and_its_buttons_go_out_in_one_message(
    fake: FakeTelegram, sender: TelegramSender
) -> None:
    buttons = ButtonRows(((Button("A", "/model a", "tok-a"), Button("B", "/model b", "tok-b")),))
    await renderer(sender).render(events(FinalText("Pick one", markdown=False), buttons))
    (message,) = fake.messages(CHAT)
    assert message.text == "Pick one"
    keyboard = message.reply_markup["inline_keyboard"]  # type: ignore[index]
    assert [b["callback_data"] for b in keyboard[0]] == ["a:tok-a", "a:tok-b"]
    assert [c.method for c in fake.calls if c.method != "getMe"] == ["sendMessage"]


async def test_picture_with_buttons_and_a_picture_sent_as_a_file(
    fake: FakeTelegram, sender: TelegramSender
) -> None:
    fake.photo_upload_limit = 500  # the fake refuses larger photos as Telegram does over 10 MB
    small = ImageReply(b"\x89PNG" + b"\x00" * 100, "image/png", "a cat")
    large = ImageReply(b"\x89PNG" + b"\x01" * 1000, "image/png", "a big cat")
    buttons = ButtonRows(((Button("U1", "/img U1 x", "tok-u1"),),))
    await renderer(sender).render(events(small, buttons, large))
    photo = fake.calls_to("sendPhoto", ok=True)[0]
    assert photo.params["caption"] == "a cat" and "reply_markup" in photo.params
    document = fake.calls_to("sendDocument", ok=True)[0]
    assert document.params["caption"] == "a big cat"
    assert document.files["document"] == large.data


async def test_voice_audio_and_a_video_too_large_to_upload(
    fake: FakeTelegram, sender: TelegramSender
) -> None:
    await renderer(sender, max_upload=1000).render(
        events(
            AudioReply(b"OggS" + b"\x00" * 50, "audio/ogg", voice=True),
            AudioReply(b"ID3" + b"\x00" * 50, "audio/mpeg", "My song"),
            VideoReply(b"\x00" * 5000, "https://cdn.example/clip.mp4", "video/mp4", "A clip"),
            VideoReply(b"\x00" * 500, None, "video/mp4", "Small clip"),
        )
    )
    assert fake.calls_to("sendVoice", ok=True)
    assert fake.calls_to("sendAudio", ok=True)[0].params["title"] == "My song"
    assert "A clip\nhttps://cdn.example/clip.mp4" in [m.text for m in fake.messages(CHAT)]
    assert fake.calls_to("sendVideo", ok=True)[0].params["caption"] == "Small clip"


async def test_a_final_edit_that_fails_is_sent_as_a_new_message(
    fake: FakeTelegram, sender: TelegramSender
) -> None:
    answer = StreamingAnswer(sender, Target(CHAT, False), interval_s=0.01)
    answer.add("Hello")
    await fake.wait_for(lambda: [m.text for m in fake.messages(CHAT)] == ["Hello"])
    answer.add(", world")
    fake.fail_next("editMessageText", 500, "Internal Server Error", times=10)
    await answer.finish()
    assert [m.text for m in fake.messages(CHAT)] == ["Hello, world"]  # the stale copy is gone
    assert fake.calls_to("deleteMessage", ok=True)


async def test_streamed_markdown_is_never_shown_raw(
    fake: FakeTelegram, sender: TelegramSender
) -> None:
    await renderer(sender).render(
        events(
            TextDelta("Some **bol"),
            TextDelta("d** text and `co"),
            TextDelta("de`"),
            FinalText("Some **bold** text and `code`"),
        )
    )
    for call in fake.calls:
        if call.method in ("sendMessage", "editMessageText") and call.ok:
            assert "**" not in call.params["text"] and "`" not in call.params["text"]
    assert fake.messages(CHAT)[0].source == render("Some **bold** text and `code`").html
