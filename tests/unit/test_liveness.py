"""How long a stream may stay silent: the host's heartbeat cadence, shared by its streams,
and the stream's own event rate before any heartbeat is known. Pure: times are arguments."""

from __future__ import annotations

import pytest

from tui_trader.broker.sse import CadenceMeter, StreamWatch


def watches(ceiling: float = 60.0) -> tuple[CadenceMeter, StreamWatch, StreamWatch]:
    host = CadenceMeter(ceiling)
    return host, StreamWatch(host), StreamWatch(host)


def test_a_busy_stream_takes_the_cadence_its_quiet_neighbour_learned() -> None:
    """Issue 11 point 3: the trade stream carries events without a break, so it never sees
    two heartbeats in a row; the account stream of the same server does."""
    host, trades, accounts = watches()
    trades.reset_connection(0.0)
    accounts.reset_connection(0.0)
    for second in range(1, 30):  # 50 events a second on trades, a heartbeat between some
        trades.events(float(second), 50)
        trades.activity()
        trades.heartbeat(second + 0.5)
    assert host.cadence is None  # every gap on trades had events in it: no period learned
    for beat in (5.0, 10.0, 15.0):
        accounts.heartbeat(beat)  # quiet: a heartbeat every 5 s
    assert host.cadence == 5.0
    assert trades.timeout(30.0) == accounts.timeout(30.0) == 15.0  # 3 periods, both


def test_until_a_cadence_is_known_a_busy_stream_is_bounded_by_its_rate() -> None:
    _, trades, _ = watches()
    trades.reset_connection(0.0)
    assert trades.timeout(0.0) == 60.0  # nothing known: the ceiling
    for second in range(10):
        trades.events(second + 0.5, 20)  # 20 events/s
    assert trades.rate(10.0) == pytest.approx(20.0)
    assert trades.timeout(10.0) == 20.0  # max(100 / 20 = 5 s, the 20 s floor)
    for second in range(10, 20):
        trades.events(second + 0.5, 2)  # slows to 2 events/s
    assert trades.timeout(20.0) == 50.0  # 100 / 2
    trades.reset_connection(21.0)  # a new connection starts with no rate: the ceiling
    assert trades.timeout(21.0) == 60.0


def test_once_the_cadence_is_known_a_quiet_period_of_a_live_server_never_trips() -> None:
    """With heartbeats known, the bound is 3 periods whatever the rate: a live server beats a
    silent connection within one period of its last write, busy before or not."""
    host, trades, accounts = watches()
    trades.reset_connection(0.0)
    accounts.reset_connection(0.0)
    for beat in (2.0, 4.0, 6.0):
        accounts.heartbeat(beat)
    for second in range(6, 16):
        trades.events(second + 0.1, 1000)  # a burst of 1,000 events/s...
    bound = trades.timeout(16.0)
    assert bound == 6.0  # ...still 3 periods, never 100 / 1000 = 0.1 s
    last_write = 16.0
    next_beat = last_write + host.cadence  # type: ignore[operator]
    assert next_beat - last_write < bound  # the server's idle heartbeat comes in time


def test_events_between_two_heartbeats_are_not_a_period() -> None:
    host, trades, _ = watches()
    trades.reset_connection(0.0)
    trades.heartbeat(1.0)
    trades.activity()  # events came, then the server waited a period before beating
    trades.heartbeat(9.0)
    assert host.cadence is None
    trades.heartbeat(10.0)
    assert host.cadence == 1.0


def test_listeners_hear_of_a_new_period_and_can_stop() -> None:
    host, a, _ = watches()
    heard: list[float | None] = []
    stop = host.listen(lambda: heard.append(host.cadence))
    a.reset_connection(0.0)
    a.heartbeat(1.0)
    a.heartbeat(1.5)
    stop()
    a.heartbeat(2.5)
    assert heard == [0.5]
    assert host.cadence == 1.0  # the longest recent period
    assert host.idle_timeout == 3.0


def test_the_bound_stays_within_floor_and_ceiling() -> None:
    host = CadenceMeter(ceiling=10.0, floor=0.05)
    host.observe(0.001)
    assert host.idle_timeout == 0.05
    host.observe(30.0)
    assert host.idle_timeout == 10.0
