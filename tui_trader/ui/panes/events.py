"""The live event stream: bounded, tail-following, coloured by type, filterable; scrolling
back pauses the tail without losing what arrives meanwhile."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.widgets import RichLog

from tui_trader.engine import DeskSnapshot, EventLine
from tui_trader.ui.colours import Colours

KEEP = 2000  # lines held for filtering and scroll-back; the log shows at most this many
PER_FRAME = 50  # lines written per repaint at most: a tall pane's worth, far less than a burst


def matches(line: EventLine, words: tuple[str, ...]) -> bool:
    """Every word must match the symbol, the type or the stream (case-insensitive)."""
    fields = (line.symbol or "", line.kind, line.stream)
    return all(any(w in f.lower() for f in fields) for w in words)


class EventsPane(RichLog):
    def __init__(self) -> None:
        super().__init__(id="events", max_lines=KEEP, markup=False, wrap=False, auto_scroll=True)
        self.border_title = "Events"
        self._lines: deque[EventLine] = deque(maxlen=KEEP)
        self._seen = 0
        self._words: tuple[str, ...] = ()
        self._unread = 0
        self._colours: Colours | None = None

    @property
    def filter_text(self) -> str:
        return " ".join(self._words)

    def set_filter(self, text: str) -> None:
        self._words = tuple(w.lower() for w in text.split())
        self._redraw()

    def restyle(self, c: Colours) -> None:
        self._colours = c
        self._redraw()

    def _redraw(self) -> None:
        self.clear()
        self._unread = 0
        for line in self._lines:
            if matches(line, self._words):
                self.write(self._text(line), scroll_end=True)
        self._subtitle()

    def _style(self, line: EventLine) -> str:
        c = self._colours
        if c is None:
            return ""
        kind = line.kind
        if kind in ("fill", "partial_fill"):
            return c.profit
        if kind in ("rejected", "canceled", "expired", "order_cancel_rejected"):
            return c.loss
        if line.stream == "accounts":
            return c.warning
        if line.stream == "nta":
            return c.accent
        return ""

    def _text(self, line: EventLine) -> Text:
        """``time symbol text``: the text starts with the event's type and takes its colour,
        so a 40-column pane still shows what happened."""
        muted = self._colours.muted if self._colours else ""
        at = (line.at or "")[11:19] or "--:--:--"
        text = Text(f"{at} ", style=muted)
        if line.symbol:
            text.append(f"{line.symbol:<5} ", style="bold")
        else:
            text.append(f"{line.stream[:5]:<5} ", style=muted)
        body = line.text if line.text.startswith(line.kind) else f"{line.kind} {line.text}"
        text.append(body, style=self._style(line))  # server text, plain: markup is off
        if line.source != "stream":
            text.append(f" [{line.source}]", style=self._colours.muted if self._colours else "")
        return text

    def render_snapshot(self, snap: DeskSnapshot, c: Colours) -> None:
        if self._colours is None:
            self._colours = c
        new = [e for e in snap.events if e.seq > self._seen]
        if not new:
            return
        skipped = new[0].seq - self._seen - 1 if self._seen else 0
        self._seen = new[-1].seq
        self._lines.extend(new)
        if len(new) > PER_FRAME:  # a burst: the newest fill the pane, the rest are counted
            skipped += len(new) - PER_FRAME
            new = new[-PER_FRAME:]
        following = self.is_vertical_scroll_end or self.max_scroll_y == 0
        if skipped > 0:  # a burst outran the frame: say so rather than pretend
            muted = c.muted
            self.write(
                Text(f"… {skipped} more events (in the journal)", style=muted), scroll_end=following
            )
        shown = [e for e in new if matches(e, self._words)]
        for line in shown:
            self.write(self._text(line), scroll_end=following)
        if not following:
            self._unread += len(shown)
        else:
            self._unread = 0
        self._subtitle()

    def _subtitle(self) -> str:
        parts = []
        if self._words:
            parts.append(f"filter: {' '.join(self._words)}")
        if self._unread:
            parts.append(f"{self._unread} new below (End to follow)")
        self.border_subtitle = " · ".join(parts)
        return self.border_subtitle
