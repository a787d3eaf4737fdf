"""Typed forms of buttons, end to end: the console (no buttons, no edits) against the fake relay,
and Telegram (replying to an older grid targets that grid)."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bots.app import App
from bots.console.adapter import PLATFORM, ConsoleChat
from core.jobs import store as js
from tests.conftest import make_settings
from tests.fake_relay import FakeRelay, Stream
from tests.fake_telegram import FakeTelegram
from tests.telegram_harness import JOBS, USER, bot_settings, running_bot, texts

WAIT_S = 30.0


class Screen(io.StringIO):
    """A terminal that remembers every write, to tell one complete print from pieces."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)

    def lines(self) -> list[str]:
        return self.getvalue().splitlines()


@dataclass
class Console:
    app: App
    screen: Screen
    type: Callable[[str], None]

    async def until(self, needle: str, count: int = 1) -> None:
        """Wait until ``needle`` is on screen ``count`` times."""
        await wait_for(lambda: self.screen.getvalue().count(needle) >= count, self.screen)


async def wait_for(condition: Callable[[], bool], screen: Screen | None = None) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(screen.getvalue() if screen else "condition never met")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def console(
    tmp_path: Path,
    fake_relay: FakeRelay,
    *,
    interactive: bool = False,
    edits: bool | None = None,
    jobs: str = "",
) -> AsyncIterator[Console]:
    """``relaybot chat`` in-process: the App, the console adapter registered as the CLI does,
    lines typed into a pipe one at a time."""
    settings = make_settings(tmp_path, fake_relay.url, JOBS + jobs)
    async with App(settings) as app:
        read_end, write_end = os.pipe()
        stdin = os.fdopen(read_end, "r", encoding="utf-8")
        screen = Screen()
        chat = ConsoleChat(
            app.engine,
            stdin,
            screen,
            user="ada",
            interactive=interactive,
            edits=edits,
            media_dir=tmp_path / "media",
        )
        app.outbox.register(PLATFORM, chat)
        app.traits.register(PLATFORM, chat.traits)
        await app.jobs.start()
        running = asyncio.create_task(chat.run())

        def type_line(text: str) -> None:
            os.write(write_end, (text + "\n").encode())

        try:
            yield Console(app, screen, type_line)
        finally:
            os.close(write_end)  # EOF ends the session
            assert await asyncio.wait_for(running, WAIT_S) == 0
            stdin.close()
    assert "Traceback" not in screen.getvalue()


def mj_task_of(fake_relay: FakeRelay, prompt: str) -> str:
    return next(t.id for t in fake_relay.mj_tasks.values() if t.prompt == prompt and not t.parent)


def actions(fake_relay: FakeRelay) -> list[dict[str, str]]:
    return [r.json for r in fake_relay.requests if r.path == "/mj/submit/action"]


