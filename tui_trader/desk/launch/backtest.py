"""``tui-trader backtest``: the same policy over bars, without HTTP, beside its baselines.

Bars come from a CSV (``timestamp,symbol,open,high,low,close,volume``, the emulator's replay
format) or from the emulator's own market model, seeded: its realistic drift regimes by
default (a few % a year: next to nothing to find), the strong regime planted for the policy to
find (``--planted``, a demo; the report says so), or none (``--no-drift``: a random walk, the
control where no policy should make money). Ratios are annualised with the periods
per year the CSV's timestamps show, the synthetic market's own clock, or
``--periods-per-year``; the report says which.
"""

from __future__ import annotations

import json
import math
import os
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tui_trader.config import Settings
from tui_trader.core.annualise import TRADING_DAYS_PER_YEAR, Annualisation, given, infer
from tui_trader.core.backtest import (
    DEFAULT_PERMUTATIONS,
    BacktestResult,
    BacktestStats,
)
from tui_trader.core.policy import OnlinePolicy
from tui_trader.core.risk import RiskEngine
from tui_trader.core.stats import PermutationTest
from tui_trader.desk.launch.backtest_gate import GatedPolicy, resets_json, resets_text
from tui_trader.desk.launch.report_axes import span

EXIT_OK = 0
EXIT_USAGE = 2


def synthetic_bars(
    symbols: Sequence[str],
    seed: int,
    bars: int,
    drift: float,
    regime_minutes: float | None = None,
) -> dict[str, list[tuple[datetime, float]]]:
    """``bars`` one-minute closes per symbol from the emulator's market model, its regimes
    of ``drift`` a year switching every ``regime_minutes`` (default: the realistic market's;
    ``sim.market.PLANTED`` holds the planted regime's pair)."""
    from tui_trader.sim.market import MarketModel
    from tui_trader.sim.regimes import DEFAULT_REGIME_MINUTES

    start = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    market = MarketModel(
        list(symbols),
        seed,
        start,
        regime_drift=drift,
        regime_minutes=DEFAULT_REGIME_MINUTES if regime_minutes is None else regime_minutes,
        history_days=0,
    )
    step = 3600
    done = 0
    total = (bars + 1) * 60
    while done < total:
        chunk = min(step, total - done)
        done += chunk
        market.step(chunk, start + timedelta(seconds=done))
    return {s: [(b.t, float(b.c)) for b in market.minute_bars(s)[:bars]] for s in market.symbols}


def csv_bars(path: Path) -> dict[str, list[tuple[datetime, float]]]:
    from tui_trader.sim.replay_market import read_csv

    out: dict[str, list[tuple[datetime, float]]] = {}
    for t, symbol, _o, _h, _l, c, _v in read_csv(path):
        out.setdefault(symbol, []).append((t, c))
    for series in out.values():
        series.sort(key=lambda x: x[0])
    return out


def synthetic_clock() -> Annualisation:
    """The synthetic market's own year: its bars are minutes of a 252 x 6.5 h trading year."""
    from tui_trader.sim.market import SECONDS_PER_YEAR

    minutes = SECONDS_PER_YEAR / 60
    return given(
        minutes,
        f"the synthetic market's own clock: {TRADING_DAYS_PER_YEAR} sessions x "
        f"{minutes / TRADING_DAYS_PER_YEAR:.0f} one-minute bars = {minutes:,.0f} "
        "(tui_trader/sim/market.py; its bars run on without session breaks)",
    )


def planted_note(drift: float, planted: bool = True) -> str:
    """One line that keeps a synthetic result from being read as evidence of an edge."""
    if drift == 0:
        return (
            "synthetic random walk (tui_trader/sim/market.py, no drift planted): there is "
            "nothing to earn here; any result is noise and costs"
        )
    if not planted:
        return (
            f"synthetic bars with realistic drift regimes of +-{abs(drift) * 100:g}%/yr "
            "(tui_trader/sim/regimes.py; --planted for the strong demo regime): next to "
            "nothing to earn here; these figures are not evidence of an edge in any market"
        )
    return (
        f"synthetic bars with drift regimes of +-{abs(drift):g}/yr planted by "
        "tui_trader/sim/market.py (--planted): these figures measure how well the policy finds "
        "what was planted, not evidence of an edge in any market"
    )


BUY_AND_HOLD = (
    "equal weights bought at each symbol's first close and never rebalanced, fractional "
    "shares, same costs"
)


# -- the classic baselines (tui_trader/core/baselines.py) in the report -----------------------
BASELINES_NOTE = (
    "1/n of equity per symbol scaled by each rule's exposure, decided and traded at the same "
    "close (no look-ahead: closes up to that bar), fractional shares, reset every bar (costs "
    "paid on the drift traded back too), flat until a rule has its history; spans in days and "
    "months converted to bars with the periods a year"
)


