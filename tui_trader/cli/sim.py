"""``tui-trader sim``: its parser, and serving the emulator until interrupted.

Its own module because the emulator's command shares nothing with the desk's but the
settings: it needs no Alpaca keys and must never reach Alpaca.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_trader.cli.arguments import EXIT_OK, EXIT_USAGE, Parser, positive, timestamp

if TYPE_CHECKING:
    from tui_trader.config import Settings


def say(text: str) -> None:
    """Print a status line; a closed stdout (``| head``) must not stop a running server."""
    try:
        print(text, flush=True)
    except OSError:  # BrokenPipeError and friends: send the rest of the output nowhere
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port: {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 seconds: {text!r}")
    return value


def add_sim_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    """The ``sim`` subcommand's options."""
    sim = sub.add_parser(
        "sim",
        help="serve the Alpaca-compatible paper emulator until interrupted",
        description="Serve the Alpaca-compatible paper emulator (Trading, Broker, market data "
        "and SSE routes) on a loopback address until Ctrl-C.",
    )
    sim.add_argument("--host", help="loopback address to bind (default 127.0.0.1)")
    sim.add_argument("--port", type=_port, help="port (default 0: a free port)")
    sim.add_argument("--seed", type=int, help="market and id seed (default 42)")
    sim.add_argument("--speed", type=positive(float), help="sim seconds per real second")
    sim.add_argument("--key", help="accepted key id (default: any non-empty key)")
    sim.add_argument("--secret", help="accepted secret (with --key)")
    sim.add_argument("--chaos", type=_fraction, help="probability of a random fault per event")
    sim.add_argument("--heartbeat", type=positive(float), help="seconds between :heartbeat")
    sim.add_argument(
        "--heartbeat-mode",
        choices=["idle", "fixed"],
        help="idle (default): a heartbeat only after --heartbeat seconds without a write, "
        "so a busy stream shows none; fixed: every --heartbeat seconds",
    )
    sim.add_argument("--symbols", help="comma-separated tickers (default AAPL,MSFT,NVDA,TSLA,SPY)")
    sim.add_argument("--csv", type=Path, help="replay bars from timestamp,symbol,open,high,...")
    sim.add_argument("--accounts", type=positive(int), default=1, help="number of accounts")
    sim.add_argument("--start", type=timestamp, help="sim start time, inside a session")
    sim.add_argument("--rate-limit", type=positive(int), help="requests per minute per key")
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
        "--ws-text-frames",
        action="store_true",
        help="trading websocket (/stream) sends text frames, as live does (default: binary, "
        "as paper does)",
    )
    sim.add_argument(
        "--ws-no-event-ids",
        action="store_true",
        help="trade updates on /stream without event_id and at, as Alpaca's older samples",
    )
    sim.add_argument(
        "--ws-hold",
        type=_seconds,
        metavar="SECONDS",
        help="how long a /stream connection that vanished without a close keeps the account's "
        "one slot, refusing reconnects with 429 (default 5; Alpaca's reap is ~90)",
    )
    sim.add_argument(
        "--trading-sse",
        action="store_true",
        help="serve /v2/events/trades to Trading keys too (the real Trading host's undocumented "
        "courtesy, for stream.transport = sse); the Broker-only streams stay 404 for them",
    )
    sim.add_argument(
        "--plan",
        choices=["free", "unlimited"],
        help="market-data plan: free refuses real-time SIP (REST 403, stream 409) as Alpaca "
        "does (the default, from sim.plan); unlimited serves every feed",
    )
    sim.add_argument(
        "--quote-hz",
        type=positive(float),
        help="quotes per second per symbol on the data websocket (default: one per market step)",
    )
    sim.add_argument(
        "--late-bars",
        type=_fraction,
        help="chance a finished minute bar gets a late trade and an updatedBars message",
    )
    sim.add_argument(
        "--planted",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="plant the strong drift regime (+-800%%/yr switching every ~2 trading hours) for "
        "a demo a policy visibly learns; default: a realistic drift (+-5%%/yr, switching about "
        "weekly), or sim.planted",
    )
    sim.add_argument(
        "--reset",
        action="store_true",
        help="start the paper account over (the one `tui-trader` and `tui-trader sim` keep in "
        "the data dir): asks to confirm; the old file is kept beside it, renamed; then exits",
    )
    sim.add_argument("--yes", action="store_true", help="with --reset: do not ask (for scripts)")
    sim.add_argument(
        "--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"]
    )


