"""Helper processes: called from the event loop, named by stage, out of long collector pauses."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import time
import weakref
from pathlib import Path

import pytest

from agents.helpers import Helper, HelperGone, helper_name
from agents.runtime import keep_survivors


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process names via procfs")
def test_a_helper_carries_its_stage_in_its_process_name() -> None:
    helper = Helper("summary")
    try:
        pid = asyncio.run(_call(helper, os.getpid))
        assert pid == helper.pid != os.getpid()
        assert Path(f"/proc/{pid}/comm").read_text().strip() == helper_name("summary")
        assert helper_name("summary") == "summary-helper"
    finally:
        helper.close()


async def _call(helper: Helper, function: object, *args: object) -> object:
    return await asyncio.wait_for(helper.submit(function, *args), timeout=60)  # type: ignore[arg-type]


def test_calls_are_answered_in_order_and_large_messages_go_both_ways() -> None:
    """Calls made at once come back to their own callers, several MB each way included."""
    big = [bytes([n]) * 3_000_000 for n in range(3)]  # more than a socket buffer holds

    async def calls(helper: Helper) -> list[object]:
        futures = [helper.submit(len, value) for value in big]
        futures += [helper.submit(bytes.upper, b"x" * n) for n in (1, 300_000, 2)]
        return list(await asyncio.wait_for(asyncio.gather(*futures), timeout=60))

    helper = Helper("test")
    try:
        first = asyncio.run(calls(helper))
        again = asyncio.run(calls(helper))  # another event loop, the same helper
    finally:
        helper.close()
    assert first == again == [3_000_000] * 3 + [b"X", b"X" * 300_000, b"XX"]


def test_an_error_in_the_helper_is_raised_to_the_caller_with_its_traceback() -> None:
    helper = Helper("test")
    try:
        with pytest.raises(ValueError, match="invalid literal") as raised:
            asyncio.run(_call(helper, int, "not a number"))
        assert any("in the test helper process" in note for note in raised.value.__notes__)
        assert asyncio.run(_call(helper, int, "42")) == 42  # the helper goes on
    finally:
        helper.close()


def test_a_killed_helper_fails_its_calls_and_every_later_one() -> None:
    async def scenario(helper: Helper) -> None:
        assert await _call(helper, os.getpid) == helper.pid
        waiting = helper.submit(time.sleep, 30)
        os.kill(helper.pid or 0, signal.SIGKILL)
        with pytest.raises(HelperGone):
            await asyncio.wait_for(waiting, timeout=60)
        with pytest.raises(HelperGone):
            await _call(helper, os.getpid)

    helper = Helper("test")
    try:
        asyncio.run(scenario(helper))
    finally:
        helper.close()


def test_after_a_batch_its_cyclic_garbage_is_collected_and_what_survives_is_frozen() -> None:
    class Node:
        pass

    garbage = Node()
    garbage.loop = garbage  # type: ignore[attr-defined]
    gone = weakref.ref(garbage)
    del garbage
    kept = [Node() for _ in range(10)]
    frozen = gc.get_freeze_count()
    try:
        keep_survivors()
        assert gone() is None
        assert gc.get_freeze_count() >= frozen + len(kept)
        assert all(gc.is_tracked(node) for node in kept)
    finally:
        gc.unfreeze()  # hand this test process's objects back to the collector
