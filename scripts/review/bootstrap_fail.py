# ruff: noqa  (a copy of the reviewer's script, kept line for line close to the original)
"""Adapted copy of ../shared/review/bootstrap_fail.py (review 2026-12, finding #6).

What changed and why: the desk now builds its ledger as ``Portfolio(None)`` (the account not
read yet), not ``Portfolio()`` (cash 0, day start 0), and never applies a reconcile's
positions without the account's cash. To keep what the original checks (what the breakers
see when get_account fails at start and positions arrive anyway), this copy builds the
ledger as the desk now does and still applies the positions-only reconcile (the worst case:
the desk itself would not). Then it does what the desk's retry does once the account reads:
positions with cash, and the day's start from last_equity.
"""
"""engine.py:241-246: when get_account fails at start the ledger keeps cash 0 and day start 0;
a later reconcile (positions only, engine.py:356) brings positions. What do the breakers see?"""
from decimal import Decimal as D
from datetime import datetime, UTC
from tui_trader.core.portfolio import Portfolio
from tui_trader.core.models import Position
from tui_trader.core.risk import RiskEngine, RiskLimits
from tui_trader.desk.base import RiskBook as _RiskBook
p = Portfolio(None)  # as Desk.__init__ now builds it
pos = Position.model_validate({"asset_id":"a","symbol":"AAPL","exchange":"X","asset_class":"us_equity","qty":"400","side":"long","avg_entry_price":"230","market_value":"92000","cost_basis":"92000","current_price":"230"})
p.reconcile([pos])  # what _on_reconcile does
r = RiskEngine(RiskLimits())
now = datetime(2026,11,24,15,tzinfo=UTC)
for px in ("230", "200", "180", "215"):
    p.mark("AAPL", D(px))
    s = p.snapshot()
    r.update(_RiskBook(s, {"AAPL": D(px)}), now=now, market_data_age=1.0, stream_up=True, reconciling=False)
    print(f"mark {px}: equity {s.equity} day_pnl {s.day_pnl} -> DAILY_LOSS {r.breaker('DAILY_LOSS').state} (value {r.breaker('DAILY_LOSS').value}), DRAWDOWN {r.breaker('DRAWDOWN').state}, state {r.state}")
print("-- the account reads at last (the desk retries): cash 8,000, last_equity 100,000")
p.reconcile([pos], D(8000))
p.start_day(D(100000))
for px in ("230", "215"):
    p.mark("AAPL", D(px))
    s = p.snapshot()
    r.update(_RiskBook(s, {"AAPL": D(px)}), now=now, market_data_age=1.0, stream_up=True, reconciling=False)
    print(f"mark {px}: equity {s.equity} day_pnl {s.day_pnl} -> DAILY_LOSS {r.breaker('DAILY_LOSS').state} (value {r.breaker('DAILY_LOSS').value}), DRAWDOWN {r.breaker('DRAWDOWN').state}, state {r.state}")
