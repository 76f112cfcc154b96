"""The watchlist: every watched symbol's market at a glance (bid, ask, last, the day's change
and volume, a sparkline of recent closes, the age of its last quote), one keyed row per
symbol that repaints only the cells a tick changed.

A quote older than the STALE_DATA breaker's limit is marked stale (its age reads ``!`` and
the row greys): the same rule, the same limit, as the gate that would deny the symbol's order.
"""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.binding import Binding

from tui_trader.core.risk import BreakerName
from tui_trader.desk.snapshot import DeskSnapshot, WatchLine
from tui_trader.ui import format as fmt
from tui_trader.ui.colours import Colours
from tui_trader.ui.panes.table import Cell, Column, KeyedTable
from tui_trader.ui.panes.titles import retitle

COLUMNS = (
    Column("symbol", "Symbol", 6),
    Column("bid", "Bid", 9),
    Column("ask", "Ask", 9),
    Column("last", "Last", 9),
    Column("chg", "Chg", 8),
    Column("pct", "Chg%", 7),
    Column("volume", "Volume", 10, essential=False),
    Column("trend", "Trend", 20, essential=False),
    Column("age", "Age", 7),
)
SPARK = 20


def volume(value: int | None) -> str:
    """A day's volume, short: 812, 45.3K, 12.6M."""
    if value is None:
        return "-"
    if value < 10_000:
        return f"{value:,}"
    if value < 1_000_000:
        return f"{value / 1000:.1f}K"
    return f"{value / 1_000_000:.2f}M"


def stale_limit(snap: DeskSnapshot) -> float | None:
    """The STALE_DATA breaker's limit in seconds (None if the board has no such breaker)."""
    for b in snap.risk.breakers:
        if b.name is BreakerName.STALE_DATA:
            return float(b.limit)
    return None


class WatchlistPane(KeyedTable):
    DEFAULT_CSS = """
    WatchlistPane {
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $primary;
        border-title-style: bold;
        border-subtitle-color: $foreground-muted;
        &:focus { border: round $primary; }
    }
    """

    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(COLUMNS, id="watch")  # the view's id in #views
        self.border_title = "Watchlist"
        self.cursor = 0  # the selected row (what - removes)
        self._last: tuple[DeskSnapshot, Colours] | None = None

    @property
    def selected(self) -> str | None:
        """The symbol of the row under the cursor (the first row until one is chosen)."""
        keys = self._keys
        if not keys:
            return None
        return keys[min(self.cursor, len(keys) - 1)]

    def action_move(self, step: int) -> None:
        """Select the row above or below, at once (not at the next repaint)."""
        if self._keys:
            self.cursor = max(0, min(len(self._keys) - 1, self.cursor + step))
            if self._last is not None:
                self.render_snapshot(*self._last)
            top, height = self.scroll_offset.y, max(1, self.size.height - 1)
            if self.cursor < top:
                self.scroll_to(y=self.cursor, animate=False)
            elif self.cursor >= top + height:
                self.scroll_to(y=self.cursor - height + 1, animate=False)

    def render_snapshot(self, snap: DeskSnapshot, c: Colours) -> None:
        self._last = (snap, c)
        limit = stale_limit(snap)
        rows: dict[str, list[Cell]] = {}
        stale_n = 0
        for symbol in snap.symbols:
            line = snap.watch.get(symbol, WatchLine())
            mark = snap.prices.get(symbol)
            last = line.last if line.last is not None else mark
            prev = snap.prev_close.get(symbol)
            change = last - prev if last is not None and prev else None
            pct = change / prev * 100 if change is not None and prev else None
            age = snap.quote_ages.get(symbol)
            stale = age is None or (limit is not None and age > limit)
            stale_n += stale
            name = Text(symbol, style="bold")
            age_text = Text(fmt.seconds(age))
            if stale:
                name.stylize(c.stale)
                age_text = Text(("! " + fmt.seconds(age)) if age is not None else "none", c.stale)
            rows[symbol] = [
                name,
                Text(fmt.price(line.bid)),
                Text(fmt.price(line.ask)),
                Text(fmt.price(last)),
                c.signed(_signed_price(change), change),
                c.signed(fmt.pct(pct), pct),
                Text(volume(line.volume)),
                Text(fmt.sparkline(snap.history.get(symbol, ()), SPARK), style=c.accent),
                age_text,
            ]
        if rows:
            self.cursor = min(self.cursor, len(rows) - 1)
            key = list(rows)[self.cursor]
            rows[key] = [_selected(cell) for cell in rows[key]]
        self.sync(rows)
        quiet = f" · {stale_n} stale" if stale_n else ""
        retitle(
            self,
            subtitle=f"{len(rows)} watched{quiet} · + add · - remove · ↑↓ select",
        )


def _signed_price(value: Decimal | None) -> str:
    if value is None:
        return "-"
    return fmt.number(float(value), 2)


def _selected(cell: Text) -> Text:
    out = cell.copy()
    out.stylize("reverse")
    return out
