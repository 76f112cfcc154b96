"""pydantic's reports turned into one-line :class:`ConfigError` messages: the setting at
fault, what is wrong, and where its value came from (command line, which environment variable,
or the file), so the user knows what to edit. Never the input itself: it may be a secret.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import SettingsError

from tui_trader.config.errors import ConfigError
from tui_trader.config.names import ALPACA_ENV, ENV_PREFIX
from tui_trader.config.sections import SECTIONS
from tui_trader.config.settings import Settings


def _env_names(parts: tuple[str, ...]) -> list[str]:
    """Environment variables that can set ``parts``, highest priority first."""
    if not parts:
        return []
    head = parts[0]
    if len(parts) == 1 or head not in SECTIONS:
        names = [f"{ENV_PREFIX}{head.upper()}"]
        return [*names, ALPACA_ENV[head]] if head in ALPACA_ENV else names
    return [f"{ENV_PREFIX}{head.upper()}__{parts[1].upper()}", f"{ENV_PREFIX}{head.upper()}"]


def _lookup(data: Mapping[str, Any], parts: tuple[str, ...]) -> bool:
    node: Any = data
    for part in parts:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _model_for(parts: tuple[str, ...]) -> type[BaseModel]:
    return SECTIONS[parts[0]] if len(parts) > 1 and parts[0] in SECTIONS else Settings


def _origin_hint(
    parts: tuple[str, ...], path: Path, file_data: Mapping[str, Any], given: Mapping[str, Any]
) -> str:
    """Say where the offending value came from, so the user knows what to edit."""
    key = parts[:2]
    if _lookup(given, key):
        return "given on the command line"
    environ = {name.upper(): value for name, value in os.environ.items() if value.strip()}
    for name in _env_names(key):
        if name in environ:
            return f"set by {name} in the environment"
    if _lookup(file_data, key):
        return f"set in {path}"
    names = _env_names(key)
    return f"set in {path} or {names[-1] if len(key) == 1 else names[0]}" if names else ""


def _setting_parts(error: ErrorDetails) -> tuple[str, ...]:
    """Dotted path of the field at fault; our validators name a field relative to their model."""
    parts = tuple(part for part in error["loc"] if isinstance(part, str))
    cause = (error.get("ctx") or {}).get("error")
    return (*parts, *cause.setting.split(".")) if isinstance(cause, ConfigError) else parts


def from_validation_error(
    exc: ValidationError, path: Path, file_data: Mapping[str, Any], given: Mapping[str, Any]
) -> ConfigError:
    """Turn pydantic's report into one line: location and message only, never the input."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    parts = _setting_parts(first)
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, ConfigError):
        problem, hint = cause.problem, cause.hint
    elif first["type"] == "extra_forbidden":
        known = list(_model_for(parts).model_fields)
        close = difflib.get_close_matches(parts[-1].lower(), known, n=1, cutoff=0.6)
        problem = "unknown setting" + (f"; did you mean {close[0]}?" if close else "")
        hint = ""
    else:
        problem = first["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        hint = ""
    setting = ".".join(parts) or "settings"
    setting += "".join(f"[{part}]" for part in first["loc"] if isinstance(part, int))
    hint = hint or _origin_hint(parts, path, file_data, given)
    others = dict.fromkeys(".".join(_setting_parts(err)) or "settings" for err in errors[1:])
    others.pop(setting, None)
    if others:
        hint = f"{hint}; also wrong: {', '.join(others)}".lstrip("; ")
    return ConfigError(setting, problem, hint)


_SETTINGS_ERROR = re.compile(r'field "(?P<field>[^"]+)" from source "(?P<source>\w+)"')


def from_settings_error(exc: SettingsError) -> ConfigError:
    """pydantic-settings failed to decode an environment value (a section given as JSON)."""
    match = _SETTINGS_ERROR.search(str(exc))
    field = match["field"] if match else "environment"
    hint = f"{ENV_PREFIX}{field.upper()} must be a JSON object" if match else ""
    return ConfigError(field, "could not parse the value from the environment", hint)
