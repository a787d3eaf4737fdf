"""Benchmark (issue 15): answers per second of relaybot as real `relaybot run` processes in
webhook mode, for one process on SQLite, one worker on PostgreSQL and two workers on
PostgreSQL (workers.count 2: the shared inbox, chat leases, job claims).

The fake relay and the fake Bot API run in this process (tests/fake_*.py); the webhook
updates go to the workers in turn, as a load balancer would. ``--users`` private chats write
in a closed loop (each writes again as soon as its answer is complete) for ``--seconds``;
Telegram's flood limits are set out of the way (the bot's own throughput is measured, not
Telegram's 30 messages a second). Answers are 3-piece echoes with no pause (the relay is
instant), so the numbers are the bot's overhead per answer: webhook, storage, engine, Bot API
calls. Run (the local PostgreSQL on 127.0.0.1:5432 must accept a database being created):

    .venv/bin/python bench/bench_workers.py [--users 40] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_relay import FakeRelay  # noqa: E402
from tests.fake_telegram import FakeTelegram  # noqa: E402
from tests.pg import create_database, drop_database  # noqa: E402
from tests.telegram_harness import texts  # noqa: E402
from tests.workers_harness import Balancer, Workers, webhook_section  # noqa: E402

BASE_USER = 5000


class CountingTelegram(FakeTelegram):
    """The fake Bot API, waking the writer of a chat when its answer is complete."""

    def __init__(self) -> None:
        super().__init__()
        self.expected: dict[int, str] = {}
        self.answered: dict[int, asyncio.Event] = {}

    def _check(self, chat_id: int) -> None:
        want = self.expected.get(chat_id)
        if want is not None and texts(self, chat_id)[-1:] == [want]:
            self.answered[chat_id].set()

    async def _send_message(self, call: Any) -> Any:
        result = await super()._send_message(call)
        self._check(int(call.params["chat_id"]))
        return result

    async def _edit_message_text(self, call: Any) -> Any:
        result = await super()._edit_message_text(call)
        self._check(int(call.params["chat_id"]))
        return result


def config(tmp: Path, relay: FakeRelay, fake: FakeTelegram, storage: str, count: int) -> Path:
    text = f"""
language: en
relay:
  base_url: {relay.url}
  api_key: ${{RELAY_API_KEY}}
storage:
  {storage}
models:
  chat: gpt-test
chat:
  max_queued_per_conversation: 100
workers:
  count: {count}
  id: ${{RELAYBOT_WORKER_ID}}
  poll_s: 0.2
{webhook_section(fake)}"""
    path = tmp / f"config-{count}-{storage.split(':')[0].strip()}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def closed_loop(
    fake: CountingTelegram, balancer: Balancer, users: int, seconds: float
) -> tuple[int, float]:
    """(answers complete within the window, its length in seconds)."""
    stop_at = time.monotonic() + seconds
    done = 0

    async def user(n: int) -> None:
        nonlocal done
        chat = BASE_USER + n
        turn = 0
        while time.monotonic() < stop_at:
            text = f"q{turn} u{n}"
            fake.expected[chat] = f"echo: {text}"
            event = fake.answered.setdefault(chat, asyncio.Event())
            event.clear()
            await balancer.deliver(fake.send_text(chat, text))
            await asyncio.wait_for(event.wait(), 60)
            if time.monotonic() < stop_at:
                done += 1
            turn += 1

    start = time.monotonic()
    await asyncio.gather(*(user(n) for n in range(users)))
    return done, min(seconds, time.monotonic() - start)


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_case(
    name: str, storage: str, count: int, users: int, seconds: float, tmp: Path, running: int = 0
) -> dict[str, Any]:
    async with FakeRelay() as relay:
        fake = CountingTelegram()
        await fake.start()
        workers = Workers(config(tmp, relay, fake, storage, count))
        try:
            names = [f"w{i + 1}" for i in range(running or count)]
            await workers.start_all(names, limit_s=60)
            balancer = Balancer(fake, workers)
            await closed_loop(fake, balancer, users, 3.0)  # warm-up
            cpu_before = os.times()
            bot_before = sum(cpu_s(w.proc.pid) for w in workers.all)
            answers, window = await closed_loop(fake, balancer, users, seconds)
            cpu_after = os.times()
            bot_cpu = sum(cpu_s(w.proc.pid) for w in workers.all) - bot_before
        finally:
            await workers.stop()
            await fake.stop()
    harness_cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    return {
        "case": name,
        "answers": answers,
        "answers_per_s": answers / window,
        "harness_cpu_s": harness_cpu,
        "bot_cpu_ms": 1000 * bot_cpu / max(1, answers),
        "window_s": window,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    import tempfile

    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        results.append(
            await run_case(
                "1 process, SQLite", f"path: {tmp / 'bench.db'}", 1, args.users, args.seconds, tmp
            )
        )
        cases = (
            ("1 worker, PostgreSQL", 1, 1),
            ("shared path, 1 worker of 2", 2, 1),
            ("2 workers, PostgreSQL", 2, 2),
        )
        for name, count, running in cases:
            url, db = create_database("relaybot_bench")
            try:
                results.append(
                    await run_case(
                        name, f"url: {url}", count, args.users, args.seconds, tmp, running
                    )
                )
            finally:
                drop_database(db)
    print(f"{args.users} users in a closed loop, {args.seconds:g} s after a 3 s warm-up")
    print(
        f"{'case':<28} {'answers':>8} {'answers/s':>10} {'bot CPU ms/answer':>18}"
        f" {'harness CPU s':>14}"
    )
    for r in results:
        print(
            f"{r['case']:<28} {r['answers']:>8} {r['answers_per_s']:>10.1f}"
            f" {r['bot_cpu_ms']:>18.1f} {r['harness_cpu_s']:>14.1f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
