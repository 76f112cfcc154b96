"""Paper trading with the desk as a library: a manual order, the policy, fills and P&L.

Builds a :class:`tui_trader.desk.desk.Desk` from the settings (the embedded emulator unless
Alpaca keys are in the environment), places one market order built with
:class:`~tui_trader.core.orders.OrderBuilder` through the desk's risk gate (printing the
verdict), lets the policy trade within its risk limits for ``--seconds``, printing every
fill as it arrives and a P&L line every ``--every`` seconds, then flattens and prints a
summary: orders sent, fills, realized and unrealized P&L, and where the journal is.

On the embedded emulator it trades by default, with **demo settings** (see ``demo_overrides``):
the market runs ``--speed`` times faster than real time (600: ten minute bars a second),
the policy is eager (``min_t`` 0.5, no no-trade band) and the order-rate limits are scaled
to that speed, so that a short run shows trading. They are not advice: the policy's own
defaults trade rarely, on real-time minute bars. On Alpaca (``APCA_API_KEY_ID`` and
``APCA_API_SECRET_KEY`` set; paper only, a live account is refused) the settings are used
as they are and the script only watches unless ``--trade`` is given (the manual order is
then only checked against the gate, not sent); with ``--trade`` the final flatten closes
*every* position of the account (``--keep`` skips it) and leaves trading paused in the
account's journal, which ``tui-trader`` shares (``tui-trader resume`` lifts it).

    python examples/paper_trading.py [--seconds 30] [--speed 600] [--symbol AAPL --qty 5]

Ctrl-C ends the run early (the flatten and the summary still happen). Exit 0 when done, 1
when the desk stopped early or did not end flat, 2 on a configuration or start-up error (one
line on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from tui_trader.broker.journal import Journal
from tui_trader.broker.rest import AlpacaError, AuthenticationError, ForbiddenError
from tui_trader.broker.status import State
from tui_trader.config import ConfigError, Mode, Settings, load_settings
from tui_trader.core.orders import OrderBuilder
from tui_trader.core.portfolio import BookSnapshot
from tui_trader.desk.desk import Desk, DeskOptions
from tui_trader.desk.snapshot import EventLine
from tui_trader.desk.target import Target, resolve
from tui_trader.logs import setup_logging

START_TIMEOUT = 20.0  # seconds for the account check, the streams and the first prices
FLATTEN_TIMEOUT = 45.0  # the desk's flatten gives up after 30 s of its own
SETTLE_TIMEOUT = 10.0  # for the closing fills to reach the ledger
STOP_TIMEOUT = 15.0
FILL_KINDS = ("fill", "partial_fill")


class StartError(Exception):
    """The run could not start; ``str()`` is the one line for stderr."""


def demo_overrides(speed: float) -> dict[str, Any]:
    """Demo settings for the embedded emulator: a fast market and an eager policy.

    At ``speed`` x a wall-clock minute holds ``speed`` minute bars, so the order-rate limit
    allows about one order per bar, and the emulator's request limit leaves room for it.
    """
    orders_per_minute = max(30, int(speed))
    return {
        "sim": {"speed": speed, "rate_limit_per_minute": 1_000 + 2 * orders_per_minute},
        "policy": {"min_t": 0.5, "no_trade_band": 0.0},
        "risk": {"max_orders_per_minute": orders_per_minute},
    }


def load(speed: float) -> Settings:
    """The user's settings; on the embedded emulator, with the demo overrides on top."""
    settings = load_settings()
    if settings.mode is Mode.LIVE:
        raise StartError("this example trades paper accounts only; the settings say live")
    if settings.mode is Mode.SIM:
        settings = load_settings(**demo_overrides(speed))
    return settings


def money(value: Decimal, sign: bool = False) -> str:
    return f"{value:+,.2f}" if sign else f"{value:,.2f}"


def pnl_line(book: BookSnapshot) -> str:
    held = ", ".join(
        f"{p.symbol} {p.qty:+} @ {p.avg_entry:.2f} ({money(p.unrealized, True)})"
        for p in sorted(book.positions.values(), key=lambda p: p.symbol)
    )
    return (
        f"P&L: equity {money(book.equity)}  day {money(book.day_pnl, True)}  "
        f"realized {money(book.realized_pnl, True)}  "
        f"unrealized {money(book.unrealized_pnl, True)}  positions: {held or 'none'}"
    )


