"""End-to-end ingest: ``tui-trader headless`` against a bare SSE loop and the alpaca-py SDK.

One emulator, one backlog of trade events built once, and three readers that each replay
it from the beginning (``since`` 2000-01-01) in a subprocess of their own, stopping after
exactly N events:

* ``tui-trader headless --no-trade --streams trades --max-events N``: parses, validates,
  de-duplicates and journals (SQLite) every event, and prints one JSON line per event to a
  pipe this script drains;
* the baseline: ``httpx_sse.connect_sse`` on ``/v2/events/trades`` and ``json.loads`` on
  each event, nothing else;
* alpaca-py's ``BrokerClient.get_trade_events`` (requests + sseclient-py) on the legacy
  ``/v1/events/trades``, with ``json.loads`` on each raw data string it yields.

Each contender runs ``--rounds`` times (3 by default), the order rotated every round so that
each one goes first once, and the best round of each is compared: on a shared 2-CPU machine
a single run swings by 20% with the neighbours' load, and a fresh emulator's first readers
were measured slower than later ones (which always penalised whoever ran first).

Prints figures (no pass/fail): wall time from process start to exit; the same from the
child's first stdout line to exit, which leaves out interpreter start-up and imports (the
first line is headless's "connected" status, the bare loop's "connected" once the response
headers are in, and alpaca-py's "connecting" just before its generator sends the GET, since
the SDK has no hook after it); CPU time (``wait4``) and peak RSS (``VmHWM``) of each child;
and the ratios to the baseline and to alpaca-py. The issue's target is headless at >= 0.5x
the bare loop while parsing, validating and journaling every event, and faster than
alpaca-py.

Run: ``make bench`` or ``.venv/bin/python bench/ingest.py [--events N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from _isolation import KEY, SECRET, isolated_env  # bench/ is on sys.path

SINCE_DATE = "2000-01-01"
SINCE_RFC3339 = "2000-01-01T00:00:00Z"

BARE = """\
import json, sys
import httpx, httpx_sse
url, key, secret, since, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
headers = {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}
count = 0
with httpx.Client(timeout=httpx.Timeout(30.0)) as client:
    with httpx_sse.connect_sse(
        client, "GET", url + "/v2/events/trades", params={"since": since}, headers=headers
    ) as source:
        source.response.raise_for_status()
        print("connected", flush=True)
        for sse in source.iter_sse():
            json.loads(sse.data)
            count += 1
            if count >= n:
                break
print(json.dumps({"events": count}), flush=True)
"""

ALPACA = """\
import json, sys
from alpaca.broker.client import BrokerClient
from alpaca.broker.requests import GetEventsRequest
url, key, secret, since, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
client = BrokerClient(key, secret, sandbox=False, url_override=url)
print("connecting", flush=True)
count = 0
events = client.get_trade_events(GetEventsRequest(since=since))
for data in events:
    json.loads(data)
    count += 1
    if count >= n:
        break
events.close()
print(json.dumps({"events": count}), flush=True)
"""


@dataclass
class Result:
    name: str
    events: int
    seconds: float
    after_first_line: float | None
    cpu: float
    rss_mb: float
    returncode: int | None
    note: str = ""
    journal_rows: int | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.note

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class Drain(threading.Thread):
    """Reads a child's stdout in big chunks; counts the ``{"kind":"event"`` lines."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.first_line_at: float | None = None
        self.events = 0
        self.last_line = b""

    def run(self) -> None:
        carry = b""
        while chunk := os.read(self.fd, 1 << 20):
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            if cut:
                if self.first_line_at is None:
                    self.first_line_at = time.perf_counter()
                whole, carry = data[:cut], data[cut:]
                self.events += whole.count(b'{"kind":"event"')
                self.last_line = whole[whole.rfind(b"\n", 0, -1) + 1 : -1]
            else:
                carry = data


def run_child(
    name: str, argv: list[str], env: dict[str, str], timeout: float, stderr_path: Path
) -> tuple[Result, Drain]:
    with stderr_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, env=env
        )
    assert proc.stdout is not None
    drain = Drain(proc.stdout.fileno())
    drain.start()
    note = ""
    rusage = None
    status = None
    peak_kib = 0
    try:
        deadline = start + timeout
        while True:
            peak_kib = max(peak_kib, _vm_hwm_kib(proc.pid))
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                note = f"timed out after {timeout:g} s"
                proc.kill()
                _, status, rusage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        end = time.perf_counter()
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if proc.returncode is None:  # interrupted before the child was reaped
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
        drain.join(timeout=10)
        proc.stdout.close()
    first = drain.first_line_at
    return (
        Result(
            name=name,
            events=0,
            seconds=end - start,
            after_first_line=None if first is None else end - first,
            cpu=rusage.ru_utime + rusage.ru_stime,
            rss_mb=peak_kib / 1024,
            returncode=proc.returncode,
            note=note,
        ),
        drain,
    )


