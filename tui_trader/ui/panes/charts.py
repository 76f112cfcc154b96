"""The charts view: the selected symbol's minute closes with the account's buys and sells
marked on them, and the day's equity with its drawdown, drawn by plotext (textual-plotext).

A close line, not candles: a session is 390 minute bars and the plot ~130 columns wide, so a
candle per bar cannot be drawn (a readable candle needs a column or more of its own: the
plot would show the last half hour); braille dots give the line two points per column and
four per row, the whole day at a glance, with the fills on it. The bars stay in the snapshot
for a candle view of the last minutes, should one be wanted.

X is the bar's position, not its time: the overnight and weekend gaps take no room, and a
fill sits on the bar of its minute. Ticks say the minute (UTC, as the broker stamps it).

Cheap: a plot is built again only when its data changed (the recorder's versions) and the
view is shown, at most ``MAX_HZ`` times a second; a change inside that interval is drawn
when it ends. Building one plot costs 10-20 ms at 140x42 (bench/charts.py: plotext's build,
rich's ``Text.from_ansi``, the lines Textual draws), too long a stop for the event loop while
a trader's key waits (bench/ui.py, the charts view under load), so a live update builds the
plot and its lines in a thread and the plot shows them when done; what answers a key or a
resize (the first draw, ``[``/``]``, a new size) is built at once, as before.
"""

from __future__ import annotations

import asyncio
import io
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from rich.console import Console
from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal, Vertical
from textual.strip import Strip
from textual.timer import Timer
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from tui_trader.desk.charts import ChartSeries, EquityCurve
from tui_trader.desk.snapshot import DeskSnapshot
from tui_trader.ui import format as fmt
from tui_trader.ui.colours import Colours
from tui_trader.ui.panes.titles import retitle

MAX_HZ = 2.0
"""Redraws of the charts per second at most; the data changes once a minute per bar and
about once a second for the equity, so this only bounds a burst (fills, a backfill)."""
TICKS = 6
"""Time labels on an x axis at most."""

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Marker:
    x: float
    price: float
    qty: Decimal


@dataclass(frozen=True)
class PriceView:
    """What the price plot shows: tests read this, not pixels."""

    symbol: str
    closes: tuple[float, ...]
    buys: tuple[Marker, ...]
    sells: tuple[Marker, ...]
    times: tuple[datetime, ...]  # each close's minute: the x axis's labels


@dataclass(frozen=True)
class EquityView:
    equity: tuple[float, ...]
    drawdown: tuple[float, ...]
    day_start: float | None
    times: tuple[datetime, ...]


