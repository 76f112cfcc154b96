"""The replay desk over a journal built here: it plays events and decisions in the order the
desk lived them, rebuilds the ledger through the desk's own event code, starts ``--from`` a
time with what came before already applied, steps one at a time while paused, keeps pace with
an injected clock (no sleeps), and can reach no broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tui_trader.broker.journal import Journal
from tui_trader.config import load_settings
from tui_trader.core.risk import BreakerState, TradingState
from tui_trader.desk.replay import READ_ONLY, ReadOnlyError, ReplayDesk
from tui_trader.desk.replay_player import Player, faster, slower
from tui_trader.desk.replay_source import AuditStep, Recording, ReplayError

FIXTURE = Path(__file__).parents[1] / "fixtures" / "alpaca" / "trade_event_fill.json"
T0 = 1_800_000_000.0  # the journal's clock, epoch seconds


class Clock:
    """The journal's clock (stamps) or the wall clock (the pace): set by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def fill(n: int, symbol: str, side: str, qty: str, price: str, position: str) -> str:
    data = json.loads(FIXTURE.read_text())
    data["event_id"] = f"01HCMKNJK1Y0R7VF6Q6CAC3S{n:02d}"
    data["execution_id"] = f"exec-{n}"
    data["at"] = data["timestamp"] = f"2026-11-24T15:{n:02d}:00Z"
    data.update(qty=qty, price=price, position_qty=position)
    data["order"].update(
        symbol=symbol, side=side, qty=qty, notional=None, filled_qty=qty, id=f"order-{n}"
    )
    return json.dumps(data)


def record(path: Path) -> None:
    """A short session: the account read (flat, 100k), a signal, a buy, a sell, a denial,
    a halt, a pause; one step per 10 journal seconds."""
    clock = Clock(T0)
    with Journal.open(path, clock=clock) as j:

        def at(t: float) -> None:
            clock.now = T0 + t

        j.audit(
            "ledger", {"why": "start-up", "account": "PA123", "cash": "100000", "positions": []}
        )
        j.audit("day", {"why": "start-up", "day_start": "100000", "last_equity": "100000"})
        at(10)
        signal = {
            "at": "2026-11-24T15:00:00+00:00", "mu": 0.001, "sigma": 0.01, "target_weight": 0.1,
            "current_weight": 0.0, "utility_gain": 0.5, "proposed_qty": "10", "reason": "buy",
            "features": {}, "price": "181.00", "close": "180.90",
        }  # fmt: skip
        j.audit("signal", signal, "AAPL")
        at(20)
        j.add(
            "trades",
            "e1",
            "2026-11-24T15:01:00Z",
            "fill",
            fill(1, "AAPL", "buy", "10", "181", "10"),
        )
        j.commit()
        at(30)
        j.add(
            "trades", "e2", "2026-11-24T15:02:00Z", "fill", fill(2, "AAPL", "sell", "4", "182", "6")
        )
        j.commit()
        at(40)
        j.audit(
            "risk",
            {"client_order_id": "c9", "verdict": "GROSS_EXPOSURE: x=1", "allowed": False,
             "order": {"symbol": "MSFT", "side": "buy", "qty": "999"}, "source": "manual"},
            "MSFT",
        )  # fmt: skip
        at(50)
        j.audit(
            "state",
            {"from": "ACTIVE", "to": "HALTED", "breakers": [
                {"name": "DAILY_LOSS", "state": "tripped", "value": "2500", "reason": "DAILY_LOSS: x",  # noqa: E501
                 "tripped_at": "2026-11-24T15:05:00+00:00"}]},
        )  # fmt: skip
        at(60)
        j.audit("pause", {"reason": "by the trader (p)"})


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "journal.sqlite3"
    record(path)
    return path


@pytest.fixture
def recording(journal: Path) -> Iterator[Recording]:
    rec = Recording(journal)
    yield rec
    rec.close()


def make(rec: Recording, wall: Clock, **kw: object) -> ReplayDesk:
    return ReplayDesk(load_settings(), rec, monotonic=wall, **kw)  # type: ignore[arg-type]


def test_steps_merge_events_and_decisions_in_the_desks_order(recording: Recording) -> None:
    steps = list(recording.steps())
    kinds = [s.kind if isinstance(s, AuditStep) else s.type for s in steps]
    assert kinds == ["ledger", "day", "signal", "fill", "fill", "risk", "state", "pause"]
    assert [s.t - T0 for s in steps] == [0, 0, 10, 20, 30, 40, 50, 60]
    assert recording.span() == (T0, T0 + 60)
    assert [s.t for s in recording.steps(T0 + 30)] == [T0 + 30, T0 + 40, T0 + 50, T0 + 60]


