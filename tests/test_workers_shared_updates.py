"""The Telegram dispatcher of several workers (bots/telegram/shared.py) without Telegram: a
chat's updates are handed over in order, one worker's at a time; a clean stop hands what it
had not started back to the inbox and gives its chats back at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bots.telegram.shared import SharedUpdates, chat_of
from core.storage.sqlite import SqliteStore
from core.storage.store import Store
from core.workers.heartbeat import Heartbeat
from core.workers.inbox import DONE, INTERRUPTED, PENDING, Inbox
from core.workers.leases import Leases, holder_name

SOURCE = "telegram:1"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    found = SqliteStore(tmp_path / "bot.db")
    await found.open()
    try:
        yield found
    finally:
        await found.close()


class Worker:
    """A dispatcher whose handler records updates and waits for ``gate`` to be opened."""

    def __init__(self, store: Store, name: str, slots: int = 1, lease_s: float = 60) -> None:
        self.leases = Leases(store, holder_name(name), lease_s)
        self.handled: list[int] = []
        self.told: list[int] = []
        self.gate = asyncio.Event()
        self.shared = SharedUpdates(
            lambda source: Inbox(store, source, self.leases.holder),
            self.leases,
            poll_s=0.05,
            max_concurrent=slots,
            handle=self._handle,
            interrupted=self._interrupted,
        )
        self.shared.bind(SOURCE)

    async def _handle(self, payload: dict[str, Any]) -> None:
        self.handled.append(int(payload["update_id"]))
        await self.gate.wait()

    async def _interrupted(self, payload: dict[str, Any]) -> None:
        self.told.append(int(payload["update_id"]))


def update(update_id: int, chat: int) -> dict[str, Any]:
    return {"update_id": update_id, "message": {"chat": {"id": chat}, "text": "hi"}}


async def until(check: Any, limit_s: float = 5) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not (await check() if asyncio.iscoroutinefunction(check) else check()):
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_the_chat_of_an_update() -> None:
    assert chat_of(update(1, -100)) == "-100"
    button = {"update_id": 2, "callback_query": {"message": {"chat": {"id": 5}}}}
    assert chat_of(button) == "5"
    assert chat_of({"update_id": 3, "poll": {}}) == "update:3"


async def test_a_clean_stop_hands_back_what_it_had_not_started(store: Store) -> None:
    one = Worker(store, "one")
    inbox = one.shared.inbox
    for update_id in (1, 2, 3):
        await inbox.accept(update_id, one.shared.lease_name("5"), update(update_id, 5))
    await one.shared.round()
    await until(lambda: one.handled == [1])  # one slot: 2 and 3 wait for it, in order
    assert await one.leases.held() == [one.shared.lease_name("5")]
    stopping = asyncio.create_task(one.shared.stop(wait_s=5))
    await asyncio.sleep(0)
    one.gate.set()  # the answer in flight finishes within the grace period
    await stopping
    assert await inbox.states() == {1: DONE, 2: PENDING, 3: PENDING}
    assert await one.leases.held() == []  # the chat is free for another worker at once

    two = Worker(store, "two")
    two.gate.set()
    two.shared.start()
    try:
        await until(lambda: two.handled == [2, 3])

        async def all_done() -> bool:
            return await inbox.states() == {1: DONE, 2: DONE, 3: DONE}

        await until(all_done)
    finally:
        await two.shared.stop(wait_s=5)
    assert two.told == []


async def test_a_dead_workers_chat_moves_on_and_its_update_is_not_redone(store: Store) -> None:
    dead = Worker(store, "dead", lease_s=0.3)
    inbox = dead.shared.inbox
    await inbox.accept(1, dead.shared.lease_name("5"), update(1, 5))
    await dead.shared.round()
    await until(lambda: dead.handled == [1])  # ... and the process is killed here
    await inbox.accept(2, dead.shared.lease_name("5"), update(2, 5))
    live = Worker(store, "live")
    live.gate.set()
    live.shared.start()
    try:
        await until(lambda: live.handled == [2])
        assert live.told == [1]  # its sender is asked to send it again
    finally:
        await live.shared.stop(wait_s=5)
    states = await inbox.states()
    assert states[1] == INTERRUPTED and states[2] == DONE
    dead.gate.set()  # the dead worker's late finish changes nothing
    await dead.shared.wait_idle()
    assert (await inbox.states())[1] == INTERRUPTED


async def test_the_heartbeat_renews_and_survives_a_failed_renewal() -> None:
    beats: list[str] = []
    failures = 0

    async def leases() -> None:
        beats.append("leases")

    async def claims() -> None:
        nonlocal failures
        failures += 1
        if failures == 1:
            raise RuntimeError("database away for a moment")
        beats.append("claims")

    heartbeat = Heartbeat(lease_s=0.15)  # a beat every 0.05 s
    heartbeat.add("leases", leases)
    heartbeat.add("job claims", claims)
    heartbeat.start()
    try:
        await until(lambda: beats.count("claims") >= 2)  # the failure did not stop it
    finally:
        await heartbeat.stop()
    assert beats.count("leases") >= 3
