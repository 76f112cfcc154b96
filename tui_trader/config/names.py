"""The settings' names and places that cost nothing to know: the environment's variable names
(ours and Alpaca's own, API.md §1.3) and the per-user paths.

Kept apart from the pydantic models (:mod:`~tui_trader.config.settings`) so that the screen's
first frame, and whatever else needs only a name or a path, does not pay for importing
pydantic (about 0.15 s of a 0.45 s start, bench/startup.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "tui-trader"
ENV_PREFIX = "TUI_TRADER_"
CONFIG_ENV = "TUI_TRADER_CONFIG"
KEY_ID_ENV = "APCA_API_KEY_ID"
SECRET_KEY_ENV = "APCA_API_SECRET_KEY"
BASE_URL_ENV = "APCA_API_BASE_URL"
DATA_URL_ENV = "APCA_API_DATA_URL"
DATA_STREAM_URL_ENV = "APCA_API_DATA_STREAM_URL"

# Alpaca's variables, read below the TUI_TRADER_ names and above the file.
ALPACA_ENV: dict[str, str] = {
    "key_id": KEY_ID_ENV,
    "secret_key": SECRET_KEY_ENV,
    "base_url": BASE_URL_ENV,
    "data_url": DATA_URL_ENV,
    "data_stream_url": DATA_STREAM_URL_ENV,
}


def default_config_file() -> Path:
    """Per-user config file path (``TUI_TRADER_CONFIG`` or an argument overrides it)."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def config_path(argument: Path | None) -> tuple[Path, str | None]:
    """The file to read, and for an explicitly named one, how the user named it."""
    if argument is not None:
        return Path(argument).expanduser(), "check the config file path given"
    from_env = os.environ.get(CONFIG_ENV, "").strip()
    if from_env:
        return Path(from_env).expanduser(), f"check {CONFIG_ENV}"
    return default_config_file(), None
