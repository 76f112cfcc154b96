"""Full garbage collections moved off the trader's keys.

CPython runs a full (generation 2) collection when enough objects have outlived the younger
generations. Under the bench's load (``bench/ui.py``: 5,000 events a second) that is about once
a minute and holds the loop 60-150 ms, walking every object the desk keeps (the ledger's
executions, the panes' rows). The allocation that tips it over is often a key's own work (a
confirm dialog's widgets, a flatten's orders), so the pause fell on the key: flatten's ``y``
waited 72 ms on one (2026-12-04's full run), where the target is 50 ms.

So the app turns the automatic full collections off once it has started, and
:class:`Collector` runs them itself, from a timer, at a moment the trader is not acting: no
key or click for :data:`QUIET` seconds and no dialog open (a trader reading a dialog is about
to answer it). People do not press keys 10 times a second, so a collection started then is
over before the next key in all but rare cases. Young collections stay automatic: they are
short (a few ms to ~20 ms).

A full collection runs at most every :data:`EVERY` seconds and only once the middle
generation has been collected since the last one (so an idle desk that allocates nothing runs
none), and past :data:`LONGEST` seconds one runs whatever the trader is doing, so the garbage
that only a full collection frees cannot pile up.

Why every 15 s rather than CPython's own pace (about once a minute under the bench's load):
the garbage that reaches the old generation (a closed dialog's widgets, toasts, chart
figures) piled up for a minute between passes, and the young passes grew slower with it.
``bench/ui.py``, 20 minutes at 5,000 events/s on the 2-core machine, one run each way: pause
p99 15.8 / 21.7 ms (load / load + quotes) against 41.3 / 31.1 once a minute, loop lag p99
17 / 20 ms against 27 / 28, all the collector's pauses 5.7 / 7.2 s a phase against 7.8 /
8.2 s (the full passes 35-39 a phase, 35-53 ms on average, 78 ms at most). The RSS still
creeps as before (+7.0 against +6.8 MB after the first minute; pymalloc's arenas +5 MB both).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Final

QUIET: Final = 0.25
"""Seconds without a key or click before a full collection may run."""
EVERY: Final = 15.0
"""Seconds at least between two full collections (see the module's docstring: at 60 s the
old generation's garbage piled up between passes, and the keys waited longer)."""
LONGEST: Final = 300.0
"""Seconds after which a full collection runs even while the trader acts."""
YOUNG_PASSES: Final = 1
"""Middle-generation collections since the last full one before another is worth running
(``gc.get_count()[2]``): one, so a desk that allocates nothing runs none. CPython's default,
10, came every ~100 s under the bench's load."""
NEVER: Final = 1 << 30
"""A third GC threshold the count never reaches: no automatic full collection."""
TICK: Final = 0.1
"""Seconds between the app's checks (a clock read and ``gc.get_count()``)."""


class Collector:
    """When to run a full collection; the app calls :meth:`input_seen` on each key or click
    and :meth:`tick` every :data:`TICK` seconds. The clock and the collector are injectable."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[int], object] = gc.collect,
        count: Callable[[], tuple[int, int, int]] = gc.get_count,
        quiet: float = QUIET,
        every: float = EVERY,
        longest: float = LONGEST,
        young_passes: int = YOUNG_PASSES,
    ) -> None:
        self._clock, self._collect, self._count = clock, collect, count
        self.quiet, self.every, self.longest = quiet, every, longest
        self.young_passes = young_passes
        now = clock()
        self._last_full = now
        self._last_input = now - quiet
        self.runs = 0
        self.overdue_runs = 0  # of which ran while the trader was acting (past LONGEST)

    def input_seen(self) -> None:
        self._last_input = self._clock()

    def tick(self, *, dialog_open: bool = False) -> bool:
        """Run a full collection if one is due and the trader is not acting; True if it ran."""
        now = self._clock()
        since = now - self._last_full
        if since < self.every or self._count()[2] < self.young_passes:
            return False
        acting = dialog_open or now - self._last_input < self.quiet
        if acting and since < self.longest:
            return False
        self._collect(2)
        self._last_full = self._clock()
        self.runs += 1
        self.overdue_runs += acting
        return True


def take_over(young: tuple[int, int]) -> None:
    """The process's collector from now on: start-up's objects frozen out of every scan (they
    live as long as the app), young thresholds ``young``, no automatic full collections (a
    :class:`Collector` runs them)."""
    gc.freeze()
    gc.set_threshold(young[0], young[1], NEVER)