def _vm_hwm_kib(pid: int) -> int:
    """The child's peak RSS so far, from /proc (0 once it has exited).

    Not ``ru_maxrss``: a child spawned from this process starts as a copy of it (emulator
    and backlog included), and Linux keeps that copy's peak across ``exec``.
    """
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def child_env(root: Path) -> dict[str, str]:
    return isolated_env(root)


def headless_argv() -> list[str]:
    script = Path(sys.executable).parent / "tui-trader"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tui_trader"]


def tail(path: Path, lines: int = 5) -> str:
    text = path.read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:])


def run_headless(url: str, n: int, root: Path, env: dict[str, str], timeout: float) -> Result:
    journal = root / "headless-journal.sqlite3"
    argv = [
        *headless_argv(),
        "headless",
        "--base-url",
        url,
        "--no-trade",
        "--streams",
        "trades",
        "--max-events",
        str(n),
        "--since",
        SINCE_RFC3339,
        "--journal",
        str(journal),
    ]
    stderr = root / "headless.stderr"
    result, drain = run_child("tui-trader headless", argv, env, timeout, stderr)
    result.events = drain.events
    if result.returncode != 0 and not result.note:
        result.note = f"exit {result.returncode}: {tail(stderr)}"
    elif drain.events != n and not result.note:
        result.note = f"printed {drain.events} events, wanted {n}"
    rows = _journal_rows(journal)
    if rows is None:
        result.note = result.note or "no journal"
    elif rows < n and not result.note:
        result.note = f"journal holds {rows} events, fewer than the {n} printed"
    result.journal_rows = rows
    return result


def _journal_rows(path: Path) -> int | None:
    if not path.exists():
        return None
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return int(
            conn.execute("SELECT count(*) FROM events WHERE stream = 'trades'").fetchone()[0]
        )


def run_script(
    name: str, source: str, url: str, n: int, root: Path, env: dict[str, str], timeout: float
) -> Result:
    script = root / f"{name.split()[0].replace('-', '_')}.py"
    script.write_text(source)
    argv = [sys.executable, str(script), url, KEY, SECRET, SINCE_DATE, str(n)]
    stderr = root / f"{script.stem}.stderr"
    result, drain = run_child(name, argv, env, timeout, stderr)
    count = None
    with contextlib.suppress(ValueError, KeyError, TypeError):
        count = int(json.loads(drain.last_line)["events"])
    result.events = count or 0
    if result.returncode != 0 and not result.note:
        result.note = f"exit {result.returncode}: {tail(stderr)}"
    elif count != n and not result.note:
        result.note = f"read {count} events, wanted {n}"
    return result


def settle(url: str, limit: float = 10.0) -> None:
    """Wait until the emulator has let go of the previous reader's stream.

    A reader that stops early leaves the server writing the rest of its replay into the
    closed socket for a moment; that must not overlap the next reader's run.
    """
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        state = httpx.get(f"{url}/_emulator/state", timeout=10).json()
        if not any(state["connections"].values()):
            break
        time.sleep(0.01)
    time.sleep(0.2)


