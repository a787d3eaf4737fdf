"""The relaybot command: check-config, run, and the console chat over its real stdin/stdout."""

from __future__ import annotations

import asyncio
import logging
import os
import pty
import signal
import sys
from pathlib import Path

import pytest

from bots.cli import main
from core.platform.traits import PLAIN
from tests.conftest import TEST_KEY, write_config
from tests.fake_relay import FakeRelay, Stream

RELAYBOT = [sys.executable, "-m", "bots"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "TELEGRAM_"))}
    env.update(RELAY_API_KEY=TEST_KEY, PYTHONUNBUFFERED="1", **extra)
    return env


async def _chat_in_a_terminal(path: Path) -> tuple[asyncio.subprocess.Process, int]:
    """``relaybot chat`` on a pseudo-terminal, as a person runs it; returns the process and
    the terminal side to type into and read from."""
    master, slave = pty.openpty()
    proc = await asyncio.create_subprocess_exec(
        *RELAYBOT, "chat", "-c", str(path), stdin=slave, stdout=slave, stderr=slave, env=_env()
    )
    os.close(slave)
    return proc, master


def test_check_config_valid_prints_summary_without_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_API_KEY", TEST_KEY)
    monkeypatch.setenv("TELEGRAM_TOKEN", "123456:TELEGRAM-SECRET-TOKEN")
    path = write_config(
        tmp_path, "http://127.0.0.1:9/v1/", "telegram:\n  enabled: true\n  token: ${TELEGRAM_TOKEN}"
    )
    assert main(["check-config", "-c", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "valid" in out and "gpt-test" in out and "telegram" in out and "bot.db" in out
    assert TEST_KEY not in out + err and "TELEGRAM-SECRET" not in out + err


def test_invalid_config_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_API_KEY", TEST_KEY)
    path = write_config(
        tmp_path, "http://127.0.0.1:9", "chat:\n  history_tokens: -3\ntelegram:\n  enabled: true"
    )
    for command in ("check-config", "run", "chat"):
        assert main([command, "-c", str(path)]) == 2
        out, err = capsys.readouterr()
        assert "chat.history_tokens: must be a positive integer" in err
        assert "telegram.token: required when telegram.enabled is true" in err
        assert "Traceback" not in err and TEST_KEY not in err


def test_missing_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "-c", str(tmp_path / "nope.yaml")]) == 2
    assert "config.example.yaml" in capsys.readouterr().err


