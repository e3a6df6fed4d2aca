"""The clustering helper's work at the e2e steady state, offline: timed, or counted by callgrind.

    python bench/cluster_replay.py                       # us an article, and a digest
    python bench/cluster_replay.py --count . ../before   # instructions an article, each tree

The stream is ``bench/e2e.py --steady``'s (``--preload`` one-article stories, then one stream
whose first ``--steady`` articles grow its stories): the helper's ``ClusterWork`` is built over
all but the last ``--articles`` once, pickled (``--checkpoint``, reused while it exists), and
those last articles are placed from it in the helper's batches. Every process that builds or
replays runs with the same string-hash seed: the pickled dedup index holds ids made from
string hashes. The digest covers every placement, log entry and command: a change that keeps
it is exact.

Wall-clock time on a shared machine moves by several per cent between two runs of the same
code, more than what is left to gain in one change; ``--count`` runs the replay under
``valgrind --tool=callgrind`` for each source tree given (two at a time, hash seed fixed, as
``bench/instructions.py``), minus a run that only loads the checkpoint, and prints
instructions an article. The checkpoint is made by this tree's code and read by each tree's:
trees whose clustering state differs in shape need a checkpoint each.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.callgrind import HASH_SEED, callgrind  # noqa: E402

BATCH = 40
"""Articles a helper batch (about what 0.1 s of the prepare window holds at 300/s)."""


def build(path: Path, preload: int, steady: int, articles: int) -> None:
    """Prepare the stream, place all but its last ``articles``, pickle the work and those."""
    from agents.cluster_stage import ClusterOptions, ClusterWork
    from agents.prepare_stage import Accepted, PrepareOptions, prepare_batch
    from agents.runtime import keep_survivors, tune_garbage_collector
    from bench.e2e import preload_stream, streams_of_run

    tune_garbage_collector()
    backlog, _, items = streams_of_run(articles, 0, steady)
    stream = [*preload_stream(preload), *backlog, *items]
    options = PrepareOptions(max_bytes=1_000_000, default_source="unknown", partition_by="section")
    values: list[bytes] = []
    for start in range(0, len(stream), 500):
        payloads = [json.dumps(item).encode() for item in stream[start : start + 500]]
        values += [o.value for o in prepare_batch(payloads, options) if isinstance(o, Accepted)]
    work = ClusterWork(ClusterOptions(partition_by="section"))
    cut = len(values) - len(items)
    for start in range(0, cut, BATCH):
        work.run(values[start : min(start + BATCH, cut)], [])
        keep_survivors()
    with path.open("wb") as out:
        pickle.dump((work, values[cut:]), out, protocol=pickle.HIGHEST_PROTOCOL)


def replay(tree: Path, path: Path, run: bool) -> tuple[float, str, int]:
    """Place the checkpoint's articles with ``tree``'s code: (seconds, digest, articles)."""
    sys.path.insert(0, str(tree))
    from agents.runtime import keep_survivors, tune_garbage_collector

    tune_garbage_collector()
    with path.open("rb") as stored:
        work, values = pickle.load(stored)
    # Frozen as a helper's state is: without it, a run that only loads would end with a
    # collection over the whole state that the replay's own freezing spares it.
    keep_survivors()
    digest = hashlib.blake2b(digest_size=8)
    seconds = 0.0
    for start in range(0, len(values) if run else 0, BATCH):
        began = time.perf_counter()
        outcome = work.run(values[start : start + BATCH], [])
        seconds += time.perf_counter() - began
        for placed in outcome.placed:
            seen = (placed.article_id, placed.outcome, placed.log_entry, placed.commands)
            digest.update(repr((*seen, placed.forgotten)).encode())
        keep_survivors()
    return seconds, digest.hexdigest(), len(values)


def count(tree: Path, path: Path, run: bool) -> tuple[int, str]:
    """Instructions of one replay (or of loading the checkpoint alone) under callgrind, and
    the replay's digest."""
    arguments = [__file__, "--child", str(tree), str(path), "run" if run else "load"]
    instructions, printed = callgrind(arguments)
    return instructions, printed.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preload", type=int, default=1000)
    parser.add_argument("--steady", type=int, default=90_000, help="articles placed before")
    parser.add_argument("--articles", type=int, default=1000, help="articles replayed")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="pickle of the placed work (default: in the temp dir, named by the arguments)",
    )
    parser.add_argument("--count", nargs="+", type=Path, metavar="TREE", help="source trees")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if os.environ.get("PYTHONHASHSEED") != HASH_SEED:
        # Dedup's index holds term ids made from Python's string hashes; read back by a
        # process with another hash seed they match nothing (45 copies in 1,000 went unique).
        os.execve(
            sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": HASH_SEED}
        )
    if args.child:
        tree, path, mode = args.child
        print(replay(Path(tree), Path(path), mode == "run")[1])
        return
    name = f"storystream-cluster-{args.preload}-{args.steady}-{args.articles}.pickle"
    path = args.checkpoint or Path(tempfile.gettempdir()) / name
    if not path.exists():
        print(f"building {path} (placing {args.preload + args.steady:,} articles)...", flush=True)
        build(path, args.preload, args.steady, args.articles)
    if not args.count:
        seconds, digest, placed = replay(ROOT, path, run=True)
        print("| articles | us an article | digest |\n| --- | --- | --- |")
        print(f"| {placed:,} | {1e6 * seconds / placed:,.0f} | {digest} |")
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt-get install valgrind")
    jobs = [(tree.resolve(), run) for tree in args.count for run in (False, True)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        counted = pool.map(lambda job: count(job[0], path, job[1]), jobs)
        totals = dict(zip(jobs, counted, strict=True))
    print("| tree | million instructions an article | digest |\n| --- | --- | --- |")
    for tree in args.count:
        here = tree.resolve()
        (ran, digest), (loaded, _) = totals[(here, True)], totals[(here, False)]
        print(f"| {tree} | {(ran - loaded) / args.articles / 1e6:.3f} | {digest} |")


if __name__ == "__main__":
    main()
