"""The command line as a whole: the top-level parser and its subcommands, then which command
runs with the settings loaded once for all of them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tui_trader import __version__
from tui_trader.cli.arguments import EXIT_OK, EXIT_USAGE, Parser, positive
from tui_trader.cli.desk import (
    add_backtest_parser,
    add_headless_parser,
    add_lever_parsers,
    cmd_desk,
    cmd_desk_first,
    cmd_headless,
)
from tui_trader.cli.replay import add_replay_parser, cmd_replay
from tui_trader.cli.sim import add_sim_parser, cmd_sim
from tui_trader.config.early import could_be_live


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="tui-trader",
        description="A keyboard-driven terminal trading desk for Alpaca.",
    )
    parser.add_argument("--version", action="version", version=f"tui-trader {__version__}")
    parser.add_argument("--config", type=Path, help="TOML config file (default: user config dir)")
    trade = parser.add_mutually_exclusive_group()
    trade.add_argument(
        "--trade",
        dest="trade",
        action="store_true",
        default=None,
        help="let the policy send orders (default on the emulator only)",
    )
    trade.add_argument(
        "--watch", dest="trade", action="store_false", help="the policy only proposes"
    )
    parser.add_argument(
        "--speed",
        dest="desk_speed",
        type=positive(float),
        metavar="X",
        help="the embedded emulator's pace, sim seconds per real second (default 60: a demo; "
        "1: real time)",
    )
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    add_sim_parser(sub)
    add_headless_parser(sub)
    add_backtest_parser(sub)
    add_lever_parsers(sub)
    add_replay_parser(sub)
    return parser


def _draw_first(args: argparse.Namespace) -> bool:
    """Whether the screen draws before the settings are built: at a terminal, and when they
    cannot be live (a live account is confirmed at the terminal before any screen)."""
    return sys.stdin.isatty() and sys.stdout.isatty() and not could_be_live(args.config)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C before a command had installed its own handling
        return EXIT_OK


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # the emulator needs no Alpaca settings: keys or a live URL in the environment must not
    # stop it, and must never reach it
    overrides: dict[str, Any] = {"mode": "sim"} if args.command == "sim" else {}
    if args.desk_speed is not None:  # `tui-trader --speed 1`: the embedded emulator's pace
        overrides["sim"] = {"speed": args.desk_speed}
    if args.command in ("headless", "flatten", "pause", "resume"):
        overrides.update(
            base_url=args.base_url,
            data_url=args.data_url,
            api=args.api,
            account_id=args.account_id,
        )
    if args.command is None and _draw_first(args):  # the screen before the settings
        return cmd_desk_first(args, overrides)
    from tui_trader.config import ConfigError, load_settings

    try:
        settings = load_settings(args.config, **overrides)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    if args.command == "sim":
        return cmd_sim(settings, args)
    if args.command == "headless":
        return cmd_headless(settings, args)
    if args.command == "replay":
        return cmd_replay(settings, args)
    if args.command == "backtest":
        from tui_trader.desk.launch import backtest

        return backtest.run(
            settings,
            csv=args.csv,
            seed=args.seed,
            bars=args.bars,
            drift=0.0 if args.no_drift else args.drift,
            planted=args.planted,
            symbols=[s.strip().upper() for s in args.symbols.split(",") if s.strip()]
            if args.symbols
            else None,
            cost_bps=args.cost_bps,
            periods_per_year=args.periods_per_year,
            permutations=args.permutations,
            walk_forward=args.walk_forward,
            folds=args.folds,
            as_json=args.json,
            plot=args.plot,
            html=args.html,
        )
    if args.command in ("flatten", "pause", "resume"):
        from tui_trader.desk.launch import levers

        if args.command == "pause":
            return levers.cmd_pause(settings)
        if args.command == "resume":
            return levers.cmd_resume(settings, args.yes)
        return levers.cmd_flatten(settings, args.yes, args.deadline)
    return cmd_desk(settings, args)
