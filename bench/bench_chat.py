"""Benchmark: CPU per streamed 300-character answer through the engine, and idle memory.

The fake relay runs in a separate process so its CPU is not counted. Run:
    .venv/bin/python bench/bench_chat.py [--answers 200]
Prints one line per measure, with the budget it is held to (DEVELOPERS: <= 10 ms CPU per
answer including the platform adapter, <= 80 MB resident when idle).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bots.app import App  # noqa: E402
from core.config.settings import parse_config  # noqa: E402
from core.platform.types import FinalText, IncomingMessage  # noqa: E402

# 300 characters in 75 deltas of 4 characters: about what a model streams per token.
ANSWER = ("relaybot streams answers piece by piece. " * 8)[:300]
SERVER = f"""
import asyncio, sys
sys.path.insert(0, {str(ROOT)!r})
from tests.fake_relay import FakeRelay, Stream

PACE = float(sys.argv[1])

async def main():
    relay = FakeRelay()
    await relay.start()
    print(relay.url, flush=True)
    chunks = [{ANSWER!r}[i:i + 4] for i in range(0, 300, 4)]
    while True:
        if len(relay._queue) < 10:
            relay.enqueue(*[Stream(chunks=chunks, pace_s=PACE) for _ in range(100)])
        relay.requests.clear()
        await asyncio.sleep(0.05)

asyncio.run(main())
"""


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(answers: int, pace: float) -> None:
    server = subprocess.Popen(  # noqa: ASYNC220 - the benchmark's own set-up
        [sys.executable, "-c", SERVER, str(pace)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            text = (
                f"relay: {{base_url: '{url}', api_key: sk-bench}}\n"
                f"storage: {{path: '{tmp}/bench.db'}}\n"
                "chat: {system_prompt: ''}\n"
            )
            settings = parse_config(text, "bench", {})
            async with App(settings) as app:
                idle = rss_mb()

                async def one(i: int) -> None:
                    msg = IncomingMessage("bench", f"u{i % 20}", "private", f"u{i % 20}", "hi")
                    events = [e async for e in app.engine.handle(msg)]
                    final = [e for e in events if isinstance(e, FinalText)]
                    assert final and final[0].text == ANSWER.strip(), events[-1]

                for i in range(10):  # warm-up: imports, connection pool, SQLite pages
                    await one(i)
                cpu0, wall0 = time.process_time(), time.perf_counter()
                for i in range(answers):
                    await one(i)
                cpu = (time.process_time() - cpu0) / answers * 1000
                wall = (time.perf_counter() - wall0) / answers * 1000
        print(
            f"engine+relay client CPU per streamed 300-char answer: {cpu:.2f} ms (budget 10 ms "
            "for the whole path, adapter included)"
        )
        print(f"wall time per answer (loopback, fake relay): {wall:.2f} ms")
        print(f"resident memory after start-up, idle: {idle:.1f} MB (budget 80 MB)")
        print(f"resident memory after {answers} answers: {rss_mb():.1f} MB")
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--pace", type=float, default=0.0, help="seconds between chunks")
    args = parser.parse_args()
    asyncio.run(run(args.answers, args.pace))


if __name__ == "__main__":
    main()
