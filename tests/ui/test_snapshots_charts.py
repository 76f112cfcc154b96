"""How the charts view looks, frozen: a session of seeded minute bars with the account's buys
and sells on them, and a seeded day of equity with its drawdown; fixed size, no animation.
Each SVG was rendered to PNG (scripts/snapshot_png.py: rsvg-convert, a cell per character)
and looked at before it was accepted; the plots are plain text built from the data alone,
so two runs draw the same picture (checked: the test compares)."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.ui.frozen import NOW, FrozenDesk, seeded_closes
from tui_trader.config import load_settings
from tui_trader.core.models import Bar
from tui_trader.desk.charts import ChartData, ChartRecorder
from tui_trader.desk.snapshot import DeskSnapshot
from tui_trader.ui.app import TraderApp, build_app
from tui_trader.ui.themes import ThemeMemory

SESSION = 390  # minute bars in the chart: one US session
Snap = Callable[..., bool]


def seeded_charts(symbols: tuple[str, ...], day_start: Decimal, end: Decimal) -> ChartData:
    """A session of bars per symbol from the emulator's seeded market model, a round trip
    or two per symbol, and an equity curve from ``day_start`` that rises, gives some back
    and recovers to ``end`` (the header's equity)."""
    closes = seeded_closes()
    rec = ChartRecorder(symbols)
    start = NOW - timedelta(minutes=SESSION)
    rng = random.Random(11)
    walk = [0.0]
    for i in range(1, SESSION):
        drift = 6.0 if i < 150 else (-9.0 if i < 260 else 7.0)
        walk.append(walk[-1] + drift + rng.gauss(0, 25))
    tilt = (float(end - day_start) - walk[-1]) / (SESSION - 1)
    for i in range(SESSION):
        at = start + timedelta(minutes=i)
        for symbol in symbols:
            c = closes[symbol][-SESSION + i]
            o = closes[symbol][-SESSION + i - 1]
            wire = {"t": at.isoformat(), "o": o, "h": max(o, c), "l": min(o, c), "c": c}
            rec.bar(symbol, Bar.model_validate(wire))
        for n, (symbol, side, minute) in enumerate(
            [
                ("AAPL", "buy", 40),
                ("AAPL", "sell", 130),
                ("AAPL", "buy", 210),
                ("AAPL", "sell", 300),
                ("AAPL", "buy", 350),
                ("MSFT", "sell", 90),
                ("MSFT", "buy", 250),
            ]
        ):
            if minute == i:
                price = Decimal(str(round(closes[symbol][-SESSION + i], 2)))
                rec.fill(f"x{n}", symbol, side, Decimal(10), price, at + timedelta(seconds=30))
        equity = float(day_start) + walk[i] + tilt * i
        rec.sample_equity(Decimal(str(round(equity, 2))), day_start)
    return rec.data()


class ChartingDesk(FrozenDesk):
    """The frozen desk with a day of charts."""

    def __init__(self) -> None:
        super().__init__()
        book = self.portfolio.snapshot()
        self.charts = seeded_charts(tuple(self.prices), book.day_start_equity, book.equity)

    def snapshot(self) -> DeskSnapshot:
        return replace(super().snapshot(), charts=self.charts)


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], TraderApp]:
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "APCA_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TUI_TRADER_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")

    def make() -> TraderApp:
        memory = ThemeMemory(tmp_path / "theme.json")
        memory.set("desk-dark")
        app = build_app(
            load_settings(),
            ChartingDesk(),
            user_themes=tmp_path / "no-user-themes",
            memory=memory,
            start_desk=False,
        )
        app.animation_level = "none"
        return app

    return make


def show_charts(*keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press("4", *keys)
        await pilot.pause()
        await pilot.pause()

    return run


def test_charts_140x42(snap_compare: Snap, make_app: Callable[[], TraderApp]) -> None:
    assert snap_compare(make_app(), terminal_size=(140, 42), run_before=show_charts())


def test_charts_next_symbol_80x24(snap_compare: Snap, make_app: Callable[[], TraderApp]) -> None:
    """``]`` shows the next watched symbol (MSFT: a sell, then a buy); 80x24 still reads."""
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=show_charts("]"))


def test_the_seeded_day_is_the_same_every_time() -> None:
    a = seeded_charts(("AAPL", "MSFT"), Decimal(100_000), Decimal(100_500))
    b = seeded_charts(("AAPL", "MSFT"), Decimal(100_000), Decimal(100_500))
    assert a.series["AAPL"].bars == b.series["AAPL"].bars
    assert a.equity.points == b.equity.points
    assert len(a.series["AAPL"].fills) == 5
    assert a.equity.points[-1].equity == Decimal(100_500)
