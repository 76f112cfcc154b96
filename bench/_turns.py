"""What the event loop's long turns are made of (``bench/ui.py --turns``).

A turn's length here is the time its callbacks ran (not the wait in ``select``). A key
reaches the desk after three loop turns (the driver's thread-safe call, the task that
posts the key, the app's message pump), and each turn runs every callback that was ready
when it began: a long turn delays a key whatever it holds. This wraps the loop's
``_run_once`` and ``asyncio.Handle._run`` (both plain Python in CPython 3.11) to time every
turn and every callback while a phase is armed, and says which callbacks the long turns
spent their time in, labelled by what they run (a task's coroutine, a method's owner).

Costs a few microseconds a callback; figures measured with it on are a little worse.
"""

from __future__ import annotations

import array
import asyncio
import collections
import time
from typing import Any

SLOW_TURN_MS = 25.0
"""A turn at least this long is a "long" one: three of them make a key miss 50 ms+."""
RECENT_MS = 5.0
"""Callbacks at least this long are kept with their time, to say what a slow key waited on."""


def _label(callback: Any) -> str:
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        name = getattr(coro, "__qualname__", type(coro).__name__)
        frame = getattr(coro, "cr_frame", None)
        # a task of the app's message pumps: say whose (the pump is shared by every widget)
        me = frame.f_locals.get("self") if frame is not None else None
        if name.endswith("_process_messages") and me is not None:
            return f"{name} [{type(me).__name__}]"
        if name.endswith("_run_timer") and me is not None:  # a Textual timer: whose callback
            inner = getattr(me, "_callback", None)
            return f"{name} [{getattr(inner, '__qualname__', type(inner).__name__)}]"
        return name
    func = getattr(callback, "__func__", callback)
    name = getattr(func, "__qualname__", None) or type(callback).__name__
    return str(name)


class TurnWatch:
    """Times loop turns and callbacks on ``loop`` while ``armed``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.armed = False
        self.turns: array.array[float] = array.array("d")  # ms, every turn while armed
        # in the long turns: label -> [count, total ms, max ms]
        self.slow: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])
        self.everywhere: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])
        self._turn: list[tuple[str, float]] = []
        # the last callbacks of >= RECENT_MS: (perf_counter at their end, label, ms)
        self.recent: collections.deque[tuple[float, str, float]] = collections.deque(maxlen=4000)
        self._busy = 0.0  # ms of callbacks in the turn under way (not the wait in select)
        self._loop = loop
        self._run_once = loop._run_once  # type: ignore[attr-defined]
        self._handle_run = asyncio.Handle._run
        watch = self
        clock = time.perf_counter

        def run_once() -> None:
            if not watch.armed:
                watch._run_once()
                return
            watch._turn = []
            watch._busy = 0.0
            watch._run_once()
            ms = watch._busy
            watch.turns.append(ms)
            if ms >= SLOW_TURN_MS:
                for label, spent in watch._turn:
                    row = watch.slow[label]
                    row[0] += 1
                    row[1] += spent
                    row[2] = max(row[2], spent)

        def handle_run(handle: asyncio.Handle) -> None:
            if not watch.armed:
                watch._handle_run(handle)
                return
            callback = handle._callback  # type: ignore[attr-defined]
            t = clock()
            watch._handle_run(handle)
            ms = (clock() - t) * 1000
            watch._busy += ms
            if ms >= 1.0:
                label = _label(callback)
                if ms >= RECENT_MS:
                    watch.recent.append((clock(), label, ms))
                watch._turn.append((label, ms))
                row = watch.everywhere[label]
                row[0] += 1
                row[1] += ms
                row[2] = max(row[2], ms)

        loop._run_once = run_once  # type: ignore[attr-defined]
        asyncio.Handle._run = handle_run  # type: ignore[method-assign]

    def between(self, t0: float, t1: float) -> list[tuple[str, float]]:
        """Callbacks of >= RECENT_MS that ran (at least partly) between ``t0`` and ``t1``."""
        return [(label, ms) for end, label, ms in self.recent if end > t0 and end - ms / 1000 < t1]

    def close(self) -> None:
        self._loop._run_once = self._run_once  # type: ignore[attr-defined]
        asyncio.Handle._run = self._handle_run  # type: ignore[method-assign]

    def report(self, top: int = 14) -> str:
        turns = sorted(self.turns)
        if not turns:
            return "loop turns: none measured"

        def pct(p: float) -> float:
            return turns[min(len(turns) - 1, int(p / 100 * len(turns)))]

        long = [t for t in turns if t >= SLOW_TURN_MS]
        lines = [
            f"loop turns while loaded: {len(turns):,}; p50 {pct(50):.2f} ms, p99 {pct(99):.1f} "
            f"ms, max {turns[-1]:.1f} ms; {len(long):,} turns >= {SLOW_TURN_MS:g} ms "
            f"({sum(long) / 1000:.1f} s of {sum(turns) / 1000:.1f} s)",
            f"  callbacks of >= 1 ms inside the long turns (count, total ms, max ms), top {top}:",
        ]
        for label, (n, total, most) in sorted(self.slow.items(), key=lambda kv: -kv[1][1])[:top]:
            lines.append(f"    {int(n):6,} {total:9,.0f} {most:7.1f}  {label}")
        lines.append(f"  callbacks of >= 1 ms anywhere (count, total ms, max ms), top {top}:")
        for label, (n, total, most) in sorted(self.everywhere.items(), key=lambda kv: -kv[1][1])[
            :top
        ]:
            lines.append(f"    {int(n):6,} {total:9,.0f} {most:7.1f}  {label}")
        return "\n".join(lines)