def baseline_conventions() -> dict[str, str]:
    """Each baseline's rule in words, and the conventions they share, for ``--json``."""
    from tui_trader.core.baselines import BASELINES

    return {"all": BASELINES_NOTE, **{b.name: b.description for b in BASELINES}}


# ---------------------------------------------------------------------------------------------
def run(
    settings: Settings,
    *,
    csv: Path | None,
    seed: int,
    bars: int,
    drift: float | None,
    symbols: Sequence[str] | None,
    planted: bool = False,
    cost_bps: float,
    as_json: bool,
    plot: bool,
    periods_per_year: float | None = None,
    permutations: int = DEFAULT_PERMUTATIONS,
    html: Path | None = None,
    walk_forward: bool = False,
    folds: int = 4,
) -> int:
    from tui_trader.core.backtest import run_backtest
    from tui_trader.core.convexity import ConvexityDetector

    note: str | None = None
    try:
        if csv is not None:
            series = csv_bars(csv)
            year = None
        else:
            from tui_trader.sim.regimes import drift_regime

            regime = drift_regime(planted)
            drift = regime.drift if drift is None else drift
            series = synthetic_bars(
                symbols or settings.sim.symbols, seed, bars, drift, regime.minutes
            )
            year = synthetic_clock()
            note = planted_note(drift, planted)
    except (OSError, ValueError) as exc:
        print(f"tui-trader backtest: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not series or min(len(s) for s in series.values()) < 2:
        print("tui-trader backtest: error: not enough bars", file=sys.stderr)
        return EXIT_USAGE
    if periods_per_year is not None:
        year = given(periods_per_year, "given with --periods-per-year")
    # the policy's horizons in days become bars at the bars' own spacing (review finding #8:
    # daily bars read as minute bars made a 20-day horizon 7,800 bars)
    year = year or infer(sorted({t for s in series.values() for t, _ in s}))
    config = settings.policy.config(bars_per_year=year.periods_per_year)
    if walk_forward:
        from tui_trader.desk.launch.walkforward import report

        return report(
            settings,
            series,
            config,
            year,
            cost_bps=cost_bps,
            seed=seed,
            folds=folds,
            permutations=permutations,
            as_json=as_json,
            note=note,
            gate=GatedPolicy,
            json_safe=_json_safe,
        )
    limits = settings.risk.limits()
    equity = 100_000.0
    gates: list[GatedPolicy] = []

    def factory() -> GatedPolicy:
        gate = GatedPolicy(OnlinePolicy(config, ConvexityDetector()), RiskEngine(limits), equity)
        gates.append(gate)
        return gate

    result = run_backtest(
        series,
        factory,
        cost_bps=cost_bps,
        seed=seed,
        starting_equity=equity,
        annualisation=year,
        permutations=permutations,
        on_fill=lambda *fill: gates[0].fill(*fill),
    )
    gate = gates[0]
    denied = dict(gate.denied)
    book = gate.ledger.snapshot()
    rows = {"policy": result.policy, **result.baselines, "flat": result.flat}
    tests = {"shuffled_control": result.shuffled, "sign_control": result.signs}
    if as_json:
        print(
            json.dumps(
                _json_safe(
                    {
                        "bars": {s: len(v) for s, v in series.items()},
                        "source": str(csv)
                        if csv
                        else {"seed": seed, "drift": drift, "planted": planted},
                        "note": note,
                        "cost_bps": cost_bps,
                        "annualisation": asdict(result.annualisation),
                        "conventions": {
                            "policy": "orders decided at a bar's close fill at the symbol's next "
                            "close, whole shares, through the desk's sizing and risk gate",
                            "buy_and_hold": BUY_AND_HOLD,
                            "baselines": baseline_conventions(),
                            "ratios": "annualised with annualisation.periods_per_year; sharpe_se: "
                            "Lo (2002) with a Newey-West long-run variance",
                        },
                        "decisions": result.decisions,
                        "orders": result.orders,
                        "ledger": {
                            "equity": float(book.equity),
                            "realized_pnl": float(book.realized_pnl),
                            "fills": book.fills,
                        },
                        "risk_denials": denied,
                        "risk_state": gate.risk.state.value,
                        "breaker_resets": resets_json(gate),
                        **{
                            name: asdict(stats)
                            for name, stats in rows.items()
                            if name in ("policy", "buy_and_hold", "flat")
                        },
                        "baselines": {
                            name: asdict(stats) for name, stats in result.baselines.items()
                        },
                        **{name: asdict(test) for name, test in tests.items()},
                    }
                ),
                indent=2,
                allow_nan=False,
            )
        )
    else:
        if note:
            print(f"note: {note}")
        print(_table(rows, tests, series, result))
        print(
            f"ledger: equity {book.equity:,.2f}, realized {book.realized_pnl:,.2f}, "
            f"{book.fills:,} fills"
        )
        if denied:
            counts = ", ".join(f"{code} {n:,}" for code, n in sorted(denied.items()))
            print(f"risk gate denied: {counts} (risk state at the end: {gate.risk.state.value})")
        print(resets_text(gate))
    if plot or html is not None:
        return _figures(result, rows, tests, series, csv, note, cost_bps, plot, html)
    return EXIT_OK


def _figures(
    result: BacktestResult,
    rows: Mapping[str, BacktestStats],
    tests: Mapping[str, PermutationTest],
    series: Mapping[str, Sequence[tuple[datetime, float]]],
    csv: Path | None,
    note: str | None,
    cost_bps: float,
    plot: bool,
    html: Path | None,
) -> int:
    """``--plot`` and ``--html``: every named curve the engine ran, drawn (report_plot,
    report_html)."""
    from tui_trader.desk.launch import report_html, report_plot

    curves = result.curves or {"policy": result.equity}
    if plot:
        shown = terminal_curves(result, curves)
        print(
            report_plot.plot(
                shown, result.timestamps, report_plot.canvas_for(sys.stdout, os.environ)
            )
        )
        if left := [name for name in curves if name not in shown]:
            print(f"not drawn here (in the table, and every one in --html): {', '.join(left)}")
    if html is None:
        return EXIT_OK
    source = str(csv) if csv else "synthetic bars (tui_trader/sim/market.py)"
    report = report_html.Report(
        title=f"tui-trader backtest: {csv.name if csv else 'synthetic market'}",
        parameters=report_html.parameters(
            source, {s: len(v) for s, v in series.items()}, cost_bps, result
        ),
        rows=rows,
        tests=tests,
        curves=curves,
        timestamps=result.timestamps,
        notes=[note] if note else [],
    )
    try:
        report_html.write(html, report)
    except OSError as exc:
        print(f"tui-trader backtest: error: cannot write {html}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _json_safe(value: Any) -> Any:
    """Strict JSON: a ratio that is not finite (an annual return over a few bars of a big
    move overflows) becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _table(
    rows: Mapping[str, BacktestStats],
    tests: Mapping[str, PermutationTest],
    series: Mapping[str, Sequence[tuple[datetime, float]]],
    result: BacktestResult,
) -> str:
    first, last = result.timestamps[0], result.timestamps[-1]
    year = result.annualisation
    lines = [
        f"{len(series)} symbols, {min(len(s) for s in series.values()):,} bars each, "
        f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}; "
        f"{result.decisions:,} decisions, {result.orders:,} orders",
        f"annualised with {year.periods_per_year:,.6g} periods a year: {year.reason}",
        f"buy_and_hold: {BUY_AND_HOLD}",
        *textwrap.wrap(f"baselines: {BASELINES_NOTE}", 120, subsequent_indent="  "),
        f"{'':20}{'return':>9}{'annual':>9}{'vol':>7}{'sharpe +- se':>15}{'sortino':>9}"
        f"{'max dd':>8}{'dd length':>11}{'exposure':>10}{'turnover':>10}{'hit':>7}"
        f"{'trades':>8}",
    ]
    open_dd = False
    for name, s in rows.items():
        mark = " " if s.max_drawdown_recovered else "*"
        open_dd |= not s.max_drawdown_recovered
        lines.append(
            f"{name:20}{s.total_return * 100:8.2f}%{s.annual_return * 100:8.2f}%"
            f"{s.annual_volatility * 100:6.1f}%{s.sharpe:8.2f} +-{s.sharpe_se:5.2f}"
            f"{s.sortino:9.2f}{s.max_drawdown * 100:7.2f}%{span(s.max_drawdown_days):>10}{mark}"
            f"{s.exposure * 100:9.1f}%{s.turnover:10.2f}{s.hit_rate * 100:6.1f}%{s.trades:8d}"
        )
    if open_dd:
        lines.append("* the drawdown had not recovered by the last bar")
    for name, t in tests.items():
        lines.append(
            f"{name:20}{t.null} null, {t.permutations:,} permutations (seed {t.seed}): "
            f"sharpe mean {t.mean:.2f}, sd {t.sd:.2f}, 5-95% {t.p05:.2f} to {t.p95:.2f}; "
            f"policy {t.observed:.2f} at percentile {t.percentile:.1f}, p = {t.p_value:.3f}"
        )
    return "\n".join(lines)


def terminal_curves(result: BacktestResult, curves: Mapping[str, Any]) -> dict[str, Any]:
    """What ``--plot`` draws: the policy, buy-and-hold, the classic baseline with the best
    Sharpe, and flat. Nine lines are a tangle in a terminal and their legend no longer fits a
    panel; the page of ``--html`` draws every curve."""
    rivals = {
        name: stats.sharpe
        for name, stats in result.baselines.items()
        if name in curves and name not in ("buy_and_hold", "random_control")
    }
    best = max(rivals, key=lambda name: rivals[name]) if rivals else None
    wanted = ["policy", "buy_and_hold", best, "flat"]
    return {name: curves[name] for name in wanted if name is not None and name in curves}
