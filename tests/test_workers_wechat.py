"""Issue 15: the WeChat bridge on two workers sharing one PostgreSQL database. A message the
plugin sends again through another worker while the first is still answering it gets the
first worker's answer (asked of the relay once), and either worker serves the outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config.settings import Settings
from core.platform.outbox import Destination
from core.platform.types import FinalText
from tests.conftest import make_settings
from tests.fake_relay import FakeRelay, Stream
from tests.pg import create_database, drop_database
from tests.telegram_harness import JOBS, free_port
from tests.test_wechat_bridge import TOKEN, chat_requests, message, running_bridge, until


@pytest.fixture
def pg_db() -> Iterator[str]:
    url, name = create_database("relaybot_wechat_workers")
    try:
        yield url
    finally:
        drop_database(name)


def worker_settings(tmp_path: Path, relay: FakeRelay, url: str, name: str) -> Settings:
    folder = tmp_path / name
    folder.mkdir()
    extra = (
        f"http:\n  listen: 127.0.0.1\n  port: {free_port()}\n"
        f"wechat:\n  enabled: true\n  token: {TOKEN}\n"
        f"workers:\n  count: 2\n  id: {name}\n  lease_s: 2\n  poll_s: 0.1\n"
    )
    return make_settings(folder, relay.url, JOBS + extra, storage=f"  url: {url}")


async def test_a_repeat_through_another_worker_gets_the_first_answer(
    tmp_path: Path, fake_relay: FakeRelay, pg_db: str
) -> None:
    release = asyncio.Event()
    fake_relay.enqueue(Stream(chunks=["one ", "answer"], hold=release))
    first_settings = worker_settings(tmp_path, fake_relay, pg_db, "w1")
    second_settings = worker_settings(tmp_path, fake_relay, pg_db, "w2")
    async with running_bridge(first_settings) as one, running_bridge(second_settings) as two:
        body = message("hello there", "cow:weixin:77")
        first = asyncio.create_task(one.post(body))

        async def claimed() -> bool:  # w1 has taken the message and is answering it
            rows = await one.app.store.query("SELECT count(*) FROM wechat_messages")
            return int(rows[0][0]) == 1

        await until(claimed)
        again = asyncio.create_task(two.post(body))  # the plugin's retry, through w2
        await until(lambda: "cow:weixin:77" in two.adapter._inflight)
        release.set()
        answers = [(await first).json(), (await again).json()]
        assert answers[0] == answers[1]
        assert answers[0]["replies"] == [{"type": "text", "text": "one answer"}]
        assert len(chat_requests(fake_relay)) == 1  # asked of the relay once

        # what one worker put in the outbox, the other serves (leased once, SKIP LOCKED)
        dest = Destination("wechat", "weixin:wxid_alice", "weixin:wxid_alice", "en")
        await one.adapter.send(dest, [FinalText("later", markdown=False)])
        served = await two.outbox()
        assert [d["parts"] for d in served] == [[{"type": "text", "text": "later"}]]
        assert await one.outbox() == []  # leased by the other worker
        assert await one.ack(served[0]["delivery_id"]) == 1
