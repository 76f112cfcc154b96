"""The theme's colours as Rich styles, for cells and log lines that TCSS cannot reach."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rich.text import Text
from textual.app import App
from textual.color import Color


@dataclass(frozen=True)
class Colours:
    profit: str
    loss: str
    tripped: str
    warning: str
    stale: str
    accent: str
    primary: str
    muted: str

    @classmethod
    def of(cls, app: App[object]) -> Colours:
        v = app.get_css_variables()

        background = Color.parse(v.get("background", "#000000"))

        def pick(*names: str) -> str:
            """A plain #rrggbb Rich can parse: translucent colours are blended over the
            background, as the terminal would show them."""
            for name in names:
                if v.get(name):
                    try:
                        colour = Color.parse(v[name])
                    except Exception:
                        continue
                    if colour.a < 1:
                        colour = background.blend(colour.with_alpha(1), colour.a)
                    return colour.hex6
            return ""

        return cls(
            profit=pick("profit", "success"),
            loss=pick("loss", "error"),
            tripped=pick("breaker-tripped", "error"),
            warning=pick("breaker-warning", "warning"),
            stale=pick("stale", "foreground-muted", "secondary"),
            accent=pick("accent"),
            primary=pick("primary"),
            muted=pick("foreground-muted", "secondary"),
        )

    def mode_badge(self, mode: str) -> tuple[str, str]:
        """The header's badge for ``mode`` (sim, paper, live) and its style: live money
        cannot be mistaken for paper."""
        mode = mode.upper()
        style = {
            "SIM": f"bold reverse {self.primary}",
            "PAPER": f"bold reverse {self.warning}",
            "LIVE": f"bold reverse {self.tripped}",
        }.get(mode, "bold reverse")
        return (" ◆ LIVE MONEY ◆ " if mode == "LIVE" else f" {mode} "), style

    def signed(self, text: str, value: Decimal | float | None) -> Text:
        """Green above zero, red below, plain at zero: the P&L convention."""
        if value is None or value == 0:
            return Text(text)
        return Text(text, style=self.profit if value > 0 else self.loss)
