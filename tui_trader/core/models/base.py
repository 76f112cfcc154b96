"""What every wire model shares: :class:`WireModel`, the lenient scalars and :func:`parse_json`.

The tolerance rules of the package docstring live here once, so that each resource's model
only names its fields.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from tui_trader.core.types import format_decimal, to_decimal

# --- lenient scalars local to the models -------------------------------------------------------


def _null_to_empty(value: Any) -> Any:
    return "" if value is None else value


def _trim_symbol(value: Any) -> Any:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else value


def _trim_opt_symbol(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip() or None
    return value


def _null_to_false(value: Any) -> Any:
    return False if value is None else value


def _decimal_or_zero(value: Any) -> Decimal:
    result = to_decimal(value)
    return Decimal(0) if result is None else result


NullStr = Annotated[str, BeforeValidator(_null_to_empty)]
"""An open-enum string: ``null`` and a missing key both read as ``""``, never rejected."""

Symbol = Annotated[str, BeforeValidator(_trim_symbol)]
"""A ticker with surrounding whitespace removed (the docs publish ``"AAPL "``)."""

OptSymbol = Annotated[str | None, BeforeValidator(_trim_opt_symbol)]
"""As :data:`Symbol`, but ``""`` (NTA events, activities) means no symbol."""

NullBool = Annotated[bool, BeforeValidator(_null_to_false)]
"""A flag where ``null`` and absence mean ``False``."""

ZeroDec = Annotated[
    Decimal,
    BeforeValidator(_decimal_or_zero),
    PlainSerializer(format_decimal, return_type=str),
]
"""A quantity where ``null``/``""``/absence mean zero (``filled_qty`` before any fill)."""


def parse_json(text: str | bytes) -> Any:
    """``json.loads`` with exact decimals: JSON numbers become Decimal, never float."""
    return json.loads(text, parse_float=Decimal)


class WireModel(BaseModel):
    """Base of every wire model: unknown keys kept (visible in ``model_extra``), immutable."""

    model_config = ConfigDict(extra="allow", frozen=True)
