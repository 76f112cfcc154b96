"""The screen draws before the settings are built only when they cannot be live: the cheap
look (:func:`could_be_live`) must never say "not live" of settings that load as live, and the
first frame's modules must not import pydantic (that is what the early frame saves)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_trader.config import Mode, load_settings
from tui_trader.config.early import could_be_live


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No TUI_TRADER_* / APCA_* from the machine; the default config file under tmp_path."""
    for name in list(os.environ):
        if name.upper().startswith(("APCA_", "TUI_TRADER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    yield


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_and_no_mode_cannot_be_live() -> None:
    assert could_be_live(None) is False


def test_a_file_without_live_cannot_be_live(tmp_path: Path) -> None:
    path = write(tmp_path, 'mode = "paper"\nkey_id = "k"\n[ui]\ntheme = "amber"\n')
    assert could_be_live(path) is False


def test_the_default_file_is_read_too(tmp_path: Path) -> None:
    default = tmp_path / "xdg" / "tui-trader" / "config.toml"
    default.parent.mkdir(parents=True)
    default.write_text('mode = "live"\n')
    assert could_be_live(None) is True


@pytest.mark.parametrize(
    "text",
    [
        'mode = "live"\n',
        'mode = "LIVE"\n',
        "mode = 'Live'\n",
        'mode = "l\\u0069ve"\n',  # a TOML escape spells it
        '# mode = "live" one day\n',  # a comment: a wrong yes only costs the early frame
    ],
    ids=["plain", "upper", "literal", "escape", "comment"],
)
def test_a_file_that_could_say_live_could_be_live(tmp_path: Path, text: str) -> None:
    assert could_be_live(write(tmp_path, text)) is True


@pytest.mark.parametrize("name", ["TUI_TRADER_MODE", "tui_trader_mode", "Tui_Trader_Mode"])
def test_the_mode_in_the_environment_in_any_case(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, " LIVE ")
    assert could_be_live(None) is True
    monkeypatch.setenv(name, "paper")
    assert could_be_live(None) is False


def test_a_file_named_but_missing_or_unreadable_takes_the_old_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its error is then said before any screen, as it always was."""
    assert could_be_live(tmp_path / "nowhere.toml") is True
    monkeypatch.setenv("TUI_TRADER_CONFIG", str(tmp_path / "nowhere.toml"))
    assert could_be_live(None) is True
    assert could_be_live(tmp_path) is True  # a directory: cannot be read as a file


@pytest.mark.parametrize(
    ("text", "env"),
    [
        ('mode = "live"\n', {}),
        ('mode = "LIVE"\n', {}),
        ('mode = "l\\u0069ve"\n', {}),
        ("", {"TUI_TRADER_MODE": "live"}),
        ("", {"tui_trader_mode": "Live"}),
    ],
    ids=["file", "file-upper", "file-escape", "env", "env-lower-name"],
)
def test_whatever_loads_as_live_was_seen_as_could_be_live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, env: dict[str, str]
) -> None:
    """The look and the real loader agree on every way of writing live that we know."""
    path = write(tmp_path, text)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(
        path, base_url="http://127.0.0.1:9", key_id="k", secret_key="s", data_dir=tmp_path
    )
    assert settings.mode is Mode.LIVE
    assert could_be_live(path) is True


def test_the_first_frame_path_imports_no_pydantic() -> None:
    """The modules the screen needs before its first frame: the command line, the app and
    the start. pydantic (and the settings' models) load behind the frame."""
    code = (
        "import sys\n"
        "import tui_trader.cli.dispatch, tui_trader.ui.launch, tui_trader.desk.launch.screen\n"
        "from tui_trader.ui.screens.starting import StartScreen\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('pydantic')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout
