"""Settings for the whole program, from defaults < TOML file < environment < command line.

Alpaca's own variables (``APCA_API_KEY_ID`` and friends, API.md §1.3) are honoured so an
existing Alpaca setup works unchanged; everything else lives under ``TUI_TRADER_`` with ``__``
between a section and its field. The mode rules exist so that real money is only ever traded
when someone wrote ``live`` on purpose, and so that a fresh install runs against the emulator.

Errors leave through :class:`ConfigError`, one line built from where the problem is and what
is wrong with it, never from the offending value: that value may be a secret.

One :class:`Settings` (posting's layout), its parts split by job; import them from here:

- :mod:`~tui_trader.config.settings`: ``Settings``, its top-level fields and the mode rules
  (where orders go; live never implicit);
- :mod:`~tui_trader.config.sections`: the ``[sim]``, ``[stream]``, ``[risk]``, ``[policy]``
  and ``[ui]`` sections, and the core's plain values built from them;
- :mod:`~tui_trader.config.sources`: the environment's names, the per-user paths, the TOML
  file;
- :mod:`~tui_trader.config.loading`: :func:`load_settings`, which reads them in order;
- :mod:`~tui_trader.config.errors` and :mod:`~tui_trader.config.messages`: ``ConfigError``
  and the one-line messages built from pydantic's reports;
- :mod:`~tui_trader.config.parsing`: how raw text becomes field values.
"""

from __future__ import annotations

from tui_trader.config.errors import ConfigError
from tui_trader.config.loading import load_settings
from tui_trader.config.sections import (
    DataFeed,
    DataSettings,
    PolicySettings,
    RiskSettings,
    SimSettings,
    StreamName,
    StreamSettings,
    UiSettings,
)
from tui_trader.config.settings import LIVE_HOSTS, ApiFamily, Mode, Settings, normalize_url
from tui_trader.config.sources import (
    APP_NAME,
    BASE_URL_ENV,
    CONFIG_ENV,
    DATA_URL_ENV,
    ENV_PREFIX,
    KEY_ID_ENV,
    SECRET_KEY_ENV,
    default_config_file,
)

__all__ = [
    "APP_NAME",
    "BASE_URL_ENV",
    "CONFIG_ENV",
    "DATA_URL_ENV",
    "ENV_PREFIX",
    "KEY_ID_ENV",
    "LIVE_HOSTS",
    "SECRET_KEY_ENV",
    "ApiFamily",
    "ConfigError",
    "DataFeed",
    "DataSettings",
    "Mode",
    "PolicySettings",
    "RiskSettings",
    "Settings",
    "SimSettings",
    "StreamName",
    "StreamSettings",
    "UiSettings",
    "default_config_file",
    "load_settings",
    "normalize_url",
]
