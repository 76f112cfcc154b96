"""The desk screen: five panes over one snapshot, repainted on a timer, and the trading keys.

The trading keys live here, not on the App, so no modal can let one fire underneath it.
Panes never pull from the network: the screen takes the desk's snapshot at most ``hz`` times a
second, only when the desk said something changed (or a countdown is running).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Grid
from textual.events import Key
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Input

from tui_trader.core.risk import BreakerState
from tui_trader.desk.snapshot import DeskSnapshot
from tui_trader.ui.colours import Colours
from tui_trader.ui.panes.breakers import BreakersPane
from tui_trader.ui.panes.charts import ChartsPane
from tui_trader.ui.panes.connection import ConnectionPane
from tui_trader.ui.panes.events import EventsPane
from tui_trader.ui.panes.footer import DeskFooter
from tui_trader.ui.panes.header import DeskHeader
from tui_trader.ui.panes.hint import HintLine
from tui_trader.ui.panes.orders import OrdersView, WorkingOrdersTable
from tui_trader.ui.panes.positions import PositionsPane
from tui_trader.ui.panes.selection import SelectableTable
from tui_trader.ui.panes.signals import SignalsPane
from tui_trader.ui.panes.watchlist import WatchlistPane
from tui_trader.ui.screens.choice import ChoiceScreen
from tui_trader.ui.screens.confirm import ConfirmScreen
from tui_trader.ui.screens.desk_keys import DESK_BINDINGS
from tui_trader.ui.screens.market_keys import MarketKeys
from tui_trader.ui.screens.order_entry import OrderEntryScreen, describe
from tui_trader.ui.screens.order_keys import OrderKeys

if TYPE_CHECKING:
    from tui_trader.broker.ordering import FlattenReport
    from tui_trader.core.orders import Order
    from tui_trader.ui.port import DeskPort

log = logging.getLogger("tui_trader.ui")

MAX_HZ = 20.0
"""The screen's repaint timer never ticks faster than this (the issue's cap)."""
STORM_EVENTS_PER_S = 1_000.0
"""Past this many broker events a second the desk is in a storm: it repaints at
``STORM_HZ``. Text changing ten times a second is no easier to read than five, and at
5,000 events/s each repaint's composition (and the young objects it leaves for the garbage
collector) was the longest thing a key waited behind (bench/ui.py --turns)."""
STORM_HZ = 5.0
COVERED_HZ = 1.0
"""Repaints per second while a modal (confirm, order entry, help) covers the desk. Under
the dimmed modal a repaint costs a whole-screen composition: at 10 Hz and 5,000 events/s a
key on the flatten confirm waited 50-60 ms for one (bench/ui.py), at 1 Hz it seldom does.
The desk itself acts at full speed whatever is painted; the screen catches up the moment
the modal closes."""


class DeskScreen(OrderKeys, MarketKeys, Screen[None]):
    BINDINGS = DESK_BINDINGS  # ui/screens/desk_keys.py: every key of the desk, in one table
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-medium"), (120, "-wide")]

    def __init__(self, desk: DeskPort, hz: float = 10.0, *, hint: bool = False) -> None:
        super().__init__(id="desk")
        self.hint = hint  # the first-run hint line is up (until the first key)
        self.desk = desk
        self.hz = min(max(hz, 1.0), MAX_HZ)
        self.tick_hz = min(2 * self.hz, MAX_HZ)  # two halves per repaint: see _tick
        self._dirty = True
        self._events_due = False  # the events half of a repaint is still to be drawn
        self._colours: Colours | None = None
        self.snap: DeskSnapshot | None = None
        self.frames = 0  # repaints done, for the benchmark's frame rate
        self.monotonic = time.monotonic  # the repaint clock (tests step it)
        self.last_paint: float = 0.0
        self._painted_at: float = 0.0  # the first half of the last repaint
        self._ages_at: float = 0.0
        self._keys: tuple[object, ...] | None = None  # what check_action depends on
        self._notices: frozenset[str] = frozenset()  # the desk's notices already shown
        desk.on_change(self._mark)

    def _mark(self) -> None:
        self._dirty = True

    def on_key(self, event: Key) -> None:
        self.hint_done()

    def hint_done(self) -> None:
        """The trader pressed a key: the first-run hint has done its job, for good."""
        if not self.hint:
            return
        self.hint = False
        self.query_one(HintLine).display = False
        hints = getattr(self.app, "hints", None)
        if hints is not None:
            hints.mark_seen()

    def compose(self) -> ComposeResult:
        yield DeskHeader()
        with ContentSwitcher(initial="panes", id="views"):  # the views, side by side
            with Grid(id="panes"):  # grid order: see the layouts in app.CSS
                yield EventsPane()
                yield PositionsPane()
                yield SignalsPane()
                yield ConnectionPane()
                yield BreakersPane()
            yield OrdersView()
            yield WatchlistPane()
            yield ChartsPane()
        yield Input(placeholder="filter: words matching symbol, type or stream", id="filter")
        yield HintLine(id="hint")
        yield DeskFooter()  # ctrl+p is in the help; 80 columns are few

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one(HintLine).display = self.hint
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        self.set_interval(1 / self.tick_hz, self._tick)
        self.paint()

    def on_screen_resume(self) -> None:
        if self._dirty or self._events_due:  # uncovered: what changed, at once
            self.paint()

    def _theme_changed(self, _theme: object) -> None:
        self._colours = None
        self._dirty = True
        self._keys = None  # the footer's colours too
        self.paint()

    # ---------------------------------------------------------------------- painting
    def _tick(self) -> None:
        """Repaint what changed, in two halves on consecutive ticks: first the header, the
        tables and the connection pane, then the events pane (its rows taken at the first
        half). Each half is one compositor pass of about half the screen, so a key pressed
        meanwhile waits for half a repaint at most, not a whole one (bench/ui.py). Without
        news, only the connection pane, once a second, for its ages and the retry countdown.
        Under a modal, at most ``COVERED_HZ``; in an event storm, at most ``STORM_HZ``."""
        if self.app.screen is not self and self.monotonic() - self.last_paint < 1 / COVERED_HZ:
            return
        if self._events_due:
            self._paint_events()
            return
        now = self.monotonic()
        if self._dirty:
            # half a tick's grace: the timer's ticks jitter, a repaint due now is not put off
            if self._storm() and now - self._painted_at < 1 / STORM_HZ - 0.5 / self.tick_hz:
                return
            self.paint(events=False)
            return
        if self.snap is not None and now - self._ages_at >= 1.0:
            self._ages_at = now
            snap = self.desk.snapshot()
            self.snap = snap
            if self._colours is not None:
                self.query_one(ConnectionPane).render_snapshot(snap, self._colours)

    def _storm(self) -> bool:
        """The broker's events arrive faster than :data:`STORM_EVENTS_PER_S` (as of the last
        repaint's snapshot)."""
        snap = self.snap
        if snap is None or self.hz <= STORM_HZ:
            return False
        return sum(s.events_per_sec for s in snap.connection.streams) >= STORM_EVENTS_PER_S

    def paint(self, events: bool = True) -> None:
        """One coalesced repaint from one snapshot; every pane diff-updates itself. With
        ``events=False`` the events pane is left to the next tick (``_events_due``)."""
        self._dirty = False
        snap = self.desk.snapshot()
        self.snap = snap
        fresh = self._colours is None
        if self._colours is None:
            self._colours = Colours.of(self.app)
        c = self._colours
        with self.app.batch_update():
            self.query_one(DeskHeader).render_snapshot(snap, c)
            if fresh:
                self.query_one(EventsPane).restyle(c)
            self._events_due = not events
            if events:
                self.query_one(EventsPane).render_snapshot(snap, c)
            self.query_one(ConnectionPane).render_snapshot(snap, c)
            if fresh:  # colours live in the cells: repaint them all
                for table in (PositionsPane, SignalsPane, BreakersPane):
                    self.query_one(table).forget()
            self.query_one(PositionsPane).render_snapshot(snap, c)
            self.query_one(SignalsPane).render_snapshot(snap, c)
            self.query_one(BreakersPane).render_snapshot(snap, c)
            if fresh:
                self.query_one(OrdersView).forget()
            if self._view() == "orders":  # a hidden view is painted when it is shown
                self.query_one(OrdersView).render_snapshot(snap, c)
            if self._view() == "watch":  # hidden views are not drawn: not synced either
                if fresh:
                    self.query_one(WatchlistPane).forget()
                self.query_one(WatchlistPane).render_snapshot(snap, c)
            self.query_one(ChartsPane).render_snapshot(snap, c)  # drawn only when shown
        fresh_notices = [n for n in snap.notices if n not in self._notices]
        if self.frames and fresh_notices:  # the first frame's are history, not news
            for text in fresh_notices[-3:]:
                self.notify(text, severity="warning" if "HALTED" in text else "information")
        self._notices = frozenset(snap.notices)
        self.frames += 1
        self.last_paint = self._ages_at = self._painted_at = self.monotonic()
        # the footer only when a key's availability can have changed (what check_action
        # reads): the keys are looked up and drawn again then, not on every frame
        self._show_keys()

    def _show_keys(self) -> None:
        """Draw the footer again if what check_action reads has changed."""
        snap = self.snap
        if snap is None:
            return
        keys = (
            bool(snap.faults),
            any(b.state is BreakerState.TRIPPED for b in snap.risk.breakers),
            self._view(),
            self.focused.id if self.focused is not None else None,
            self._selected_order() is not None,
            self._selected_position() is not None,
        )
        if keys != self._keys:
            self._keys = keys
            self.refresh_bindings()
            self.query_one(DeskFooter).show_keys(self)

    def _view(self) -> str | None:
        return self.query_one("#views", ContentSwitcher).current

    def _selected_order(self) -> str | None:
        """The selected working order's client id, when the orders view is shown."""
        if self._view() != "orders":
            return None
        line = self.query_one(WorkingOrdersTable).selected_order
        return line.client_order_id if line is not None else None

    def _selected_position(self) -> str | None:
        """The selected position's symbol, when the positions pane has the focus."""
        pane = self.query_one(PositionsPane)
        return pane.selected_symbol if self.focused is pane else None

    def on_selectable_table_selected(self, _event: SelectableTable.Selected) -> None:
        self._show_keys()

    def on_descendant_focus(self) -> None:
        self._show_keys()

    def on_descendant_blur(self) -> None:
        self._show_keys()

    def _paint_events(self) -> None:
        """The second half of a repaint: the events pane from the first half's snapshot."""
        self._events_due = False
        if self.snap is not None and self._colours is not None:
            self.query_one(EventsPane).render_snapshot(self.snap, self._colours)
        self.last_paint = self.monotonic()

    # ---------------------------------------------------------------------- bindings
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        snap = self.snap
        positions = self.is_mounted and self.focused is self.query_one(PositionsPane)
        if action == "close_position":  # only while the positions pane has the focus
            if not positions:
                return False
            return True if self._selected_position() is not None else None
        if action == "faults":
            return bool(snap and snap.faults) and not positions  # hidden off the emulator
        if action in ("cancel_order", "replace_order"):
            if not self.is_mounted or self._view() != "orders":
                return False  # not in the footer outside the orders view
            line = self.query_one(WorkingOrdersTable).selected_order
            if line is None or line.order_id is None:
                return None  # nothing selected, or not at the broker yet: greyed out
            if action == "replace_order" and not line.replaceable:
                return None
            return True
        if action == "watch_remove":
            return True if self._view() == "watch" else None  # the selected row's symbol
        if action == "chart_symbol":  # greyed out unless the charts are shown
            return True if self.query_one("#views", ContentSwitcher).current == "charts" else None
        if action == "reset" and snap is not None:
            tripped = any(b.state is BreakerState.TRIPPED for b in snap.risk.breakers)
            return True if tripped else None  # greyed out when nothing is tripped
        return True

    # ---------------------------------------------------------------------- actions
    def action_pause(self) -> None:
        self.hint_done()  # a priority key never reaches on_key
        snap = self.desk.snapshot()
        if snap.risk.paused:
            state = self.desk.resume()
            self.notify(f"resumed: {state}", timeout=3)
        else:
            self.desk.pause("by the trader (p)")
            self.notify("paused: only orders that reduce exposure go out", timeout=3)
        self.paint()

    @work(group="flatten", exclusive=True, exit_on_error=False)
    async def action_flatten(self) -> None:
        preview = await self.desk.preview_flatten()
        lines: list[str | Text] = ["Trading pauses, then this is sent to the broker:"]
        if preview.empty:
            lines = ["Nothing is open at the broker: flatten only pauses trading."]
        if preview.error:
            lines.append(Text(f"! {preview.error}"))
            lines.append("Flatten will still cancel all orders and close all positions.")
        if not preview.empty:
            lines += _listing("Cancel {} open orders:", preview.open_orders)
            lines += _listing("Close {} positions:", [f"{s} {q:+}" for s, q in preview.positions])
        started: list[asyncio.Future[FlattenReport]] = []

        def go() -> None:  # at the key press: the desk pauses before the modal has closed
            started.append(asyncio.ensure_future(self.desk.flatten()))

        ok = await self.app.push_screen_wait(
            ConfirmScreen("Flatten everything?", lines, "Flatten", on_confirm=go)
        )
        if not ok or not started:
            self.notify("flatten canceled: nothing was sent", timeout=3)
            return
        self.notify("flattening…", timeout=3)
        report = await started[0]
        self.notify(report.summary(), severity="information" if report.flat else "error")
        self.paint()

    @work(group="order", exclusive=True, exit_on_error=False)
    async def action_order(self) -> None:
        snap = self.desk.snapshot()
        order: Order | None = await self.app.push_screen_wait(
            OrderEntryScreen(self.desk.check, dict(snap.prices))
        )
        if order is None:
            return
        ok = await self.app.push_screen_wait(
            ConfirmScreen("Send this order?", [describe(order)], "Send", danger=False)
        )
        if not ok:
            self.notify("order not sent", timeout=3)
            return
        verdict = await self.desk.submit(order)
        if verdict.allowed:
            self.notify(f"sent: {describe(order)}", timeout=4)
        else:
            self.notify(f"denied: {verdict}", severity="error")
        self.paint()

    @work(group="cancel", exclusive=True, exit_on_error=False)
    async def action_cancel_all(self) -> None:
        preview = await self.desk.preview_flatten()
        lines: list[str | Text] = [*_listing("Cancel {} open orders:", preview.open_orders)]
        lines.append("Positions stay open.")
        if preview.error:
            lines.insert(0, Text(f"! {preview.error}"))
        ok = await self.app.push_screen_wait(
            ConfirmScreen("Cancel all open orders?", lines, "Cancel all")
        )
        if ok:
            self.notify(await self.desk.cancel_all(), timeout=4)
        self.paint()

    @work(group="reset", exclusive=True, exit_on_error=False)
    async def action_reset(self) -> None:
        snap = self.desk.snapshot()
        tripped = [b for b in snap.risk.breakers if b.state is BreakerState.TRIPPED]
        if not tripped:
            self.notify("no breaker is tripped", timeout=3)
            return
        name: str | None = str(tripped[0].name)
        if len(tripped) > 1:
            name = await self.app.push_screen_wait(
                ChoiceScreen(
                    "Reset which breaker?",
                    [(str(b.name), f"{b.name}: {b.reason or ''}") for b in tripped],
                )
            )
            if name is None:
                return
        breaker = next((b for b in tripped if str(b.name) == name), None)
        if breaker is None or name is None:
            return
        ok = await self.app.push_screen_wait(
            ConfirmScreen(
                f"Reset {name}?",
                [
                    f"Tripped: {breaker.reason or '-'}",
                    "It trips again at once if the cause is still there.",
                ],
                "Reset",
            )
        )
        if ok:
            verdict = self.desk.reset_breaker(name)
            self.notify(
                f"reset {name}: {verdict}", severity="information" if verdict.allowed else "error"
            )
        self.paint()

    @work(group="faults", exclusive=True, exit_on_error=False)
    async def action_faults(self) -> None:
        from tui_trader.broker.faults import FAULT_MENU

        snap = self.desk.snapshot()
        menu = [(c.key, f"{c.key:<9} {c.label}") for c in FAULT_MENU if c.key in snap.faults]
        if not menu:
            self.notify("the fault menu works only on the embedded emulator", timeout=3)
            return
        key = await self.app.push_screen_wait(ChoiceScreen("Inject a fault (SIM)", menu))
        if key is None:
            return
        try:
            label = await self.desk.inject_fault(key)
        except Exception as exc:  # shown, not fatal: the desk keeps running
            self.notify(f"fault not injected: {exc}", severity="error")
            return
        self.notify(f"injected: {label}", timeout=4)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = self.query_one(EventsPane).filter_text
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            event.stop()
            self.query_one(EventsPane).set_filter(event.value)
            event.input.display = False
            self.query_one(EventsPane).focus()

    def action_unfilter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display:
            box.display = False
            self.query_one(EventsPane).focus()
        elif self.maximized is not None:
            self.minimize()
        elif self.query_one(EventsPane).filter_text:
            self.query_one(EventsPane).set_filter("")

    def action_view(self, name: str) -> None:
        """Show one view of the screen (the keys 1, 2, ...): each gives its panes the room."""
        switcher = self.query_one("#views", ContentSwitcher)
        if switcher.current != name:
            switcher.current = name
            self._dirty = True
            if name == "orders":  # its keys act on the selected order: the cursor shows
                self.query_one(WorkingOrdersTable).focus()
                self.paint(events=False)
            if name == "watch":
                self.query_one(WatchlistPane).focus()
            self._keys = None  # the footer again: what applies depends on the view
            self._show_keys()

    def action_zoom(self) -> None:
        if self.maximized is not None:
            self.minimize()
        elif self.focused is not None:
            self.maximize(self.focused)


def _listing(title: str, items: Sequence[str], most: int = 12) -> list[str]:
    """A titled list for a confirm dialog, at most ``most`` lines of items."""
    lines = [title.format(len(items)), *(f"  {item}" for item in items[:most])]
    if len(items) > most:
        lines.append(f"  … and {len(items) - most} more")
    return lines
