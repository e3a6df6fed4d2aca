"""Process-wide tuning of a worker's Python runtime."""

from __future__ import annotations

import gc

YOUNG_GENERATION = 50_000
"""Allocations between young-generation collections (CPython's default: 700)."""


def tune_garbage_collector() -> None:
    """Collect less often: a worker allocates tens of thousands of short-lived objects a second.

    Nearly all of them (parsed messages, pydantic models, numpy temporaries) are freed by
    reference counting; the cycle collector only finds garbage in rare cycles. With CPython's
    defaults it ran every 700 allocations and, through the older generations, kept rescanning
    the long-lived story state: 8 % of a loaded worker's CPU (py-spy, native frames). Objects
    alive at start-up (modules, the app) are moved out of its sight with ``gc.freeze``.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION, 20, 20)


def keep_survivors() -> None:
    """Collect what a unit of work left behind, then hide the rest from the cycle collector.

    For a process that holds a growing state and makes almost no cyclic garbage: the summary
    and clustering helpers (their collections found 0 and 30 objects in a minute at 300
    articles/s). Their older generations still filled with kept state, and collecting them
    paused a helper for 0.4-0.6 s, in the middle of a batch, every half minute or so: a stall
    of every article then in the pipeline. Called after each batch, the young collection
    looks at that batch's objects only, and what survives it is frozen (``gc.freeze``): no
    collection ever scans it again. Frozen objects are still freed when their last reference
    goes; only a cycle made garbage later would stay, and these processes make none to speak of.
    """
    gc.collect(0)
    gc.freeze()
