"""The flood gate's arithmetic on a clock the test moves: order, priorities, skipped edits,
exact windows that agree with the fake Bot API's, retry_after, and the async wrapper."""

from __future__ import annotations

import asyncio
import copy
import random
from collections.abc import Callable

import pytest

from bots.shared.flood import EDIT, FloodGate, FloodLimits
from bots.shared.flood_plan import INF, URGENT, FloodPlan, Rules, Ticket, Window
from tests.fake_telegram_rules import FloodControl
from tests.fake_telegram_rules import FloodLimits as FakeLimits

TELEGRAM = FloodLimits().rules()  # 1/s per chat, 20/min per group, 30/s overall


def plan(chat: int = 1, overall: int = 30, group: int | None = 20, span: float = 1.0) -> FloodPlan:
    return FloodPlan(
        Rules(
            chat=Window(chat, span),
            overall=Window(overall, span),
            group=None if group is None else Window(group, 60.0),
        )
    )


def call(p: FloodPlan, key: str, now: float, group: bool = False) -> Ticket:
    """One call that goes at once (nothing else waits) and is answered at once."""
    ticket = p.enqueue(key, group, now)
    assert p.grant(now) == [ticket], f"{key} could not go at {now}"
    p.release(ticket, now)
    return ticket


def keys(tickets: list[Ticket]) -> list[str]:
    return [t.key for t in tickets]


def test_telegram_limits_become_windows() -> None:
    assert TELEGRAM == Rules(chat=Window(1, 1.0), overall=Window(30, 1.0), group=Window(20, 60.0))
    assert FloodLimits(0.5).rules().chat == Window(1, 2.0)
    assert FloodLimits(2.5).rules().chat == Window(2, 1.0)
    with pytest.raises(ValueError):
        Window(0, 1.0)


def test_a_window_is_exact_and_counts_from_when_the_answer_came_back() -> None:
    p = plan()
    first = p.enqueue("1", False, 100.0)
    assert keys(p.grant(100.0)) == ["1"]
    second = p.enqueue("1", False, 100.0)
    assert p.next_at(100.0) == INF  # while the first call is on its way, only its answer helps
    p.release(first, 100.25)  # the server counted it somewhere in [100.0, 100.25]
    assert p.next_at(100.25) == 101.25  # not a moment later: no margin
    assert p.grant(101.2499) == []
    assert p.grant(101.25) == [second]


def test_the_gate_and_the_fake_bot_api_agree_on_the_edge_of_a_window() -> None:
    # The fake counts a call while now < arrival + 1 s; the gate lets the next one go exactly
    # then. With no network delay both see the same times: never refused, never idle.
    fake = FloodControl()
    limits = FakeLimits(per_chat_per_s=1, per_group_per_min=20, global_per_s=30)
    p = FloodPlan(TELEGRAM)
    now = 0.0
    for n in range(5):
        ticket = p.enqueue("-100", True, now)
        if n:
            early = copy.deepcopy(fake)
            assert early.check(limits, -100, p.next_at(now) - 1e-6) is not None
        now = max(now, p.next_at(now))
        assert p.grant(now) == [ticket]
        assert fake.check(limits, -100, now) is None
        p.release(ticket, now)
    assert now == 4.0


def test_the_fake_bot_api_says_how_long_until_the_call_would_fit() -> None:
    fake = FloodControl()
    limits = FakeLimits(per_chat_per_s=1, per_group_per_min=20, global_per_s=30)
    for n in range(20):
        assert fake.check(limits, -5, float(n)) is None
    assert fake.check(limits, -5, 20.5) == 40  # the group's first call leaves at 60.0
    assert fake.remaining(-5, 20.5) == 40
    assert fake.check(limits, 6, 20.5) is None  # another chat is not refused


def test_waiting_calls_go_in_order_of_arrival() -> None:
    p = plan(chat=1, overall=2)
    tickets = [p.enqueue(str(n), False, 0.0) for n in range(6)]
    served: list[tuple[str, float]] = []
    now = 0.0
    while now < INF:
        granted = p.grant(now)
        served += [(t.key, now) for t in granted]
        for t in granted:
            p.release(t, now)
        now = p.next_at(now)
    assert [key for key, _ in served] == [t.key for t in tickets]
    assert [at for _, at in served] == [0, 0, 1, 1, 2, 2]  # two a second, nothing wasted


