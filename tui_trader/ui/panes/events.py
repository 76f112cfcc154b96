"""The live event stream: bounded, tail-following, coloured by type, filterable; scrolling
back pauses the tail without losing what arrives meanwhile.

The pane keeps its rows as the desk's ``EventLine``s and renders only the rows on screen
(Textual's line API), not a ``RichLog`` of 2,000 pre-rendered strips: each strip carries
seven caches and its segments, and under load those were most of what every full garbage
collection had to walk (bench/ui.py ``--heap-census``), which is what held keys up.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui_trader.desk.snapshot import DeskSnapshot, EventLine
from tui_trader.ui.colours import Colours
from tui_trader.ui.panes.scrolling import set_virtual_height
from tui_trader.ui.panes.titles import retitle

KEEP = 2000  # rows held for filtering and scroll-back; the pane shows at most this many
PER_FRAME = 50  # rows added per repaint at most: a tall pane's worth, far less than a burst

# A row without a symbol names its stream in five cells: whole words, not "accou"
_STREAM_LABELS = {"accounts": "acct", "trades": "trade", "nta": "nta"}

# Server text is shown as typed, on one row: control characters would move the cursor.
_CONTROLS = {c: " " if chr(c) in "\t\n\r" else "?" for c in (*range(32), 127)}


class Skipped(NamedTuple):
    """A burst outran the frame: this many events are in the journal but not in the pane."""

    events: int


Row = EventLine | Skipped


def matches(line: EventLine, words: tuple[str, ...]) -> bool:
    """Every word must match the symbol, the type or the stream (case-insensitive)."""
    fields = (line.symbol or "", line.kind, line.stream)
    return all(any(w in f.lower() for f in fields) for w in words)


class _Styles(NamedTuple):
    muted: Style
    bold: Style
    profit: Style
    loss: Style
    warning: Style
    accent: Style
    plain: Style

    @classmethod
    def of(cls, c: Colours | None) -> _Styles:
        def colour(value: str) -> Style:
            return Style.parse(value) if value else Style()

        if c is None:
            plain = Style()
            return cls(plain, Style(bold=True), plain, plain, plain, plain, plain)
        return cls(
            colour(c.muted),
            Style(bold=True),
            colour(c.profit),
            colour(c.loss),
            colour(c.warning),
            colour(c.accent),
            Style(),
        )

    def of_line(self, line: EventLine) -> Style:
        kind = line.kind
        if kind in ("fill", "partial_fill"):
            return self.profit
        if kind in ("rejected", "canceled", "expired", "order_cancel_rejected"):
            return self.loss
        if line.stream == "accounts":
            return self.warning
        if line.stream == "nta":
            return self.accent
        return self.plain


class EventsPane(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    EventsPane {
        background: $surface;
        color: $foreground;
        overflow-y: scroll;
        overflow-x: hidden;
        &:focus { background-tint: $foreground 5%; }
    }
    """

    def __init__(self) -> None:
        super().__init__(id="events")
        self.border_title = "Events"
        self._lines: deque[EventLine] = deque(maxlen=KEEP)  # every event, for a new filter
        self._rows: deque[Row] = deque(maxlen=KEEP)  # what the pane shows
        self._seen = 0
        self._words: tuple[str, ...] = ()
        self._unread = 0
        self._colours: Colours | None = None
        self._styles = _Styles.of(None)
        self._base: Style | None = None  # the widget's style during a paint

    @property
    def filter_text(self) -> str:
        return " ".join(self._words)

    def set_filter(self, text: str) -> None:
        self._words = tuple(w.lower() for w in text.split())
        self._redraw()

    def restyle(self, c: Colours) -> None:
        self._colours = c
        self._styles = _Styles.of(c)
        self.refresh()

    def texts(self) -> list[str]:
        """Every row the pane holds, oldest first, as plain text (what a wide pane shows)."""
        return [Strip(self._segments(row)).text for row in self._rows]

    def _redraw(self) -> None:
        self._rows.clear()
        self._rows.extend(line for line in self._lines if matches(line, self._words))
        self._unread = 0
        self._resized(following=True)
        self._subtitle()

    def _segments(self, row: Row) -> list[Segment]:
        """``time symbol text``: the text starts with the event's type and takes its colour,
        so a 40-column pane still shows what happened."""
        s = self._styles
        if isinstance(row, Skipped):
            return [Segment(f"… {row.events} more events (in the journal)", s.muted)]
        at = (row.at or "")[11:19] or "--:--:--"
        segments = [Segment(f"{at} ", s.muted)]
        if row.symbol:
            segments.append(Segment(f"{row.symbol:<5} ", s.bold))
        else:
            label = _STREAM_LABELS.get(row.stream, row.stream[:5])
            segments.append(Segment(f"{label:<5} ", s.muted))
        text = row.text.translate(_CONTROLS)
        body = text if text.startswith(row.kind) else f"{row.kind} {text}"
        segments.append(Segment(body, s.of_line(row)))
        if row.source != "stream":
            segments.append(Segment(f" [{row.source}]", s.muted))
        return segments

    def render_lines(self, crop: Region) -> list[Strip]:
        self._base = self.rich_style  # once per paint, not per line: it walks the DOM
        try:
            return super().render_lines(crop)
        finally:
            self._base = None

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self._base or self.rich_style
        index = self.scroll_offset.y + y
        if not 0 <= index < len(self._rows):
            return Strip.blank(width, base)
        strip = Strip(self._segments(self._rows[index]))
        if strip.cell_length > width > 1:  # cut: say so, never end on half a word silently
            cut = list(strip.crop(0, width - 1))
            strip = Strip([*cut, Segment("…", self._styles.muted)], width)
        return strip.crop_extend(0, width, None).apply_style(base)

    def _resized(self, following: bool) -> None:
        set_virtual_height(self, len(self._rows))  # overflow-x is hidden: rows are cropped
        if following:  # at once once laid out, so a paint that follows sees the tail
            self.scroll_end(animate=False, immediate=bool(self.size), x_axis=False)
        self.refresh()

    def render_snapshot(self, snap: DeskSnapshot, c: Colours) -> None:
        if self._colours is None:
            self.restyle(c)
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
        rows: list[Row] = [Skipped(skipped)] if skipped > 0 else []
        shown = [e for e in new if matches(e, self._words)]
        rows.extend(shown)
        if not rows:
            return
        dropped = max(0, len(self._rows) + len(rows) - KEEP)
        self._rows.extend(rows)
        if following:
            self._unread = 0
        else:  # keep the trader's place: the rows above it that fell off move it up
            self._unread += len(shown)
            if dropped:
                self.scroll_to(y=max(0, self.scroll_y - dropped), animate=False, immediate=True)
        self._resized(following)
        self._subtitle()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._unread and self.is_vertical_scroll_end:  # back at the tail: all read
            self._unread = 0
            self._subtitle()

    def _subtitle(self) -> str:
        parts = []
        if self._words:
            parts.append(f"filter: {' '.join(self._words)}")
        if self._unread:
            parts.append(f"{self._unread} new below (End to follow)")
        subtitle = " · ".join(parts)
        retitle(self, subtitle=subtitle)
        return subtitle
