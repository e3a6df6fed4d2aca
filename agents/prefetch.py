"""Fetch the next batch of events (or any async item) while the caller works on this one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, TypeVar, cast

import faust
from faust.types import EventT

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
    stream: faust.Stream[bytes], max_events: int, within: float
) -> AsyncIterator[list[EventT[bytes]]]:
    """Batches of a stream's events, the next one collected while the caller works on this one.

    Taken with faust's ``noack_take``: nothing is acked for the caller, who acks each event
    (``stream.ack``) once what it caused is in the producer buffer, which faust flushes before
    it commits. (``noack_take`` yields events, though typed as values.)
    """
    batches = cast(AsyncIterator[list[EventT[bytes]]], stream.noack_take(max_events, within))
    return prefetched(batches)
