"""Issue 13, as a process: `relaybot run` serves /healthz, `relaybot health` asks it, SIGHUP
reloads the config, SIGTERM lets the answer in flight finish and exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from tests.conftest import TEST_KEY
from tests.fake_relay import FakeRelay, Stream
from tests.fake_telegram import FakeTelegram
from tests.telegram_harness import USER, free_port, texts
from tests.test_ops import config_text, fake  # noqa: F401 - the fixture

RELAYBOT = [sys.executable, "-m", "bots"]
OLD = "You are the OLD assistant."
NEW = "You are the NEW assistant, after SIGHUP."


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "TELEGRAM_"))}
    env.update(RELAY_API_KEY=TEST_KEY, PYTHONUNBUFFERED="1")
    return env


async def _until(predicate: object, what: str, limit_s: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not predicate():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"not within {limit_s}s: {what}")
        await asyncio.sleep(0.02)


async def test_run_reloads_on_sighup_and_drains_on_sigterm(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram  # noqa: F811
) -> None:
    port = free_port()
    extra = (
        f"chat:\n  system_prompt: {OLD}\nhttp:\n  port: {port}\n  health: true\n"
        "reload_check_s: 0\nshutdown_grace_s: 20\n"
    )
    path = config_text(tmp_path, fake_relay, fake, extra)
    proc = await asyncio.create_subprocess_exec(
        *RELAYBOT, "run", "-c", str(path), stderr=asyncio.subprocess.PIPE, env=_env()
    )
    lines: list[str] = []

    async def read() -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            lines.append(raw.decode("utf-8", "replace"))

    reader = asyncio.create_task(read())
    logged = lambda text: any(text in line for line in lines)  # noqa: E731
    try:
        await _until(lambda: logged("adapter started platform=telegram"), "started")
        async with httpx.AsyncClient() as client:
            health = await client.get(f"http://127.0.0.1:{port}/healthz")
        assert health.status_code == 200, health.text
        check = await asyncio.create_subprocess_exec(
            *RELAYBOT, "health", "-c", str(path), stdout=asyncio.subprocess.PIPE, env=_env()
        )
        out, _ = await asyncio.wait_for(check.communicate(), 30)
        assert check.returncode == 0 and b'"status": "ok"' in out

        # SIGHUP: the edited prompt is used by the next answer.
        path.write_text(path.read_text().replace(OLD, NEW))
        os.kill(proc.pid, signal.SIGHUP)
        await _until(lambda: logged("config reload applied: chat.system_prompt"), "reload")
        fake_relay.enqueue(Stream(chunks=["after hup"]))
        fake.send_text(USER, "hello")
        await fake.wait_for(lambda: texts(fake, USER) == ["after hup"])
        chats = [r for r in fake_relay.requests if r.path.endswith("/chat/completions")]
        assert chats[-1].json["messages"][0]["content"] == NEW

        # SIGTERM while an answer streams: it finishes, then the process exits 0.
        release = asyncio.Event()
        fake_relay.enqueue(Stream(chunks=["Slow ", "but complete."], hold=release))
        fake.send_text(USER, "a long one")
        await fake.wait_for(lambda: len(texts(fake, USER)) == 2)
        proc.send_signal(signal.SIGTERM)
        await _until(lambda: logged("shutting down"), "shutting down")
        release.set()
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert texts(fake, USER)[-1] == "Slow but complete."
        await reader
        assert logged("stopped") and not logged("still in flight")
        assert TEST_KEY not in "".join(lines)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        reader.cancel()
