"""Benchmark: the whole Telegram path per streamed 300-character answer, and flood control.

The fake relay and the fake Bot API run in another process (bench/fakes_server.py), so only
relaybot's own CPU is counted. Run:
    .venv/bin/python bench/bench_telegram.py [--answers 20] [--pace 0.02]
Budgets (DEVELOPERS.md): <= 10 ms CPU and <= 6 Bot API calls per answer; every answer complete
under flood control; <= 80 MB resident when idle.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PTB_TIMEDELTA", "true")

from bots.app import App, build_adapters, serve  # noqa: E402
from bots.platforms import SECTIONS  # noqa: E402
from core.config.settings import parse_config  # noqa: E402

USER = 1001
GROUP = -100777


class Fakes:
    """The fakes process, spoken to line by line."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "fakes_server.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.relay_url, self.tg_root = self.proc.stdout.readline().split()

    def ask(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    async def until(self, chat: int, suffix: str, want: int) -> None:
        """Block (in a thread, costing no CPU) until the fakes see the answers complete."""
        await asyncio.to_thread(self.ask, f"wait {chat} {suffix} {want}")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def run(answers: int, pace: float) -> None:
    fakes = Fakes()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            text = (
                f"relay: {{base_url: '{fakes.relay_url}', api_key: sk-bench}}\n"
                f"storage: {{path: '{tmp}/bench.db'}}\n"
                "chat: {system_prompt: ''}\n"
                "telegram:\n  enabled: true\n  token: '123456:TEST-TOKEN'\n"
                f"  base_url: '{fakes.tg_root}/bot'\n  base_file_url: '{fakes.tg_root}/file/bot'\n"
            )
            settings = parse_config(text, "bench", {}, sections=SECTIONS)
            stop = asyncio.Event()
            async with App(settings) as app:
                serving = asyncio.create_task(serve(build_adapters(app, ["telegram"]), stop=stop))
                await asyncio.sleep(1.0)  # start-up calls done, first long poll open
                idle = rss_mb()
                idle_cpu0 = time.process_time()
                await asyncio.sleep(2.0)
                idle_cpu = (time.process_time() - idle_cpu0) / 2.0 * 1000

                # 1. Streamed answers one after another in a private chat, at a model's pace.
                await asyncio.to_thread(fakes.ask, f"answer {answers} {pace}")
                calls0 = int(await asyncio.to_thread(fakes.ask, "calls"))
                cpu0, wall0 = time.process_time(), time.perf_counter()
                main0 = time.thread_time()
                for n in range(answers):
                    await asyncio.to_thread(fakes.ask, f"send {USER} question {n}")
                    await fakes.until(USER, "end", n + 1)
                cpu = (time.process_time() - cpu0) / answers * 1000
                main_cpu = (time.thread_time() - main0) / answers * 1000
                wall = (time.perf_counter() - wall0) / answers
                calls = (int(await asyncio.to_thread(fakes.ask, "calls")) - calls0) / answers
                if os.environ.get("BENCH_DUMP"):
                    await asyncio.to_thread(fakes.ask, "dump")

                # 2. Telegram's real flood limits; four members ask in one group at once.
                await asyncio.to_thread(fakes.ask, "flood 1 20")
                await asyncio.to_thread(fakes.ask, f"answer 4 {pace}")
                t0 = time.perf_counter()
                for n in range(4):
                    await asyncio.to_thread(fakes.ask, f"send {GROUP} @RelayTestBot q{n}")
                await fakes.until(GROUP, "end", 4)
                flood_s = time.perf_counter() - t0
                refused = int(await asyncio.to_thread(fakes.ask, "429"))
                stop.set()
                await serving
        print(f"CPU per streamed 300-char answer, whole Telegram path: {cpu:.2f} ms (budget 10)")
        print(f"  of which in the event loop's thread: {main_cpu:.2f} ms")
        print(f"Bot API calls per answer: {calls:.1f} (budget 6)")
        print(f"wall time per answer at {pace * 1000:.0f} ms/chunk: {wall:.2f} s")
        print(
            f"flood limits on, 4 answers at once in a group: 4/4 complete in {flood_s:.1f} s, "
            f"{refused} calls refused with 429"
        )
        print(f"CPU when idle: {idle_cpu:.2f} ms per second")
        print(f"resident memory idle, Telegram running: {idle:.1f} MB (budget 80)")
    finally:
        fakes.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=20)
    parser.add_argument("--pace", type=float, default=0.02, help="seconds between chunks")
    args = parser.parse_args()
    asyncio.run(run(args.answers, args.pace))


if __name__ == "__main__":
    main()
