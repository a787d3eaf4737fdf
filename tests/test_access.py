"""Access and spending (issue 12) at the engine: config, rules, gate, commands, retention."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bots.app import App
from core.access.ids import Who
from core.access.policy import verdict
from core.access.retention import DAY_S, prune
from core.access.store import Rules
from core.config.access import AccessSettings
from core.errors import ConfigError
from core.platform.types import ErrorReply, FinalText
from tests.conftest import TEST_TRAITS, collect, make_settings, message
from tests.fake_relay import FakeRelay


def access(**lists: tuple[str, ...]) -> AccessSettings:
    return AccessSettings(**lists)  # type: ignore[arg-type]


def test_config_ids_are_validated_with_their_key_paths(tmp_path: Path) -> None:
    bad = (
        "access:\n  admins: [123]\n  allowed_chats: ['no colon']\nquotas:\n  timezone: Mars/Base\n"
    )
    bad += "  per_user_daily: {images: -1}\nstorage:\n  retention_days: 0\n"
    with pytest.raises(ConfigError) as caught:
        make_settings(tmp_path, "http://127.0.0.1:1", bad)
    paths = {path for path, _ in caught.value.problems}
    assert {
        "access.admins[0]",
        "access.allowed_chats[0]",
        "quotas.timezone",
        "quotas.per_user_daily.images",
        "storage.retention_days",
    } <= paths, caught.value.problems


def test_config_defaults_and_normalised_ids(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, "http://127.0.0.1:1", "access:\n  admins: ['Telegram:42']\nquotas:\n"
    )
    assert settings.access.admins == ("telegram:42",)
    assert settings.quotas.timezone == "Asia/Shanghai"
    assert settings.quotas.per_user_daily.images == 0
    assert settings.storage.retention_days == 90
    # No list: like /model, only the default may be named.
    assert settings.models.model_copy(update={"image_choices": ()}).choices("image") == (
        "dall-e-3",
    )


@pytest.mark.parametrize(
    ("lists", "who", "expected"),
    [
        ({}, Who("t", "1", "1", False), "ok"),
        ({"allowed_users": ("t:2",)}, Who("t", "1", "1", False), "refuse"),
        ({"allowed_users": ("t:2",)}, Who("t", "1", "-5", True), "silent"),
        ({"allowed_users": ("t:2",), "admins": ("t:1",)}, Who("t", "1", "1", False), "ok"),
        ({"allowed_chats": ("t:-9",)}, Who("t", "1", "-5", True), "silent"),
        ({"allowed_chats": ("t:-9",)}, Who("t", "1", "1", False), "ok"),
        ({"allowed_chats": ("t:-9",), "allowed_users": ("t:2",)}, Who("t", "1", "-9", True), "ok"),
        ({"blocked_users": ("t:1",)}, Who("t", "1", "1", False), "refuse"),
        ({"blocked_users": ("t:1",), "admins": ("t:1",)}, Who("t", "1", "1", False), "ok"),
    ],
)
def test_who_may(lists: dict[str, tuple[str, ...]], who: Who, expected: str) -> None:
    assert verdict(access(**lists), Rules(), who) == expected


def test_rules_set_at_run_time_add_to_the_config() -> None:
    config = access(allowed_users=("t:2",))
    me = Who("t", "1", "1", False)
    assert verdict(config, Rules(allowed=frozenset({"t:1"})), me) == "ok"
    assert verdict(access(), Rules(blocked=frozenset({"t:1"})), me) == "refuse"
    group = Who("t", "1", "-5", True)
    only_9 = access(allowed_chats=("t:-9",))
    assert verdict(only_9, Rules(allowed=frozenset({"t:-5"})), group) == "ok"


async def test_lists_are_read_at_call_time_so_a_reload_applies(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    settings = make_settings(tmp_path, fake_relay.url)
    async with App(settings) as app:
        app.traits.register("test", TEST_TRAITS)
        assert (await collect(app, message("hello")))[-1] == FinalText("echo: hello")
        closed = settings.model_copy(
            update={"access": AccessSettings(allowed_users=("test:someone",))}
        )
        app.engine._settings = closed  # what a hot reload does
        events = await collect(app, message("hello again"))
    assert len(events) == 1 and "test:u1" in events[0].text  # type: ignore[union-attr]
    assert len(fake_relay.requests) == 1


async def test_whoami_and_admin_only_commands(app: App) -> None:
    events = await collect(app, message("/whoami", user="u9"))
    assert "test:u9" in events[0].text  # type: ignore[union-attr]
    for text in ("/stats", "/allow test:x", "/usage all"):
        events = await collect(app, message(text))
        assert isinstance(events[0], ErrorReply) and events[0].code == "admin_only", text


async def test_shared_group_settings_only_for_chat_or_bot_admins(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    extra = "chat:\n  group_mode: shared\naccess:\n  admins: ['test:boss']\n"
    async with App(make_settings(tmp_path, fake_relay.url, extra)) as app:
        app.traits.register("test", TEST_TRAITS)
        member = message("/system be terse", user="m1", chat="g1", chat_type="group")
        events = await collect(app, member)
        assert isinstance(events[0], ErrorReply) and events[0].code == "not_chat_admin"
        assert isinstance((await collect(app, replace(member, text="/model")))[0], FinalText)
        chat_admin = replace(member, chat_admin=True)
        assert not isinstance((await collect(app, chat_admin))[0], ErrorReply)
        boss = message("/model gpt-test", user="boss", chat="g1", chat_type="group")
        assert not isinstance((await collect(app, boss))[0], ErrorReply)
        # a per-member conversation in a group is the member's own
    async with App(make_settings(tmp_path, fake_relay.url)) as app:
        app.traits.register("test", TEST_TRAITS)
        events = await collect(app, member)
        assert not isinstance(events[0], ErrorReply)


async def test_retention_removes_old_rows_and_keeps_a_daily_summary(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    async with App(make_settings(tmp_path, fake_relay.url)) as app:
        app.traits.register("test", TEST_TRAITS)
        await collect(app, message("old question"))
        store = app.store
        old = store.clock() - 100 * DAY_S
        async with store.transaction() as db:
            for table in ("messages", "usage", "quota_events", "actions"):
                await db.execute(f"UPDATE {table} SET created_at = ?", (old,))
        await collect(app, message("new question"))
        counts = await prune(store, 90, "UTC")
        contents = [r[0] for r in await store.query("SELECT content FROM messages")]
        summary = await store.query(
            "SELECT kind, SUM(amount) FROM usage_daily WHERE kind = 'chat_tokens' GROUP BY kind"
        )
        old_events = await store.query(
            "SELECT COUNT(*) FROM quota_events WHERE created_at < ?", (old + 1,)
        )
    assert contents == ["new question", "echo: new question"]
    assert counts["messages"] == 2 and counts["usage"] == 1
    assert summary and summary[0][1] > 0
    assert old_events[0][0] == 0


async def test_usage_all_and_stats_for_admins(tmp_path: Path, fake_relay: FakeRelay) -> None:
    extra = "access:\n  admins: ['test:boss']\n"
    async with App(make_settings(tmp_path, fake_relay.url, extra)) as app:
        app.traits.register("test", TEST_TRAITS)
        await collect(app, message("hello", user="u1"))
        await collect(app, message("hello", user="u2", chat="g", chat_type="group"))
        await collect(app, message("/img -m dall-e-3 a cat", user="u2"))
        report = await collect(app, message("/usage all", user="boss"))
        stats = await collect(app, message("/stats", user="boss"))
    text = report[0].text  # type: ignore[union-attr]
    assert "chat tokens gpt-test" in text and "pictures dall-e-3: 1 (1×)" in text
    assert "test:u1" in text and "test:u2" in text
    numbers = stats[0].text  # type: ignore[union-attr]
    assert "Users: 3" in numbers and "Chats: 1" in numbers and "Messages: 5" in numbers


async def test_a_voice_note_of_a_blocked_user_is_not_even_transcribed(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    from core.platform.types import Attachment

    note = Attachment("audio", b"OggS\x00\x02" + b"\x00" * 40, "audio/ogg", "voice.ogg", 3.0)
    extra = "access:\n  blocked_users: ['test:u1']\n"
    async with App(make_settings(tmp_path, fake_relay.url, extra)) as app:
        app.traits.register("test", TEST_TRAITS)
        events = await collect(app, replace(message(""), attachments=(note,)))
        pressed = await collect(app, replace(message(""), action_token="whatever"))
    assert len(events) == 1 and "test:u1" in events[0].text  # type: ignore[union-attr]
    assert len(pressed) == 1 and "test:u1" in pressed[0].text  # type: ignore[union-attr]
    assert fake_relay.requests == []  # no transcription, no chat


async def test_a_voice_note_over_the_token_quota_is_not_transcribed(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    from core.platform.types import Attachment

    note = Attachment("audio", b"OggS\x00\x02" + b"\x00" * 40, "audio/ogg", "voice.ogg", 3.0)
    extra = "quotas:\n  per_user_daily: {chat_tokens: 5}\n"
    async with App(make_settings(tmp_path, fake_relay.url, extra)) as app:
        app.traits.register("test", TEST_TRAITS)
        await collect(app, message("use up the few tokens there are"))
        seen = len(fake_relay.requests)
        events = await collect(app, replace(message(""), attachments=(note,)))
    assert isinstance(events[0], ErrorReply) and events[0].code == "quota_exceeded"
    assert len(fake_relay.requests) == seen


def test_check_config_shows_access_and_quotas(tmp_path: Path) -> None:
    extra = "access:\n  admins: ['telegram:1']\nquotas:\n  per_user_daily: {images: 3}\n"
    lines = make_settings(tmp_path, "http://127.0.0.1:1", extra).summary()
    assert "admins: telegram:1" in lines and "allowed users: everyone" in lines
    assert "quotas per user a day: images 3 (Asia/Shanghai)" in lines
    assert "retention: 90 days" in lines
