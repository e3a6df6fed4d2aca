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
from pathlib import Path
from typing import Any

from agents.runtime import keep_survivors, tune_garbage_collector


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send ``sig`` to this process when the one that started it exits or dies."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, sig)


def killed_with_parent() -> None:
    """:func:`die_with_parent` with SIGKILL: for a worker whose launcher is gone.

    A faust worker's graceful stop can hang when its broker went with the launcher (it kept
    retrying for half an hour, using a third of a core); nothing waits for it any more.
    """
    die_with_parent(signal.SIGKILL)


def name_process(name: str) -> None:
    """Name this process as ``top``, ``ps -o comm`` and ``/proc/PID/comm`` show it.

    A worker runs three kinds of helper, all ``python`` by default: named by stage, an
    operator (and the benchmark) can tell which stage uses the CPU. Linux keeps 15 bytes.
    """
    try:
        Path("/proc/self/comm").write_text(name[:15])
    except OSError:  # not Linux, or no procfs: the name is a convenience only
        pass


def _start_helper(stage: str) -> None:
    """Set up a helper as the worker is set up: it exits with it, and collects garbage rarely.

    The summary and clustering helpers hold what the worker's loop held before (story states,
    trackers: millions of long-lived objects); with CPython's default thresholds the cycle
    collector kept rescanning them, as it did in the worker before its tuning.
    """
    die_with_parent()
    tune_garbage_collector()
    name_process(helper_name(stage))


def helper_name(stage: str) -> str:
    """The process name of a stage's helpers (``summary`` -> ``summary-helper``)."""
    return f"{stage}-helper"


def spawn_helpers(processes: int, stage: str) -> ProcessPoolExecutor:
    """A pool of ``processes`` helper processes for ``stage`` that exit with this one."""
    return ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_helper,
        initargs=(stage,),
    )


_KEPT: dict[type, Any] = {}
"""In a helper process: the work object kept for each work class (its state lives as long as
the process: parsed story states, trackers)."""


def run_kept_work(factory: type, options: object, *args: Any) -> Any:
    """In a helper process: ``run(*args)`` on the work kept there for ``factory``.

    The work is made from ``options`` on first use (or when they changed) and kept between
    calls, which is what makes a single helper worth its pipe: it holds what it worked on.
    """
    work = _KEPT.get(factory)
    if work is None or work.options != options:
        work = _KEPT[factory] = factory(options)
    result = work.run(*args)
    keep_survivors()
    return result
