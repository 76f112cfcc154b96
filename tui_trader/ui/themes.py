"""Themes: one TOML file each, validated into :class:`textual.theme.Theme`.

The bundled themes ship inside the package (``tui_trader/themes``, from the repository's
top-level ``themes/`` folder); a user's own files in :func:`user_theme_dir` are loaded after
them and may replace one by using its name. A file that does not validate is reported in
:attr:`ThemeSet.problems` and skipped, so a typo never stops the desk from starting.

The desk's own colours (profit, loss, breaker states, stale data) are theme
``variables``. TCSS refers to them only as ``$profit`` and friends; a variable missing from
every source fails CSS parsing at start-up, so every loaded theme carries all of them, and
:func:`theme_variable_defaults` gives them for a theme that did not come from a file (Textual's
built-ins): use it from ``App.get_theme_variable_defaults``.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
import tomllib
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

from tui_trader.config import default_config_file
from tui_trader.ui.state_file import read_json, state_dir, write_json

__all__ = [
    "BUNDLED_PACKAGE",
    "DEFAULT_THEME",
    "FALLBACK_THEME",
    "THEME_VARIABLES",
    "ThemeError",
    "ThemeMemory",
    "ThemeSet",
    "bundled_theme_dir",
    "load_theme_file",
    "load_themes",
    "pick_theme",
    "theme_variable_defaults",
    "user_theme_dir",
]

DEFAULT_THEME = "desk-dark"
FALLBACK_THEME = "textual-dark"  # built into Textual: there even if every file is broken
BUNDLED_PACKAGE = "tui_trader.themes"

THEME_VARIABLES: Mapping[str, str] = MappingProxyType(
    {
        "profit": "#3FB950",
        "loss": "#F85149",
        "breaker-tripped": "#F85149",
        "breaker-warning": "#D29922",
        "stale": "#808080",
    }
)
"""The desk's colour variables, with values for a theme that sets neither them nor a palette."""

# Which palette colour an app variable follows when a theme sets that colour but not the
# variable, so that a theme without a [variables] table still looks like itself.
_DERIVED_FROM: Mapping[str, str] = MappingProxyType(
    {
        "profit": "success",
        "loss": "error",
        "breaker-tripped": "error",
        "breaker-warning": "warning",
    }
)

_COLOUR_FIELDS = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
    "success",
    "warning",
    "error",
)
_FRACTION_FIELDS = ("luminosity_spread", "text_alpha")
_KNOWN_KEYS = ("name", *_COLOUR_FIELDS, "dark", *_FRACTION_FIELDS, "variables")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# A Textual variable's value: colours, percentages and plain words ("#81A1C1 35%", "auto 87%",
# "bold not underline"); nothing that could end a CSS declaration or block.
_PERCENT = re.compile(r"^\d{1,3}(\.\d+)?%$")
_WORD = re.compile(r"^[a-z][a-z-]*$")


class ThemeError(ValueError):
    """A theme file is unusable. ``str()`` is one line: file name, field, problem."""

    def __init__(self, path: Path, field: str, problem: str) -> None:
        self.path = path
        self.field = field
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path.name}: {self.field}" if self.field else self.path.name
        return f"{where}: {self.problem}"


@dataclass
class ThemeSet:
    """Every usable theme by name (bundled first, then the user's) and what was skipped."""

    themes: dict[str, Theme] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@cache
def _textual_variables() -> frozenset[str]:
    """Names of the variables Textual's colour system defines (``footer-key-foreground``...)."""
    return frozenset(Theme(name="probe", primary="#000000").to_color_system().generate())


def theme_variable_defaults(theme: Theme | None = None) -> dict[str, str]:
    """Values for every app variable: the theme's own, else its matching palette colour.

    For a theme with no ``success`` colour (say), ``profit`` falls back to
    :data:`THEME_VARIABLES`; a theme's explicit ``variables`` always win.
    """
    values = dict(THEME_VARIABLES)
    if theme is None:
        return values
    for name, source in _DERIVED_FROM.items():
        colour = getattr(theme, source)
        if isinstance(colour, str) and colour:
            values[name] = colour
    for name in THEME_VARIABLES:
        if name in theme.variables:
            values[name] = theme.variables[name]
    return values


def _colour(path: Path, where: str, value: object) -> str:
    if not isinstance(value, str):
        raise ThemeError(path, where, f"not a colour {value!r}: write a string like '#FFB000'")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeError(path, where, f"not a colour {value!r}") from None
    return value


def _css_value(path: Path, where: str, value: object) -> str:
    if not isinstance(value, str) or not value.split():
        raise ThemeError(path, where, f"not a CSS value {value!r}")
    for token in value.split():
        if _PERCENT.match(token) or _WORD.match(token):
            continue
        try:
            Color.parse(token)
        except ColorParseError:
            raise ThemeError(path, where, f"not a colour, percentage or word {token!r}") from None
    return value


def _unknown(path: Path, where: str, key: str, known: list[str]) -> ThemeError:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return ThemeError(path, where, f"unknown key{hint}")