def time_ticks(times: Sequence[datetime], most: int = TICKS) -> tuple[tuple[int, str], ...]:
    """Up to ``most`` evenly spaced positions, each labelled with its minute."""
    n = len(times)
    if n == 0:
        return ()
    step = max(1, -(-(n - 1) // max(most - 1, 1)))
    return tuple((i, times[i].strftime("%H:%M")) for i in range(0, n, step))


def price_view(symbol: str, series: ChartSeries | None) -> PriceView:
    """The closes, and each fill at the position of the bar of its minute (after the last
    bar: the minute still forming, one to the right)."""
    bars = series.bars if series is not None else ()
    times = [b.at for b in bars]
    buys: list[Marker] = []
    sells: list[Marker] = []
    for f in series.fills if series is not None else ():
        i = bisect_right(times, f.at) - 1
        if i < 0:
            continue  # before the first bar shown: off the chart
        if times and f.at >= times[-1] + timedelta(minutes=1):
            i = len(times)
        (buys if f.side == "buy" else sells).append(Marker(float(i), float(f.price), f.qty))
    return PriceView(symbol, tuple(b.close for b in bars), tuple(buys), tuple(sells), tuple(times))


def equity_view(curve: EquityCurve, day_start: Decimal | None) -> EquityView:
    points = curve.points
    return EquityView(
        tuple(float(p.equity) for p in points),
        tuple(float(p.drawdown) for p in points),
        None if day_start is None else float(day_start),
        tuple(p.at for p in points),
    )


@dataclass(frozen=True)
class Built:
    """A figure drawn for one size and style: its text (for tests) and its lines."""

    size: tuple[int, int]
    version: int
    base: RichStyle  # the widget's colours under the plot's own
    text: Text
    lines: tuple[Strip, ...]


class ChartPlot(PlotextPlot):
    """A plot whose x axis is labelled with the minute of its points, as many labels as its
    width holds: plotext drops labels that collide, and which it drops changes between runs
    (it walks a set of strings, whose order is the process's hash seed).

    Each draw starts from a new plotext figure (:meth:`new_plot`), so a figure being built in
    a thread (:meth:`publish`) is never changed under it; the loop keeps the latest built
    figure and shows it until a newer one is done.

    The figure is served line by line (Textual's line API, :meth:`render_line`) from strips
    made with it, in the thread: through ``render`` Textual turned the plot's text into
    strips on the loop, ~8 ms a plot, twice an update (the title's repaint, then the new
    figure's), which was most of a redraw's cost to the loop (bench/charts.py). The border
    title changes with the figure it describes, in one repaint."""

    background = True
    """Live updates are built in a thread (bench/ui.py turns it off to compare)."""

    def __init__(self, id: str) -> None:
        super().__init__(id=id)
        self.times: Sequence[datetime] = ()
        self._version = 0  # of the figure's data: bumped by new_plot
        self._titles: tuple[Text | None, Text | None] = (None, None)  # the newest figure's
        self._built: Built | None = None
        self._building = False
        self.threaded = 0  # figures built in a thread and shown, for tests and the benchmark

    def new_plot(self) -> Plot:
        """A fresh figure for the next draw (the one a thread may be building is left be)."""
        self._plot = Plot()
        self._version += 1
        return self._plot

    def publish(self, live: bool, title: Text | None = None, subtitle: str | None = None) -> None:
        """Show the new figure and its titles: built in a thread when ``live`` (a data
        update) and a plot of this size is already shown, else at the next render, on the
        loop."""
        self._titles = (title, None if subtitle is None else Text(subtitle))
        built = self._built
        if not (live and self.background and built is not None and built.size == self._plot_size()):
            retitle(self, *self._titles)
            self.refresh()
            return
        if not self._building:
            self._building = True
            asyncio.get_running_loop().create_task(self._build_in_thread())

    def _plot_size(self) -> tuple[int, int]:
        return (self.size.width, self.size.height)

    async def _build_in_thread(self) -> None:
        try:
            while True:  # until what is shown is the latest figure, at the shown size
                size, version, titles = self._plot_size(), self._version, self._titles
                plot, theme, times = self._plot, self._theme_name(), self.times
                base = self.visual_style.rich_style
                built = await asyncio.to_thread(_build, plot, size, theme, times, base, version)
                now = (self._plot_size(), self.visual_style.rich_style)
                if self._version == version and now == (size, base):
                    self._built = built
                    self.threaded += 1
                    retitle(self, *titles)
                    self.refresh()
                    return
                if now != (size, base):
                    # resized or restyled meanwhile: built at once, on the loop, at the next
                    # render (once this thread is done with the figure)
                    retitle(self, *self._titles)
                    self.refresh()
                    return
        finally:
            self._building = False

    def _theme_name(self) -> str:
        return self._get_plotext_theme_name(self.app.theme)

    def _current(self) -> Built:
        """What is shown: the figure built for this size and style, else built now. While a
        thread builds the newer figure, the last one, whatever its size (the thread's figure
        must not be touched here, and the thread builds again if the size changed)."""
        built = self._built
        if built is not None and self._building:
            return built
        size, base = self._plot_size(), self.visual_style.rich_style
        if built is None or (built.version, built.size, built.base) != (self._version, size, base):
            built = _build(self._plot, size, self._theme_name(), self.times, base, self._version)
            self._built = built
        return built

    def render_line(self, y: int) -> Strip:
        lines = self._current().lines
        if y < len(lines):
            return lines[y]
        return Strip.blank(self.size.width, self.visual_style.rich_style)

    def render(self) -> RenderResult:
        """The figure as text (tests read it; the screen draws :meth:`render_line`)."""
        return self._current().text


_CONSOLE = Console(file=io.StringIO(), color_system="truecolor", force_terminal=True)
"""Renders a figure's lines to segments (only styles and text: no output, no state)."""


def _build(
    plot: Plot,
    size: tuple[int, int],
    theme: str,
    times: Sequence[datetime],
    base: RichStyle,
    version: int,
) -> Built:
    """What ``PlotextPlot.render`` does, with the time labels, and the lines as Textual
    draws them: safe in a thread as long as nothing else touches ``plot`` meanwhile."""
    width, height = size
    plot.plotsize(width, height)
    plot._set_size(width, height)  # as PlotextPlot.render: textual-plotext issue 5
    plot.theme(theme)
    room = max(2, (width - 10) // 9 + 1)  # a label is 5 wide; 4 between two
    ticks = time_ticks(times, min(room, TICKS))
    if ticks:
        plot.xticks([i for i, _ in ticks], [label for _, label in ticks])
    text = Text.from_ansi(plot.build())
    rows = text.split("\n", allow_blank=True)[:height] if height > 0 else []
    lines = tuple(
        Strip(Segment.apply_style(row.render(_CONSOLE), base)).adjust_cell_length(width, base)
        for row in rows
    )
    return Built(size, version, base, text, lines)


def thin(
    values: Sequence[float], most: int, pick: Callable[[Sequence[float]], float] = max
) -> tuple[list[int], list[float]]:
    """At most ``most`` points of ``values`` (x: their index), one per equal run, the run's
    ``pick`` (the drawdown keeps each run's worst): a plot has two braille dots a column, so
    more points cost plotext time (it is linear in them) and show nothing more."""
    n = len(values)
    if most <= 0 or n <= most:
        return list(range(n)), list(values)
    xs, ys = [], []
    for k in range(most):
        lo, hi = k * n // most, (k + 1) * n // most
        run = values[lo:hi]
        y = pick(run)
        xs.append(lo + run.index(y))
        ys.append(y)
    return xs, ys


def _last(run: Sequence[float]) -> float:
    return run[-1]


def _room(widget: ChartPlot) -> int:
    """Braille dots across the plot's canvas (0 before the first layout: no thinning)."""
    return 2 * max(widget.size.width - 10, 0)


def _rgb(hex6: str, fallback: RGB) -> RGB:
    try:
        return (int(hex6[1:3], 16), int(hex6[3:5], 16), int(hex6[5:7], 16))
    except ValueError:
        return fallback


class ChartsPane(Vertical):
    """The view ``charts``: the price across the top; the equity and its drawdown below."""

    DEFAULT_CSS = """
    ChartsPane { height: 1fr; }
    ChartsPane PlotextPlot { border: round $panel-lighten-2; border-title-color: $primary;
        border-title-style: bold; border-subtitle-color: $foreground-muted; }
    ChartsPane #price-chart { height: 1fr; }
    ChartsPane #account-charts { height: 1fr; }
    ChartsPane #equity-chart { width: 2fr; }
    ChartsPane #drawdown-chart { width: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__(id="charts")
        self.symbol: str | None = None  # the symbol shown; None: the first watched
        self.price: PriceView | None = None  # what the plots show now
        self.equity: EquityView | None = None
        self.draws = 0  # plots built, for tests and the benchmark
        self.monotonic = time.monotonic
        self._snap: DeskSnapshot | None = None
        self._colours: Colours | None = None
        self._price_key: object = None
        self._equity_key: object = None
        self._drawn_at = float("-inf")
        self._timer: Timer | None = None
        self._hidden = True  # not drawn since last shown: the next draw answers the key 4
        self._deferred = False

    def compose(self) -> ComposeResult:
        yield ChartPlot("price-chart")
        with Horizontal(id="account-charts"):  # the price gets the width; the day fits beside
            yield ChartPlot("equity-chart")
            yield ChartPlot("drawdown-chart")

    # ------------------------------------------------------------------ the screen's calls
    def render_snapshot(self, snap: DeskSnapshot, c: Colours) -> None:
        """Take the snapshot; draw what changed if the view is shown and the last redraw
        is old enough, else when it is (hidden: when the view is shown again)."""
        self._snap, self._colours = snap, c
        if not self.display:
            self._hidden = True
            return
        wait = self._drawn_at + 1 / MAX_HZ - self.monotonic()
        if wait > 0:
            if self._timer is None:
                self._timer = self.set_timer(wait, self._later)
            return
        self.draw()

    def on_resize(self) -> None:
        """Laid out again (the first layout, a terminal resize): the plots' widths changed,
        so their thinning did; drawn again once the children have their new sizes."""
        if self.display:
            self.call_after_refresh(self.draw)

    def cycle(self, step: int) -> None:
        """Show the next (``step`` 1) or previous (-1) watched symbol, at once."""
        if self._snap is None or not self._snap.symbols:
            return
        symbols = self._snap.symbols
        current = self._shown_symbol(symbols)
        self.symbol = symbols[(symbols.index(current) + step) % len(symbols)]
        self.draw(live=False)

    def _later(self) -> None:
        self._timer = None
        if self.display:
            self.draw()

    def _shown_symbol(self, symbols: Sequence[str]) -> str:
        if self.symbol is not None and self.symbol in symbols:
            return self.symbol
        return symbols[0] if symbols else ""

    # ------------------------------------------------------------------------ drawing
    def draw(self, live: bool | None = None) -> None:
        """Build again each plot whose data (or the theme's colours) changed: in a thread
        when ``live`` (a data update; by default unless the view was just shown), at once
        when it answers a key."""
        snap, c = self._snap, self._colours
        if snap is None or c is None:
            return
        if not self.size.area and not self._deferred:
            # shown but not laid out yet: the plots' width (what the points are thinned to)
            # is not known; once, after the layout (a frame that depended on when the layout
            # came drew the whole series unthinned)
            self._deferred = True
            self.call_after_refresh(self._later)
            return
        self._deferred = False
        live = not self._hidden if live is None else live
        self._hidden = False
        self._drawn_at = self.monotonic()
        symbol = self._shown_symbol(snap.symbols)
        charts = snap.charts
        series = charts.series.get(symbol)
        # the plots' widths too: a plot thins its points to its width, so one drawn before
        # the first layout (width 0: every point) is drawn again once laid out
        price_room = _room(self.query_one("#price-chart", ChartPlot))
        price_key = (symbol, charts.day, series.version if series else None, c, price_room)
        if price_key != self._price_key:
            self._price_key = price_key
            self.price = price_view(symbol, series)
            self._draw_price(self.price, series, c, live)
        day_start = snap.book.day_start_equity if snap.book.account_known else None
        rooms = tuple(
            _room(self.query_one(f"#{n}", ChartPlot)) for n in ("equity-chart", "drawdown-chart")
        )
        equity_key = (charts.day, charts.equity.version, day_start, c, rooms)
        if equity_key != self._equity_key:
            self._equity_key = equity_key
            self.equity = equity_view(charts.equity, day_start)
            self._draw_equity(self.equity, charts.equity, c, live)

    def _draw_price(
        self, view: PriceView, series: ChartSeries | None, c: Colours, live: bool
    ) -> None:
        widget = self.query_one("#price-chart", ChartPlot)
        plt = widget.new_plot()
        if view.closes:
            plt.plot(
                *thin(view.closes, _room(widget), _last),
                marker="braille",
                color=_rgb(c.primary, (80, 160, 255)),
            )
        for markers, glyph, colour in (
            (view.buys, "▲", _rgb(c.profit, (0, 200, 0))),
            (view.sells, "▼", _rgb(c.loss, (220, 0, 0))),
        ):
            if markers:
                plt.scatter(
                    [m.x for m in markers], [m.price for m in markers], marker=glyph, color=colour
                )
        widget.times = view.times
        self.draws += 1
        title = Text.assemble(
            (f"{view.symbol or '-'}", "bold"),
            f" · minute closes · last {fmt.price(view.closes[-1])}" if view.closes else "",
            " · ",
            ("▲", c.profit),
            f" {_count(len(view.buys), 'buy')} ",
            ("▼", c.loss),
            f" {_count(len(view.sells), 'sell')}",
        )
        if not view.closes:
            title.append(" · waiting for the first minute bar")
        widget.publish(live, title, "[ ] symbol")

    def _draw_equity(self, view: EquityView, curve: EquityCurve, c: Colours, live: bool) -> None:
        up = self.query_one("#equity-chart", ChartPlot)
        down = self.query_one("#drawdown-chart", ChartPlot)
        for widget in (up, down):
            widget.new_plot()
        if view.equity:
            last = view.equity[-1]
            rising = view.day_start is None or last >= view.day_start
            colour = _rgb(c.profit if rising else c.loss, (80, 160, 255))
            up.plt.plot(*thin(view.equity, _room(up), _last), marker="braille", color=colour)
            if view.day_start is not None:
                up.plt.hline(view.day_start, _rgb(c.muted, (128, 128, 128)))
            under = thin(view.drawdown, _room(down), min)
            down.plt.plot(*under, fillx=True, color=_rgb(c.loss, (220, 0, 0)))
        self.draws += 1
        title = Text.assemble(("Equity", "bold"))
        if view.equity:
            title.append(f" {fmt.money(view.equity[-1])}")
            if view.day_start is not None:
                day = view.equity[-1] - view.day_start
                title.append(" · day ")
                title.append_text(c.signed(fmt.money(day, signed=True), day))
                title.append(f" from {fmt.money(view.day_start)}")
        else:
            title.append(" · waiting for the account and the first bar")
        worst = float(curve.max_drawdown)
        dd = Text.assemble(("Drawdown", "bold"), " · max ")
        dd.append_text(c.signed(fmt.money(worst, signed=True), worst))
        if view.equity:  # the fall from the high-water mark it fell from
            i = view.drawdown.index(min(view.drawdown))
            peak = view.equity[i] - view.drawdown[i]
            dd.append(f" ({fmt.pct(100 * worst / peak) if peak else '-'})")
        for widget, text, subtitle in (
            (up, title, "a sample a minute"),
            (down, dd, "from the day's high"),
        ):
            widget.times = view.times
            widget.publish(live, text, subtitle)


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")
