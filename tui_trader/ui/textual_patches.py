"""Every change this program makes to Textual's internals, in one place, checked on Textual 8.2.8.

Each patch replaces one method of Textual's with one that gives the same answers. Three leave no
reference cycle behind where Textual's do: under load, cycles were most of what the cyclic
garbage collector found, and its full collections paused the screen for up to half a second,
long enough to hold up a key (``bench/ui.py --gc-census``). The patches, with what each works
around:

* ``Strip.divide`` and ``Strip.crop_extend`` (``textual.strip``): two of a strip's caches store
  the strip in itself. ``divide`` caches ``[self]`` when the only cut is the strip's own end,
  which is what the compositor asks of nearly every line it composes, and ``crop_extend``
  caches ``self`` when asked for its whole length. Each such strip (with its seven caches and
  its segments) could then only be freed by the cyclic collector: bench/ui.py with
  ``gc.DEBUG_SAVEALL`` found 236,000 cyclic objects in 10 s, nearly all strips, their
  ``FIFOCache``s and segments. Both cases here return the strip itself without storing it, so
  the answer is the same and the strip is freed by reference counting.
* ``LRUCache.clear`` (``textual.cache``): the cache is a circular doubly linked list of
  ``[prev, next, key, value]`` lists; ``clear`` drops the dict and the head, and the ring, with
  every cached value in it (rendered rows, lines and their segments), can then only be freed by
  the cyclic collector. A ``DataTable`` clears its caches whenever its rows change (a position
  opened or closed), widgets clear theirs on DOM and style changes. ``clear`` here empties each
  link first, so the values go by reference counting, as they do when a full cache evicts one.

One is about the collector's work, not cycles:

* ``Strip.__init__`` (``textual.strip``): every strip made seven ``FIFOCache``s at once (nine
  objects for the collector with the strip and its list; two here), though most strips are
  composed once and never cropped, styled or filtered:
  55,000 of the 125,000 objects the collector tracked at the end of bench/ui.py's load were
  those caches, and each young collection walked the ones still alive. Here a strip makes a
  cache the first time a method asks for it (``Strip.__getattr__``, called only for a slot not
  yet set): the same caches, the same sizes, for the strips that use them.

One patch is about time, not cycles:

* ``Driver.send_message`` (``textual.driver``): how a key (and every input event) reaches the
  app from the driver's input thread. Textual schedules a coroutine there
  (``run_coroutine_threadsafe(app._post_message(message))``), whose task only posts the message
  on its first step: a loop turn to make the task, one to post, one for the app to handle it.
  Under 5,000 events a second a loop turn carries tens of milliseconds of other work, so the
  hop cost a key about a third of its latency (bench/ui.py). Here the input thread schedules
  ``app.post_message`` itself, which is what the coroutine ran: the same message, in the same
  order, one turn sooner.

:func:`apply` installs them; the app module calls it when it is imported, before any strip is
made. ``tests/ui/test_textual_patches.py`` fails loudly when Textual changes underneath them:
it checks the Textual version, the source of every Textual function a patch replaces or relies
on (:attr:`Patch.relies_on`, by SHA-256), that Textual's own method still leaves the cycle
(else the patch may go) and that the patched one leaves none and answers the same.

Two other places lean on a library's internals and stay where their layer is: the panes'
``ui/panes/scrolling.py`` calls ``ScrollView._scroll_update`` (no patch: a private call, covered
by the same test), and ``broker/sse.py`` raises httpcore's ``READ_NUM_BYTES`` (a patch of the
broker's transport, which the UI must not import; checked by ``tests/unit/test_sse_reads.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual.cache import FIFOCache, LRUCache
from textual.driver import Driver
from textual.message import Message
from textual.strip import Strip

TEXTUAL_VERSION = "8.2.8"
"""The Textual these patches were written for and checked against (pinned in pyproject.toml)."""

_divide = Strip.divide
_crop_extend = Strip.crop_extend
_clear = LRUCache.clear
_send_message = Driver.send_message
_strip_init = Strip.__init__

STRIP_CACHES: Mapping[str, int] = {
    "_divide_cache": 4,
    "_crop_cache": 16,
    "_style_cache": 16,
    "_filter_cache": 4,
    "_line_length_cache": 4,
    "_crop_extend_cache": 4,
    "_offsets_cache": 4,
}
"""The caches Textual's ``Strip.__init__`` makes, with their sizes: made on first use here."""


