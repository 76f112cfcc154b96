"""A keyed table with a selected row: the row a key such as ``d``, ``e`` or ``x`` acts on.

The selection is a row key, so it stays on the same order or position while rows come and
go around it; when its row goes, it moves to the row that took its place. The cursor is
drawn only while the table has the focus: a key acts on the selected row of the focused
pane, and an unfocused pane looks exactly as before (the desk's snapshots stay unchanged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.segment import Segment
from textual import events
from textual.binding import Binding
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip

from tui_trader.ui.panes.table import Cell, Column, KeyedTable


class SelectableTable(KeyedTable):
    """Up/down (or k/j), home/end move the selection; a click selects; rows in
    ``unselectable`` (a totals row) are skipped."""

    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("home", "move(-1000000)", "First", show=False),
        Binding("end", "move(1000000)", "Last", show=False),
    ]
    COMPONENT_CLASSES = {"keyed-table--header", "selectable-table--cursor"}
    DEFAULT_CSS = """
    SelectableTable > .selectable-table--cursor { background: $accent 35%; text-style: bold; }
    """

    def __init__(
        self, columns: Sequence[Column], *, unselectable: frozenset[str] = frozenset(), **kw: Any
    ) -> None:
        super().__init__(columns, **kw)
        self.selected: str | None = None
        self._unselectable = unselectable

    # ------------------------------------------------------------------ selection
    def _choices(self) -> list[str]:
        return [k for k in self._keys if k not in self._unselectable]

    def sync(self, rows: Mapping[str, Sequence[Cell]]) -> int:
        before = self._choices()
        written = super().sync(rows)
        choices = self._choices()
        if self.selected not in choices:
            old = self.selected
            at = before.index(old) if old in before else 0
            self._select(choices[min(at, len(choices) - 1)] if choices else None)
        return written

    def _select(self, key: str | None) -> None:
        if key == self.selected:
            return
        lines = [self._line(self.selected), self._line(key)]
        self.selected = key
        for y in lines:
            if y is not None:
                self.refresh_line(y)
        self._reveal()
        self.post_message(self.Selected(self, key))

    def _line(self, key: str | None) -> int | None:
        """The row's line in the virtual content (the header is line 0)."""
        if key is None or key not in self._rows:
            return None
        return 1 + self._keys.index(key)

    def _reveal(self) -> None:
        y = self._line(self.selected)
        if y is not None and self.size.height > 1:
            # the header stays on top: the row must land below it
            self.scroll_to_region(Region(0, y - 1, 1, 2), animate=False, immediate=True)

    def action_move(self, step: int) -> None:
        choices = self._choices()
        if not choices:
            return
        at = choices.index(self.selected) if self.selected in choices else 0
        self._select(choices[max(0, min(len(choices) - 1, at + step))])

    def on_click(self, event: events.Click) -> None:
        index = self.scroll_offset.y + event.y - 1
        if 0 <= index < len(self._keys) and self._keys[index] not in self._unselectable:
            self._select(self._keys[index])

    def on_focus(self) -> None:
        self._redraw_cursor()

    def on_blur(self) -> None:
        self._redraw_cursor()

    def _redraw_cursor(self) -> None:
        y = self._line(self.selected)
        if y is not None:
            self.refresh_line(y)

    # ------------------------------------------------------------------ drawing
    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        index = self.scroll_offset.y + y - 1
        if (
            y > 0
            and self.has_focus
            and 0 <= index < len(self._keys)
            and self._keys[index] == self.selected
        ):
            cursor = self.get_component_rich_style("selectable-table--cursor")
            return Strip(Segment.apply_style(strip, post_style=cursor), strip.cell_length)
        return strip

    # ------------------------------------------------------------------ messages
    class Selected(Message):
        """The selection moved (``key`` None: nothing to select)."""

        def __init__(self, table: SelectableTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key
