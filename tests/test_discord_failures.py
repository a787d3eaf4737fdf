"""The Discord adapter when things go wrong: a bad token, a refused intent, missing permissions,
deleted messages and threads, 5xx, and gateway reconnects, none of which stop it."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.app import App, build_adapters
from core.errors import CredentialsError
from core.logs import setup_logging
from tests.conftest import TEST_KEY, make_settings, write_config
from tests.discord_harness import (
    JOBS,
    World,
    bot_settings,
    discord_config,
    restored_endpoints,
    running_bot,
    until,
    world,
)
from tests.fake_discord import DiscordError
from tests.fake_relay import FakeRelay, Stream
from tests.telegram_harness import free_port
from tests.test_startup import _relaybot, _the_line

WRONG_TOKEN = "MTIz.WRONG-DISCORD-TOKEN-SECRET.xyz"


@pytest.fixture
async def w() -> AsyncIterator[World]:
    async with world() as built:
        yield built


async def test_a_bad_token_exits_2_with_one_line_without_the_token(
    tmp_path: Path, w: World
) -> None:
    section = discord_config(w.fake).replace(w.fake.token, WRONG_TOKEN)
    path = write_config(tmp_path, "http://127.0.0.1:9", section)
    status, out, err = await _relaybot("run", "-c", str(path))
    assert status == 2, err
    line = _the_line(err)
    assert "Discord rejected discord.token" in line and "developer portal" in line
    assert WRONG_TOKEN not in out + err and "WRONG-DISCORD" not in out + err
    assert "Traceback" not in err and TEST_KEY not in out + err
    assert w.fake.count("GET /users/@me") == 1  # it really asked


async def test_a_token_the_gateway_refuses_4004_is_the_same_clear_error(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    w.fake.gateway.close_on_identify = 4004
    settings = bot_settings(tmp_path, fake_relay, w.fake)
    with pytest.raises(CredentialsError, match="Discord rejected discord.token") as caught:
        async with running_bot(settings):
            pass
    assert w.fake.token not in str(caught.value)


async def test_a_refused_message_content_intent_names_the_switch_and_the_key(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    w.fake.gateway.portal_intents = 0  # the portal switch is off
    settings = bot_settings(tmp_path, fake_relay, w.fake)
    with pytest.raises(CredentialsError) as caught:
        async with running_bot(settings):
            pass
    text = str(caught.value)
    assert "4014" in text and "Message Content Intent" in text
    assert "discord.message_content: false" in text and "developer portal" in text

    # Turned off in the config, the bot starts, and still answers mentions and DMs.
    fake = w.fake
    settings = bot_settings(tmp_path, fake_relay, fake, "  message_content: false\n")
    async with running_bot(settings):
        await fake.user_says(w.general.id, "not for the bot", author=w.alice)
        await fake.user_says(w.general.id, f"{fake.mention()} hi", author=w.alice)
        thread = await fake.wait_for(lambda: fake.threads(w.general.id))
        await fake.wait_for(lambda: fake.texts(thread[0].id) == ["echo: hi"])


async def test_the_4014_exit_status_through_the_command_is_2(tmp_path: Path, w: World) -> None:
    w.fake.gateway.portal_intents = 0
    path = write_config(tmp_path, "http://127.0.0.1:9", discord_config(w.fake))
    status, out, err = await _relaybot("run", "-c", str(path))
    assert status == 2, err
    assert "discord.message_content" in _the_line(err)
    assert w.fake.token not in out + err and "Traceback" not in err


async def test_missing_permissions_and_a_deleted_thread_never_stop_the_adapter(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    silent = fake.add_channel(w.guild.id, "read-only", denied=("send_messages",))
    dm = fake.dm_channel(w.alice)
    async with running_bot(bot_settings(tmp_path, fake_relay, fake, "  threads: false\n")):
        await fake.user_says(silent.id, f"{fake.mention()} can you hear me?", author=w.alice)
        await fake.wait_for(lambda: fake.count("POST /channels/{channel_id}/messages", 403))
        # A thread deleted while the bot answers in it.
        release = asyncio.Event()
        fake_relay.enqueue(Stream(chunks=["first part", " and more"], hold=release))
        thread = fake.add_thread(w.general.id, "gone soon", owner=fake.bot)
        await fake.user_says(thread.id, "talk to me", author=w.alice)
        await fake.wait_for(lambda: fake.texts(thread.id) == ["first part"])
        fake.delete_channel(thread.id)
        release.set()
        await fake.wait_for(lambda: fake.count("PATCH /channels/{channel_id}/messages/"
                                               "{message_id}", 404) > 0)
        # The adapter goes on: a DM is answered.
        await fake.user_says(dm.id, "still there?", author=w.alice)
        await fake.wait_for(lambda: fake.texts(dm.id) == ["echo: still there?"])
    assert relay_texts(fake_relay)[-1] == "still there?"


async def test_a_deleted_answer_is_sent_anew_and_a_503_is_retried(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    dm = fake.dm_channel(w.alice)
    release = asyncio.Event()
    fake_relay.enqueue(Stream(chunks=["Working on it", ", done."], hold=release))
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        await fake.user_says(dm.id, "go", author=w.alice)
        await fake.wait_for(lambda: fake.texts(dm.id) == ["Working on it"])
        [first] = fake.bot_messages(dm.id)
        await fake.user_deletes(first.id)  # a moderator removed it meanwhile
        release.set()
        await fake.wait_for(lambda: fake.texts(dm.id) == ["Working on it, done."])
        # One server error on a send: tried again, the answer arrives once.
        fake.fail("POST /channels/{channel_id}/messages", DiscordError(503, 0, "unavailable"))
        await fake.user_says(dm.id, "again", author=w.alice)
        await fake.wait_for(lambda: fake.texts(dm.id)[-1:] == ["echo: again"])
    assert fake.count("POST /channels/{channel_id}/messages", 503) == 1
    assert fake.texts(dm.id) == ["Working on it, done.", "echo: again"]


async def test_a_gateway_reconnect_and_resume_loses_no_message(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    dm = fake.dm_channel(w.alice)
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        fake.gateway.open.clear()  # the client comes back only when the test lets it
        await fake.gateway.force_reconnect()
        # Said while the bot is away: kept for its RESUME, as Discord does.
        await fake.user_says(dm.id, "while you were away", author=w.alice)
        fake.gateway.open.set()
        await fake.wait_for(lambda: fake.texts(dm.id) == ["echo: while you were away"])
        await fake.gateway.drop(4000)  # a dropped socket: resumed too
        await fake.user_says(dm.id, "and now?", author=w.alice)
        await fake.wait_for(lambda: fake.texts(dm.id)[-1:] == ["echo: and now?"])
    assert fake.gateway.identifies() == 1 and fake.gateway.resumes() == 2
    assert relay_texts(fake_relay) == ["while you were away", "and now?"]


async def test_sharding_config_reaches_the_client(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    extra = "  shard_count: 2\n  shard_ids: [1]\n"
    settings = make_settings(tmp_path, fake_relay.url, JOBS + discord_config(w.fake, extra))
    with restored_endpoints():
        async with App(settings) as app:
            [adapter] = build_adapters(app, ["discord"])
            await adapter.start()
            try:
                client = adapter.client  # type: ignore[attr-defined]
                assert client.shard_count == 2 and list(client.shards) == [1]
                [identify] = [h for h in w.fake.gateway.handshakes if h.kind == "identify"]
                assert identify.shard == (1, 2)  # only its own shard, of two
            finally:
                await adapter.stop()


def relay_texts(relay: FakeRelay) -> list[str]:
    return [r.json["messages"][-1]["content"] for r in relay.requests if r.json]


async def test_an_unreachable_api_exits_3_naming_api_base(tmp_path: Path, w: World) -> None:
    port = free_port()  # nothing listens there once the probe socket is closed
    section = discord_config(w.fake).replace(w.fake.api_base, f"http://127.0.0.1:{port}/api/v10")
    path = write_config(tmp_path, "http://127.0.0.1:9", section)
    status, out, err = await _relaybot("run", "-c", str(path))
    assert status == 3, err
    line = _the_line(err)
    assert "cannot reach the Discord API" in line and "discord.api_base" in line
    assert w.fake.token not in out + err and "Traceback" not in err


async def test_check_config_accepts_discord_and_shows_its_summary(
    tmp_path: Path, w: World
) -> None:
    extra = "  guild_ids: [123]\n  shard_count: 2\n  shard_ids: [0]\n"
    path = write_config(tmp_path, "http://127.0.0.1:9", discord_config(w.fake, extra))
    status, out, err = await _relaybot("check-config", "-c", str(path))
    assert status == 0, err
    assert "discord: enabled" in out and "discord shards: 0 of 2" in out
    assert "discord commands synced to: 123" in out
    assert w.fake.token not in out + err
    bad = write_config(tmp_path, "http://127.0.0.1:9", discord_config(w.fake, "  shard_ids: [2]\n"))
    status, out, err = await _relaybot("check-config", "-c", str(bad))
    assert status == 2 and "discord.shard_ids" in err


async def test_the_bot_token_never_reaches_the_logs(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    settings = bot_settings(tmp_path, fake_relay, fake)
    stream = io.StringIO()
    handler = setup_logging("DEBUG", settings.secrets(), stream=stream)
    logging.getLogger("discord").setLevel(logging.DEBUG)  # discord.py logs every frame
    dm = fake.dm_channel(w.alice)
    try:
        async with running_bot(settings):
            await fake.user_says(dm.id, "hello", author=w.alice)
            await fake.wait_for(lambda: fake.texts(dm.id) == ["echo: hello"])
            await fake.gateway.force_reconnect()  # RESUME carries the token too
            await fake.user_says(dm.id, "again", author=w.alice)
            await fake.wait_for(lambda: fake.texts(dm.id)[-1:] == ["echo: again"])
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger("discord").setLevel(logging.WARNING)
    logs = stream.getvalue()
    assert "IDENTIFY" in logs and "RESUME" in logs  # the library did log its handshakes
    assert fake.token not in logs and TEST_KEY not in logs


async def test_a_slash_command_acknowledged_too_late_is_answered_in_the_channel(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake, general = w.fake, w.general.id
    fake.interaction_response_s = 0.0  # every acknowledgement comes too late (404 10062)
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        rec = await fake.slash("chat", {"prompt": "are you there?"}, channel_id=general,
                               user=w.alice)
        await fake.wait_for(lambda: "echo: are you there?" in fake.texts(general))
        await fake.user_says(general, f"{fake.mention()} still?", author=w.alice)
        await fake.wait_for(lambda: fake.threads(general))
    assert not rec.acknowledged
    answer = next(m for m in fake.bot_messages(general) if m.content == "echo: are you there?")
    assert answer.webhook_id is None


async def test_an_unreachable_gateway_exits_3_naming_gateway_url(
    tmp_path: Path, w: World
) -> None:
    port = free_port()
    # discord.py gives up on a gateway it never reached at its first retry (within 2 s): the
    # timeout is only the bound.
    section = discord_config(w.fake, "  connect_timeout_s: 5\n").replace(
        w.fake.gateway_url, f"ws://127.0.0.1:{port}/gateway/"
    )
    path = write_config(tmp_path, "http://127.0.0.1:9", section)
    status, out, err = await _relaybot("run", "-c", str(path))
    assert status == 3, err
    line = _the_line(err)
    assert "cannot reach the Discord gateway" in line and "discord.gateway_url" in line
    assert w.fake.token not in out + err
    assert "Traceback" not in err  # discord.py's reconnect attempts are one line each
    assert "WARNING discord.client gateway connection lost (ClientConnectorError" in err


async def test_without_read_history_the_answer_comes_without_quoting(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    quiet = fake.add_channel(w.guild.id, "no-history", denied=("read_message_history",))
    async with running_bot(bot_settings(tmp_path, fake_relay, fake, "  threads: false\n")):
        await fake.user_says(quiet.id, f"{fake.mention()} hello?", author=w.alice)
        await fake.wait_for(lambda: fake.texts(quiet.id) == ["echo: hello?"])
        await fake.user_says(quiet.id, f"{fake.mention()} again", author=w.alice)
        await fake.wait_for(lambda: fake.texts(quiet.id)[-1:] == ["echo: again"])
    assert all(m.reference is None for m in fake.bot_messages(quiet.id))


async def test_without_thread_permission_the_answer_stays_in_the_channel(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    plain = fake.add_channel(w.guild.id, "no-threads", denied=("create_public_threads",))
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)):
        asked = await fake.user_says(plain.id, f"{fake.mention()} hi there", author=w.alice)
        await fake.wait_for(lambda: fake.texts(plain.id) == ["echo: hi there"])
    assert fake.bot_messages(plain.id)[0].reference == asked.id
    assert fake.threads(plain.id) == []


async def test_a_stop_lets_the_answer_in_flight_arrive(
    tmp_path: Path, fake_relay: FakeRelay, w: World
) -> None:
    fake = w.fake
    dm = fake.dm_channel(w.alice)
    route = "POST /channels/{channel_id}/messages"
    release = fake.hold(route)  # Discord is slow to take the answer
    async with running_bot(bot_settings(tmp_path, fake_relay, fake)) as app:
        await fake.user_says(dm.id, "answer me before you go", author=w.alice)
        await fake.wait_for(lambda: fake.held(route) == 1)

        async def release_once_stopping() -> None:
            await until(lambda: not app.outbox.available("discord"))  # the stop has begun
            release.set()

        releaser = asyncio.create_task(release_once_stopping())
        # The block ends: relaybot stops while the answer is on its way, and waits for it.
    await releaser
    assert fake.texts(dm.id) == ["echo: answer me before you go"]
