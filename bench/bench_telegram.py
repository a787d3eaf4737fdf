"""Benchmark: the whole Telegram path per streamed 300-character answer, and flood control.

The fake relay and the fake Bot API run in another process (bench/fakes_server.py), so only
relaybot's own CPU is counted. Run:
    .venv/bin/python bench/bench_telegram.py [--answers 20] [--pace 0.02]
Budgets (DEVELOPERS.md): <= 10 ms CPU and <= 6 Bot API calls per answer; every answer complete
under flood control; <= 80 MB resident when idle.

Then a load (issue 14): ``--users`` private chats in a closed loop for ``--load-s`` seconds under
Telegram's flood limits (1/s per chat, 20/min per group, 30/s overall, enforced by the fake).
Targets: answers/s >= 90 % of what 30 calls/s allow at the measured calls per answer;
final-text p99 <= 2 x p50; first text <= 5 s beyond what the global limit forces; no 429.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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
        reply = await asyncio.to_thread(self.ask, f"wait {chat} {suffix} {want}")
        if reply != "ok":
            raise SystemExit(reply)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def run(answers: int, pace: float, users: int, load_s: float) -> None:
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

                # 3. Many users at once, each writing again when its answer is complete.
                load: dict[str, Any] = {}
                if users:
                    load_cpu0 = time.process_time()
                    line = await asyncio.to_thread(fakes.ask, f"load {users} {load_s} {pace}")
                    load = json.loads(line)
                    if os.environ.get("BENCH_DUMP"):
                        print(line)
                    cpu_s = time.process_time() - load_cpu0
                    load["cpu_ms_per_answer"] = cpu_s * 1000 / max(1, load["answers"])
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
        if load:
            print_load(load, users, load_s, pace)
    finally:
        fakes.close()


def print_load(load: dict[str, Any], users: int, load_s: float, pace: float) -> None:
    per_answer = load["calls_per_answer"]
    allowed = 30 / per_answer if per_answer else 0.0
    rate = load["answers_per_s"]
    print(
        f"\nload: {users} users in a closed loop for {load_s:g} s, 300 characters in 30 pieces "
        f"at {pace * 1000:.0f} ms, Telegram's flood limits (1/s, 20/min, 30/s)"
    )
    print(
        f"  {load['answers']} answers complete, {load['incomplete']} not; "
        f"{load['refused_429']} calls refused with 429 (target 0)"
    )
    print(
        f"  answers/s {rate:.1f} = {rate / allowed:.0%} of the {allowed:.1f} that 30 calls/s "
        f"allow at {per_answer:.2f} calls per answer (target >= 90 %); "
        f"Bot API calls/s {load['calls_per_s']:.1f}, {load['busiest_second']} in the busiest second"
    )
    for name, label in (
        ("first", "first text"),
        ("final", "final text"),
        ("first_beyond_global", "first text beyond the global limit's wait"),
        ("to_relay", "from the user's message to the bot's request to the relay"),
    ):
        q = load[name]
        print(
            f"  {label}: p50 {q['p50']:.2f} s, p95 {q['p95']:.2f} s, p99 {q['p99']:.2f} s, "
            f"max {q['max']:.2f} s"
        )
    print(
        f"  (latencies of the {load['measured_answers']} answers asked after a "
        f"{load['warm_up_s']:.0f} s warm-up; over all answers, including the first burst: "
        f"first text max {load['first_max_all']:.2f} s, final text max "
        f"{load['final_max_all']:.2f} s)"
    )
    final = load["final"]
    print(
        f"  final p99/p50 = {final['p99'] / final['p50']:.2f} (target <= 2); first text beyond "
        f"the global limit's wait at most {load['first_beyond_global']['max']:.2f} s "
        "(target <= 5)"
    )
    print(f"  CPU per answer under load: {load['cpu_ms_per_answer']:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=20)
    parser.add_argument("--pace", type=float, default=0.02, help="seconds between chunks")
    parser.add_argument("--users", type=int, default=200, help="closed-loop load; 0: none")
    parser.add_argument("--load-s", type=float, default=45.0, help="seconds of load")
    args = parser.parse_args()
    asyncio.run(run(args.answers, args.pace, args.users, args.load_s))


if __name__ == "__main__":
    main()
