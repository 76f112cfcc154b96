"""A DataTable that takes whole rows each frame and touches only the cells that changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

Cell = Text


class KeyedTable(DataTable[Cell]):
    """Columns are added once; rows are keyed; a frame updates changed cells only, so a
    high event rate never rebuilds the table or resets the trader's cursor and scroll.
    Only a change in which rows exist (a new position, a closed one) rebuilds it. Widths
    are fixed per column, so a value growing from "-" to "101,234.56" is never clipped."""

    def __init__(self, columns: Sequence[tuple[str, str, int]], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._spec = tuple(columns)
        self._rows: dict[str, tuple[Cell, ...]] = {}

    def on_mount(self) -> None:
        for key, label, width in self._spec:
            self.add_column(label, key=key, width=width)

    def sync(self, rows: Mapping[str, Sequence[Cell]]) -> int:
        """Make the table show ``rows`` in their order; returns the cells written."""
        keys = [k for k, _, _ in self._spec]
        fresh = {k: tuple(v) for k, v in rows.items()}
        if list(fresh) != list(self._rows):
            self.clear()
            for row_key, values in fresh.items():
                self.add_row(*values, key=row_key)
            self._rows = fresh
            return sum(len(v) for v in fresh.values())
        written = 0
        for row_key, values in fresh.items():
            old = self._rows[row_key]
            if old == values:
                continue
            for col, (a, b) in enumerate(zip(old, values, strict=True)):
                if a != b:
                    self.update_cell(row_key, keys[col], b, update_width=False)
                    written += 1
            self._rows[row_key] = values
        return written
