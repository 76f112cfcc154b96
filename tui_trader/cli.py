"""The ``tui-trader`` command.

Exit codes: 0 clean stop (Ctrl-C and SIGTERM included), 2 bad usage or configuration (one
line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tui_trader import __version__
from tui_trader.config import ConfigError, Settings, load_settings

EXIT_OK = 0
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line, as every other usage error here does."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def say(text: str) -> None:
    """Print a status line; a closed stdout (``| head``) must not stop a running server."""
    try:
        print(text, flush=True)
    except OSError:  # BrokenPipeError and friends: send the rest of the output nowhere
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
        return value

    return parse


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text!r}")
    return value


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


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port: {text!r}")
    return value


def _timestamp(text: str) -> datetime:
    from tui_trader.core.types import parse_timestamp

    try:
        value = parse_timestamp(text)
    except ValueError:
        value = None
    if value is None:
        raise argparse.ArgumentTypeError(f"not an RFC3339 time: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    sim = sub.add_parser(
        "sim",
        help="serve the Alpaca-compatible paper emulator until interrupted",
        description="Serve the Alpaca-compatible paper emulator (Trading, Broker, market data "
        "and SSE routes) on a loopback address until Ctrl-C.",
    )
    sim.add_argument("--host", help="loopback address to bind (default 127.0.0.1)")
    sim.add_argument("--port", type=_port, help="port (default 0: a free port)")
    sim.add_argument("--seed", type=int, help="market and id seed (default 42)")
    sim.add_argument("--speed", type=_positive(float), help="sim seconds per real second")
    sim.add_argument("--key", help="accepted key id (default: any non-empty key)")
    sim.add_argument("--secret", help="accepted secret (with --key)")
    sim.add_argument("--chaos", type=_fraction, help="probability of a random fault per event")
    sim.add_argument("--heartbeat", type=_positive(float), help="seconds between :heartbeat")
    sim.add_argument(
        "--heartbeat-mode",
        choices=["idle", "fixed"],
        help="idle (default): a heartbeat only after --heartbeat seconds without a write, "
        "so a busy stream shows none; fixed: every --heartbeat seconds",
    )
    sim.add_argument("--symbols", help="comma-separated tickers (default AAPL,MSFT,NVDA,TSLA,SPY)")
    sim.add_argument("--csv", type=Path, help="replay bars from timestamp,symbol,open,high,...")
    sim.add_argument("--accounts", type=_positive(int), default=1, help="number of accounts")
    sim.add_argument("--start", type=_timestamp, help="sim start time, inside a session")
    sim.add_argument("--rate-limit", type=_positive(int), help="requests per minute per key")
    sim.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="JSON",
        help='arm a fault at start, e.g. \'{"kind":"connect","status":503,"count":3}\' '
        "(repeatable; the same specs as POST /_emulator/faults)",
    )
    sim.add_argument(
        "--not-offered",
        action="append",
        default=[],
        choices=["trades", "accounts", "nta"],
        metavar="STREAM",
        help="answer 404 on that stream's route, as a Trading-API host may for trades (repeatable)",
    )
    sim.add_argument(
        "--strict-auth",
        action="store_true",
        help="want Basic auth on Broker/SSE routes and key headers on /v2",
    )
    sim.add_argument(
        "--legacy-v1-trades",
        action="store_true",
        help="serve the removed /v1/events/trades (alpaca-py still calls it)",
    )
    sim.add_argument(
        "--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"]
    )
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
        help="comma-separated subset of trades,accounts,nta (default: all)",
    )
    head.add_argument("--journal", type=Path, help="SQLite journal file (default: data dir)")
    head.add_argument(
        "--since", type=_timestamp, help="on first start, replay history from this RFC3339 time"
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
        type=_positive(float),
        metavar="SECONDS",
        help="stop cleanly after this many seconds",
    )
    head.add_argument(
        "--max-events",
        type=_positive(int),
        metavar="N",
        help="stop cleanly after printing N events",
    )
    head.add_argument(
        "--log-format",
        choices=["json", "text"],
        help="also log to stderr in this format (default: warnings only)",
    )
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
        type=_positive(int),
        default=5000,
        help="one-minute bars per symbol for the synthetic market (default 5000)",
    )
    back.add_argument(
        "--drift",
        type=float,
        default=None,
        help="annualised regime drift of the synthetic market (default: the emulator's)",
    )
    back.add_argument(
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
    back.add_argument("--json", action="store_true", help="print JSON")
    back.add_argument("--plot", action="store_true", help="draw the equity curve")
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
                type=_positive(float),
                default=30.0,
                metavar="SECONDS",
                help="give up waiting for flat after this",
            )
    return parser


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


def _emulator_config(settings: Settings, args: argparse.Namespace | None) -> Any:
    from tui_trader.sim.emulator import EmulatorConfig

    s = settings.sim

    def pick(name: str, default: Any) -> Any:
        value = getattr(args, name, None) if args is not None else None
        return default if value is None else value

    symbols = pick("symbols", None)
    return EmulatorConfig(
        symbols=tuple(x.strip().upper() for x in symbols.split(",") if x.strip())
        if symbols
        else tuple(s.symbols),
        seed=pick("seed", s.seed),
        speed=pick("speed", s.speed),
        start=pick("start", None),
        heartbeat_seconds=pick("heartbeat", s.heartbeat_seconds),
        heartbeat_mode=pick("heartbeat_mode", "idle"),
        key_id=pick("key", None),
        secret_key=pick("secret", None),
        strict_auth=bool(pick("strict_auth", False)),
        rate_limit_per_minute=pick("rate_limit", s.rate_limit_per_minute),
        chaos=pick("chaos", s.chaos),
        legacy_v1_trades=bool(pick("legacy_v1_trades", False)),
        accounts=pick("accounts", 1),
        starting_cash=Decimal(s.starting_cash),
        csv=pick("csv", None),
    )


def cmd_sim(settings: Settings, args: argparse.Namespace) -> int:
    from tui_trader.sim.runner import serve_forever

    if (args.key is None) != (args.secret is None):
        print("tui-trader sim: error: --key and --secret go together", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = _emulator_config(settings, args)
    except ValueError as exc:
        print(f"tui-trader sim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        faults = _fault_specs(
            [*args.fault, *(f'{{"kind":"not_offered","stream":"{x}"}}' for x in args.not_offered)]
        )
    except ValueError as exc:
        print(f"tui-trader sim: error: --fault: {exc}", file=sys.stderr)
        return EXIT_USAGE
    host = args.host or settings.sim.host
    port = settings.sim.port if args.port is None else args.port

    def announce(url: str, emulator: Any) -> None:
        auth = (
            f"key id {config.key_id!r} (secret as given)"
            if config.key_id
            else ("any non-empty key id and secret")
        )
        accounts = ", ".join(emulator.exchange.accounts)
        say(f"tui-trader emulator serving at {url}")
        say(f"  auth: {auth}; accounts: {accounts}")
        say(
            f"  symbols: {','.join(config.symbols)}; seed {config.seed}; speed "
            f"{config.speed}x; sim time {emulator.clock.now().isoformat()}"
        )
        say("  Ctrl-C to stop.")

    # uvicorn handles SIGINT/SIGTERM while serving, then re-raises the signal it caught:
    # make that a no-op for SIGTERM (SIGINT arrives as KeyboardInterrupt) so both stop cleanly
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        asyncio.run(serve_forever(config, host, port, announce, args.log_level, faults))
    except KeyboardInterrupt:
        pass
    except (OSError, ValueError) as exc:
        print(f"tui-trader sim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    say("tui-trader emulator stopped.")
    return EXIT_OK


def _fault_specs(texts: Sequence[str]) -> list[Any]:
    import json

    from pydantic import ValidationError

    from tui_trader.sim.faults import FAULT_SPECS

    specs: list[Any] = []
    for text in texts:
        try:
            raw = json.loads(text)
            specs += FAULT_SPECS.validate_python(raw if isinstance(raw, list) else [raw])
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc.msg} at column {exc.colno}") from None
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"][1:]) or "spec"
            raise ValueError(f"{where}: {err['msg']}") from None
    return specs


def cmd_desk(settings: Settings, args: argparse.Namespace) -> int:
    """The default command: the desk on a screen, against the embedded emulator or Alpaca."""
    from tui_trader.desk.launch.screen import run_desk
    from tui_trader.ui.launch import show_desk

    return run_desk(settings, show_desk, trade=args.trade)


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
    if args.command in ("headless", "flatten", "pause", "resume"):
        overrides.update(
            base_url=args.base_url,
            data_url=args.data_url,
            api=args.api,
            account_id=args.account_id,
        )
    try:
        settings = load_settings(args.config, **overrides)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    if args.command == "sim":
        return cmd_sim(settings, args)
    if args.command == "headless":
        return cmd_headless(settings, args)
    if args.command == "backtest":
        from tui_trader.desk.launch import backtest

        return backtest.run(
            settings,
            csv=args.csv,
            seed=args.seed,
            bars=args.bars,
            drift=0.0 if args.no_drift else args.drift,
            symbols=[s.strip().upper() for s in args.symbols.split(",") if s.strip()]
            if args.symbols
            else None,
            cost_bps=args.cost_bps,
            periods_per_year=args.periods_per_year,
            permutations=args.permutations,
            as_json=args.json,
            plot=args.plot,
        )
    if args.command in ("flatten", "pause", "resume"):
        from tui_trader.desk.launch import levers

        if args.command == "pause":
            return levers.cmd_pause(settings)
        if args.command == "resume":
            return levers.cmd_resume(settings, args.yes)
        return levers.cmd_flatten(settings, args.yes, args.deadline)
    return cmd_desk(settings, args)


if __name__ == "__main__":
    sys.exit(main())