def _variables(path: Path, table: object) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ThemeError(path, "variables", "must be a table: write [variables]")
    known = sorted({*THEME_VARIABLES, *_textual_variables()})
    variables: dict[str, str] = {}
    for name, value in table.items():
        where = f"variables.{name}"
        if name in THEME_VARIABLES:
            variables[name] = _colour(path, where, value)
        elif name in _textual_variables():
            variables[name] = _css_value(path, where, value)
        else:
            raise _unknown(path, where, name, known)
    return variables


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ThemeError(path, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ThemeError(path, "", f"not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(path, "", f"invalid TOML: {exc}") from None


def load_theme_file(path: Path, *, generate: bool = True) -> Theme:
    """Parse and validate one theme file; every app variable is filled in. ``generate``:
    also have Textual build its colour system, the last guard (about 10 ms a theme on the
    way to the first frame: the bundled themes skip it, their tests run it).

    Raises:
        ThemeError: naming the file and the field at fault.
    """
    data = _read(path)
    for key in data:
        if key not in _KNOWN_KEYS:
            raise _unknown(path, key, key, list(_KNOWN_KEYS))
    for required in ("name", "primary"):
        if required not in data:
            raise ThemeError(path, required, "missing")
    name = data["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise ThemeError(
            path, "name", f"not a theme name {name!r}: letters, digits, '-', '_' or '.'"
        )
    colours = {key: _colour(path, key, data[key]) for key in _COLOUR_FIELDS if key in data}
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(path, "dark", f"must be true or false, not {dark!r}")
    fractions: dict[str, float] = {}
    for key in _FRACTION_FIELDS:
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ThemeError(path, key, f"must be a number from 0 to 1, not {value!r}")
            fractions[key] = float(value)
    explicit = _variables(path, data.get("variables", {}))
    theme = Theme(
        name=name,
        primary=colours["primary"],
        secondary=colours.get("secondary"),
        accent=colours.get("accent"),
        foreground=colours.get("foreground"),
        background=colours.get("background"),
        surface=colours.get("surface"),
        panel=colours.get("panel"),
        boost=colours.get("boost"),
        success=colours.get("success"),
        warning=colours.get("warning"),
        error=colours.get("error"),
        dark=dark,
    )
    for key, fraction in fractions.items():  # unset ones keep Textual's defaults
        setattr(theme, key, fraction)
    theme.variables = {**theme_variable_defaults(theme), **explicit}
    if not generate:
        return theme
    try:
        theme.to_color_system().generate()
    except (ColorParseError, ValueError) as exc:  # validated above; this is a last guard
        raise ThemeError(path, "", f"Textual rejects the theme: {exc}") from None
    return theme


def bundled_theme_dir() -> Path:
    """The themes that ship with tui-trader: ``tui_trader/themes`` in a wheel.

    setup.py maps the repository's top-level ``themes/`` folder to the package
    ``tui_trader.themes``, so an editable install finds the same folder through its import hook.

    Raises:
        FileNotFoundError: the package is not installed (run ``pip install -e .``).
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    locations = spec.submodule_search_locations if spec is not None else None
    if not locations:
        raise FileNotFoundError(
            f"{BUNDLED_PACKAGE} is not installed: reinstall tui-trader (pip install -e .)"
        )
    return Path(next(iter(locations)))


def user_theme_dir() -> Path:
    """Where a user puts their own theme files: ``themes/`` beside the default config file."""
    return default_config_file().parent / "themes"


def _theme_files(folder: Path) -> list[Path]:
    return sorted(
        path for path in folder.glob("*.toml") if path.is_file() and not path.name.startswith(".")
    )


def _load_folder(
    folder: Path, themes: dict[str, Theme], problems: list[str], *, generate: bool = True
) -> None:
    try:
        files = _theme_files(folder)
    except OSError as exc:
        problems.append(f"theme folder skipped: {folder}: {exc.strerror or exc}")
        return
    seen: dict[str, Path] = {}
    for path in files:
        try:
            theme = load_theme_file(path, generate=generate)
            if theme.name in seen:
                raise ThemeError(
                    path, "name", f"{theme.name!r} is already used by {seen[theme.name].name}"
                )
        except ThemeError as exc:
            problems.append(f"theme skipped: {exc} ({folder})")
            continue
        seen[theme.name] = path
        themes[theme.name] = theme


def load_themes(user_dir: Path | None, *, bundled_dir: Path | None = None) -> ThemeSet:
    """Load the bundled themes, then the user's (which may replace one by name).

    A missing ``user_dir`` is normal (no user themes); an invalid file is one line in
    ``problems`` and is skipped. ``bundled_dir`` replaces :func:`bundled_theme_dir` (tests).
    """
    result = ThemeSet()
    if bundled_dir is None:
        try:
            bundled_dir = bundled_theme_dir()
        except FileNotFoundError as exc:
            result.problems.append(f"bundled themes missing: {exc}")
    if bundled_dir is not None:
        _load_folder(bundled_dir, result.themes, result.problems, generate=False)
    if user_dir is not None and user_dir.exists():
        _load_folder(user_dir, result.themes, result.problems)
    return result


def pick_theme(available: Container[str], remembered: str | None, configured: str | None) -> str:
    """The theme to start with: the one chosen last time, else the configured one, else ours.

    ``available`` is every name the app can show (``App.available_themes``: the loaded ones
    plus Textual's built-ins), so a remembered built-in is honoured too. If even
    ``desk-dark`` failed to load, Textual's own ``textual-dark`` is the answer.
    """
    for name in (remembered, configured, DEFAULT_THEME):
        if name and name in available:
            return name
    return FALLBACK_THEME


def _default_memory_file() -> Path:
    return state_dir() / "theme.json"


class ThemeMemory:
    """The theme chosen last, kept across runs in a small JSON file in the user state dir."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else _default_memory_file()

    def get(self) -> str | None:
        """The remembered name, or None when nothing usable is stored."""
        name = read_json(self.path).get("theme")
        return name if isinstance(name, str) and name else None

    def set(self, name: str) -> bool:
        """Remember ``name``; the file is replaced whole. False if it could not be written."""
        return write_json(self.path, {"theme": name})
