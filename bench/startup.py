"""Start-up: how soon the screen is drawn, and how soon the desk is alive.

Every figure is timed from the moment the process is spawned (the interpreter's own start
included), on this machine, in the same run as its baseline:

* **first frame**: ``tui-trader`` with no credentials (the embedded emulator, its paper account
  in a temp dir) against a bare Textual app (one ``Static``), each in a fresh process on a
  pseudo-terminal of 140x42; the frame counts as drawn when its text reaches the terminal
  (the start screen's progress line, ``⟳``, which is on its first frame; the bare app's one
  word). Since the settings are built behind that frame, the mode's `` SIM `` badge comes a
  little later: **badge** is that time, for the record (it was the first frame's marker
  until the settings moved behind it). The two alternate run by run, so a
  busy moment of the machine falls on both; the median of ``--runs`` each (at least 5).
* **alive**: the real ``tui-trader`` (same pty, same isolation) with a probe on its desk, timed
  by the desk's own events: every watched symbol priced, every watched symbol's price moved
  since its first (the stream is up and the market is moving on screen), the policy's first
  decision on a live bar (its ``signal`` in the audit trail), the first order sent (``order``
  in the audit trail). The probe is installed in the child by wrapping the desk's methods
  before ``tui_trader.cli.main`` runs, so the program itself is unchanged.

Targets (issue 15): first frame within 2x the bare app's; prices within 3 s, a decision within
10 s and an order within 60 s on the default embedded emulator (60x demo pace).

Run: ``.venv/bin/python bench/startup.py [--runs N] [--alive-runs N] [--timeout S]``.
:func:`first_frames` is what ``bench/ui.py`` calls for its first-frame line.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from _isolation import isolated_env  # bench/ is on sys.path
from _revision import revision

SIZE = (140, 42)
BARE = """
from textual.app import App
from textual.widgets import Static

class Bare(App[None]):
    def compose(self):
        yield Static("bareready")

Bare().run()
"""
BARE_MARKER = "bareready"
APP_MARKER = "⟳"  # the start screen's progress line: on its first frame, whatever it says
BADGE_MARKER = " SIM "  # the mode's badge, once the settings are read
ESCAPES = re.compile(  # CSI, OSC, DCS/PM/APC strings, and two-byte escapes
    rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|.)"
)

# the child of the "alive" run: the real command, its desk probed from outside
PROBE = """
import json, sys, time
from tui_trader.desk.desk import Desk

out, t0 = sys.argv[1], float(sys.argv[2])
seen = {}
first_price = {}
moved = set()

def mark(name):
    if name not in seen:
        seen[name] = time.time() - t0
        with open(out, "w") as f:
            json.dump(seen, f)

init = Desk.__init__
def __init__(self, *a, **kw):
    init(self, *a, **kw)
    mark("desk built")
    def changed():
        prices = self._prices
        for s in self.symbols:
            p = prices.get(s)
            if p is None:
                continue
            first = first_price.setdefault(s, p)
            if p != first:
                moved.add(s)
        if all(s in prices for s in self.symbols):
            mark("all priced")
        if all(s in moved for s in self.symbols):
            mark("all moved")
    self.on_change(changed)
Desk.__init__ = __init__

audit = Desk._audit
def _audit(self, kind, data, symbol=None):
    audit(self, kind, data, symbol)
    if kind == "signal":
        mark("first decision")
    elif kind == "order":
        mark("first order")
Desk._audit = _audit

from tui_trader.cli import main
sys.argv = ["tui-trader"]
sys.exit(main([]))
"""
ALIVE = ("desk built", "all priced", "all moved", "first decision", "first order")
TARGETS = {"all priced": 3.0, "all moved": 3.0, "first decision": 10.0, "first order": 60.0}


def _spawn(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int, float]:
    """``argv`` on a new pty of SIZE; the time it was spawned (perf_counter)."""
    master, slave = pty.openpty()
    cols, rows = SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**env, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)},
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    return proc, master, started


def _stop(proc: subprocess.Popen[bytes], master: int) -> None:
    """SIGTERM to the child's own process group, then SIGKILL if it lingers; drain the pty."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while proc.poll() is None and time.monotonic() < deadline:
            _drain(master, 0.05)
    os.close(master)


def _drain(master: int, timeout: float) -> bytes:
    ready, _, _ = select.select([master], [], [], timeout)
    if not ready:
        return b""
    try:
        return os.read(master, 65536)
    except OSError:  # the child closed its end
        return b""


def first_frame(argv: list[str], marker: str, env: dict[str, str], timeout: float = 30) -> float:
    """Seconds from spawning ``argv`` on a pty until ``marker`` is on its screen."""
    return frame_times(argv, [marker], env, timeout)[0]


