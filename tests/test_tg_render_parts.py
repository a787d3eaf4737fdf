"""Every kind of message a job delivery sends is counted the moment it is sent, so a delivery
cut short after it is known to have reached the chat (real PTB Bot, fake Bot API)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.error import BadRequest

from bots.shared.flood import FloodGate, FloodLimits
from bots.telegram.render import ReplyRenderer, TextLost
from bots.telegram.send import Target, TelegramSender
from core.platform.types import (
    AudioReply,
    Button,
    ButtonRows,
    FinalText,
    ImageReply,
    Notice,
    ReplyEvent,
    VideoReply,
)
from tests.fake_telegram import FakeTelegram

CHAT = 1001
PNG = b"\x89PNG" + b"\x00" * 100
BUTTONS = ButtonRows(((Button("Extend", "/video extend t1", "tok-x"),),))
REFUSED = "Bad Request: something unexpected"

# (what is sent first, the methods that send it)
FIRST_PARTS: dict[str, tuple[list[ReplyEvent], list[str]]] = {
    "photo": ([ImageReply(PNG, "image/png", "a cat")], ["sendPhoto"]),
    "photo+buttons": ([ImageReply(PNG, "image/png", "a cat"), BUTTONS], ["sendPhoto"]),
    "photo as a document": (
        [ImageReply(PNG + b"\x01" * 1000, "image/png", "big")],
        ["sendDocument"],
    ),
    "photo+long caption": (
        [ImageReply(PNG, "image/png", "x" * 1500)],
        ["sendPhoto", "sendMessage"],
    ),
    "audio": ([AudioReply(b"ID3" + b"\x00" * 50, "audio/mpeg", "Song")], ["sendAudio"]),
    "voice": ([AudioReply(b"OggS" + b"\x00" * 50, "audio/ogg", voice=True)], ["sendVoice"]),
    "video": (
        [VideoReply(b"\x00" * 64, "https://cdn.test/v.mp4", "video/mp4", "#1")],
        ["sendVideo"],
    ),
    "video+buttons": (
        [VideoReply(b"\x00" * 64, None, "video/mp4", "#1"), BUTTONS],
        ["sendVideo", "sendMessage"],
    ),
    "video link": ([VideoReply(None, "https://cdn.test/v.mp4", caption="#1")], ["sendMessage"]),
    "text": ([FinalText("lyrics", markdown=False)], ["sendMessage"]),
    "text+buttons": ([FinalText("lyrics", markdown=False), BUTTONS], ["sendMessage"]),
    "notice": ([Notice("note")], ["sendMessage"]),
    "buttons": ([BUTTONS], ["sendMessage"]),
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.add_chat(CHAT)
        server.photo_upload_limit = 500  # a larger "photo" goes as a document
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


def delivery(sender: TelegramSender) -> ReplyRenderer:
    """A renderer as job deliveries use it: it stops at the first refused part."""
    return ReplyRenderer(
        sender, Target(CHAT, False), interval_s=0.01, max_upload=10_000, tolerant=False
    )


@pytest.mark.parametrize("kind", list(FIRST_PARTS))
async def test_a_part_sent_is_counted_when_a_later_part_fails(
    fake: FakeTelegram, sender: TelegramSender, kind: str
) -> None:
    first, methods = FIRST_PARTS[kind]
    # The part after it is refused: a voice note, or (after a voice note) a song.
    later = AudioReply(b"ID3" + b"\x01" * 50, "audio/mpeg", "Next", voice=kind != "voice")
    fake.fail_next("sendVoice" if later.voice else "sendAudio", 400, REFUSED)
    renderer = delivery(sender)
    with pytest.raises(BadRequest):
        await renderer.render(events(*first, later))
    sent = [c.method for c in fake.calls if c.status == 200 and c.method.startswith("send")]
    assert [m for m in sent if m != "sendChatAction"] == methods
    assert renderer.message_ids == [str(m.message_id) for m in fake.messages(CHAT)]
    assert renderer.message_ids  # so the job engine offers a resend instead of a copy


async def test_a_refused_text_stops_a_delivery(fake: FakeTelegram, sender: TelegramSender) -> None:
    fake.fail_next("sendMessage", 400, REFUSED)
    renderer = delivery(sender)
    with pytest.raises(TextLost):
        await renderer.render(events(AudioReply(b"ID3", "audio/mpeg", "Song"), FinalText("words")))
    assert len(renderer.message_ids) == 1  # the song went out, the lyrics did not
