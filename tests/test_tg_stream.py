"""Streaming by edits, with the real PTB Bot against the fake Bot API: no text is ever lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Bot

from bots.shared.flood import FloodGate, FloodLimits
from bots.telegram.render import ReplyRenderer
from bots.telegram.send import Target, TelegramSender
from bots.telegram.stream import StreamingAnswer
from core.platform.types import ErrorReply, ReplyEvent, TextDelta
from tests.fake_relay import FakeRelay, Stream
from tests.fake_telegram import FakeTelegram
from tests.fake_telegram import FloodLimits as FakeFlood
from tests.telegram_harness import bot_settings, running_bot, texts

CHAT = 1001


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.add_chat(CHAT)
        yield server


async def _sender(fake: FakeTelegram, per_chat_per_s: float = 50) -> TelegramSender:
    bot = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
    await bot.initialize()
    return TelegramSender(bot, FloodGate(FloodLimits(per_chat_per_s, 1000, 1000)), retry_s=0.01)


def shown(fake: FakeTelegram) -> list[str]:
    return [m.text or "" for m in fake.messages(CHAT)]


async def test_a_failed_send_of_a_full_chunk_loses_no_text(fake: FakeTelegram) -> None:
    sender = await _sender(fake)
    answer = StreamingAnswer(sender, Target(CHAT, False), interval_s=0.01)
    text = " ".join(f"word{i}" for i in range(900))  # ~6000 characters: two messages
    fake.fail_next("sendMessage", 500, "Internal Server Error", times=2)
    for i in range(0, len(text), 300):
        answer.add(text[i : i + 300])
    await answer.finish()
    assert " ".join(" ".join(shown(fake)).split()) == text
    await sender.bot.shutdown()


async def test_text_streamed_before_an_error_shows_before_the_error(fake: FakeTelegram) -> None:
    sender = await _sender(fake)

    async def events() -> AsyncIterator[ReplyEvent]:
        yield TextDelta("Partial answer that ")
        yield TextDelta("was cut")
        yield ErrorReply("The relay failed", "relay_upstream")

    await ReplyRenderer(sender, Target(CHAT, False), interval_s=0.01, max_upload=10**6).render(
        events()
    )
    assert shown(fake) == ["Partial answer that was cut", "The relay failed"]
    await sender.bot.shutdown()


async def test_text_that_arrives_during_an_edit_is_shown_without_a_new_piece(
    fake: FakeTelegram,
) -> None:
    sender = await _sender(fake)
    answer = StreamingAnswer(sender, Target(CHAT, False), interval_s=0.05)
    answer.add("Hello")
    await fake.wait_for(lambda: shown(fake) == ["Hello"])
    answer.add(", world")  # then the model pauses (thinking): no further piece for a while
    await fake.wait_for(lambda: shown(fake) == ["Hello, world"])
    await answer.finish()
    await sender.bot.shutdown()


async def test_stale_copy_is_deleted_even_under_the_real_per_chat_limit(
    fake: FakeTelegram,
) -> None:
    fake.flood = FakeFlood(per_chat_per_s=1)
    sender = await _sender(fake, per_chat_per_s=1)
    answer = StreamingAnswer(sender, Target(CHAT, False), interval_s=0.01)
    answer.add("Hello")
    await fake.wait_for(lambda: shown(fake) == ["Hello"])
    answer.add(", world")
    fake.fail_next("editMessageText", 500, "Internal Server Error", times=10)
    await answer.finish()
    assert shown(fake) == ["Hello, world"]
    assert not [c for c in fake.calls if c.status == 429]
    await sender.bot.shutdown()


async def test_rejected_html_while_streaming_falls_back_to_plain_text(fake: FakeTelegram) -> None:
    fake.flood = FakeFlood(per_chat_per_s=2)
    sender = await _sender(fake, per_chat_per_s=2)
    rejection = 'Bad Request: can\'t parse entities: Unsupported start tag "b" at byte offset 0'
    fake.fail_next("sendMessage", 400, rejection)
    answer = StreamingAnswer(sender, Target(CHAT, False), interval_s=0.01)
    answer.add("**Bold** start")
    await fake.wait_for(lambda: shown(fake) == ["Bold start"])  # before the answer ends
    answer.add(" and more")
    await answer.finish()
    assert shown(fake) == ["Bold start and more"]
    await sender.bot.shutdown()


async def test_many_chats_streaming_at_once_all_complete_with_no_429(fake: FakeTelegram) -> None:
    # Telegram's kind of limits, scaled up to keep the test short; the gate and the fake
    # enforce the same ones. 44 private chats and 6 groups stream at once, more calls than
    # a second of the global budget: every answer must end complete, none refused.
    fake.flood = FakeFlood(per_chat_per_s=10, per_group_per_min=12, global_per_s=40)
    sender = await _sender(fake)
    sender.gate = FloodGate(FloodLimits(10, 12, 40))
    chats = [2000 + n for n in range(44)] + [-1009000 - n for n in range(6)]
    for chat in chats:
        fake.add_chat(chat, chat_type="supergroup" if chat < 0 else None)
    words = [f"word{i} " for i in range(40)]

    async def stream(chat: int) -> None:
        answer = StreamingAnswer(sender, Target(chat, chat < 0), interval_s=0.05)
        for word in words:
            answer.add(word)
            await asyncio.sleep(0.005)  # a model's pace, so that edits are worth making
        await answer.finish()

    await asyncio.gather(*(stream(chat) for chat in chats))
    full = "".join(words).strip()
    for chat in chats:
        assert [m.text for m in fake.messages(chat)] == [full]
    assert not [c for c in fake.calls if c.status == 429]
    await sender.bot.shutdown()


async def test_a_first_text_that_waited_in_line_sends_all_there_is_by_its_turn(
    fake: FakeTelegram,
) -> None:
    sender = await _sender(fake, per_chat_per_s=1)
    held = await sender.gate.acquire(str(CHAT), False)  # a call on its way holds the chat
    answer = StreamingAnswer(sender, Target(CHAT, False), interval_s=0.01)
    answer.add("Hello")
    await fake.wait_for(lambda: sender.gate.waiting == 1)  # the first text is in line
    answer.add(", world")
    finishing = asyncio.create_task(answer.finish())  # the answer ends while it waits
    await fake.wait_for(lambda: answer._closed.is_set())
    sender.gate.release(held)
    await finishing
    assert shown(fake) == ["Hello, world"]
    assert [c.method for c in fake.calls if c.method != "getMe"] == ["sendMessage"]  # one call
    await sender.bot.shutdown()


async def test_many_users_at_once_through_the_whole_bot_all_answers_complete(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    # The adapter as `relaybot run` builds it, the gate from `telegram.limits`, the fake
    # enforcing the same limits (Telegram's, scaled up to keep the test short).
    fake.flood = FakeFlood(per_chat_per_s=5, per_group_per_min=30, global_per_s=20)
    limits = "    per_chat_per_s: 5\n    per_group_per_min: 30\n    global_per_s: 20\n"
    users = [3000 + n for n in range(30)]
    groups = [-1003000 - n for n in range(3)]
    chunks = ["Streamed "] + [f"piece{i} " for i in range(15)] + ["done."]
    full = "".join(chunks)
    for _ in users + groups:
        fake_relay.enqueue(Stream(chunks=chunks, pace_s=0.01))
    async with running_bot(bot_settings(tmp_path, fake_relay, fake, limits=limits), fake):
        for user in users:
            fake.send_text(user, "tell me")
        for group in groups:
            fake.send_text(group, "@RelayTestBot tell us", user_id=7, chat_type="supergroup")
        await fake.wait_for(
            lambda: all(texts(fake, chat)[-1:] == [full] for chat in users + groups), timeout=30
        )
    assert not [c for c in fake.calls if c.status == 429]
