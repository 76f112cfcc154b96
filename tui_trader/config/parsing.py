"""How raw text from the environment and the TOML file becomes field values.

Shared by the sections and the top-level settings: blank means unset, names are read without
regard to case, lists come as ``A,B,C`` or JSON.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr


def blank_to_none(value: Any) -> Any:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str):
        return value.strip() or None
    return value


def lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def split_list(value: Any) -> Any:
    """Accept ``A,B,C`` or a JSON list from the environment; lists from TOML pass through."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError("not a valid JSON list; write A,B,C or a JSON list") from None
    return [item.strip() for item in text.split(",") if item.strip()]


def no_duplicates(items: list[str]) -> None:
    seen: set[str] = set()
    for position, item in enumerate(items, start=1):
        if item in seen:
            raise ValueError(f"entry {position} repeats an earlier one")
        seen.add(item)
