"""Helper processes: named by stage, and kept out of long cycle-collector pauses."""

from __future__ import annotations

import gc
import os
import sys
import weakref
from pathlib import Path

import pytest

from agents.helpers import helper_name, spawn_helpers
from agents.runtime import keep_survivors


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process names via procfs")
def test_a_helper_carries_its_stage_in_its_process_name() -> None:
    pool = spawn_helpers(1, "summary")
    try:
        pid = pool.submit(os.getpid).result(timeout=60)
        assert Path(f"/proc/{pid}/comm").read_text().strip() == helper_name("summary")
        assert helper_name("summary") == "summary-helper"
    finally:
        pool.shutdown()


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
