"""``tui-trader sim --reset``: the paper account starts over only when the trader says so
(``y`` at a terminal, or ``--yes``); without a terminal and without ``--yes`` it refuses with
exit 2. The old file is always kept aside, never deleted."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from tui_trader.cli.sim import cmd_reset
from tui_trader.config import Settings
from tui_trader.sim.emulator import Emulator, EmulatorConfig
from tui_trader.sim.persist import state_path

MODULE = [sys.executable, "-m", "tui_trader"]


def _account(data_dir: Path) -> Path:
    path = state_path(data_dir)
    emulator = Emulator(EmulatorConfig(speed=0, history_days=1, state_path=path))
    emulator.close_store()
    assert path.exists()
    return path


def _args(yes: bool) -> argparse.Namespace:
    return argparse.Namespace(yes=yes)


def test_y_at_the_terminal_resets_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _account(tmp_path)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    asked: list[str] = []
    code = cmd_reset(
        Settings(data_dir=tmp_path), _args(False), ask=lambda q: asked.append(q) or "y"
    )
    assert code == 0 and asked and "over?" in asked[0]
    assert not path.exists()
    assert len(list(tmp_path.glob("sim-account.sqlite3.reset-*"))) == 1
    fresh = Emulator(EmulatorConfig(speed=0, history_days=1, state_path=path))
    assert not fresh.resumed and fresh.store_note is None
    fresh.close_store()


def test_anything_but_y_keeps_the_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _account(tmp_path)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    assert cmd_reset(Settings(data_dir=tmp_path), _args(False), ask=lambda q: "") == 0
    assert path.exists() and not list(tmp_path.glob("*.reset-*"))


def test_yes_resets_without_asking(tmp_path: Path) -> None:
    path = _account(tmp_path)

    def never(q: str) -> str:
        raise AssertionError("asked")

    assert cmd_reset(Settings(data_dir=tmp_path), _args(True), ask=never) == 0
    assert not path.exists()


def test_a_running_account_is_not_reset(tmp_path: Path) -> None:
    path = state_path(tmp_path)
    emulator = Emulator(EmulatorConfig(speed=0, history_days=1, state_path=path))
    try:
        assert cmd_reset(Settings(data_dir=tmp_path), _args(True)) == 2
        assert path.exists()
    finally:
        emulator.close_store()


def test_without_a_terminal_or_yes_it_exits_2_saying_why(
    tmp_path: Path, env: dict[str, str]
) -> None:
    data = Path(env["XDG_DATA_HOME"]) / "tui-trader"
    path = _account(data)
    proc = subprocess.run(
        [*MODULE, "sim", "--reset"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "--reset needs a terminal to confirm, or --yes" in proc.stderr
    assert path.exists()
    proc = subprocess.run(
        [*MODULE, "sim", "--reset", "--yes"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "paper account reset" in proc.stdout and not path.exists()