def test_a_chat_held_by_its_own_limit_does_not_hold_up_other_chats() -> None:
    p = plan(chat=1, overall=3)
    call(p, "a", 0.0)
    late_a = p.enqueue("a", False, 0.1)  # first in line, but "a" used its second
    b = p.enqueue("b", False, 0.2)
    c = p.enqueue("c", False, 0.3)
    assert p.grant(0.3) == [b, c]
    for t in (b, c):
        p.release(t, 0.3)
    d = p.enqueue("d", False, 0.4)
    assert p.next_at(0.4) == 1.0
    assert p.grant(1.0) == [late_a]  # its turn came first: it arrived before "d"
    p.release(late_a, 1.0)
    assert p.grant(1.3) == [d]


def test_a_call_tried_again_keeps_its_place_in_line() -> None:
    p = plan(chat=5, overall=1)
    first_try = p.enqueue("a", False, 0.0)
    later = p.enqueue("b", False, 0.0)
    assert p.grant(0.0) == [first_try]
    p.release(first_try, 0.1)  # failed (a 5xx): it tries again
    again = p.enqueue("a", False, 0.2, place=first_try)
    assert p.grant(1.1) == [again]  # before "b", which came after its first try
    p.release(again, 1.1)
    assert p.grant(2.1) == [later]


def test_first_and_final_texts_go_before_lower_priorities() -> None:
    p = plan(chat=5, overall=1)
    call(p, "x", 0.0)
    low = p.enqueue("1", False, 0.0, priority=5)
    urgent = p.enqueue("2", False, 0.1, priority=URGENT)
    same_chat_urgent = p.enqueue("1", False, 0.2, priority=URGENT)
    assert p.grant(1.0) == [urgent]
    p.release(urgent, 1.0)
    assert p.grant(2.0) == [same_chat_urgent]
    p.release(same_chat_urgent, 2.0)
    assert p.grant(3.0) == [low]


def test_an_edit_goes_only_when_no_waiting_call_wants_the_slot() -> None:
    p = plan(chat=1, overall=4)
    edit = p.try_take("a", False, 0.0)
    assert edit is not None  # budget free: the edit goes
    p.release(edit, 0.0)
    assert p.try_take("a", False, 0.5) is None  # its chat's second is used
    call(p, "x", 0.5)
    waiting = p.enqueue("x", False, 0.6)  # waits for its chat, due within the window
    assert p.try_take("b", False, 0.6) is not None  # 2 of 4 used + this: one left for the waiter
    assert p.try_take("c", False, 0.6) is None  # would take the waiter's global slot
    assert p.try_take("x", False, 1.6) is None  # a chat with a waiting call: it goes first
    assert p.grant(1.5) == [waiting]


def test_an_edit_leaves_the_slot_of_a_call_waiting_for_its_own_chat() -> None:
    p = plan(chat=1, overall=2)
    on_way = p.enqueue("x", False, 0.0)
    assert p.grant(0.0) == [on_way]
    p.enqueue("x", False, 0.1)  # waits for the answer to the call on its way
    assert p.try_take("b", False, 0.1) is None  # the last global slot is the waiter's


def test_an_edit_never_takes_the_last_slot_of_a_group() -> None:
    p = plan(chat=100, overall=100, group=3)
    call(p, "-1", 0.0, group=True)
    call(p, "-1", 0.0, group=True)
    assert p.try_take("-1", True, 0.0) is None  # kept for the final text
    final = p.enqueue("-1", True, 0.0)
    assert p.grant(0.0) == [final]


def test_retry_after_pauses_the_chat_or_everything() -> None:
    p = plan(chat=10, overall=10)
    p.pause("7", 5.0, 0.0)
    seven = p.enqueue("7", False, 0.0)
    eight = p.enqueue("8", False, 0.0)
    assert p.grant(0.0) == [eight]
    assert p.try_take("7", False, 1.0) is None
    assert p.ready_in("7", False, 1.0) == 4.0
    assert p.next_at(1.0) == 5.0
    assert p.grant(5.0) == [seven]
    p.pause("7", 1.0, 5.0)
    p.pause("7", 0.5, 5.0)  # a shorter pause never shortens a longer one
    assert p.ready_in("7", False, 5.0) == 1.0
    p.pause(None, 2.0, 6.0)
    nine = p.enqueue("9", False, 6.0)
    assert p.grant(7.9) == [] and p.try_take("9", False, 7.9) is None
    assert p.grant(8.0) == [nine]