def strip_init(self: Strip, segments: Iterable[Segment], cell_length: int | None = None) -> None:
    self._segments = list(segments)
    self._cell_length = cell_length
    self._render_cache = None
    self._link_ids = None
    self._cell_count = None


def strip_cache(self: Strip, name: str) -> FIFOCache[Any, Any]:
    """A strip's cache the first time it is asked for (Python calls this only when the slot
    is not set yet)."""
    size = STRIP_CACHES.get(name)
    if size is None:
        raise AttributeError(f"'Strip' object has no attribute {name!r}")
    cache: FIFOCache[Any, Any] = FIFOCache(size)
    object.__setattr__(self, name, cache)
    return cache


def divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    cuts = [cut for cut in cuts if cut <= self.cell_length]
    if cuts == [self.cell_length]:
        return [self]  # Textual would cache [self] in self
    return _divide(self, cuts)


def crop_extend(self: Strip, start: int, end: int, style: Style | None) -> Strip:
    if start <= 0 and end == self.cell_length:
        return self  # Textual would cache self in self
    return _crop_extend(self, start, end, style)


def clear(self: LRUCache[Any, Any]) -> None:
    for link in self._cache.values():
        link.clear()
    _clear(self)


def send_message(self: Driver, message: Message) -> None:
    # call_soon_threadsafe from any thread (the bench's keys come from the loop's own): a key
    # takes two turns whoever sends it, as it does from the input thread
    self._loop.call_soon_threadsafe(self._app.post_message, message)


@dataclass(frozen=True)
class Patch:
    """One replaced method: where it is, Textual's original, ours, and what ours relies on.

    ``relies_on`` maps each Textual function whose code the patch assumes (the one it replaces,
    and any that build the structures it reaches into) to the first 16 hex digits of the
    SHA-256 of its source on :data:`TEXTUAL_VERSION` (the definition's text in Textual's
    file, as ``tests/ui/test_textual_patches.py`` reads it).
    """

    owner: type[Any]
    name: str
    original: Callable[..., Any]
    replacement: Callable[..., Any]
    relies_on: Mapping[str, str]


PATCHES: tuple[Patch, ...] = (
    Patch(
        Strip,
        "divide",
        _divide,
        divide,
        {"textual.strip.Strip.divide": "708bd67448d837d1"},
    ),
    Patch(
        Strip,
        "crop_extend",
        _crop_extend,
        crop_extend,
        {"textual.strip.Strip.crop_extend": "9be2932ef7fc8ca2"},
    ),
    Patch(
        LRUCache,
        "clear",
        _clear,
        clear,
        {
            "textual.cache.LRUCache.clear": "134283f89000e1b3",
            # builds the ring of [prev, next, key, value] links that clear() empties
            "textual.cache.LRUCache.set": "647a1817717c198f",
        },
    ),
    Patch(
        Strip,
        "__init__",
        _strip_init,
        strip_init,
        # the caches it makes, and their sizes: STRIP_CACHES, made on first use by strip_cache
        {"textual.strip.Strip.__init__": "466b535b5e38cc72"},
    ),
    Patch(
        Driver,
        "send_message",
        _send_message,
        send_message,
        {
            "textual.driver.Driver.send_message": "39e4661e0edfd6e1",
            # what Textual's coroutine ran (_post_message returns post_message(message))
            "textual.message_pump.MessagePump._post_message": "8d33139e4f091bfd",
            "textual.message_pump.MessagePump.post_message": "281884294d835544",
        },
    ),
)

RELIED_ON_BY_PANES: Mapping[str, str] = {
    # ui/panes/scrolling.py sets a pane's virtual size as this does after a layout...
    "textual.scroll_view.ScrollView._size_updated": "641e3f6ed6fb76ed",
    # ...and calls this private method for the scrollbars and offsets
    "textual.widget.Widget._scroll_update": "14e335e8d272bf97",
}
"""Textual internals ``ui/panes/scrolling.py`` uses without patching them, by source digest."""


def apply() -> None:
    """Install every patch (idempotent)."""
    for patch in PATCHES:
        setattr(patch.owner, patch.name, patch.replacement)
    Strip.__getattr__ = strip_cache  # type: ignore[attr-defined]  # the lazy caches' half
