"""The desk screen over a replay (``tui-trader replay``): the same panes, read-only.

Every trading key is greyed out (``check_action``) and, pressed anyway, says why; the replay's
own keys play, pause, step and change the speed. The header says REPLAY, the time being
replayed, the speed and whether it plays (:class:`~tui_trader.ui.panes.header.DeskHeader`).
"""

from __future__ import annotations

from typing import Final

from textual import events
from textual.binding import Binding
from textual.widgets import Input

from tui_trader.ui.port import ReplayPort
from tui_trader.ui.screens.main import DeskScreen

READ_ONLY: Final = "replay: read-only — trading keys are off"
TRADING_ACTIONS: Final = frozenset(
    {
        "pause",
        "flatten",
        "order",
        "cancel_all",
        "reset",
        "faults",
        "cancel_order",
        "replace_order",
        "close_position",
        "watch_add",  # not trading, but a replay changes nothing: the watchlist is recorded
        "watch_remove",
    }
)
"""The desk's keys that would act on a broker: none of them works in a replay."""


def speed_text(speed: float | None) -> str:
    return "max" if speed is None else f"x{speed:g}"


class ReplayScreen(DeskScreen):
    BINDINGS = [
        Binding("space", "replay_toggle", "Play/pause", tooltip="pause / resume the replay"),
        Binding("n", "replay_step", "Step", tooltip="play the next event or decision now"),
        Binding("full_stop", "replay_step", "Step", show=False, key_display="."),
        Binding("greater_than_sign", "replay_faster", "Faster", key_display=">", tooltip="faster"),
        Binding("less_than_sign", "replay_slower", "Slower", key_display="<", tooltip="slower"),
    ]

    def __init__(self, desk: ReplayPort, hz: float = 10.0) -> None:
        super().__init__(desk, hz)
        self.replay = desk
        self._trading_keys = frozenset(
            b.key
            for b in DeskScreen.BINDINGS
            if isinstance(b, Binding) and b.action in TRADING_ACTIONS
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in TRADING_ACTIONS:
            return None  # greyed out: a replay sends nothing (pressed, on_key says why)
        return super().check_action(action, parameters)

    def on_key(self, event: events.Key) -> None:
        if event.key in self._trading_keys and not isinstance(self.focused, Input):
            event.stop()
            self.notify(READ_ONLY, severity="warning", timeout=3)

    def action_replay_toggle(self) -> None:
        paused = self.replay.toggle()
        self.notify("replay paused (n: step)" if paused else "replay playing", timeout=2)
        self.paint()

    def action_replay_step(self) -> None:
        if not self.replay.step():
            self.notify("the end of the recording", timeout=2)
        self.paint()

    def action_replay_faster(self) -> None:
        self.notify(f"replay {speed_text(self.replay.faster())}", timeout=2)
        self.paint()

    def action_replay_slower(self) -> None:
        self.notify(f"replay {speed_text(self.replay.slower())}", timeout=2)
        self.paint()
