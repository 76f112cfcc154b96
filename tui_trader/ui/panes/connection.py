"""The connection's true state: what the supervisor reports, with a live countdown to the next
retry and the recent backoff delays, so a trader can tell a blip from an outage."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui_trader.broker.data_status import DataState
from tui_trader.broker.status import State, StreamStatus, severity
from tui_trader.desk.snapshot import DeskSnapshot
from tui_trader.ui import format as fmt
from tui_trader.ui.colours import Colours
from tui_trader.ui.panes.titles import retitle

_TRANSPORT = {"websocket": "ws", "sse": "sse"}


def _transports(streams: tuple[StreamStatus, ...]) -> str:
    """How the streams travel: ``ws`` (the trading websocket) or ``sse``, once when they
    all share one, else per stream (``trades ws, nta sse``)."""
    names = [_TRANSPORT.get(s.transport, s.transport) for s in streams]
    if len(set(names)) <= 1:
        return names[0] if names else "-"
    return ", ".join(f"{s.name} {n}" for s, n in zip(streams, names, strict=True))


Row = tuple[str, Text, str, Text]
"""label, value, label, value: one line of the connection grid"""


def _grid(rows: list[Row], muted: str) -> Text:
    """The rows as aligned text columns (what a Rich grid with one space between columns
    draws, at a fraction of its cost: the pane repaints several times a second)."""
    widths = [max((len(str(row[i])) for row in rows), default=0) for i in range(4)]
    grid = Text(no_wrap=True, overflow="ellipsis")
    for n, row in enumerate(rows):
        if n:
            grid.append("\n")
        cells: tuple[str | Text, ...] = row
        for i, cell in enumerate(cells):
            text = cell.copy() if isinstance(cell, Text) else Text(cell, style=muted)
            text.pad_right(widths[i] - text.cell_len + (i < 3))
            grid.append_text(text)
    return grid


def state_style(state: State, c: Colours) -> str:
    return {
        State.STREAMING: c.profit,
        State.CONNECTING: c.accent,
        State.BACKOFF: f"bold {c.warning}",
        State.POLLING: f"bold {c.warning}",
        State.AUTH_FAILED: f"bold {c.tripped}",
        State.STOPPED: c.stale,
    }[state]


class ConnectionPane(VerticalScroll):
    def __init__(self) -> None:
        super().__init__(id="connection")
        self.border_title = "Connection"
        self._body = Static(id="connection-body")
        self._shown: tuple[object, ...] | None = None

    def compose(self):  # type: ignore[no-untyped-def]
        yield self._body

    def render_snapshot(self, snap: DeskSnapshot, c: Colours) -> None:
        conn = snap.connection
        streams = conn.streams
        # the stream that matters most is the worst one; the trade stream breaks ties
        worst = min(streams, key=lambda s: (severity(s.state), s.name != "trades"), default=None)
        head = Text(str(conn.state), style=state_style(conn.state, c))
        if worst is not None and worst.reason:
            head.append(f"  {worst.reason}", style=c.muted)
        head.no_wrap = True
        head.overflow = "ellipsis"
        rows = self._details(worst, snap, c) if worst is not None else []
        tail = Text("backoff ", style=c.muted)
        tail.append(" ".join(f"{d:.1f}" for _, d in snap.backoff_delays[-6:]) or "-")
        tail.append("  via ", style=c.muted)
        tail.append(_transports(streams))
        tail.append("\n")
        for s in streams:
            tail.append(f"{s.name} ", style=c.muted)
            tail.append(str(s.state), style=state_style(s.state, c))
            tail.append("  ")
        data = snap.market_data
        if data is not None:  # the market-data stream: its feed, state and last message age
            tail.append(f"\ndata {data.feed} ", style=c.muted)
            up = data.state is DataState.STREAMING
            tail.append(str(data.state), style=c.profit if up else f"bold {c.warning}")
            tail.append(f"  {fmt.seconds(data.last_message_age)}", style=c.muted)
        shown = (head, *rows, tail, c.muted)
        if shown != self._shown:  # an update repaints the pane even when nothing changed
            self._shown = shown
            # the body has a fixed height (app.CSS), so no repaint relayouts the whole screen
            self._body.update(Group(head, _grid(rows, c.muted), tail), layout=False)
        retitle(self, subtitle=snap.target)

    def _details(self, s: StreamStatus, snap: DeskSnapshot, c: Colours) -> list[Row]:
        conn = snap.connection
        # a stream polled while it is down or not offered still has a next attempt to show
        backoff = s.state in (State.BACKOFF, State.POLLING) and s.next_retry_at is not None
        retry = fmt.countdown(s.next_retry_at, snap.at) if backoff else "-"
        retry_text = Text(retry, style=f"bold {c.warning}" if backoff else "")
        last_id = Text(fmt.shorten(s.last_event_id or "-", 11))
        hb = Text(fmt.seconds(s.heartbeat_age))
        if s.heartbeat_age is not None and s.idle_timeout and s.heartbeat_age > s.idle_timeout / 2:
            hb.stylize(c.stale)
        rate = sum(x.events_per_sec for x in conn.streams)
        downtime = sum(x.downtime for x in conn.streams)
        gaps = sum(x.gaps for x in conn.streams)
        recovered = sum(x.gaps_recovered for x in conn.streams)
        q = conn.quarantined
        polling = any(x.state is State.POLLING for x in conn.streams)
        polled = (
            Text(f"ON {sum(x.polled for x in conn.streams)}", style=f"bold {c.warning}")
            if polling
            else Text("off", style=c.muted)
        )
        return [
            ("attempt", Text(str(s.attempt)), "retry", retry_text),
            ("last id", last_id, "age", Text(fmt.seconds(s.last_event_age))),
            ("hbeat", hb, "ev/s", Text(f"{rate:.1f}")),
            ("reconn", Text(str(conn.reconnects)), "down", Text(fmt.seconds(downtime))),
            ("dupes", Text(str(conn.duplicates)), "gaps", Text(f"{recovered}/{gaps}")),
            ("quarant", Text(str(q), style=c.warning if q else ""), "polling", polled),
        ]
