"""Market-data ingest: quotes per second the desk takes from the data websocket, against
alpaca-py's ``StockDataStream`` on the same emulator stream, in the same run.

One emulator in a process of its own (``quote_hz`` quotes per second per symbol on
``/v2/iex``; its slow-client limit and frame batching as served), and one reader at a time,
each in a fresh process, alternated (the order rotated every round) over a sweep of offered
rates:

* ``raw json``: ``websockets`` ``recv`` and ``str.count('"T":"q"')`` on each frame: the
  ceiling of a JSON client (nothing parsed);
* ``raw msgpack``: the same on msgpack frames, counting from the array header: the ceiling
  of alpaca-py's encoding;
* ``desk client``: :class:`~tui_trader.broker.data_socket.MarketDataStream` with a counting
  ``on_quote``: the JSON frame parsed with exact decimals into validated ``Quote`` models
  (it subscribes quotes, trades, bars and updatedBars, as the desk does);
* ``desk full``: a real :class:`~tui_trader.desk.desk.Desk` running (``trade=False``, no
  warm-up; its trade stream and market loop too), whose ``_on_stream_quote`` moves each
  symbol's price, mark and quote age; counted by wrapping that callback;
* ``alpaca-py``: ``StockDataStream(url_override=...)`` with an async handler counting the
  ``Quote`` models, run by ``_run_forever`` and stopped by ``stop_ws``. It always asks for
  msgpack (``_connect`` forces ``Content-Type: application/msgpack`` over any
  ``websocket_params`` header, ``_consume`` always ``msgpack.unpackb``, ``_cast`` expects
  msgpack Timestamps): no option makes it read JSON, only overriding private methods.

Each reader waits ``--warmup`` s after its first quote, then counts for ``--window`` s.
Per run: delivered quotes/s (the reader's count over its own clock); how many quotes the
emulator had generated for that connection and not yet delivered at the end of the window
("behind", split into what the emulator had not yet written and what was written but not
yet read); the reader's CPU per quote (``process_time``), its peak RSS (``VmHWM``); the
emulator's CPU share over the window. A reader that falls 200,000 quotes behind is cut
(407 slow client), as Alpaca does; that is reported, not hidden.

Prints figures (no pass/fail); exits 1 only if a reader measured nothing.

Run: ``make bench`` or ``.venv/bin/python bench/data_stream.py [--quick] [--rates 2000,...]``.
The default (4 rates x 5 readers x 3 rounds) takes about six minutes; ``--quick`` under one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _isolation import KEY, SECRET, isolated_env  # bench/ is on sys.path
from _revision import revision

SIM_START = "2026-11-24T15:00:00+00:00"  # a Tuesday, 10:00 New York: the market is open
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "SPY")
READERS = ("raw json", "raw msgpack", "desk client", "desk full", "alpaca-py")

# The emulator, with counters: quotes generated for the current connection (the hub's
# ``sent``, since that connection registered), quotes written to the socket, 407s sent.
# Commands on stdin, one JSON line answered on stdout each: ``counts``, ``rate HZ``.
EMULATOR = """\
import json, sys
from datetime import datetime
from decimal import Decimal
from tui_trader.sim import data_feed, data_socket
from tui_trader.sim.emulator import EmulatorConfig
from tui_trader.sim.runner import start_in_thread

key, secret, start, cap = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[5])
hub = []
tally = {"base": 0, "written": 0, "frames": 0, "slow": 0, "sessions": 0}
_register = data_feed.DataHub.register

def register(self, listener):
    hub[:] = [self]
    if not self.listeners:
        tally.update(base=self.sent, written=0, frames=0)
    tally["sessions"] += 1
    _register(self, listener)

_send = data_socket.Session._send

async def send(self, messages):
    for i in range(0, len(messages), cap or len(messages)):
        await _send(self, messages[i : i + cap] if cap else messages)
    kind = messages[0]["T"]
    if kind not in data_socket.CONTROL:
        tally["written"] += len(messages)
        tally["frames"] += 1
    elif kind == "error" and messages[0]["code"] == 407:
        tally["slow"] += 1

