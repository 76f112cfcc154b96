"""Where settings come from, other than the command line: the environment (its names are in
:mod:`~tui_trader.config.names`, with the per-user paths) and the TOML file.

``Settings.settings_customise_sources`` reads them in this order: command line >
``TUI_TRADER_*`` > ``APCA_*`` > TOML file > defaults. The file is parsed here, before
validation, so that a TOML syntax error is reported as such and not as a bad field.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

from tui_trader.config.errors import ConfigError
from tui_trader.config.names import ALPACA_ENV

# The parsed TOML file for the Settings being built by load_settings (empty otherwise).
FILE_DATA: ContextVar[Mapping[str, Any] | None] = ContextVar("tui_trader_file_data", default=None)


class FileSource(PydanticBaseSettingsSource):
    """The already-parsed TOML file, so that parse errors are reported before validation."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        data = FILE_DATA.get() or {}
        return data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(FILE_DATA.get() or {})


class AlpacaEnvSource(PydanticBaseSettingsSource):
    """Alpaca's unprefixed variables; blank ones count as unset, like the prefixed ones."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        name = ALPACA_ENV.get(field_name)
        value = os.environ.get(name) if name else None
        return (value if value and value.strip() else None), field_name, False

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, field_name)
            if value is not None:
                data[key] = value
        return data


_TOML_WHERE = re.compile(
    r"^(?P<msg>.*) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$"
)


def read_toml(path: Path, how: str | None) -> dict[str, Any]:
    """Parse the file; missing is fine only for the default path."""
    setting = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if how is None:
            return {}
        raise ConfigError(setting, "config file not found", how) from None
    except OSError as exc:
        raise ConfigError(
            setting, f"cannot read the config file: {exc.strerror}", how or ""
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(setting, f"not UTF-8 text (byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_WHERE.match(str(exc))
        if match is None:
            problem = f"invalid TOML: {exc}"
        elif match["line"]:
            problem = f"invalid TOML at line {match['line']}, column {match['col']}: {match['msg']}"
        else:
            problem = f"invalid TOML at end of file: {match['msg']}"
        raise ConfigError(setting, problem) from None
