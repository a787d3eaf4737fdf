"""Runs relaybot's Telegram adapter through its own start-up path against the fake Bot API."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bots.app import App, build_adapters, serve
from core.config.settings import Settings
from tests.conftest import make_settings
from tests.fake_relay import FakeRelay
from tests.fake_telegram import FakeTelegram

USER = 1001
GROUP = -100555


def telegram_config(fake: FakeTelegram, extra: str = "", limits: str = "") -> str:
    """A telegram section pointing at ``fake``; fast, generous limits unless ``limits`` says."""
    limits = (
        limits or "    per_chat_per_s: 50\n    per_group_per_min: 1000\n    global_per_s: 1000\n"
    )
    return (
        "telegram:\n"
        "  enabled: true\n"
        f"  token: {fake.token}\n"
        f"  base_url: {fake.base_url}\n"
        f"  base_file_url: {fake.base_file_url}\n"
        "  edit_interval_s: 0.05\n"
        "  album_wait_s: 0.2\n"
        f"{extra}"
        "  limits:\n"
        f"{limits}"
    )


JOBS = (
    "jobs:\n  mj_poll_interval_s: 0.05\n  suno_poll_interval_s: 0.05\n"
    "  video_poll_interval_s: 0.05\n  media_timeout_s: 10\n"
)


def bot_settings(
    tmp_path: Path,
    relay: FakeRelay,
    fake: FakeTelegram,
    extra: str = "",
    limits: str = "",
    storage: str = "",
) -> Settings:
    """``storage``: the storage section's lines instead of a SQLite file under ``tmp_path``."""
    config = JOBS + telegram_config(fake, extra, limits)
    return make_settings(tmp_path, relay.url, config, storage)


@asynccontextmanager
async def running_bot(settings: Settings, fake: FakeTelegram) -> AsyncIterator[App]:
    """``relaybot run`` in-process: App, the registered adapters, serve() until the block ends."""
    stop = asyncio.Event()
    async with App(settings) as app:
        adapters = build_adapters(app, ["telegram"])
        serving = asyncio.create_task(serve(adapters, stop=stop, jobs=app.jobs))
        seen = len(fake.calls)
        live = "setWebhook" if settings.telegram.webhook.url else "getUpdates"
        try:
            # A long poll is open (the call is recorded while it waits), or the webhook is set.
            await fake.wait_for(lambda: any(c.method == live for c in fake.calls[seen:]))
            yield app
        finally:
            stop.set()
            await asyncio.wait_for(serving, 30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_listening(port: int, limit_s: float = 10) -> None:
    """Until something accepts connections on ``port`` (a server started in the background)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.01)
        else:
            writer.close()
            await writer.wait_closed()
            return


def texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    """The visible text of the bot's messages in a chat, as the user sees them now."""
    return [m.text or m.caption or "" for m in fake.messages(chat_id)]