data_feed.DataHub.register = register
data_socket.Session._send = send
config = EmulatorConfig(
    key_id=key, secret_key=secret, start=datetime.fromisoformat(start),
    heartbeat_seconds=5.0, rate_limit_per_minute=10_000_000, quote_hz=1.0,
    starting_cash=Decimal(1_000_000), symbols=tuple(sys.argv[4].split(",")),
)
running = start_in_thread(config, "127.0.0.1", 0, log_level="critical")
print(running.url, flush=True)
for line in sys.stdin:
    cmd = line.split()
    if not cmd:
        break
    if cmd[0] == "rate":
        running.emulator.config.quote_hz = float(cmd[1])
    h = hub[0] if hub else None
    print(json.dumps({
        "generated": (h.sent - tally["base"]) if h else 0,
        "written": tally["written"], "frames": tally["frames"], "slow": tally["slow"],
        "sessions": tally["sessions"], "listeners": len(h.listeners) if h else 0,
    }), flush=True)
running.stop()
"""


# ------------------------------------------------------------------------------ readers
class Meter:
    """A reader's count, marked at the start and the end of the window (on its own loop)."""

    def __init__(self) -> None:
        self.quotes = 0
        self.first = asyncio.Event()

    def add(self, n: int = 1) -> None:
        self.quotes += n
        if not self.first.is_set():
            self.first.set()

    async def measure(self, warmup: float, window: float, limit: float) -> dict[str, Any]:
        await asyncio.wait_for(self.first.wait(), limit)
        await asyncio.sleep(warmup)
        c0, t0, cpu0 = self.quotes, time.perf_counter(), time.process_time()
        print(f"start {c0}", flush=True)
        await asyncio.sleep(window)
        c1, t1, cpu1 = self.quotes, time.perf_counter(), time.process_time()
        print(f"end {c1}", flush=True)
        return {
            "quotes": c1 - c0,
            "seconds": t1 - t0,
            "cpu": cpu1 - cpu0,
            "total": c1,
            "rss_kb": _proc_status("VmRSS:"),
        }


def _proc_status(field_name: str, pid: int | str = "self") -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(field_name.encode()):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


async def raw_reader(url: str, symbols: list[str], meter: Meter, binary: bool) -> None:
    from websockets.asyncio.client import connect

    headers = {"Content-Type": "application/msgpack"} if binary else {}
    async with connect(url, max_size=None, additional_headers=headers) as ws:
        await ws.recv()  # connected
        await ws.send(json.dumps({"action": "auth", "key": KEY, "secret": SECRET}))
        await ws.recv()  # authenticated
        await ws.send(json.dumps({"action": "subscribe", "quotes": symbols}))
        while True:
            raw = await ws.recv()
            if isinstance(raw, str):
                meter.add(raw.count('"T":"q"'))
            else:
                meter.add(_msgpack_len(raw))


def _msgpack_len(raw: bytes) -> int:
    """Messages in a msgpack array frame, from its header (data frames hold only quotes)."""
    head = raw[0]
    if 0x90 <= head <= 0x9F:
        n = head & 0x0F
    elif head == 0xDC:
        n = int.from_bytes(raw[1:3], "big")
    elif head == 0xDD:
        n = int.from_bytes(raw[1:5], "big")
    else:
        return 0
    return n if b"\xa1T\xa1q" in raw[:16] else 0  # {"T": "q", ...} first


Stop = Callable[[], Awaitable[None]]
Note = Callable[[], str]


def _connects(stream: Any) -> str:
    status = stream.status()
    return "" if status.connects == 1 else f"{status.connects} connects: {status.reason}"


async def desk_client(url: str, symbols: list[str], meter: Meter) -> tuple[Stop, Note]:
    from tui_trader.broker.data_socket import DataCallbacks, MarketDataStream

    def on_quote(symbol: str, quote: Any) -> None:
        meter.add()

    stream = MarketDataStream(url, KEY, SECRET, symbols, callbacks=DataCallbacks(on_quote=on_quote))
    task = asyncio.create_task(stream.run())

    async def stop() -> None:
        stream.stop()
        await task

    return stop, lambda: _connects(stream)


