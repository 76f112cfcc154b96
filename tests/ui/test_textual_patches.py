"""The UI's patches of Textual: installed, still needed, still effective, and loud when Textual
changes underneath them (a new version, or a changed function a patch replaces or relies on)."""

from __future__ import annotations

import ast
import asyncio
import gc
import hashlib
import importlib
import inspect
import threading
from collections.abc import Callable
from importlib.metadata import version

import pytest
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.app import App
from textual.binding import Binding
from textual.cache import LRUCache
from textual.driver import Driver
from textual.strip import Strip

import tui_trader.ui.app  # noqa: F401  (installs the patches, as the app does)
from tui_trader.ui import textual_patches
from tui_trader.ui.textual_patches import PATCHES, RELIED_ON_BY_PANES, TEXTUAL_VERSION, Patch

RELIED_ON = sorted(
    [*(item for p in PATCHES for item in p.relies_on.items()), *RELIED_ON_BY_PANES.items()]
)


def source_digest(qualified: str) -> str:
    """The first 16 hex digits of the SHA-256 of a definition's text in Textual's own file, so
    that what was patched at run time does not hide what Textual ships."""
    parts = qualified.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
            break
        except ImportError:
            continue
    else:
        raise AssertionError(f"no module for {qualified}")
    text = inspect.getsource(module)
    node: ast.AST = ast.parse(text)
    for name in parts[cut:]:
        found = [
            child
            for child in getattr(node, "body", [])
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and child.name == name
        ]
        assert found, f"Textual {version('textual')} has no {qualified}: re-check the patches"
        node = found[-1]
    segment = ast.get_source_segment(text, node)
    assert segment is not None
    return hashlib.sha256(segment.encode()).hexdigest()[:16]


def patch(name: str) -> Patch:
    (found,) = [p for p in PATCHES if p.name == name]
    return found


def make() -> Strip:
    return Strip([Segment("hello ", Style(bold=True)), Segment("world")])


# ---------------------------------------------------------------- loud when Textual changes


def test_textual_is_the_version_the_patches_were_checked_on() -> None:
    assert version("textual") == TEXTUAL_VERSION, (
        f"Textual is {version('textual')}, the patches in tui_trader/ui/textual_patches.py were "
        f"checked on {TEXTUAL_VERSION}: re-check each (its docstring says what it works around), "
        "then update TEXTUAL_VERSION and the digests"
    )


@pytest.mark.parametrize(("qualified", "digest"), RELIED_ON)
def test_textual_code_a_patch_relies_on_is_unchanged(qualified: str, digest: str) -> None:
    assert source_digest(qualified) == digest, (
        f"Textual changed {qualified}: re-read the patch that relies on it in "
        "tui_trader/ui/textual_patches.py (or ui/panes/scrolling.py), then record the new digest"
    )


@pytest.mark.parametrize("p", PATCHES, ids=lambda p: f"{p.owner.__name__}.{p.name}")
def test_every_patch_is_installed_in_place_of_a_method_of_the_same_shape(p: Patch) -> None:
    assert getattr(p.owner, p.name) is p.replacement
    assert p.original.__qualname__ == f"{p.owner.__name__}.{p.name}"  # Textual's, not ours
    ours = inspect.signature(p.replacement).parameters
    theirs = inspect.signature(p.original).parameters
    assert list(ours) == list(theirs)
    textual_patches.apply()  # idempotent
    assert getattr(p.owner, p.name) is p.replacement


def test_textuals_own_strip_methods_still_store_the_strip_in_itself() -> None:
    """If this fails, Textual stopped making the cycle: the strip patches can go."""
    divide, crop_extend = patch("divide").original, patch("crop_extend").original
    gc.collect()
    gc.disable()
    try:
        for _ in range(100):
            line = make()
            assert divide(line, [line.cell_length]) == [line]
            del line
        assert gc.collect() >= 100, "Textual's Strip.divide no longer caches [self] in self"
        for _ in range(100):
            line = make()
            assert crop_extend(line, 0, line.cell_length, None) is line
            del line
        assert gc.collect() >= 100, "Textual's Strip.crop_extend no longer caches self in self"
    finally:
        gc.enable()


