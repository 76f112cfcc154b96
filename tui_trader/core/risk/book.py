"""What the engine reads of a book: a Protocol, so the ledger's snapshot, the desk's view of
it, a test fake or a replay all plug in without the engine knowing which."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol


class Book(Protocol):
    """What the engine reads from a portfolio; plain attributes or properties both fit.

    ``qty`` is signed (short < 0) and 0 for an unknown symbol; ``price`` is the mark, ``None``
    when there is none. ``gross_exposure`` is the sum of |market value| over all positions.
    ``day_start_equity`` is None while the account is not known (not read yet, or a new day
    whose starting equity could not be read): equity means nothing then.
    """

    @property
    def equity(self) -> Decimal: ...

    @property
    def day_start_equity(self) -> Decimal | None: ...

    @property
    def peak_equity(self) -> Decimal: ...

    @property
    def gross_exposure(self) -> Decimal: ...

    def qty(self, symbol: str) -> Decimal: ...

    def price(self, symbol: str) -> Decimal | None: ...
