"""Bounded work on Telegram: floods of one chat, the update bound, uploads bigger than declared."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bots.app import App, build_adapters, serve
from bots.telegram.adapter import TelegramAdapter
from core.config.settings import Settings
from tests.conftest import make_settings
from tests.fake_relay import FakeRelay, Stream
from tests.fake_telegram import FakeTelegram
from tests.telegram_harness import JOBS, USER, running_bot, telegram_config, texts

BUSY = "Still answering your earlier messages. Please wait for that answer before sending more."


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def settings_with(
    tmp_path: Path, relay: FakeRelay, fake: FakeTelegram, chat: str = "", telegram: str = ""
) -> Settings:
    return make_settings(tmp_path, relay.url, chat + JOBS + telegram_config(fake, telegram))


def relay_texts(relay: FakeRelay) -> list[str]:
    return [r.json["messages"][-1]["content"] for r in relay.requests if r.json]


@asynccontextmanager
async def bot_and_adapter(
    settings: Settings, fake: FakeTelegram
) -> AsyncIterator[tuple[App, TelegramAdapter]]:
    """Like ``running_bot``, also giving the adapter (to read its update count)."""
    stop = asyncio.Event()
    async with App(settings) as app:
        adapters = build_adapters(app, ["telegram"])
        serving = asyncio.create_task(serve(adapters, stop=stop, jobs=app.jobs))
        try:
            await fake.wait_for(lambda: any(c.method == "getUpdates" for c in fake.calls))
            adapter = adapters[0]
            assert isinstance(adapter, TelegramAdapter)
            yield app, adapter
        finally:
            stop.set()
            await asyncio.wait_for(serving, 30)


def fetched(fake: FakeTelegram, update: dict[str, Any]) -> bool:
    """PTB has taken ``update`` (the fake drops it once a later offset is asked for)."""
    return update not in fake.updates


async def test_a_flood_of_one_chat_is_bounded_and_others_are_answered(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    settings = settings_with(tmp_path, fake_relay, fake, telegram="  max_concurrent_updates: 6\n")
    release = asyncio.Event()
    fake_relay.enqueue(Stream(chunks=["first ", "answer"], hold=release))
    async with running_bot(settings, fake):
        fake.send_text(USER, "a0")
        await fake.wait_for(lambda: relay_texts(fake_relay) == ["a0"])
        for i in range(1, 11):
            fake.send_text(USER, f"a{i}")
        await fake.wait_for(lambda: BUSY in texts(fake, USER))  # told at once, while held
        other = 2002
        fake.send_text(other, "from another user")  # not starved by the flood
        await fake.wait_for(lambda: texts(fake, other) == ["echo: from another user"])
        assert relay_texts(fake_relay) == ["a0", "from another user"]
        release.set()
        answers = [f"echo: a{i}" for i in range(1, 4)]
        await fake.wait_for(lambda: [t for t in texts(fake, USER) if t in answers] == answers)
        await fake.wait_for(lambda: "first answer" in texts(fake, USER))
    assert relay_texts(fake_relay) == ["a0", "from another user", "a1", "a2", "a3"]
    assert 1 <= texts(fake, USER).count(BUSY) <= 7  # one at a time, never one per edit wait


async def test_updates_are_handled_within_the_configured_bound(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    settings = settings_with(tmp_path, fake_relay, fake, telegram="  max_concurrent_updates: 2\n")
    first, second = asyncio.Event(), asyncio.Event()
    fake_relay.enqueue(Stream(chunks=["one ", "done"], hold=first))
    fake_relay.enqueue(Stream(chunks=["two ", "done"], hold=second))
    async with bot_and_adapter(settings, fake) as (app, adapter):
        fake.send_text(2001, "a")
        await fake.wait_for(lambda: len(fake_relay.requests) == 1)
        fake.send_text(2002, "b")
        await fake.wait_for(lambda: len(fake_relay.requests) == 2)
        assert adapter.updates_in_progress == 2  # both handlers are inside PTB's bound
        third = fake.send_text(2003, "/help")
        await fake.wait_for(lambda: fetched(fake, third))
        assert adapter.updates_in_progress == 2 and texts(fake, 2003) == []
        first.set()  # a's answer completes and frees its slot: then /help is handled
        await fake.wait_for(lambda: any(t.startswith("Commands:") for t in texts(fake, 2003)))
        second.set()
        await fake.wait_for(lambda: texts(fake, 2002) == ["two done"])
        await fake.wait_for(lambda: app.engine.in_flight == 0 and adapter.updates_in_progress == 0)
    sends = [c for c in fake.calls if c.method in ("sendMessage", "editMessageText")]
    done_a = next(i for i, c in enumerate(sends) if c.params.get("text") == "one done")
    help_c = next(i for i, c in enumerate(sends) if c.params.get("chat_id") == 2003)
    assert done_a < help_c  # /help waited for a free slot


class FileServer:
    """Stands in for the Bot API file server: each file is endless, whatever getFile said."""

    def __init__(self) -> None:
        self.url = ""
        self.sent = 0
        self.closed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def _file(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/pdf"})
        await resp.prepare(request)
        try:
            while True:
                await resp.write(b"%PDF" + b"x" * 65_532)
                self.sent += 65_536
        except (ConnectionError, asyncio.CancelledError):
            self.closed.set()  # the bot stopped reading
        return resp

    async def __aenter__(self) -> FileServer:
        app = web.Application()
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/file/bot"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


async def test_an_upload_larger_than_declared_is_cut_off_while_downloading(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    settings = settings_with(tmp_path, fake_relay, fake, telegram="  max_download_mb: 1\n")
    async with FileServer() as files:
        telegram = settings.telegram.model_copy(update={"base_file_url": files.url})
        settings = settings.model_copy(update={"telegram": telegram})
        async with running_bot(settings, fake):
            # getFile says 1000 bytes; the file server sends without end.
            fake.send_document(
                USER, b"%PDF-1.4", "report.pdf", "application/pdf", "/vision what is it?",
                size=1000,
            )
            await fake.wait_for(lambda: bool(texts(fake, USER)), timeout=20)
            await asyncio.wait_for(files.closed.wait(), 10)
    assert texts(fake, USER) == [
        "That file is too big (1 MB): the bot can download at most 1 MB."
    ]
    assert files.sent < 64_000_000  # the endless file was given up (socket buffers aside)
    assert fake_relay.requests == []
