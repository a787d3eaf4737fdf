"""The Telegram adapter's start and stop: errors while polling are retried, not fatal."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.logs import setup_logging
from tests.fake_relay import FakeRelay
from tests.fake_telegram import FakeTelegram
from tests.telegram_harness import USER, bot_settings, running_bot, texts


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


async def test_polling_errors_are_one_warning_each_and_polling_goes_on(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    settings = bot_settings(tmp_path, fake_relay, fake)
    stream = io.StringIO()
    handler = setup_logging("INFO", settings.secrets(), stream=stream)
    try:
        async with running_bot(settings, fake):
            fake.fail_next("getUpdates", 502, "Bad Gateway")
            fake.send_text(USER, "first")  # ends the open poll; the next one fails
            await fake.wait_for(lambda: bool(fake.calls_to("getUpdates", ok=False)))
            fake.send_text(USER, "second")
            await fake.wait_for(lambda: "echo: second" in texts(fake, USER))
    finally:
        logging.getLogger().removeHandler(handler)
    logs = stream.getvalue()
    warnings = [line for line in logs.splitlines() if "telegram polling failed" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0] and "Bad Gateway" in warnings[0]
    assert "Traceback" not in logs and fake.token not in logs