def test_textuals_own_cache_clear_still_leaves_the_ring() -> None:
    """If this fails, Textual's LRUCache.clear frees its links itself: that patch can go."""
    clear = patch("clear").original
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            cache: LRUCache[int, list[int]] = LRUCache(50)
            for i in range(80):
                cache.set(i, [i])
            clear(cache)
            del cache
        assert gc.collect() >= 20 * 50, "Textual's LRUCache.clear no longer leaves a ring"
    finally:
        gc.enable()


# ---------------------------------------------------------------- Strip: the patches' effect


def test_whole_strip_answers_are_the_strip_itself_and_leave_no_cycle() -> None:
    assert Strip.divide is textual_patches.divide
    assert Strip.crop_extend is textual_patches.crop_extend
    gc.collect()
    gc.disable()
    try:
        for _ in range(100):
            line = make()
            assert line.divide([line.cell_length]) == [line]
            assert line.divide([line.cell_length, line.cell_length + 5]) == [line]
            assert line.crop_extend(0, line.cell_length, None) is line
            del line
        assert gc.collect() == 0  # freed by reference counting, nothing left for the GC
    finally:
        gc.enable()


def test_other_cuts_and_crops_are_textuals_own() -> None:
    line = make()
    left, right = line.divide([5, line.cell_length])
    assert left.text == "hello" and right.text == " world"
    assert line.crop_extend(6, 14, None).text == "world   "
    assert line.crop_extend(-3, line.cell_length, None) is line


# ---------------------------------------------------------------- Strip: caches on first use


def textuals_strip(segments: list[Segment]) -> Strip:
    """A strip as Textual's own ``__init__`` makes it (every cache at once)."""
    line = Strip.__new__(Strip)
    textual_patches._strip_init(line, segments)
    return line


def test_a_new_strip_makes_no_cache_until_one_is_asked_for() -> None:
    assert Strip.__init__ is textual_patches.strip_init
    line = make()
    for name in textual_patches.STRIP_CACHES:
        with pytest.raises(AttributeError):
            object.__getattribute__(line, name)  # the slot is empty: nothing made
    line.crop(0, 5)
    made = {n for n in textual_patches.STRIP_CACHES if _slot_set(line, n)}
    assert made == {"_crop_cache"}
    with pytest.raises(AttributeError):
        line.no_such_attribute  # noqa: B018  (only the caches are made on demand)


def _slot_set(line: Strip, name: str) -> bool:
    try:
        object.__getattribute__(line, name)
    except AttributeError:
        return False
    return True


def test_the_caches_made_on_demand_are_textuals_own_sizes() -> None:
    theirs = textuals_strip([Segment("x")])
    for name, size in textual_patches.STRIP_CACHES.items():
        assert getattr(theirs, name)._maxsize == size, name
        assert getattr(make(), name)._maxsize == size, name
    # and Textual's __init__ makes no cache this patch does not know of
    slots = {n for n in Strip.__slots__ if n.endswith("_cache") and n != "_render_cache"}
    assert slots == set(textual_patches.STRIP_CACHES)


CONSOLE = Console(color_system="truecolor", force_terminal=True, width=80)


def test_strips_answer_as_textuals_do_and_the_collector_tracks_far_fewer_objects() -> None:
    segments = [Segment("hello ", Style(bold=True)), Segment("world", Style(italic=True))]

    def work(line: Strip) -> list[str]:
        out = [
            line.crop(2, 9).text,
            line.crop(2, 9).text,  # from the cache the first call filled
            line.crop_extend(3, 20, Style(dim=True)).text,
            line.apply_style(Style(underline=True)).render(CONSOLE),
            line.extend_cell_length(15).text,
            line.adjust_cell_length(8).text,
            *(part.text for part in line.divide([3, 7, 11])),
            line.simplify().text,
            line.apply_offsets(1, 2).render(CONSOLE),
        ]
        return out

    assert work(Strip(segments)) == work(textuals_strip(segments))
    gc.collect()
    before = len(gc.get_objects())
    lines = [Strip(segments) for _ in range(1_000)]
    ours = len(gc.get_objects()) - before
    del lines
    gc.collect()
    before = len(gc.get_objects())
    lines = [textuals_strip(segments) for _ in range(1_000)]
    theirs = len(gc.get_objects()) - before
    del lines
    # two objects a strip (itself, its segment list) against nine
    assert ours <= 2_100 and theirs >= 8_000, (ours, theirs)


