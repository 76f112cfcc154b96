"""Matching against the simulated market: which working orders can trade now (limits, stops,
trailing stops), how much the quoted size allows, and at what price after slippage.

Continuous trading is bounded by the quote's size; the opening and closing auctions (``opg``,
``cls``) fill the whole size.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from tui_trader.sim.book import ZERO, SimOrder, dec, price_tick, qty_round
from tui_trader.sim.exchange.fills import Fills


class Matching(Fills):
    """Walks the open orders against the quotes and fills what can trade."""

    def _match(self, at: datetime, phase: str) -> None:
        avail_ask: dict[str, int] = {}
        avail_bid: dict[str, int] = {}
        for o in list(self._open):
            if not o.is_working or o.status == "held":
                continue
            tif = o.time_in_force
            if (tif == "opg" and phase != "open") or (tif == "cls" and phase != "close"):
                continue
            quote = self.market.quote(o.symbol)
            bid, ask = dec(quote.bid), dec(quote.ask)
            avail_ask.setdefault(o.symbol, quote.ask_size)
            avail_bid.setdefault(o.symbol, quote.bid_size)
            buy = o.side == "buy"
            executable = self._executable(o, bid, ask)
            if executable is None:
                if tif in ("ioc", "fok"):
                    self._cancel_now(o, at)
                continue
            book = avail_ask if buy else avail_bid
            liquidity = Decimal(book[o.symbol])
            if phase != "continuous":
                liquidity = Decimal(10**9)  # auctions fill the whole size
            want = o.remaining if o.qty is not None else None
            if want is not None:
                size = min(want, liquidity)
                if tif == "fok" and size < want:
                    self._cancel_now(o, at)
                    continue
                if size <= 0:
                    if tif == "ioc":
                        self._cancel_now(o, at)
                    continue
            else:
                size = None
            price = self._fill_price(o, executable, size, liquidity)
            if size is None:
                assert o.notional is not None
                size = qty_round(o.notional / price)
            book[o.symbol] = max(0, book[o.symbol] - int(size))
            self._fill(o, size, price, at)
            if tif == "ioc" and o.is_open:
                self._cancel_now(o, at)

    def _executable(self, o: SimOrder, bid: Decimal, ask: Decimal) -> Decimal | None:
        """The price this order can trade at now, or None if it cannot trade."""
        buy = o.side == "buy"
        touch = ask if buy else bid
        if o.type == "trailing_stop":
            ref = bid if not buy else ask
            if o.hwm is None:
                o.hwm = ref
            o.hwm = max(o.hwm, ref) if not buy else min(o.hwm, ref)
            if o.trail_price is not None:
                stop = o.hwm - o.trail_price if not buy else o.hwm + o.trail_price
            else:
                pct = (o.trail_percent or ZERO) / 100
                stop = o.hwm * (1 - pct) if not buy else o.hwm * (1 + pct)
            triggered = (ref <= stop) if not buy else (ref >= stop)
            return touch if triggered else None
        if o.type in ("stop", "stop_limit") and not o.triggered:
            assert o.stop_price is not None
            last = dec(self.market.last_trade(o.symbol)[0])
            hit = (max(last, ask) >= o.stop_price) if buy else (min(last, bid) <= o.stop_price)
            if not hit:
                return None
            o.triggered = True
        if o.type in ("limit", "stop_limit"):
            assert o.limit_price is not None
            if buy and ask > o.limit_price:
                return None
            if not buy and bid < o.limit_price:
                return None
        return touch

    def _fill_price(
        self, o: SimOrder, touch: Decimal, size: Decimal | None, liquidity: Decimal
    ) -> Decimal:
        impact = Decimal(str(self.options.slippage_bps)) / Decimal(10_000)
        if size is not None and liquidity > 0:
            impact *= min(Decimal(4), size / liquidity)
        else:
            impact *= Decimal("0.5")
        price = touch * (1 + impact) if o.side == "buy" else touch * (1 - impact)
        if o.limit_price is not None and o.type in ("limit", "stop_limit"):
            price = min(price, o.limit_price) if o.side == "buy" else max(price, o.limit_price)
        return price_tick(price)
