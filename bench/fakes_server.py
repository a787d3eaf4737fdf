"""Fake relay and fake Bot API in one process, driven by lines on stdin (for the benchmarks).

Prints ``<relay url> <bot api root>`` once both listen, then answers one line per command:
  send CHAT TEXT             a user message (groups: negative CHAT); prints ok
  wait CHAT SUFFIX N         prints ok once N bot messages in CHAT end with SUFFIX (or, after
                             120 s, a line that says it timed out)
  calls                      prints the number of Bot API calls except getUpdates/getMe/...
  429                        prints how many calls were refused with 429
  flood PER_S PER_MIN        turns on Telegram-like flood control in the fake
  answer N PACE              queue N streamed 300-character answers, PACE seconds per chunk
  load USERS SECONDS PACE    Telegram's flood limits on; USERS private chats in a closed loop
                             (each writes again as soon as its answer is complete) for
                             SECONDS, then up to 60 s for the open answers; prints one line
                             of JSON measurements (see Load)
"""

from __future__ import annotations

import asyncio
import bisect
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_relay import FakeRelay, Stream  # noqa: E402
from tests.fake_telegram import COUNTED, FakeTelegram, FloodLimits  # noqa: E402

ANSWER = ("relaybot streams answers piece by piece, **with Markdown**. " * 6)[:296] + " end"
SETUP = {"getMe", "getUpdates", "deleteWebhook", "setMyCommands", "setWebhook"}
LOAD_PIECES = [ANSWER[i : i + 10] for i in range(0, len(ANSWER), 10)]  # 30 pieces
GLOBAL_PER_S = 30


@dataclass
class Answer:
    chat: int
    asked: float  # when the user's message was queued for getUpdates
    relayed: float | None = None  # when the relay got the bot's request for the answer
    first: float | None = None  # when the fake accepted the first call showing text
    final: float | None = None  # ...and the one that showed the complete answer
    calls: int = 0


