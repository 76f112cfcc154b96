"""A market replayed from a CSV of minute bars: the emulator's ``--csv`` mode.

Kept apart from :mod:`tui_trader.sim.market`'s simulated market, which it reuses for
quotes, bars and trades while its prices come from the file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from tui_trader.sim.market import Bar, MarketModel, round_price


class ReplayMarket(MarketModel):
    """Bars replayed from a CSV (``timestamp,symbol,open,high,low,close,volume``).

    Inside each minute the price walks open -> high/low -> close linearly, so orders match
    against a path consistent with the bar. When the file runs out the last price holds.
    """

    def __init__(self, path: Path, start: datetime | None = None, seed: int = 0) -> None:
        rows = list(read_csv(path))
        if not rows:
            raise ValueError(f"{path}: no bars")
        self._replay: dict[str, list[tuple[datetime, float, float, float, float, int]]] = {}
        for t, sym, o, h, lo, c, v in rows:
            self._replay.setdefault(sym, []).append((t, o, h, lo, c, v))
        for bars in self._replay.values():
            bars.sort(key=lambda b: b[0])
        self._cursor = dict.fromkeys(self._replay, 0)
        first = min(b[0][0] for b in self._replay.values())
        super().__init__(list(self._replay), seed, start or first, history_days=0)
        for sym, bars in self._replay.items():
            st = self._states[sym]
            st.price = bars[0][1]
            st.prev_close = st.price
            self._requote(st)
            st.last_trade = st.price
            st.current = Bar(self._minute(self.now), st.price, st.price, st.price, st.price)

    def step(self, seconds: int, until: datetime) -> None:
        if seconds <= 0:
            self.now = max(self.now, until)
            return
        start_t = until - timedelta(seconds=seconds)
        for i in range(seconds):
            t = start_t + timedelta(seconds=i + 1)
            for sym, st in self._states.items():
                p = self._path_price(sym, t)
                if p is None:
                    continue
                st.price = p
                self._trade(st, round_price(p), 100, 1, t)
        for st in self._states.values():
            self._requote(st)
        self.now = until

    def session_break(self, at: datetime) -> None:
        for st in self._states.values():
            if st.current is not None:
                self._close_bar(st, st.current)
            st.prev_close = st.price
            st.current = Bar(self._minute(at), st.price, st.price, st.price, st.price)
        self.now = at

    def _path_price(self, sym: str, t: datetime) -> float | None:
        bars = self._replay[sym]
        i = self._cursor[sym]
        while i + 1 < len(bars) and bars[i + 1][0] <= t:
            i += 1
        self._cursor[sym] = i
        bt, o, h, lo, c, _ = bars[i]
        if t < bt:
            return None
        frac = min((t - bt).total_seconds() / 60.0, 1.0)
        first, second = (h, lo) if c < o else (lo, h)
        points = [o, first, second, c]
        pos = frac * 3
        k = min(int(pos), 2)
        return points[k] + (points[k + 1] - points[k]) * (pos - k)


def read_csv(path: Path) -> Iterable[tuple[datetime, str, float, float, float, float, int]]:
    """Rows of a bar file (``timestamp,symbol,open,high,low,close,volume``) in file order,
    symbols upper-cased; a bad row raises ``ValueError`` naming its line."""
    from tui_trader.core.types import parse_timestamp

    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        needed = {"timestamp", "symbol", "open", "high", "low", "close", "volume"}
        if reader.fieldnames is None or not needed <= set(reader.fieldnames):
            raise ValueError(f"{path}: header must be {','.join(sorted(needed))}")
        for line, row in enumerate(reader, start=2):
            try:
                t = parse_timestamp(row["timestamp"])
                if t is None:
                    raise ValueError("empty timestamp")
                yield (
                    t,
                    row["symbol"].strip().upper(),
                    float(row["open"]),
                    float(row["high"]),
                    float(row["low"]),
                    float(row["close"]),
                    int(float(row["volume"] or 0)),
                )
            except (ValueError, KeyError) as exc:
                raise ValueError(f"{path}:{line}: {exc}") from None
