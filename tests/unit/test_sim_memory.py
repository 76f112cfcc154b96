"""The embedded emulator's memory is bounded (issue 15: a desk kept open all day).

It runs inside the desk's process, so what it keeps is the trader's RSS: every event it sent
(about 1.6 KB each) and every minute bar of every listed symbol (about 380 bytes each; at the
demo pace, 60 a second across nine symbols: ~12 MB an hour). Both used to grow without end.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tui_trader.config import Settings
from tui_trader.desk.target import embedded_config
from tui_trader.sim.data_feed import _Source
from tui_trader.sim.eventlog import EventLog
from tui_trader.sim.market import KEEP_BARS, MarketModel

T0 = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)


def _fill(log: EventLog, n: int) -> None:
    for i in range(log.end, log.end + n):
        log.append(f"01J{i:023d}", T0 + timedelta(seconds=i), {"n": i})


def test_an_event_log_keeps_at_most_its_retention_and_about_that_many() -> None:
    log = EventLog("trades", 1, retention=1000)
    _fill(log, 10_000)
    kept = len(log)
    assert 1000 <= kept <= 1000 + 1000 // 8  # trimmed in chunks: no copy of the list per event
    assert log.end == 10_000 and log.first_index() == 10_000 - kept
    assert log.get(log.first_index() - 1) is None  # trimmed: a reader there gets the notice
    newest = log.get(log.end - 1)
    assert newest is not None and newest.line == '{"n":9999}'


def test_a_small_retention_is_exact() -> None:
    log = EventLog("trades", 1, retention=3)
    _fill(log, 10)
    assert len(log) == 3 and log.first_index() == 7


def test_a_restored_history_longer_than_the_retention_keeps_the_newest() -> None:
    source = EventLog("trades", 1)
    _fill(source, 500)
    saved = [e for _, e in source.since(0)]
    log = EventLog("trades", 1, retention=100)
    log.restore(0, saved, source.next_legacy)
    assert len(log) == 100 and log.first_index() == 400 and log.end == 500
    oldest = log.get(400)
    assert oldest is not None and oldest.line == '{"n":400}'


def test_the_market_keeps_a_bounded_window_of_minute_bars() -> None:
    market = MarketModel(["AAPL", "MSFT"], 7, T0, history_days=1, keep_bars=1000)
    first = market.minute_bars("AAPL")[0].t
    t = T0
    for _ in range(3000):  # 3,000 trading minutes: 50 real minutes at the demo pace
        t += timedelta(minutes=1)
        market.step(60, t)
    bars = market.minute_bars("AAPL")
    assert 1000 <= len(bars) <= 1000 + 1000 // 8
    assert bars[0].t > first  # the oldest went
    assert bars[-1].t == t - timedelta(minutes=1)  # the newest stayed, in order
    assert all(a.t < b.t for a, b in itertools.pairwise(bars))
    # the absolute sequence number of the first kept bar says how many went before it
    assert market.bar_base("AAPL") + len(bars) == market.bars_made("AAPL")


def test_the_window_holds_at_least_the_history_the_market_starts_with() -> None:
    market = MarketModel(["AAPL"], 7, T0, history_days=5, keep_bars=10)
    assert len(market.minute_bars("AAPL")) >= 5 * 390


def test_the_embedded_emulator_is_bounded_by_default(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    config = embedded_config(settings, key="k", secret="s", persist=False)
    assert config.retention is not None and config.retention <= 20_000
    assert config.keep_bars == KEEP_BARS
    # `tui-trader sim` keeps the whole session unless told (API.md §9 #6)
    assert settings.sim.retention_for(embedded=False) is None
    assert (
        Settings(data_dir=tmp_path, sim={"retention": 500}).sim.retention_for(embedded=False) == 500
    )


def test_the_data_feed_sends_every_bar_once_across_the_window_s_trims() -> None:
    """The feed used to remember how many bars it had sent by list length: once the oldest
    bars go, that count would skip new ones."""
    market = MarketModel(["AAPL"], 7, T0, history_days=0, keep_bars=0)
    src = _Source(market, random.Random(1))
    src.reset(set())
    sent: list[datetime] = []
    t = T0
    for _ in range(2000):
        t += timedelta(minutes=1)
        market.step(60, t)
        sent += [m["t"] for m in src.sample({"bars": {"AAPL"}}, None, 0.0, 0.1, set())]
    assert sent == [T0 + timedelta(minutes=i) for i in range(2000)]  # each minute, once
    assert len(market.minute_bars("AAPL")) < 1000
