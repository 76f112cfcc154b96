"""A pane's table: keyed rows of cells that take whole rows each frame, drawn with Textual's
line API so a changed row repaints that row's line and nothing else.

Why not ``DataTable``: it keys every render cache (cells, rows, lines) on one update count, so
a single ``update_cell`` makes the next paint re-render every cell of the table through Rich's
padding and styling (bench/ui.py: the three tables were most of the compositor's time, ~15 ms
a positions repaint at 160x50 on the 2-core machine, and every screen refresh re-rendered
them whole). Here each row's strip is kept until that row's cells, the width or the colours
change; a frame that changes one price re-renders one row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Region
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui_trader.ui.panes.scrolling import set_virtual_height

Cell = Text


class Column(NamedTuple):
    key: str
    label: str
    width: int
    essential: bool = True  # kept when the pane is too narrow for every column
    drop: int = 0  # non-essential columns leave in this order, highest first (ties: rightmost)


class _Drawn(NamedTuple):
    """A row's strip and what it was drawn from (compared by identity first, so cheap)."""

    cells: tuple[Cell, ...]
    width: int
    style: Style
    strip: Strip


class KeyedTable(ScrollView, can_focus=True):
    """Columns are fixed; rows are keyed; a frame re-renders and repaints the rows that changed
    only, so a high event rate never rebuilds the table or resets the trader's scroll. The
    header stays on top while the rows scroll. Widths are fixed per column, so a value growing
    from "-" to "101,234.56" never moves the columns; a cell longer than its column ends in
    "…". When the pane is narrower than every column needs (80x24), non-essential columns are
    left out one at a time (``Column.drop``) until the rest fit, rather than scrolled out of
    sight: a pane loses its least useful column first, not all of them at once."""

    COMPONENT_CLASSES = {"keyed-table--header"}
    DEFAULT_CSS = """
    KeyedTable {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        & > .keyed-table--header { text-style: bold; background: $panel; color: $foreground; }
        &:focus {
            background-tint: $foreground 5%;
            & > .keyed-table--header { background-tint: $foreground 5%; }
        }
    }
    """
    CELL_PADDING = 1

    def __init__(self, columns: Sequence[Column], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._spec = tuple(columns)
        self._rows: dict[str, tuple[Cell, ...]] = {}
        self._keys: list[str] = []  # row order
        self._shown: tuple[int, ...] = tuple(range(len(self._spec)))
        self._drawn: dict[str, _Drawn] = {}
        self.compact = False
        self.rendered_rows = 0  # rows rendered into strips so far (tests count them)
        self._styles: tuple[Style, Style] | None = None  # (base, header) during a paint

    # ------------------------------------------------------------------ shape
    @property
    def full_width(self) -> int:
        return sum(c.width + 2 * self.CELL_PADDING for c in self._spec)

    @property
    def row_count(self) -> int:
        return len(self._keys)

    def on_resize(self, event: events.Resize) -> None:
        shown = self.fitting(self.scrollable_content_region.width)
        self.compact = len(shown) < len(self._spec)
        if shown != self._shown:
            self._shown = shown
            self.forget_drawn()

    def fitting(self, width: int) -> tuple[int, ...]:
        """The columns shown at ``width``: every one, less non-essential ones in their drop
        order until the rest fit (or none is left to drop)."""
        shown = list(range(len(self._spec)))
        if width <= 0:
            return tuple(shown)
        pad = 2 * self.CELL_PADDING
        droppable = sorted(
            (i for i, c in enumerate(self._spec) if not c.essential),
            key=lambda i: (self._spec[i].drop, i),
            reverse=True,
        )
        for i in droppable:
            if sum(self._spec[j].width + pad for j in shown) <= width:
                break
            shown.remove(i)
        return tuple(shown)

    def forget_drawn(self) -> None:
        """Render every row again at the next paint (new columns, new theme colours)."""
        self._drawn.clear()
        self.refresh()

    def forget(self) -> None:
        """Drop every row, so the next sync writes every cell (new theme colours); the
        screen syncs right after, so the height is left to that sync."""
        self._rows = {}
        self._keys = []
        self.forget_drawn()

    def _resized(self) -> None:
        set_virtual_height(self, len(self._keys) + 1)  # + the header

    # ------------------------------------------------------------------ data
    def sync(self, rows: Mapping[str, Sequence[Cell]]) -> int:
        """Make the table show ``rows`` in their order; returns the cells that changed."""
        fresh = {k: tuple(v) for k, v in rows.items()}
        keys = list(fresh)
        shown = self._shown
        if keys != self._keys:
            self._rows, self._keys = fresh, keys
            self._drawn = {k: d for k, d in self._drawn.items() if k in fresh}
            self._resized()
            self.refresh()
            return len(shown) * len(keys)
        written = 0
        top = self.scroll_offset.y
        for y, key in enumerate(keys):
            old, values = self._rows[key], fresh[key]
            if old == values:
                continue
            changed = sum(old[i] != values[i] for i in shown)
            self._rows[key] = values
            if changed:
                written += changed
                if 0 <= y - top < self.size.height:  # on screen: repaint its line only
                    self.refresh_line(1 + y)
        return written

    def cell_text(self, row: str, column: str) -> str:
        """What a cell holds, as plain text."""
        index = next(i for i, c in enumerate(self._spec) if c.key == column)
        return self._rows[row][index].plain

    # ------------------------------------------------------------------ drawing
    def _strip(self, cells: Sequence[Cell], style: Style) -> Strip:
        pad = " " * self.CELL_PADDING
        line = Text(end="", no_wrap=True)
        for i in self._shown:
            cell = cells[i].copy() if i < len(cells) else Text()
            cell.truncate(self._spec[i].width, overflow="ellipsis", pad=True)
            line.append(pad)
            line.append_text(cell)
            line.append(pad)
        return Strip(line.render(self.app.console))

    def render_lines(self, crop: Region) -> list[Strip]:
        # the styles once per paint, not once per line: each walks the DOM (~0.1-0.2 ms)
        self._styles = (self.rich_style, self.get_component_rich_style("keyed-table--header"))
        try:
            return super().render_lines(crop)
        finally:
            self._styles = None

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        styles = self._styles
        if styles is None:
            styles = (self.rich_style, self.get_component_rich_style("keyed-table--header"))
        base = styles[0]
        if y == 0:
            header = base + styles[1]
            labels = [Text(c.label) for c in self._spec]
            return self._strip(labels, header).crop_extend(0, width, None).apply_style(header)
        index = self.scroll_offset.y + y - 1
        if not 0 <= index < len(self._keys):
            return Strip.blank(width, base)
        key = self._keys[index]
        cells = self._rows[key]
        drawn = self._drawn.get(key)
        if drawn is None or drawn.cells != cells or drawn.width != width or drawn.style != base:
            self.rendered_rows += 1
            strip = self._strip(cells, base).crop_extend(0, width, None).apply_style(base)
            drawn = self._drawn[key] = _Drawn(cells, width, base, strip)
        return drawn.strip