class FillPrinter:
    """Prints each fill in the desk's event list once, as new ones arrive.

    The snapshot holds the latest events (a bounded list, oldest first) without ids, so the
    printer remembers the last event it has looked at and prints what comes after it.
    """

    def __init__(self) -> None:
        self.last: EventLine | None = None
        self.printed = 0

    def update(self, events: Sequence[EventLine]) -> None:
        start = 0
        if self.last is not None:
            start = next(
                (i + 1 for i in range(len(events) - 1, -1, -1) if events[i] is self.last), 0
            )
            if start == 0 and events:
                print("(events arrived faster than they were read: some fills not shown)")
        for event in events[start:]:
            if event.kind in FILL_KINDS:
                self.printed += 1
                print(f"fill #{self.printed}: {event.symbol} {event.text}", flush=True)
        if events:
            self.last = events[-1]


async def until(check: Callable[[], bool], seconds: float, step: float = 0.1) -> bool:
    """Wait (at most ``seconds``) for ``check()``; whether it came true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(step)
    return True


async def check_account(target: Target) -> str:
    """One quick request before anything else: fail fast on a wrong URL or key."""
    rest = target.rest()
    rest.retries = 0  # a start-up check should fail at once, not back off
    try:
        account = await asyncio.wait_for(rest.get_account(), START_TIMEOUT)
    except (AuthenticationError, ForbiddenError) as exc:
        raise StartError(f"credentials rejected by {target.label}: {exc}") from None
    except AlpacaError as exc:
        raise StartError(f"cannot reach {target.label}: {exc}") from None
    except TimeoutError:
        raise StartError(f"{target.label} did not answer within {START_TIMEOUT:g} s") from None
    finally:
        await rest.aclose()
    equity = account.equity if account.equity is not None else account.cash
    return f"account equity {money(equity or Decimal(0))}"


def reason(run: asyncio.Task[None], desk: Desk) -> str:
    """Why the desk's run task ended by itself."""
    if run.cancelled():
        return "the desk was cancelled"
    exc = run.exception()
    if exc is not None:
        return f"the desk failed: {type(exc).__name__}: {exc}"
    failure = desk.supervisor.auth_failure
    return f"credentials rejected: {failure}" if failure else "the desk stopped by itself"


async def drive(
    desk: Desk, run: asyncio.Task[None], args: argparse.Namespace, halt: asyncio.Event
) -> int:
    """The manual order, the watch loop and the flatten; the exit code so far."""

    def ready() -> bool:
        snap = desk.snapshot()
        live = snap.connection.state in (State.STREAMING, State.POLLING)
        return run.done() or (live and snap.market_data_age is not None)

    if not await until(ready, START_TIMEOUT):
        state = desk.snapshot().connection.state
        raise StartError(f"the desk did not start within {START_TIMEOUT:g} s (streams {state})")
    if run.done():
        raise StartError(reason(run, desk))

    trade = desk.options.trade
    order = OrderBuilder().symbol(args.symbol).buy(args.qty).market().day().build()
    if trade:
        print(f"manual order: buy {args.qty} {args.symbol} market day", flush=True)
        verdict = await desk.submit(order)  # the risk gate; queued for sending if allowed
    else:
        print(f"manual order: buy {args.qty} {args.symbol} market day (not sent: watching)")
        verdict = desk.check(order)  # what the gate would say, without sending
    print(f"risk verdict: {'allowed' if verdict.allowed else 'denied: ' + str(verdict)}")

    fills = FillPrinter()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.seconds
    next_pnl = loop.time() + args.every
    while not run.done() and not halt.is_set() and loop.time() < deadline:
        fills.update(desk.snapshot().events)
        if loop.time() >= next_pnl:
            print(pnl_line(desk.snapshot().book), flush=True)
            next_pnl += args.every
        await asyncio.sleep(min(0.2, max(0.0, deadline - loop.time())))
    fills.update(desk.snapshot().events)
    print(pnl_line(desk.snapshot().book), flush=True)

    if halt.is_set():
        print("interrupted: ending the run early")
    if run.done():
        print(f"stopped early: {reason(run, desk)}; not flattening", file=sys.stderr)
        return 1
    if not trade:
        print("watching only: nothing to flatten (pass --trade to trade)")
        return 0
    if args.keep:
        print("--keep: positions left open")
        return 0
    try:
        report = await asyncio.wait_for(desk.flatten(), FLATTEN_TIMEOUT)
    except (AlpacaError, TimeoutError) as exc:
        print(f"flatten failed: {exc or 'timed out'}", file=sys.stderr)
        return 1
    print(f"flatten: {report.summary()}", flush=True)
    # the closing fills reach the ledger over the stream a moment after the broker is flat
    settled = await until(lambda: not desk.snapshot().book.positions, SETTLE_TIMEOUT)
    fills.update(desk.snapshot().events)
    if report.flat and not settled:
        print("the broker is flat; the ledger has not seen every closing fill yet")
    return 0 if report.flat else 1


