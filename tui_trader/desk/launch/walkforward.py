"""``tui-trader backtest --walk-forward``: the policy judged only out of sample.

The candidates (:func:`candidates`) are the risk-proportional policy (:data:`RISK_PREMIUM`:
expected return = a slowly learned Sharpe ratio x the current volatility, 12-month TSMOM and
200-day SMA signs as features whose weights start at a positive prior, fractional Kelly,
which is then volatility targeting, under the drawdown-aware cap), long-only or long/short at
two Kelly fractions, on top of the configured policy's other settings. They were chosen on
1999-2010 only (issue 14's second round; the previous grid is :func:`long_prior`). Each
runs through the desk's sizing and risk gate, with the backtest's review rule for a latched
breaker (:mod:`tui_trader.desk.launch.backtest_gate`), and each fold picks the candidate with
the best in-sample Sharpe (:mod:`tui_trader.core.walkforward`). The same walk-forward runs
again without the convexity detector, so the report shows what the convexity score adds.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from tui_trader.config import Settings
from tui_trader.core.annualise import Annualisation
from tui_trader.core.backtest import PolicyLike
from tui_trader.core.policy import OnlinePolicy, PolicyConfig
from tui_trader.core.risk import RiskEngine
from tui_trader.core.walkforward import WalkForwardResult, run_walk_forward
from tui_trader.desk.launch.backtest_gate import (
    RESET_AFTER_SESSIONS,
    reset_rule,
    resets_json,
    resets_text,
)

Gate = Callable[[OnlinePolicy, RiskEngine, float], PolicyLike]
EXIT_OK = 0
EXIT_USAGE = 2
EQUITY = 100_000.0
# the long-prior policy (core/policy/online.py): an equity premium learned slowly, slow trend
# with a prior weight the ridge revises, Kelly sizing under a volatility target, no t-gate
# (the priors shrink instead). Chosen on 1999-2010 only (the report of issue 14 says how).
PRIOR: dict[str, object] = {
    "premium_prior": 0.04,
    "trend_prior": 0.02,
    "utility": "log",
    "forgetting": 0.999,
    "vol_target": 0.05,
    "min_t": 0.0,
    "horizons": (1,),
}
# the risk-proportional policy (core/policy/online.py): mu = s sigma with a Sharpe prior
# learned slowly, 12-month TSMOM and 200-day SMA signs as evidence with a positive prior
# weight, fractional Kelly (which is then volatility targeting), the drawdown-aware cap.
RISK_PREMIUM: dict[str, object] = {
    "sharpe_prior": 0.3,
    "premium_years": 20.0,
    "tsmom_days": 252.0,
    "sma_days": 200.0,
    "trend_prior": 0.02,
    "trend_days": (),
    "utility": "log",
    "forgetting": 0.999,
    "ridge": 5_000.0,
    "min_t": 0.0,
    "horizons": (1,),
    "vol_target": 0.10,
    "drawdown_limit": 0.25,
    "drawdown_floor": 0.25,
}
KAPPAS = (0.05, 0.1)  # fractional Kelly: position vol ~ kappa x forecast annual Sharpe


def risk_premium(config: PolicyConfig) -> dict[str, PolicyConfig]:
    """The risk-proportional grid: long-only or long/short, at two Kelly fractions."""
    out: dict[str, PolicyConfig] = {}
    for long_only in (True, False):
        for kappa in KAPPAS:
            name = f"{'long' if long_only else 'long/short'},kelly={kappa:g}"
            out[name] = replace(
                config,
                aggressiveness=kappa,
                long_only=long_only,
                **RISK_PREMIUM,  # type: ignore[arg-type]
            )
    return out


TREND_DAYS = ((252.0,), (126.0, 252.0))
RIDGES = (5_000.0, 1_000_000.0)  # how slowly the trend weight moves off its prior


def candidates(config: PolicyConfig) -> dict[str, PolicyConfig]:
    """The grid the folds choose from: the risk-proportional policy (:func:`risk_premium`)."""
    return risk_premium(config)


def long_prior(config: PolicyConfig) -> dict[str, PolicyConfig]:
    """The previous grid (issue 14's first round): the long prior at two trend spans and two
    prior strengths."""
    out: dict[str, PolicyConfig] = {}
    for days in TREND_DAYS:
        for ridge in RIDGES:
            name = f"trend {'+'.join(f'{d:g}' for d in days)}d,ridge={ridge:g}"
            out[name] = replace(config, trend_days=days, ridge=ridge, **PRIOR)  # type: ignore[arg-type]
    return out


def warmup(configs: Sequence[PolicyConfig]) -> int:
    """Steps no span may include: the longest warm-up or feature window of any candidate."""
    return max(max(c.warmup_bars, c.lookback_bars) for c in configs)


def evaluate(
    settings: Settings,
    series: Mapping[str, Sequence[tuple[datetime, float]]],
    config: PolicyConfig,
    year: Annualisation,
    *,
    convexity: bool,
    cost_bps: float,
    seed: int,
    folds: int,
    permutations: int,
    gate: Gate,
    grid: Mapping[str, PolicyConfig] | None = None,
    gates: dict[str, PolicyLike] | None = None,
) -> WalkForwardResult:
    """One walk-forward of the grid (``grid``, default :func:`candidates` of ``config``);
    ``gate`` wraps each policy as the desk does (the backtest's ``GatedPolicy``: sizing to
    the limits, the risk engine, a ledger of fills); ``gates``, if given, receives each
    candidate's gate, to read what the risk engine denied it."""
    from tui_trader.core.convexity import ConvexityDetector

    if grid is None:
        grid = candidates(config)
    limits = settings.risk.limits()

    def factory(name: str, c: PolicyConfig) -> Callable[[], PolicyLike]:
        def make() -> PolicyLike:
            detector = ConvexityDetector() if convexity else None
            made = gate(OnlinePolicy(c, detector), RiskEngine(limits), EQUITY)
            if gates is not None:
                gates[name] = made
            return made

        return make

    return run_walk_forward(
        series,
        {name: factory(name, c) for name, c in grid.items()},
        folds=folds,
        warmup=warmup(list(grid.values())),
        cost_bps=cost_bps,
        starting_equity=EQUITY,
        annualisation=year,
        seed=seed,
        permutations=permutations,
    )


def _summary(result: WalkForwardResult) -> dict[str, Any]:
    return {
        "candidates": list(result.candidates),
        "warmup_end": result.warmup_end.isoformat(),
        "in_sample_only": [t.isoformat() for t in result.in_sample_only],
        "folds": [
            {
                "fold": f.index,
                "in_sample": [f.train_from.isoformat(), f.train_to.isoformat()],
                "out_of_sample": [f.test_from.isoformat(), f.test_to.isoformat()],
                "chosen": f.chosen,
                "in_sample_sharpe": dict(f.in_sample_sharpe),
                "out_of_sample_sharpe": f.out_of_sample_sharpe,
                "out_of_sample_return": f.out_of_sample_return,
            }
            for f in result.folds
        ],
        "out_of_sample": asdict(result.out_of_sample),
        "baselines_out_of_sample": {n: asdict(b) for n, b in result.baselines.items()},
        "shuffled_control": asdict(result.shuffled),
        "sign_control": asdict(result.signs),
    }


def report(
    settings: Settings,
    series: Mapping[str, Sequence[tuple[datetime, float]]],
    config: PolicyConfig,
    year: Annualisation,
    *,
    cost_bps: float,
    seed: int,
    folds: int,
    permutations: int,
    as_json: bool,
    note: str | None,
    gate: Gate,
    json_safe: Callable[[Any], Any],
) -> int:
    """Print the walk-forward of the policy, and of the policy without convexity, and what
    the risk gate denied and reset (desk/launch/backtest_gate.py: the review rule)."""
    gates: dict[str, dict[str, PolicyLike]] = {"policy": {}, "without_convexity": {}}
    try:
        runs = {
            name: evaluate(
                settings,
                series,
                config,
                year,
                convexity=flag,
                cost_bps=cost_bps,
                seed=seed,
                folds=folds,
                permutations=permutations,
                gate=gate,
                gates=gates[name],
            )
            for name, flag in (("policy", True), ("without_convexity", False))
        }
    except ValueError as exc:
        print(f"tui-trader backtest: error: {exc}", flush=True)
        return EXIT_USAGE
    if as_json:
        out = {
            "note": note,
            "cost_bps": cost_bps,
            "annualisation": asdict(year),
            "walk_forward": {
                "folds": folds,
                "rule": "anchored: fold k is chosen on [warm-up end, start of k) by in-sample "
                "Sharpe and judged on its own span; the first span is in-sample only",
                **{name: _summary(r) for name, r in runs.items()},
                "risk_denials": {n: _denials(g) for n, g in gates.items()},
                "breaker_resets": {
                    n: {name: resets_json(g) for name, g in run.items()} for n, run in gates.items()
                },
            },
        }
        print(json.dumps(json_safe(out), indent=2, allow_nan=False))
        return EXIT_OK
    if note:
        print(f"note: {note}")
    print(
        f"walk-forward, {folds} anchored folds, annualised with "
        f"{year.periods_per_year:,.6g} periods a year: {year.reason}"
    )
    for name, r in runs.items():
        print(_table(name, r))
    first = next(iter(runs.values()))
    print(_baselines(first))
    denied = _denials(gates["policy"])
    print(
        textwrap.fill(
            "risk gate: the desk's [risk] limits, each order through its RiskEngine; "
            f"{reset_rule(RESET_AFTER_SESSIONS)}",
            100,
            subsequent_indent="  ",
        )
    )
    for name, made in gates["policy"].items():
        counts = denied.get(name, {})
        text = ", ".join(f"{code} x{n:,}" for code, n in sorted(counts.items())) or "none"
        print(f"  {name}: orders denied {text}")
        print(textwrap.indent(resets_text(made, rule=False), "    "))
    return EXIT_OK


def _denials(gates: Mapping[str, PolicyLike]) -> dict[str, dict[str, int]]:
    """What the risk engine denied each candidate, by code (empty for a gate that keeps none)."""
    return {name: dict(getattr(g, "denied", {})) for name, g in gates.items()}


def _baselines(r: WalkForwardResult) -> str:
    """The classic baselines over the same out-of-sample steps, same engine, same costs."""
    lines = [
        f"baselines over the same out-of-sample span ({r.out_of_sample.bars:,} bars, same costs):",
        f"  {'':22}{'return':>9}{'sharpe +- se':>15}{'max dd':>9}{'exposure':>10}",
    ]
    for name, o in r.baselines.items():
        lines.append(
            f"  {name:22}{o.total_return * 100:8.2f}%{o.sharpe:8.2f} +-{o.sharpe_se:5.2f}"
            f"{o.max_drawdown * 100:8.2f}%{o.exposure * 100:9.1f}%"
        )
    return "\n".join(lines)


def _table(name: str, r: WalkForwardResult) -> str:
    lo, hi = r.in_sample_only
    lines = [
        f"{name}: warm-up until {r.warmup_end:%Y-%m-%d %H:%M}; in-sample only "
        f"{lo:%Y-%m-%d} to {hi:%Y-%m-%d}",
        f"  {'fold':5}{'in-sample':>25}{'out-of-sample':>25}  {'chosen':22}{'oos sharpe':>11}"
        f"{'oos return':>11}",
    ]
    for f in r.folds:
        lines.append(
            f"  {f.index:<5}{f.train_from:%Y-%m-%d} to {f.train_to:%Y-%m-%d}  "
            f"{f.test_from:%Y-%m-%d} to {f.test_to:%Y-%m-%d}  {f.chosen:22}"
            f"{f.out_of_sample_sharpe:11.2f}{f.out_of_sample_return * 100:10.2f}%"
        )
    o = r.out_of_sample
    lines.append(
        f"  out of sample ({o.bars:,} bars): return {o.total_return * 100:.2f}%, annual "
        f"{o.annual_return * 100:.2f}%, vol {o.annual_volatility * 100:.1f}%, sharpe "
        f"{o.sharpe:.2f} +- {o.sharpe_se:.2f}, sortino {o.sortino:.2f}, max dd "
        f"{o.max_drawdown * 100:.2f}%, exposure {o.exposure * 100:.1f}%, turnover {o.turnover:.2f}"
    )
    for t in (r.shuffled, r.signs):
        lines.append(
            f"  {t.null} null, {t.permutations:,} permutations: 5-95% {t.p05:.2f} to "
            f"{t.p95:.2f}; book {t.observed:.2f} at percentile {t.percentile:.1f}, "
            f"p = {t.p_value:.3f}"
        )
    return "\n".join(lines)
