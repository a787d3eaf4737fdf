"""`relaybot run` and `relaybot chat` as processes: each fatal start-up problem is one redacted
line and a documented exit status, and the process ends (no hang, no secret, no traceback)."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from core.storage.sqlite import MIGRATIONS
from tests.conftest import TEST_KEY, write_config
from tests.fake_telegram import FakeTelegram
from tests.telegram_harness import free_port
from tests.test_cli import RELAYBOT, _env

WRONG_TOKEN = "999999:WRONG-TELEGRAM-TOKEN-SECRET"
PROXY_PASSWORD = "proxy-PASSWORD-secret-42"
HANG_GUARD_S = 60  # far above the few seconds these take; only there to fail instead of hang


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def _telegram(base_url: str, token: str, extra: str = "") -> str:
    return (
        f"telegram:\n  enabled: true\n  token: {token}\n  base_url: {base_url}\n"
        f"  base_file_url: {base_url.replace('/bot', '/file/bot')}\n{extra}"
    )


async def _relaybot(*args: str) -> tuple[int, str, str]:
    """Run relaybot with ``args``; its exit status, stdout and stderr. Fails if it hangs."""
    proc = await asyncio.create_subprocess_exec(
        *RELAYBOT,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), HANG_GUARD_S)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        raise AssertionError(f"relaybot {args[0]} hung; it said:\n{err.decode()}") from None
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _the_line(err: str) -> str:
    """The one line relaybot itself wrote (the rest of stderr is log lines)."""
    lines = [line for line in err.splitlines() if line.startswith("relaybot:")]
    assert len(lines) == 1, err
    return lines[0]


def _closed_port() -> int:
    return free_port()  # nothing listens there once the probe socket is closed


async def test_a_rejected_token_is_one_line_exit_2_and_never_printed(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:9", _telegram(fake.base_url, WRONG_TOKEN))
    status, out, err = await _relaybot("run", "-c", str(path))
    assert status == 2, err
    line = _the_line(err)
    assert "Telegram rejected telegram.token" in line and "@BotFather" in line
    assert WRONG_TOKEN not in out + err and WRONG_TOKEN.split(":")[1] not in out + err
    assert "Traceback" not in err and TEST_KEY not in out + err
    assert fake.calls_to("getMe")  # it really asked


@pytest.mark.parametrize("through", ["closed port", "closed proxy"])
async def test_an_unreachable_bot_api_is_one_line_exit_3_naming_proxy_and_base_url(
    tmp_path: Path, fake: FakeTelegram, through: str
) -> None:
    port = _closed_port()
    if through == "closed port":
        telegram = _telegram(f"http://127.0.0.1:{port}/bot", fake.token)
    else:  # the Bot API is up, the proxy in front of it is not
        proxy = f"  proxy: http://relay-user:{PROXY_PASSWORD}@127.0.0.1:{port}\n"
        telegram = _telegram(fake.base_url, fake.token, proxy)
    path = write_config(tmp_path, "http://127.0.0.1:9", telegram)
    status, out, err = await _relaybot("run", "-c", str(path))
    assert status == 3, err
    line = _the_line(err)
    assert "cannot reach the Telegram Bot API" in line
    assert "telegram.proxy" in line and "telegram.base_url" in line
    for secret in (fake.token, fake.token.split(":")[1], PROXY_PASSWORD, TEST_KEY):
        assert secret not in out + err
    assert "Traceback" not in err


@pytest.fixture
def locked_db(tmp_path: Path) -> Iterator[Path]:
    """A relaybot database another process is writing to: its write lock held throughout."""
    path = tmp_path / "data" / "bot.db"
    path.parent.mkdir()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    for number, script in enumerate(MIGRATIONS, start=1):  # what relaybot itself would create
        other.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO actions VALUES ('t', 'a', 0)")
    try:
        yield path
    finally:
        other.close()


async def test_a_locked_database_ends_run_and_chat_with_one_line_instead_of_hanging(
    tmp_path: Path, locked_db: Path, fake: FakeTelegram
) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:9", _telegram(fake.base_url, fake.token))
    results = await asyncio.gather(
        _relaybot("run", "-c", str(path)), _relaybot("chat", "-c", str(path))
    )
    for status, out, err in results:
        assert status == 3, err
        line = _the_line(err)
        assert "database is locked" in line and "storage.path" in line
        assert "Traceback" not in err and TEST_KEY not in out + err


@pytest.mark.parametrize("where", ["under a file", "not a database", "in /proc"])
async def test_an_unusable_database_path_ends_run_with_one_line_and_exit_2(
    tmp_path: Path, fake: FakeTelegram, where: str
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    db = {
        "under a file": blocker / "bot.db",
        "not a database": blocker,
        "in /proc": Path("/proc/self/relaybot.db"),
    }[where]
    path = write_config(tmp_path, "http://127.0.0.1:9", _telegram(fake.base_url, fake.token))
    path.write_text(path.read_text().replace(str(tmp_path / "data" / "bot.db"), str(db)))
    status, out, err = await _relaybot("run", "-c", str(path))
    assert status == 2, err
    assert "storage.path" in err and str(db) in err
    assert "Traceback" not in err and fake.token not in out + err
    assert not fake.calls_to("getMe")  # refused before anything was started


async def test_a_taken_webhook_port_is_one_line_and_exit_3(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        webhook = (
            "  webhook:\n    url: https://bot.test/hook\n    listen: 127.0.0.1\n"
            f"    port: {port}\n    secret_token: hook-SECRET-123\n"
        )
        path = write_config(
            tmp_path, "http://127.0.0.1:9", _telegram(fake.base_url, fake.token, webhook)
        )
        status, out, err = await _relaybot("run", "-c", str(path))
    assert status == 3, err
    line = _the_line(err)
    assert f"127.0.0.1:{port}" in line and "telegram.webhook.port" in line
    assert "hook-SECRET-123" not in out + err and "Traceback" not in err
