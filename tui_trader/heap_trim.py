"""Freed heap memory handed back to the system now and then (glibc's ``malloc_trim``).

Under thousands of events a second the desk's threads (the event loop, the journal's
writer, SQLite's checkpointer) free about as much as they allocate, and glibc keeps freed
chunks in each thread's arena, scattered between live ones; it returns to the system only
what lies at the top of a heap. ``malloc_trim(0)`` also gives back the whole free pages
inside every arena (``madvise``). It is called every half minute on a thread of its own
(ctypes releases the GIL for the call); the loop's lag did not grow with it (bench/ui.py,
p99 48 / 52 ms with it, 60 / 50 ms without, per loaded phase). Measured there too (2M
events at 5,000/s, the same machine, one run each way): RSS at the end 143.8 MB with it
against 150.0 MB without, the growth within each loaded phase about halved (0.53 and 0.30
against 1.10 and 0.45 MB per 100,000 events). Part of the creep was freed memory kept;
the rest is not this.

Elsewhere than glibc (musl, macOS) there is no ``malloc_trim``: :func:`trimmer` is None.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from collections.abc import Callable
from typing import Final

log = logging.getLogger("tui_trader.memory")

EVERY_S: Final = 30.0


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
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
