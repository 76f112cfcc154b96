"""Freed heap memory handed back to the system now and then (glibc's ``malloc_trim``).

Under thousands of events a second the desk's threads (the event loop, the journal's
writer, SQLite's checkpointer) free about as much as they allocate, and glibc keeps freed
chunks in each thread's arena, scattered between live ones; it returns to the system only
what lies at the top of a heap. ``malloc_trim(0)`` also gives back the whole free pages
inside every arena (``madvise``). It is called every few seconds on a thread of its own
(ctypes releases the GIL for the call); the loop's lag did not grow with it (bench/ui.py,
p99 48 / 52 ms with it, 60 / 50 ms without, per loaded phase). Measured there too (2M
events at 5,000/s, the same machine, one run each way): RSS at the end 143.8 MB with it
against 150.0 MB without, the growth within each loaded phase about halved (0.53 and 0.30
against 1.10 and 0.45 MB per 100,000 events). Part of the creep was freed memory kept;
the rest is not this.

Two more settings, from the same bench (``--heap-columns``, one run each way): every 5 s
rather than every 30 s (a trim takes 0.56 ms p50, 7-8 ms at most, on its own thread), and at
most :data:`ARENAS` malloc arenas (:func:`limit_arenas`). glibc gives each new thread an
arena of its own, up to eight per core, and ``asyncio.to_thread`` moves the charts' builds
among the default executor's threads, so their chunks were spread over half a dozen arenas,
each keeping free space of its own. Before (30 s, no limit; 900k events a phase): RSS 133.6 MB
at 1 min, 133.8-138.6 through the rest of the first phase, 131.5-142.6 in the second. After
(1.5M events a phase): 125.7 MB at 1 min, 127.2-129.9, then 128.1-132.5. What grows after
the first minute is glibc's free space (Python's blocks and malloc's chunks in use hold).

Elsewhere than glibc (musl, macOS) there is no ``malloc_trim``: :func:`trimmer` is None and
:func:`limit_arenas` does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from collections.abc import Callable
from typing import Final

log = logging.getLogger("tui_trader.memory")

EVERY_S: Final = 5.0
ARENAS: Final = 2
"""Malloc arenas at most: the loop's thread and one for every other thread to share."""
_M_ARENA_MAX: Final = -8  # mallopt's parameter number, from glibc's malloc.h


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Let glibc make at most ``arenas`` malloc arenas, shared by every thread started later
    (threads that already have one keep it): call it before the app starts its threads.
    False where the C library has no ``mallopt`` or refused the value."""
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    if mallopt is None or not hasattr(libc, "malloc_trim"):  # glibc's, not another libc's
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, arenas))


def _malloc_trim() -> Callable[[int], int] | None:
    libc = _libc()
    if libc is None:
        return None
    try:
        trim = libc.malloc_trim
    except AttributeError:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


class HeapTrimmer:
    """A daemon thread that calls ``malloc_trim(0)`` every ``every`` seconds until stopped."""

    def __init__(self, trim: Callable[[int], int], every: float = EVERY_S) -> None:
        self._trim = trim
        self._every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.trims = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="heap-trim", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def trim_now(self) -> None:
        self._trim(0)
        self.trims += 1

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self.trim_now()
            except Exception:  # never let housekeeping take the app down
                log.exception("malloc_trim failed; no more trimming")
                return


def trimmer(every: float = EVERY_S) -> HeapTrimmer | None:
    """A trimmer for this process, or None where the C library has no ``malloc_trim``."""
    trim = _malloc_trim()
    return None if trim is None else HeapTrimmer(trim, every)
