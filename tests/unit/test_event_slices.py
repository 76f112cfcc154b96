"""Committed events reach the desk in slices (desk/events.py): in order, none lost or doubled,
a key never waits behind a whole journal batch, and whoever compares the ledger with the
broker first applies everything still waiting."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from tui_trader.desk.events import SLICE, BrokerEvents


class Probe(BrokerEvents):
    def __init__(self) -> None:
        self._backlog: deque[Any] = deque()
        self._draining = False
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
