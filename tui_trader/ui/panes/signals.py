"""The policy's view per symbol: prediction, uncertainty, convexity, target vs current weight,
the last decision and the gate's verdict on it.

Units: the forecast ``mu`` (the next bar's expected return, after the policy's shrinkage) and
its uncertainty ``sigma`` (the predictive standard deviation of that return) in basis points
per bar, two decimals: on minute bars ``mu`` is a fraction of a basis point and ``sigma`` a
few; the pane's title says so. Weights are percent of equity, two decimals. A value that
rounds to zero shows as "0.00", never "-0.00" (the shrinkage makes an insignificant forecast
exactly zero, often a negative one)."""

from __future__ import annotations

from rich.text import Text

from tui_trader.desk.snapshot import DeskSnapshot
from tui_trader.ui import format as fmt
from tui_trader.ui.colours import Colours
from tui_trader.ui.panes.table import Cell, Column, KeyedTable
from tui_trader.ui.panes.titles import retitle

# What a narrow pane keeps: the forecast, its uncertainty, the target and the current weight
# (the sizing's inputs and output), and the gate; the decision's words go first, then the
# convexity score (an input the sizing may not even use).
COLUMNS = (
    Column("symbol", "Symbol", 6),
    Column("mu", "μ", 7),
    Column("sigma", "σ", 6, essential=False, drop=3),  # noqa: RUF001
    Column("cvx", "Cvx", 6, essential=False, drop=8),
    Column("target", "Target", 7, essential=False, drop=2),
    Column("current", "Now", 7, essential=False, drop=1),
    Column("decision", "Decision", 20, essential=False, drop=9),
    Column("gate", "Gate", 15),
)


class SignalsPane(KeyedTable):
    def __init__(self) -> None:
        super().__init__(COLUMNS, id="signals")
        self.border_title = "Signals · μ σ in bps/bar"  # noqa: RUF001

    def render_snapshot(self, snap: DeskSnapshot, c: Colours) -> None:
        rows: dict[str, list[Cell]] = {}
        for symbol in snap.symbols:
            d = snap.signals.get(symbol)
            r = snap.convexity.get(symbol)
            if r is None or r.warming_up:
                cvx = Text("warm" if r is not None else "-", style=c.stale)
            else:
                cvx = Text(f"{r.score:+.2f}" + ("▲" if r.convex else " "))
                if r.convex:
                    cvx.stylize(c.profit)
            v = snap.verdicts.get(symbol)
            if v is None:
                gate = Text("-", style=c.stale)
            elif v.allowed:
                gate = Text("allowed", style=c.profit)
            else:
                gate = Text(v.code or "denied", style=c.tripped)
            if d is None:
                rows[symbol] = [Text(symbol, style="bold"), Text("-"), Text("-"), cvx]
                rows[symbol] += [Text("-"), Text("-"), Text("waiting for bars", style=c.stale)]
                rows[symbol].append(gate)
                continue
            proposal = (
                f"{'buy' if d.proposed_qty > 0 else 'sell'} {abs(d.proposed_qty)}"
                if d.proposed_qty
                else fmt.shorten(d.reason, 20)
            )
            rows[symbol] = [
                Text(symbol, style="bold"),
                _signed(c, fmt.bps(d.mu), d.mu),
                Text(fmt.bps(d.sigma, signed=False)),
                cvx,
                _signed(c, fmt.weight(d.target_weight), d.target_weight),
                Text(_aligned(fmt.weight(d.current_weight))),
                Text(proposal),
                gate,
            ]
        self.sync(rows)
        retitle(self, subtitle="trading" if snap.trading else "advisory: the policy only proposes")


def _signed(c: Colours, text: str, value: float) -> Text:
    """Coloured by sign, unless the text shows a zero (a red "0.00" would claim a direction),
    which takes a space where the sign would be so the decimal points line up."""
    if text[:1] in "+-":
        return c.signed(text, value)
    return Text(_aligned(text))


def _aligned(text: str) -> str:
    return text if text[:1] in "+-" else " " + text
