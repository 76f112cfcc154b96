"""Every key of the desk screen, in one table: the help (``?``) and the footer are drawn from
it, ``DeskScreen.check_action`` greys out or hides what does not apply, and a replay greys the
trading ones. The trading keys live on the screen, not the App, so no modal can let one fire
underneath it."""

from __future__ import annotations

from textual.binding import Binding, BindingType

DESK_BINDINGS: list[BindingType] = [
    # priority: the brake acts at the press, checked before the key travels through the
    # focused widget and its parents (under load each hop waited for a frame or a batch:
    # bench/ui.py, p50 77 -> 9 ms). Textual leaves keys that a focused Input consumes
    # to the Input, so typing p in the filter box still types a p
    Binding("p", "pause", "Pause", tooltip="pause / resume new exposure", priority=True),
    Binding("f", "flatten", "Flatten", tooltip="cancel all orders, close all positions"),
    Binding("o", "order", "Order", tooltip="order entry"),
    Binding("c", "cancel_all", "Cancel", tooltip="cancel every open order"),
    Binding("r", "reset", "Reset", tooltip="reset a tripped breaker"),
    # x closes the selected position while the positions pane has the focus (then the
    # fault menu is off); elsewhere it is the fault menu. The first enabled one acts
    Binding(
        "x",
        "close_position",
        "Close",
        tooltip="close the selected position (positions pane focused; confirms)",
    ),
    Binding("x", "faults", "Faults", tooltip="inject a network fault (SIM only)"),
    Binding(
        "d",
        "cancel_order",
        "Cancel order",
        tooltip="cancel the selected working order (orders view; confirms)",
    ),
    Binding(
        "e",
        "replace_order",
        "Replace",
        tooltip="replace the selected order's qty/limit/stop (orders view; risk gate)",
    ),
    Binding(
        "slash",
        "filter",
        "Filter",
        key_display="/",
        show=False,
        tooltip="filter events by symbol/type",
    ),
    Binding("z", "zoom", "Zoom", show=False, tooltip="zoom the focused pane (again: back)"),
    Binding("escape", "unfilter", "Clear filter", show=False),
    Binding("1", "view('panes')", "Desk", show=False, tooltip="the desk: every pane"),
    Binding("2", "view('watch')", "Watch", show=False, tooltip="the watchlist"),
    Binding(
        "3",
        "view('orders')",
        "Orders",
        show=False,
        tooltip="working orders and the latest fills",
    ),
    Binding("4", "view('charts')", "Charts", show=False, tooltip="charts: price, equity"),
    # in the help, not the footer (the watchlist's subtitle says them where they apply)
    Binding("plus", "watch_add", "Add", key_display="+", show=False, tooltip="watch a symbol"),
    Binding(
        "minus",
        "watch_remove",
        "Remove",
        key_display="-",
        show=False,
        tooltip="stop watching the selected symbol (watchlist)",
    ),
    Binding(
        "left_square_bracket",
        "chart_symbol(-1)",
        "Chart symbol",
        key_display="[",
        show=False,
        tooltip="charts: the previous watched symbol",
    ),
    Binding(
        "right_square_bracket",
        "chart_symbol(1)",
        "Chart symbol",
        key_display="]",
        show=False,
        tooltip="charts: the next watched symbol",
    ),
]