def _emulator_config(settings: Settings, args: argparse.Namespace | None) -> Any:
    from tui_trader.sim.emulator import EmulatorConfig
    from tui_trader.sim.market import KEEP_BARS

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
        speed=pick("speed", s.speed_for(embedded=False)),
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
        ws_binary_frames=not pick("ws_text_frames", False),
        ws_event_ids=not pick("ws_no_event_ids", False),
        ws_hold_seconds=pick("ws_hold", EmulatorConfig.ws_hold_seconds),
        plan=pick("plan", s.plan),
        trading_sse=bool(pick("trading_sse", False)),
        quote_hz=pick("quote_hz", None),
        late_bar_probability=pick("late_bars", 0.0),
        planted=bool(pick("planted", s.planted_for(embedded=False))),
        retention=s.retention_for(embedded=False),
        keep_bars=KEEP_BARS if s.keep_bars is None else s.keep_bars,
    )


def _kept(args: argparse.Namespace) -> str | None:
    """Why this run keeps no paper account (None: it keeps and resumes the saved one): a
    replay restarts from its file, and other accounts or another start are another world."""
    if args.csv is not None:
        return "--csv replays from its file"
    if args.accounts != 1:
        return "--accounts"
    if args.start is not None:
        return "--start"
    return None


def cmd_reset(settings: Settings, args: argparse.Namespace, ask: Any = input) -> int:
    """``sim --reset``: move the paper account's file aside once the trader said yes."""
    from tui_trader.sim.persist import StateError, reset, state_path

    path = state_path(settings.data_dir)
    if not path.exists():
        say(f"no paper account to reset ({path} does not exist)")
        return EXIT_OK
    if not args.yes:
        if not sys.stdin.isatty():
            print(
                "tui-trader sim: error: --reset needs a terminal to confirm, or --yes",
                file=sys.stderr,
            )
            return EXIT_USAGE
        try:
            answer = ask(f"Start the paper account in {path} over? Type y to confirm: ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            say("not reset.")
            return EXIT_OK
    try:
        aside = reset(path)
    except StateError as exc:
        print(f"tui-trader sim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    say(f"paper account reset: the old one is kept as {aside}; the next start is a fresh one")
    return EXIT_OK


def cmd_sim(settings: Settings, args: argparse.Namespace) -> int:
    from tui_trader.sim.persist import StateError, state_path
    from tui_trader.sim.regimes import drift_regime
    from tui_trader.sim.runner import serve_forever

    if args.reset:
        return cmd_reset(settings, args)
    if args.yes:
        print("tui-trader sim: error: --yes goes with --reset", file=sys.stderr)
        return EXIT_USAGE

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
    not_kept = _kept(args)
    if not_kept is None:
        config.state_path = state_path(settings.data_dir)
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
        frames = "binary" if config.ws_binary_frames else "text"
        say(f"  trade_updates websocket: {url.replace('http', 'ws', 1)}/stream ({frames} frames)")
        say(
            f"  market data: {url.replace('http', 'ws', 1)}/v2/{{iex,sip,delayed_sip,test}}; "
            f"plan {config.plan}"
        )
        if config.csv is None:
            say(f"  market: {drift_regime(config.planted).describe()}")
        if not_kept is not None:
            say(f"  paper account: not kept ({not_kept})")
        else:
            how = "resumed from" if emulator.resumed else "new, kept in"
            say(f"  paper account: {how} {config.state_path}")
            if emulator.store_note:
                say(f"  {emulator.store_note}")
        say("  Ctrl-C to stop.")

    # uvicorn handles SIGINT/SIGTERM while serving, then re-raises the signal it caught:
    # make that a no-op for SIGTERM (SIGINT arrives as KeyboardInterrupt) so both stop cleanly
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        asyncio.run(serve_forever(config, host, port, announce, args.log_level, faults))
    except KeyboardInterrupt:
        pass
    except (OSError, ValueError, StateError) as exc:
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