def test_a_call_that_gives_up_leaves_the_line() -> None:
    p = plan(chat=1, overall=1)
    call(p, "x", 0.0)
    first = p.enqueue("a", False, 0.0)
    second = p.enqueue("b", False, 0.0)
    p.cancel(first, 0.5)
    assert p.grant(1.0) == [second]
    p.cancel(second, 1.0)  # granted but never made: the slot is not used up
    assert p.try_take("c", False, 1.0) is not None


def test_other_platforms_bring_their_own_windows() -> None:
    # Discord: 5 messages per 5 s per channel, no group limit.
    p = FloodPlan(Rules(chat=Window(5, 5.0), overall=Window(50, 1.0)))
    for n in range(5):
        call(p, "channel", float(n) / 10, group=True)
    sixth = p.enqueue("channel", True, 0.5)
    assert p.next_at(0.5) == 5.0
    assert p.grant(5.0) == [sixth]


def test_forget_idle_drops_old_state() -> None:
    p = plan()
    call(p, "1", 0.0, group=True)
    p.pause("2", 1.0, 0.0)
    p.forget_idle(120.0)
    assert p._chats == {} and p._groups == {}


@pytest.mark.parametrize("seed", range(5))
def test_random_load_is_never_refused_by_the_fake_bot_api(seed: int) -> None:
    """Many chats, groups, edits and network delays: the fake (Telegram's limits) never
    refuses a call, and each chat's waiting calls are served in order of arrival."""
    rng = random.Random(seed)
    p, fake = FloodPlan(TELEGRAM), FloodControl()
    limits = FakeLimits(per_chat_per_s=1, per_group_per_min=20, global_per_s=30)
    now = 0.0
    on_way: list[tuple[float, float, Ticket]] = []
    arrivals: list[tuple[float, str]] = []
    asked: dict[str, list[int]] = {}
    served: dict[str, list[int]] = {}
    for _ in range(3000):
        now += rng.choice([0.0, 0.001, 0.01, 0.05])
        chat = str(rng.choice([-1, -2]) if rng.random() < 0.1 else rng.randrange(60))
        group = chat.startswith("-")
        if rng.random() < 0.4:
            asked.setdefault(chat, []).append(p.enqueue(chat, group, now).seq)
        elif (edit := p.try_take(chat, group, now)) is not None:
            on_way.append((now, now + rng.uniform(0, 0.2), edit))
        for ticket in p.grant(now):
            served.setdefault(ticket.key, []).append(ticket.seq)
            on_way.append((now, now + rng.uniform(0, 0.2), ticket))
        for sent, answered, ticket in [c for c in on_way if c[1] <= now]:
            on_way.remove((sent, answered, ticket))
            arrivals.append((rng.uniform(sent, answered), ticket.key))  # when the server saw it
            p.release(ticket, answered)
    assert len(arrivals) > 1000
    for arrived, key in sorted(arrivals):
        assert fake.check(limits, int(key), arrived) is None
    for key, seqs in served.items():
        assert seqs == asked[key][: len(seqs)]


async def test_the_async_gate_wakes_waiters_in_order_and_leaves_no_busy_loop() -> None:
    now = [0.0]
    gate = FloodGate(Rules(chat=Window(1, 1.0), overall=Window(1, 1.0)), clock=lambda: now[0])
    first = await gate.acquire("a", False)  # free: no waiting
    order: list[str] = []

    async def wait(key: str) -> None:
        ticket = await gate.acquire(key, False)
        order.append(key)
        gate.release(ticket)

    tasks = [asyncio.create_task(wait(k)) for k in "bcd"]
    await until(lambda: gate.waiting == 3)
    assert gate._timer is None  # all wait for the answer to "a"'s call: no timer at all
    gate.release(first)
    assert gate._timer is not None  # one timer, for the moment the next one may go
    for served in range(1, 4):
        now[0] += 1.0
        gate.wake()  # what the timer does when it fires
        await until(lambda: len(order) == served)  # noqa: B023
    await asyncio.gather(*tasks)
    assert order == ["b", "c", "d"]
    assert gate.try_acquire("e", False, EDIT) is None  # "d" used this second


async def until(condition: Callable[[], bool]) -> None:
    """Let other tasks run until ``condition`` holds (bounded: fails rather than hangs)."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never met")


async def test_a_cancelled_waiter_leaves_the_line() -> None:
    now = [0.0]
    gate = FloodGate(Rules(chat=Window(1, 1.0), overall=Window(1, 1.0)), clock=lambda: now[0])
    async with gate.slot("a", False):
        task = asyncio.create_task(gate.acquire("b", False))
        await until(lambda: gate.waiting == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert gate.waiting == 0
