"""prefetched: the next item is asked for while the caller works, and nothing is lost or reordered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agents.prefetch import prefetched, split_batches


class Source:
    """An async source that logs when each item is asked for."""

    def __init__(self, count: int, log: list[str] | None = None) -> None:
        self.count = count
        self.log = log if log is not None else []
        self.closed = False

    async def items(self) -> AsyncIterator[int]:
        try:
            for n in range(self.count):
                self.log.append(f"asked {n}")
                await asyncio.sleep(0)
                yield n
        finally:
            self.closed = True


def test_items_arrive_in_order_and_all_of_them() -> None:
    async def collect() -> list[int]:
        return [n async for n in prefetched(Source(5).items())]

    assert asyncio.run(collect()) == [0, 1, 2, 3, 4]


def test_the_next_item_is_asked_for_while_the_caller_works() -> None:
    log: list[str] = []

    async def consume() -> None:
        async for n in prefetched(Source(3, log).items()):
            await asyncio.sleep(0.01)  # the caller's work: the fetch ahead runs meanwhile
            log.append(f"done {n}")

    asyncio.run(consume())
    assert log.index("asked 1") < log.index("done 0")
    assert log.index("asked 2") < log.index("done 1")
    assert log[-1] == "done 2"


def test_a_caller_that_stops_cancels_the_fetch_ahead() -> None:
    source = Source(100)

    async def take_two() -> list[int]:
        taken = []
        stream = prefetched(source.items())
        async for n in stream:
            taken.append(n)
            if len(taken) == 2:
                break
        await stream.aclose()  # type: ignore[attr-defined]
        return taken

    assert asyncio.run(take_two()) == [0, 1]
    assert source.closed


def test_an_error_of_the_source_reaches_the_caller() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise RuntimeError("broken source")

    async def consume() -> list[int]:
        return [n async for n in prefetched(failing())]

    with pytest.raises(RuntimeError, match="broken source"):
        asyncio.run(consume())


async def _batches(*batches: list[int]) -> AsyncIterator[list[int]]:
    for batch in batches:
        yield batch


def test_batches_are_cut_where_their_items_would_pass_the_limit() -> None:
    async def collect() -> list[list[int]]:
        # Items weigh their own value: a bundle of that many messages.
        return [run async for run in split_batches(_batches([1, 2, 3, 4], [9], [2, 2]), 5, int)]

    # In order, nothing lost; a run never passes 5 unless one item alone does.
    assert asyncio.run(collect()) == [[1, 2], [3], [4], [9], [2, 2]]


def test_cutting_batches_closes_the_source_with_it() -> None:
    source = Source(100)

    async def take_one() -> list[int]:
        runs = split_batches(_lists(source.items()), 10, lambda _: 1)
        async for run in runs:
            await runs.aclose()  # type: ignore[attr-defined]
            return run
        return []

    assert asyncio.run(take_one()) == [0]
    assert source.closed


async def _lists(items: AsyncIterator[int]) -> AsyncIterator[list[int]]:
    try:
        async for item in items:
            yield [item]
    finally:
        await items.aclose()  # type: ignore[attr-defined]
