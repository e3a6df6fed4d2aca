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
