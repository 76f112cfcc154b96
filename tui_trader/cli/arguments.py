"""What every subcommand's parser shares: the exit codes, argparse that exits 2 with one
line, and the argument types more than one subcommand takes.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

EXIT_OK = 0
EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line, as every other usage error here does."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
        return value

    return parse


def timestamp(text: str) -> datetime:
    from tui_trader.core.types import parse_timestamp

    try:
        value = parse_timestamp(text)
    except ValueError:
        value = None
    if value is None:
        raise argparse.ArgumentTypeError(f"not an RFC3339 time: {text!r}")
    return value
