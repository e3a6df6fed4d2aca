"""Fetch the next batch of events (or any async item) while the caller works on this one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any, TypeVar, cast

import faust
from faust.types import EventT

from stream.bundles import count_of

T = TypeVar("T")


async def prefetched(source: AsyncIterable[T]) -> AsyncIterator[T]:
    """Yield ``source``'s items, already asking for the next while the caller holds one.

    faust's ``take`` starts its collection window only when asked for the next batch: a
    consumer that works 0.3 s on a batch and then waits a 0.25 s window adds the two. Asked
    ahead, the window runs during the work, and a batch is ready when the work is done.
    At most one item is fetched ahead; a cancelled caller cancels that fetch.
    """
    iterator = aiter(source)
    pending: asyncio.Future[Any] = asyncio.ensure_future(anext(iterator))
    try:
        while True:
            try:
                item = await pending
            except StopAsyncIteration:
                return
            pending = asyncio.ensure_future(anext(iterator))
            yield item
    finally:
        pending.cancel()
        # Collected so asyncio does not report it; nobody asked for this item, nor for its error.
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pending


def event_batches(
    stream: faust.Stream[bytes], max_items: int, within: float
) -> AsyncIterator[list[EventT[bytes]]]:
    """Batches of a stream's events, the next one collected while the caller works on this one.

    Taken with faust's ``noack_take``: nothing is acked for the caller, who acks each event
    (``stream.ack``) once what it caused is in the producer buffer, which faust flushes before
    it commits. (``noack_take`` yields events, though typed as values.) An event may carry
    several messages (a bundle, :mod:`stream.bundles`): a batch holds at most ``max_items``
    of those, or a single event that carries more.
    """
    batches = cast(AsyncIterator[list[EventT[bytes]]], stream.noack_take(max_items, within))
    return split_batches(prefetched(batches), max_items, bundle_size)


def bundle_size(event: EventT[bytes]) -> int:
    """Messages an event's value carries (lines of a bundle; a non-bundle counts one)."""
    value = event.value
    return count_of(value) if isinstance(value, bytes) else 1


async def split_batches(
    batches: AsyncIterable[list[T]], max_items: int, size: Callable[[T], int]
) -> AsyncIterator[list[T]]:
    """Each batch cut, in order, into runs of items whose ``size`` adds up to ``max_items``.

    faust's take counts events; a batch of bundles could hold a hundred times the messages
    the stage's batch limit is for (a backlog's batches, one helper call each). An item larger
    than the limit alone is a run of its own.
    """
    try:
        async for batch in batches:
            run: list[T] = []
            total = 0
            for item in batch:
                weight = size(item)
                if run and total + weight > max_items:
                    yield run
                    run, total = [], 0
                run.append(item)
                total += weight
            if run:
                yield run
    finally:
        # Closed with this one (a cancelled agent): the prefetched source cancels its fetch.
        close = getattr(batches, "aclose", None)
        if close is not None:
            await close()
