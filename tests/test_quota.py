"""Quotas at the engine: chat tokens, per-minute messages, speech, jobs given back, windows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bots.app import App
from core.access.quotas import window
from core.platform.types import ErrorReply, FinalText
from tests.conftest import TEST_TRAITS, collect, make_settings, message
from tests.fake_relay import FakeRelay


def chat_requests(relay: FakeRelay) -> int:
    return len([r for r in relay.requests if r.path == "/v1/chat/completions"])


def test_the_day_starts_at_midnight_in_the_quota_time_zone() -> None:
    # 2026-12-04 17:30 UTC is 01:30 on the 5th in Shanghai
    now = datetime(2026, 12, 4, 17, 30, tzinfo=ZoneInfo("UTC")).timestamp()
    win = window(now, "Asia/Shanghai")
    start = datetime(2026, 12, 5, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    assert win.day_start == start
    assert win.month_start == datetime(2026, 12, 1, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    assert win.resets_at.strftime("%Y-%m-%d %H:%M") == "2026-12-06 00:00"
    assert window(now, "UTC").resets_at.strftime("%Y-%m-%d %H:%M") == "2026-12-05 00:00"


async def test_chat_tokens_over_the_limit_are_refused_before_the_relay(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    extra = "quotas:\n  per_user_daily: {chat_tokens: 10}\n"
    async with App(make_settings(tmp_path, fake_relay.url, extra)) as app:
        app.traits.register("test", TEST_TRAITS)
        first = await collect(app, message("a question long enough to use the tokens up"))
        assert isinstance(first[-1], FinalText)
        refused = await collect(app, message("one more"))
        other = await collect(app, message("someone else", user="u2"))
    assert isinstance(refused[0], ErrorReply) and refused[0].code == "quota_exceeded"
    assert "daily chat tokens" in refused[0].text
    assert isinstance(other[-1], FinalText)
    assert chat_requests(fake_relay) == 2  # u1's second message never reached the relay


async def test_admins_are_never_limited(tmp_path: Path, fake_relay: FakeRelay) -> None:
    extra = (
        "access:\n  admins: ['test:u1']\n"
        "quotas:\n  per_user_daily: {chat_tokens: 1}\n  per_user_per_minute: {messages: 1}\n"
    )
    async with App(make_settings(tmp_path, fake_relay.url, extra)) as app:
        app.traits.register("test", TEST_TRAITS)
        for i in range(3):
            events = await collect(app, message(f"q{i}"))
            assert events[-1] == FinalText(f"echo: q{i}")


async def test_the_per_minute_message_limit(tmp_path: Path, fake_relay: FakeRelay) -> None:
    extra = "quotas:\n  per_user_per_minute: {messages: 2}\n"
    async with App(make_settings(tmp_path, fake_relay.url, extra)) as app:
        app.traits.register("test", TEST_TRAITS)
        await collect(app, message("one"))
        await collect(app, message("two"))
        third = await collect(app, message("three"))
    assert isinstance(third[0], ErrorReply) and third[0].code == "user_rate_limited"
    assert chat_requests(fake_relay) == 2


async def test_a_refused_submit_gives_its_unit_back(tmp_path: Path, fake_relay: FakeRelay) -> None:
    extra = "quotas:\n  per_user_daily: {images: 1}\n"
    async with App(make_settings(tmp_path, fake_relay.url, extra)) as app:
        app.traits.register("test", TEST_TRAITS)
        fake_relay.mj_next_code = 4  # the relay refuses the submit
        refused = await collect(app, message("/img -m mj a cat"))
        assert isinstance(refused[0], ErrorReply) and refused[0].code != "quota_exceeded"
        rows = await app.store.query("SELECT COUNT(*) FROM quota_events WHERE kind = 'images'")
        assert rows[0][0] == 0
        assert await collect(app, message("/img -m mj a dog")) == []  # queued: told out of band
        again = await collect(app, message("/img -m mj a bird"))
    assert isinstance(again[0], ErrorReply) and again[0].code == "quota_exceeded"
    assert len([r for r in fake_relay.requests if r.path == "/mj/submit/imagine"]) == 2


async def test_speech_characters_are_limited(tmp_path: Path, fake_relay: FakeRelay) -> None:
    extra = "quotas:\n  per_user_daily: {speech_chars: 10}\n"
    async with App(make_settings(tmp_path, fake_relay.url, extra)) as app:
        app.traits.register("test", TEST_TRAITS)
        refused = await collect(app, message("/tts this text is longer than ten characters"))
    assert isinstance(refused[0], ErrorReply) and refused[0].code == "quota_exceeded"
    assert not [r for r in fake_relay.requests if r.path == "/v1/audio/speech"]
