"""gathered: batches are taken while the caller works, merged up to a limit, none lost or reordered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agents.prefetch import gathered


class Source:
    """Batches of one item each, every ``pause`` seconds; logs when each is taken."""

    def __init__(self, count: int, pause: float = 0.0, log: list[str] | None = None) -> None:
        self.count = count
        self.pause = pause
        self.log = log if log is not None else []
        self.closed = False

    async def batches(self) -> AsyncIterator[list[int]]:
        try:
            for n in range(self.count):
                await asyncio.sleep(self.pause)
                self.log.append(f"taken {n}")
                yield [n]
        finally:
            self.closed = True


def _ones(_: int) -> int:
    return 1


def test_items_arrive_in_order_and_all_of_them() -> None:
    async def collect() -> list[int]:
        return [n async for run in gathered(Source(50).batches(), 7, _ones) for n in run]

    assert asyncio.run(collect()) == list(range(50))


def test_what_arrived_while_the_caller_worked_comes_as_one_run() -> None:
    async def consume() -> list[list[int]]:
        runs = []
        async for run in gathered(Source(6, pause=0.01).batches(), 100, _ones):
            runs.append(run)
            await asyncio.sleep(0.035)  # the caller's work: batches are taken meanwhile
        return runs

    runs = asyncio.run(consume())
    assert runs[0] == [0]
    assert len(runs) < 6 and any(len(run) > 1 for run in runs)
    assert [n for run in runs for n in run] == list(range(6))


def test_runs_are_cut_where_their_items_would_pass_the_limit() -> None:
    async def source() -> AsyncIterator[list[int]]:
        for batch in ([1, 2, 3, 4], [9], [2, 2]):
            yield batch

    async def collect() -> list[list[int]]:
        runs = gathered(source(), 5, int)  # items weigh their own value: a bundle of that many
        await asyncio.sleep(0.01)  # everything is taken before the first run is asked for
        return [run async for run in runs]

    # In order, nothing lost; a run never passes 5 unless one item alone does.
    assert asyncio.run(collect()) == [[1, 2], [3], [4], [9], [2, 2]]


def test_a_full_run_waiting_holds_the_source_back() -> None:
    source = Source(1_000)

    async def take_one() -> list[int]:
        runs = gathered(source.batches(), 10, _ones)
        first = await anext(runs)
        await asyncio.sleep(0.05)  # the caller works long: the source is not drained
        await runs.aclose()  # type: ignore[attr-defined]
        return first

    asyncio.run(take_one())
    assert len(source.log) <= 25
    assert source.closed


def test_a_caller_that_stops_closes_the_source() -> None:
    source = Source(100, pause=0.001)

    async def take_two() -> list[int]:
        taken: list[int] = []
        runs = gathered(source.batches(), 1, _ones)
        async for run in runs:
            taken += run
            if len(taken) == 2:
                break
        await runs.aclose()  # type: ignore[attr-defined]
        return taken

    assert asyncio.run(take_two()) == [0, 1]
    assert source.closed


def test_an_error_of_the_source_reaches_the_caller_after_what_came_before_it() -> None:
    async def failing() -> AsyncIterator[list[int]]:
        yield [1, 2]
        raise RuntimeError("broken source")

    async def consume(taken: list[int]) -> None:
        async for run in gathered(failing(), 10, _ones):
            taken += run

    taken: list[int] = []
    with pytest.raises(RuntimeError, match="broken source"):
        asyncio.run(consume(taken))
    assert taken == [1, 2]
