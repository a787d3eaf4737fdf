"""FakeTelegram behaves like the Bot API for the real python-telegram-bot Bot and Application."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fake_telegram import FakeTelegram, FloodLimits
from tests.fake_telegram_rules import ApiError, parse_html

CHAT = 1001


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.add_chat(CHAT)
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as b:
        yield b


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d, callback_data=d) for d in data]])


async def test_get_me_and_wrong_token(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot, me.can_join_groups) == (
        123456,
        "RelayTestBot",
        True,
        True,
    )
    assert fake.calls[0].method == "getMe"  # Bot.initialize() asked first

    with pytest.raises(InvalidToken):
        async with Bot("123456:WRONG", base_url=fake.base_url):
            pass
    refused = fake.calls[-1]
    assert (refused.method, refused.status, refused.description) == ("getMe", 401, "Unauthorized")

    with pytest.raises(EndPointNotFound):  # PTB's name for the Bot API's 404 "Not Found"
        await bot.do_api_request("noSuchMethod")
    assert (fake.calls[-1].status, fake.calls[-1].description) == (404, "Not Found")


async def test_html_is_parsed_like_telegram(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)can't parse entities") as info:
        await bot.send_message(CHAT, "line<br>next", parse_mode=ParseMode.HTML)
    assert 'unsupported start tag "br" at byte offset 4' in info.value.message.lower()
    with pytest.raises(BadRequest, match="(?i)can't find end tag corresponding to start tag"):
        await bot.send_message(CHAT, "<b>open", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)character '\\.' is reserved"):
        await bot.send_message(CHAT, "Done.", parse_mode=ParseMode.MARKDOWN_V2)

    sent = await bot.send_message(CHAT, "<b>AT&amp;T</b> &lt;3 & more", parse_mode=ParseMode.HTML)
    assert sent.text == "AT&T <3 & more"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 4)]
    [stored] = fake.messages(CHAT)
    assert (stored.text, stored.parse_mode) == ("AT&T <3 & more", "HTML")
    assert fake.calls_to("sendMessage", ok=False)[0].status == 400

    await bot.send_message(CHAT, "123", disable_notification=True)  # text stays a string
    assert fake.calls[-1].params == {"chat_id": CHAT, "text": "123", "disable_notification": True}


@pytest.mark.parametrize(
    ("text", "detail"),  # tdlib's own texts (td/telegram/MessageEntity.cpp parse_html)
    [
        ("a<br/>b", 'Unsupported start tag "br/" at byte offset 1'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("é<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<i>x</em>", 'Unmatched end tag at byte offset 4, expected "</i>", found "</em>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
def test_html_error_details(text: str, detail: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_html(text)
    assert info.value.description == f"Bad Request: can't parse entities: {detail}"


def test_html_entities_and_tags() -> None:
    visible, entities = parse_html(
        '<b>b</b><a href="https://x.y/?a=1&amp;b=2">l</a><pre><code class="language-py">p'
        "</code></pre><blockquote expandable>q</blockquote> AT&T &#128512;"
    )
    assert visible == "blpq AT&T \U0001f600"
    assert [(e["type"], e["offset"], e.get("url") or e.get("language")) for e in entities] == [
        ("bold", 0, None),
        ("text_link", 1, "https://x.y/?a=1&b=2"),
        ("pre", 2, "py"),
        ("expandable_blockquote", 3, None),
    ]


async def test_text_limits(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(CHAT, "x" * 8000)
    await bot.send_message(CHAT, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot.send_message(CHAT, "")
    with pytest.raises(BadRequest, match="(?i)text must be non-empty"):
        await bot.send_message(CHAT, "<b> </b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)message caption is too long"):
        await bot.send_photo(CHAT, b"jpeg", caption="c" * 1025)
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        await bot.send_message(CHAT, "pick", reply_markup=keyboard("d" * 65))
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(424242, "hi")


async def test_edits_and_deletes(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(
        CHAT, "<i>draft</i>", parse_mode="HTML", reply_markup=keyboard("a")
    )
    ids: dict[str, Any] = {"chat_id": CHAT, "message_id": sent.message_id, "parse_mode": "HTML"}
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("<i>draft</i>", reply_markup=keyboard("a"), **ids)
    # Same visible text but different entities, or a dropped keyboard, is a real change.
    await bot.edit_message_text("draft", reply_markup=keyboard("a"), **ids)
    edited = await bot.edit_message_text("final", **ids)
    assert isinstance(edited, Message) and edited.text == "final" and edited.reply_markup is None
    [stored] = fake.messages(CHAT)
    assert (stored.text, stored.reply_markup, stored.edit_date is not None) == ("final", None, True)

    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=CHAT, message_id=999)
    assert await bot.delete_message(CHAT, sent.message_id)
    assert fake.messages(CHAT) == []
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(CHAT, sent.message_id)


async def test_flood_control_refuses_until_retry_after(
    fake: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # else building RetryAfter warns (an error here)
    fake.flood = FloodLimits(per_chat_per_s=1, retry_after=1)
    first = await bot.send_message(CHAT, "one")
    with pytest.raises(RetryAfter) as info:
        await bot.edit_message_text("two", chat_id=CHAT, message_id=first.message_id)
    assert info.value.retry_after == dt.timedelta(seconds=1)
    with pytest.raises(RetryAfter):  # still inside the penalty: refused again, at least 1 s
        await bot.send_message(CHAT, "three")
    assert [c.status for c in fake.calls_to("sendMessage")] == [200, 429]
    refused = fake.calls_to("editMessageText")[0]
    assert (refused.status, refused.retry_after) == (429, 1)
    assert refused.description == "Too Many Requests: retry after 1"

    await fake.wait_for(lambda: fake.penalty_remaining(CHAT) == 0, timeout=3)
    await bot.send_message(CHAT, "four")
    assert [m.text for m in fake.messages(CHAT)] == ["one", "four"]


async def test_blocked_user_and_scripted_failures(
    fake: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # else building RetryAfter warns (an error here)
    fake.blocked_chats.add(CHAT)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "hi")
    fake.blocked_chats.clear()

    fake.fail_next("sendMessage", 502, "Bad Gateway")
    fake.fail_next("sendmessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(CHAT, "a")
    with pytest.raises(RetryAfter):
        await bot.send_message(CHAT, "b")
    await bot.send_message(CHAT, "c")
    assert [c.status for c in fake.calls_to("sendMessage")] == [403, 502, 429, 200]


async def test_upload_over_the_limit_is_a_network_error(fake: FakeTelegram, bot: Bot) -> None:
    fake.upload_limit = 1000  # stands in for Telegram's 50 MB
    with pytest.raises(NetworkError, match="Request Entity Too Large") as info:
        await bot.send_document(CHAT, b"x" * 2000, filename="big.bin")
    assert type(info.value) is NetworkError  # not BadRequest (a NetworkError subclass)
    doc = (await bot.send_document(CHAT, b"y" * 999, filename="ok.bin")).document
    assert doc is not None and (doc.file_name, doc.file_size) == ("ok.bin", 999)
    upload = fake.calls_to("sendDocument", ok=True)[0].uploads["document"]
    assert (upload.filename, upload.data) == ("ok.bin", b"y" * 999)


async def test_get_file_and_download(fake: FakeTelegram, bot: Bot) -> None:
    update = fake.send_photo(CHAT, b"\xff\xd8 full photo bytes " * 50, caption="look")
    sizes = update["message"]["photo"]
    assert len(sizes) == 3 and sizes[0]["file_size"] < sizes[-1]["file_size"]
    photo = await bot.get_file(sizes[-1]["file_id"])
    out = io.BytesIO()
    await photo.download_to_memory(out)
    assert out.getvalue() == b"\xff\xd8 full photo bytes " * 50
    assert fake.calls[-1].method == "file" and fake.calls[-1].ok

    huge = fake.add_file(b"tiny", size=25_000_000)
    with pytest.raises(BadRequest, match="(?i)file is too big"):
        await bot.get_file(huge)


async def test_reply_parameters_and_albums(fake: FakeTelegram, bot: Bot) -> None:
    question = fake.send_text(CHAT, "what is 2+2?")["message"]
    answer = await bot.send_message(
        CHAT, "4", reply_parameters=ReplyParameters(question["message_id"])
    )
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "what is 2+2?"
    with pytest.raises(BadRequest, match="(?i)message to be replied not found"):
        await bot.send_message(CHAT, "x", reply_parameters=ReplyParameters(999))
    reply = fake.send_text(CHAT, "thanks", reply_to_message_id=answer.message_id)["message"]
    assert reply["reply_to_message"]["from"]["is_bot"] is True

    album = await bot.send_media_group(
        CHAT,
        [
            InputMediaPhoto(b"a" * 10, caption="<b>both</b>", parse_mode="HTML"),
            InputMediaPhoto(b"b" * 10),
        ],
    )
    assert len({m.media_group_id for m in album}) == 1 and album[0].caption == "both"
    inbound = fake.send_album(-100777, [b"1", b"2"], caption="trip", chat_title="Friends")
    assert [u["message"].get("caption") for u in inbound] == ["trip", None]
    assert inbound[0]["message"]["chat"] == {
        "id": -100777,
        "type": "supergroup",
        "title": "Friends",
    }


async def test_second_poller_gets_conflict(fake: FakeTelegram, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_for(lambda: any(c.method == "getUpdates" and not c.status for c in fake.calls))
    async with Bot(fake.token, base_url=fake.base_url) as other:
        second = asyncio.create_task(other.get_updates(timeout=5))
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await first
        update = fake.send_text(CHAT, "hi")
        assert [u.update_id for u in await second] == [update["update_id"]]


async def test_commands_are_stored_per_language(fake: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([("start", "Start"), ("model", "Pick a model")])
    await bot.set_my_commands([("start", "开始")], language_code="zh")
    assert [c.command for c in await bot.get_my_commands()] == ["start", "model"]
    assert fake.commands_for("zh") == [{"command": "start", "description": "开始"}]
    with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
        await bot.set_my_commands([("Start-Now", "bad name")])
    await bot.delete_my_commands(language_code="zh")
    assert fake.commands_for("zh") == []


async def test_webhook_delivery(fake: FakeTelegram, bot: Bot) -> None:
    received: list[tuple[str | None, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        await bot.set_webhook(f"http://{host}:{port}/hook", secret_token="s3cret")
        assert fake.webhook is not None and fake.webhook["secret_token"] == "s3cret"
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        update = fake.send_text(CHAT, "via webhook")
        assert await fake.deliver_webhook(update) == 200
        assert received == [("s3cret", update)] and fake.updates == []
        assert (await bot.get_webhook_info()).url.endswith("/hook")
    finally:
        await runner.cleanup()


async def test_application_polls_handles_updates_and_confirms_at_stop(fake: FakeTelegram) -> None:
    texts: list[str] = []

    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Choose", reply_markup=keyboard("yes", "no"))

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text
        texts.append(update.effective_message.text)
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer(f"picked {update.callback_query.data}")

    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(CallbackQueryHandler(on_button))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=dt.timedelta(seconds=1))
    try:
        fake.send_text(CHAT, "hello")
        fake.send_text(CHAT, "/start")
        await fake.wait_for(lambda: len(fake.messages(CHAT)) == 2)
        echo, menu = fake.messages(CHAT)
        assert (echo.text, menu.text, texts) == ("echo: hello", "Choose", ["hello"])
        assert echo.reply_to is None  # reply_text() does not quote unless asked

        pressed = fake.press_button(CHAT, menu.message_id, "no")
        query_id = pressed["callback_query"]["id"]
        await fake.wait_for(lambda: "answer" in fake.callback_queries[query_id])
        assert fake.callback_queries[query_id]["answer"]["text"] == "picked no"
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()

    assert [c.method for c in fake.calls[:3]] == ["getMe", "deleteWebhook", "getUpdates"]
    final = fake.calls_to("getUpdates")[-1]
    assert final.params["timeout"] == 0 and final.ok
    assert final.params["offset"] == pressed["update_id"] + 1
    assert fake.updates == []  # everything was confirmed
