"""Batches of a stream's events, gathered while the caller works on the one before."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import TypeVar, cast

import faust
from faust.types import EventT

from stream.bundles import count_of

T = TypeVar("T")


def event_batches(
    stream: faust.Stream[bytes], max_items: int, within: float
) -> AsyncIterator[list[EventT[bytes]]]:
    """Batches of a stream's events, each all that arrived while the caller worked on the last.

    Taken with faust's ``noack_take``: nothing is acked for the caller, who acks each event
    (``stream.ack``) once what it caused is in the producer buffer, which faust flushes before
    it commits. (``noack_take`` yields events, though typed as values.) An event may carry
    several messages (a bundle, :mod:`stream.bundles`): a batch holds at most ``max_items``
    of those, or a single event that carries more.
    """
    batches = cast(AsyncIterator[list[EventT[bytes]]], stream.noack_take(max_items, within))
    return gathered(batches, max_items, bundle_size)


def bundle_size(event: EventT[bytes]) -> int:
    """Messages an event's value carries (lines of a bundle; a non-bundle counts one)."""
    value = event.value
    return count_of(value) if isinstance(value, bytes) else 1


async def gathered(
    batches: AsyncIterable[list[T]], max_items: int, size: Callable[[T], int]
) -> AsyncIterator[list[T]]:
    """``batches`` taken as they come, handed over in runs of up to ``max_items`` (by ``size``).

    A task of its own takes each batch from ``batches`` as soon as it is ready, while the
    caller works; asked for the next run, the caller gets, in order, all that was taken
    meanwhile up to the limit (an item heavier than the limit alone is a run of its own), or
    waits for the next batch when nothing is there.

    faust's ``take`` yields a batch when its window ends, then holds its stream until it is
    asked for the next: asked one batch ahead, as before, a stage got about one window's events
    a batch however long its queue was. At 420 articles/s offered, past what one worker keeps
    up with on two cores, the clustering stage's queue grew from 550 to 3,000 articles in two
    minutes while its batches grew only from 59 to 97 articles (of the 200 allowed). Gathered,
    a stage takes all that reached it while it worked: in a run at that rate that logged its
    batches, 82 % of those whose oldest event had waited over a second held 190-200 articles
    (README "Session 32").

    The task takes no further batch while a full run waits, so what it holds is bounded: a
    full run plus one batch of ``batches``. faust's ``take`` counts messages, though, and on
    the internal topics a message carries a prepare batch's articles: behind a backlog, that
    one batch held a thousand articles or more, 1-4 s of the stage's work (README
    "Session 33").
    """
    ready: deque[tuple[T, int]] = deque()
    weight = 0
    arrived = asyncio.Event()
    room = asyncio.Event()
    room.set()
    ended: list[BaseException | None] = []  # the source's end: None, or the error it raised

    async def take() -> None:
        nonlocal weight
        try:
            async for batch in batches:
                for item in batch:
                    weighs = size(item)
                    ready.append((item, weighs))
                    weight += weighs
                arrived.set()
                if weight >= max_items:
                    room.clear()
                    await room.wait()
            ended.append(None)
        except Exception as error:
            ended.append(error)
        finally:
            arrived.set()

    taking = asyncio.ensure_future(take())
    try:
        while True:
            await arrived.wait()
            if not ready:
                if ended:
                    if ended[0] is not None:
                        raise ended[0]
                    return
                arrived.clear()
                continue
            run: list[T] = []
            total = 0
            while ready and (not run or total + ready[0][1] <= max_items):
                item, weighs = ready.popleft()
                run.append(item)
                total += weighs
            weight -= total
            if not ready and not ended:
                arrived.clear()
            if weight < max_items:
                room.set()
            yield run
    finally:
        taking.cancel()
        # Collected so asyncio does not report it; nobody asked for what it was taking.
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await taking
        close = getattr(batches, "aclose", None)
        if close is not None:
            with contextlib.suppress(RuntimeError):  # closed by the cancelled task already
                await close()
