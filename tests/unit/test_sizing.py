"""fit_to_limits: the desk and the backtest shrink the policy's proposal the same way."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tui_trader.core.sizing import fit_to_limits

LIMIT = D(10_000)


@pytest.mark.parametrize(
    ("proposed", "held", "price", "expected"),
    [
        (None, D(0), D(100), None),  # no opinion: nothing to send
        (D(0), D(0), D(100), None),
        (D(50), D(0), D(100), D(50)),  # 5,000 inside the 10,000 limit: untouched
        (D(500), D(0), D(100), D(98)),  # capped at 98% of the limit
        (D(-500), D(0), D(100), D(-98)),  # short side capped the same
        (D(50), D(90), D(100), D(8)),  # adds only up to the cap
        (D(10), D(98), D(100), None),  # already at the cap: nothing
        (D(-150), D(40), D(100), D(-40)),  # a flip closes now, opens next bar
        (D(150), D(-40), D(100), D(40)),
        (D(-40), D(40), D(100), D(-40)),  # a plain close passes
        (D(-20), D(200), D(100), D(-20)),  # reducing an over-limit book is never blocked up
    ],
)
def test_fit_to_limits(proposed: D | None, held: D, price: D, expected: D | None) -> None:
    assert fit_to_limits(proposed, held, price, LIMIT) == expected


def test_over_limit_book_never_gets_an_order_the_other_way() -> None:
    # 200 shares at 100 is twice the limit (the price rose): a buy proposal must not turn
    # into a sale of 102 shares, it is simply not sent.
    assert fit_to_limits(D(10), D(200), D(100), LIMIT) is None
    assert fit_to_limits(D(-10), D(-200), D(100), LIMIT) is None
