"""Themes: the shipped files load and are complete, bad files are skipped, choices persist."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.color import Color
from textual.theme import Theme
from textual.widgets import Static

from tui_trader.ui.themes import (
    THEME_VARIABLES,
    ThemeError,
    ThemeMemory,
    bundled_theme_dir,
    load_theme_file,
    load_themes,
    pick_theme,
    theme_variable_defaults,
    user_theme_dir,
)

REPO_THEMES = Path(__file__).resolve().parents[2] / "themes"
THEME_FILES = sorted(REPO_THEMES.glob("*.toml"))
GOOD = """\
name = "{name}"
primary = "#112233"
"""


def write(folder: Path, filename: str, text: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --- the shipped themes -----------------------------------------------------------------------


def test_the_repository_ships_the_three_themes() -> None:
    assert {path.stem for path in THEME_FILES} >= {"desk-dark", "desk-light", "amber"}


@pytest.mark.parametrize("path", THEME_FILES, ids=lambda path: path.stem)
def test_a_shipped_theme_loads_and_spells_out_every_app_variable(path: Path) -> None:
    theme = load_theme_file(path)

    assert theme.name == path.stem
    written = tomllib.loads(path.read_text(encoding="utf-8"))["variables"]
    assert set(THEME_VARIABLES) <= set(written), "bundled themes must not rely on defaults"
    assert {name: theme.variables[name] for name in THEME_VARIABLES} == {
        name: written[name] for name in THEME_VARIABLES
    }


def _luminance(colour: Color) -> float:
    def channel(value: int) -> float:
        v = value / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(colour.r) + 0.7152 * channel(colour.g) + 0.0722 * channel(colour.b)


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(Color.parse(a)), _luminance(Color.parse(b))), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("path", THEME_FILES, ids=lambda path: path.stem)
def test_a_shipped_theme_keeps_money_and_breakers_readable(path: Path) -> None:
    theme = load_theme_file(path)
    assert theme.background is not None
    v = theme.variables

    for name in ("profit", "loss", "breaker-tripped", "breaker-warning"):
        assert _contrast(v[name], theme.background) >= 4.5, name  # WCAG AA for text
    assert _contrast(v["stale"], theme.background) >= 2.5  # dim on purpose, still legible
    profit, loss = Color.parse(v["profit"]), Color.parse(v["loss"])
    assert math.dist(profit.rgb, loss.rgb) >= 100, "profit and loss must not look alike"


def test_the_bundled_dir_holds_exactly_the_repository_theme_files() -> None:
    bundled = bundled_theme_dir()
    shipped = {path.name: path.read_bytes() for path in bundled.glob("*.toml")}

    assert shipped == {path.name: path.read_bytes() for path in THEME_FILES}


def test_the_bundled_set_loads_without_problems() -> None:
    themes = load_themes(None)

    assert themes.problems == []
    assert list(themes.themes) == sorted(path.stem for path in THEME_FILES)


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'name = "x"\nprimary = "#zzz"\n',
            "broken.toml: primary: not a colour '#zzz'",
        ),
        (
            'name = "x"\nprimary = "#112233"\ncolour = "#112233"\n',
            "broken.toml: colour: unknown key",
        ),
        (
            'name = "x"\nprimary = "#112233"\nbackgound = "#000000"\n',
            "broken.toml: backgound: unknown key (did you mean background?)",
        ),
        (
            'name = "x"\nprimary = "#112233\n',
            "broken.toml: invalid TOML: Illegal character '\\n' (at line 2, column 19)",
        ),
        ('name = "x"\n', "broken.toml: primary: missing"),
        ('primary = "#112233"\n', "broken.toml: name: missing"),
        (
            'name = "my theme"\nprimary = "#112233"\n',
            "broken.toml: name: not a theme name 'my theme': letters, digits, '-', '_' or '.'",
        ),
        (
            'name = "x"\nprimary = 12\n',
            "broken.toml: primary: not a colour 12: write a string like '#FFB000'",
        ),
        (
            'name = "x"\nprimary = "#112233"\ndark = "yes"\n',
            "broken.toml: dark: must be true or false, not 'yes'",
        ),
        (
            'name = "x"\nprimary = "#112233"\ntext_alpha = 1.5\n',
            "broken.toml: text_alpha: must be a number from 0 to 1, not 1.5",
        ),
        (
            'name = "x"\nprimary = "#112233"\nvariables = 3\n',
            "broken.toml: variables: must be a table: write [variables]",
        ),
        (
            'name = "x"\nprimary = "#112233"\n[variables]\nprofit = "greenish"\n',
            "broken.toml: variables.profit: not a colour 'greenish'",
        ),
        (
            'name = "x"\nprimary = "#112233"\n[variables]\nproft = "#00FF00"\n',
            "broken.toml: variables.proft: unknown key (did you mean profit?)",
        ),
        (
            'name = "x"\nprimary = "#112233"\n[variables]\nfooter-key-foreground = "red; }"\n',
            "broken.toml: variables.footer-key-foreground: not a colour, percentage or word 'red;'",
        ),
    ],
    ids=[
        "bad-colour",
        "unknown-key",
        "unknown-key-hint",
        "bad-toml",
        "no-primary",
        "no-name",
        "bad-name",
        "colour-not-text",
        "dark-not-bool",
        "fraction-out-of-range",
        "variables-not-table",
        "bad-app-variable",
        "unknown-variable",
        "css-injection",
    ],
)
def test_an_invalid_file_is_refused_naming_the_file_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, "broken.toml", text)

    with pytest.raises(ThemeError) as caught:
        load_theme_file(path)

    assert str(caught.value) == message


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "latin.toml", b'name = "caf\xe9"\nprimary = "#112233"\n')

    with pytest.raises(ThemeError, match=r"^latin\.toml: not UTF-8 text \(byte 11\)$"):
        load_theme_file(path)


def test_textual_variables_take_colours_percentages_and_words(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "extra.toml",
        GOOD.format(name="extra")
        + '[variables]\ninput-selection-background = "#81A1C1 35%"\n'
        + 'block-cursor-text-style = "bold not underline"\n',
    )

    theme = load_theme_file(path)

    assert theme.variables["input-selection-background"] == "#81A1C1 35%"
    assert theme.variables["block-cursor-text-style"] == "bold not underline"


def test_invalid_user_files_are_reported_and_skipped_while_good_ones_load(
    tmp_path: Path,
) -> None:
    user = tmp_path / "themes"
    write(user, "a-bad-colour.toml", 'name = "bad1"\nprimary = "#zzz"\n')
    write(user, "b-unknown-key.toml", GOOD.format(name="bad2") + 'colour = "#000000"\n')
    write(user, "c-bad-toml.toml", "name = \n")
    write(user, "d-good.toml", GOOD.format(name="mine"))
    write(user, "notes.txt", "not a theme")

    themes = load_themes(user)

    assert "mine" in themes.themes
    assert {"bad1", "bad2"}.isdisjoint(themes.themes)
    assert set(themes.themes) >= {"desk-dark", "desk-light", "amber"}
    assert len(themes.problems) == 3
    for problem, name in zip(
        themes.problems, ("a-bad-colour", "b-unknown-key", "c-bad-toml"), strict=True
    ):
        assert problem.startswith(f"theme skipped: {name}.toml: ")
        assert problem.endswith(f"({user})")
        assert "\n" not in problem


def test_a_user_theme_replaces_a_bundled_one_of_the_same_name(tmp_path: Path) -> None:
    user = tmp_path / "themes"
    write(user, "my-dark.toml", GOOD.format(name="desk-dark"))

    themes = load_themes(user)

    assert themes.problems == []
    assert themes.themes["desk-dark"].primary == "#112233"
    assert (
        themes.themes["desk-light"].primary
        == load_theme_file(REPO_THEMES / "desk-light.toml").primary
    )


def test_two_user_files_with_one_name_keep_the_first(tmp_path: Path) -> None:
    user = tmp_path / "themes"
    write(user, "a.toml", GOOD.format(name="twin"))
    write(user, "b.toml", 'name = "twin"\nprimary = "#445566"\n')

    themes = load_themes(user)

    assert themes.themes["twin"].primary == "#112233"
    assert themes.problems == [
        f"theme skipped: b.toml: name: 'twin' is already used by a.toml ({user})"
    ]


def test_no_user_folder_is_no_problem(tmp_path: Path) -> None:
    assert load_themes(tmp_path / "missing").problems == []


def test_a_broken_bundled_theme_is_reported_not_fatal(tmp_path: Path) -> None:
    bundled = tmp_path / "bundled"
    write(bundled, "desk-dark.toml", 'name = "desk-dark"\nprimary = "nope"\n')
    write(bundled, "desk-light.toml", GOOD.format(name="desk-light"))

    themes = load_themes(None, bundled_dir=bundled)

    assert list(themes.themes) == ["desk-light"]
    assert themes.problems == [
        f"theme skipped: desk-dark.toml: primary: not a colour 'nope' ({bundled})"
    ]
    assert pick_theme(themes.themes, None, "desk-dark") == "textual-dark"


# --- variables and defaults -------------------------------------------------------------------


def test_omitted_app_variables_follow_the_palette_then_the_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "partial.toml",
        GOOD.format(name="partial") + 'success = "#00FF00"\n[variables]\nloss = "#FF00FF"\n',
    )

    theme = load_theme_file(path)

    assert theme.variables["profit"] == "#00FF00"  # from success
    assert theme.variables["loss"] == "#FF00FF"  # written
    assert theme.variables["breaker-tripped"] == THEME_VARIABLES["breaker-tripped"]  # no error
    assert theme.variables["stale"] == THEME_VARIABLES["stale"]


def test_defaults_for_a_theme_from_elsewhere() -> None:
    assert theme_variable_defaults() == dict(THEME_VARIABLES)
    nordish = Theme(name="n", primary="#88C0D0", error="#BF616A", variables={"stale": "#4C566A"})
    defaults = theme_variable_defaults(nordish)
    assert defaults["loss"] == "#BF616A"
    assert defaults["stale"] == "#4C566A"
    assert defaults["profit"] == THEME_VARIABLES["profit"]


# --- choosing and remembering -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("remembered", "configured", "expected"),
    [
        ("amber", "desk-light", "amber"),
        ("gone", "desk-light", "desk-light"),
        (None, "desk-light", "desk-light"),
        ("gone", "also-gone", "desk-dark"),
        (None, None, "desk-dark"),
        ("nord", None, "nord"),  # a Textual built-in the app offers
    ],
)
def test_pick_theme(remembered: str | None, configured: str | None, expected: str) -> None:
    available = {"desk-dark", "desk-light", "amber", "nord"}

    assert pick_theme(available, remembered, configured) == expected


def test_pick_theme_falls_back_to_textual_when_ours_are_gone() -> None:
    assert pick_theme(set(), "amber", "desk-dark") == "textual-dark"


def test_theme_memory_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "state" / "deep" / "theme.json"
    memory = ThemeMemory(path)
    assert memory.get() is None

    assert memory.set("amber") is True
    assert ThemeMemory(path).get() == "amber"
    assert memory.set("desk-light") is True
    assert ThemeMemory(path).get() == "desk-light"
    assert sorted(p.name for p in path.parent.iterdir()) == ["theme.json"]  # no temp left


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[1, 2]", b'{"theme": 3}', b'{"theme": ""}', b"\xff\xfe", b""],
    ids=["not-json", "list", "number", "empty-name", "not-utf8", "empty-file"],
)
def test_theme_memory_ignores_a_corrupt_file_and_replaces_it(
    tmp_path: Path, content: bytes
) -> None:
    path = write(tmp_path, "theme.json", content)
    memory = ThemeMemory(path)

    assert memory.get() is None
    assert memory.set("amber") is True
    assert memory.get() == "amber"


def test_theme_memory_says_when_it_cannot_write(tmp_path: Path) -> None:
    blocker = write(tmp_path, "file", "a file where a folder should be")

    assert ThemeMemory(blocker / "theme.json").set("amber") is False


def test_default_places_follow_the_platform_dirs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    assert user_theme_dir() == tmp_path / "config" / "tui-trader" / "themes"
    assert ThemeMemory().path == tmp_path / "state" / "tui-trader" / "theme.json"


# --- inside Textual ---------------------------------------------------------------------------

BUNDLED = load_themes(None, bundled_dir=REPO_THEMES).themes


@pytest.mark.parametrize("name", sorted(BUNDLED))
async def test_a_bundled_theme_registers_in_a_bare_app(name: str) -> None:
    app: App[None] = App()
    app.register_theme(BUNDLED[name])

    async with app.run_test():
        app.theme = name
        assert app.current_theme is BUNDLED[name]
        assert app.get_css_variables()["profit"] == BUNDLED[name].variables["profit"]


class VariablesApp(App[None]):
    """Uses every app variable in TCSS; with no defaults of its own, the theme must carry them."""

    CSS = "\n".join(f"#{name} {{ color: ${name}; }}" for name in THEME_VARIABLES)

    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self.register_theme(theme)
        self.theme = theme.name

    def compose(self) -> ComposeResult:
        for name in THEME_VARIABLES:
            yield Static(name, id=name)


@pytest.mark.parametrize("name", sorted(BUNDLED))
async def test_tcss_with_every_app_variable_parses_under_a_bundled_theme(name: str) -> None:
    theme = BUNDLED[name]
    app = VariablesApp(theme)

    async with app.run_test():  # an undefined $variable raises when the test app exits
        for variable in THEME_VARIABLES:
            colour = app.query_one(f"#{variable}", Static).styles.color
            assert colour == Color.parse(theme.variables[variable]), variable


class BuiltinThemeApp(VariablesApp):
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return theme_variable_defaults(self.current_theme)


async def test_a_textual_builtin_theme_gets_the_app_variables_from_the_defaults() -> None:
    nord = App().get_theme("nord")
    assert nord is not None and "profit" not in nord.variables
    app = BuiltinThemeApp(nord)

    async with app.run_test():
        colour = app.query_one("#loss", Static).styles.color
        assert nord.error is not None
        assert colour == Color.parse(nord.error)
