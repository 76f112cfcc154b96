"""Border titles that repaint a pane only when their text changes.

Textual repaints the whole widget on every ``border_title``/``border_subtitle`` assignment,
even of the text it already shows, and reads a ``str`` as markup. Panes retitle themselves
on every frame, so each frame repainted every pane in full (bench/ui.py: a frame with no
news still composed the whole screen, ~30 ms at 160x50 on the 2-core machine).
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from rich.text import Text
from textual.widget import Widget

_shown: WeakKeyDictionary[Widget, tuple[Text | None, Text | None]] = WeakKeyDictionary()


def _text(value: str | Text | None) -> Text | None:
    return Text(value) if isinstance(value, str) else value  # a str is text, not markup


def retitle(
    widget: Widget, title: str | Text | None = None, subtitle: str | Text | None = None
) -> None:
    """Show ``title`` and ``subtitle`` (``None``: leave that one as it is)."""
    old_title, old_subtitle = _shown.get(widget, (None, None))
    new_title, new_subtitle = _text(title), _text(subtitle)
    if new_title is not None and new_title != old_title:
        widget.border_title = new_title
        old_title = new_title
    if new_subtitle is not None and new_subtitle != old_subtitle:
        widget.border_subtitle = new_subtitle
        old_subtitle = new_subtitle
    _shown[widget] = (old_title, old_subtitle)
