"""One line that answers: where am I trading, with what, how is it going, may it trade."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui_trader.desk.snapshot import DeskSnapshot, ReplayStatus
from tui_trader.ui import format as fmt
from tui_trader.ui.colours import Colours
from tui_trader.ui.panes.breakers import state_style
from tui_trader.ui.panes.connection import state_style as conn_style


class DeskHeader(Static):
    def __init__(self) -> None:
        super().__init__(id="desk-header")
        self._shown: Text | None = None

    def render_snapshot(self, snap: DeskSnapshot, c: Colours) -> None:
        self.set_class(snap.mode.upper() == "LIVE", "-live")
        badge, badge_style = c.mode_badge(snap.mode)
        if snap.replay is not None:  # a recording, whatever account it was
            badge, badge_style = " ◀ REPLAY ", f"bold reverse {c.warning}"
        book = snap.book
        day_pct = book.day_pnl / book.day_start_equity * 100 if book.day_start_equity else None
        risk = snap.risk
        state = str(risk.state) + (" PAUSED" if risk.paused else "")
        text = Text.assemble((badge, badge_style), " ")
        if snap.demo_speed is not None:  # the emulator's market runs fast: a demo pace
            text.append(f" DEMO {snap.demo_speed:g}x ", style=f"bold reverse {c.warning}")
            text.append(" ")
        text.append(snap.account or "-", "bold")
        if book.account_known:
            text.append("  equity ")
            text.append(fmt.money(book.equity), "bold")
            text.append("  day ")
            text.append_text(
                c.signed(
                    f"{fmt.money(book.day_pnl, signed=True)} ({fmt.pct(day_pct)})", book.day_pnl
                )
            )
        else:  # cash and the day's start are not read yet: a figure here would be invented
            text.append("  equity ? day ? (account not read)", style=c.stale)
        text.append("  ")
        text.append(f" {state} ", style=f"reverse {state_style(risk.state, c)}")
        text.append("  ")
        if snap.replay is not None:
            text.append_text(_replay_text(snap.replay, c))
        else:
            text.append(str(snap.connection.state), style=conn_style(snap.connection.state, c))
        if snap.starting is not None:  # the desk's start-up: what it is doing, until warm
            text.append("  ")
            text.append(f"⟳ {snap.starting}", style=f"bold {c.warning}")
        if text != self._shown:  # an update repaints the line even when nothing changed
            self._shown = text
            self.update(text, layout=False)  # one line, always: no relayout of the screen


def _replay_text(r: ReplayStatus, c: Colours) -> Text:
    """Where the replay is: the time replayed, the speed, and playing, paused or ended."""
    at = "-" if r.at is None else r.at.strftime("%Y-%m-%d %H:%M:%S")
    speed = "max" if r.speed is None else f"x{r.speed:g}"
    if r.ended:
        state, style = "■ end", c.stale
    elif r.paused:
        state, style = "❚❚ paused", f"bold {c.warning}"
    else:
        state, style = "▶ playing", f"bold {c.primary}"
    return Text.assemble((at, "bold"), f" UTC {speed} ", (state, style))
