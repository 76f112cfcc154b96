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
- :mod:`~tui_trader.config.names`: the environment's names and the per-user paths;
  :mod:`~tui_trader.config.modes`: ``Mode`` and ``ApiFamily``;
- :mod:`~tui_trader.config.sources`: the environment and the TOML file as pydantic sources;
- :mod:`~tui_trader.config.loading`: :func:`load_settings`, which reads them in order;
- :mod:`~tui_trader.config.errors` and :mod:`~tui_trader.config.messages`: ``ConfigError``
  and the one-line messages built from pydantic's reports;
- :mod:`~tui_trader.config.parsing`: how raw text becomes field values;
- :mod:`~tui_trader.config.early`: what can be known before the settings are built.

The names from pydantic-backed modules are imported when first asked for (PEP 562), so that
``from tui_trader.config import Mode`` or ``APP_NAME`` costs no pydantic: the screen draws its
first frame before the settings are built (bench/startup.py).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from tui_trader.config.errors import ConfigError
from tui_trader.config.modes import ApiFamily, Mode
from tui_trader.config.names import (
    APP_NAME,
    BASE_URL_ENV,
    CONFIG_ENV,
    DATA_URL_ENV,
    ENV_PREFIX,
    KEY_ID_ENV,
    SECRET_KEY_ENV,
    default_config_file,
)

if TYPE_CHECKING:
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
    from tui_trader.config.settings import LIVE_HOSTS, Settings, normalize_url

_LATER = {
    "load_settings": "loading",
    "DataFeed": "sections",
    "DataSettings": "sections",
    "PolicySettings": "sections",
    "RiskSettings": "sections",
    "SimSettings": "sections",
    "StreamName": "sections",
    "StreamSettings": "sections",
    "UiSettings": "sections",
    "LIVE_HOSTS": "settings",
    "Settings": "settings",
    "normalize_url": "settings",
}


def __getattr__(name: str) -> Any:
    module = _LATER.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # asked once
    return value


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
