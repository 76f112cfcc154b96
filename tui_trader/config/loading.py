"""Building the settings: read the file, check the environment's names, validate, and turn
every failure, wherever it comes from, into one :class:`ConfigError`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from tui_trader.config.errors import ConfigError
from tui_trader.config.messages import from_settings_error, from_validation_error
from tui_trader.config.names import CONFIG_ENV, ENV_PREFIX, config_path
from tui_trader.config.sections import SECTIONS
from tui_trader.config.settings import Settings
from tui_trader.config.sources import FILE_DATA, read_toml


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings: defaults < TOML file < environment < ``overrides``.

    ``overrides`` are field values (sections as nested dicts); ``None`` means "not given", so
    a CLI can pass its parsed options straight through. Every problem, wherever it comes
    from, is raised as one :class:`ConfigError`.
    """
    path, how = config_path(config_file)
    file_data = read_toml(path, how)
    if "config_file" in file_data:
        raise ConfigError(
            f"{path}: config_file", "cannot be set inside the config file", f"use {CONFIG_ENV}"
        )
    _check_env_names()
    given = _drop_none(overrides)
    token = FILE_DATA.set(file_data)
    try:
        return Settings(**given, config_file=path)
    except ValidationError as exc:
        raise from_validation_error(exc, path, file_data, given) from None
    except SettingsError as exc:
        raise from_settings_error(exc) from None
    finally:
        FILE_DATA.reset(token)


def _all_env_names() -> list[str]:
    names = [f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields]
    for section, model in SECTIONS.items():
        names += [f"{ENV_PREFIX}{section.upper()}__{name.upper()}" for name in model.model_fields]
    return [*names, CONFIG_ENV]


def _check_env_names() -> None:
    """Reject TUI_TRADER_* variables that name nothing; pydantic-settings ignores them."""
    for name in sorted(os.environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper == CONFIG_ENV:
            continue
        rest = upper[len(ENV_PREFIX) :]
        head, nested, _ = rest.partition("__")
        field = head.lower()
        if field == "config_file" and not nested:
            raise ConfigError(name, "is not read", f"set {CONFIG_ENV} to choose the config file")
        if field in Settings.model_fields and (not nested or field in SECTIONS):
            continue  # unknown fields inside a section are caught by extra="forbid"
        close = difflib.get_close_matches(upper, _all_env_names(), n=1, cutoff=0.75)
        hint = f"did you mean {close[0]}?" if close else "unset it or fix the spelling"
        raise ConfigError(name, "unknown setting in the environment", hint)


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _drop_none(value) if isinstance(value, Mapping) else value
        for key, value in values.items()
        if value is not None
    }
