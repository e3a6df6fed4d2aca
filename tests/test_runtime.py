"""The worker's runtime: mimalloc on huge pages, for the worker and the helpers it spawns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agents.runtime import huge_pages_granted, mimalloc_environment, mimalloc_library

LIBRARY = Path("/opt/lib/libmimalloc.so")

with_mimalloc = pytest.mark.skipif(
    mimalloc_library() is None or not huge_pages_granted(),
    reason="cmeel-mimalloc ships its library for Linux x86-64 only; the host grants no huge pages",
)


def test_a_fresh_environment_gets_mimalloc_python_s_objects_included_and_huge_pages() -> None:
    env = mimalloc_environment({"PATH": "/usr/bin"}, LIBRARY)
    assert env == {
        "PATH": "/usr/bin",
        "LD_PRELOAD": str(LIBRARY),
        "PYTHONMALLOC": "malloc",
        "MIMALLOC_ALLOW_LARGE_OS_PAGES": "1",
        "MIMALLOC_PURGE_DELAY": "-1",
    }


def test_what_is_already_preloaded_stays_and_an_explicit_page_choice_is_kept() -> None:
    env = mimalloc_environment(
        {
            "LD_PRELOAD": "/a.so /b.so",
            "MIMALLOC_ALLOW_LARGE_OS_PAGES": "0",
            "MIMALLOC_PURGE_DELAY": "10",
        },
        LIBRARY,
    )
    assert env is not None
    assert env["LD_PRELOAD"] == f"{LIBRARY}:/a.so:/b.so"
    assert env["MIMALLOC_ALLOW_LARGE_OS_PAGES"] == "0"
    assert env["MIMALLOC_PURGE_DELAY"] == "10"


def test_an_environment_already_under_mimalloc_needs_no_restart() -> None:
    env = mimalloc_environment({"PATH": "/usr/bin"}, LIBRARY)
    assert env is not None
    assert mimalloc_environment(env, LIBRARY) is None
    # Preloaded but with pymalloc still serving Python's objects: not yet.
    assert mimalloc_environment({**env, "PYTHONMALLOC": "pymalloc"}, LIBRARY) is not None
    # ...or without the purge setting (a process started under an older worker's settings).
    older = {k: v for k, v in env.items() if k != "MIMALLOC_PURGE_DELAY"}
    assert mimalloc_environment(older, LIBRARY) == env


@pytest.mark.parametrize(
    ("mode", "granted"),
    [
        ("always [madvise] never\n", True),
        ("[always] madvise never\n", True),
        ("always madvise [never]\n", False),
        (None, False),  # no such file: not Linux, or no THP in the kernel
    ],
)
def test_huge_pages_count_as_granted_when_always_on_or_on_request(
    tmp_path: Path, mode: str | None, granted: bool
) -> None:
    setting = tmp_path / "enabled"
    if mode is not None:
        setting.write_text(mode)
    assert huge_pages_granted(setting) is granted


@with_mimalloc
def test_a_process_restarts_itself_under_mimalloc_and_its_helpers_inherit_it() -> None:
    script = (
        "from agents.runtime import run_under_mimalloc, allocator_in_use\n"
        "import asyncio\n"
        "from agents.helpers import Helper\n"
        "run_under_mimalloc()\n"
        "helper = Helper('summary')\n"
        "async def ask(): return await helper.submit(allocator_in_use)\n"
        "print(allocator_in_use(), asyncio.run(ask()))\n"
        "helper.close()\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["mimalloc", "mimalloc"]
