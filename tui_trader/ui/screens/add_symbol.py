"""A one-line dialog that adds a symbol to the watchlist: the desk checks it with the broker,
and a bad one (malformed, or not an asset the broker lists) is said under the box, which
stays open for a correction. Enter adds, Escape closes without adding."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

Add = Callable[[str], Awaitable[str]]


class AddSymbolScreen(ModalScreen[str | None]):
    """Dismissed with what the desk said on success, None when closed without adding."""

    DEFAULT_CSS = """
    AddSymbolScreen #dialog { width: 48; }
    AddSymbolScreen #add-error { color: $error; height: auto; }
    """
    BINDINGS = [Binding("escape", "close", "Close", show=False)]

    def __init__(self, add: Add) -> None:
        super().__init__()
        self.add = add

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Watch a symbol", id="dialog-title")
            yield Input(placeholder="ticker, e.g. AMZN", id="add-symbol", max_length=12)
            yield Static("", id="add-error")
            yield Static("Enter adds · Esc closes", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#add-symbol", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._try(event.value)

    @work(exclusive=True, exit_on_error=False)
    async def _try(self, text: str) -> None:
        error = self.query_one("#add-error", Static)
        error.update("checking with the broker…")
        try:
            said = await self.add(text)
        except ValueError as exc:  # the desk's WatchError: malformed, unlisted, a duplicate
            error.update(str(exc))
            return
        except Exception as exc:  # shown, not fatal: the desk keeps running
            error.update(f"not added: {exc}")
            return
        self.dismiss(said)

    def action_close(self) -> None:
        self.dismiss(None)