# ---------------------------------------------------------------- LRUCache: the patch's effect


def test_a_cleared_cache_is_freed_by_reference_counting() -> None:
    assert LRUCache.clear is textual_patches.clear
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            cache: LRUCache[int, list[int]] = LRUCache(50)
            for i in range(80):  # full: some evicted, 50 in the ring
                cache.set(i, [i])
            cache.clear()
            del cache
        assert gc.collect() == 0  # unpatched: 20 rings of 50 links and their values
    finally:
        gc.enable()


def test_a_cleared_cache_works_as_before() -> None:
    cache: LRUCache[str, int] = LRUCache(3)
    for key, value in (("a", 1), ("b", 2), ("c", 3), ("d", 4)):
        cache.set(key, value)
    assert cache.get("a") is None and cache.get("d") == 4 and len(cache) == 3
    cache.clear()
    assert len(cache) == 0 and cache.get("d") is None
    cache.set("e", 5)
    cache.set("f", 6)
    assert cache.get("e") == 5 and cache.get("f") == 6 and len(cache) == 2


# ---------------------------------------------------------------- Driver: a key one turn sooner


class _Keyed(App[None]):
    BINDINGS = [Binding("p", "hit", priority=True)]

    def __init__(self) -> None:
        super().__init__()
        self.turns = 0
        self.hit_at: int | None = None

    def action_hit(self) -> None:
        self.hit_at = self.turns


async def _turns_to_binding(app: _Keyed, send: Callable[[Driver, events.Key], None]) -> int:
    """Loop turns from a key's send to its binding's action, counted by a callback that runs
    once a turn (a callback's call_soon lands in the next turn). Sent on the loop's thread:
    both sends schedule through call_soon_threadsafe, as from the input thread."""
    loop = asyncio.get_running_loop()
    app.turns, app.hit_at = 0, None

    def tick() -> None:
        app.turns += 1
        if app.hit_at is None and app.turns < 50:
            loop.call_soon(tick)

    loop.call_soon(tick)
    key = events.Key("p", "p")
    key.set_sender(app)
    assert app._driver is not None
    send(app._driver, key)
    for _ in range(100):
        if app.hit_at is not None:
            break
        await asyncio.sleep(0.01)
    assert app.hit_at is not None, "the key never reached its binding"
    return app.hit_at


async def test_a_key_reaches_its_binding_one_loop_turn_sooner() -> None:
    """Textual's send_message takes three turns (make the task, post, handle), ours two: under
    load each turn carries tens of milliseconds of other work (bench/ui.py)."""
    assert Driver.send_message is textual_patches.send_message
    app = _Keyed()
    async with app.run_test() as pilot:
        await pilot.pause()
        ours = await _turns_to_binding(app, textual_patches.send_message)
        theirs = await _turns_to_binding(app, patch("send_message").original)
        again = await _turns_to_binding(app, textual_patches.send_message)
    assert (ours, theirs, again) == (2, 3, 2)


async def test_keys_sent_from_another_thread_arrive_in_order() -> None:
    order: list[str] = []

    class Typed(App[None]):
        def on_key(self, event: events.Key) -> None:
            order.append(event.key)

    app = Typed()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app._driver is not None
        driver = app._driver

        def typing() -> None:
            for key in "abcdefghij":
                event = events.Key(key, key)
                event.set_sender(app)
                driver.send_message(event)

        thread = threading.Thread(target=typing)
        thread.start()
        await asyncio.to_thread(thread.join, 5)
        for _ in range(100):
            if len(order) == 10:
                break
            await asyncio.sleep(0.01)
    assert "".join(order) == "abcdefghij"
