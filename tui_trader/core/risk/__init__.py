"""Pre-trade risk: the trading state (ACTIVE / REDUCING / HALTED) and its named breakers.

Every new order passes one gate that can say no in words a person and the journal can read
(``CODE: key=value``). Losses latch: once the day has lost too much, nothing new goes out until
someone has looked and called :meth:`RiskEngine.reset`. Passing trouble (an order flood, a reject
streak, stale data, a stream that is down or reconciling) only stops orders that add exposure,
and lifts by itself. Cancels and flatten always pass: getting out must never be blocked by the
thing that is meant to protect us. When a check cannot be computed, the order is denied; when
the day's starting equity is not known (the account could not be read), no loss can be
measured and the desk is held REDUCING until it is.

The gate sees the whole book: an order is judged against the position *plus every working
order* (:mod:`tui_trader.core.working`: sent, queued or resting). An order "reduces" only if
it cannot take the position past zero or beyond its current size whichever working orders
fill, partly or not at all: a sell must fit in the position less every working sell (a buy,
likewise, in a short less every working buy); working orders on the other side are never
counted on. SYMBOL_NOTIONAL caps the size the symbol can reach in the order's direction with
every working order on that side filled, and GROSS_EXPOSURE adds what every symbol's working
orders can reach. Sizes are in shares; a notional (dollar) working order converts at its limit
price or else the mark, and one that cannot be converted makes its symbol's exposure unknown,
which denies what would need it.

Pure: the clock is an argument (``now``) and the book is any object with the attributes of
:class:`Book`, so the ledger, a test fake or a replay all plug in.

Comparisons: a limit on something that accumulates (loss, drawdown, order count, rejects) trips
when the value reaches it (``>=``); a cap (symbol notional, gross exposure) and the data age
allow the value itself and trip only above it (``>``). Warnings start at
``warning_fraction * limit``.

The engine is one object whose jobs live in modules of this package: the trading states and
breakers (:mod:`.states`), intents and verdicts (:mod:`.verdict`), the limits (:mod:`.limits`),
what it reads of a book (:mod:`.book`), the breaker board and its rules (:mod:`.board`), the
evaluation of the book, the market and the clock (:mod:`.evaluation`), the inputs and the
user's commands (:mod:`.inputs`), the gate (:mod:`.gate`) and the ``CODE: key=value`` wording
(:mod:`.text`). This module puts the engine together and keeps every name at its import path.
"""

from __future__ import annotations

from tui_trader.core.risk.book import Book
from tui_trader.core.risk.evaluation import RATE_WINDOW
from tui_trader.core.risk.gate import Gate
from tui_trader.core.risk.inputs import RiskInputs
from tui_trader.core.risk.limits import RiskLimits
from tui_trader.core.risk.states import (
    LATCHING,
    Breaker,
    BreakerName,
    BreakerState,
    RiskSnapshot,
    TradingState,
)
from tui_trader.core.risk.verdict import ALLOWED, Cancel, Flatten, Intent, Verdict

__all__ = [
    "ALLOWED",
    "LATCHING",
    "RATE_WINDOW",
    "Book",
    "Breaker",
    "BreakerName",
    "BreakerState",
    "Cancel",
    "Flatten",
    "Intent",
    "RiskEngine",
    "RiskLimits",
    "RiskSnapshot",
    "TradingState",
    "Verdict",
]


class RiskEngine(RiskInputs, Gate):
    """The trading state and its breakers; one instance per desk, driven by the engine loop.

    Call :meth:`update` whenever the book, market data or stream status change,
    :meth:`record_order` / :meth:`record_reject` / :meth:`record_accept` as orders go out and
    come back, and :meth:`check` before sending anything. ``paused`` restores the user's pause
    after a restart.
    """
