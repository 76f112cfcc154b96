"""Two of Textual's ``Strip`` caches store the strip in itself: a reference cycle per line.

``Strip.divide`` caches ``[self]`` when the only cut is the strip's own end, which is what the
compositor asks of nearly every line it composes, and ``Strip.crop_extend`` caches ``self``
when asked for its whole length. Each such strip (with its seven caches and its segments)
can then only be freed by the cyclic garbage collector. Under load that was most of what the
collector found (bench/ui.py with ``gc.DEBUG_SAVEALL``: 236,000 cyclic objects in 10 s,
nearly all strips, their ``FIFOCache``s and segments), and full collections of it paused the
screen for up to half a second, long enough to hold up a key.

Both cases return the strip itself without storing it, so the answer is the same and the
strip is freed by reference counting. Applied when the app module is imported; checked by
``tests/ui/test_strips.py`` (which fails if Textual changes these methods' shape).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.style import Style
from textual.strip import Strip

_divide = Strip.divide
_crop_extend = Strip.crop_extend


def divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    cuts = [cut for cut in cuts if cut <= self.cell_length]
    if cuts == [self.cell_length]:
        return [self]  # Textual would cache [self] in self
    return _divide(self, cuts)


def crop_extend(self: Strip, start: int, end: int, style: Style | None) -> Strip:
    if start <= 0 and end == self.cell_length:
        return self  # Textual would cache self in self
    return _crop_extend(self, start, end, style)


def apply() -> None:
    """Install the two methods (idempotent)."""
    Strip.divide = divide  # type: ignore[method-assign]
    Strip.crop_extend = crop_extend  # type: ignore[method-assign]
