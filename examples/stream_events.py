"""Stream broker events from a script: subscribe, filter, take and batch.

Opens :class:`tui_trader.stream.EventStream` (the embedded emulator unless Alpaca keys are
in the environment), places a few one-share market buys through ``stream.rest`` and prints
the first N fills twice, from two independent subscribers over the same de-duplicated flow:
one fill at a time (``.take(N)``) and grouped (``.batch(size, within=...)``).

Against Alpaca it only watches unless ``--place-orders`` is given (paper keys, please: the
buys are real orders). ``--timeout`` bounds the whole run. Exit 0 when N fills were seen
(or, when only watching, at the timeout), 1 when expected fills did not arrive, 2 when the
stream could not start.

    python examples/stream_events.py [--fills 4] [--symbols AAPL,MSFT] [--timeout 30]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from tui_trader.config import ConfigError
from tui_trader.core.events import Event, TradeEvent
from tui_trader.core.orders import OrderBuilder
from tui_trader.stream import EventStream, EventStreamError


def describe(event: Event) -> str:
    """One line per fill: symbol, side, quantity and price."""
    if isinstance(event, TradeEvent) and event.order is not None:
        o = event.order
        return f"{o.symbol} {o.side} {event.qty} @ {event.price} (order {o.id[:8]})"
    return f"{event.kind} {event.key}"


class Progress:
    """What the run got to, for the timeout message."""

    def __init__(self) -> None:
        self.trading = False
        self.seen = 0


async def watch(args: argparse.Namespace, progress: Progress) -> int:
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
    async with await EventStream.open() as stream:
        progress.trading = stream.embedded or args.place_orders
        mode = "placing orders" if progress.trading else "watching only"
        print(f"connected to {stream.label}; {mode}", flush=True)
        # subscribe before ordering: a subscription sees events from that moment on
        fills = stream.subscribe(symbols=symbols, types=["fill"]).take(args.fills)
        grouped = (
            stream.subscribe(symbols=symbols, types=["fill"])
            .take(args.fills)
            .map(lambda e: e.order.symbol if isinstance(e, TradeEvent) and e.order else "?")
            .batch(args.batch, within=args.within)
        )

        async def one_by_one() -> None:
            async for event in fills:
                progress.seen += 1
                print(f"fill {progress.seen}/{args.fills}: {describe(event)}", flush=True)

        async def in_batches() -> None:
            async for group in grouped:
                print(f"batch of {len(group)}: {', '.join(group)}", flush=True)

        async def place() -> None:
            if not progress.trading:
                return
            for i in range(args.fills):
                symbol = symbols[i % len(symbols)]
                order = OrderBuilder().symbol(symbol).buy(1).market().day().build()
                sent = await stream.rest.submit_order(order)
                print(f"placed buy 1 {symbol} (order {sent.id[:8]})", flush=True)

        await asyncio.gather(one_by_one(), in_batches(), place())
    print(f"done: {progress.seen} fills", flush=True)
    return 0


async def run(args: argparse.Namespace) -> int:
    progress = Progress()
    try:
        async with asyncio.timeout(args.timeout):
            return await watch(args, progress)
    except TimeoutError:
        print(f"timed out after {args.timeout:g} s with {progress.seen}/{args.fills} fills")
        return 1 if progress.trading else 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--fills", type=int, default=4, help="how many fills to wait for")
    parser.add_argument("--symbols", default="AAPL,MSFT", help="comma-separated symbols")
    parser.add_argument("--batch", type=int, default=3, help="largest batch printed")
    parser.add_argument("--within", type=float, default=0.5, help="seconds a batch may wait")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds for the whole run")
    parser.add_argument(
        "--place-orders",
        action="store_true",
        help="place the market buys on Alpaca too (always done on the embedded emulator)",
    )
    args = parser.parse_args(argv)
    if args.fills < 1 or args.batch < 1 or args.within <= 0 or args.timeout <= 0:
        parser.error("--fills, --batch, --within and --timeout must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(run(args))
    except (ConfigError, EventStreamError, OSError) as exc:
        print(f"stream_events: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
