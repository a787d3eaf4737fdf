"""Issue 13: config hot reload. A changed file applies without a restart; a broken one is
refused with the old settings kept; what needs a restart is reported and left alone."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY
from tests.fake_relay import FakeRelay, Stream
from tests.fake_telegram import FakeTelegram
from tests.telegram_harness import USER, texts
from tests.test_ops import config_text, fake, running  # noqa: F401 - the fixture

OLD = "You are the OLD assistant."
NEW = "You are the NEW assistant, reloaded."


def prompt_config(tmp_path: Path, relay: FakeRelay, tg: FakeTelegram, extra: str = "") -> Path:
    return config_text(tmp_path, relay, tg, f"chat:\n  system_prompt: {OLD}\n{extra}")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


async def ask(relay: FakeRelay, tg: FakeTelegram, reply: str) -> str:
    """Ask once; the system prompt the relay received."""
    seen = len(relay.requests)
    relay.enqueue(Stream(chunks=[reply]))
    tg.send_text(USER, f"question for {reply}")
    await tg.wait_for(lambda: reply in texts(tg, USER))
    chats = [r for r in relay.requests[seen:] if r.path.endswith("/chat/completions")]
    messages = chats[-1].json["messages"]
    assert messages[0]["role"] == "system"
    return str(messages[0]["content"])


async def test_an_edit_is_applied_by_the_watcher_without_a_restart(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram  # noqa: F811
) -> None:
    path = prompt_config(tmp_path, fake_relay, fake, "reload_check_s: 1\n")
    async with running(path, fake) as (app, _):
        assert await ask(fake_relay, fake, "first") == OLD
        edit(path, OLD, NEW)
        await fake.wait_for(lambda: app.settings.chat.system_prompt == NEW, timeout=15)
        assert await ask(fake_relay, fake, "second") == NEW
        assert app.engine.settings.chat.system_prompt == NEW


async def test_a_broken_edit_is_refused_and_the_old_settings_stay(
    tmp_path: Path,
    fake_relay: FakeRelay,
    fake: FakeTelegram,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = prompt_config(tmp_path, fake_relay, fake, "reload_check_s: 0\n")
    async with running(path, fake) as (app, reloader):
        before = app.settings
        edit(path, OLD, NEW)
        edit(path, "  chat: gpt-test\n", "  chat: gpt-test\n  vision: ''\n")
        path.write_text(path.read_text() + "voice:\n  max_mb: lots\n")
        with caplog.at_level(logging.ERROR, logger="relaybot.reload"):
            assert await reloader.check() == "refused"
        logged = caplog.text
        assert "models.vision" in logged and "voice.max_mb" in logged
        assert app.settings is before and app.engine.settings is before
        assert await ask(fake_relay, fake, "still old") == OLD
        metrics = app.metrics.reloads.labels("refused")._value.get()
        assert metrics == 1
        # Fixed: the next look applies it.
        edit(path, "  vision: ''\n", "")
        edit(path, "max_mb: lots", "max_mb: 10")
        assert await reloader.check() == "applied"
        assert await ask(fake_relay, fake, "now new") == NEW


async def test_what_needs_a_restart_is_reported_and_kept(
    tmp_path: Path,
    fake_relay: FakeRelay,
    fake: FakeTelegram,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = prompt_config(tmp_path, fake_relay, fake, "reload_check_s: 0\n")
    async with running(path, fake) as (app, reloader):
        old_storage = app.settings.storage.path
        old_token = app.settings.telegram.token
        edit(path, OLD, NEW)
        edit(path, str(tmp_path / "data" / "bot.db"), str(tmp_path / "elsewhere.db"))
        edit(path, f"token: {old_token}", f"token: {old_token}X")
        edit(path, "  edit_interval_s: 0.05\n", "  edit_interval_s: 0.05\n  trigger_words: [bot]\n")
        with caplog.at_level(logging.INFO, logger="relaybot.reload"):
            assert await reloader.check() == "applied"
        assert "storage.path needs a restart" in caplog.text
        assert "telegram.token needs a restart" in caplog.text
        assert f"{old_token}X" not in caplog.text  # a key path, never the value
        assert app.settings.storage.path == old_storage
        assert app.settings.telegram.token == old_token
        assert app.settings.telegram.trigger_words == ("bot",)  # live
        assert app.settings.chat.system_prompt == NEW
        assert await ask(fake_relay, fake, "after") == NEW


async def test_sighup_reloads_at_once_and_the_new_relay_key_is_used(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram  # noqa: F811
) -> None:
    path = prompt_config(tmp_path, fake_relay, fake, "reload_check_s: 0\n")
    new_key = "sk-NEW-relay-key-after-reload-987"
    async with running(path, fake) as (app, _):
        edit(path, OLD, NEW)
        edit(path, "  api_key: ${RELAY_API_KEY}\n", f"  api_key: {new_key}\n")
        edit(path, "language: en\n", "language: en\nlogging:\n  level: DEBUG\n")
        os.kill(os.getpid(), signal.SIGHUP)
        await fake.wait_for(lambda: app.settings.chat.system_prompt == NEW)
        assert await ask(fake_relay, fake, "hup") == NEW
        assert fake_relay.requests[-1].headers.get("Authorization") == f"Bearer {new_key}"
        assert logging.getLogger().level == logging.DEBUG  # running() puts it back
        assert new_key in app.settings.secrets() and TEST_KEY not in app.settings.secrets()


async def test_a_reload_does_not_cut_the_answer_in_flight(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram  # noqa: F811
) -> None:
    path = prompt_config(tmp_path, fake_relay, fake, "reload_check_s: 0\n")
    async with running(path, fake) as (app, reloader):
        release = asyncio.Event()
        fake_relay.enqueue(Stream(chunks=["Begun ", "and finished."], hold=release))
        fake.send_text(USER, "long question")
        await fake.wait_for(lambda: texts(fake, USER) == ["Begun"])
        edit(path, OLD, NEW)
        assert await reloader.check() == "applied"
        assert app.engine.in_flight == 1  # still streaming, with the settings it began with
        release.set()
        await fake.wait_for(lambda: texts(fake, USER) == ["Begun and finished."])
        await fake.wait_for(lambda: app.engine.in_flight == 0)
        assert await ask(fake_relay, fake, "next") == NEW


async def test_a_change_that_only_needs_a_restart_applies_nothing(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram  # noqa: F811
) -> None:
    path = prompt_config(tmp_path, fake_relay, fake, "reload_check_s: 0\nshutdown_grace_s: 30\n")
    async with running(path, fake) as (app, reloader):
        before = app.settings
        edit(path, "shutdown_grace_s: 30", "shutdown_grace_s: 5")
        assert await reloader.check() == "needs_restart"
        assert app.settings is before and app.settings.shutdown_grace_s == 30
        assert app.metrics.reloads.labels("needs_restart")._value.get() == 1