def frame_times(
    argv: list[str], markers: list[str], env: dict[str, str], timeout: float = 30
) -> list[float]:
    """Seconds from spawning ``argv`` on a pty until each of ``markers`` is on its screen."""
    proc, master, started = _spawn(argv, env)
    seen = b""
    times: dict[str, float] = {}
    try:
        deadline = started + timeout
        while time.perf_counter() < deadline:
            chunk = _drain(master, 0.05)
            now = time.perf_counter()
            if chunk:
                seen += chunk
                text = ESCAPES.sub(b"", seen).decode("utf-8", "replace")
                for marker in markers:
                    if marker not in times and marker in text:
                        times[marker] = now - started
                if len(times) == len(markers):
                    return [times[m] for m in markers]
            elif proc.poll() is not None:
                tail = ESCAPES.sub(b"", seen).decode("utf-8", "replace")[-400:]
                raise RuntimeError(f"{argv[-1][:40]!r} exited {proc.returncode}: {tail}")
        missing = [m for m in markers if m not in times]
        raise TimeoutError(f"no {missing!r} within {timeout} s")
    finally:
        _stop(proc, master)


def first_frames(runs: int = 5) -> dict[str, float]:
    """Medians of ``runs`` first frames each, alternating: ``bare`` (a bare Textual app),
    ``app`` (``tui-trader`` on the embedded emulator), and ``ratio`` (app / bare), in seconds;
    ``app_badge``: the app's mode badge (its settings read, behind the first frame)."""
    python = sys.executable
    bare: list[float] = []
    app: list[float] = []
    badge: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        for i in range(runs):
            env = _app_env(Path(tmp) / f"run{i}")
            bare.append(first_frame([python, "-c", BARE], BARE_MARKER, env))
            a, b = frame_times([python, "-m", "tui_trader.cli"], [APP_MARKER, BADGE_MARKER], env)
            app.append(a)
            badge.append(b)
    b, a = statistics.median(bare), statistics.median(app)
    return {
        "bare": b,
        "app": a,
        "ratio": a / b,
        "bare_min": min(bare),
        "app_min": min(app),
        "app_badge": statistics.median(badge),
    }


def _app_env(root: Path) -> dict[str, str]:
    """Isolated (bench/_isolation.py), without Alpaca keys: the embedded emulator."""
    root.mkdir(parents=True, exist_ok=True)
    env = isolated_env(root)
    env.pop("APCA_API_KEY_ID", None)
    env.pop("APCA_API_SECRET_KEY", None)
    repo = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    return env


def alive(timeout: float, root: Path) -> dict[str, float]:
    """One run of the real desk on a pty: seconds from spawn to each of ALIVE (missing: not
    reached within ``timeout``)."""
    out = root / "alive.json"
    env = _app_env(root)
    t0 = time.time()
    proc, master, started = _spawn([sys.executable, "-c", PROBE, str(out), str(t0)], env)
    seen: dict[str, float] = {}
    try:
        deadline = started + timeout
        while time.perf_counter() < deadline and proc.poll() is None:
            _drain(master, 0.2)
            if out.exists():
                try:
                    seen = json.loads(out.read_text())
                except ValueError:  # caught mid-write
                    continue
                if "first order" in seen:
                    break
    finally:
        _stop(proc, master)
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="first frames of each (>= 5)")
    parser.add_argument("--alive-runs", type=int, default=3, help="runs of the live desk")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds per live run")
    args = parser.parse_args()
    print(f"bench/startup.py at {revision()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    frames = first_frames(max(args.runs, 5))
    print(
        f"first frame (median of {max(args.runs, 5)}): bare Textual {frames['bare']:.3f} s, "
        f"tui-trader {frames['app']:.3f} s = {frames['ratio']:.2f}x  (target <= 2x; "
        f"fastest {frames['bare_min']:.3f} / {frames['app_min']:.3f} s); "
        f"its mode badge at {frames['app_badge']:.3f} s"
    )
    results: dict[str, list[float]] = {name: [] for name in ALIVE}
    with tempfile.TemporaryDirectory(prefix="bench-alive-") as tmp:
        for i in range(args.alive_runs):
            got = alive(args.timeout, Path(tmp) / f"alive{i}")
            print("  run", i + 1, "  ".join(f"{k} {v:.2f} s" for k, v in got.items()))
            for name in ALIVE:
                results[name].append(got.get(name, float("inf")))
    print(f"alive (median of {args.alive_runs}, from process start; inf: not within the timeout)")
    for name in ALIVE if args.alive_runs > 0 else ():
        med = statistics.median(results[name])
        target = TARGETS.get(name)
        goal = f"  (target < {target:g} s: {'ok' if med < target else 'MISSED'})" if target else ""
        print(f"  {name:<15} {med:7.2f} s{goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