async def desk_full(
    http_url: str, symbols: list[str], meter: Meter, root: str
) -> tuple[Stop, Note]:
    from tui_trader.broker.journal import Journal
    from tui_trader.config import load_settings
    from tui_trader.desk.desk import Desk, DeskOptions
    from tui_trader.desk.target import Target

    settings = load_settings(base_url=http_url)
    target = Target(http_url, http_url, settings.api, settings.key_id, settings.secret_key)
    journal = Journal.open(Path(root) / "journal.sqlite3")
    desk = Desk(
        settings, target, journal, DeskOptions(trade=False, symbols=tuple(symbols), warmup=False)
    )
    stream = desk.data_stream
    if stream is None:
        raise SystemExit("the desk built no data stream (data.stream is off)")
    take = stream.callbacks.on_quote  # the desk's own _on_stream_quote

    def on_quote(symbol: str, quote: Any) -> None:
        take(symbol, quote)
        meter.add()

    stream.callbacks.on_quote = on_quote
    task = asyncio.create_task(desk.run())

    def note() -> str:
        ages = desk.quote_ages()
        if set(ages) != set(symbols):
            return f"quote ages for {sorted(ages)} only"
        return _connects(stream)

    async def stop() -> None:
        desk.stop()
        await task
        await desk.aclose()
        journal.close()

    return stop, note


async def alpaca_py(url: str, symbols: list[str], meter: Meter) -> tuple[Stop, Note]:
    from alpaca.data.live import StockDataStream
    from alpaca.data.models import Quote

    async def handler(item: Any) -> None:
        if isinstance(item, Quote):
            meter.add()

    # its own websocket settings, but frames as large as the desk client takes (1 MiB
    # by default in websockets' legacy client, which alpaca-py uses)
    params = {"ping_interval": 10, "ping_timeout": 180, "max_queue": 1024, "max_size": 2**24}
    stream = StockDataStream(KEY, SECRET, url_override=url, websocket_params=params)
    stream.subscribe_quotes(handler, *symbols)
    task = asyncio.create_task(stream._run_forever())

    async def stop() -> None:
        await stream.stop_ws()
        await task

    return stop, lambda: ""


async def child(args: argparse.Namespace) -> None:
    symbols = args.symbols.split(",")
    ws_url = args.url.replace("http://", "ws://") + "/v2/iex"
    meter = Meter()
    if args.child in ("raw json", "raw msgpack"):
        task = asyncio.create_task(raw_reader(ws_url, symbols, meter, args.child == "raw msgpack"))

        async def stop() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        def note() -> str:
            return ""

    elif args.child == "desk client":
        stop, note = await desk_client(ws_url, symbols, meter)
    elif args.child == "desk full":
        stop, note = await desk_full(args.url, symbols, meter, args.root)
    else:
        stop, note = await alpaca_py(ws_url, symbols, meter)
    try:
        out = await meter.measure(args.warmup, args.window, args.limit)
        out["note"] = note()
        out["rss_peak_kb"] = _proc_status("VmHWM:")
        print("result " + json.dumps(out), flush=True)
    finally:
        try:
            await asyncio.wait_for(stop(), 15)
            print("stopped", flush=True)
        except Exception as exc:  # said in the report: a reader that does not stop
            print(f"stop failed: {type(exc).__name__}: {exc}"[:200], flush=True)
        sys.stdout.flush()
        os._exit(0)  # nothing left to clean up; leftover tasks must not hold the exit


# ------------------------------------------------------------------------------- parent
@dataclass
class Run:
    reader: str
    rate: int
    quotes: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    rss_mb: float = 0.0
    offered: float = 0.0  # quotes/s the emulator generated over the window
    behind: int = 0  # generated - delivered, at the end of the window
    unwritten: int = 0  # of which the emulator had not written yet
    emu_cpu: float = 0.0  # the emulator's share of one CPU over the window
    others: float = 0.0  # CPUs the rest of the machine used over the window
    note: str = ""
    stop_note: str = ""  # the reader measured, but did not stop cleanly within 15 s
    counts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.quotes > 0 and not self.note

    @property
    def rate_in(self) -> float:
        return self.quotes / self.seconds if self.seconds else 0.0

    @property
    def us_per_quote(self) -> float:
        return 1e6 * self.cpu / self.quotes if self.quotes else float("nan")


class Emulator:
    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc, self.url = proc, url

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return dict(json.loads(self.proc.stdout.readline()))

    def cpu_seconds(self) -> float:
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            return 0.0

    def settle(self, limit: float = 10.0) -> None:
        """Until the previous reader's connection is gone (one per endpoint per key)."""
        deadline = time.monotonic() + limit
        while self.ask("counts")["listeners"] and time.monotonic() < deadline:
            time.sleep(0.05)


