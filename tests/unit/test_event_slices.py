"""Committed events reach the desk in slices (desk/events.py): in order, none lost or doubled,
a key never waits behind a whole journal batch, and whoever compares the ledger with the
broker first applies everything still waiting. While the backlog is long the streams'
readers wait (the supervisor's hold), and the wait always ends."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from tui_trader.desk.events import BACKLOG_HIGH, BACKLOG_LOW, SLICE, BrokerEvents


class Probe(BrokerEvents):
    def __init__(self) -> None:
        self._backlog: deque[Any] = deque()
        self._draining = False
        self._roomy = asyncio.Event()
        self.batches: list[list[Any]] = []

    def _on_events(self, items: list[Any]) -> None:  # type: ignore[override]
        self.batches.append(list(items))


def applied(p: Probe) -> list[Any]:
    return [x for b in p.batches for x in b]


async def test_a_large_batch_is_applied_a_slice_per_loop_turn_in_order() -> None:
    p = Probe()
    p._on_committed(list(range(2 * SLICE + 50)))
    assert applied(p) == list(range(SLICE))  # the first slice at once
    p._on_committed(["late"])  # a later commit waits behind what came first
    assert applied(p) == list(range(SLICE))
    for _ in range(10):  # bounded: three more turns are enough
        await asyncio.sleep(0)
    assert applied(p) == [*range(2 * SLICE + 50), "late"]
    assert max(len(b) for b in p.batches) == SLICE and not p._draining


async def test_draining_applies_everything_waiting_at_once_and_nothing_twice() -> None:
    p = Probe()
    p._on_committed(list(range(3 * SLICE)))
    p._drain_events()  # a reconcile or an account read is about to compare
    assert applied(p) == list(range(3 * SLICE))
    for _ in range(5):  # the slice already scheduled finds nothing left
        await asyncio.sleep(0)
    assert applied(p) == list(range(3 * SLICE)) and not p._draining
    p._on_committed([1, 2])  # and the next commit is applied at once again
    assert applied(p)[-2:] == [1, 2]


async def test_readers_wait_while_the_backlog_is_long_until_its_slices_bring_it_down() -> None:
    p = Probe()
    assert p._room(0) is None  # nothing waits
    p._on_committed(list(range(BACKLOG_HIGH + SLICE)))  # a slice applied at once: HIGH left
    assert len(p._backlog) == BACKLOG_HIGH
    wait = p._room(0)
    assert wait is not None
    waiter = asyncio.ensure_future(wait)
    turns = 0
    while not waiter.done():  # bounded: the slices end it
        turns += 1
        assert turns <= BACKLOG_HIGH // SLICE + 5, len(p._backlog)
        await asyncio.sleep(0)
    assert len(p._backlog) <= BACKLOG_LOW  # woken once it was down to LOW, not before
    assert applied(p)[: SLICE + 1] == list(range(SLICE + 1))


async def test_events_still_coming_count_but_never_make_a_wait_nothing_would_end() -> None:
    p = Probe()
    p._on_committed(list(range(SLICE + BACKLOG_LOW)))  # LOW left after the first slice
    # the backlog alone is short, but with what is read and not yet committed it is not
    assert p._room(BACKLOG_HIGH - BACKLOG_LOW - 1) is None
    assert p._room(BACKLOG_HIGH) is None  # LOW or less: no slice under way might end it
    p._backlog.append("one more")  # above LOW: its slices are under way
    wait = p._room(BACKLOG_HIGH)
    assert wait is not None
    p._drain_events()  # a reconcile applies everything waiting: the readers go on too
    async with asyncio.timeout(1):
        await wait
