"""The desk's subcommands: their parsers (``headless``, ``backtest``, ``flatten``, ``pause``,
``resume``) and the commands that hand the parsed options to :mod:`tui_trader.desk.launch`;
with no subcommand, the desk on a screen.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_trader.cli.arguments import Parser, positive, timestamp

if TYPE_CHECKING:
    from tui_trader.config import Settings


def _periods_per_year(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0: {text!r}")
    return value


MIN_PERMUTATIONS = 200  # p-values down to 1/201: enough to read p < 0.01


def _permutations(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < MIN_PERMUTATIONS:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_PERMUTATIONS}: {text!r}")
    return value


def add_headless_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    """The ``headless`` subcommand's options."""
    head = sub.add_parser(
        "headless",
        help="run the streaming engine without a screen; JSON lines on stdout",
        description="The streaming engine without a screen: every new event (after "
        "de-duplication) and every connection state change as JSON lines on stdout. "
        "No --base-url and no keys: the embedded emulator. The policy trades on the "
        "embedded emulator; elsewhere only with --trade, and on a live account only with "
        "--trade --live and the account number (--confirm-account, or typed at a terminal); "
        "otherwise it only proposes and logs.",
    )
    _account_options(head)
    head.add_argument(
        "--streams",
        type=_streams,
        default=None,
        help="comma-separated subset of trades,accounts,nta (default: the stream.streams "
        "setting; accounts and nta are Broker API streams, not opened for a Trading account)",
    )
    head.add_argument("--journal", type=Path, help="SQLite journal file (default: data dir)")
    head.add_argument(
        "--since", type=timestamp, help="on first start, replay history from this RFC3339 time"
    )
    sending = head.add_mutually_exclusive_group()
    sending.add_argument(
        "--trade",
        dest="headless_trade",
        action="store_true",
        help="let the policy send orders on a server other than the embedded emulator",
    )
    sending.add_argument(
        "--no-trade", action="store_true", help="run no desk at all: stream and journal only"
    )
    head.add_argument(
        "--live", action="store_true", help="with --trade: yes, this is a live account"
    )
    head.add_argument(
        "--confirm-account",
        metavar="NUMBER",
        help="the live account's number, checked against the broker's (else asked at a terminal)",
    )
    head.add_argument(
        "--exit-after",
        type=positive(float),
        metavar="SECONDS",
        help="stop cleanly after this many seconds",
    )
    head.add_argument(
        "--max-events",
        type=positive(int),
        metavar="N",
        help="stop cleanly after printing N events",
    )
    head.add_argument(
        "--log-format",
        choices=["json", "text"],
        help="also log to stderr in this format (default: warnings only)",
    )


def add_backtest_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    """The ``backtest`` subcommand's options."""
    back = sub.add_parser(
        "backtest",
        help="run the policy over bars without HTTP, beside buy-and-hold, flat and two "
        "permutation tests",
        description="Run the same policy over bars (a CSV, or the emulator's seeded market "
        "model) and print return, Sharpe with its standard error, drawdown, exposure, "
        "turnover and hit rate beside buy-and-hold and flat, and the p-value of the policy's "
        "Sharpe against permutations of its own positions (timing and direction). Sharpe is "
        "annualised with the periods per year the timestamps show (the report says how).",
    )
    back.add_argument("--csv", type=Path, help="bars: timestamp,symbol,open,high,low,close,volume")
    back.add_argument(
        "--seed",
        type=int,
        default=7,
        help="seed of the synthetic market and of the permutation tests (default 7)",
    )
    back.add_argument(
        "--bars",
        type=positive(int),
        default=5000,
        help="one-minute bars per symbol for the synthetic market (default 5000)",
    )
    back.add_argument(
        "--drift",
        type=float,
        default=None,
        help="annualised regime drift of the synthetic market (default: the emulator's "
        "realistic 0.05, or the planted 8 with --planted)",
    )
    market = back.add_mutually_exclusive_group()
    market.add_argument(
        "--planted",
        action="store_true",
        help="the strong drift regime planted for demos (+-800%% a year, switching every ~2 "
        "trading hours): what the policy should find; not evidence of an edge",
    )
    market.add_argument(
        "--no-drift",
        action="store_true",
        help="a pure random walk: the control where nothing should earn",
    )
    back.add_argument("--symbols", help="comma-separated tickers (default: the sim symbols)")
    back.add_argument("--cost-bps", type=float, default=2.0, help="cost per trade, in bps")
    back.add_argument(
        "--periods-per-year",
        type=_periods_per_year,
        metavar="N",
        help="annualise with N bars a year (default: inferred from the timestamps, e.g. 252 "
        "for daily bars, 98,280 for one-minute bars of regular sessions)",
    )
    back.add_argument(
        "--permutations",
        type=_permutations,
        default=1000,
        metavar="N",
        help="draws of each permutation test, seeded by --seed (default 1000, at least 200)",
    )
    back.add_argument(
        "--walk-forward",
        action="store_true",
        help="judge the policy only out of sample: anchored folds, any choice read from "
        "earlier spans only; the report says which spans were in- and out-of-sample",
    )
    back.add_argument(
        "--folds",
        type=positive(int),
        default=4,
        metavar="K",
        help="out-of-sample folds of --walk-forward (default 4)",
    )
    back.add_argument("--json", action="store_true", help="print JSON")
    back.add_argument(
        "--plot",
        action="store_true",
        help="draw the equity curves and drawdowns of the policy and its baselines",
    )
    back.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="write a one-page report (parameters, tables, figures) to FILE; it loads nothing",
    )


