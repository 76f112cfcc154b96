"""The default desk left open: does the real ``tui-trader`` stay flat in memory?

``make run`` starts ``tui-trader`` with no credentials: the embedded emulator runs in the
desk's own process, at the demo pace, and the policy trades. A trader who leaves that open
all day should see the process hold its size after warming up (issue 15: "RSS flat after the
first minute"). This runs the real command on a pseudo-terminal of 140x42 (its paper account
and journal in a temp dir, as ``bench/startup.py`` does) and samples its RSS, and the size of
its paper-account file and journal, every ``--sample`` seconds for ``--minutes``.

Two configurations, one after the other in the same run, on the same machine:

* **as shipped**: the embedded emulator keeps a window of events (10,000 a stream) and of
  minute bars (seven sessions a symbol);
* **baseline, keep all**: the same with both windows set far beyond the run
  (``TUI_TRADER_SIM__RETENTION``, ``TUI_TRADER_SIM__KEEP_BARS``), which is how the emulator
  behaved before it had them.

``--speed`` compresses the day: at 600 (ten times the demo pace) a 6-minute run covers what
an hour at the demo pace makes (bars, orders, events); the slopes are printed per real hour
at that speed and per hour at the demo pace (divided by speed / 60), after the first minute
and over the run's second half (the windows fill in the first minutes). Figures only, no
verdict on a single run: each slope comes with +-2 standard errors of the 30-second means.

Run: ``.venv/bin/python bench/desk_day.py [--minutes M] [--speed X] [--sample S]``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _revision import revision  # bench/ is on sys.path
from startup import _app_env, _drain, _spawn, _stop

DEMO = 60.0
KEEP_ALL = str(10**9)
Row = tuple[float, float, float, float]  # seconds, RSS MB, paper-account file MB, journal MB


@dataclass
class Run:
    label: str
    rows: list[Row]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def files_mb(root: Path, pattern: str) -> float:
    return sum(p.stat().st_size for p in root.rglob(pattern) if p.is_file()) / 1e6


def fit(points: list[tuple[float, float]], block: float = 30.0) -> tuple[float, float]:
    """Slope (per second) and its standard error, over means of ``block``-second blocks: the
    samples within a block are not independent (a collection, a save), the blocks nearly so."""
    groups: dict[int, list[tuple[float, float]]] = {}
    for t, v in points:
        groups.setdefault(int(t // block), []).append((t, v))
    means = [
        (sum(t for t, _ in g) / len(g), sum(v for _, v in g) / len(g)) for g in groups.values()
    ]
    n = len(means)
    if n < 3:
        return math.nan, math.nan
    mt = sum(t for t, _ in means) / n
    mv = sum(v for _, v in means) / n
    sxx = sum((t - mt) ** 2 for t, _ in means)
    slope = sum((t - mt) * (v - mv) for t, v in means) / sxx
    resid = sum((v - mv - slope * (t - mt)) ** 2 for t, v in means)
    return slope, math.sqrt(resid / (n - 2) / sxx)


def run(
    label: str, extra: dict[str, str], minutes: float, speed: float, sample: float, root: Path
) -> Run:
    env = _app_env(root)
    env.update(extra, TUI_TRADER_SIM__SPEED=str(speed))
    proc, master, started = _spawn([sys.executable, "-m", "tui_trader.cli"], env)
    rows: list[Row] = []
    data = root / "data"
    try:
        deadline = started + minutes * 60
        next_at = started + sample
        while time.perf_counter() < deadline:
            _drain(master, 0.05)  # the screen's output must be read or the app blocks
            if proc.poll() is not None:
                raise RuntimeError(f"{label}: tui-trader exited {proc.returncode}")
            now = time.perf_counter()
            if now >= next_at:
                next_at += sample
                rows.append(
                    (
                        now - started,
                        rss_mb(proc.pid),
                        files_mb(data, "sim-account.sqlite3*"),
                        files_mb(data, "journal-*"),
                    )
                )
    finally:
        _stop(proc, master)
    return Run(label, rows)


def report(results: list[Run], speed: float, minutes: float) -> None:
    scale = speed / DEMO  # real hours at this speed per hour at the demo pace
    print(
        f"\n{minutes:g} minutes each at {speed:g}x (= {minutes * scale:g} minutes at the demo "
        f"pace, {minutes * speed / 390:.1f} trading sessions)"
    )
    header = f"{'':34}{'RSS at 1 min':>14}{'RSS at end':>12}{'slope after 1 min':>34}"
    print(header + f"{'second half':>34}{'file':>10}{'journal':>10}")
    for r in results:
        rows = r.rows
        after = [(t, v) for t, v, _, _ in rows if t >= 60]
        first = after[0][1] if after else math.nan
        half = rows[-1][0] / 2
        slopes = []
        for points in (after, [(t, v) for t, v in after if t >= half]):
            slope, se = fit(points)
            per_h, se_h = slope * 3600, 2 * se * 3600
            slopes.append(f"{per_h:>+12.1f} +/- {se_h:.1f} MB/h ({per_h / scale:+.1f} at demo)")
        print(
            f"{r.label:34}{first:>11.1f} MB{rows[-1][1]:>9.1f} MB{slopes[0]}{slopes[1]}"
            f"{rows[-1][2]:>7.1f} MB{rows[-1][3]:>7.1f} MB"
        )
    print("\n  t (s)" + "".join(f"{r.label[:20]:>22}" for r in results))
    columns = [r.rows for r in results]
    for i in range(max(len(c) for c in columns)):
        cells = []
        t = math.nan
        for c in columns:
            if i < len(c):
                t = c[i][0]
                cells.append(f"{c[i][1]:>19.1f} MB")
            else:
                cells.append(f"{'':>22}")
        print(f"{t:>7.0f}" + "".join(cells))
    print(
        "  (RSS of the tui-trader process: app, desk and the embedded emulator; file: its "
        "paper account (sim-account.sqlite3 and WAL); journal: the desk's journal files)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=6.0, help="per configuration")
    parser.add_argument("--speed", type=float, default=600.0, help="sim seconds a second")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    args = parser.parse_args()
    cpus = os.cpu_count()
    print(f"machine: {cpus} CPUs, Python {sys.version.split()[0]}; code: {revision()}")
    configs = [
        ("as shipped (bounded windows)", {}),
        (
            "baseline: keep all",
            {"TUI_TRADER_SIM__RETENTION": KEEP_ALL, "TUI_TRADER_SIM__KEEP_BARS": KEEP_ALL},
        ),
    ]
    results: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-desk-day-") as tmp:
        for i, (label, extra) in enumerate(configs):
            results.append(
                run(label, extra, args.minutes, args.speed, args.sample, Path(tmp) / str(i))
            )
    report(results, args.speed, args.minutes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
