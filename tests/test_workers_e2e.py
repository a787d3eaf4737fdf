"""Issue 15 end to end: three real `relaybot run` processes on one PostgreSQL database (made
and dropped by the test), the fake relay, and a fake Telegram whose webhook updates a load
balancer hands to the workers in turn (some twice, as Telegram retries). Every message is
answered once and in order per chat; Midjourney and Suno jobs submitted on one worker are
delivered once by another after that worker is killed with SIGKILL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest

from tests.fake_relay import FakeRelay, Stream
from tests.fake_telegram import FakeTelegram
from tests.pg import create_database, drop_database
from tests.telegram_harness import JOBS, texts
from tests.workers_harness import Balancer, Workers, webhook_section

T = TypeVar("T")

USERS = (2001, 2002, 2003)
ROUNDS = 4
JOB_USER = 3001


@pytest.fixture
def pg_db() -> Iterator[str]:
    url, name = create_database("relaybot_workers")
    try:
        yield url
    finally:
        drop_database(name)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def cluster_config(
    tmp_path: Path, relay: FakeRelay, fake: FakeTelegram, url: str, count: int = 3
) -> Path:
    text = f"""
language: en
relay:
  base_url: {relay.url}
  api_key: ${{RELAY_API_KEY}}
  timeout_s: 10
  retry_backoff_s: 0.001
storage:
  url: {url}
  pool_size: 4
models:
  chat: gpt-test
  image_choices: [dall-e-3, mj]
workers:
  count: {count}
  id: ${{RELAYBOT_WORKER_ID}}
  lease_s: 2
  poll_s: 0.1
shutdown_grace_s: 5
{JOBS}{webhook_section(fake)}"""
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def job_states(url: str) -> dict[int, str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT id, state FROM jobs ORDER BY id")
    finally:
        await conn.close()
    return {int(r["id"]): str(r["state"]) for r in rows}


async def inbox_states(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT state FROM inbox ORDER BY update_id")
    finally:
        await conn.close()
    return [str(r["state"]) for r in rows]


async def eventually(read: Callable[[], Awaitable[T]], expected: T, limit_s: float = 10) -> None:
    """Until ``await read()`` equals ``expected`` (a row another process writes)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while (found := await read()) != expected:
        if loop.time() > deadline:
            raise AssertionError(f"not within {limit_s}s: {found!r} != {expected!r}")
        await asyncio.sleep(0.05)


async def test_three_workers_answer_once_in_order_and_survive_a_kill(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram, pg_db: str
) -> None:
    workers = Workers(cluster_config(tmp_path, fake_relay, fake, pg_db))
    balancer = Balancer(fake, workers)
    try:
        await workers.start_all(["w1", "w2", "w3"])
        await fake.wait_for(lambda: fake.webhook is not None)

        # --- chats: updates to the workers in turn, every third one twice ---------------------
        sent = 0
        for turn in range(ROUNDS):
            for user in USERS:
                update = fake.send_text(user, f"m{turn} from {user}")
                sent += 1
                if sent % 3 == 0:
                    first, second = await balancer.deliver_twice(update)
                    assert first is not second  # the retry landed on another worker
                else:
                    await balancer.deliver(update)
        for user in USERS:
            expected = [f"echo: m{turn} from {user}" for turn in range(ROUNDS)]
            await fake.wait_for(lambda u=user, e=expected: texts(fake, u) == e, timeout=30)  # type: ignore[misc]
        chats = [r for r in fake_relay.requests if r.path.endswith("/chat/completions")]
        assert len(chats) == len(USERS) * ROUNDS  # each message reached the relay once
        for request in chats:  # one at a time per chat: each saw every earlier turn
            said = [m["content"] for m in request.json["messages"] if m["role"] == "user"]
            user, turn = said[-1].split(" from ")[1], int(said[-1][1])
            assert said == [f"m{k} from {user}" for k in range(turn + 1)], said
        answered_by = {w.name for w in workers.all if w.logged("answer platform=telegram")}
        assert len(answered_by) >= 2, "the chats were spread over the workers"
        all_done = ["done"] * (len(USERS) * ROUNDS)  # stored once each, none left behind
        await eventually(lambda: inbox_states(pg_db), all_done)

        # --- jobs: submitted on one worker, which is killed; another delivers them once -------
        fake_relay.mj_steps_per_state = 10**6  # the relay holds both tasks until the kill
        fake_relay.suno_steps_per_state = 10**6
        target = workers.all[0]
        await balancer.deliver(fake.send_text(JOB_USER, "/img -m mj a castle at dawn"), to=target)
        await balancer.deliver(fake.send_text(JOB_USER, "/song a lullaby"), to=target)
        await fake.wait_for(
            lambda: sum("queued" in t for t in texts(fake, JOB_USER)) == 2, timeout=20
        )
        submitters = [w for w in workers.all if w.logged("job submitted")]
        assert 1 <= len(submitters) <= 2
        for worker in submitters:
            workers.kill(worker)
            await worker.proc.wait()
        survivors = [w for w in workers.all if w.alive]
        fake_relay.mj_steps_per_state = 1  # meanwhile the relay finished them
        fake_relay.suno_steps_per_state = 1

        await fake.wait_for(
            lambda: "✅ #1 Midjourney imagine: done" in texts(fake, JOB_USER)
            and "✅ #2 Suno song: done" in texts(fake, JOB_USER),
            timeout=30,
        )
        await eventually(lambda: job_states(pg_db), {1: "delivered", 2: "delivered"})
        assert any(w.logged("job delivered id=1") for w in survivors)
        assert any(w.logged("job delivered id=2") for w in survivors)
        grids = [m for m in fake.messages(JOB_USER) if m.media.get("photo") and m.reply_markup]
        assert len(grids) == 1  # the Midjourney grid, once
        assert len(fake.calls_to("sendAudio", ok=True)) == 2  # Suno's two clips, once
        assert len([r for r in fake_relay.requests if r.path == "/mj/submit/imagine"]) == 1
        assert len([t for t in fake_relay.suno_tasks.values() if "mv" in t.body]) == 1
    finally:
        await workers.stop()
    for worker in workers.all:
        assert "Traceback" not in "".join(worker.lines), worker.log()


