"""The flow combinators on plain async generators: results, closing, timing and composition."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator

import pytest

from tui_trader.broker.flow import Flow, batch, filter, map, take


class Source:
    """An async generator of ``items`` that records whether its ``finally`` ran."""

    def __init__(self, items: list[int], delay: float = 0.0) -> None:
        self.items = items
        self.delay = delay
        self.read = 0
        self.closed = False
        self.cancelled = False

    async def gen(self) -> AsyncGenerator[int, None]:
        try:
            for item in self.items:
                if self.delay:
                    await asyncio.sleep(self.delay)
                self.read += 1
                yield item
        except asyncio.CancelledError:
            self.cancelled = True  # a read was cancelled half-way: its item would be lost
            raise
        finally:
            self.closed = True


async def endless(closed: list[bool]) -> AsyncIterator[int]:
    n = 0
    try:
        while True:
            yield n
            n += 1
            await asyncio.sleep(0)
    finally:
        closed.append(True)


async def test_filter_map_take_batch_results() -> None:
    assert await Flow(Source([1, 2, 3, 4]).gen()).filter(lambda x: x % 2 == 0).collect() == [2, 4]
    assert await Flow(Source([1, 2, 3]).gen()).map(lambda x: x * 10).collect() == [10, 20, 30]
    assert await Flow(Source([1, 2, 3]).gen()).take(2).collect() == [1, 2]
    assert await Flow(Source([1, 2, 3, 4, 5]).gen()).batch(2).collect() == [[1, 2], [3, 4], [5]]
    assert await Flow(Source([]).gen()).batch(2).collect() == []


async def test_async_functions_are_awaited() -> None:
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    async def odd(x: int) -> bool:
        await asyncio.sleep(0)
        return x % 2 == 1

    flow = Flow(Source([1, 2, 3]).gen()).filter(odd).map(double)
    assert await flow.collect() == [2, 6]


async def test_take_closes_the_source_when_the_nth_item_arrives() -> None:
    src = Source([1, 2, 3, 4, 5])
    flow = take(2, src.gen())
    assert await anext(flow) == 1
    assert not src.closed
    assert await anext(flow) == 2
    assert src.closed, "the source's finally ran before the n-th item was handed on"
    assert src.read == 2, "nothing was read beyond the n-th item"
    with pytest.raises(StopAsyncIteration):
        await anext(flow)


async def test_take_closes_an_endless_source_through_every_stage() -> None:
    closed: list[bool] = []
    out = Flow(endless(closed)).map(lambda x: x + 1).filter(lambda x: x % 3 == 0).take(3)
    assert await out.collect() == [3, 6, 9]
    assert closed == [True]


async def test_take_zero_reads_nothing_and_closes() -> None:
    src = Source([1, 2])
    gen = src.gen()
    await anext(gen)  # started, so its finally has something to run
    assert await take(0, gen).collect() == []
    assert src.closed and src.read == 1


async def test_closing_the_outer_flow_closes_the_source() -> None:
    closed: list[bool] = []
    flow = Flow(endless(closed)).filter(lambda x: x > 0).map(str)
    assert await anext(flow) == "1"
    await flow.aclose()
    assert closed == [True]
    with pytest.raises(StopAsyncIteration):
        await anext(flow)


async def test_async_with_closes_the_flow() -> None:
    closed: list[bool] = []
    async with Flow(endless(closed)).batch(4) as flow:
        assert await anext(flow) == [0, 1, 2, 3]
    assert closed == [True]


async def test_composes_as_functions_and_as_methods() -> None:
    def even(x: int) -> bool:
        return x % 2 == 0

    nested = take(3, map(lambda x: x * x, filter(even, Source(list(range(20))).gen())))
    chained = Flow(Source(list(range(20))).gen()).filter(even).map(lambda x: x * x).take(3)
    assert await nested.collect() == await chained.collect() == [0, 4, 16]
    mixed = batch(2, Flow(Source(list(range(7))).gen()).take(5))
    assert await mixed.collect() == [[0, 1], [2, 3], [4]]


async def test_batch_within_flushes_a_slow_source_early() -> None:
    src = Source([1, 2, 3], delay=0.15)
    loop = asyncio.get_running_loop()
    started = loop.time()
    got: list[tuple[list[int], float]] = []
    async for group in Flow(src.gen()).batch(10, within=0.05):
        got.append((group, loop.time() - started))
    assert [g for g, _ in got] == [[1], [2], [3]], "each item flushed alone, none lost"
    # without `within` the first list would wait for the end of the source (~0.45 s)
    assert got[0][1] < 0.3
    assert src.closed and not src.cancelled


async def test_batch_within_fills_up_before_the_timer() -> None:
    got = await Flow(Source(list(range(7))).gen()).batch(3, within=5.0).collect()
    assert got == [[0, 1, 2], [3, 4, 5], [6]]


async def test_batch_within_keeps_the_item_that_arrives_as_the_timer_fires() -> None:
    # items land right around the deadline again and again; every one must come out once
    src = Source(list(range(12)), delay=0.02)
    got = await Flow(src.gen()).batch(100, within=0.02).collect()
    assert [x for group in got for x in group] == list(range(12))
    assert all(group for group in got)
    assert not src.cancelled


async def test_batch_within_closes_the_source_and_its_pending_read() -> None:
    closed: list[bool] = []

    async def slow() -> AsyncIterator[int]:
        try:
            yield 1
            await asyncio.sleep(10)
            yield 2
        finally:
            closed.append(True)

    flow = Flow(slow()).batch(5, within=0.05)
    assert await asyncio.wait_for(anext(flow), 2) == [1]
    await asyncio.wait_for(flow.aclose(), 2)  # the read waiting on sleep(10) is abandoned
    assert closed == [True]


async def test_source_errors_propagate_and_close() -> None:
    closed: list[bool] = []

    async def broken() -> AsyncIterator[int]:
        try:
            yield 1
            raise RuntimeError("boom")
        finally:
            closed.append(True)

    with pytest.raises(RuntimeError, match="boom"):
        await Flow(broken()).batch(5, within=1.0).collect()
    assert closed == [True]
    with pytest.raises(RuntimeError, match="boom"):
        await Flow(broken()).map(str).collect()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: take(-1, s), "n must not be negative"),
        (lambda s: batch(0, s), "size must be at least 1"),
        (lambda s: batch(2, s, within=0), "within must be positive"),
    ],
)
async def test_bad_arguments(call: object, message: str) -> None:
    gen = Source([1]).gen()
    with pytest.raises(ValueError, match=message):
        call(gen)  # type: ignore[operator]
    await gen.aclose()
