"""A DataTable that takes whole rows each frame and touches only the cells that changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from rich.text import Text
from textual import events
from textual.widgets import DataTable

Cell = Text


class Column(NamedTuple):
    key: str
    label: str
    width: int
    essential: bool = True  # kept when the pane is too narrow for every column


CELL_CACHE = 1024
ROW_CACHE = 128
LINE_CACHE = 256


class KeyedTable(DataTable[Cell]):
    """Columns are added once; rows are keyed; a frame updates changed cells only, so a
    high event rate never rebuilds the table or resets the trader's scroll. Only a change in
    which rows exist (a new position, a closed one) rebuilds it. Widths are fixed per column,
    so a value growing from "-" to "101,234.56" is never clipped; when the pane is narrower
    than every column needs (80x24), the non-essential columns are left out rather than
    scrolled out of sight."""

    def __init__(self, columns: Sequence[Column], **kwargs: Any) -> None:
        super().__init__(cursor_type="none", zebra_stripes=False, **kwargs)
        self._bound_caches()
        self._spec = tuple(columns)
        self._rows: dict[str, tuple[Cell, ...]] = {}
        self._shown: tuple[int, ...] = tuple(range(len(self._spec)))
        self.compact = False

    def _bound_caches(self) -> None:
        """Size DataTable's render caches for a pane, not a spreadsheet.

        Textual keys them on the table's update count, so every update leaves all earlier
        entries dead; at its defaults (10,000 cells, 1,000 rows and lines per table) panes
        repainted ten times a second filled them with a quarter of a million objects that
        every full garbage collection had to scan (bench/ui.py: collections of up to 500
        ms, and RSS still climbing minutes in). One frame of these tables needs a few
        hundred entries. (Private attributes: tests/ui/test_screen.py checks they exist.)
        """
        for cache, size in (
            (self._cell_render_cache, CELL_CACHE),
            (self._row_render_cache, ROW_CACHE),
            (self._row_renderable_cache, ROW_CACHE),
            (self._line_cache, LINE_CACHE),
        ):
            cache.maxsize = size

    @property
    def full_width(self) -> int:
        return sum(c.width + 2 for c in self._spec)

    def on_mount(self) -> None:
        self._add_columns()

    def on_resize(self, event: events.Resize) -> None:
        width = self.scrollable_content_region.width
        compact = 0 < width < self.full_width
        if compact != self.compact:
            self.compact = compact
            rows, self._rows = self._rows, {}
            self.clear(columns=True)
            self._add_columns()
            self.sync(rows)

    def _add_columns(self) -> None:
        self._shown = tuple(i for i, c in enumerate(self._spec) if c.essential or not self.compact)
        for i in self._shown:
            c = self._spec[i]
            self.add_column(c.label, key=c.key, width=c.width)

    def forget(self) -> None:
        """Drop every row, so the next sync writes every cell (new theme colours)."""
        self.clear()
        self._rows = {}

    def sync(self, rows: Mapping[str, Sequence[Cell]]) -> int:
        """Make the table show ``rows`` in their order; returns the cells written."""
        fresh = {k: tuple(v) for k, v in rows.items()}
        shown = self._shown
        if list(fresh) != list(self._rows):
            self.clear()
            for row_key, values in fresh.items():
                self.add_row(*(values[i] for i in shown), key=row_key)
            self._rows = fresh
            return sum(len(shown) for _ in fresh)
        written = 0
        for row_key, values in fresh.items():
            old = self._rows[row_key]
            if old == values:
                continue
            for i in shown:
                if old[i] != values[i]:
                    self.update_cell(row_key, self._spec[i].key, values[i], update_width=False)
                    written += 1
            self._rows[row_key] = values
        return written
