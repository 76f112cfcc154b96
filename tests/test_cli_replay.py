"""``tui-trader replay`` refuses, in one line and exit 2, what it cannot play: no journal, a
file that is not a journal, an empty one, a ``--from`` that is not a time or is after the
recording, a bad ``--speed``. Nothing is created and nothing starts."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.unit.test_replay import T0, Clock, record
from tui_trader.broker.journal import Journal, journal_path
from tui_trader.cli.dispatch import main
from tui_trader.desk.launch import replay as launch
from tui_trader.sim.persist import APPLICATION_ID, state_path


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith(("APCA_", "TUI_TRADER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TUI_TRADER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TUI_TRADER_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    try:
        code = main(["replay", *argv])
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_no_journal_in_the_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "no journal to replay" in refused([], capsys)


def test_a_missing_journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.sqlite3"
    assert "no journal at" in refused(["--journal", str(missing)], capsys)
    assert not missing.exists()


def test_not_a_journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 200)
    assert "not a journal" in refused(["--journal", str(text)], capsys)
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert "not a tui-trader journal" in refused(["--journal", str(other)], capsys)


def test_an_empty_journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.sqlite3"
    Journal.open(path, clock=Clock(T0)).close()
    assert "nothing to replay" in refused(["--journal", str(path)], capsys)


@pytest.mark.parametrize("bad", ["yesterday", "-1x", "2026-13-40", "1h"])
def test_bad_from(bad: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "j.sqlite3"
    record(path)
    assert "--from" in refused(["--journal", str(path), "--from", bad], capsys)


@pytest.mark.parametrize("bad", ["-1", "fast", "nan"])
def test_bad_speed(bad: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "--speed" in refused(["--journal", str(tmp_path), "--speed", bad], capsys)


def test_from_after_the_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "j.sqlite3"
    record(path)
    err = refused(["--journal", str(path), "--from", "2099-01-01T00:00:00Z"], capsys)
    assert "after the recording" in err


def test_a_good_journal_is_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The screen gets a replay desk at the resolved start, speed and file (not run here)."""
    data = tmp_path / "data"
    data.mkdir()
    kept = sqlite3.connect(state_path(data))  # a kept paper account, identity "x"
    kept.execute(f"PRAGMA application_id={APPLICATION_ID}")
    kept.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    kept.execute("INSERT INTO meta VALUES ('instance', 'x')")
    kept.commit()
    kept.close()
    path = journal_path(data, "sim-x")  # the journal the screen keeps for that account
    record(path)
    record(data / "journal-sim-older.sqlite3")  # another account's journal: never guessed
    shown: list[object] = []
    import tui_trader.ui.launch as ui_launch

    monkeypatch.setattr(ui_launch, "show_replay", lambda settings, desk: shown.append(desk))
    assert main(["replay", "--from=-30s", "--speed", "max"]) == 0  # the data dir's journal
    desk = shown[0]
    assert desk.recording.path == path  # type: ignore[attr-defined]
    assert desk._start == T0 + 30  # type: ignore[attr-defined]  # 30 s before the end
    assert desk.player.speed is None  # type: ignore[attr-defined]
    assert launch.parse_from("2026-11-24 15:00").tzinfo is not None
