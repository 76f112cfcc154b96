"""Composable async combinators for scripts: ``filter``, ``map``, ``take`` and ``batch``.

They work on any async iterable and compose either way::

    async for fills in stream.subscribe(types=["fill"]).map(price).batch(10, within=1.0):
        ...
    async for event in take(3, filter(is_fill, source)):
        ...

Every stage closes its source (``aclose``) when it ends for any reason, so ending the
outermost stage (``take`` reaching its count, ``break`` plus :meth:`Flow.aclose`, or
cancellation) releases what the innermost one holds, e.g. a subscription's queue.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

__all__ = ["Flow", "batch", "filter", "map", "take"]

T = TypeVar("T")
U = TypeVar("U")


class _End:
    """Marks the end of the source inside a read task (a task must not raise
    StopAsyncIteration through ``await``-ing code that treats it as an ordinary error)."""


_END = _End()


async def _next(it: AsyncIterator[T]) -> T | _End:
    try:
        return await anext(it)
    except StopAsyncIteration:
        return _END


async def _aclose(it: object) -> None:
    """Close an async iterator if it can be closed (async generators and Flows can)."""
    close = getattr(it, "aclose", None)
    if close is not None:
        await close()


async def _maybe_await(value: U | Awaitable[U]) -> U:
    if inspect.isawaitable(value):
        result: U = await value
        return result
    return value


class Flow(Generic[T]):
    """An async iterator with chainable combinators; each call returns a new Flow.

    A Flow is single-pass, like the iterator it wraps. Close it (``aclose`` or
    ``async with``) when you stop early without exhausting it, so the source is released at
    once rather than whenever the garbage collector gets to it.
    """

    __slots__ = ("_it", "_source")

    def __init__(self, source: AsyncIterable[T]) -> None:
        self._source = source
        self._it: AsyncIterator[T] | None = None

    def _iterator(self) -> AsyncIterator[T]:
        if self._it is None:
            self._it = aiter(self._source)
        return self._it

    def __aiter__(self) -> Flow[T]:
        return self

    async def __anext__(self) -> T:
        return await anext(self._iterator())

    async def aclose(self) -> None:
        """Close the source (idempotent); a later read ends at once."""
        await _aclose(self._it if self._it is not None else self._source)

    async def __aenter__(self) -> Flow[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------- combinators
    def filter(self, pred: Callable[[T], bool | Awaitable[bool]]) -> Flow[T]:
        """Only the items for which ``pred`` (sync or async) is true."""
        return filter(pred, self)

    @overload
    def map(self, fn: Callable[[T], Awaitable[U]]) -> Flow[U]: ...
    @overload
    def map(self, fn: Callable[[T], U]) -> Flow[U]: ...
    def map(self, fn: Callable[[T], Any]) -> Flow[Any]:
        """Each item through ``fn``; an async ``fn`` is awaited, one item at a time."""
        return map(fn, self)

    def take(self, n: int) -> Flow[T]:
        """The first ``n`` items; the source is closed as soon as the n-th arrives."""
        return take(n, self)

    def batch(self, size: int, within: float | None = None) -> Flow[list[T]]:
        """Lists of up to ``size`` items; with ``within``, a non-empty list is also emitted
        once its first item has waited that many seconds. The partial last list is emitted
        when the source ends."""
        return batch(size, self, within=within)

    async def collect(self) -> list[T]:
        """Every remaining item, as a list (bound the flow first, e.g. with ``take``)."""
        return [item async for item in self]


# ---------------------------------------------------------------- module-level forms
def filter(pred: Callable[[T], bool | Awaitable[bool]], source: AsyncIterable[T]) -> Flow[T]:
    """The items of ``source`` for which ``pred`` (sync or async) is true."""
    return Flow(_filter(pred, source))


async def _filter(
    pred: Callable[[T], bool | Awaitable[bool]], source: AsyncIterable[T]
) -> AsyncIterator[T]:
    it = aiter(source)
    try:
        async for item in it:
            if await _maybe_await(pred(item)):
                yield item
    finally:
        await _aclose(it)


@overload
def map(fn: Callable[[T], Awaitable[U]], source: AsyncIterable[T]) -> Flow[U]: ...
@overload
def map(fn: Callable[[T], U], source: AsyncIterable[T]) -> Flow[U]: ...
def map(fn: Callable[[T], Any], source: AsyncIterable[T]) -> Flow[Any]:
    """Each item of ``source`` through ``fn``; an async ``fn`` is awaited before the next read."""
    return Flow(_map(fn, source))


async def _map(fn: Callable[[T], Any], source: AsyncIterable[T]) -> AsyncIterator[Any]:
    it = aiter(source)
    try:
        async for item in it:
            yield await _maybe_await(fn(item))
    finally:
        await _aclose(it)


def take(n: int, source: AsyncIterable[T]) -> Flow[T]:
    """The first ``n`` items of ``source``; the source is closed when the n-th arrives,
    before it is handed on, so whatever it holds is released even if nobody reads on."""
    if n < 0:
        raise ValueError("take: n must not be negative")
    return Flow(_take(n, source))


async def _take(n: int, source: AsyncIterable[T]) -> AsyncIterator[T]:
    it = aiter(source)
    try:
        if n == 0:
            return
        count = 0
        async for item in it:
            count += 1
            if count >= n:
                await _aclose(it)
                yield item
                return
            yield item
    finally:
        await _aclose(it)  # a second aclose of a closed generator is a no-op


def batch(size: int, source: AsyncIterable[T], *, within: float | None = None) -> Flow[list[T]]:
    """Lists of up to ``size`` items of ``source``.

    With ``within`` (seconds), a list is emitted early once its first item has waited that
    long, so a slow source still yields promptly. The read that was in progress when the
    timer fired is carried over to the next list, never cancelled, so no item is lost.
    """
    if size < 1:
        raise ValueError("batch: size must be at least 1")
    if within is not None and within <= 0:
        raise ValueError("batch: within must be positive")
    if within is None:
        return Flow(_batch(size, source))
    return Flow(_batch_within(size, within, source))


async def _batch(size: int, source: AsyncIterable[T]) -> AsyncIterator[list[T]]:
    it = aiter(source)
    buf: list[T] = []
    try:
        async for item in it:
            buf.append(item)
            if len(buf) >= size:
                out, buf = buf, []
                yield out
        if buf:
            yield buf
    finally:
        await _aclose(it)


async def _batch_within(
    size: int, within: float, source: AsyncIterable[T]
) -> AsyncIterator[list[T]]:
    loop = asyncio.get_running_loop()
    it = aiter(source)
    pending: asyncio.Task[T | _End] | None = None
    buf: list[T] = []
    deadline = 0.0
    try:
        while True:
            if pending is None:
                pending = asyncio.create_task(_next(it))
            if buf:
                done, _ = await asyncio.wait({pending}, timeout=max(0.0, deadline - loop.time()))
                if not done:  # timer fired: emit what we have, keep the read going
                    out, buf = buf, []
                    yield out
                    continue
            else:
                await asyncio.wait({pending})
            task, pending = pending, None
            item = task.result()  # re-raises the source's error
            if isinstance(item, _End):
                break
            if not buf:
                deadline = loop.time() + within
            buf.append(item)
            if len(buf) >= size:
                out, buf = buf, []
                yield out
        if buf:
            yield buf
    finally:
        if pending is not None:
            # only on early exit (consumer closed or cancelled): nobody wants the next item
            pending.cancel()
            try:
                await pending
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # we ourselves are being cancelled, not just the read
            except Exception:
                pass  # the source failed after its reader left: nobody to tell
        await _aclose(it)
