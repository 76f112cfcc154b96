"""The market-data websocket's messages (API.md §11.4.3): one frame is a JSON array of
``{"T": kind, ...}`` objects; quotes (``q``), trades (``t``), minute bars (``b``) and their
corrections (``u``) become the same models the REST calls return.

Prices and sizes arrive as JSON numbers: the frame is parsed with ``parse_float=Decimal``
(:func:`~tui_trader.core.models.parse_json`), so ``133.85`` is ``Decimal("133.85")`` and
never passes through a float. Kinds we do not use (statuses, LULDs, corrections of trades,
kinds Alpaca adds later) are counted and otherwise ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from tui_trader.core.models import Bar, Quote, Trade, parse_json

__all__ = ["DataFrame", "ProtocolError", "parse_frame"]

DATA_KINDS: dict[str, type[Quote | Trade | Bar]] = {"q": Quote, "t": Trade, "b": Bar, "u": Bar}


class ProtocolError(ValueError):
    """A frame that is not what §11.4 describes (not JSON, not an array of objects)."""


@dataclass(frozen=True, slots=True)
class DataFrame:
    """One frame, sorted: data in arrival order, the control messages, what was skipped."""

    quotes: tuple[tuple[str, Quote], ...] = ()
    trades: tuple[tuple[str, Trade], ...] = ()
    bars: tuple[tuple[str, Bar, bool], ...] = ()  # (symbol, bar, corrected: a ``u``)
    control: tuple[dict[str, Any], ...] = ()  # success, subscription, error
    ignored: int = 0  # other kinds, and data messages that did not validate

    @property
    def data(self) -> int:
        return len(self.quotes) + len(self.trades) + len(self.bars)


def parse_frame(raw: str | bytes) -> DataFrame:
    """Parse one frame; raises :class:`ProtocolError` when it is not an array of objects."""
    try:
        items = parse_json(raw)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"not JSON: {str(exc)[:80]}") from None
    if isinstance(items, dict):  # tolerate a bare object: one message
        items = [items]
    if not isinstance(items, list):
        raise ProtocolError("a frame must be a JSON array of messages")
    quotes: list[tuple[str, Quote]] = []
    trades: list[tuple[str, Trade]] = []
    bars: list[tuple[str, Bar, bool]] = []
    control: list[dict[str, Any]] = []
    ignored = 0
    for item in items:
        if not isinstance(item, dict):
            raise ProtocolError("a message must be a JSON object")
        kind = item.get("T")
        model = DATA_KINDS.get(kind) if isinstance(kind, str) else None
        if model is None:
            if kind in ("success", "subscription", "error"):
                control.append(item)
            else:
                ignored += 1
            continue
        symbol = item.get("S")
        if not isinstance(symbol, str) or not symbol:
            ignored += 1
            continue
        try:
            value = model.model_validate(item)
        except (ValidationError, ArithmeticError):
            ignored += 1
            continue
        if isinstance(value, Quote):
            quotes.append((symbol, value))
        elif isinstance(value, Trade):
            trades.append((symbol, value))
        else:
            assert isinstance(value, Bar)
            bars.append((symbol, value, kind == "u"))
    return DataFrame(tuple(quotes), tuple(trades), tuple(bars), tuple(control), ignored)
