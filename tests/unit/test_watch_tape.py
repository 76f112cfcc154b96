"""The desk's quote state for the watchlist (desk/live.py ``Tape``): the sides of the last
quote, the last trade, and a day's volume that the minute bars make exact, a correction
replaces and a new day restarts; and the watchlist's symbol rules (desk/watchlist.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tui_trader.broker.journal import Journal
from tui_trader.core.models import Bar, Quote, Trade
from tui_trader.desk.live import Tape
from tui_trader.desk.snapshot import WatchLine
from tui_trader.desk.watchlist import WATCHLIST_KEY, WatchError, normalise, remembered

T0 = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


def bar(at: datetime, close: str, volume: int) -> Bar:
    c = Decimal(close)
    return Bar.model_validate({"t": at, "o": c, "h": c, "l": c, "c": c, "v": volume})


def quote(bid: str, ask: str) -> Quote:
    return Quote.model_validate({"t": T0, "bp": Decimal(bid), "ap": Decimal(ask)})


def trade(price: str, size: int) -> Trade:
    return Trade.model_validate({"t": T0, "p": Decimal(price), "s": size})


def test_nothing_seen_is_all_unknown() -> None:
    assert Tape().line() == WatchLine(None, None, None, None)


def test_quote_and_trade_set_the_sides_and_the_last() -> None:
    tape = Tape()
    tape.quote(quote("100.01", "100.03"))
    tape.trade(trade("100.02", 300))
    line = tape.line()
    assert (line.bid, line.ask, line.last) == (
        Decimal("100.01"),
        Decimal("100.03"),
        Decimal("100.02"),
    )


def test_day_volume_is_the_bars_plus_the_prints_since_the_last_bar() -> None:
    tape = Tape()
    tape.bar(bar(T0, "100", 1_000))
    tape.bar(bar(T0 + timedelta(minutes=1), "101", 2_000))
    assert tape.line().volume == 3_000
    tape.trade(trade("101.5", 200))
    tape.trade(trade("101.6", 100))
    assert tape.line().volume == 3_300
    # the next bar counts those prints in its own volume: they are not counted twice
    tape.bar(bar(T0 + timedelta(minutes=2), "101.6", 500))
    assert tape.line().volume == 3_500


def test_a_correction_replaces_the_latest_bars_volume() -> None:
    tape = Tape()
    tape.bar(bar(T0, "100", 1_000))
    tape.bar(bar(T0 + timedelta(minutes=1), "101", 2_000))
    tape.corrected(bar(T0 + timedelta(minutes=1), "101", 2_400))
    assert tape.line().volume == 3_400


def test_a_new_day_starts_the_volume_again() -> None:
    tape = Tape()
    tape.bar(bar(T0, "100", 1_000))
    tape.bar(bar(T0 + timedelta(days=1), "99", 700))
    assert tape.line().volume == 700


def test_a_bar_gives_a_last_price_before_any_trade() -> None:
    tape = Tape()
    tape.bar(bar(T0, "100.5", 10))
    assert tape.line().last == Decimal("100.5")


@pytest.mark.parametrize("text", ["aapl", " AAPL ", "BRK.B", "brk/b"])
def test_well_formed_symbols_are_upper_cased(text: str) -> None:
    assert normalise(text) == text.strip().upper()


@pytest.mark.parametrize("text", ["", "  ", "1ABC", "TOO LONG", "ABCDEFGH", "AA$", "-"])
def test_malformed_symbols_say_why(text: str) -> None:
    with pytest.raises(WatchError) as err:
        normalise(text)
    assert "symbol" in str(err.value)


def test_the_journal_remembers_the_watchlist_else_the_default(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j.sqlite3")
    try:
        assert remembered(journal, ("AAPL", "MSFT")) == ("AAPL", "MSFT")
        journal.set_setting(WATCHLIST_KEY, ["MSFT", "AMZN"])
        assert remembered(journal, ("AAPL", "MSFT")) == ("MSFT", "AMZN")
        journal.set_setting(WATCHLIST_KEY, "garbage")
        assert remembered(journal, ("AAPL",)) == ("AAPL",)
    finally:
        journal.close()