def test_run_with_no_platform_enabled_exits_2_and_points_to_chat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_API_KEY", TEST_KEY)
    path = write_config(tmp_path, "http://127.0.0.1:9")
    assert main(["run", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert "no platform is enabled" in err and "telegram.enabled" in err
    assert f"relaybot chat -c {path}" in err


def test_unusable_storage_path_exits_2_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_API_KEY", TEST_KEY)
    (tmp_path / "data").write_text("a file where the folder should be")
    path = write_config(tmp_path, "http://127.0.0.1:9")
    assert main(["chat", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert "storage.path" in err and "Traceback" not in err


async def test_console_chat_piped_answers_each_line_and_exits_0(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    path = write_config(tmp_path, fake_relay.url)
    proc = await asyncio.create_subprocess_exec(
        *RELAYBOT,
        "chat",
        "-c",
        str(path),
        "--user",
        "ada",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )
    script = "hello\n\n/model\nwhat did I say?\n/frobnicate\n/model fake-401\n"
    out, err = await asyncio.wait_for(proc.communicate(script.encode()), 60)
    text = out.decode()
    assert proc.returncode == 0, err.decode()
    assert text.splitlines()[0] == "echo: hello"
    assert "Current model: gpt-test" in text
    assert "echo: what did I say?" in text
    assert "Unknown command /frobnicate" in text
    assert "“fake-401” is not one of the models you can pick" in text
    assert "Traceback" not in text + err.decode() and TEST_KEY not in text + err.decode()
    # The console is a real platform: its history was stored and sent back.
    sent = [(m["role"], m["content"]) for m in fake_relay.requests[-1].json["messages"]]
    assert ("user", "hello") in sent and ("assistant", "echo: hello") in sent


async def test_console_chat_interactive_prints_each_answer_in_the_terminal(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    path = write_config(tmp_path, fake_relay.url)
    proc, master = await _chat_in_a_terminal(path)
    screen = b""

    async def read_until(needle: bytes) -> None:
        nonlocal screen
        while needle not in screen:
            chunk = await asyncio.wait_for(asyncio.to_thread(os.read, master, 4096), 30)
            assert chunk, screen
            screen += chunk

    try:
        await read_until(b"you> ")
        # The console has no edits: the answer is printed once, complete (test_typed_forms
        # shows no piece of it is printed before the end).
        fake_relay.enqueue(Stream(chunks=["Streaming ", "works"]))
        os.write(master, b"hi\n")
        await read_until(b"Streaming works")
        await read_until(b"you> ")
        os.write(master, "你好，世界\n".encode())
        await read_until("echo: 你好，世界".encode())
        await read_until(b"you> ")
        os.write(master, b"\x04")  # Ctrl-D: EOF ends the session
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        os.close(master)
    assert b"Traceback" not in screen


async def test_console_chat_ctrl_c_at_the_prompt_exits_without_hanging(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    path = write_config(tmp_path, fake_relay.url)
    proc, master = await _chat_in_a_terminal(path)
    screen = b""
    try:
        while b"you> " not in screen:  # blocked reading the terminal now
            screen += await asyncio.wait_for(asyncio.to_thread(os.read, master, 4096), 30)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
        assert await asyncio.wait_for(proc.wait(), 30) == 130
        try:
            screen += os.read(master, 65536)
        except OSError:  # EIO: the terminal's other side is closed, nothing more to read
            pass
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        os.close(master)
    assert b"Traceback" not in screen


async def test_piped_console_waits_for_its_jobs_and_saves_the_picture(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    path = write_config(tmp_path, fake_relay.url, "jobs:\n  mj_poll_interval_s: 0.05")
    proc = await asyncio.create_subprocess_exec(
        *RELAYBOT,
        "chat",
        "-c",
        str(path),
        "--user",
        "ada",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )
    out, err = await asyncio.wait_for(proc.communicate(b"/img -m mj a red fox\n"), 60)
    text = out.decode()
    assert proc.returncode == 0, err.decode()
    assert "✅ #1 Midjourney imagine: done" in text
    saved = [line for line in text.splitlines() if line.startswith("[image saved: ")]
    assert saved and (tmp_path / "data" / "media").is_dir()
    # A terminal has no buttons: one line of what to type instead.
    assert "Type: /u1 /u2 /u3 /u4 /reroll · /v1 /v2 /v3 /v4" in text
    assert "/mj " not in text


def test_check_config_reports_what_run_needs_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_API_KEY", TEST_KEY)
    monkeypatch.setenv("TELEGRAM_TOKEN", "123456:TELEGRAM-SECRET-TOKEN")
    extra = "discord:\n  enabled: true\n  token: discord-SECRET-token\n"
    path = write_config(tmp_path, "https://api.example.com", extra)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the folder should be")
    text = path.read_text().replace(str(tmp_path / "data"), str(blocker))
    path.write_text(text)
    for command in ("check-config", "run", "chat"):
        assert main([command, "-c", str(path)]) == 2
        out, err = capsys.readouterr()
        assert "relay.base_url: api.example.com is the example placeholder" in err
        assert f"storage.path: {blocker} is not a folder" in err
        assert "discord.enabled" not in err  # Discord runs since issue 10
        assert "Traceback" not in err and "SECRET" not in out + err and TEST_KEY not in out + err


def test_check_config_of_a_runnable_config_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_API_KEY", TEST_KEY)
    path = write_config(tmp_path, "https://relay.test", "telegram:\n  enabled: true\n  token: 1:x")
    assert main(["check-config", "-c", str(path)]) == 0
    assert "is valid\n" in capsys.readouterr().out
    assert not (tmp_path / "data").exists()  # check-config creates nothing


def test_check_config_refuses_a_database_of_a_newer_relaybot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from core.storage.sqlite import MIGRATIONS

    monkeypatch.setenv("RELAY_API_KEY", TEST_KEY)
    path = write_config(tmp_path, "https://relay.test")
    (tmp_path / "data").mkdir()
    with sqlite3.connect(tmp_path / "data" / "bot.db") as db:
        db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    assert main(["check-config", "-c", str(path)]) == 2
    assert "is from a newer relaybot" in capsys.readouterr().err


def test_check_config_into_a_closed_pipe_ends_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`relaybot check-config | head -2`: the reader leaves before the end of the output."""
    import subprocess

    monkeypatch.setenv("RELAY_API_KEY", TEST_KEY)
    path = write_config(tmp_path, "https://relay.test")
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write to the pipe now fails with EPIPE
    try:
        done = subprocess.run(
            [*RELAYBOT, "check-config", "-c", str(path)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=_env(),
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""


def test_version_comes_from_the_package(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib import metadata

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"relaybot {metadata.version('relaybot')}\n"


def test_a_proxy_url_that_cannot_work_is_a_config_error_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_API_KEY", TEST_KEY)
    telegram = "telegram:\n  proxy: http://me:proxy-PASSWORD-1@127.0.0.1:nope\n"
    path = write_config(tmp_path, "https://relay.test", telegram)
    assert main(["check-config", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert "telegram.proxy: must be a URL with a host and, if any, a numeric port" in err
    assert "proxy-PASSWORD-1" not in err


class CrashingAdapter:
    """A platform whose start fails in a way nobody planned for, quoting a secret."""

    name = "telegram"
    traits = PLAIN

    def __init__(self, settings: object, engine: object, outbox: object) -> None:
        self.token = settings.telegram.token  # type: ignore[attr-defined]

    async def start(self) -> None:
        raise RuntimeError(f"unplanned failure with {self.token} and {TEST_KEY}")

    async def stop(self) -> None:
        pass


def test_an_unexpected_crash_is_one_redacted_line_exit_1_and_a_redacted_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bots.app import ADAPTERS

    monkeypatch.setenv("RELAY_API_KEY", TEST_KEY)
    monkeypatch.setitem(ADAPTERS, "telegram", "tests.test_cli:CrashingAdapter")
    token = "123456:CRASH-SECRET-TOKEN"
    telegram = f"telegram:\n  enabled: true\n  token: {token}"
    path = write_config(tmp_path, "https://relay.test", telegram)
    try:
        assert main(["run", "-c", str(path)]) == 1
    finally:
        logging.getLogger().handlers.clear()
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("relaybot:")]
    assert len(lines) == 1 and "RuntimeError: unplanned failure with *** and ***" in lines[0]
    assert "Traceback" in err  # the admin has the details for the report...
    assert token not in err and TEST_KEY not in err  # ...and no secret in them
