"""Fixtures shared by every test directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# No per-example time limit: hypothesis's 200 ms deadline is a wall-clock assertion, and on a
# busy 2-core machine the first example of a test (imports, caches) has run past it. Every
# property is still checked on the same number of examples.
settings.register_profile("project", deadline=None)
settings.load_profile("project")


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