async def stop(desk: Desk, run: asyncio.Task[None]) -> str | None:
    """Stop the desk and wait for its run task; what went wrong, if anything."""
    if run.done():  # it ended by itself, and drive() said why
        return None
    desk.stop()
    try:
        await asyncio.wait_for(run, STOP_TIMEOUT)
    except TimeoutError:
        return f"the desk did not stop within {STOP_TIMEOUT:g} s"
    except Exception as exc:
        return f"the desk failed: {type(exc).__name__}: {exc}"
    return None


def summary(desk: Desk) -> None:
    book = desk.snapshot().book
    intents = desk.journal.intents()  # every order the desk sent (flatten's are not intents)
    sources = ", ".join(f"{n} {s}" for s, n in sorted(Counter(i.source for i in intents).items()))
    states = ", ".join(f"{n} {s}" for s, n in sorted(Counter(i.state for i in intents).items()))
    print("summary:")
    print(f"  orders sent: {len(intents)}" + (f" ({sources}; {states})" if intents else ""))
    print(f"  fills: {book.fills}")
    print(f"  realized P&L: {money(book.realized_pnl, True)}")
    print(f"  unrealized P&L: {money(book.unrealized_pnl, True)}")
    print(f"  equity: {money(book.equity)} (day {money(book.day_pnl, True)})")
    if desk.snapshot().risk.paused:
        print("  trading is paused (flatten leaves it so; saved in the journal)")


async def session(desk: Desk, args: argparse.Namespace, halt: asyncio.Event) -> int:
    """Run the desk around :func:`drive`, stop it, print the summary; the exit code."""
    run = asyncio.create_task(desk.run(), name="desk")
    try:
        code = await drive(desk, run, args, halt)
    finally:
        problem = await stop(desk, run)
    if problem is not None:
        print(problem, file=sys.stderr)
        code = 1
    summary(desk)
    return code


async def main_async(args: argparse.Namespace) -> int:
    settings = load(args.speed)
    setup_logging(
        settings.log_dir, stderr="text" if args.verbose else None, stderr_level=logging.WARNING
    )
    embedded = settings.mode is Mode.SIM
    trade = embedded or args.trade
    try:
        target = await asyncio.to_thread(resolve, settings)
    except (OSError, RuntimeError) as exc:  # the embedded emulator could not start
        raise StartError(f"cannot start the embedded emulator: {exc}") from None
    scratch = None
    try:
        about = await check_account(target)
        where = (
            f"embedded emulator at {args.speed:g}x (demo settings)" if embedded else target.label
        )
        mode = "trading" if trade else "watching only (pass --trade to trade)"
        print(f"connected to {where}; {about}; {mode}", flush=True)
        path, scratch = target.journal_file(settings.data_dir)
        try:
            journal = Journal.open(path)
        except Exception as exc:
            raise StartError(f"journal {path}: {exc}") from None
        try:
            desk = Desk(
                settings, target, journal, DeskOptions(trade=trade, poll_interval=args.poll)
            )
            if args.symbol not in desk.symbols:
                raise StartError(f"--symbol must be one of {', '.join(desk.symbols)}")
            halt = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, halt.set)
            try:
                code = await session(desk, args, halt)
            finally:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(desk.aclose(), STOP_TIMEOUT)
        finally:
            journal.close()
        kept = " (temporary: deleted on exit, as is the emulator's history)" if scratch else ""
        print(f"  journal: {path}{kept}")
        return code
    finally:
        await asyncio.to_thread(target.close)
        if scratch is not None:
            scratch.cleanup()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the desk runs")
    parser.add_argument("--speed", type=float, default=600.0, help="emulator speed (x real)")
    parser.add_argument("--every", type=float, default=3.0, help="seconds between P&L lines")
    parser.add_argument("--poll", type=float, default=1.0, help="market data poll interval")
    parser.add_argument("--symbol", default="AAPL", help="symbol of the manual order")
    parser.add_argument("--qty", type=int, default=5, help="shares of the manual order")
    parser.add_argument("--trade", action="store_true", help="trade on Alpaca paper too")
    parser.add_argument("--keep", action="store_true", help="do not flatten at the end")
    parser.add_argument("-v", "--verbose", action="store_true", help="log warnings to stderr")
    args = parser.parse_args(argv)
    if min(args.seconds, args.speed, args.every, args.poll, args.qty) <= 0:
        parser.error("--seconds, --speed, --every, --poll and --qty must be positive")
    args.symbol = args.symbol.strip().upper()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(main_async(args))
    except (ConfigError, StartError) as exc:
        print(f"paper_trading: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
