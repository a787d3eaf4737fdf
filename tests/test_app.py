"""Start-up and shutdown: SIGTERM stops adapters, in-flight replies finish, the database closes."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import pytest

from bots.app import App, serve
from core.engine.engine import Engine
from core.engine.history import Turn
from core.platform.types import FinalText, ReplyEvent
from core.storage.sqlite import SqliteStore
from tests.conftest import message
from tests.fake_relay import FakeRelay, Stream


class RecordingAdapter:
    """A minimal platform: on start it receives one message and records the reply events."""

    name = "recording"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.events: list[ReplyEvent] = []
        self.first_event = asyncio.Event()
        self.stopped = False
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self._receive())

    async def _receive(self) -> None:
        async for event in self.engine.handle(message("long question", user="sam")):
            self.events.append(event)
            self.first_event.set()

    async def stop(self) -> None:
        self.stopped = True  # takes no new messages; the in-flight reply goes on


async def test_sigterm_stops_adapters_and_lets_the_reply_finish(
    app: App, fake_relay: FakeRelay, settings: object
) -> None:
    release = asyncio.Event()
    fake_relay.enqueue(Stream(chunks=["part one, ", "part two"], hold=release))
    adapter = RecordingAdapter(app.engine)
    serving = asyncio.create_task(serve([adapter]))
    await adapter.first_event.wait()

    os.kill(os.getpid(), signal.SIGTERM)  # what `kill` or Ctrl-C does to `relaybot run`
    await asyncio.wait_for(serving, 10)
    assert adapter.stopped and app.engine.in_flight == 1

    stopping = asyncio.create_task(app.stop(drain_timeout=30))
    release.set()
    await asyncio.wait_for(stopping, 10)
    assert adapter.events[-1] == FinalText("part one, part two")
    with pytest.raises(Exception, match="before open"):
        _ = app.store.db  # closed

    store = SqliteStore(app.settings.storage.path)
    await store.open()
    try:
        turns = await store.recent_turns("test:u:sam", 10)
    finally:
        await store.close()
    assert turns[-1] == Turn("assistant", "part one, part two", turns[-1].tokens)


async def test_shutdown_wait_is_bounded(
    tmp_path: Path, fake_relay: FakeRelay, caplog: pytest.LogCaptureFixture, app: App
) -> None:
    release = asyncio.Event()
    fake_relay.enqueue(Stream(chunks=["never ", "finishes"], hold=release))
    adapter = RecordingAdapter(app.engine)
    await adapter.start()
    await adapter.first_event.wait()
    with caplog.at_level(logging.WARNING, logger="relaybot"):
        await app.stop(drain_timeout=0.05)
    assert "1 replies still in flight" in caplog.text
    release.set()
    assert adapter.task is not None
    adapter.task.cancel()
    await asyncio.gather(adapter.task, return_exceptions=True)


async def test_a_failed_write_gets_a_clear_reply_and_the_bot_goes_on(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    import sqlite3

    from core.platform.types import ErrorReply
    from tests.conftest import collect

    other = sqlite3.connect(app.settings.storage.path, isolation_level=None)
    other.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON messages BEGIN SELECT RAISE(FAIL, 'no'); END"
    )
    try:
        with caplog.at_level(logging.INFO, logger="relaybot"):
            events = await collect(app, message("hello", user="kim"))
        error = events[-1]
        assert isinstance(error, ErrorReply) and error.code == "storage"
        assert "could not write to its database" in error.text
        logged = [r for r in caplog.records if "code=storage" in r.getMessage()]
        assert logged and logged[0].levelno == logging.ERROR
        assert await app.store.recent_turns("test:u:kim", 10) == []
        other.execute("DROP TRIGGER refuse")
    finally:
        other.close()
    events = await collect(app, message("again", user="kim"))
    assert events[-1] == FinalText("echo: again")
    assert [t.content for t in await app.store.recent_turns("test:u:kim", 10)] == [
        "again",
        "echo: again",
    ]


async def test_a_start_that_fails_half_way_closes_what_it_opened(settings: object) -> None:
    import threading

    from core.relay.client import RelayClient

    class UnstartableRelay(RelayClient):
        async def start(self) -> None:
            raise OSError("no file descriptors left")

    before = {t.ident for t in threading.enumerate()}
    relay = UnstartableRelay("http://127.0.0.1:9", "sk-x")
    app = App(settings, relay=relay)  # type: ignore[arg-type]
    with pytest.raises(OSError, match="descriptors"):
        await app.start()
    with pytest.raises(Exception, match="before open"):
        _ = app.store.db  # the database was closed again
    started = [t for t in threading.enumerate() if t.ident not in before and not t.daemon]
    for thread in started:  # each is on its way out (aiosqlite's worker got its stop)
        await asyncio.to_thread(thread.join, 10)
    assert not [t for t in started if t.is_alive()]  # nothing keeps the process alive
