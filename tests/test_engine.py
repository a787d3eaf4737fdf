"""The engine end to end: real RelayClient over HTTP to the fake relay, real SQLite store."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from bots.app import App
from core.platform.types import Attachment, ButtonRows, ErrorReply, FinalText, Notice, TextDelta
from tests.conftest import TEST_TRAITS, collect, make_settings, message
from tests.fake_relay import FakeRelay, Json, OpenAIError, Raw, Stream
from tests.pictures import decode_data_uri, picture


def _sent_messages(relay: FakeRelay) -> list[tuple[str, str]]:
    body = relay.requests[-1].json
    return [(m["role"], m["content"]) for m in body["messages"]]


async def test_chat_streams_deltas_then_final_text(app: App, fake_relay: FakeRelay) -> None:
    events = await collect(app, message("hello there"))
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) >= 2  # really streamed, not one piece
    assert "".join(deltas) == "echo: hello there"
    assert events[-1] == FinalText("echo: hello there")
    body = fake_relay.requests[-1].json
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["model"] == "gpt-test"


async def test_history_is_sent_and_survives_restart(tmp_path: Path, fake_relay: FakeRelay) -> None:
    settings = make_settings(tmp_path, fake_relay.url)
    async with App(settings) as first:
        await collect(first, message("my name is Ada"))
    async with App(settings) as second:  # a new process: same database file
        await collect(second, message("what is my name?"))
    sent = _sent_messages(fake_relay)
    assert sent[0][0] == "system"
    assert sent[1:] == [
        ("user", "my name is Ada"),
        ("assistant", "echo: my name is Ada"),
        ("user", "what is my name?"),
    ]


async def test_history_is_trimmed_to_the_token_budget(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    settings = make_settings(
        tmp_path, fake_relay.url, "chat:\n  history_tokens: 120\n  system_prompt: ''"
    )
    async with App(settings) as app:
        for i in range(6):
            await collect(app, message(f"message number {i} " + "x" * 60))
        await collect(app, message("last"))
    sent = _sent_messages(fake_relay)
    assert sent[-1] == ("user", "last")
    assert sent[0][0] == "user"  # no system prompt, and never an answer without its question
    assert 1 < len(sent) < 13  # some history, not all of it
    assert "message number 5" in sent[-3][1] and all("number 0 " not in c for _, c in sent)


async def test_conversations_are_separate_per_user_and_per_group_member(
    app: App, fake_relay: FakeRelay
) -> None:
    await collect(app, message("secret of alice", user="alice"))
    await collect(app, message("hi", user="bob"))
    assert all("alice" not in c for _, c in _sent_messages(fake_relay))
    await collect(app, message("group one", user="alice", chat="g1", chat_type="group"))
    await collect(app, message("group two", user="bob", chat="g1", chat_type="group"))
    assert all("group one" not in c for _, c in _sent_messages(fake_relay))


async def test_shared_group_mode_and_per_chat_override(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    extra = "chat:\n  group_mode: shared\n  group_overrides:\n    'test:g2': per_user"
    async with App(make_settings(tmp_path, fake_relay.url, extra)) as app:
        await collect(app, message("from alice", user="alice", chat="g1", chat_type="group"))
        await collect(app, message("from bob", user="bob", chat="g1", chat_type="group"))
        assert ("user", "from alice") in _sent_messages(fake_relay)
        await collect(app, message("a2", user="alice", chat="g2", chat_type="group"))
        await collect(app, message("b2", user="bob", chat="g2", chat_type="group"))
        assert ("user", "a2") not in _sent_messages(fake_relay)
        # A forum topic is its own conversation even in a shared group.
        await collect(app, message("topic", user="bob", chat="g1", chat_type="group", thread="7"))
        assert ("user", "from alice") not in _sent_messages(fake_relay)


async def test_reasoning_and_think_blocks_never_reach_the_answer_or_history(
    app: App, fake_relay: FakeRelay
) -> None:
    await collect(app, message("/model fake-think"))
    events = await collect(app, message("q1"))
    assert events[-1] == FinalText("Answer")
    assert all("secret" not in e.text for e in events if isinstance(e, TextDelta))
    await collect(app, message("/model fake-reasoner"))
    events = await collect(app, message("q2"))
    assert events[-1] == FinalText("The answer is 42.")
    await collect(app, message("/model gpt-test"))
    await collect(app, message("q3"))
    stored = " ".join(c for _, c in _sent_messages(fake_relay))
    assert "secret" not in stored and "think" not in stored and "42" in stored


async def test_cut_stream_gives_partial_answer_and_a_notice(app: App) -> None:
    await collect(app, message("/model fake-cut"))
    events = await collect(app, message("tell me"))
    assert FinalText("This answer is cut") in events
    assert events[-1] == Notice("⚠️ The answer was cut off; above is the part that arrived.")


async def test_empty_answer_gets_a_notice_and_is_not_stored(
    app: App, fake_relay: FakeRelay
) -> None:
    fake_relay.enqueue(Stream(chunks=[]))
    events = await collect(app, message("say nothing"))
    assert events == [Notice("The model returned nothing. Try rephrasing your message.")]
    await collect(app, message("next"))
    assert ("user", "say nothing") not in _sent_messages(fake_relay)


@pytest.mark.parametrize(
    ("script", "code", "words"),
    [
        (OpenAIError(401, "无效的令牌"), "relay_auth", "API key"),
        (
            OpenAIError(403, "user quota is not enough", code="insufficient_user_quota"),
            "relay_quota",
            "balance",
        ),
        (OpenAIError(403, "该令牌无权访问模型 gpt-test"), "relay_forbidden", "/model"),
        (
            OpenAIError(503, "当前分组 default 下对于模型 gpt-test 无可用渠道"),
            "relay_no_channel",
            "/model",
        ),
        (Raw(524, b"<html>timeout</html>", "text/html"), "relay_timeout", "timed out"),
        (
            Json(400, {"error": {"message": "bad param", "type": "invalid_request_error"}}),
            "relay_bad_request",
            "rejected",
        ),
    ],
)
async def test_relay_errors_become_short_user_text_and_an_admin_log_line(
    app: App,
    fake_relay: FakeRelay,
    caplog: pytest.LogCaptureFixture,
    script: object,
    code: str,
    words: str,
) -> None:
    fake_relay.enqueue(script)
    with caplog.at_level(logging.INFO, logger="relaybot"):
        events = await collect(app, message("hi", user="eve"))
    assert len(events) == 1 and isinstance(events[0], ErrorReply)
    assert events[0].code == code and words in events[0].text
    assert "request id" not in events[0].text and "<html>" not in events[0].text
    line = next(r.getMessage() for r in caplog.records if f"code={code}" in r.getMessage())
    assert "key=test:u:eve" in line and "request_id=req-" in line
    await collect(app, message("again", user="eve"))
    assert ("user", "hi") not in _sent_messages(fake_relay)  # a failed turn is not history


async def test_rate_limit_is_retried_then_explained(app: App, fake_relay: FakeRelay) -> None:
    fake_relay.enqueue(Raw(429), Raw(429), Raw(429))
    events = await collect(app, message("busy?"))
    assert [type(e) for e in events] == [ErrorReply]
    assert events[0].code == "relay_rate_limited"
    assert len(fake_relay.requests) == 3  # the first try and max_retries (default 2)


async def test_error_text_follows_the_users_language(app: App, fake_relay: FakeRelay) -> None:
    fake_relay.enqueue(OpenAIError(401, "无效的令牌"))
    events = await collect(app, message("你好", language="zh-hans"))
    assert events == [ErrorReply("机器人的 API 密钥无效或已过期，已通知管理员。", "relay_auth")]


async def test_one_conversation_at_a_time_others_run_concurrently(
    app: App, fake_relay: FakeRelay
) -> None:
    release = asyncio.Event()
    fake_relay.enqueue(Stream(chunks=["first ", "answer"], hold=release))
    first_events = app.engine.handle(message("one", user="a"))
    first_delta = await anext(first_events)  # A is streaming and now held by the relay
    assert first_delta == TextDelta("first ")

    second = asyncio.create_task(collect(app, message("two", user="a")))
    other = await collect(app, message("elsewhere", user="b"))  # not blocked by A
    assert other[-1] == FinalText("echo: elsewhere")
    assert not second.done()
    assert [r.json["messages"][-1]["content"] for r in fake_relay.requests] == ["one", "elsewhere"]
    assert app.engine.locks.busy("test:u:a")

    release.set()
    rest = [e async for e in first_events]
    assert rest[-1] == FinalText("first answer")
    second_events = await second
    assert second_events[-1] == FinalText("echo: two")
    # A's answer was stored before B ran: B saw it as history.
    assert _sent_messages(fake_relay)[-3:] == [
        ("user", "one"),
        ("assistant", "first answer"),
        ("user", "two"),
    ]
    assert len(app.engine.locks) == 0 and app.engine.in_flight == 0  # idle locks are freed


async def test_many_conversations_in_parallel_keep_order_per_conversation(
    app: App, fake_relay: FakeRelay
) -> None:
    async def talk(user: str) -> list[str]:
        tasks = [
            asyncio.create_task(collect(app, message(f"{user}-{i}", user=user))) for i in range(4)
        ]
        return [(await t)[-1].text for t in tasks]  # type: ignore[union-attr]

    results = await asyncio.gather(*(talk(f"user{n}") for n in range(5)))
    for n, answers in enumerate(results):
        assert answers == [f"echo: user{n}-{i}" for i in range(4)]
    await collect(app, message("check", user="user3"))
    users = [c for r, c in _sent_messages(fake_relay) if r == "user"]
    assert users == ["user3-0", "user3-1", "user3-2", "user3-3", "check"]
    assert len(app.engine.locks) == 0


async def test_model_menu_buttons_work_after_a_restart(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    settings = make_settings(tmp_path, fake_relay.url)
    async with App(settings) as app:
        app.traits.register("test", TEST_TRAITS)  # a platform with buttons
        events = await collect(app, message("/model"))
    menu = next(e for e in events if isinstance(e, ButtonRows))
    buttons = [b for row in menu.rows for b in row]
    assert [b.label for b in buttons][:2] == ["✓ gpt-test", "fake-think"]
    think = next(b for b in buttons if b.action == "/model fake-think")
    assert len(think.token) == 12 and think.token.isascii()

    async with App(settings) as app:  # a new process: the token is in the database
        pressed = replace(message(""), action_token=think.token)
        assert (await collect(app, pressed))[-1] == FinalText(
            "Switched to model fake-think.", markdown=False
        )
        assert (await collect(app, message("hi")))[-1] == FinalText("Answer")
        stale = replace(message(""), action_token="unknown-token")
        assert await collect(app, stale) == [
            ErrorReply("This button has expired. Please send the command again.", "expired_button")
        ]


async def test_vision_sends_the_picture_as_a_data_uri_to_the_vision_model(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    settings = make_settings(tmp_path, fake_relay.url, "  vision: gpt-eyes")
    async with App(settings) as app:
        photo = Attachment("image", picture(300, 200, "blue", "PNG"), "image/png", "p.png")
        msg = replace(message("/vision what is this?"), attachments=(photo,))
        events = await collect(app, msg)
        # The vision model is not the conversation's model: the answer names it.
        assert events[-1] == FinalText("echo: what is this?\n\n🖼 answered by gpt-eyes")
        body = fake_relay.requests[-1].json
        assert body["model"] == "gpt-eyes"
        parts = body["messages"][-1]["content"]
        assert parts[0] == {"type": "text", "text": "what is this?"}
        sent = decode_data_uri(parts[1]["image_url"]["url"])
        assert sent.format == "JPEG" and sent.size == (300, 200)  # re-encoded, not enlarged
        # A follow-up question still sees the picture, and goes to the vision model.
        await collect(app, message("and the colour?"))
        body = fake_relay.requests[-1].json
        assert body["model"] == "gpt-eyes" and len(body["messages"][-1]["content"]) == 2
        sent = _sent_messages(fake_relay)
        assert ("user", "[image] what is this?") in sent  # history keeps a marker
        assert all("base64" not in str(c) for _, c in sent[:-1])


async def test_a_photo_alone_is_kept_for_the_vision_question_that_follows(app: App) -> None:
    photo = Attachment("image", picture(), "image/jpeg", "p.jpg")
    events = await collect(app, replace(message("", language="zh"), attachments=(photo,)))
    assert events == [Notice("收到图片。用 /vision 问题 来提问，例如：/vision 这是什么？")]
    events = await collect(app, message("/vision"))
    assert events[-1].text.startswith("echo: Describe this picture.")  # type: ignore[union-attr]


async def test_a_broken_picture_gets_a_clear_message(app: App) -> None:
    broken = Attachment("image", b"\xff\xd8 not really a jpeg", "image/jpeg", "x.jpg")
    events = await collect(app, replace(message("/vision what?"), attachments=(broken,)))
    assert len(events) == 1 and isinstance(events[0], ErrorReply)
    assert events[0].code == "unsupported_image" and "JPEG, PNG" in events[0].text


async def test_vision_without_a_picture_and_unsupported_files(app: App) -> None:
    events = await collect(app, message("/vision"))
    assert isinstance(events[0], ErrorReply) and events[0].code == "missing_image"
    archive = Attachment("file", b"PK\x03\x04...", "application/zip", "notes.zip")
    events = await collect(app, replace(message(""), attachments=(archive,)))
    assert events == [
        Notice("I can't handle this kind of file yet. Send /help to see what I can do.")
    ]


async def test_follow_ups_see_the_picture_for_a_few_turns_only(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    extra = "vision:\n  history_turns: 2\n  name_model: false"
    async with App(make_settings(tmp_path, fake_relay.url, extra)) as app:
        photo = Attachment("image", picture(), "image/jpeg", "p.jpg")
        await collect(app, replace(message("/vision what?"), attachments=(photo,)))
        models = []
        for question in ("one", "two", "three"):
            await collect(app, message(question))
            models.append(fake_relay.requests[-1].json["model"])
        assert models == ["gpt-4o-mini", "gpt-4o-mini", "gpt-test"]  # then back to chat
        await collect(app, message("/reset"))  # a reset forgets the picture too
        events = await collect(app, message("/vision again?"))
        assert [getattr(e, "code", "") for e in events] == ["missing_image"]


async def test_help_img_explains_models_and_flags(app: App) -> None:
    events = await collect(app, message("/help img"))
    text = events[0].text  # type: ignore[union-attr]
    assert text.startswith("/img [-m MODEL] PROMPT") and "-m mj" in text and "--ar" in text
    # and which models -m may name here (models.image_choices, the default first)
    assert text.endswith(
        "Models -m may name here: dall-e-3, dall-e-2, gpt-image-1, mj, ideogram, flux-pro-ultra"
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_help_details_every_command_in_both_languages(app: App, lang: str) -> None:
    from core.commands.table import COMMANDS
    from core.texts.i18n import has_text, t

    one_liners = {"start", "help", "reset", "models"}
    for spec in (s for s in COMMANDS if not s.hidden and s.name not in one_liners):
        assert has_text(f"helpdetail.{spec.name}"), spec.name
        events = await collect(app, message(f"/help {spec.name}", language=lang))
        text = events[0].text  # type: ignore[union-attr]
        assert text.startswith(f"/{spec.name}") and text != t(spec.help_key, lang), spec.name


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("/img -m", "bad_flag"),
        ("/img --ar", "bad_flag"),
        ("/img --ar 16:9", "missing_prompt"),
        ("/video -d abc a cat", "bad_flag"),
        ("/video -d 99999999999 a cat", "bad_flag"),
        ("/video -m", "bad_flag"),
        ("/video -m foo a cat", "unknown_video_model"),
        ("/video -m gen3a_turbo a storm", "needs_photo"),
        ("/song -m", "bad_flag"),
    ],
)
async def test_bad_flags_never_become_the_prompt_of_a_paid_job(
    app: App, fake_relay: FakeRelay, text: str, code: str
) -> None:
    events = await collect(app, message(text))
    assert [getattr(e, "code", "") for e in events] == [code], events
    assert not [r for r in fake_relay.requests if r.path != "/v1/chat/completions"]


async def test_a_200_html_page_instead_of_a_stream_is_an_error_not_a_cut_answer(
    app: App, fake_relay: FakeRelay
) -> None:
    fake_relay.enqueue(Raw(200, b"<html>Please log in</html>", "text/html"))
    events = await collect(app, message("hello"))
    assert [type(e) for e in events] == [ErrorReply]
    assert events[0].code == "relay_bad_response"  # type: ignore[union-attr]


async def test_a_model_the_admin_no_longer_allows_falls_back_to_the_default(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    async with App(make_settings(tmp_path, fake_relay.url)) as app:
        await collect(app, message("/model fake-think"))
    narrower = "  chat_choices: [gpt-test]\n"
    text = (
        (tmp_path / "config.yaml")
        .read_text()
        .replace(
            "  chat_choices: [gpt-test, fake-think, fake-reasoner, fake-cut, fake-keepalive]\n",
            narrower,
        )
    )
    from core.config.settings import parse_config
    from tests.conftest import TEST_KEY

    async with App(parse_config(text, "c", {"RELAY_API_KEY": TEST_KEY})) as app:
        await collect(app, message("hi"))
    assert fake_relay.requests[-1].json["model"] == "gpt-test"
