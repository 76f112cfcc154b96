"""The app's full garbage collections: run when due and the trader is not acting, never
while a key was just pressed or a dialog is open (until overdue)."""

from __future__ import annotations

import gc

import pytest

from tui_trader.ui.collector import EVERY, LONGEST, NEVER, QUIET, YOUNG_PASSES, Collector, take_over


class World:
    """A clock, the collector's counts and the collections it was asked for."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.counts = (0, 0, 0)
        self.collected: list[int] = []

    def collect(self, gen: int) -> int:
        self.collected.append(gen)
        self.counts = (0, 0, 0)
        return 0

    def collector(self) -> Collector:
        return Collector(clock=lambda: self.now, collect=self.collect, count=lambda: self.counts)


@pytest.fixture
def world() -> World:
    return World()


def test_a_due_full_collection_runs_when_the_trader_is_quiet(world: World) -> None:
    c = world.collector()
    world.counts = (100, 3, YOUNG_PASSES)
    world.now += EVERY
    assert c.tick() is True
    assert world.collected == [2]
    assert (c.runs, c.overdue_runs) == (1, 0)


def test_nothing_runs_before_the_young_generations_have_been_collected_enough(
    world: World,
) -> None:
    c = world.collector()
    world.now += LONGEST * 2
    world.counts = (4000, 9, YOUNG_PASSES - 1)
    assert c.tick() is False
    assert world.collected == []


def test_nothing_runs_again_within_every_seconds_of_the_last(world: World) -> None:
    c = world.collector()
    world.now += EVERY
    world.counts = (0, 0, YOUNG_PASSES)
    assert c.tick()
    world.counts = (0, 0, YOUNG_PASSES * 5)
    world.now += EVERY - 0.1
    assert c.tick() is False
    world.now += 0.1
    assert c.tick() is True
    assert world.collected == [2, 2]


def test_a_key_just_pressed_holds_it_back_until_the_trader_is_quiet(world: World) -> None:
    c = world.collector()
    world.now += EVERY
    world.counts = (0, 0, YOUNG_PASSES)
    c.input_seen()
    world.now += QUIET / 2
    assert c.tick() is False
    c.input_seen()  # another key: the quiet starts over
    world.now += QUIET * 0.9
    assert c.tick() is False
    world.now += QUIET * 0.2
    assert c.tick() is True
    assert world.collected == [2]


def test_an_open_dialog_holds_it_back_until_it_is_overdue(world: World) -> None:
    c = world.collector()
    world.counts = (0, 0, YOUNG_PASSES)
    world.now += EVERY
    assert c.tick(dialog_open=True) is False
    world.now += LONGEST - EVERY - 1
    assert c.tick(dialog_open=True) is False
    world.now += 1
    assert c.tick(dialog_open=True) is True  # the garbage must not pile up for ever
    assert (c.runs, c.overdue_runs) == (1, 1)


def test_a_trader_who_never_stops_pressing_keys_still_gets_one_when_overdue(
    world: World,
) -> None:
    c = world.collector()
    world.counts = (0, 0, YOUNG_PASSES)
    ran = []
    for _ in range(int(LONGEST / 0.1) + 10):  # a key every 0.1 s, a tick after each
        world.now += 0.1
        c.input_seen()
        ran.append(c.tick())
    assert sum(ran) == 1
    assert c.overdue_runs == 1


def test_take_over_turns_off_automatic_full_collections_and_keeps_the_young_ones() -> None:
    saved = gc.get_threshold()
    try:
        take_over((5_000, 10))
        assert gc.get_threshold() == (5_000, 10, NEVER)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)
