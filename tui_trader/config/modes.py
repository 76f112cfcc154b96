"""Where orders go (:class:`Mode`) and which Alpaca API a URL speaks (:class:`ApiFamily`).

Plain enums, apart from the pydantic models, so that code that only compares a mode (the
consent rule, the screen's start) imports no pydantic before the first frame.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """Where orders go: the embedded emulator, Alpaca paper, or real money."""

    SIM = "sim"
    PAPER = "paper"
    LIVE = "live"


class ApiFamily(StrEnum):
    """Which Alpaca API the base URL speaks; decides routes and the auth scheme."""

    TRADING = "trading"
    BROKER = "broker"