def add_lever_parsers(sub: argparse._SubParsersAction[Parser]) -> None:
    """``flatten``, ``pause`` and ``resume``: the levers a script or a second terminal pulls."""
    for name, text in (
        ("flatten", "cancel every open order and close every position, then stay paused"),
        ("pause", "stop new exposure (the desk and headless pick it up); ask nothing"),
        ("resume", "allow new exposure again"),
    ):
        lever = sub.add_parser(name, help=text, description=text)
        _account_options(lever)
        if name != "pause":
            lever.add_argument(
                "--yes", action="store_true", help="do not ask (paper only: live always asks)"
            )
        if name == "flatten":
            lever.add_argument(
                "--deadline",
                type=positive(float),
                default=30.0,
                metavar="SECONDS",
                help="give up waiting for flat after this",
            )


def _account_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base-url", help="Trading or Broker API root (default: settings)")
    parser.add_argument("--data-url", help="market data root")
    parser.add_argument("--api", choices=["broker", "trading"], help="API family")
    parser.add_argument("--account-id", help="account (needed for the Broker API)")


def _streams(text: str) -> tuple[str, ...]:
    names = tuple(x.strip().lower() for x in text.split(",") if x.strip())
    bad = [n for n in names if n not in ("trades", "accounts", "nta")]
    if not names or bad:
        raise argparse.ArgumentTypeError(
            f"unknown stream {', '.join(bad) or '(none)'}: choose from trades,accounts,nta"
        )
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError("a stream is listed twice")
    return names


def cmd_headless(settings: Settings, args: argparse.Namespace) -> int:
    import logging

    from tui_trader.desk.launch.headless import HeadlessArgs, main
    from tui_trader.logs import setup_logging

    setup_logging(
        settings.log_dir,
        stderr=args.log_format or "text",
        stderr_level=logging.INFO if args.log_format else logging.WARNING,
    )
    streams = args.streams or tuple(settings.stream.streams)
    return main(
        settings,
        HeadlessArgs(
            streams=streams,
            journal=args.journal,
            since=args.since,
            no_trade=args.no_trade,
            exit_after=args.exit_after,
            max_events=args.max_events,
            # `tui-trader --trade headless` says it as clearly as `headless --trade`
            trade=args.headless_trade or args.trade is True,
            live=args.live,
            confirm_account=args.confirm_account,
        ),
    )


def cmd_desk(settings: Settings, args: argparse.Namespace) -> int:
    """The default command: the desk on a screen, against the embedded emulator or Alpaca."""
    from tui_trader.desk.launch.screen import run_desk
    from tui_trader.ui.launch import show_desk

    return run_desk(settings, show_desk, trade=args.trade)


def cmd_desk_first(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    """The default command when its settings cannot be live: the screen first, the settings
    built behind it (``load_settings`` with the same overrides; its errors said the same)."""
    from tui_trader.desk.launch.screen import run_desk_first
    from tui_trader.ui.launch import show_desk

    def load() -> Settings:
        from tui_trader.config import load_settings

        return load_settings(args.config, **overrides)

    return run_desk_first(load, show_desk, trade=args.trade)
