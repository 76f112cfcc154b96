"""Textual strips that cache themselves are reference cycles; the UI's fix keeps them out."""

from __future__ import annotations

import gc

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

import tui_trader.ui.app  # noqa: F401  (installs the fix, as the app does)
from tui_trader.ui import strips


def make() -> Strip:
    return Strip([Segment("hello ", Style(bold=True)), Segment("world")])


def test_whole_strip_answers_are_the_strip_itself_and_leave_no_cycle() -> None:
    assert Strip.divide is strips.divide and Strip.crop_extend is strips.crop_extend
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
