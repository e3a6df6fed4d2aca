"""Counting a Python program's instructions with valgrind's callgrind (``bench/instructions.py``,
``bench/replay.py``).

Imports nothing of the project: a child counted for another source tree must import that
tree's modules, not these.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

COLLECTED = re.compile(r"Collected : (\d+)")
HASH_SEED = "0"
"""String-hash seed of every counted process: set and dict orders, hence the work, repeat."""


def callgrind(arguments: list[str], cwd: Path | None = None) -> tuple[int, str]:
    """Instructions of ``python arguments...`` run under callgrind, and what it printed.

    Run with :data:`HASH_SEED`: the same work every run.
    """
    with tempfile.TemporaryDirectory() as scratch:
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={scratch}/callgrind.out",
            sys.executable,
            *arguments,
        ]
        env = {**os.environ, "PYTHONHASHSEED": HASH_SEED}
        done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=cwd, env=env)
    found = COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total:\n{done.stderr[-2000:]}")
    return int(found.group(1)), done.stdout
