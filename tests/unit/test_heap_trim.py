"""The heap trimmer: glibc keeps freed chunks that sit between live ones; ``malloc_trim``
gives their pages back, and the trimmer calls it on a thread of its own until stopped."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import threading

import pytest

from tui_trader.heap_trim import HeapTrimmer, trimmer


def rss_mb() -> float:
    with open("/proc/self/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_trim_gives_back_the_pages_freed_between_live_chunks() -> None:
    """80 MB of 2 KB chunks (malloc's, not Python's small-object arenas), 99 in 100 freed:
    the few left alive pin the heap's top, so glibc keeps every freed page until a trim."""
    trim = trimmer()
    if trim is None:
        pytest.skip("no malloc_trim in this C library")
    trim.trim_now()
    chunks = [bytes(2048) for _ in range(40_000)]  # bytes(n) asks malloc for each one
    kept = chunks[::100]
    del chunks
    held = rss_mb()
    trim.trim_now()
    after = rss_mb()
    assert held - after > 40, (held, after)  # most of the 78 MB freed comes back
    assert len(kept) == 400


def test_the_trimmer_trims_on_its_thread_until_stopped() -> None:
    calls: list[str] = []
    enough = threading.Event()

    def fake(pad: int) -> int:
        assert pad == 0  # trim everything that can be trimmed
        calls.append(threading.current_thread().name)
        if len(calls) >= 3:
            enough.set()
        return 1

    t = HeapTrimmer(fake, every=0.001)
    t.start()
    assert enough.wait(10), calls
    t.stop()
    stopped_at = len(calls)
    assert set(calls) == {"heap-trim"} and t.trims == stopped_at
    t.stop()  # idempotent
    assert len(calls) == stopped_at


def test_a_failing_trim_ends_the_thread_not_the_app() -> None:
    failed = threading.Event()

    def broken(_: int) -> int:
        failed.set()
        raise OSError("no")

    t = HeapTrimmer(broken, every=0.001)
    t.start()
    assert failed.wait(10)
    t.stop()
    assert t.trims == 0


ARENA_PROBE = r"""
import ctypes, os, re, sys, tempfile, threading
from tui_trader.heap_trim import limit_arenas
if sys.argv[1] == "limit":
    assert limit_arenas(2)
held = []
ready = threading.Barrier(7)
def work():
    held.append([bytes(4096) for _ in range(50)])  # malloc's chunks, from this thread's arena
    ready.wait(10)
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads:
    t.start()
ready.wait(10)  # all six alive at once: none can hand its arena on to the next
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
path = os.path.join(tempfile.mkdtemp(), "info.xml")
f = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, f)
libc.fclose(f)
for t in threads:
    t.join()
print(len(re.findall(r'<heap nr="', open(path).read())))
"""


def _arenas(how: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", ARENA_PROBE, how],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(out.stdout.split()[-1])


def test_the_arena_limit_keeps_every_thread_on_two_arenas() -> None:
    """Six threads allocating at once: glibc would give each an arena of its own (each then
    keeps its own free space); under the limit they share two."""
    if trimmer() is None or not hasattr(ctypes.CDLL(None), "malloc_info"):
        pytest.skip("not glibc")
    assert _arenas("free") > 2  # the probe can tell: without the limit, more arenas
    assert _arenas("limit") <= 2