async def test_a_grid_offers_its_typed_forms_and_u2_upscales_the_latest_grid(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    async with console(tmp_path, fake_relay) as c:
        c.type("/img -m mj a fox")
        await c.until("✅ #1 Midjourney imagine: done")
        c.type("/img -m mj a wolf")
        await c.until("✅ #2 Midjourney imagine: done")
        c.type("/u2")
        await c.until("✅ #3 Midjourney U2: done")
        # An upscale has no /u3: /u3 acts on the latest result that offers it, the wolf grid.
        c.type("/u3")
        await c.until("✅ #4 Midjourney U3: done")
        # The upscales offer their own typed forms: /zoom 2 acts on the latest, U3's.
        c.type("/zoom 2")
        await c.until("✅ #5 Midjourney")
    screen = c.screen.lines()
    grid_line = "Type: /u1 /u2 /u3 /u4 /reroll · /v1 /v2 /v3 /v4"
    assert screen.count(grid_line) == 3  # one short line under each grid (zoomed out too)
    assert not any("/mj " in line or "[U1]" in line for line in screen)
    upscale_line = next(line for line in screen if line.startswith("Type: /upscale"))
    for form in ("/upscale subtle", "/upscale creative", "/vary strong", "/vary subtle"):
        assert form in upscale_line
    for form in ("/zoom 2", "/zoom 1.5", "/pan left", "/pan right", "/pan up", "/pan down"):
        assert form in upscale_line
    assert "Custom" not in upscale_line and "Region" not in upscale_line
    wolf = mj_task_of(fake_relay, "a wolf")
    u2, u3, zoom = actions(fake_relay)
    assert u2["taskId"] == wolf and u2["customId"].startswith("MJ::JOB::upsample::2::")
    assert u3["taskId"] == wolf and u3["customId"].startswith("MJ::JOB::upsample::3::")
    u3_task = next(t.id for t in fake_relay.mj_tasks.values() if t.custom_id == u3["customId"])
    assert zoom["taskId"] == u3_task and zoom["customId"].startswith("MJ::Outpaint::50::")


async def test_typed_forms_without_a_target_say_so_and_reach_no_relay(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    async with console(tmp_path, fake_relay) as c:
        c.type("/u2")
        await c.until("There is no result here that /u2 can act on.")
        c.type("/continue")
        await c.until("There is no result here that /continue 1 can act on.")
        c.type("/resend")
        await c.until("Nothing to resend")
        c.type("/img -m mj a fox")
        await c.until("✅ #1 Midjourney imagine: done")
        c.type("/zoom 2")  # a grid has no zoom: only its upscales do
        await c.until("There is no result here that /zoom 2 can act on.")
        c.type("/continue 1")  # a picture is not a song
        await c.until("There is no result here that /continue 1 can act on.")
    assert actions(fake_relay) == []
    assert not [r for r in fake_relay.requests if r.path.startswith("/suno/submit")]


async def test_a_typed_button_counts_against_the_job_limit_as_a_press_does(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    async with console(tmp_path, fake_relay, jobs="  max_running_per_user: 1\n") as c:
        c.type("/img -m mj a fox")
        await c.until("✅ #1 Midjourney imagine: done")
        fake_relay.mj_steps_per_state = 10_000  # the next job keeps running
        c.type("/img -m mj a wolf")
        await c.until("⏳ #2 Midjourney imagine: queued")
        c.type("/u2")
        await c.until("You already have 1 jobs running (at most 1)")
    assert actions(fake_relay) == []  # refused before the relay


async def test_a_song_is_continued_with_continue(tmp_path: Path, fake_relay: FakeRelay) -> None:
    async with console(tmp_path, fake_relay) as c:
        c.type("/song a sea shanty")
        await c.until("✅ #1 Suno song: done")
        await c.until("Type: /continue 1 /continue 2")
        c.type("/continue 2")
        await c.until("✅ #2 Suno song: done")
    first, again = [r.json for r in fake_relay.requests if r.path == "/suno/submit/music"]
    origin = fake_relay.suno_tasks[again["task_id"]]
    assert origin.body["gpt_description_prompt"] == first["gpt_description_prompt"]
    assert again["continue_clip_id"] == origin.clip_ids()[1]  # clip 2 of the first song


async def test_an_answer_arrives_once_complete_on_a_platform_without_edits(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    release = asyncio.Event()
    fake_relay.enqueue(Stream(chunks=["Streaming ", "works"], hold=release))
    # A terminal that declares no edits (as a pipe does) stands for such a platform.
    async with console(tmp_path, fake_relay, interactive=True, edits=False) as c:
        c.type("hi")
        await wait_for(lambda: bool(fake_relay.requests))  # the first piece is on its way
        prompts = c.screen.writes.count("you> ")
        release.set()
        await c.until("you> ", prompts + 1)  # answered; waiting for the next line
    answer = [w for w in c.screen.writes if "Streaming" in w or "works" in w]
    assert answer == ["Streaming works\n"]  # one print, complete; never a piece of it


async def test_resend_delivers_a_job_left_in_doubt_again(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    async with console(tmp_path, fake_relay) as c:
        c.type("/img -m mj a fox")
        await c.until("✅ #1 Midjourney imagine: done")
        # What a stop in the middle of sending leaves behind (see test_jobs): a job in doubt.
        assert await c.app.jobs.jobs.update(1, expect=js.DELIVERED, state=js.IN_DOUBT)
        c.type("/resend")
        await c.until("✅ #1 Midjourney imagine: done", 2)
        c.type("/resend")  # delivered now: nothing left to resend
        await c.until("Nothing to resend")
    saved = [line for line in c.screen.lines() if line.startswith("[image saved: ")]
    assert len(saved) == 2
    assert len([r for r in fake_relay.requests if r.path == "/mj/submit/imagine"]) == 1


async def test_console_help_and_errors_speak_of_typing_not_pressing(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    async with console(tmp_path, fake_relay) as c:
        c.type("/help")
        await c.until("To act on a result, type: /u1–/u4")
        c.type("/help img")
        await c.until("then type /u1–/u4 to upscale")
        c.type("/help vision")
        await c.until("send the photo, then /vision QUESTION")
        c.type("/help u2")
        await c.until("To act on a result, type:", 2)
        c.type("/vision what is this?")  # errors are worded for the platform too
        await c.until("Send a photo first, then /vision QUESTION.")
        c.type("/tts")
        await c.until("What should I say? Usage: /tts TEXT")
    text = c.screen.getvalue().lower()
    for word in ("caption", "album", "reply to", "button", "press", "tap"):
        assert word not in text


async def test_tts_on_a_platform_without_voice_messages_is_an_mp3_file(
    tmp_path: Path, fake_relay: FakeRelay
) -> None:
    async with console(tmp_path, fake_relay) as c:
        c.type("/tts good morning")
        await c.until("[audio saved: ")
    assert fake_relay.speeches[-1]["response_format"] == "mp3"
    saved = next(line for line in c.screen.lines() if line.startswith("[audio saved: "))
    assert ".mp3]" in saved


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


async def test_telegram_a_reply_to_an_older_grid_acts_on_that_grid(
    tmp_path: Path, fake_relay: FakeRelay, fake: FakeTelegram
) -> None:
    async with running_bot(bot_settings(tmp_path, fake_relay, fake), fake):
        fake.send_text(USER, "/img -m mj a fox")
        await fake.wait_for(lambda: "✅ #1 Midjourney imagine: done" in texts(fake, USER))
        fake.send_text(USER, "/img -m mj a wolf")
        await fake.wait_for(lambda: "✅ #2 Midjourney imagine: done" in texts(fake, USER))
        fox_grid = next(m for m in fake.messages(USER) if m.media.get("photo"))
        fake.send_text(USER, "/u1", reply_to_message_id=fox_grid.message_id)
        await fake.wait_for(lambda: any("#3 Midjourney U1: done" in t for t in texts(fake, USER)))
        fake.send_text(USER, "/v4")  # no reply: the latest grid
        await fake.wait_for(lambda: any("#4 Midjourney V4: done" in t for t in texts(fake, USER)))
        # A reply to a job's status line ("✅ #1 ... done") names that job too.
        done = "✅ #1 Midjourney imagine: done"
        fox_status = next(m for m in fake.messages(USER) if m.text == done)
        fake.send_text(USER, "/v2", reply_to_message_id=fox_status.message_id)
        await fake.wait_for(lambda: any("#5 Midjourney V2: done" in t for t in texts(fake, USER)))
        fake.send_text(USER, "/zoom 2", reply_to_message_id=fox_grid.message_id)
        await fake.wait_for(lambda: any("does not offer /zoom 2" in t for t in texts(fake, USER)))
    u1, v4, v2 = actions(fake_relay)
    assert v2["taskId"] == mj_task_of(fake_relay, "a fox") and "variation::2::" in v2["customId"]
    assert u1["taskId"] == mj_task_of(fake_relay, "a fox") and "upsample::1::" in u1["customId"]
    assert v4["taskId"] == mj_task_of(fake_relay, "a wolf") and "variation::4::" in v4["customId"]
    # Telegram keeps its buttons: no typed line is sent there.
    assert not any(t.startswith("Type:") for t in texts(fake, USER))
    grids = [m for m in fake.messages(USER) if m.media.get("photo")]
    assert all(m.reply_markup for m in grids)
