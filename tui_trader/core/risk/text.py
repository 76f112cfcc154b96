"""The risk engine's wording: every reason and denial reads ``CODE: key=value ...``.

One format for the breakers' reasons, the gate's denials and the journal's breaker log, so a
person and a program read the same text; money shows to the cent, limits as they were set.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, localcontext

from tui_trader.core.types import format_decimal

_CENT = Decimal("0.01")


def money(value: Decimal | None) -> str:
    return "unknown" if value is None else fixed(value, _CENT)


def fixed(value: Decimal, step: Decimal) -> str:
    with localcontext() as ctx:
        ctx.prec = 1000  # quantize fails when the digits exceed the precision
        return f"{value.quantize(step):f}"


def num(value: Decimal | None) -> str:
    return "unknown" if value is None else format_decimal(value)


def text(code: str, context: Mapping[str, object]) -> str:
    """``CODE: key=value ...``; values are tokens (spaces would break the format)."""
    pairs = " ".join(f"{key}={str(value).replace(' ', '_')}" for key, value in context.items())
    return f"{code}: {pairs}" if pairs else str(code)
