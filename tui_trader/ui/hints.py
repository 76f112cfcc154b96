"""The first-run hint: one line over the footer that says which keys do what, shown until the
trader's first key press and never again (remembered in the user state dir)."""

from __future__ import annotations

from pathlib import Path

from tui_trader.ui.state_file import read_json, state_dir, write_json

HINT = (
    "1 desk · 2 watchlist · 3 orders · 4 charts · p pause · f flatten · o order · "
    "Tab/z focus and zoom a pane · ? every key  (this line goes at your first key)"
)
SHORT_HINT = "1-4 views · p pause · f flatten · o order · z zoom · ? keys · any key hides"


def hint_for(width: int) -> str:
    """The whole hint where it fits, else the short one (78 columns at 80x24)."""
    return HINT if len(HINT) <= width else SHORT_HINT


class HintMemory:
    """Whether the first-run hint was seen, in ``hints.json`` beside the theme's file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else state_dir() / "hints.json"

    def seen(self) -> bool:
        return read_json(self.path).get("first_run_seen") is True

    def mark_seen(self) -> bool:
        return write_json(self.path, {**read_json(self.path), "first_run_seen": True})
