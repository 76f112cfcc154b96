"""Line-API panes change their scrollable height without laying out the whole screen.

Textual's ``virtual_size`` asks for a layout of the screen on every change, and a layout
composes every widget again (bench/ui.py: ~60-80 ms on the 2-core machine, the largest single
cost under load). A pane's height is set by the grid, not by its rows, so only a scrollbar
coming or going needs one; otherwise the new height is set as Textual itself sets it after a
layout (``Widget._size_updated(layout=False)``) and the pane repaints.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.widget import Widget


def set_virtual_height(view: ScrollView, height: int) -> None:
    old = view.virtual_size
    new = Size(old.width, height)
    if new == old:
        return
    room = view.container_size.height
    bar_changes = view.styles.overflow_y == "auto" and (old.height > room) != (height > room)
    if not room or bar_changes:
        view.virtual_size = new  # not laid out yet, or a scrollbar comes or goes
        return
    view.set_reactive(Widget.virtual_size, new)
    view._scroll_update(new)  # scrollbar position and size, scroll offsets clamped
    view.refresh()
