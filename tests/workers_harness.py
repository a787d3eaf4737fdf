"""Several real ``relaybot run`` processes with one config, and a load balancer in front of
their Telegram webhooks (the fake Bot API posts each update to the workers in turn).

Each worker is the real CLI in a subprocess; the one config file reads the worker's name and
ports from its environment (``${RELAYBOT_WORKER_ID}``, ``${RELAYBOT_WEBHOOK_PORT}``), as a
compose file gives each container its own. Everything is waited for on conditions.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import TEST_KEY
from tests.fake_telegram import FakeTelegram
from tests.telegram_harness import free_port

RELAYBOT = [sys.executable, "-m", "bots"]
HOOK_URL = "https://bot.example/tg-hook"  # the public URL, behind the "load balancer"
HOOK_PATH = "/tg-hook"
HOOK_SECRET = "hook-secret-0123"


def worker_env(name: str, webhook_port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "TELEGRAM_"))}
    env.update(
        RELAY_API_KEY=TEST_KEY,
        PYTHONUNBUFFERED="1",
        RELAYBOT_WORKER_ID=name,
        RELAYBOT_WEBHOOK_PORT=str(webhook_port),
    )
    env.update(extra or {})
    return env


def webhook_section(fake: FakeTelegram, extra: str = "") -> str:
    """The telegram section every worker shares: the fake Bot API, the webhook on the port
    its environment names."""
    return (
        "telegram:\n"
        "  enabled: true\n"
        f"  token: {fake.token}\n"
        f"  base_url: {fake.base_url}\n"
        f"  base_file_url: {fake.base_file_url}\n"
        "  edit_interval_s: 0.05\n"
        "  album_wait_s: 0.2\n"
        "  webhook:\n"
        f"    url: {HOOK_URL}\n"
        "    listen: 127.0.0.1\n"
        "    port: ${RELAYBOT_WEBHOOK_PORT}\n"
        f"    secret_token: {HOOK_SECRET}\n"
        "  limits:\n"
        "    per_chat_per_s: 50\n"
        "    per_group_per_min: 1000\n"
        "    global_per_s: 1000\n"
        f"{extra}"
    )


@dataclass
class Worker:
    """One ``relaybot run`` process and what it wrote to stderr."""

    name: str
    port: int
    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{HOOK_PATH}"

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    def logged(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def log(self) -> str:
        return "".join(self.lines[-60:])


async def until(predicate: Callable[[], bool], what: str, limit_s: float = 20) -> None:
    """Poll ``predicate`` until true; fail naming ``what`` after ``limit_s`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"not within {limit_s}s: {what}")
        await asyncio.sleep(0.02)


class Workers:
    """N workers started from one config file; ``stop()`` ends those still running."""

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self._config = config
        self._env = env or {}
        self.all: list[Worker] = []

    async def start(self, name: str) -> Worker:
        port = free_port()
        proc = await asyncio.create_subprocess_exec(
            *RELAYBOT,
            "run",
            "-c",
            str(self._config),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=worker_env(name, port, self._env),
        )
        worker = Worker(name, port, proc)

        async def read() -> None:
            assert proc.stderr is not None
            async for raw in proc.stderr:
                worker.lines.append(raw.decode("utf-8", "replace"))

        worker.reader = asyncio.create_task(read())
        self.all.append(worker)
        return worker

    async def start_all(self, names: list[str], limit_s: float = 30) -> list[Worker]:
        started = [await self.start(name) for name in names]
        for worker in started:
            await self.wait_started(worker, limit_s)
        return started

    async def wait_started(self, worker: Worker, limit_s: float = 30) -> None:
        def ready() -> bool:
            if not worker.alive:
                raise AssertionError(f"worker {worker.name} exited:\n{worker.log()}")
            return worker.logged("adapter started platform=telegram")

        await until(ready, f"worker {worker.name} started", limit_s)

    def kill(self, worker: Worker) -> None:
        """SIGKILL: no clean-up of any kind, as a crash or an OOM kill."""
        worker.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        for worker in self.all:
            if worker.alive:
                worker.proc.send_signal(signal.SIGTERM)
        for worker in self.all:
            try:
                await asyncio.wait_for(worker.proc.wait(), 30)
            except TimeoutError:
                worker.proc.kill()
                await worker.proc.wait()
            if worker.reader is not None:
                await asyncio.wait_for(worker.reader, 5)


class Balancer:
    """What a load balancer and Telegram's retries do together: each update goes to the next
    live worker in turn; a worker that does not answer 200 gets it again at the next."""

    def __init__(self, fake: FakeTelegram, workers: Workers) -> None:
        self._fake = fake
        self._workers = workers
        self._next = 0
        self.deliveries: list[tuple[int, str, int]] = []  # (update_id, worker, status)

    def _turn(self) -> Worker:
        live = [w for w in self._workers.all if w.alive]
        if not live:
            raise AssertionError("no worker is running")
        worker = live[self._next % len(live)]
        self._next += 1
        return worker

    async def deliver(self, update: dict[str, Any], to: Worker | None = None) -> Worker:
        """Post ``update`` until a worker answers 200 (``to`` first, if given); that one."""
        for attempt in range(10):
            worker = to if (to is not None and attempt == 0) else self._turn()
            try:
                status = await self._fake.deliver_webhook(update, url=worker.url)
            except aiohttp.ClientError:
                status = 0  # refused or reset: the worker is gone
            self.deliveries.append((int(update["update_id"]), worker.name, status))
            if status == 200:
                return worker
        logs = "\n".join(f"--- {w.name} (alive: {w.alive})\n{w.log()}" for w in self._workers.all)
        raise AssertionError(
            f"update {update['update_id']} was never accepted: {self.deliveries}\n{logs}"
        )

    async def deliver_twice(self, update: dict[str, Any]) -> tuple[Worker, Worker]:
        """Telegram retrying a webhook whose answer it did not get: the same update again,
        this time to another worker."""
        first = await self.deliver(update)
        second = await self.deliver(update)
        return first, second
