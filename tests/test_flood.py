"""The flood gate's arithmetic, on a fake clock: per chat, per group, overall, and penalties."""

from __future__ import annotations

import pytest

from bots.shared.flood import FloodGate, FloodLimits


class Clock:
    """A clock that only moves when the gate sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def gate(clock: Clock, **limits: float) -> FloodGate:
    return FloodGate(FloodLimits(**limits), clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]


async def test_one_call_per_second_per_chat() -> None:
    clock = Clock()
    g = gate(clock)
    await g.acquire("1", group=False)
    assert g.ready_in("1", group=False) == pytest.approx(1.1)  # 10% margin for network delay
    assert g.ready_in("2", group=False) == 0  # other chats are not held up
    await g.acquire("1", group=False)
    assert clock.slept == [1.1]


async def test_fractional_rate_spaces_calls() -> None:
    clock = Clock()
    g = gate(clock, per_chat_per_s=0.5)
    await g.acquire("1", group=False)
    await g.acquire("1", group=False)
    assert clock.slept == [2.2]


async def test_group_limit_holds_the_21st_message_about_a_minute() -> None:
    clock = Clock()
    g = gate(clock, per_chat_per_s=1000, per_group_per_min=20, global_per_s=1000)
    first = clock.now
    for _ in range(20):
        await g.acquire("-100", group=True)
    await g.acquire("-100", group=True)
    assert clock.now - first == pytest.approx(66.0)


async def test_global_limit_across_chats() -> None:
    clock = Clock()
    g = gate(clock, per_chat_per_s=10, global_per_s=30)
    for chat in range(30):
        await g.acquire(str(chat), group=False)
    assert g.ready_in("new", group=False) == pytest.approx(1.1)


async def test_penalty_blocks_only_that_chat_until_it_passes() -> None:
    clock = Clock()
    g = gate(clock)
    g.penalize("7", 5)
    assert g.ready_in("7", group=False) == pytest.approx(5.0)
    assert g.ready_in("8", group=False) == 0
    await g.acquire("7", group=False)
    assert clock.slept == [5.0]
    g.penalize("9", 1)
    g.penalize("9", 0.5)  # a shorter penalty never shortens a longer one
    assert g.ready_in("9", group=False) == pytest.approx(1.0)


async def test_forget_idle_drops_old_state() -> None:
    clock = Clock()
    g = gate(clock)
    await g.acquire("1", group=True)
    g.penalize("2", 1)
    clock.now += 120
    g.ready_in("1", group=True)  # windows empty themselves when looked at
    g.forget_idle()
    assert g._chats == {} and g._groups == {} and g._blocked_until == {}
