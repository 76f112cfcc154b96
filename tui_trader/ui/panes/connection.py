"""The connection's true state: what the supervisor reports, with a live countdown to the next
retry and the recent backoff delays, so a trader can tell a blip from an outage."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui_trader.broker.status import State, StreamStatus
from tui_trader.engine import DeskSnapshot
from tui_trader.ui import format as fmt
from tui_trader.ui.colours import Colours


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
        self._last: Table | None = None

    def compose(self):  # type: ignore[no-untyped-def]
        yield self._body

    def render_snapshot(self, snap: DeskSnapshot, c: Colours) -> None:
        conn = snap.connection
        streams = conn.streams
        # the stream that matters most is the worst one; the trade stream breaks ties
        worst = min(
            streams,
            key=lambda s: (_rank(s.state), s.name != "trades"),
            default=None,
        )
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style=c.muted, no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(style=c.muted, no_wrap=True)
        grid.add_column(no_wrap=True)
        state = Text(str(conn.state), style=state_style(conn.state, c))
        if worst is not None and worst.reason:
            state.append(f"  {fmt.shorten(worst.reason, 40)}", style=c.muted)
        grid.add_row("state", state, "", "")
        if worst is not None:
            self._details(grid, worst, snap, c)
        delays = " ".join(f"{d:.1f}" for _, d in snap.backoff_delays[-6:]) or "-"
        grid.add_row("backoffs", Text(delays), "", "")
        grid.add_row(
            "streams",
            Text.assemble(
                *[
                    part
                    for s in streams
                    for part in (
                        (s.name, c.muted),
                        (" ", ""),
                        (str(s.state)[:6], state_style(s.state, c)),
                        ("  ", ""),
                    )
                ]
            ),
            "",
            "",
        )
        self._body.update(grid)
        self.border_subtitle = f"{snap.target}"

    def _details(self, grid: Table, s: StreamStatus, snap: DeskSnapshot, c: Colours) -> None:
        conn = snap.connection
        retry = (
            fmt.countdown(s.next_retry_at, snap.at)
            if s.state is State.BACKOFF and s.next_retry_at is not None
            else "-"
        )
        attempt = Text(str(s.attempt))
        retry_text = Text(retry, style=f"bold {c.warning}" if retry != "-" else "")
        grid.add_row("attempt", attempt, "next retry", retry_text)
        last_id = fmt.shorten(s.last_event_id or "-", 16)
        age = Text(fmt.seconds(s.last_event_age))
        grid.add_row("last id", Text(last_id), "age", age)
        hb = Text(fmt.seconds(s.heartbeat_age))
        if s.heartbeat_age is not None and s.idle_timeout and s.heartbeat_age > s.idle_timeout / 2:
            hb.stylize(c.stale)
        grid.add_row(
            "heartbeat", hb, "ev/s", Text(f"{sum(x.events_per_sec for x in conn.streams):.1f}")
        )
        downtime = sum(x.downtime for x in conn.streams)
        grid.add_row(
            "reconnects", Text(str(conn.reconnects)), "downtime", Text(fmt.seconds(downtime))
        )
        gaps = sum(x.gaps for x in conn.streams)
        recovered = sum(x.gaps_recovered for x in conn.streams)
        grid.add_row(
            "duplicates", Text(str(conn.duplicates)), "gaps", Text(f"{recovered}/{gaps} recovered")
        )
        q = conn.quarantined
        polling = any(x.state is State.POLLING for x in conn.streams)
        grid.add_row(
            "quarantined",
            Text(str(q), style=c.warning if q else ""),
            "polling",
            Text("ON", style=f"bold {c.warning}") if polling else Text("off", style=c.muted),
        )


def _rank(state: State) -> int:
    order = [
        State.AUTH_FAILED,
        State.POLLING,
        State.BACKOFF,
        State.CONNECTING,
        State.STREAMING,
        State.STOPPED,
    ]
    return order.index(state)