@dataclass
class Load:
    """A closed loop of users, measured from the fake Bot API's side (times are when the
    fake accepted a call, i.e. when Telegram would have shown it)."""

    tg: FakeTelegram
    relay: FakeRelay
    pace: float
    until: float = 0.0
    open: dict[int, Answer] = field(default_factory=dict)
    done: list[Answer] = field(default_factory=list)
    accepted: list[tuple[float, float]] = field(default_factory=list)  # (time, asked of its answer)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def ask(self, chat: int) -> None:
        self.relay.enqueue(Stream(chunks=LOAD_PIECES, pace_s=self.pace))
        self.open[chat] = Answer(chat, time.monotonic())
        self.tg.send_text(chat, f"question {chat} {len(self.done)}")

    def seen(self, chat: int, text: str, now: float) -> None:
        answer = self.open.get(chat)
        if answer is None:
            return
        answer.calls += 1
        self.accepted.append((now, answer.asked))
        if answer.first is None:
            answer.first = now
        if text.endswith("end"):
            answer.final = now
            self.done.append(self.open.pop(chat))
            if now < self.until:
                self.ask(chat)
            elif not self.open:
                self.finished.set()

    def hook(self) -> None:
        """Watch every accepted sendMessage and editMessageText."""
        for method in ("sendmessage", "editmessagetext"):
            name, handler = self.tg._handlers[method]

            async def watched(call: Any, handler: Any = handler) -> Any:
                result = await handler(call)
                self.seen(int(result["chat"]["id"]), str(result.get("text", "")), call.time)
                return result

            self.tg._handlers[method] = (name, watched)
        record = self.relay._record

        async def recorded(request: Any) -> Any:
            rid, body = await record(request)
            words = str(body["messages"][-1]["content"]).split()
            answer = self.open.get(int(words[1])) if len(words) == 3 else None
            if answer is not None and answer.relayed is None:
                answer.relayed = time.monotonic()
            return rid, body

        self.relay._record = recorded  # type: ignore[method-assign]

    async def run(self, users: int, seconds: float) -> dict[str, Any]:
        self.tg.flood = FloodLimits(per_chat_per_s=1, per_group_per_min=20, global_per_s=30)
        self.hook()
        refused0 = sum(1 for c in self.tg.calls if c.status == 429)
        start = time.monotonic()
        self.until = start + seconds
        for n in range(users):
            self.ask(5000 + n)
        try:
            await asyncio.wait_for(self.finished.wait(), seconds + 60)
        except TimeoutError:
            pass
        refused = sum(1 for c in self.tg.calls if c.status == 429) - refused0
        return self.report(users, start, refused)

    def report(self, users: int, start: float, refused: int) -> dict[str, Any]:
        done = self.done
        ends = sorted(a.final for a in done if a.final is not None)
        # Throughput in the steady state: after a warm-up (all users write at once at first)
        # until the loop stops.
        warm = start + min(10.0, (self.until - start) / 4)
        steady = [t for t in ends if warm <= t <= self.until]
        rate = len(steady) / (self.until - warm)
        counted = sorted(
            c.time for c in self.tg.calls if c.ok and c.method in COUNTED and c.time >= start
        )
        in_loop = [t for t in counted if warm <= t <= self.until]
        calls_rate = len(in_loop) / (self.until - warm)
        # Latency of the answers asked in the steady state too: at the start all users write
        # in the same millisecond, and which of them Telegram serves first is arbitrary.
        settled = [a for a in done if a.asked >= warm]
        per_answer = sum(a.calls for a in settled) / max(1, len(settled))
        first = [a.first - a.asked for a in settled if a.first is not None]
        to_relay = [a.relayed - a.asked for a in settled if a.relayed is not None]
        final = [a.final - a.asked for a in settled if a.final is not None]
        # What the global limit forces on an answer's first text: the calls of answers asked
        # before it that Telegram accepted while it waited, at GLOBAL_PER_S a second.
        accepted = sorted(self.accepted)
        excess = []
        for a in settled:
            if a.first is None:
                continue
            lo = bisect.bisect_right(accepted, (a.asked, float("inf")))
            hi = bisect.bisect_left(accepted, (a.first, float("-inf")))
            ahead = sum(1 for _, asked in accepted[lo:hi] if asked < a.asked)
            excess.append(a.first - a.asked - ahead / GLOBAL_PER_S)
        busiest = max(
            (bisect.bisect_left(counted, t + 1.0) - i for i, t in enumerate(counted)), default=0
        )
        return {
            "users": users,
            "busiest_second": busiest,
            "answers": len(done),
            "warm_up_s": warm - start,
            "measured_answers": len(settled),
            "first_max_all": max((a.first - a.asked for a in done if a.first), default=0.0),
            "final_max_all": max((a.final - a.asked for a in done if a.final), default=0.0),
            "incomplete": len(self.open),
            "answers_per_s": rate,
            "calls_per_s": calls_rate,
            "calls_per_answer": per_answer,
            "first": stats(first),
            "to_relay": stats(to_relay),
            "final": stats(final),
            "first_beyond_global": stats(excess),
            "refused_429": refused,
        }


def stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    return {"p50": pct(50), "p95": pct(95), "p99": pct(99), "max": ordered[-1]}


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
                deadline = time.monotonic() + 120
                out = "ok"
                while sum((m.text or "").endswith(suffix) for m in tg.messages(chat)) < want:  # noqa: ASYNC110
                    if time.monotonic() > deadline:
                        out = f"timeout: {want} answers ending in {suffix} not complete in 120 s"
                        break
                    await asyncio.sleep(0.005)
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
            elif cmd == "load":
                load = Load(tg, relay, float(args[2]))
                out = json.dumps(await load.run(int(args[0]), float(args[1])))
            else:
                out = f"unknown command {cmd}"
            print(out, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
