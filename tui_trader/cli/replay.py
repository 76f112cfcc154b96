"""``tui-trader replay``: its parser, and the command that hands the options to
:mod:`tui_trader.desk.launch.replay` with the screen to show it on."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tui_trader.cli.arguments import Parser

if TYPE_CHECKING:
    from tui_trader.config import Settings


def _speed(text: str) -> float | None:
    """Times real time; ``0`` or ``max``: as fast as it can (None)."""
    import math

    if text.strip().lower() in ("max", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (or 0 / max)") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be > 0 (or 0 / max): {text!r}")
    return value


def _from(text: str) -> object:
    from tui_trader.desk.launch.replay import parse_from

    try:
        return parse_from(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--from: ")) from None


def add_replay_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    rep = sub.add_parser(
        "replay",
        help="play a recorded session through the screen, read-only",
        description="Play the desk's journal (every broker event and every decision: signals, "
        "verdicts, orders, levers) through the same screen, read-only: nothing is sent to any "
        "broker. Keys: space pause/resume, n or . one step, ] faster, [ slower.",
    )
    rep.add_argument(
        "--journal",
        type=Path,
        help="the journal file (default: the journal of the account the settings point at)",
    )
    rep.add_argument(
        "--from",
        dest="start",
        type=_from,
        metavar="T",
        help="start at T: an ISO time (UTC when no zone) or -30m / -1h / -2d before the end"
        " (written --from=-1h); what comes before plays at once",
    )
    rep.add_argument(
        "--speed",
        type=_speed,
        default=10.0,
        metavar="X",
        help="X times real time (default 10; 0 or max: as fast as it can)",
    )


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from tui_trader.desk.launch.replay import run_replay
    from tui_trader.ui.launch import show_replay

    return run_replay(
        settings, show_replay, journal=args.journal, start=args.start, speed=args.speed
    )
