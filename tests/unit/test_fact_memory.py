"""The journal's memory of facts (tui_trader.broker.facts): the same answers as a plain
window of strings, without holding the strings (issue 15's RSS creep)."""

from __future__ import annotations

import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_trader.broker.facts import FactMemory, _Window, digests


def test_memory_keeps_no_fact_string() -> None:
    """Each fact string must die with its batch: a window of 50,000-75,000 of them, ten
    seconds old apiece at the bench's rate, pinned pymalloc pools (the old dict did)."""
    fact = "".join(["fill:", "7f1c2d3e-0000-4000-8000-", "00000000abcd", ":1"])  # not interned
    before = sys.getrefcount(fact)
    memory = FactMemory(limit=10)
    memory.remember([fact], polled=[fact])
    memory.committed()
    assert sys.getrefcount(fact) == before
    assert fact in memory
    assert memory.known(["other", fact]) == {fact}


def test_a_shared_first_half_is_told_apart_by_the_second() -> None:
    """Two digests whose first 64 bits match (one pair in 2**64): the second half decides."""
    window = _Window(limit=10)
    hi = np.array([5, 5, 7], dtype=np.int64)
    window.push(hi, np.array([1, 2, 3], dtype=np.int64))
    found = window.hits(
        np.array([5, 5, 5, 7, 7], dtype=np.int64), np.array([1, 2, 9, 3, 1], dtype=np.int64)
    )
    assert found.tolist() == [True, True, False, True, False]


def test_digests_are_stable_across_processes() -> None:
    """BLAKE2b, not ``hash()``: the same fact gives the same digest whatever the seed."""
    hi, lo = digests(["new:o1"])
    again_hi, again_lo = digests(["new:o1"])
    assert (hi.tolist(), lo.tolist()) == (again_hi.tolist(), again_lo.tolist())
    assert digests(["new:o2"])[0].tolist() != hi.tolist()


class _Reference:
    """What FactMemory did with dicts of strings, as the model to agree with."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.recent: dict[str, None] = {}
        self.polled: dict[str, None] = {}
        self.polled_complete = True
        self.batch: list[str] = []

    def push(self, memory: dict[str, None], facts: list[str]) -> bool:
        memory.update(dict.fromkeys(facts))
        if len(memory) > self.limit + self.limit // 2:
            newest = list(memory)[-self.limit :]
            memory.clear()
            memory.update(dict.fromkeys(newest))
            return True
        return False

    def remember(self, facts: list[str], polled: list[str]) -> None:
        self.batch += facts
        self.push(self.recent, facts)
        if polled and self.push(self.polled, polled):
            self.polled_complete = False

    def rolled_back(self) -> None:
        for fact in self.batch:
            self.recent.pop(fact, None)
            self.polled.pop(fact, None)
        self.batch.clear()


_ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("remember"),
            st.lists(st.integers(0, 400), max_size=12, unique=True),
            st.booleans(),
        ),
        st.tuples(st.just("commit"), st.just([]), st.just(False)),
        st.tuples(st.just("rollback"), st.just([]), st.just(False)),
        st.tuples(st.just("ask"), st.lists(st.integers(0, 400), max_size=20), st.just(False)),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(limit=st.integers(1, 12), ops=_ops)
def test_agrees_with_a_window_of_strings(
    limit: int, ops: list[tuple[str, list[int], bool]]
) -> None:
    """Facts are only remembered once stored, so never twice while remembered (as the
    journal uses it); then every answer matches the old dict-of-strings memory."""
    memory, model = FactMemory(limit), _Reference(limit)
    for op, numbers, polled in ops:
        facts = [f"fill:o{n}:1" for n in numbers]
        if op == "remember":
            new = [f for f in facts if f not in model.recent and f not in model.polled]
            memory.remember(new, new if polled else [])
            model.remember(new, new if polled else [])
        elif op == "commit":
            memory.committed()
            model.batch.clear()
        elif op == "rollback":
            memory.rolled_back()
            model.rolled_back()
        else:
            expected = {f for f in facts if f in model.recent or f in model.polled}
            assert memory.known(facts) == expected
        assert len(memory) == len(model.recent)
        assert memory.polled_complete == model.polled_complete