@contextlib.contextmanager
def emulator(env: dict[str, str], root: Path) -> Iterator[str]:
    """``tui-trader sim`` in a process of its own: the emulator must not share a GIL with
    this script's output draining, or the contender that prints most would pay for it."""
    argv = [
        *headless_argv(),
        "sim",
        "--port",
        "0",
        "--heartbeat",
        "5",
        "--rate-limit",
        "10000000",
        "--legacy-v1-trades",
        "--key",
        KEY,
        "--secret",
        SECRET,
        "--log-level",
        "error",
    ]
    log = (root / "sim.stderr").open("wb")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    try:
        assert proc.stdout is not None
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            match = re.search(r"http://127\.0\.0\.1:\d+", line)
            url = match.group(0) if match else None
        if url is None:
            raise SystemExit(f"the emulator did not start: {tail(root / 'sim.stderr')}")
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000, help="events each reader reads")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each contender (best kept)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per reader")
    args = parser.parse_args()
    n = args.events
    # a backlog order writes three trade events; every run reads the same >= 100,000
    orders = max(34_000, -(-n // 3))

    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.machine()}"
    )
    with tempfile.TemporaryDirectory(prefix="tui-trader-bench-") as tmp:
        root = Path(tmp)
        env = child_env(root)
        with emulator(env, root) as url:
            t0 = time.perf_counter()
            reply = httpx.post(
                f"{url}/_emulator/backlog",
                json={"orders": orders},
                headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET},
                timeout=600,
            ).json()
            build_s = time.perf_counter() - t0
            total = int(reply["end"])
            print(
                f"backlog: {reply['trade_events']:,} trade events from {orders:,} orders in "
                f"{build_s:.1f} s; {total:,} trade events in the log; each reader reads the "
                f"first {n:,}"
            )
            if total < n:
                raise SystemExit(f"the log holds {total} events, fewer than --events {n}")
            contenders: list[Callable[[Path], Result]] = [
                lambda where: run_headless(url, n, where, env, args.timeout),
                lambda where: run_script("bare httpx-sse", BARE, url, n, where, env, args.timeout),
                lambda where: run_script("alpaca-py SDK", ALPACA, url, n, where, env, args.timeout),
            ]
            rounds: list[list[Result]] = [[] for _ in contenders]
            for k in range(max(1, args.rounds)):
                where = root / f"round{k + 1}"  # a fresh journal for headless every round
                where.mkdir()
                for i in [(k + j) % len(contenders) for j in range(len(contenders))]:
                    settle(url)
                    rounds[i].append(contenders[i](where))
    report(rounds, n)
    if not all(r.ok for runs in rounds for r in runs):
        # not a verdict on speed: a run that did not read exactly N events measured nothing
        raise SystemExit(1)


def best(runs: list[Result]) -> Result:
    """The fastest complete round (by wall time), with the highest peak RSS of any round."""
    done = [r for r in runs if r.ok] or runs
    top = min(done, key=lambda r: r.seconds)
    excl = [r.after_first_line for r in done if r.after_first_line]
    return replace(
        top,
        after_first_line=min(excl) if excl else None,
        rss_mb=max(r.rss_mb for r in runs),
        cpu=min(r.cpu for r in done),
    )


def report(rounds: list[list[Result]], n: int) -> None:
    header = (
        f"{'contender':<20} {'events':>8} {'seconds':>8} {'events/s':>9} "
        f"{'s excl.start':>12} {'events/s':>9} {'CPU s':>6} {'peak RSS MB':>11}"
    )

    def row(r: Result, label: str) -> None:
        after = r.after_first_line
        print(
            f"{label:<20} {r.events:>8,} {r.seconds:>8.2f} {r.rate:>9,.0f} "
            f"{'-' if after is None else f'{after:.2f}':>12} "
            f"{'-' if not after else f'{r.events / after:,.0f}':>9} "
            f"{r.cpu:>6.2f} {r.rss_mb:>11.0f}" + (f"  [{r.note}]" if r.note else "")
        )

    print()
    print("every round:")
    print(header)
    for runs in rounds:
        for k, r in enumerate(runs, 1):
            row(r, f"{r.name[:16]} #{k}")
    print()
    print(f"best of {len(rounds[0])} (fastest wall time and fastest excl. start-up of the rounds):")
    print(header)
    results = [best(runs) for runs in rounds]
    for r in results:
        row(r, r.name)
    head, bare, sdk = results
    rows = head.journal_rows
    print(f"headless journal: {'missing' if rows is None else f'{rows:,} trade events'}")
    print()

    def ratio(a: Result, b: Result) -> str:
        if not (a.ok and b.ok):
            return "n/a (a run did not complete)"
        whole = b.seconds / a.seconds
        if a.after_first_line and b.after_first_line:
            excl = b.after_first_line / a.after_first_line
            return f"{whole:.2f}x (excl. start-up {excl:.2f}x)"
        return f"{whole:.2f}x"

    print(f"headless / bare httpx-sse events/s: {ratio(head, bare)}   (target >= 0.5x)")
    print(f"headless / alpaca-py events/s:      {ratio(head, sdk)}   (target > 1x)")


if __name__ == "__main__":
    main()
