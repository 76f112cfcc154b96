"""A yes/no question before anything destructive, with the focus on the safe answer."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """``y`` confirms, ``n`` and Escape cancel; Cancel has the focus, so Enter is safe."""

    # y and n are priority bindings: answered at the press, not after the key has travelled
    # through the focused button and the dialog's containers (a frame each under load). The
    # dialog has nothing to type into, and a modal's bindings only apply while it is on top.
    BINDINGS = [
        Binding("y", "answer(True)", "Confirm", priority=True),
        Binding("n", "answer(False)", "Cancel", priority=True),
        Binding("escape", "answer(False)", "Cancel", show=False),
    ]

    def __init__(
        self,
        title: str,
        lines: Sequence[str | Text],
        confirm: str = "Confirm",
        *,
        danger: bool = True,
        extra_keys: Sequence[str] = (),
        on_confirm: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(classes="confirm")
        self.title_text = title
        self.lines = list(lines)
        self.confirm_label = confirm
        self.danger = danger
        self.on_confirm = on_confirm  # runs at the key press, before the modal closes
        for key in extra_keys:  # e.g. a second `q` quits
            self._bindings.bind(key, "answer(True)", show=False)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title")
            with VerticalScroll(id="dialog-body"):  # one widget for the text: a modal
                # opens and closes under load, and every widget is CSS, layout and paint
                yield Static(
                    Text("\n").join(Text(x) if isinstance(x, str) else x for x in self.lines)
                )
            with Horizontal(id="dialog-buttons"):
                yield Button("Cancel (n)", id="cancel", variant="default")
                yield Button(
                    f"{self.confirm_label} (y)",
                    id="confirm",
                    variant="error" if self.danger else "primary",
                )

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        # The dialog's widgets were just made: thousands of new objects, which bring the
        # collector's next young collection near, and one in ten of those also scans the
        # middle generation (35-80 ms under load, bench/ui.py). Run it now, before the
        # dialog is drawn, rather than at the answer: a trader reads for longer than this.
        gc.collect(1)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer(event.button.id == "confirm")

    def _close(self, value: bool) -> None:
        self.dismiss(value)  # not awaited: awaiting it from our own handler is an error

    def action_answer(self, value: bool) -> None:
        if value and self.on_confirm is not None:
            self.on_confirm()
            # close after the action's first step has run: closing repaints the screen
            # below, which under load would delay the action by a frame or more. A task
            # that on_confirm started was scheduled first, so it runs before this
            asyncio.get_running_loop().call_soon(self._close, value)
            return
        self.dismiss(value)
