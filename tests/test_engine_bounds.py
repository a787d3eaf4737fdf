"""Bounded work in the engine: over-long messages and floods of one conversation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bots.app import App
from core.engine.locks import KeyedLocks, Place
from core.platform.types import (
    Attachment,
    ErrorReply,
    FinalText,
    IncomingMessage,
    ReplyEvent,
    TextDelta,
)
from tests.conftest import collect, make_settings, message
from tests.fake_relay import FakeRelay, Stream

LONG_LIMIT = "chat:\n  max_input_chars: 50\n"
TOO_LONG = "x" * 51
OGG = b"OggS\x00\x02" + b"\x00" * 40


def chat_texts(relay: FakeRelay) -> list[str]:
    return [
        r.json["messages"][-1]["content"]
        for r in relay.requests
        if r.path == "/v1/chat/completions"
    ]


async def test_a_message_over_the_default_limit_is_refused_and_never_sent(
    app: App, fake_relay: FakeRelay
) -> None:
    events = await collect(app, message("a" * 16_001))
    assert events == [
        ErrorReply(
            "That message is too long (16001 characters): at most 16000. "
            "Please shorten it or send it in parts.",
            "input_too_long",
        )
    ]
    assert fake_relay.requests == []
    zh = await collect(app, message("长" * 16_001, language="zh"))
    assert zh[0].text.startswith("消息太长了（16001 个字符）")  # type: ignore[union-attr]
    ok = await collect(app, message("a" * 16_000))  # at the limit is fine
    assert ok[-1] == FinalText("echo: " + "a" * 16_000)
    assert len(fake_relay.requests) == 1
    assert [m["role"] for m in fake_relay.requests[0].json["messages"]] == ["system", "user"]


async def test_long_commands_captions_and_prompts_count_too(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    async with App(make_settings(tmp_path, fake_relay.url, LONG_LIMIT)) as app:
        photo = Attachment("image", b"\x89PNG not really", "image/png", "p.png")
        for text in (f"/system {TOO_LONG}", f"/img {TOO_LONG}", f"/vision {TOO_LONG}", TOO_LONG):
            msg = replace(message(text), attachments=(photo,))
            events = await collect(app, msg)
            assert [e.code for e in events if isinstance(e, ErrorReply)] == ["input_too_long"]
            assert len(events) == 1
        assert fake_relay.requests == []
        await collect(app, message("/system"))  # the long prompt was not set
        await collect(app, message("hello"))
        sent = fake_relay.requests[-1].json["messages"]
        assert TOO_LONG not in str(sent)  # nor stored in the history


async def test_a_voice_transcript_over_the_limit_is_not_answered(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    fake_relay.transcript = "word " * 20  # 100 characters
    async with App(make_settings(tmp_path, fake_relay.url, LONG_LIMIT)) as app:
        note = Attachment("audio", OGG, "audio/ogg", "voice.ogg", 3.0)
        events = await collect(app, replace(message(""), attachments=(note,)))
        assert [e.code for e in events if isinstance(e, ErrorReply)] == ["input_too_long"]
        assert chat_texts(fake_relay) == []  # transcribed, but not sent to the chat model
        fake_relay.transcript = "short"
        events = await collect(app, replace(message(""), attachments=(note,)))
        assert events[-1] == FinalText("echo: short")


async def test_a_flood_of_one_conversation_queues_up_to_the_bound(
    app: App, fake_relay: FakeRelay
) -> None:
    """10 messages while the relay holds the first answer: 1 + 3 reach the relay, in order."""
    release = asyncio.Event()
    fake_relay.enqueue(Stream(chunks=["first ", "answer"], hold=release))
    first = app.engine.handle(message("m0"))
    assert await anext(first) == TextDelta("first ")  # the relay now holds m0's answer
    queued = [asyncio.create_task(collect(app, message(f"m{i}"))) for i in range(1, 4)]
    await until(lambda: app.engine.locks.waiting("test:u:u1") == 3)  # they took their places
    refused = [await collect(app, message(f"m{i}")) for i in range(4, 10)]
    busy = ErrorReply(
        "Still answering your earlier messages. Please wait for that answer before sending "
        "more.",
        "conversation_busy",
    )
    assert refused == [[busy]] * 6  # told at once, without waiting for the answer
    other = await collect(app, message("elsewhere", user="u2"))  # other conversations go on
    assert other[-1] == FinalText("echo: elsewhere")
    assert chat_texts(fake_relay) == ["m0", "elsewhere"]

    release.set()
    assert [e async for e in first][-1] == FinalText("first answer")
    answers = [(await task)[-1] for task in queued]
    assert answers == [FinalText(f"echo: m{i}") for i in range(1, 4)]
    assert chat_texts(fake_relay) == ["m0", "elsewhere", "m1", "m2", "m3"]  # in order
    assert len(app.engine.locks) == 0 and app.engine.in_flight == 0
    again = await collect(app, message("after the flood"))  # the line is free again
    assert again[-1] == FinalText("echo: after the flood")


async def test_a_place_taken_by_admit_counts_and_is_left_once(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    extra = "chat:\n  max_queued_per_conversation: 0\n"
    async with App(make_settings(tmp_path, fake_relay.url, extra)) as app:
        place = app.engine.admit(message("downloading a photo first"))
        refused = await collect(app, message("meanwhile"))
        assert [e.code for e in refused] == ["conversation_busy"]  # type: ignore[attr-defined]
        events = await collect_with(app, message("the photo's question"), place)
        assert events[-1] == FinalText("echo: the photo's question")
        place.leave()  # an adapter's finally: harmless after handle left it
        assert len(app.engine.locks) == 0
        assert (await collect(app, message("next")))[-1] == FinalText("echo: next")


async def collect_with(app: App, msg: IncomingMessage, place: Place) -> list[ReplyEvent]:
    return [e async for e in app.engine.handle(msg, place=place)]


async def until(condition: Callable[[], bool], limit_s: float = 5.0) -> None:
    """Let other tasks run until ``condition()`` holds (fails after ``limit_s``)."""
    async with asyncio.timeout(limit_s):
        while not condition():  # noqa: ASYNC110 - polls a plain condition, there is no event
            await asyncio.sleep(0.001)


async def test_turns_follow_the_order_places_were_taken_not_the_order_of_hold() -> None:
    """Issue 15: a message that awaits the database between taking its place and holding it
    (the access gate, on a PostgreSQL pool whose answers come back in any order) is not
    overtaken by the message after it."""
    locks = KeyedLocks()
    first, second, third = (locks.join("k") for _ in range(3))
    assert first is not None and second is not None and third is not None
    order: list[str] = []
    first_may_hold = asyncio.Event()

    async def run(name: str, place: Place, before: asyncio.Event | None = None) -> None:
        if before is not None:
            await before.wait()  # a slow await before hold()
        try:
            async with place.hold():
                order.append(name)
                await asyncio.sleep(0)
        finally:
            place.leave()

    tasks = [
        asyncio.create_task(run("second", second)),
        asyncio.create_task(run("first", first, first_may_hold)),
    ]
    await asyncio.sleep(0.01)
    assert order == []  # the second waits for the first, which has not come yet
    third.leave()  # one that gives up its place holds no one up
    first_may_hold.set()
    await asyncio.gather(*tasks)
    assert order == ["first", "second"] and len(locks) == 0
