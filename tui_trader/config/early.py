"""What can be said of the settings before they are built, for the screen to draw at once.

Building :class:`~tui_trader.config.Settings` costs about 0.15 s (pydantic's import and the
models' schemas: a third of the screen's first frame, bench/startup.py). The screen draws its
first frame first and builds the settings behind it, unless they might put the desk on a live
account: that account is confirmed at the terminal before anything is drawn or connected
(:mod:`tui_trader.desk.launch.consent`). :func:`could_be_live` answers that without pydantic,
and errs towards yes: a wrong yes only costs the early frame, a wrong no is caught after the
settings are built (the start refuses a live account it was not confirmed for).
"""

from __future__ import annotations

import os
from pathlib import Path

from tui_trader.config.names import ENV_PREFIX, config_path

_MODE_ENV = f"{ENV_PREFIX}MODE"


def could_be_live(config_file: Path | None) -> bool:
    """False only when the settings cannot be live: no ``TUI_TRADER_MODE`` that says live
    (in any case), and a config file that is absent (the default one) or readable and never
    says ``live`` anywhere, comments included, nor holds a TOML ``\\u`` escape (which could
    spell it). A file that cannot be read answers True: the
    settings' own error is then said before any screen, as it always was."""
    for name, value in os.environ.items():
        if name.upper() == _MODE_ENV and "live" in value.lower():
            return True
    path, named = config_path(config_file)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return named is not None  # a file named but missing: its error, before the screen
    except OSError:
        return True
    text = raw.lower()
    return b"live" in text or b"\\u" in text
