"""What the screen needs from a desk: the snapshot it renders and the commands its keys send.

The real :class:`tui_trader.desk.desk.Desk` fits it; snapshot tests pass a desk whose state is
built from the same core objects but frozen, so a picture never depends on the network's timing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from tui_trader.broker.ordering import FlattenReport
from tui_trader.core.orders import Order
from tui_trader.core.risk import Verdict
from tui_trader.desk.snapshot import DeskSnapshot, FlattenPreview

if TYPE_CHECKING:
    from tui_trader.config import Settings


class DeskPort(Protocol):
    async def run(self) -> None: ...

    def stop(self) -> None: ...

    async def aclose(self) -> None: ...

    def on_change(self, listener: Callable[[], None]) -> None: ...

    def snapshot(self) -> DeskSnapshot: ...

    def check(self, order: Order) -> Verdict: ...

    async def submit(self, order: Order) -> Verdict: ...

    def pause(self, reason: str = ...) -> None: ...

    def resume(self) -> str: ...

    async def preview_flatten(self) -> FlattenPreview: ...

    def flatten(self) -> Awaitable[FlattenReport]:
        """Pauses at once (the real desk: in the caller's turn); the awaitable does the rest."""
        ...

    async def cancel_all(self) -> str: ...

    def reset_breaker(self, name: str) -> Verdict: ...

    async def inject_fault(self, key: str) -> str: ...

    # the orders view (issue 15): one order's cancel and replace, one position's close
    async def cancel_order(self, order_id: str) -> str: ...

    def check_replace(self, client_order_id: str, order: Order) -> Verdict: ...

    async def replace(self, client_order_id: str, order: Order) -> Verdict: ...

    async def close_position(self, symbol: str) -> str: ...

    async def add_symbol(self, text: str) -> str: ...

    def remove_symbol(self, symbol: str) -> str: ...


class ReplayPort(DeskPort, Protocol):
    """A desk that plays a recorded session (``tui-trader replay``): read-only, with the
    replay's own keys. Its trading commands refuse; the screen greys their keys out."""

    def toggle(self) -> bool: ...

    def step(self) -> bool: ...

    def faster(self) -> float | None: ...

    def slower(self) -> float | None: ...


class StartPort(Protocol):
    """The desk's start, run behind the first frame (``tui-trader`` with no command): what
    the start screen shows while it runs, and the desk it builds
    (:class:`tui_trader.desk.launch.screen.DeskStart`)."""

    mode: str | None  # sim, paper or live: the header's badge, None until the settings are read
    demo_speed: float | None  # the embedded emulator's pace when it is not real time
    progress: str  # what it is doing now
    done: list[str]  # the steps behind it
    note: str | None  # a word for the trader once started (a paper account file set aside)
    error: str | None  # why it did not start: one line, printed once the terminal is back

    async def prepare(self) -> Settings:
        """The settings (built behind the first frame when they were not given), the
        consent decided on them; raises when they are wrong."""
        ...

    async def open(self) -> DeskPort:
        """The desk, built (not yet running); raises when it cannot start, its one line
        then kept for the terminal by the caller."""
        ...
