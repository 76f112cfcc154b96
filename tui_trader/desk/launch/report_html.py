"""``tui-trader backtest --html FILE``: the run on one self-contained page.

What was run (data, bars, their spacing and the periods per year used, costs), the stats of
the policy and of every baseline (the numbers of the text table, Sharpe with its standard
error), the permutation tests with their p-values, and two figures: equity on a log scale and
drawdown. The figures are inline SVG drawn by :mod:`.report_svg` from the same series the
terminal plot uses: the page loads nothing (no script, no stylesheet, no font from a network),
so it opens offline and can be mailed or archived as it is. Every text on it is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path

import numpy as np

from tui_trader.core.backtest import BacktestResult, BacktestStats
from tui_trader.core.stats import PermutationTest
from tui_trader.desk.launch.report_axes import Vector, drawdown_percent, span
from tui_trader.desk.launch.report_svg import line_chart

__all__ = ["Report", "parameters", "render", "stats_cells", "write"]

STATS_COLUMNS = (
    "return",
    "annual",
    "vol",
    "sharpe",
    "± se",
    "sortino",
    "max dd",
    "dd length",
    "exposure",
    "turnover",
    "hit",
    "trades",
    "costs",
)

_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 64em; color: #111; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 0.2em 0.6em; border-bottom: 1px solid #ddd; }
td.n { text-align: right; white-space: nowrap; } th { text-align: left; }
th.n { text-align: right; } tr.policy td { font-weight: bold; }
p.note { background: #fff6d5; padding: 0.5em; } figure { margin: 1em 0; }
"""


@dataclass(frozen=True)
class Report:
    """Everything the page shows; ``curves`` by the names ``rows`` uses."""

    title: str
    parameters: Sequence[tuple[str, str]]
    rows: Mapping[str, BacktestStats]
    tests: Mapping[str, PermutationTest]
    curves: Mapping[str, Sequence[float] | Vector]
    timestamps: Sequence[datetime]
    notes: Sequence[str] = field(default_factory=tuple)


def stats_cells(s: BacktestStats) -> list[str]:
    """One row of the stats table, formatted as the text table prints it."""
    return [
        f"{s.total_return * 100:.2f}%",
        f"{s.annual_return * 100:.2f}%",
        f"{s.annual_volatility * 100:.1f}%",
        f"{s.sharpe:.2f}",
        f"{s.sharpe_se:.2f}",
        f"{s.sortino:.2f}",
        f"{s.max_drawdown * 100:.2f}%",
        span(s.max_drawdown_days) + ("" if s.max_drawdown_recovered else "*"),
        f"{s.exposure * 100:.1f}%",
        f"{s.turnover:.2f}",
        f"{s.hit_rate * 100:.1f}%",
        f"{s.trades:d}",
        f"{s.costs:,.2f}",
    ]


def parameters(
    source: str, bars: Mapping[str, int], cost_bps: float, result: BacktestResult
) -> list[tuple[str, str]]:
    """What the run was: its data, its bars and their spacing, the year it was annualised
    with and why, its costs and its tests."""
    stamps = result.timestamps
    gaps = np.diff([t.timestamp() for t in stamps]) if len(stamps) > 1 else np.empty(0)
    spacing = span(float(np.median(gaps)) / 86400) if gaps.size else "-"
    year = result.annualisation
    tests = (result.shuffled, result.signs)
    return [
        ("data", source),
        ("bars", ", ".join(f"{symbol} {count:,}" for symbol, count in bars.items())),
        ("from, to", f"{stamps[0]:%Y-%m-%d %H:%M} to {stamps[-1]:%Y-%m-%d %H:%M}"),
        ("median spacing of the bars", spacing),
        ("periods per year", f"{year.periods_per_year:,.6g}: {year.reason}"),
        ("costs", f"{cost_bps:g} bps of the notional traded, the policy and every baseline"),
        ("decisions, orders", f"{result.decisions:,}, {result.orders:,}"),
        ("permutations", ", ".join(f"{t.permutations:,} (seed {t.seed})" for t in tests)),
    ]


def _stats_table(rows: Mapping[str, BacktestStats]) -> list[str]:
    head = "".join(f'<th class="n">{escape(c)}</th>' for c in STATS_COLUMNS)
    out = ["<table>", f"<tr><th></th>{head}</tr>"]
    for k, (name, s) in enumerate(rows.items()):
        cells = "".join(f'<td class="n">{escape(v)}</td>' for v in stats_cells(s))
        mark = ' class="policy"' if k == 0 else ""
        out.append(f"<tr{mark}><th>{escape(name)}</th>{cells}</tr>")
    out.append("</table>")
    if not all(s.max_drawdown_recovered for s in rows.values()):
        out.append("<p>* the drawdown had not recovered by the last bar</p>")
    return out


def _tests_table(tests: Mapping[str, PermutationTest]) -> list[str]:
    head = ("", "null", "permutations", "observed", "mean", "sd", "5% to 95%", "percentile", "p")
    out = ["<table>", "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    for name, t in tests.items():
        cells = [
            f"{t.permutations:,} (seed {t.seed})",
            f"{t.observed:.2f}",
            f"{t.mean:.2f}",
            f"{t.sd:.2f}",
            f"{t.p05:.2f} to {t.p95:.2f}",
            f"{t.percentile:.1f}",
            f"{t.p_value:.3f}",
        ]
        out.append(
            f"<tr><th>{escape(name)}</th><td>{escape(t.null)}: {escape(t.description)}</td>"
            + "".join(f'<td class="n">{escape(c)}</td>' for c in cells)
            + "</tr>"
        )
    out.append("</table>")
    return out


def render(report: Report) -> str:
    """The page, as text."""
    falls = {name: drawdown_percent(c) for name, c in report.curves.items()}
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(report.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(report.title)}</h1>",
        *(f'<p class="note">{escape(note)}</p>' for note in report.notes),
        "<h2>Run</h2><table>",
        *(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in report.parameters),
        "</table>",
        "<h2>Policy and baselines</h2>",
        *_stats_table(report.rows),
        "<p>Ratios annualised with the periods per year above; sharpe ± its standard error "
        "(Lo 2002, Newey-West long-run variance).</p>",
        "<h2>Is it better than chance? Permutation tests of the policy's Sharpe</h2>",
        *_tests_table(report.tests),
        "<h2>Equity</h2><figure>",
        line_chart(report.curves, report.timestamps, title="equity (log scale)", log=True),
        "</figure><h2>Drawdown</h2><figure>",
        line_chart(falls, report.timestamps, title="drawdown from the running peak, %"),
        "</figure></body></html>",
    ]
    return "\n".join(body) + "\n"


def write(path: Path, report: Report) -> None:
    """Write the page whole or not at all: a temporary file beside it, then renamed."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render(report), encoding="utf-8")
    tmp.replace(path)
