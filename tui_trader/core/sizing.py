"""Turning a policy's proposal into an order the risk limits will accept.

The policy sizes aggressively in weights of equity; the per-symbol notional limit is in
dollars. A proposal the risk gate would deny every bar is worth nothing, so the desk (and
the backtest, the same way) shrinks it to fit first. A flip from long to short (or back)
is two orders at the broker (Alpaca refuses to cross zero in one), so only the closing half
goes now; the next decision opens the other side. The result is never larger than the
proposal nor the other way from it: a book already past the limit (the price rose) is
trimmed only as fast as the policy sells, not by a surprise order.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

HEADROOM = Decimal("0.98")  # stay a little inside the limit: prices move before the fill


def fit_to_limits(
    proposed: Decimal | None, held: Decimal, price: Decimal, max_notional: Decimal
) -> Decimal | None:
    """The signed share delta to send (None: nothing to do)."""
    if proposed is None or proposed == 0 or price <= 0:
        return None if proposed == 0 else proposed
    target = held + proposed
    cap = (max_notional * HEADROOM / price).to_integral_value(rounding=ROUND_DOWN)
    if abs(target) > cap:
        target = cap if target > 0 else -cap
    if held and target and (held > 0) != (target > 0):
        target = Decimal(0)
    delta = target - held
    if delta == 0 or (delta > 0) != (proposed > 0):
        return None  # never the other way from what the policy asked
    return proposed if abs(delta) > abs(proposed) else delta