@contextlib.contextmanager
def emulator(env: dict[str, str], root: Path, cap: int) -> Iterator[Emulator]:
    log = (root / "sim.stderr").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", EMULATOR, KEY, SECRET, SIM_START, ",".join(SYMBOLS), str(cap)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise SystemExit(f"the emulator did not start: {tail(root / 'sim.stderr')}")
        yield Emulator(proc, url)
    finally:
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.write("\n")
            proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def tail(path: Path, lines: int = 3) -> str:
    text = path.read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:])


def run_reader(
    name: str, rate: int, emu: Emulator, env: dict[str, str], root: Path, args: Any
) -> Run:
    emu.settle()
    run = Run(name, rate)
    stem = name.replace(" ", "_").replace("-", "_")
    where = root / f"{stem}-{rate}-{time.monotonic_ns()}"
    where.mkdir()
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        name,
        "--url",
        emu.url,
        "--symbols",
        ",".join(SYMBOLS),
        "--root",
        str(where),
        "--warmup",
        str(args.warmup),
        "--window",
        str(args.window),
        "--limit",
        str(args.limit),
    ]
    stderr = where / "stderr"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, env=env, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    marks: dict[str, tuple[int, dict[str, Any], float, float]] = {}
    timer = threading.Timer(args.limit + args.warmup + args.window + 30, proc.kill)
    timer.start()
    try:
        for line in proc.stdout:
            word, _, rest = line.strip().partition(" ")
            if word in ("start", "end"):
                marks[word] = (int(rest), emu.ask("counts"), emu.cpu_seconds(), machine_busy())
            lines.append(line)
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    result = [x[7:] for x in lines if x.startswith("result ")]
    if not result:
        run.note = f"exit {proc.returncode}: {tail(stderr)}"
        return run
    out = json.loads(result[0])
    run.quotes, run.seconds, run.cpu = out["quotes"], out["seconds"], out["cpu"]
    run.rss_mb = out["rss_peak_kb"] / 1024
    run.note = out.get("note", "")
    stopped = [x.strip() for x in lines if x.startswith(("stopped", "stop failed"))]
    if stopped != ["stopped"]:
        run.stop_note = stopped[0] if stopped else f"killed while stopping ({tail(stderr, 1)})"
    if "start" in marks and "end" in marks:
        (_, g0, e0, m0), (c1, g1, e1, m1) = marks["start"], marks["end"]
        run.counts = [g0, g1]
        run.offered = (g1["generated"] - g0["generated"]) / run.seconds
        run.behind = g1["generated"] - c1
        run.unwritten = g1["generated"] - g1["written"]
        run.emu_cpu = (e1 - e0) / run.seconds
        run.others = max(0.0, (m1 - m0) - (e1 - e0) - run.cpu) / run.seconds
        if g1["slow"] > g0["slow"] or g1["sessions"] != g0["sessions"]:
            run.note = run.note or "cut: 407 slow client"
    return run


def fmt_row(label: str, r: Run) -> str:
    return (
        f"{label:<22} {r.offered:>9,.0f} {r.rate_in:>10,.0f} {r.behind:>9,} {r.unwritten:>9,} "
        f"{r.us_per_quote:>8.1f} {r.rss_mb:>7.0f} {100 * r.emu_cpu:>6.0f}% {r.others:>6.2f}"
        + (f"  [{r.note}]" if r.note else "")
        + (f"  [stop: {r.stop_note}]" if r.stop_note else "")
    )


LEGEND = """\
every run, in the order run (offered: quotes/s the emulator generated; deliver: quotes/s the
reader took; behind: generated and not yet read at the window's end; unwritten: of those, not
yet written by the emulator; emu CPU: the emulator's share of one CPU; others: CPUs the rest
of the machine took meanwhile):"""
HEADER = (
    f"{'reader':<22} {'offered/s':>9} {'deliver/s':>10} {'behind':>9} {'unwritten':>9} "
    f"{'CPU us/q':>8} {'RSS MB':>7} {'emu CPU':>7} {'others':>6}"
)


