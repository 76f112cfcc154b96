"""Structured logs: JSON lines to a file in the user log dir, optionally to stderr too.

Every record passes a redaction filter that replaces any registered secret with ``***``,
so a key that slips into a message (an exception's text, a URL) still never reaches a file.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_SECRETS: set[str] = set()


def register_secret(value: str | None) -> None:
    """Never print this string: every handler of ours redacts it."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return redact(json.dumps(entry, default=str, separators=(",", ":")))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S.%f")[:-3]
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{stamp} {record.levelname.lower():7} {record.name}: {record.getMessage()}"
        if extras:
            line += f" {extras}"
        if record.exc_info and record.exc_info[0] is not None:
            line += f" error={record.exc_info[0].__name__}: {record.exc_info[1]}"
        return redact(line)


def setup_logging(
    log_dir: Path | None,
    *,
    stderr: Literal["json", "text"] | None = None,
    level: int = logging.INFO,
    stderr_level: int = logging.INFO,
) -> Path | None:
    """Configure the ``tui_trader`` logger; returns the log file path (None if unwritable)."""
    root = logging.getLogger("tui_trader")
    root.setLevel(level)
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    path: Path | None = None
    if log_dir is not None:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            path = log_dir / "tui-trader.log"
            file_handler = logging.FileHandler(path, encoding="utf-8")
            file_handler.setFormatter(JsonFormatter())
            root.addHandler(file_handler)
        except OSError:
            path = None
    if stderr is not None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(stderr_level)
        handler.setFormatter(JsonFormatter() if stderr == "json" else TextFormatter())
        root.addHandler(handler)
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    return path
