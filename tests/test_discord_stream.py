"""StreamingAnswer on its own, against a recording surface (our own protocol, no discord.py
object): long answers split at 2000 characters with fences reopened, and every call within
the channel's budget while the final text still lands."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import discord

from bots.discord.send import DiscordSender, FileOut
from bots.discord.stream import StreamingAnswer
from bots.shared.flood import FloodGate, Rules, Window


@dataclass
class Posted:
    id: int
    history: list[str]

    async def edit(self, **fields: Any) -> None:
        raise AssertionError("edits go through the surface")


@dataclass
class RecordingSurface:
    key: str = "42"
    posted: list[Posted] = field(default_factory=list)
    calls: int = 0
    started: list[float] = field(default_factory=list)  # loop time of each call

    async def send(
        self, content: str, *, view: discord.ui.View | None = None,
        files: Sequence[FileOut] = (), reply: bool = True,
    ) -> Posted:
        self.calls += 1
        self.started.append(asyncio.get_running_loop().time())
        assert 0 < len(content) <= 2000
        posted = Posted(len(self.posted) + 1, [content])
        self.posted.append(posted)
        return posted

    async def edit(self, sent: Any, content: str, view: discord.ui.View | None = None) -> None:
        self.calls += 1
        self.started.append(asyncio.get_running_loop().time())
        assert 0 < len(content) <= 2000
        sent.history.append(content)

    @property
    def texts(self) -> list[str]:
        return [p.history[-1] for p in self.posted]


def sender(per_window: int = 1000, span: float = 1.0) -> DiscordSender:
    return DiscordSender(FloodGate(Rules(chat=Window(per_window, span),
                                         overall=Window(1000, 1.0))))


async def test_a_long_code_answer_is_split_with_fences_reopened() -> None:
    surface = RecordingSurface()
    stream = StreamingAnswer(sender(), surface, interval_s=0.001)
    lines = [f"    value_{i} = compute({i})  # step {i}" for i in range(200)]
    text = "Here is the code:\n\n```python\n" + "\n".join(lines) + "\n```\nThat is all."
    for i in range(0, len(text), 97):
        stream.add(text[i : i + 97])
        await asyncio.sleep(0)  # let the writer run between pieces, as the network would
    await stream.finish()
    shown = surface.texts
    assert len(shown) >= 3 and all(len(t) <= 2000 for t in shown)
    for t in shown:
        assert t.count("```") % 2 == 0  # every message's code block is closed
    for t in shown[1:-1]:
        assert t.startswith("```python\n")  # ...and reopened with its language
    joined = "\n".join(shown)
    assert all(f"value_{i} = compute({i})" in joined for i in range(200))
    assert shown[-1].endswith("That is all.")


async def test_every_call_keeps_to_the_channel_budget_and_the_final_text_lands() -> None:
    surface = RecordingSurface()
    stream = StreamingAnswer(
        sender(per_window=2, span=0.2), surface, interval_s=0.001, growth=1.0
    )
    words = [f"w{i} " for i in range(60)]
    for word in words:
        stream.add(word)
        await asyncio.sleep(0.005)  # a model producing tokens (pacing, not synchronisation)
    await stream.finish()
    assert surface.texts == ["".join(words).strip()]
    assert surface.calls >= 3  # it did stream
    # No three calls within one 0.2 s window: the flood gate's budget of 2.
    times = surface.started
    assert all(times[i + 2] - times[i] >= 0.2 - 1e-3 for i in range(len(times) - 2))
