"""The real app (Telegram adapter against the fake Bot API, the fake relay) on a real
PostgreSQL database: history and jobs survive a restart, a read-only or lost database is a
clear message to the user (never a crash), an unreachable server stops start-up with exit 2
naming storage.url without its password."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from bots.cli import main
from core.errors import StorageError
from core.storage.postgres import PostgresStore
from tests.conftest import write_config
from tests.fake_relay import FakeRelay
from tests.fake_telegram import FakeTelegram
from tests.pg import create_database, drop_database, truncate_all
from tests.telegram_harness import USER, bot_settings, running_bot, texts

PASSWORD = "Pg-S3cret-Passw0rd-4242"  # trust auth ignores it; it must never be shown
STORAGE_ERROR = "could not write to its database"


def with_password(url: str) -> str:
    """``url`` with a password in its userinfo (postgresql://user:PASSWORD@host/db)."""
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{PASSWORD}@{host}"


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    url, name = create_database("relaybot_app")
    try:
        yield url
    finally:
        drop_database(name)


@pytest.fixture
async def pg(database: str) -> str:
    """The module's database, empty; its URL with a password."""
    probe = PostgresStore(database)
    await probe.open()  # migrated once, then emptied for each test
    await probe.close()
    await truncate_all(database)
    return with_password(database)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


async def admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


def kick_everyone(name: str) -> str:
    return (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        f" WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )


async def test_history_survives_a_restart_on_postgresql(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram, pg: str
) -> None:
    settings = bot_settings(tmp_path, fake_relay, fake, storage=f"  url: {pg}\n  pool_size: 3")
    async with running_bot(settings, fake) as app:
        assert app.store.dialect.is_postgres
        fake.send_text(USER, "my name is Ada")
        await fake.wait_for(lambda: texts(fake, USER) == ["echo: my name is Ada"])
    async with running_bot(settings, fake):
        fake.send_text(USER, "who am I?")
        await fake.wait_for(lambda: "echo: who am I?" in texts(fake, USER))
    sent = fake_relay.requests[-1].json["messages"]
    assert {"role": "user", "content": "my name is Ada"} in sent
    assert {"role": "assistant", "content": "echo: my name is Ada"} in sent
    assert not (tmp_path / "data").exists()  # nothing went to a SQLite file


async def test_a_job_survives_a_restart_on_postgresql(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram, pg: str
) -> None:
    fake_relay.mj_steps_per_state = 1000  # the relay will not finish while the bot runs
    settings = bot_settings(tmp_path, fake_relay, fake, storage=f"  url: {pg}")
    async with running_bot(settings, fake):
        fake.send_text(USER, "/img -m mj a castle")
        await fake.wait_for(lambda: any("queued" in t for t in texts(fake, USER)))
    fake_relay.mj_steps_per_state = 1  # meanwhile the relay went on
    async with running_bot(settings, fake):
        await fake.wait_for(lambda: len(fake.calls_to("sendPhoto", ok=True)) == 1)
        await fake.wait_for(lambda: "✅ #1 Midjourney imagine: done" in texts(fake, USER))
    assert len(fake.calls_to("sendPhoto", ok=True)) == 1
    assert len([r for r in fake_relay.requests if r.path == "/mj/submit/imagine"]) == 1


async def test_a_read_only_database_is_a_clear_message_then_it_works_again(
    tmp_path: Path,
    fake_relay: FakeRelay,
    fake: FakeTelegram,
    pg: str,
    database: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = database.rsplit("/", 1)[1]
    server = database.rsplit("/", 1)[0] + "/postgres"
    settings = bot_settings(tmp_path, fake_relay, fake, storage=f"  url: {pg}")
    async with running_bot(settings, fake):
        fake.send_text(USER, "first")
        await fake.wait_for(lambda: "echo: first" in texts(fake, USER))
        # the database turns read-only (as a standby would be) and every connection is cut
        await admin(
            server,
            f'ALTER DATABASE "{name}" SET default_transaction_read_only = on',
            kick_everyone(name),
        )
        try:
            fake.send_text(USER, "second")
            await fake.wait_for(lambda: any(STORAGE_ERROR in t for t in texts(fake, USER)))
        finally:
            await admin(
                server,
                f'ALTER DATABASE "{name}" SET default_transaction_read_only = off',
                kick_everyone(name),
            )
        fake.send_text(USER, "third")
        await fake.wait_for(lambda: "echo: third" in texts(fake, USER))
    assert "Traceback" not in "".join(texts(fake, USER))
    assert PASSWORD not in caplog.text


async def test_lost_connections_are_replaced_and_never_crash_the_bot(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram, pg: str, database: str
) -> None:
    name = database.rsplit("/", 1)[1]
    server = database.rsplit("/", 1)[0] + "/postgres"
    settings = bot_settings(tmp_path, fake_relay, fake, storage=f"  url: {pg}\n  pool_size: 2")
    async with running_bot(settings, fake):
        fake.send_text(USER, "one")
        await fake.wait_for(lambda: "echo: one" in texts(fake, USER))
        await admin(server, kick_everyone(name))  # the server restarted, say
        fake.send_text(USER, "two")
        # answered, or told the step was not saved: either way a reply, not a crash
        await fake.wait_for(
            lambda: any(t == "echo: two" or STORAGE_ERROR in t for t in texts(fake, USER))
        )
        fake.send_text(USER, "three")
        await fake.wait_for(lambda: "echo: three" in texts(fake, USER))


def test_an_unreachable_server_stops_start_up_with_exit_2_and_no_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_API_KEY", "sk-test-key")
    url = f"postgresql://relaybot:{PASSWORD}@127.0.0.1:1/relaybot"
    extra = "telegram:\n  enabled: true\n  token: 123:abc\n"
    config = write_config(tmp_path, "http://127.0.0.1:9/v1", extra, storage=f"  url: {url}")
    status = main(["run", "-c", str(config)])
    out, err = capsys.readouterr()
    assert status == 2
    assert "storage.url=postgresql://***@127.0.0.1:1/relaybot" in err
    assert "cannot connect" in err and "Traceback" not in err
    assert PASSWORD not in out + err


async def test_storage_errors_never_carry_the_password() -> None:
    store = PostgresStore(f"postgresql://relaybot:{PASSWORD}@127.0.0.1:1/relaybot")
    with pytest.raises(StorageError) as caught:
        await store.open()
    shown = "".join(traceback.format_exception(caught.value))
    assert "postgresql://***@127.0.0.1:1/relaybot" in shown
    assert PASSWORD not in shown and PASSWORD not in repr(store.backend)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_migrations_run_once_when_workers_start_together(database: str) -> None:
    stores = [PostgresStore(database, pool_size=1) for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        versions = {await s.schema_version() for s in stores}
        rows = await stores[0].query("SELECT COUNT(*) FROM relaybot_schema")
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    assert versions == {stores[0].backend.latest_version()} == {rows[0][0]}
