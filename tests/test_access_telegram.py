"""Access and spending (issue 12) end to end: Telegram adapter, fake Bot API, fake relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.config.settings import Settings
from tests.conftest import make_settings
from tests.fake_relay import FakeRelay, OpenAIError
from tests.fake_telegram import FakeTelegram
from tests.pictures import picture
from tests.telegram_harness import (
    GROUP,
    JOBS,
    USER,
    bot_settings,
    running_bot,
    telegram_config,
    texts,
)
from tests.test_telegram_bounds import bot_and_adapter, fetched

ADMIN = 4242
GROUP_KW = {"chat_type": "supergroup", "chat_title": "Friends"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def settings_with(tmp_path: Path, relay: FakeRelay, fake: FakeTelegram, yaml: str) -> Settings:
    return make_settings(tmp_path, relay.url, yaml + JOBS + telegram_config(fake))


def chat_requests(relay: FakeRelay) -> list[object]:
    return [r for r in relay.requests if r.path == "/v1/chat/completions"]


async def test_a_user_not_allowed_is_told_their_id_and_nothing_reaches_the_relay(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    yaml = f"access:\n  admins: ['telegram:{ADMIN}']\n  allowed_users: ['telegram:777']\n"
    settings = settings_with(tmp_path, fake_relay, fake, yaml)
    async with running_bot(settings, fake) as app:
        fake.send_text(USER, "please answer me")
        await fake.wait_for(lambda: len(texts(fake, USER)) == 1)
        assert f"telegram:{USER}" in texts(fake, USER)[0]
        fake.send_text(USER, "/img -m dall-e-3 a cat")
        await fake.wait_for(lambda: len(texts(fake, USER)) == 2)
        rows = await app.store.query("SELECT COUNT(*) FROM messages")
    assert fake_relay.requests == []  # no chat, no picture, nothing
    assert rows[0][0] == 0  # and no history written


async def test_a_refused_users_photo_is_not_even_downloaded(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    settings = settings_with(
        tmp_path, fake_relay, fake, "access:\n  blocked_users: ['telegram:" + str(USER) + "']\n"
    )
    async with running_bot(settings, fake):
        fake.send_photo(USER, picture(), caption="what is this?")
        await fake.wait_for(lambda: len(texts(fake, USER)) == 1)
    assert f"telegram:{USER}" in texts(fake, USER)[0]
    assert fake.calls_to("getFile") == [] and fake_relay.requests == []


async def test_a_group_not_allowed_gets_no_answer(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    yaml = f"access:\n  admins: ['telegram:{ADMIN}']\n  allowed_chats: ['telegram:-100999']\n"
    settings = settings_with(tmp_path, fake_relay, fake, yaml)
    async with bot_and_adapter(settings, fake) as (app, adapter):
        update = fake.send_text(GROUP, "@RelayTestBot hello there", user_id=7, **GROUP_KW)
        await fake.wait_for(lambda: fetched(fake, update) and adapter.updates_in_progress == 0)
        # the admin is answered in the same group, so the group's update was really handled
        fake.send_text(GROUP, "@RelayTestBot from the admin", user_id=ADMIN, **GROUP_KW)
        await fake.wait_for(lambda: "echo: from the admin" in texts(fake, GROUP))
        await fake.wait_for(lambda: adapter.updates_in_progress == 0)
    assert texts(fake, GROUP) == ["echo: from the admin"]
    assert len(chat_requests(fake_relay)) == 1


async def test_block_by_an_admin_applies_at_once_and_survives_a_restart(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    yaml = f"access:\n  admins: ['telegram:{ADMIN}']\n"
    settings = settings_with(tmp_path, fake_relay, fake, yaml)
    async with running_bot(settings, fake):
        fake.send_text(USER, "before")
        await fake.wait_for(lambda: texts(fake, USER) == ["echo: before"])
        fake.send_text(USER, "/block 1001")
        await fake.wait_for(lambda: len(texts(fake, USER)) == 2)
        assert "/block" in texts(fake, USER)[1]  # only admins may
        fake.send_text(ADMIN, f"/block telegram:{USER}")
        await fake.wait_for(lambda: len(texts(fake, ADMIN)) == 1)
        assert f"telegram:{USER}" in texts(fake, ADMIN)[0]
        fake.send_text(USER, "after the block")
        await fake.wait_for(lambda: len(texts(fake, USER)) == 3)
        assert "telegram:1001" in texts(fake, USER)[2]
    async with running_bot(settings, fake):
        fake.send_text(USER, "after a restart")
        await fake.wait_for(lambda: len(texts(fake, USER)) == 4)
        assert "telegram:1001" in texts(fake, USER)[3]
        fake.send_text(ADMIN, f"/unblock telegram:{USER}")
        await fake.wait_for(lambda: len(texts(fake, ADMIN)) == 2)
        fake.send_text(USER, "unblocked")
        await fake.wait_for(lambda: "echo: unblocked" in texts(fake, USER))
    sent = [r.json["messages"][-1]["content"] for r in chat_requests(fake_relay)]
    assert sent == ["before", "unblocked"]


async def test_an_admin_blocks_by_replying_to_a_group_member(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    yaml = f"access:\n  admins: ['telegram:{ADMIN}']\n"
    settings = settings_with(tmp_path, fake_relay, fake, yaml)
    async with running_bot(settings, fake):
        said = fake.send_text(GROUP, "@RelayTestBot hi", user_id=7, **GROUP_KW)
        await fake.wait_for(lambda: "echo: hi" in texts(fake, GROUP))
        member_message = said["message"]["message_id"]
        fake.send_text(
            GROUP, "/block", user_id=ADMIN, reply_to_message_id=member_message, **GROUP_KW
        )
        await fake.wait_for(lambda: any("telegram:7" in x for x in texts(fake, GROUP)))
        fake.send_text(7, "/whoami")  # blocked in private too: told their id, nothing else
        await fake.wait_for(lambda: len(texts(fake, 7)) == 1)
        assert "telegram:7" in texts(fake, 7)[0]
    assert len(chat_requests(fake_relay)) == 1


async def test_the_third_picture_is_refused_and_a_failed_job_gives_its_unit_back(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    yaml = "quotas:\n  timezone: UTC\n  per_user_daily: {images: 2}\n"
    settings = settings_with(tmp_path, fake_relay, fake, yaml)
    fake_relay.mj_script(prompt_contains="forbidden", fail_reason="banned prompt")
    async with running_bot(settings, fake):
        fake.send_text(USER, "/img -m mj a forbidden fruit")
        await fake.wait_for(lambda: any("banned prompt" in x for x in texts(fake, USER)))
        fake.send_text(USER, "/img -m dall-e-3 one")
        await fake.wait_for(lambda: len(fake.calls_to("sendPhoto", ok=True)) == 1)
        fake.send_text(USER, "/img -m dall-e-3 two")
        await fake.wait_for(lambda: len(fake.calls_to("sendPhoto", ok=True)) == 2)
        fake.send_text(USER, "/img -m dall-e-3 three")
        await fake.wait_for(lambda: any("limit" in x for x in texts(fake, USER)))
        refusal = next(x for x in texts(fake, USER) if "limit" in x)
        assert "daily pictures" in refusal and "2 of 2" in refusal and "00:00 (UTC)" in refusal
    prompts = [r.json.get("prompt") for r in fake_relay.requests if r.path.startswith("/v1/images")]
    assert prompts == ["one", "two"]  # the third never reached the relay
    assert len([r for r in fake_relay.requests if r.path == "/mj/submit/imagine"]) == 1


async def test_a_group_limit_stops_the_group_but_not_the_same_user_in_private(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    yaml = "quotas:\n  per_chat_daily: {images: 1}\n"
    settings = settings_with(tmp_path, fake_relay, fake, yaml)
    async with running_bot(settings, fake):
        fake.send_text(GROUP, "/img -m dall-e-3 first", user_id=7, **GROUP_KW)
        await fake.wait_for(lambda: len(fake.calls_to("sendPhoto", ok=True)) == 1)
        fake.send_text(GROUP, "/img -m dall-e-3 second", user_id=8, **GROUP_KW)
        await fake.wait_for(lambda: any("this group" in x for x in texts(fake, GROUP)))
        fake.send_text(7, "/img -m dall-e-3 private")
        await fake.wait_for(lambda: len(fake.calls_to("sendPhoto", ok=True)) == 2)
    prompts = [r.json.get("prompt") for r in fake_relay.requests if r.path.startswith("/v1/images")]
    assert prompts == ["first", "private"]


async def test_a_model_not_on_the_list_makes_no_request(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    settings = bot_settings(tmp_path, fake_relay, fake)  # its models: section is the tests'
    models = settings.models.model_copy(update={"image": "dall-e-3", "image_choices": ("mj",)})
    settings = settings.model_copy(update={"models": models})
    async with running_bot(settings, fake):
        fake.send_text(USER, "/img -m flux-pro-ultra a cat")
        await fake.wait_for(lambda: len(texts(fake, USER)) == 1)
    assert "flux-pro-ultra" in texts(fake, USER)[0] and "dall-e-3, mj" in texts(fake, USER)[0]
    assert fake_relay.requests == []


async def test_with_no_list_only_the_default_model_may_be_named_but_admins_may_any(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    yaml = f"access:\n  admins: ['telegram:{ADMIN}']\n"
    settings = settings_with(tmp_path, fake_relay, fake, yaml)
    models = settings.models.model_copy(
        update={"image": "dall-e-3", "image_choices": (), "song_choices": ()}
    )
    settings = settings.model_copy(update={"models": models})
    async with running_bot(settings, fake):
        fake.send_text(USER, "/img -m dall-e-2 a cat")
        fake.send_text(USER, "/song -m chirp-v4 a tune")
        await fake.wait_for(lambda: len(texts(fake, USER)) == 2)
        assert fake_relay.requests == []  # neither reached the relay
        assert "dall-e-2" in texts(fake, USER)[0] and "dall-e-3" in texts(fake, USER)[0]
        assert "chirp-v4" in texts(fake, USER)[1]
        fake.send_text(USER, "/img -m dall-e-3 a dog")  # the default always may
        fake.send_text(ADMIN, "/img -m dall-e-2 a bird")  # a bot admin is never limited
        await fake.wait_for(lambda: len(fake.calls_to("sendPhoto", ok=True)) == 2)
    prompts = sorted(
        r.json.get("prompt") for r in fake_relay.requests if r.path.startswith("/v1/images")
    )
    assert prompts == ["a bird", "a dog"]


async def test_usage_matches_what_the_relay_saw(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    yaml = "quotas:\n  per_user_daily: {chat_tokens: 100000, images: 5}\n"
    settings = settings_with(tmp_path, fake_relay, fake, yaml)
    async with running_bot(settings, fake):
        for text in ("one question", "another question"):
            fake.send_text(USER, text)
            await fake.wait_for(lambda t=text: f"echo: {t}" in texts(fake, USER))
        fake.send_text(USER, "/img -m dall-e-3 a cat")
        await fake.wait_for(lambda: len(fake.calls_to("sendPhoto", ok=True)) == 1)
        fake.send_text(USER, "/usage")
        await fake.wait_for(lambda: any(x.startswith("Usage of") for x in texts(fake, USER)))
    report = next(x for x in texts(fake, USER) if x.startswith("Usage of"))
    # the fake relay's usage figures: prompt words + 3 per message, one per streamed chunk
    tokens = 0
    for request in chat_requests(fake_relay):
        words = sum(len(str(m["content"]).split()) + 3 for m in request.json["messages"])
        tokens += words + len(str(request.json["messages"][-1]["content"]).split()) + 1
    pictures = len([r for r in fake_relay.requests if r.path.startswith("/v1/images")])
    assert pictures == 1
    assert "pictures: today 1 of 5, this month 1" in report
    assert "chat tokens: today " in report and " of 100000" in report
    line = next(x for x in report.splitlines() if x.startswith("chat tokens"))
    assert int(line.split("today ")[1].split(" ")[0]) == tokens, (line, tokens)


async def test_a_relay_401_tells_the_admin_once_even_after_three_failures(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    yaml = f"access:\n  admins: ['telegram:{ADMIN}']\n"
    settings = settings_with(tmp_path, fake_relay, fake, yaml)
    fake_relay.enqueue(*(OpenAIError(401, "无效的令牌") for _ in range(3)))
    async with running_bot(settings, fake):
        fake.send_text(ADMIN, "/whoami", language_code="en")  # the admin has talked to the bot
        await fake.wait_for(lambda: len(texts(fake, ADMIN)) == 1)
        for i in range(3):
            fake.send_text(USER, f"try {i}")
            await fake.wait_for(lambda n=i: len(texts(fake, USER)) == n + 1)
        await fake.wait_for(lambda: len(texts(fake, ADMIN)) == 2)
    assert len(texts(fake, ADMIN)) == 2 and "relay.api_key" in texts(fake, ADMIN)[1]
    assert len(chat_requests(fake_relay)) == 3


async def test_forget_leaves_no_row_with_the_users_text(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    settings = bot_settings(tmp_path, fake_relay, fake)
    secret = "zebra-marmalade-42"
    async with running_bot(settings, fake) as app:
        fake.send_text(USER, f"remember {secret}")
        await fake.wait_for(lambda: f"echo: remember {secret}" in texts(fake, USER))
        fake.send_text(USER, f"/system you love {secret}")
        await fake.wait_for(lambda: len(texts(fake, USER)) == 2)
        fake.send_text(USER, f"/img -m mj {secret} fox")
        await fake.wait_for(lambda: any("done" in x for x in texts(fake, USER)))
        fake.send_text(USER, "/forget")
        await fake.wait_for(lambda: any("erased" in x for x in texts(fake, USER)))
        await app.jobs.wait_deliveries()
        found = []
        for (table,) in await app.store.query("SELECT name FROM sqlite_master WHERE type='table'"):
            for row in await app.store.query(f"SELECT * FROM {table}"):
                if any(secret in str(v) for v in row):
                    found.append((table, row))
    assert found == []


async def test_only_group_admins_change_a_shared_groups_settings(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    settings = settings_with(tmp_path, fake_relay, fake, "")
    chat = settings.chat.model_copy(update={"group_mode": "shared"})
    settings = settings.model_copy(update={"chat": chat})
    fake.chat_owners.add((GROUP, 8))
    async with running_bot(settings, fake):
        fake.send_text(GROUP, "/system@RelayTestBot talk like a pirate", user_id=7, **GROUP_KW)
        await fake.wait_for(lambda: any("chat admins" in x for x in texts(fake, GROUP)))
        fake.send_text(GROUP, "/system@RelayTestBot talk like a pirate", user_id=8, **GROUP_KW)
        await fake.wait_for(lambda: len(texts(fake, GROUP)) == 2)
        fake.send_text(GROUP, "/system@RelayTestBot talk like a robot", user_id=8, **GROUP_KW)
        await fake.wait_for(lambda: len(texts(fake, GROUP)) == 3)
    assert "chat admins" not in texts(fake, GROUP)[1]
    assert len(fake.calls_to("getChatMember")) == 2  # the owner's answer was cached
