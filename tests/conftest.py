"""Fixtures shared by every test directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of a user with no Alpaca or tui-trader setup at all."""
    home = tmp_path / "home"
    home.mkdir()
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith(("APCA_", "TUI_TRADER_", "XDG_"))
    }
    clean["HOME"] = str(home)
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        clean[f"XDG_{name}_HOME"] = str(home / name.lower())
    return clean
