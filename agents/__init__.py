"""The edge of storystream: the faust app, its agents and web pages, the CLI, the local broker.

A worker is one event loop sharing its machine with the broker: numpy's OpenBLAS must not start
a thread per core for the small matrix products of the core (it spins and steals the cores the
loop and the broker need; measured as 12 % of a loaded worker's time in one product). Set
before numpy is imported by anything under this package; an explicit setting wins.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
