"""The Telegram adapter end to end: real python-telegram-bot, fake Bot API, fake relay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import ClientSession, web

from tests.conftest import make_settings
from tests.fake_relay import FakeRelay, Stream
from tests.fake_telegram import FakeTelegram
from tests.pictures import decode_data_uri, picture
from tests.telegram_harness import (
    GROUP,
    JOBS,
    USER,
    bot_settings,
    free_port,
    running_bot,
    telegram_config,
    texts,
    wait_listening,
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def relay_texts(relay: FakeRelay) -> list[str]:
    return [r.json["messages"][-1]["content"] for r in relay.requests if r.json]


async def test_private_chat_streams_and_ends_with_the_full_text(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    release = asyncio.Event()
    fake_relay.enqueue(Stream(chunks=["Hello, ", "**world**", "! All done."], hold=release))
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        fake.send_text(USER, "hi there")
        first = await fake.wait_for_call("sendMessage")
        assert first.params["text"] == "Hello,"  # the first piece, while the rest is held
        release.set()
        await fake.wait_for(lambda: texts(fake, USER) == ["Hello, world! All done."])
    message = fake.messages(USER)[0]
    assert message.parse_mode == "HTML" and "<b>world</b>" in (message.source or "")
    assert len(fake.messages(USER)) == 1  # one message, edited as the answer grew
    assert fake.calls_to("editMessageText")


async def test_group_answers_only_when_addressed(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        group = {"chat_type": "supergroup", "chat_title": "Friends"}
        fake.send_text(GROUP, "just chatting among us", user_id=7, **group)
        fake.send_text(GROUP, "/help@OtherBot", user_id=7, **group)
        fake.send_text(GROUP, "@RelayTestBot what is 2+2?", user_id=7, **group)
        await fake.wait_for(lambda: "echo: what is 2+2?" in texts(fake, GROUP))
        answer = fake.messages(GROUP)[-1]
        reply = answer.reply_to
        assert reply is not None and reply.text == "@RelayTestBot what is 2+2?"

        fake.send_text(GROUP, "and 3+3?", user_id=7, reply_to_message_id=answer.message_id, **group)
        await fake.wait_for(lambda: "echo: and 3+3?" in texts(fake, GROUP))
        fake.send_text(GROUP, "/help@RelayTestBot", user_id=8, **group)
        await fake.wait_for(lambda: any(t.startswith("Commands:") for t in texts(fake, GROUP)))
    # Only the addressed messages reached the relay; the others got no answer at all.
    assert relay_texts(fake_relay) == ["what is 2+2?", "and 3+3?"]
    assert len(fake.messages(GROUP)) == 3


async def test_trigger_words_and_forum_topics(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    settings = bot_settings(tmp_path, fake_relay, fake, "  trigger_words: [Robot]\n")
    async with running_bot(settings, fake):
        fake.send_text(
            GROUP,
            "hey robot, tell me a joke",
            user_id=7,
            thread_id=42,
            is_topic_message=True,
            chat_type="supergroup",
        )
        await fake.wait_for(lambda: texts(fake, GROUP) == ["echo: hey robot, tell me a joke"])
    assert fake.messages(GROUP)[0].thread_id == 42
    assert fake.calls_to("sendMessage")[0].params["message_thread_id"] == 42


async def test_an_8000_character_answer_arrives_complete_in_several_messages(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    paragraphs = [f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 12 for i in range(26)]
    answer = "\n\n".join(paragraphs)
    assert len(answer) > 8000
    fake_relay.enqueue(Stream(chunks=[answer[i : i + 250] for i in range(0, len(answer), 250)]))
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        fake.send_text(USER, "write a lot")
        await fake.wait_for(lambda: _complete(fake, answer))
    shown = texts(fake, USER)
    assert len(shown) >= 2
    assert all(len(t) <= 4096 for t in shown)
    assert all(t.startswith("Paragraph") for t in shown)  # cut between paragraphs


def _complete(fake: FakeTelegram, answer: str) -> bool:
    return " ".join(" ".join(texts(fake, USER)).split()) == " ".join(answer.split())


async def test_rejected_html_is_sent_again_as_plain_text(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    fake_relay.enqueue(Stream(chunks=["Use **bold** and `code` <here>"]))
    rejection = 'Bad Request: can\'t parse entities: Unsupported start tag "b" at byte offset 4'
    fake.fail_next("sendMessage", 400, rejection)
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        fake.send_text(USER, "format something")
        await fake.wait_for(lambda: texts(fake, USER) == ["Use bold and code <here>"])
    message = fake.messages(USER)[0]
    assert message.parse_mode is None
    assert "**" not in (message.source or "") and "`" not in (message.source or "")


async def test_flood_wait_during_streaming_delays_edits_and_the_end_still_arrives(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    release = asyncio.Event()
    fake_relay.enqueue(Stream(chunks=["Part one. ", "Part two. ", "Part three."], hold=release))
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        fake.send_text(USER, "go")
        await fake.wait_for_call("sendMessage")
        fake.fail_next("editMessageText", 429, "Too Many Requests: retry after 1", retry_after=1)
        release.set()
        await fake.wait_for(lambda: texts(fake, USER) == ["Part one. Part two. Part three."])
    refused = next(c for c in fake.calls if c.method == "editMessageText" and c.status == 429)
    later = [c for c in fake.calls if c.time > refused.time and c.method == "editMessageText"]
    assert later, "the final text must come by an edit after the flood wait"
    assert all(c.time - refused.time >= 0.95 for c in later)  # nothing during the wait


async def test_photo_with_vision_reaches_the_engine_as_image_bytes(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    photo = picture(120, 80, "green")
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        fake.send_photo(USER, photo, caption="/vision what is in it?")
        await fake.wait_for(
            lambda: texts(fake, USER)[:1] == ["echo: what is in it?\n\n🖼 answered by gpt-4o-mini"]
        )
    parts = fake_relay.requests[-1].json["messages"][-1]["content"]
    sent = decode_data_uri(parts[1]["image_url"]["url"])
    assert sent.size == (120, 80) and sent.getpixel((5, 5))[1] > 100  # the user's green photo


async def test_a_button_press_works_after_a_restart(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    settings = bot_settings(tmp_path, fake_relay, fake)
    async with running_bot(settings, fake):
        fake.send_text(USER, "/model")
        await fake.wait_for(lambda: any(m.reply_markup for m in fake.messages(USER)))
    menu = next(m for m in fake.messages(USER) if m.reply_markup)
    buttons = [b for row in menu.reply_markup["inline_keyboard"] for b in row]  # type: ignore[index]
    think = next(b for b in buttons if b["text"] == "fake-think")
    assert len(think["callback_data"].encode()) <= 64

    async with running_bot(settings, fake):  # a new process, same database
        fake.press_button(USER, menu.message_id, think["callback_data"])
        await fake.wait_for(lambda: "Switched to model fake-think." in texts(fake, USER))
        assert fake.calls_to("answerCallbackQuery")


async def test_history_survives_a_restart(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    settings = bot_settings(tmp_path, fake_relay, fake)
    async with running_bot(settings, fake):
        fake.send_text(USER, "my name is Ada")
        await fake.wait_for(lambda: texts(fake, USER) == ["echo: my name is Ada"])
    async with running_bot(settings, fake):
        fake.send_text(USER, "who am I?")
        await fake.wait_for(lambda: "echo: who am I?" in texts(fake, USER))
    sent = fake_relay.requests[-1].json["messages"]
    assert {"role": "user", "content": "my name is Ada"} in sent
    assert {"role": "assistant", "content": "echo: my name is Ada"} in sent


async def test_start_up_registers_the_command_menu_in_zh_and_en(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        pass
    zh = {c["command"]: c["description"] for c in fake.commands_for(language_code="zh")}
    en = {c["command"]: c["description"] for c in fake.commands_for(language_code="en")}
    assert set(zh) == set(en) >= {"start", "help", "reset", "model", "models", "system", "img"}
    assert en["reset"].startswith("clear the conversation") and zh["help"] == "显示这份命令列表"
    # Start-up and shutdown as PTB does them: getMe, deleteWebhook, polls, a final confirm.
    methods = [c.method for c in fake.calls]
    assert methods[0] == "getMe" and "deleteWebhook" in methods
    assert fake.calls_to("getUpdates")[-1].params.get("timeout") == 0


async def test_typing_shows_until_the_first_token(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    release = asyncio.Event()
    # Reasoning first (not shown), then the stream is held: the user waits for a first token.
    fake_relay.enqueue(Stream(chunks=[{"reasoning_content": "hmm"}, "Answer."], hold=release))
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        fake.send_text(USER, "think hard")
        action = await fake.wait_for_call("sendChatAction")
        assert action.params["action"] == "typing" and not fake.calls_to("sendMessage")
        release.set()
        await fake.wait_for(lambda: texts(fake, USER) == ["Answer."])


async def test_album_reaches_the_engine_as_one_message(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    photos = [picture(40, 30, "red"), picture(50, 30, "green"), picture(60, 30, "blue")]
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        fake.send_album(USER, photos, caption="/vision compare these")
        await fake.wait_for(
            lambda: any(t.startswith("echo: compare these") for t in texts(fake, USER))
        )
    assert len(fake_relay.requests) == 1
    parts = fake_relay.requests[0].json["messages"][-1]["content"]
    sizes = [decode_data_uri(p["image_url"]["url"]).size for p in parts[1:]]
    assert sizes == [(40, 30), (50, 30), (60, 30)]  # all three, in order


async def test_vision_in_reply_to_a_photo_and_a_file_over_the_limit(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    photo = picture()
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        update = fake.send_photo(GROUP, photo, user_id=7, chat_type="supergroup")
        photo_id = update["message"]["message_id"]
        fake.send_text(
            GROUP, "/vision", user_id=7, reply_to_message_id=photo_id, chat_type="supergroup"
        )
        await fake.wait_for(
            lambda: any(t.startswith("echo: Describe this picture.") for t in texts(fake, GROUP))
        )
        fake.add_chat(USER)
        big = fake.add_file(
            b"x" * 100,
            size=25_000_000,
            kind="documents",
            file_name="scan.png",
            mime_type="image/png",
        )
        fake.queue_update(
            "message",
            {
                "message_id": 900,
                "date": 1767225600,
                "chat": {"id": USER, "type": "private"},
                "from": {"id": USER, "is_bot": False, "first_name": "Alice", "language_code": "en"},
                "caption": "/vision what is this",
                "caption_entities": [{"type": "bot_command", "offset": 0, "length": 7}],
                "document": {
                    "file_id": big,
                    "file_unique_id": "u-big",
                    "file_name": "scan.png",
                    "mime_type": "image/png",
                    "file_size": 25_000_000,
                },
            },
        )
        await fake.wait_for(lambda: any("too big (25 MB)" in t for t in texts(fake, USER)))
    assert not fake.calls_to("getFile", ok=False)  # refused before trying to download
    assert len(fake_relay.requests) == 1


async def test_a_blocked_user_or_a_failing_update_never_stops_the_adapter(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    fake.blocked_chats.add(2002)
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        fake.send_text(2002, "hello from someone who blocked the bot")
        await fake.wait_for(lambda: any(c.status == 403 for c in fake.calls))
        fake.fail_next("sendMessage", 500, "Internal Server Error", times=3)
        fake.send_text(USER, "first")
        fake.send_text(USER, "second")
        await fake.wait_for(lambda: "echo: second" in texts(fake, USER))
    assert len(fake_relay.requests) == 3  # every message reached the engine


async def test_every_answer_completes_under_real_flood_limits(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    # The fake enforces Telegram's per-chat rate (scaled up 5x to keep the test short); the
    # bot is configured with the same limits and must neither lose an answer nor hit a 429.
    from tests.fake_telegram import FloodLimits

    fake.flood = FloodLimits(per_chat_per_s=5, per_group_per_min=100, global_per_s=30)
    limits = "    per_chat_per_s: 5\n    per_group_per_min: 100\n    global_per_s: 30\n"
    queue = "chat:\n  max_queued_per_conversation: 20\n"  # all 15 wait their turn
    settings = make_settings(
        tmp_path, fake_relay.url, queue + JOBS + telegram_config(fake, limits=limits)
    )
    for n in range(3):  # answers that stream for ~1 s each: edits, not just one message
        chunks = [f"Answer {n}: "] + ["word "] * 20 + ["end."]
        fake_relay.enqueue(Stream(chunks=chunks, pace_s=0.05))
    async with running_bot(settings, fake):
        for n in range(3):
            fake.send_text(USER, f"question {n}")
        for n in range(3, 15):  # and a burst of short answers to the same chat
            fake.send_text(USER, f"short {n}")
        await fake.wait_for(
            lambda: (
                sum(t.endswith("end.") for t in texts(fake, USER)) == 3
                and sum(t.startswith("echo: short") for t in texts(fake, USER)) == 12
            ),
            timeout=30,
        )
    assert fake.calls_to("editMessageText")
    assert not [c for c in fake.calls if c.status == 429]


async def test_webhook_mode_behind_a_reverse_proxy(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    port = free_port()
    webhook = (
        "  webhook:\n"
        "    url: https://bot.example.test/tg/hook\n"
        "    listen: 127.0.0.1\n"
        f"    port: {port}\n"
        "    secret_token: s3cret-Token_1\n"
    )
    settings = bot_settings(tmp_path, fake_relay, fake, webhook)
    async with running_bot(settings, fake):
        assert fake.webhook["url"] == "https://bot.example.test/tg/hook"
        update = {
            "update_id": 5001,
            "message": {
                "message_id": 77,
                "date": 1767225600,
                "chat": {"id": USER, "type": "private"},
                "from": {"id": USER, "is_bot": False, "first_name": "Alice"},
                "text": "via hook",
            },
        }
        fake.add_chat(USER)
        url = f"http://127.0.0.1:{port}/tg/hook"
        await wait_listening(port)
        async with httpx.AsyncClient() as client:
            wrong = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
            )
            assert wrong.status_code == 403
            right = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}
            )
            assert right.status_code == 200
        await fake.wait_for(lambda: texts(fake, USER) == ["echo: via hook"])
    assert not fake.calls_to("getUpdates")
    assert relay_texts(fake_relay) == ["via hook"]


async def test_the_users_telegram_language_picks_the_bots_language(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        fake.send_text(USER, "/reset", language_code="zh-hans")
        fake.send_text(2002, "/reset", language_code="de")
        await fake.wait_for(lambda: texts(fake, USER) == ["已清空对话记录，我们重新开始吧。"])
        await fake.wait_for(
            lambda: texts(fake, 2002) == ["Conversation cleared. Let's start over."]
        )


async def test_the_bot_reaches_telegram_through_the_configured_http_proxy(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    seen: list[str] = []

    async def forward(request: web.Request) -> web.StreamResponse:
        # An HTTP proxy gets the absolute URL of the target; forward it and relay the answer.
        seen.append(str(request.url))
        async with (
            ClientSession() as session,
            session.request(
                request.method,
                str(request.url),
                data=await request.read(),
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            ) as upstream,
        ):
            body = await upstream.read()
            return web.Response(
                status=upstream.status, body=body, content_type=upstream.content_type
            )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        settings = bot_settings(tmp_path, fake_relay, fake, f"  proxy: http://127.0.0.1:{port}\n")
        async with running_bot(settings, fake):
            fake.send_text(USER, "through the proxy")
            await fake.wait_for(lambda: texts(fake, USER) == ["echo: through the proxy"])
    finally:
        await runner.cleanup()
    assert any(url.endswith("/getMe") for url in seen)
    assert any(url.endswith("/sendMessage") for url in seen)
    assert any(url.endswith("/getUpdates") for url in seen)


async def test_groups_ignore_other_bots_commands_and_words_inside_words(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    settings = bot_settings(tmp_path, fake_relay, fake, "  trigger_words: [ai]\n")
    async with running_bot(settings, fake):
        group = {"chat_type": "supergroup", "user_id": 7}
        fake.send_text(GROUP, "/ban spammer", **group)  # another bot's command
        fake.send_text(GROUP, "he said hello", **group)  # "ai" inside "said"
        fake.send_text(GROUP, "@RelayTestBot2 are you there?", **group)  # another bot
        fake.send_text(GROUP, "hey AI, are you there?", **group)
        await fake.wait_for(lambda: texts(fake, GROUP) == ["echo: hey AI, are you there?"])
    assert relay_texts(fake_relay) == ["hey AI, are you there?"]


async def test_the_bot_token_and_relay_key_never_reach_the_logs(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    import io
    import logging

    from core.logs import setup_logging
    from tests.conftest import TEST_KEY

    settings = bot_settings(tmp_path, fake_relay, fake)
    stream = io.StringIO()
    handler = setup_logging("DEBUG", settings.secrets(), stream=stream)
    # Let library loggers speak at DEBUG too: PTB and httpx log request URLs with the token.
    for name in ("telegram", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        async with running_bot(settings, fake):
            fake.send_photo(USER, picture(), caption="/vision what is it?")
            await fake.wait_for(lambda: len(texts(fake, USER)) >= 1)
    finally:
        logging.getLogger().removeHandler(handler)
        for name in ("telegram", "httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)
    logs = stream.getvalue()
    assert "getFile" in logs or "sendMessage" in logs  # the libraries did log their calls
    assert fake.token not in logs and fake.token.split(":")[1] not in logs
    assert TEST_KEY not in logs


async def test_a_part_telegram_refuses_never_freezes_the_conversation(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        fake.fail_next("sendMessage", 400, "Bad Request: something unexpected")
        fake.send_text(USER, "/model nope")
        await fake.wait_for(lambda: any(c.status == 400 for c in fake.calls))
        fake.send_text(USER, "/model " + "x" * 4088)  # an error text quoting a huge name
        fake.send_text(USER, "are you there?")
        await fake.wait_for(lambda: "echo: are you there?" in texts(fake, USER))
    assert all(len(t) <= 4096 for t in texts(fake, USER))
