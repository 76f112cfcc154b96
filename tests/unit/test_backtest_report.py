"""``backtest --plot`` and ``--html``: the figures name every curve the engine ran, fit the
terminal, and the page is self-contained, parses, holds the text table's numbers and escapes
what it shows."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from tui_trader.config import Settings
from tui_trader.core.backtest import BacktestResult, run_backtest
from tui_trader.core.baselines import BASELINES
from tui_trader.desk.launch import backtest, report_html, report_plot, report_svg
from tui_trader.desk.launch.report_axes import drawdown_percent, nice_ticks

HOSTILE = '<script>alert("x")</script>&'


def _result() -> BacktestResult:
    rng = np.random.default_rng(3)
    start = datetime(2020, 1, 2, tzinfo=UTC)
    bars = {
        s: [
            (start + timedelta(days=i), float(c))
            for i, c in enumerate(100 * np.exp(np.cumsum(rng.normal(3e-4, 0.01, 400))))
        ]
        for s in ("AAA", "BBB")
    }
    from tui_trader.core.convexity import ConvexityDetector
    from tui_trader.core.policy import OnlinePolicy

    config = Settings().policy.config()
    return run_backtest(
        bars, lambda: OnlinePolicy(config, ConvexityDetector()), permutations=50, seed=1
    )


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    return _result()


def test_the_engine_hands_over_every_curve_it_ran(result: BacktestResult) -> None:
    assert list(result.curves) == ["policy", *(rule.name for rule in BASELINES), "flat"]
    assert np.array_equal(result.curves["policy"], result.equity)
    for curve in result.curves.values():
        assert len(curve) == len(result.timestamps)
    hold = result.curves["buy_and_hold"]
    assert hold[-1] / 100_000 - 1 == pytest.approx(result.buy_and_hold.total_return)
    assert np.all(result.curves["flat"] == 100_000)


def test_the_plot_names_each_curve_and_fits_the_width(result: BacktestResult) -> None:
    drawn = ("policy", "buy_and_hold", "flat")  # what --plot draws: a few, not every baseline
    curves = {name: result.curves[name] for name in drawn}
    curves["ma_200"] = result.curves["buy_and_hold"] * 0.9
    for width in (60, 100, 140):
        text = report_plot.plot(
            curves, result.timestamps, report_plot.Canvas(width, 30, colour=False)
        )
        lines = text.splitlines()
        assert len(lines) > 20 and max(len(line) for line in lines) <= width
        assert "\x1b[" not in text  # plain
        for name in curves:
            assert text.count(name) == 2  # in the legend of each panel
        assert "2020-01-02" in text and "drawdown" in text and "log scale" in text
    # drawn twice in one process: plotext's global figure is reset between figures
    again = report_plot.plot(curves, result.timestamps, report_plot.Canvas(100, 30, False))
    assert again == report_plot.plot(curves, result.timestamps, report_plot.Canvas(100, 30, False))


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    pipe = report_plot.canvas_for(io.StringIO(), {})
    assert pipe == report_plot.Canvas(report_plot.FIXED_WIDTH, report_plot.FIXED_HEIGHT, False)
    assert report_plot.canvas_for(Tty(), {}).colour
    assert not report_plot.canvas_for(Tty(), {"NO_COLOR": "1"}).colour


def test_a_curve_at_zero_is_drawn_on_a_linear_scale(result: BacktestResult) -> None:
    broke = np.linspace(100_000, 0, len(result.timestamps))
    text = report_plot.plot({"broke": broke}, result.timestamps, report_plot.Canvas(80, 30, False))
    assert "log scale" not in text and "broke" in text


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_html_page_is_whole_offline_and_escaped(result: BacktestResult, tmp_path: Path) -> None:
    rows = {
        "policy": result.policy,
        "buy_and_hold": result.buy_and_hold,
        HOSTILE: replace(result.flat, sharpe=1.234567),
    }
    curves = {
        "policy": result.curves["policy"],
        "buy_and_hold": result.curves["buy_and_hold"],
        HOSTILE: result.curves["flat"],
    }
    tests = {"shuffled_control": result.shuffled, "sign_control": result.signs}
    page = tmp_path / "report.html"
    report_html.write(
        page,
        report_html.Report(
            title=f"backtest {HOSTILE}",
            parameters=report_html.parameters(HOSTILE, {"AAA": 400}, 2.0, result),
            rows=rows,
            tests=tests,
            curves=curves,
            timestamps=result.timestamps,
            notes=[HOSTILE],
        ),
    )
    html = page.read_text(encoding="utf-8")
    parsed = _Tags()
    parsed.feed(html)
    parsed.close()
    assert parsed.tags.count("svg") == 2 and parsed.tags.count("polyline") == 6
    assert "script" not in parsed.tags  # the hostile name is text, not a tag
    assert "<script" not in html and "http" not in html and "<link" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in html
    text = "".join(parsed.text)
    assert HOSTILE in text  # and reads back as written
    table = backtest._table(rows, tests, {"AAA": [(t, 1.0) for t in result.timestamps]}, result)
    for stats in rows.values():
        assert f"{stats.sharpe:.2f} +-{stats.sharpe_se:5.2f}" in table
        assert f'<td class="n">{stats.sharpe:.2f}</td>' in html
        assert f'<td class="n">{stats.sharpe_se:.2f}</td>' in html
    assert "1.23" in html
    for t in tests.values():
        assert f"{t.p_value:.3f}" in text
    year = result.annualisation  # the periods per year used, and why
    assert f"{year.periods_per_year:,.6g}: {year.reason}" in text and "inferred" in year.reason
    assert not list(tmp_path.glob(".*.tmp"))  # written whole, no leftover


def test_the_command_prints_the_plot_and_writes_the_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "run.html"
    code = backtest.run(
        Settings(),
        csv=None,
        seed=2,
        bars=300,
        drift=0.0,
        symbols=["AAA"],
        cost_bps=2.0,
        as_json=False,
        plot=True,
        permutations=20,
        html=page,
    )
    out = capsys.readouterr().out
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= max(report_plot.FIXED_WIDTH, 200)
    assert "buy_and_hold" in out.split("equity (log scale)")[1]
    html = page.read_text(encoding="utf-8")
    assert "synthetic random walk" in html and "2 bps" in html
    assert (
        backtest.run(
            Settings(),
            csv=None,
            seed=2,
            bars=50,
            drift=0.0,
            symbols=["AAA"],
            cost_bps=2.0,
            as_json=True,
            plot=False,
            permutations=20,
            html=tmp_path / "missing" / "run.html",
        )
        == backtest.EXIT_USAGE
    )
    assert "cannot write" in capsys.readouterr().err


def test_svg_chart_renders_standalone_with_round_ticks() -> None:
    stamps = [datetime(2001, 1, 1) + timedelta(days=i) for i in range(1000)]
    curve = np.linspace(1.0, 3.0, 1000)
    svg = report_svg.line_chart({"a": curve}, stamps, title="t", log=True, standalone=True)
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    points = svg.split('points="')[1].split('"')[0].split()
    assert 2 <= len(points) <= 2 * 880 + 2  # sampled, not one point per bar
    assert ">2001-01-01<" in svg and ">2<" in svg


def test_drawdown_and_ticks() -> None:
    assert list(drawdown_percent([100, 120, 90, 130])) == pytest.approx([0, 0, -25, 0])
    assert nice_ticks(-67.7, 0) == [-60, -40, -20, 0]
    assert nice_ticks(57_000, 300_000, log=True) == [70_000, 100_000, 200_000, 300_000]
    assert nice_ticks(1, 1e6, log=True) == [1, 100, 10_000, 1_000_000]