def test_playing_to_the_end_rebuilds_the_desk(recording: Recording) -> None:
    desk = make(recording, Clock(0), speed=1.0)
    while desk.step():
        pass
    snap = desk.snapshot()
    pos = snap.book.positions["AAPL"]
    assert pos.qty == Decimal(6) and pos.avg_entry == Decimal(181)
    assert snap.book.cash == Decimal(100000) - 1810 + 728
    assert snap.book.day_start_equity == Decimal(100000)
    assert snap.account == "PA123"
    assert [e.kind for e in snap.events] == ["fill", "fill"]
    assert snap.events[1].text.startswith("fill 4 @ 182")
    assert snap.signals["AAPL"].target_weight == 0.1
    assert snap.prices["AAPL"] == Decimal("181.00") and snap.history["AAPL"] == (180.9,)
    assert not snap.verdicts["MSFT"].allowed
    assert snap.risk.state is TradingState.HALTED and snap.risk.paused
    loss = snap.risk.breaker("DAILY_LOSS")
    assert loss.state is BreakerState.TRIPPED and loss.value == Decimal(2500)
    assert any("denied (manual): GROSS_EXPOSURE" in n for n in snap.notices)


def test_speed_keeps_pace_with_the_clock(recording: Recording) -> None:
    wall = Clock(100.0)
    player = Player(recording.steps(), speed=10.0)
    assert len(player.due(wall())) == 2  # the first stamp plays at once
    wall.now += 0.9  # 9 journal seconds: the signal at 10 is not due yet
    assert player.due(wall()) == []
    assert player.wait() == pytest.approx(0.1)
    wall.now += 0.1
    assert [s.kind for s in player.due(wall()) if isinstance(s, AuditStep)] == ["signal"]
    player.set_speed(faster(10.0), wall())  # 30x: 10 journal seconds in 1/3 s
    wall.now += 1 / 3 + 1e-9
    assert [getattr(s, "type", None) for s in player.due(wall())] == ["fill"]
    assert slower(30) == 10 and faster(600) is None and slower(None) == 600


def test_a_long_silence_is_skipped(tmp_path: Path) -> None:
    clock = Clock(T0)
    with Journal.open(tmp_path / "j.sqlite3", clock=clock) as j:
        j.audit("pause", {})
        clock.now += 3600  # an idle hour
        j.audit("resume", {})
    rec = Recording(tmp_path / "j.sqlite3")
    wall = Clock(0.0)
    player = Player(rec.steps(), speed=10.0, max_idle=2.0)
    assert len(player.due(wall())) == 1
    assert player.wait() == pytest.approx(2.0)  # not 360 s
    wall.now += 2.0
    assert len(player.due(wall())) == 1 and player.ended
    rec.close()


def test_paused_it_moves_only_by_steps(recording: Recording) -> None:
    wall = Clock(0.0)
    desk = make(recording, wall, speed=1.0)
    desk.player.due(wall())
    assert desk.toggle() is True
    wall.now += 1000  # paused: however long, nothing plays
    assert desk.player.due(wall()) == [] and desk.player.wait() is None
    assert desk.step() and desk.snapshot().signals.keys() == {"AAPL"}
    assert desk.step() and desk.snapshot().book.positions["AAPL"].qty == 10
    assert desk.snapshot().replay.at.timestamp() == T0 + 20  # type: ignore[union-attr]
    while desk.step():
        pass
    assert desk.snapshot().replay.ended  # type: ignore[union-attr]


def test_from_applies_what_came_before_at_once(recording: Recording) -> None:
    desk = make(recording, Clock(0.0), start=T0 + 25, speed=10.0)

    async def go() -> None:
        desk.player.paused = True  # hold it where --from put it
        task = asyncio.create_task(desk.run())
        for _ in range(100):  # bounded: until the fast-forward is done
            if desk.player.played:
                break
            await asyncio.sleep(0)
        desk.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(go())
    snap = desk.snapshot()
    assert snap.book.positions["AAPL"].qty == 10  # the buy at 20, not the sell at 30
    assert snap.replay is not None and snap.replay.at is not None
    assert snap.replay.at.timestamp() == T0 + 25


async def test_run_plays_to_the_end_at_max_speed(recording: Recording) -> None:
    desk = make(recording, Clock(0.0), speed=None)
    changes: list[int] = []
    desk.on_change(lambda: changes.append(1))
    task = asyncio.create_task(desk.run())
    for _ in range(1000):  # bounded: a few turns of the loop
        if desk.player.ended:
            break
        await asyncio.sleep(0)
    desk.stop()
    await asyncio.wait_for(task, 5)
    assert desk.player.ended and changes
    assert desk.snapshot().book.positions["AAPL"].qty == 6


async def test_read_only_and_no_client(recording: Recording) -> None:
    desk = make(recording, Clock(0.0))
    for name in ("rest", "http", "supervisor", "sender", "target"):
        assert not hasattr(desk, name)
    from tui_trader.core.orders import OrderBuilder

    order = OrderBuilder().symbol("AAPL").buy(1).market().day().build()
    assert (await desk.submit(order)).detail == READ_ONLY
    assert not desk.reset_breaker("DAILY_LOSS").allowed
    assert (await desk.preview_flatten()).error == READ_ONLY
    for call in (desk.pause, desk.resume):
        with pytest.raises(ReadOnlyError):
            call()
    with pytest.raises(ReadOnlyError):
        await desk.flatten()
    with pytest.raises(ReadOnlyError):
        await desk.cancel_all()


def test_not_a_journal(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="no journal"):
        Recording(tmp_path / "missing.sqlite3")
    other = tmp_path / "other.sqlite3"
    other.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(ReplayError, match="not a journal"):
        Recording(other)
    assert not (tmp_path / "missing.sqlite3").exists()  # read-only: nothing created
