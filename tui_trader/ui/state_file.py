"""Small JSON files the screen keeps in the user state dir (the theme chosen last, whether the
first-run hint was seen): read leniently, written whole and atomically, so a crash mid-write
never leaves half a file and a damaged file is simply ignored."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import platformdirs

from tui_trader.config import APP_NAME


def state_dir() -> Path:
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))


def read_json(path: Path) -> dict[str, Any]:
    """The object stored at ``path``; empty when missing, unreadable or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable, not UTF-8, not JSON
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: dict[str, Any]) -> bool:
    """Replace ``path`` with ``data`` (temp file, fsync, rename). False if it could not."""
    text = json.dumps(data) + "\n"
    temp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
        temp = None
    except OSError:
        return False
    finally:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)
    return True
