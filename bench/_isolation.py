"""What every benchmark child runs in: this machine's environment without any Alpaca or
tui-trader setting, with home, config, data, state, cache and logs under one temp folder."""

from __future__ import annotations

import os
from pathlib import Path

KEY, SECRET = "bench-key", "bench-secret"


def isolated_env(root: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("TUI_TRADER_", "APCA_", "XDG_"))
    }
    config = root / "config.toml"
    config.write_text("")
    for sub in ("home", "config", "data", "state", "cache", "logs", "themes"):
        (root / sub).mkdir(exist_ok=True)
    env.update(
        HOME=str(root / "home"),
        XDG_CONFIG_HOME=str(root / "config"),
        XDG_DATA_HOME=str(root / "data"),
        XDG_STATE_HOME=str(root / "state"),
        XDG_CACHE_HOME=str(root / "cache"),
        TUI_TRADER_CONFIG=str(config),
        TUI_TRADER_DATA_DIR=str(root / "data"),
        TUI_TRADER_LOG_DIR=str(root / "logs"),
        APCA_API_KEY_ID=KEY,
        APCA_API_SECRET_KEY=SECRET,
        PYTHONUNBUFFERED="0",
    )
    return env
