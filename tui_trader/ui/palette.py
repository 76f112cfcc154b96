"""Every screen command in the command palette, named as the footer and help name them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui_trader.ui.screens.main import DeskScreen


class DeskApp(Protocol):
    """What the palette reads of the app (``TraderApp``): the desk screen, once mounted.

    Named here rather than imported, so that the app can list this provider without the two
    modules importing each other."""

    desk_screen: DeskScreen | None


class DeskCommands(Provider):
    def _commands(self) -> Iterator[tuple[str, str, Callable[[], Any]]]:
        app = self.app
        screen = cast("DeskApp", app).desk_screen
        if screen is None:
            return
        for binding in screen.BINDINGS:
            assert not isinstance(binding, tuple)
            if not binding.description or screen.check_action(binding.action, ()) is False:
                continue
            name = f"{binding.description} ({binding.key_display or binding.key})"
            yield (
                name,
                binding.tooltip or binding.description,
                partial(screen.run_action, binding.action),
            )
        yield "Next theme (t)", "switch to the next theme", partial(app.run_action, "next_theme")
        yield "Help (?)", "every key", partial(app.run_action, "help")
        yield (
            "Quit (q)",
            "says what happens to resting orders first",
            partial(app.run_action, "request_quit"),
        )

    async def discover(self) -> Hits:
        for name, help_text, run in self._commands():
            yield DiscoveryHit(name, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, run in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), run, help=help_text)
