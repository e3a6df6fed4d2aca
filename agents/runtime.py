"""Process-wide tuning of a worker's Python runtime: its memory allocator and its collector."""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

log = logging.getLogger("storystream")

MIMALLOC_DISTRIBUTION = "cmeel-mimalloc"
"""The wheel that ships mimalloc's shared library (a dependency of ours on Linux)."""

HUGE_PAGES_SETTING = Path("/sys/kernel/mm/transparent_hugepage/enabled")

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


def mimalloc_library() -> Path | None:
    """The shared library of mimalloc as :data:`MIMALLOC_DISTRIBUTION` installed it, if it did."""
    try:
        files = metadata.distribution(MIMALLOC_DISTRIBUTION).files or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == "libmimalloc.so":
            path = Path(str(file.locate()))
            return path if path.is_file() else None
    return None


def mimalloc_environment(environ: Mapping[str, str], library: Path) -> dict[str, str] | None:
    """``environ`` for a process whose every allocation goes to mimalloc on huge pages.

    None when ``environ`` already is that: the variables are read once, when a process starts
    (``LD_PRELOAD`` by the dynamic loader, ``PYTHONMALLOC`` by the interpreter), so a process
    that lacks them must start again with them.

    - ``PYTHONMALLOC=malloc``: Python's small objects too, not only its large blocks (pymalloc
      takes its own 1 MiB arenas from the system, which no allocator can back by huge pages).
    - ``LD_PRELOAD``: mimalloc answers ``malloc`` for Python, numpy and every extension.
    - ``MIMALLOC_ALLOW_LARGE_OS_PAGES=1``: its memory is asked for in 2 MiB pages (transparent
      huge pages, which hosts grant on request: the kernel's default ``madvise`` mode).
    - ``MIMALLOC_PURGE_DELAY=-1``: freed memory stays with the process for its next use, not
      handed back to the system piece by piece (mimalloc's default, a second after it is
      freed). Each piece handed back from a huge page made the kernel split that page into
      4 kB ones for good: two minutes into a run at 300 articles/s the helpers held 45-55 %
      of their memory on huge pages, against 82-92 % without purging, and the worker and
      its helpers used 1.56-1.58 cores against 1.46-1.48 for the same articles (three
      alternated pairs of ``bench/e2e.py`` runs, README "Session 28"). A worker's memory
      then stays at its peak (peak RSS +3 % in the helpers, +20 % in the worker).

    Why: a helper holds 1-2 GB of story state that every article reads here and there; on
    4 kB pages each of those reads may first miss the processor's address translation cache
    (inferred: mimalloc on small pages is no faster, the gain is the huge pages'). On machine
    B the clustering work replayed in 1,491-1,513 us an article against 1,705-1,731 with
    pymalloc, and one worker at 300 articles/s offered sustained 274-295 against 265-275
    (``bench/e2e.py --steady 90000``, README "Session 26").
    """
    preloaded = environ.get("LD_PRELOAD", "").replace(" ", ":").split(":")
    settings = {
        "PYTHONMALLOC": "malloc",
        "MIMALLOC_ALLOW_LARGE_OS_PAGES": environ.get("MIMALLOC_ALLOW_LARGE_OS_PAGES", "1"),
        "MIMALLOC_PURGE_DELAY": environ.get("MIMALLOC_PURGE_DELAY", "-1"),
    }
    if str(library) in preloaded and all(environ.get(k) == v for k, v in settings.items()):
        return None
    return {
        **environ,
        "LD_PRELOAD": ":".join(
            [str(library), *(p for p in preloaded if p not in ("", str(library)))]
        ),
        **settings,
    }


def run_under_mimalloc() -> None:
    """Start this process again under mimalloc (see :func:`mimalloc_environment`), unless it is.

    Call first thing: ``exec`` replaces the process with the same command line, so nothing
    done before survives. Helper processes (spawned, never forked) inherit the environment.
    The process goes on as it is without the library (a platform without the wheel) and on a
    host that grants no huge pages: there mimalloc alone was no faster than pymalloc.
    """
    library = mimalloc_library()
    if library is None:
        log.warning("mimalloc not installed (%s): Python's own allocator", MIMALLOC_DISTRIBUTION)
        return
    if not huge_pages_granted():
        log.warning("the host grants no transparent huge pages: Python's own allocator")
        return
    environment = mimalloc_environment(os.environ, library)
    if environment is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        # The same interpreter and command line: nothing a shell would add.
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], environment)  # noqa: S606


def huge_pages_granted(setting: Path = HUGE_PAGES_SETTING) -> bool:
    """Whether the kernel backs memory with transparent huge pages (always, or when asked)."""
    try:
        mode = setting.read_text()
    except OSError:
        return False
    return "[always]" in mode or "[madvise]" in mode


ALLOCATORS = ("mimalloc", "python")
"""What :func:`allocator_in_use` can answer, and what a benchmark can be asked to run under."""


def allocator_in_use(pid: int | None = None) -> str:
    """Which allocator serves a process (this one by default): ``mimalloc`` or ``python``."""
    proc = Path("/proc") / (str(pid) if pid is not None else "self")
    try:
        maps = (proc / "maps").read_text()
        environ = (proc / "environ").read_bytes().split(b"\0")
    except OSError:
        return "python"
    preloaded = "libmimalloc" in maps and b"PYTHONMALLOC=malloc" in environ
    return "mimalloc" if preloaded else "python"
