"""The desk's keys on one line of text, drawn only when a key's availability changes.

Textual's ``Footer`` is a widget per key and recomposes itself (unmount, mount, style, lay
out) on every bindings refresh, which includes every modal opening and closing; the screen
under a dimmed modal is drawn again each time, so opening the flatten confirm under load cost
three extra whole-screen passes (bench/ui.py). Here the same keys are one line of text: greyed
out when disabled, clickable, drawn again only when :meth:`DeskFooter.show_keys` finds them
changed (or the theme changes).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget


class Key(NamedTuple):
    key: str  # as shown
    description: str
    action: str  # with its namespace: "screen.pause", "app.help"
    enabled: bool


class DeskFooter(Widget):
    COMPONENT_CLASSES = {"desk-footer--key", "desk-footer--description"}
    DEFAULT_CSS = """
    DeskFooter {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
        & > .desk-footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .desk-footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
    }
    """

    def __init__(self) -> None:
        super().__init__(id="desk-footer")
        self.keys: tuple[Key, ...] = ()

    def show_keys(self, screen: Screen[Any]) -> None:
        """Show the keys of ``screen`` (and the app) that are shown, in binding order."""
        keys = []
        for active in screen.active_bindings.values():
            binding = active.binding
            if binding.show:
                where = "app" if active.node is self.app else "screen"
                display = self.app.get_key_display(binding)
                keys.append(
                    Key(display, binding.description, f"{where}.{binding.action}", active.enabled)
                )
        if tuple(keys) != self.keys:
            self.keys = tuple(keys)
            self.refresh()

    def render(self) -> Text:
        key_style = self.get_component_rich_style("desk-footer--key", partial=True)
        text_style = self.get_component_rich_style("desk-footer--description", partial=True)
        line = Text(no_wrap=True, overflow="crop", end="")
        for key in self.keys:
            dim = Style(dim=not key.enabled)
            line.append(f" {key.key} ", key_style + dim)
            line.append(f"{key.description} ", text_style + dim)
        return line

    def key_at(self, x: int) -> Key | None:
        """The key drawn at column ``x``."""
        for key in self.keys:
            x -= len(key.key) + len(key.description) + 3
            if x < 0:
                return key
        return None

    async def on_click(self, event: events.Click) -> None:
        key = self.key_at(event.x)
        if key is not None and key.enabled:
            await self.app.run_action(key.action)  # check_action still decides
