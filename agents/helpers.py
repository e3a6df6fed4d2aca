"""Helper processes of a worker: CPU work that runs beside the event loop, not on it.

A worker's agents share one Python thread. Work that needs no I/O (preparing articles,
summarising stories) can run in processes the worker spawns, while its loop keeps consuming,
clustering and producing. Helpers are spawned (not forked from a process that runs threads)
and die with the worker: Linux is asked to signal them when their parent goes, so a crashed
worker leaves no orphans.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import signal
import sys
from concurrent.futures import ProcessPoolExecutor


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this helper when the worker that spawned it exits (or is killed)."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def spawn_helpers(processes: int) -> ProcessPoolExecutor:
    """A pool of ``processes`` helper processes that exit with this one."""
    return ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_die_with_parent,
    )
