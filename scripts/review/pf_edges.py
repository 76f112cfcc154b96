# ruff: noqa  (a copy of the reviewer's script, kept line for line close to the original)
"""Adapted copy of ../shared/review/pf_edges.py (review 2026-12, findings #5 and #10).

What changed and why: case 8 reconciled positions without cash, as e75a428's engine did
(``_on_reconcile`` -> ``portfolio.reconcile(positions)``). The engine now never takes
positions without their cash: it reads the account between two readings of the positions
(Desk._sync_account) and calls ``reconcile(positions, account.cash)``. Case 8 here does what
the engine does now, with the broker's cash after the missed buy (99,000). The original
positions-only call is kept beside it, labelled, to show the ledger's API is unchanged.
Everything else is the original, unchanged.
"""
from decimal import Decimal as D
from datetime import datetime, UTC
from tui_trader.core.portfolio import Portfolio
from tui_trader.core.events import TradeEvent
from tui_trader.core.models import Position

n = 0
def fill(sym, side, qty, price, exec_id=None, order_id="o1", filled=None, kind="fill"):
    global n; n += 1
    return TradeEvent.model_validate({
        "event": kind, "event_id": f"e{n}", "execution_id": exec_id, "qty": str(qty), "price": str(price),
        "at": "2024-01-02T15:00:00Z", "timestamp": "2024-01-02T15:00:00Z",
        "order": {"id": order_id, "symbol": sym, "side": side, "filled_qty": str(filled if filled is not None else qty)}})
def bust(prev, qty=None):
    global n; n += 1
    d = {"event": "trade_bust", "event_id": f"e{n}", "execution_id": f"b{n}", "previous_execution_id": prev,
         "at": "2024-01-02T15:00:00Z", "order": {"id": "o1", "symbol": "AAPL", "side": "buy", "filled_qty": "0"}}
    if qty is not None: d["qty"] = str(qty)
    return TradeEvent.model_validate(d)
def correct(prev, qty=None, price=None):
    global n; n += 1
    d = {"event": "trade_correct", "event_id": f"e{n}", "execution_id": f"c{n}", "previous_execution_id": prev,
         "at": "2024-01-02T15:00:00Z", "order": {"id": "o1", "symbol": "AAPL", "side": "buy", "filled_qty": "0"}}
    if qty is not None: d["qty"] = str(qty)
    if price is not None: d["price"] = str(price)
    return TradeEvent.model_validate(d)

def show(p, label, sym="AAPL"):
    s = p.snapshot(); v = p.position(sym)
    print(f"{label}: qty={v.qty} avg={v.avg_entry} realized={v.realized} cash={s.cash} equity={s.equity} unreal={v.unrealized}")

print("== 1. flip +10 @100 -> sell 15 @110 in one fill")
p = Portfolio(D(100000))
p.apply(fill("AAPL","buy",10,100,"x1"))
p.apply(fill("AAPL","sell",15,110,"x2", order_id="o2"))
show(p, "after flip")
print("   expected: qty=-5 avg=110 realized=100 cash=100000-1000+1650=100650")
p.mark("AAPL", D(105))
show(p, "mark 105")
print("   expected unrealized short 5 @110 marked 105 = +25; equity = 100650 - 525 = 100125")

print("== 2. short flip back: -5 @110 -> buy 8 @100")
p.apply(fill("AAPL","buy",8,100,"x3", order_id="o3"))
show(p, "after")
print("   expected: qty=3 avg=100 realized=100+50=150")

print("== 3. partial fills then bust of the first partial")
p = Portfolio(D(100000))
p.apply(fill("AAPL","buy",4,100,"p1",filled=4,kind="partial_fill"))
p.apply(fill("AAPL","buy",6,101,"p2",filled=10))
show(p, "after 2 partials")
p.apply(bust("p1"))
show(p, "after bust p1")
print("   expected: qty=6 avg=101 cash=100000-606=99394")
p.apply(bust("p1"))
show(p, "after duplicate bust")

print("== 4. bust of an execution after position went through a flip (realized changes)")
p = Portfolio(D(100000))
p.apply(fill("AAPL","buy",10,100,"a1"))
p.apply(fill("AAPL","sell",10,120,"a2",order_id="o2"))
show(p, "closed")
p.apply(bust("a1"))
show(p, "bust of the buy")
print("   expected: the buy never happened: qty=-10 @120 short, realized=0, cash=101200")

print("== 5. bust before its fill arrives")
p = Portfolio(D(100000))
p.apply(bust("late1"))
p.apply(fill("AAPL","buy",10,100,"late1"))
show(p, "fill after bust") if p.position("AAPL") else print("fill after bust: not booked (position None)")

print("== 6. correction of price")
p = Portfolio(D(100000))
p.apply(fill("AAPL","buy",10,100,"k1"))
p.apply(correct("k1", price=99))
show(p, "corrected to 99")

print("== 7. fill without execution id, replay with the id (same fill) -> double booking?")
p = Portfolio(D(100000))
p.apply(fill("AAPL","buy",10,100,None, order_id="oo", filled=10))
p.apply(fill("AAPL","buy",10,100,"real-exec", order_id="oo", filled=10))
show(p, "poll-synth + stream fill of the same execution")

print("== 8. reconcile adds a missed buy without cash")
p = Portfolio(D(100000))
pos = Position.model_validate({"asset_id":"a","symbol":"AAPL","exchange":"X","asset_class":"us_equity","qty":"10","side":"long","avg_entry_price":"100","market_value":"1000","cost_basis":"1000","current_price":"100"})
msgs = p.reconcile([pos], cash=D(99000))  # as the engine now calls it
print(msgs)
s = p.snapshot(); print(f"equity={s.equity} cash={s.cash} (broker's truth: cash 99000, equity 100000)")
q = Portfolio(D(100000)); q.reconcile([pos])  # the ledger's positions-only call, no longer used by the engine
s = q.snapshot(); print(f"  positions-only reconcile (not what the engine does): equity={s.equity}")

print("== 9. bust after the exec was frozen by reconcile")
p = Portfolio(D(100000))
p.apply(fill("AAPL","buy",10,100,"f1"))
p.apply(fill("AAPL","buy",10,120,"f2", order_id="o2"))
pos = Position.model_validate({"asset_id":"a","symbol":"AAPL","exchange":"X","asset_class":"us_equity","qty":"20","side":"long","avg_entry_price":"110","market_value":"2200","cost_basis":"2200","current_price":"110"})
p.reconcile([pos])
p.apply(bust("f1"))
show(p, "bust f1 after reconcile")
print("   expected: qty=10 avg=120 realized=0 cash=100000-1200=98800")
