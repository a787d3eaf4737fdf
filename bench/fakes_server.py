"""Fake relay and fake Bot API in one process, driven by lines on stdin (for the benchmarks).

Prints ``<relay url> <bot api root>`` once both listen, then answers one line per command:
  send CHAT TEXT             a user message (groups: negative CHAT); prints ok
  wait CHAT SUFFIX N         prints ok once N bot messages in CHAT end with SUFFIX
  calls                      prints the number of Bot API calls except getUpdates/getMe/...
  429                        prints how many calls were refused with 429
  flood PER_S PER_MIN        turns on Telegram-like flood control in the fake
  answer N PACE              queue N streamed 300-character answers, PACE seconds per chunk
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_relay import FakeRelay, Stream  # noqa: E402
from tests.fake_telegram import FakeTelegram, FloodLimits  # noqa: E402

ANSWER = ("relaybot streams answers piece by piece, **with Markdown**. " * 6)[:296] + " end"
SETUP = {"getMe", "getUpdates", "deleteWebhook", "setMyCommands", "setWebhook"}


async def main() -> None:
    async with FakeRelay() as relay, FakeTelegram() as tg:
        print(relay.url, tg.base_url.removesuffix("/bot"), flush=True)
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            cmd, *args = line.split()
            if cmd == "send":
                chat = int(args[0])
                kind = {"chat_type": "supergroup"} if chat < 0 else {}
                tg.send_text(chat, " ".join(args[1:]), **kind)  # type: ignore[arg-type]
                out = "ok"
            elif cmd == "wait":
                chat, suffix, want = int(args[0]), args[1], int(args[2])
                while sum((m.text or "").endswith(suffix) for m in tg.messages(chat)) < want:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
                out = "ok"
            elif cmd == "calls":
                out = str(sum(1 for c in tg.calls if c.method not in SETUP))
            elif cmd == "dump":
                sys.stderr.write(tg.describe_calls(40) + "\n")
                out = "ok"
            elif cmd == "429":
                out = str(sum(1 for c in tg.calls if c.status == 429))
            elif cmd == "flood":
                tg.flood = FloodLimits(
                    per_chat_per_s=float(args[0]), per_group_per_min=int(args[1]), global_per_s=30
                )
                out = "ok"
            elif cmd == "answer":
                chunks = [ANSWER[i : i + 4] for i in range(0, len(ANSWER), 4)]
                pace = float(args[1])
                relay.enqueue(*[Stream(chunks=chunks, pace_s=pace) for _ in range(int(args[0]))])
                out = "ok"
            else:
                out = f"unknown command {cmd}"
            print(out, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