def report(results: dict[int, dict[str, list[Run]]], args: argparse.Namespace) -> None:
    print()
    print(
        f"summary over {args.rounds} round(s): delivered quotes/s best and median, and the "
        "medians of the rest"
    )
    print(
        f"{'offered':>8} {'reader':<12} {'best/s':>8} {'median/s':>9} {'behind':>8} "
        f"{'CPU us/q':>8} {'RSS MB':>7} {'vs alpaca-py':>12}"
    )
    for rate, by_reader in results.items():
        alpaca = by_reader.get("alpaca-py")
        base = statistics.median(r.rate_in for r in alpaca) if alpaca else float("nan")
        for name, runs in by_reader.items():
            med = statistics.median(r.rate_in for r in runs)
            cpu = [r.us_per_quote for r in runs if r.quotes]
            print(
                f"{rate:>8,} {name:<12} {max(r.rate_in for r in runs):>8,.0f} {med:>9,.0f} "
                f"{statistics.median(r.behind for r in runs):>8,.0f} "
                f"{statistics.median(cpu) if cpu else float('nan'):>8.1f} "
                f"{max(r.rss_mb for r in runs):>7.0f} {med / base:>11.2f}x"
                + ("" if all(r.ok for r in runs) else "  (a run has a note, above)")
            )


def machine_busy() -> float:
    """CPU-seconds the whole machine has been busy (every CPU, every process)."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]
    return (sum(parts[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rates", default="2000,10000,40000,80000", help="offered quotes/s in all, comma-separated"
    )
    parser.add_argument("--rounds", type=int, default=3, help="runs of each reader per rate")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before counting")
    parser.add_argument("--window", type=float, default=4.0, help="seconds counted")
    parser.add_argument("--readers", default=",".join(READERS), help="which, comma-separated")
    parser.add_argument("--quick", action="store_true", help="10k and 40k/s, one round, 2 s")
    parser.add_argument(
        "--frame-cap",
        type=int,
        default=0,
        help="most messages in one frame (0: the emulator's own batching, at most 1,000)",
    )
    parser.add_argument("--keep", type=Path, help="keep every process's stderr in this folder")
    parser.add_argument("--limit", type=float, default=30.0, help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--symbols", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        # a reader that hangs says where, in its stderr, before the parent kills it
        faulthandler.dump_traceback_later(args.limit + args.warmup + args.window + 5)
        asyncio.run(child(args))
        return
    if args.quick:
        args.rates, args.rounds, args.warmup, args.window = "10000,40000", 1, 0.5, 2.0
    rates = [int(float(x)) for x in args.rates.split(",")]
    readers = [n.strip() for n in args.readers.split(",")]
    unknown = set(readers) - set(READERS)
    if unknown:
        raise SystemExit(f"unknown readers: {sorted(unknown)}; known: {', '.join(READERS)}")

    import alpaca
    import websockets

    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}; websockets {websockets.__version__}, "
        f"alpaca-py {alpaca.__version__}"
    )
    print(f"code: tui-trader at {revision()}")
    print(
        f"stream: /v2/iex, {len(SYMBOLS)} symbols, offered {', '.join(f'{r:,}' for r in rates)} "
        f"quotes/s in all; {args.rounds} round(s), {args.warmup:g} s warm-up, "
        f"{args.window:g} s counted; JSON frames to all but raw msgpack and alpaca-py"
    )
    print()
    print(LEGEND)
    print(HEADER)
    results: dict[int, dict[str, list[Run]]] = {}
    with tempfile.TemporaryDirectory(prefix="tui-trader-bench-md-") as tmp:
        root = Path(tmp) if args.keep is None else args.keep.resolve()
        root.mkdir(parents=True, exist_ok=True)
        env = isolated_env(root)
        with emulator(env, root, args.frame_cap) as emu:
            for rate in rates:
                emu.ask(f"rate {rate / len(SYMBOLS)}")
                by_reader: dict[str, list[Run]] = {n: [] for n in readers}
                for k in range(max(1, args.rounds)):
                    order = readers[k % len(readers) :] + readers[: k % len(readers)]
                    if k % 2:
                        order.reverse()
                    for name in order:
                        run = run_reader(name, rate, emu, env, root, args)
                        by_reader[name].append(run)
                        print(fmt_row(f"{rate // 1000}k {name} #{k + 1}", run), flush=True)
                results[rate] = by_reader
    report(results, args)
    if not all(r.quotes for by in results.values() for runs in by.values() for r in runs):
        raise SystemExit(1)  # a reader measured nothing: not a verdict on speed


if __name__ == "__main__":
    main()
