"""``tui-trader backtest``: the same policy over bars, without HTTP, beside its baselines.

Bars come from a CSV (``timestamp,symbol,open,high,low,close,volume``, the emulator's replay
format) or from the emulator's own market model, seeded, with its weak drift regimes (the
predictable component) or without them (``--no-drift``: a random walk, the control where
no policy should make money).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tui_trader.config import Settings

EXIT_OK = 0
EXIT_USAGE = 2


def synthetic_bars(
    symbols: Sequence[str], seed: int, bars: int, drift: float
) -> dict[str, list[tuple[datetime, float]]]:
    """``bars`` one-minute closes per symbol from the emulator's market model."""
    from tui_trader.sim.market import MarketModel

    start = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    market = MarketModel(list(symbols), seed, start, regime_drift=drift, history_days=0)
    step = 3600
    done = 0
    total = (bars + 1) * 60
    while done < total:
        chunk = min(step, total - done)
        done += chunk
        market.step(chunk, start + timedelta(seconds=done))
    return {s: [(b.t, float(b.c)) for b in market.minute_bars(s)[:bars]] for s in market.symbols}


def csv_bars(path: Path) -> dict[str, list[tuple[datetime, float]]]:
    from tui_trader.sim.market import _read_csv

    out: dict[str, list[tuple[datetime, float]]] = {}
    for t, symbol, _o, _h, _l, c, _v in _read_csv(path):
        out.setdefault(symbol, []).append((t, c))
    for series in out.values():
        series.sort(key=lambda x: x[0])
    return out


def run(
    settings: Settings,
    *,
    csv: Path | None,
    seed: int,
    bars: int,
    drift: float | None,
    symbols: Sequence[str] | None,
    cost_bps: float,
    as_json: bool,
    plot: bool,
) -> int:
    from tui_trader.core.backtest import run_backtest
    from tui_trader.core.convexity import ConvexityDetector
    from tui_trader.core.policy import OnlinePolicy, PolicyConfig

    try:
        if csv is not None:
            series = csv_bars(csv)
        else:
            from tui_trader.sim.market import DEFAULT_REGIME_DRIFT

            series = synthetic_bars(
                symbols or settings.sim.symbols,
                seed,
                bars,
                DEFAULT_REGIME_DRIFT if drift is None else drift,
            )
    except (OSError, ValueError) as exc:
        print(f"tui-trader backtest: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not series or min(len(s) for s in series.values()) < 2:
        print("tui-trader backtest: error: not enough bars", file=sys.stderr)
        return EXIT_USAGE
    config = PolicyConfig.from_settings(settings.policy)

    def factory() -> OnlinePolicy:
        return OnlinePolicy(config, ConvexityDetector())

    result = run_backtest(series, factory, cost_bps=cost_bps, seed=seed)
    rows = {
        "policy": result.policy,
        "buy_and_hold": result.buy_and_hold,
        "flat": result.flat,
        "shuffled_control": result.shuffled,
    }
    if as_json:
        print(
            json.dumps(
                {
                    "bars": {s: len(v) for s, v in series.items()},
                    "source": str(csv) if csv else {"seed": seed, "drift": drift},
                    "cost_bps": cost_bps,
                    "decisions": result.decisions,
                    "orders": result.orders,
                    **{name: asdict(stats) for name, stats in rows.items()},
                },
                indent=2,
            )
        )
    else:
        print(_table(rows, series, result.decisions, result.orders))
    if plot:
        print(ascii_plot([float(x) for x in result.equity]))
    return EXIT_OK


def _table(
    rows: Mapping[str, Any], series: Mapping[str, Sequence[Any]], decisions: int, orders: int
) -> str:
    lines = [
        f"{len(series)} symbols, {min(len(s) for s in series.values()):,} bars each; "
        f"{decisions:,} decisions, {orders:,} orders",
        f"{'':18}{'return':>9}{'sharpe':>8}{'max dd':>8}{'turnover':>10}{'hit':>7}{'trades':>8}",
    ]
    for name, s in rows.items():
        lines.append(
            f"{name:18}{s.total_return * 100:8.2f}%{s.sharpe:8.2f}{s.max_drawdown * 100:7.2f}%"
            f"{s.turnover:10.2f}{s.hit_rate * 100:6.1f}%{s.trades:8d}"
        )
    return "\n".join(lines)


def ascii_plot(values: Sequence[float], width: int = 72, height: int = 14) -> str:
    """An equity curve in the terminal: one column per slice, the close of each slice."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 2:
        return "(not enough points to plot)"
    step = max(1, len(finite) // width)
    points = finite[::step][:width]
    lo, hi = min(points), max(points)
    span = hi - lo or 1.0
    grid = [[" "] * len(points) for _ in range(height)]
    for x, v in enumerate(points):
        y = int((v - lo) / span * (height - 1))
        grid[height - 1 - y][x] = "*"
    label_hi, label_lo = f"{hi:,.0f}", f"{lo:,.0f}"
    pad = max(len(label_hi), len(label_lo))
    out = []
    for i, row in enumerate(grid):
        label = label_hi if i == 0 else label_lo if i == height - 1 else ""
        out.append(f"{label:>{pad}} |{''.join(row)}")
    out.append(" " * pad + " +" + "-" * len(points))
    return "\n".join(out)
