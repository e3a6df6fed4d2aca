"""Counting a Python program's instructions with valgrind's callgrind (``bench/instructions.py``,
``bench/cluster_replay.py``).

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


def callgrind(arguments: list[str], cwd: Path | None = None) -> tuple[int, str]:
    """Instructions of ``python arguments...`` run under callgrind, and what it printed.

    A fixed string-hash seed: set and dict orders, hence the work, the same every run.
    """
    with tempfile.TemporaryDirectory() as scratch:
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={scratch}/callgrind.out",
            sys.executable,
            *arguments,
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=cwd, env=env)
    found = COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total:\n{done.stderr[-2000:]}")
    return int(found.group(1)), done.stdout
