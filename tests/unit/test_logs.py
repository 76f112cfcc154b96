"""Structured logs: JSON lines with the structured fields, and no secret ever written."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_trader.logs import redact, register_secret, setup_logging

SECRET = "sk-live-Zq81xY0pQ7v3"


@pytest.fixture
def logger(tmp_path: Path) -> Iterator[tuple[logging.Logger, Path]]:
    path = setup_logging(tmp_path / "logs")
    assert path is not None
    yield logging.getLogger("tui_trader.test"), path
    setup_logging(None)  # close the file handler


def test_json_lines_carry_the_structured_fields(logger: tuple[logging.Logger, Path]) -> None:
    log, path = logger
    log.info("reconnect scheduled", extra={"stream": "trades", "delay": 2.5, "attempt": 3})
    log.warning("gap", extra={"stream": "nta", "dropped": 10})
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["msg"] for e in entries] == ["reconnect scheduled", "gap"]
    assert entries[0]["stream"] == "trades" and entries[0]["delay"] == 2.5
    assert entries[0]["level"] == "info" and entries[1]["level"] == "warning"
    assert entries[0]["ts"].endswith("Z")


def test_a_registered_secret_is_redacted_everywhere(logger: tuple[logging.Logger, Path]) -> None:
    log, path = logger
    register_secret(SECRET)
    log.error("request failed for %s", f"https://k:{SECRET}@host/v2", extra={"key": SECRET})
    try:
        raise RuntimeError(f"token {SECRET} refused")
    except RuntimeError:
        log.exception("boom")
    text = path.read_text()
    assert SECRET not in text
    assert text.count("***") >= 3
    assert redact(f"x{SECRET}y") == "x***y"


def test_unwritable_log_dir_does_not_stop_the_program(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert setup_logging(blocker / "logs") is None
    logging.getLogger("tui_trader.test").error("still fine")
    setup_logging(None)
