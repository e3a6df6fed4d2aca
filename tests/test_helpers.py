"""Helper processes: named by stage, so an operator (and the benchmark) can tell them apart."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from agents.helpers import helper_name, spawn_helpers


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process names via procfs")
def test_a_helper_carries_its_stage_in_its_process_name() -> None:
    pool = spawn_helpers(1, "summary")
    try:
        pid = pool.submit(os.getpid).result(timeout=60)
        assert Path(f"/proc/{pid}/comm").read_text().strip() == helper_name("summary")
        assert helper_name("summary") == "summary-helper"
    finally:
        pool.shutdown()
