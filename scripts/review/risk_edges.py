# ruff: noqa  (a copy of the reviewer's script, kept line for line close to the original)
"""Adapted copy of ../shared/review/risk_edges.py (review 2026-12, finding #4).

What changed and why: the risk gate now judges an order against the book of working orders
(tui_trader.core.working.WorkingOrders), which the desk feeds: an order joins it the moment
the gate allows it, before it is sent. The original called ``check`` without that book, as
e75a428's gate had none, so its two open-order scenarios could not show the fix. Here those
two scenarios pass ``working=`` and add each allowed order to it, exactly as Desk.check and
Desk.submit do. Everything else is the original, unchanged.
"""
from decimal import Decimal as D
from datetime import datetime, UTC, timedelta
from dataclasses import dataclass, field
from tui_trader.core.risk import RiskEngine, RiskLimits, BreakerName, Flatten, Cancel
from tui_trader.core.orders import OrderBuilder
from tui_trader.core.working import WorkingOrders

@dataclass
class Book:
    equity: D = D(100000)
    day_start_equity: D = D(100000)
    peak_equity: D = D(100000)
    gross_exposure: D = D(0)
    pos: dict = field(default_factory=dict)
    px: dict = field(default_factory=dict)
    def qty(self, s): return self.pos.get(s, D(0))
    def price(self, s): return self.px.get(s)

now = datetime(2024,1,2,15,tzinfo=UTC)
def upd(r, b, age=1.0, up=True):
    r.update(b, now=now, market_data_age=age, stream_up=up, reconciling=False)

lim = RiskLimits(daily_loss_limit=D(2000))
print("== daily loss exactly at the limit")
r = RiskEngine(lim); b = Book(equity=D(98000)); upd(r, b)
print("loss=2000 limit=2000 ->", r.state, r.breaker("DAILY_LOSS").state)
r = RiskEngine(lim); b = Book(equity=D("98000.01")); upd(r, b)
print("loss=1999.99 ->", r.state, r.breaker("DAILY_LOSS").state)
print("== latch: loss recovers")
r = RiskEngine(lim); upd(r, Book(equity=D(97000))); upd(r, Book(equity=D(100500)))
print("after recovery ->", r.state, r.breaker("DAILY_LOSS").state)
print("reset ->", r.reset("DAILY_LOSS", now), r.state)
print("== HALTED: can a reducing order go out?")
r = RiskEngine(lim); b = Book(equity=D(97000), pos={"AAPL": D(100)}, px={"AAPL": D(100)}, gross_exposure=D(10000)); upd(r, b)
o = OrderBuilder().symbol("AAPL").sell(50).market().day().build()
print("sell 50 of long 100 while HALTED ->", r.check(o, b, price=D(100), now=now))
print("Flatten ->", r.check(Flatten(), b, price=None, now=now))
print("== fail closed: a book that raises")
class Bad(Book):
    @property
    def equity(self): raise RuntimeError("boom")
r = RiskEngine(lim)
try:
    bb = Bad(); 
except Exception as e: print(e)
class Bad2:
    day_start_equity = D(1); peak_equity = D(1); gross_exposure = D(0)
    @property
    def equity(self): raise RuntimeError("boom")
    def qty(self, s): return D(0)
    def price(self, s): return D(100)
r.update(Bad2(), now=now, market_data_age=1.0, stream_up=True, reconciling=False)
print("state after bad book ->", r.state)
o = OrderBuilder().symbol("AAPL").buy(1).market().day().build()
print("check with bad book ->", r.check(o, Bad2(), price=D(100), now=now))
print("== NaN equity")
r = RiskEngine(lim); b = Book(equity=D("NaN")); 
try:
    upd(r, b); print("state", r.state)
    print("check ->", r.check(o, b, price=D(100), now=now))
except Exception as e: print("raised", e)
print("== resting orders ignored: 3 buys each just under the notional cap, none filled")
r = RiskEngine(lim); b = Book(px={"AAPL": D(100)}); upd(r, b); w = WorkingOrders()
for i in range(3):
    o = OrderBuilder().symbol("AAPL").buy(240).limit(100).day().build()
    v = r.check(o, b, price=D(100), now=now, working=w.orders())
    print(" order", i, v); r.record_order(now)
    if v.allowed: w.add(o)
print("== REDUCING (paused): several reducing sells that together flip the position")
r = RiskEngine(lim, paused=True); b = Book(pos={"AAPL": D(100)}, px={"AAPL": D(100)}, gross_exposure=D(10000)); upd(r, b); w = WorkingOrders()
for i in range(3):
    o = OrderBuilder().symbol("AAPL").sell(100).limit(100).day().build()
    v = r.check(o, b, price=D(100), now=now, working=w.orders())
    print(" sell 100 #", i, v)
    if v.allowed: w.add(o)
print("== ORDER_RATE at the limit (30/min)")
r = RiskEngine(lim); b = Book(px={"AAPL": D(100)}); upd(r, b)
allowed = 0
for i in range(40):
    o = OrderBuilder().symbol("AAPL").buy(1).market().day().build()
    v = r.check(o, b, price=D(100), now=now + timedelta(seconds=i))
    if v.allowed: allowed += 1; r.record_order(now + timedelta(seconds=i))
print(" allowed in one minute:", allowed)
print("== drawdown exact 10%")
r = RiskEngine(lim); upd(r, Book(equity=D(99000), day_start_equity=D(99000), peak_equity=D(110000))); print(r.breaker("DRAWDOWN").state, r.state)
print("== stale data: age None at start")
r = RiskEngine(lim); b = Book(px={"AAPL": D(100)}); 
o = OrderBuilder().symbol("AAPL").buy(1).market().day().build()
print(r.check(o, b, price=D(100), now=now))
print("== stream down: add exposure?")
r = RiskEngine(lim); upd(r, b, up=False); print(r.state, r.check(o, b, price=D(100), now=now))
