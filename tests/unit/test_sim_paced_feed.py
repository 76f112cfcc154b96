"""The emulator's paced data feed (``quote_hz``, ``trade_hz``): a benchmark's quote and trade
load on the market-data websocket, with the default (one per market step) unchanged."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from tui_trader.sim.data_feed import PACED_TRADE_IDS, _Source
from tui_trader.sim.emulator import EmulatorConfig
from tui_trader.sim.market import MarketModel

START = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
WANTED = {"quotes": {"AAPL", "MSFT"}, "trades": {"AAPL", "MSFT"}}


def source() -> _Source:
    src = _Source(MarketModel(["AAPL", "MSFT", "SPY"], 7, START, history_days=0), random.Random(1))
    src.reset(set())
    return src


def kinds(msgs: list[dict[str, object]], kind: str, symbol: str) -> list[dict[str, object]]:
    return [m for m in msgs if m["T"] == kind and m["S"] == symbol]


def test_trade_hz_paces_prints_for_each_wanted_symbol_with_ids_of_their_own() -> None:
    src = source()
    msgs: list[dict[str, object]] = []
    for _ in range(10):  # ten cycles of 0.1 s: one second at 10 a second
        msgs += src.sample(WANTED, 10.0, 0.0, 0.1, set(), trade_hz=10.0)
    for symbol in ("AAPL", "MSFT"):
        trades = kinds(msgs, "t", symbol)
        assert len(trades) == 10
        assert len(kinds(msgs, "q", symbol)) == 10
        price, size, _, _ = src.market.last_trade(symbol)
        assert {(t["p"], t["s"]) for t in trades} == {(price, size)}
    assert not kinds(msgs, "t", "SPY")  # not wanted: nothing sent
    ids = [m["i"] for m in msgs if m["T"] == "t"]
    assert len(set(ids)) == len(ids) == 20
    assert min(int(str(i)) for i in ids) > PACED_TRADE_IDS


def test_a_stalled_cycle_sends_at_most_a_second_of_prints() -> None:
    msgs = source().sample(WANTED, None, 0.0, 30.0, set(), trade_hz=10.0)
    assert len(kinds(msgs, "t", "AAPL")) == 11


def test_without_trade_hz_a_trade_is_sent_only_when_the_market_booked_one() -> None:
    assert EmulatorConfig().trade_hz is None
    src = source()
    assert not [m for m in src.sample(WANTED, None, 0.0, 1.0, set()) if m["T"] == "t"]
    market = src.market
    seqs = {s: market.last_trade(s)[3] for s in ("AAPL", "MSFT")}
    market.step(600, START.replace(minute=10))
    msgs = src.sample(WANTED, None, 0.0, 1.0, set())
    for symbol in ("AAPL", "MSFT"):
        price, size, at, seq = market.last_trade(symbol)
        assert seq > seqs[symbol]
        trade = {"T": "t", "S": symbol, "i": seq, "x": "V", "p": price, "s": size}
        assert kinds(msgs, "t", symbol) == [{**trade, "c": ["@"], "z": "C", "t": at}]
