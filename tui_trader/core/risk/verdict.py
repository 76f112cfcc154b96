"""What the gate is asked (an order, a cancel, a flatten) and what it answers (a verdict).

The desk, the UI and the journal speak these to the engine and read its answers; a denial's
text says why in ``CODE: key=value`` words (:mod:`tui_trader.core.risk.text`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from tui_trader.core.orders import Order
from tui_trader.core.risk.text import text


@dataclass(frozen=True)
class Cancel:
    """Cancel a resting order: always allowed, it can only reduce risk."""

    order_id: str


@dataclass(frozen=True)
class Flatten:
    """Close positions (one symbol, or all when ``symbol`` is None): always allowed."""

    symbol: str | None = None


Intent: TypeAlias = Order | Cancel | Flatten


@dataclass(frozen=True)
class Verdict:
    """The gate's answer. ``detail`` is the whole ``CODE: key=value ...`` text, or "allowed"."""

    allowed: bool
    code: str | None = None
    detail: str = "allowed"

    def __str__(self) -> str:
        return self.detail

    @classmethod
    def deny(cls, code: str, **context: object) -> Verdict:
        return cls(allowed=False, code=str(code), detail=text(code, context))


ALLOWED = Verdict(allowed=True)
