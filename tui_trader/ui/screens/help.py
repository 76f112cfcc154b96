"""Every key, generated from the bindings themselves so the list cannot drift."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

NOTES = (
    "Pause (p) stops new exposure: only orders that reduce it go out. Flatten (f) pauses, "
    "cancels every open order and closes every position, then checks until flat.",
    "Quit (q) stops the desk; it says first what happens to resting orders and positions.",
    "In the panes: Tab moves focus, arrows scroll, z zooms the focused pane.",
)


def _key(binding: Binding) -> str:
    return binding.key_display or binding.key


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, sections: Sequence[tuple[str, Sequence[Binding]]]) -> None:
        super().__init__(classes="help")
        self.sections = sections

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True, style="bold")
        table.add_column()
        for title, bindings in self.sections:
            table.add_row(Text(title, style="underline"), "")
            seen: set[str] = set()
            for b in bindings:
                if not b.description or b.action in seen:
                    continue
                seen.add(b.action)
                keys = [_key(x) for x in bindings if x.action == b.action]
                table.add_row(" / ".join(keys), b.tooltip or b.description)
        with Vertical(id="dialog"):
            yield Label("Keys", id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield Static(table)
                for note in NOTES:
                    yield Static(note, classes="hint")
            yield Label("Escape closes", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