async def execute(url: str, sql: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def lease_holder(url: str, chat: int) -> str | None:
    conn = await asyncpg.connect(url)
    try:
        holder = await conn.fetchval(
            "SELECT holder FROM leases WHERE name LIKE $1", f"telegram:%:chat:{chat}"
        )
    finally:
        await conn.close()
    return str(holder) if holder is not None else None


async def test_a_message_being_answered_by_a_killed_worker_is_not_answered_twice(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram, pg_db: str
) -> None:
    workers = Workers(cluster_config(tmp_path, fake_relay, fake, pg_db, count=2))
    balancer = Balancer(fake, workers)
    user = 4001
    try:
        await workers.start_all(["w1", "w2"])

        # Telegram hears 200 only for a stored update: with the inbox unwritable, a 500
        # (Telegram delivers it again later), and nothing is answered meanwhile.
        await execute(pg_db, "ALTER TABLE inbox RENAME TO inbox_away")
        update = fake.send_text(user, "stored first")
        assert await fake.deliver_webhook(update, url=workers.all[0].url) == 500
        await execute(pg_db, "ALTER TABLE inbox_away RENAME TO inbox")
        await balancer.deliver(update)  # the retry
        assert await execute(pg_db, "SELECT count(*) FROM inbox") == 1  # stored at the 200
        await fake.wait_for(lambda: texts(fake, user) == ["echo: stored first"], timeout=20)

        held = asyncio.Event()  # never set: the answer stops after its first words
        fake_relay.enqueue(Stream(chunks=["Let me think", " about that."], hold=held))
        await balancer.deliver(fake.send_text(user, "a long question"))
        await fake.wait_for(lambda: texts(fake, user)[1:] == ["Let me think"], timeout=20)
        holder = await lease_holder(pg_db, user)
        assert holder is not None
        busy = next(w for w in workers.all if holder.startswith(w.name + "/"))
        workers.kill(busy)
        await busy.proc.wait()
        (survivor,) = [w for w in workers.all if w.alive]
        await balancer.deliver(fake.send_text(user, "are you there?"))
        await fake.wait_for(lambda: len(texts(fake, user)) == 4, timeout=20)
        first, notice, answer = texts(fake, user)[1:]
        assert first == "Let me think"  # what the dead worker had sent stays as it was
        assert notice.startswith("One of the bot's processes stopped while it was answering")
        assert answer == "echo: are you there?"
        asked = [
            r.json["messages"][-1]["content"]
            for r in fake_relay.requests
            if r.path.endswith("/chat/completions")
        ]
        # each asked once; the interrupted one was not asked again
        assert asked == ["stored first", "a long question", "are you there?"]
        assert survivor.logged("was being answered by a worker that stopped")
    finally:
        await workers.stop()
