"""A helper's work at the e2e steady state, offline: timed, or counted by callgrind.

    python bench/replay.py                                  # clustering: us an article, digest
    python bench/replay.py --stage summary                  # the summary helper's work
    python bench/replay.py --stage summary --count . ../before   # instructions, each tree

The stream is ``bench/e2e.py --steady``'s (``--preload`` one-article stories, then one stream
whose first ``--steady`` articles grow its stories). A stage's work is built over all but the
last ``--articles`` once and pickled (``--checkpoint``, reused while it exists); those last
articles are then worked on from it in the helpers' batches:

- ``cluster``: the clustering helper's ``ClusterWork`` places them;
- ``summary``: the summary work (``SummaryShards``, inline: one owner of every story, as many
  parsed states as a worker's helpers keep together) applies the commands clustering made for
  them, with a table of packed states as the worker's, and a fixed clock.

Every process that builds or replays runs with the same string-hash seed: the pickled dedup
index holds ids made from string hashes. The digest covers all a batch returns (placements,
log entries and commands; or states, versions, alerts and hand-overs): a change that keeps it
is exact.

Timed replays run under the worker's allocator (mimalloc on huge pages: see
``agents.runtime``; ``--allocator python`` for CPython's own), checkpoints built so too.

Wall-clock time on a shared machine moves by several per cent between two runs of the same
code, more than what is left to gain in one change; ``--count`` runs the replay under
``valgrind --tool=callgrind`` for each source tree given (two at a time, hash seed fixed, as
``bench/instructions.py``), minus a run that only loads the checkpoint, and prints
instructions an article. The checkpoint is made by this tree's code and read by each tree's:
trees whose state differs in shape need a checkpoint each. It holds the work as it was kept
when built, caches included: after a change to what a parsed state keeps, delete it and build
it again, or the replay measures states no running helper has (session 25: a checkpoint older
than the kept fact JSON made three times the fact JSON a running helper makes).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import json
import os
import pickle
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.runtime import ALLOCATORS, allocator_in_use, run_under_mimalloc  # noqa: E402
from bench.callgrind import HASH_SEED, callgrind  # noqa: E402

BATCH = 40
"""Articles a helper batch: about what one holds at 300/s (a prepare batch 32, a clustering or
summary batch 30-46, by their windows; README "Session 34")."""

CLOCK = datetime(2026, 12, 1, tzinfo=UTC)
""""Now" for the replays: the time each article arrived, and the time of each version and
alert. Stamped by the wall clock, two checkpoints of one stream would differ, and a digest
from one could not be compared with a digest from another."""

STAGES = ("cluster", "summary")


@contextmanager
def fixed_clock(module: ModuleType) -> Iterator[None]:
    """``module.utc_now()`` gives :data:`CLOCK` meanwhile: what it stamps repeats run to run."""
    wall_clock = module.utc_now
    setattr(module, "utc_now", lambda: CLOCK)  # noqa: B010 (a module's attribute, for mypy)
    try:
        yield
    finally:
        setattr(module, "utc_now", wall_clock)  # noqa: B010


def prepared_stream(preload: int, steady: int, articles: int) -> tuple[list[bytes], int]:
    """The prepared articles of the stream, and how many come before the replayed ones."""
    from agents.prepare_stage import Accepted, PrepareOptions, prepare_batch
    from bench.e2e import preload_stream, streams_of_run

    prepare = importlib.import_module("stream.prepare")  # the module, not the package's function
    backlog, _, items = streams_of_run(articles, 0, steady)
    sent = [*preload_stream(preload), *backlog, *items]
    options = PrepareOptions(max_bytes=1_000_000, default_source="unknown", partition_by="section")
    values: list[bytes] = []
    for start in range(0, len(sent), 500):
        payloads = [json.dumps(item).encode() for item in sent[start : start + 500]]
        with fixed_clock(prepare):  # the time of arrival each article carries
            outcomes = prepare_batch(payloads, options)
        values += [o.value for o in outcomes if isinstance(o, Accepted)]
    return values, len(values) - len(items)


def cluster_work() -> Any:
    """The clustering helper's work, as the e2e worker configures it."""
    from agents.cluster_stage import ClusterOptions, ClusterWork

    return ClusterWork(ClusterOptions(partition_by="section"))


def placed_batches(work: Any, values: list[bytes]) -> Iterator[tuple[Any, list[bytes]]]:
    """Place ``values`` with ``work`` in the clustering helper's batches: (outcome, batch)."""
    from agents.runtime import keep_survivors

    for start in range(0, len(values), BATCH):
        batch = values[start : start + BATCH]
        yield work.run(batch, []), batch
        keep_survivors()


def build(stage: str, path: Path, preload: int, steady: int, articles: int) -> None:
    """Work on the stream up to its last ``articles``; pickle the stage's work and what is left."""
    from agents.runtime import tune_garbage_collector

    tune_garbage_collector()
    values, cut = prepared_stream(preload, steady, articles)
    if stage == "cluster":
        work = cluster_work()
        for _ in placed_batches(work, values[:cut]):
            pass
        checkpoint: tuple[Any, ...] = (work, values[cut:])
    else:
        checkpoint = build_summary(values, cut)
    with path.open("wb") as out:
        pickle.dump(checkpoint, out, protocol=pickle.HIGHEST_PROTOCOL)


def build_summary(values: list[bytes], cut: int) -> tuple[Any, ...]:
    """Summarise the commands of the first ``cut`` articles; keep those of the rest for later.

    The checkpoint: (the summary work, the table, the batches left, the hand-overs pending,
    the articles they are of, the sentences' stems kept). A helper keeps the stems of the
    sentences it saw last (:mod:`stream.text`): a replay from an empty store would tokenise
    what a running helper finds there.
    """
    from agents.runtime import keep_survivors
    from stream import text

    shards, table = summary_work()
    left: list[list[tuple[bytes, bytes]]] = []
    pending: list[tuple[bytes, bytes]] = []
    done = 0
    for outcome, batch in placed_batches(cluster_work(), values):
        commands = pending + [c for placed in outcome.placed for c in placed.commands]
        done += len(batch)
        if done > cut:
            left.append(commands)
            pending = []
            continue
        pending = summarise(shards, table, commands)[1]
        keep_survivors()
    return shards, table, left, pending, len(values) - cut, text._STEMS


def summary_work() -> tuple[Any, dict[str, bytes]]:
    """The summary work as a worker runs it (inline), and its empty table."""
    from agents.app import LIVE_STATES
    from agents.settings import Settings
    from agents.summary_stage import SummaryOptions, SummaryShards

    options = SummaryOptions.from_settings(Settings(), LIVE_STATES)
    return SummaryShards(options, in_helper=False), {}


def summarise(
    shards: Any, table: dict[str, bytes], commands: list[tuple[bytes, bytes]]
) -> tuple[Any, list[tuple[bytes, bytes]]]:
    """One summary batch, its states written to ``table``: (its outcome, hand-overs to send)."""
    import agents.summary_stage

    keys = [key.decode() for key, _ in commands]
    values = [value for _, value in commands]
    with fixed_clock(agents.summary_stage):
        outcome = _loop().run_until_complete(shards.run(values, keys, table.get))
    for story_id, story in outcome.stories.items():
        table[story_id] = story.state
    return outcome, [(s.encode(), text.encode()) for s, text in outcome.hand_overs]


@cache
def _loop() -> asyncio.AbstractEventLoop:
    """One event loop for every batch, as a worker has.

    Not ``asyncio.run`` a batch: it sets a SIGINT handler that holds the batch's task, and
    putting the old one back made a ``repr`` of that task, the batch's outcome and all its
    states in it (7 % of the replay).
    """
    return asyncio.new_event_loop()


def replay(stage: str, tree: Path, path: Path, run: bool) -> tuple[float, str, int]:
    """Work on the checkpoint's articles with ``tree``'s code: (seconds, digest, articles)."""
    sys.path.insert(0, str(tree))
    from agents.runtime import keep_survivors, tune_garbage_collector

    tune_garbage_collector()
    with path.open("rb") as stored:
        checkpoint = pickle.load(stored)
    # Frozen as a helper's state is: without it, a run that only loads would end with a
    # collection over the whole state that the replay's own freezing spares it.
    keep_survivors()
    digest = hashlib.blake2b(digest_size=8)
    seconds = 0.0
    if stage == "cluster":
        work, values = checkpoint
        for start in range(0, len(values) if run else 0, BATCH):
            began = time.perf_counter()
            outcome = work.run(values[start : start + BATCH], [])
            seconds += time.perf_counter() - began
            for placed in outcome.placed:
                seen = (placed.article_id, placed.outcome, placed.log_entry, placed.commands)
                digest.update(repr((*seen, placed.forgotten)).encode())
            keep_survivors()
        return seconds, digest.hexdigest(), len(values)
    from stream import text

    shards, table, left, pending, articles, stems = checkpoint
    text._STEMS.update(stems)
    for commands in left if run else []:
        began = time.perf_counter()
        outcome, pending = summarise(shards, table, pending + commands)
        seconds += time.perf_counter() - began
        for story_id in sorted(outcome.stories):
            story = outcome.stories[story_id]
            digest.update(repr((story_id, story.state, story.update, story.alerts)).encode())
        digest.update(repr((outcome.hand_overs, outcome.missing)).encode())
        keep_survivors()
    return seconds, digest.hexdigest(), articles


def count(stage: str, tree: Path, path: Path, run: bool) -> tuple[int, str]:
    """Instructions of one replay (or of loading the checkpoint alone) under callgrind, and
    the replay's digest."""
    arguments = [__file__, "--stage", stage, "--child", str(tree), str(path)]
    instructions, printed = callgrind([*arguments, "run" if run else "load"])
    return instructions, printed.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stage", choices=STAGES, default="cluster")
    parser.add_argument("--preload", type=int, default=1000)
    parser.add_argument("--steady", type=int, default=90_000, help="articles placed before")
    parser.add_argument("--articles", type=int, default=1000, help="articles replayed")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="pickle of the stage's work (default: in the temp dir, named by the arguments)",
    )
    parser.add_argument("--count", nargs="+", type=Path, metavar="TREE", help="source trees")
    parser.add_argument(
        "--allocator",
        choices=ALLOCATORS,
        default="mimalloc",
        help="timed replays: the worker's default (mimalloc on huge pages), or Python's own",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if os.environ.get("PYTHONHASHSEED") != HASH_SEED:
        # Dedup's index holds term ids made from Python's string hashes; read back by a
        # process with another hash seed they match nothing (45 copies in 1,000 went unique).
        os.execve(
            sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": HASH_SEED}
        )
    if args.allocator == "mimalloc" and not (args.count or args.child):
        run_under_mimalloc()  # timed as the helpers run, state built so (callgrind counts without)
    if args.child:
        tree, path, mode = args.child
        print(replay(args.stage, Path(tree), Path(path), mode == "run")[1])
        return
    name = f"storystream-{args.stage}-{args.preload}-{args.steady}-{args.articles}.pickle"
    path = args.checkpoint or Path(tempfile.gettempdir()) / name
    if not path.exists():
        print(f"building {path} ({args.preload + args.steady:,} articles first)...", flush=True)
        build(args.stage, path, args.preload, args.steady, args.articles)
    if not args.count:
        seconds, digest, done = replay(args.stage, ROOT, path, run=True)
        print("| stage | allocator | articles | us an article | digest |")
        print("| --- | --- | --- | --- | --- |")
        per_article = 1e6 * seconds / done
        print(f"| {args.stage} | {allocator_in_use()} | {done:,} | {per_article:,.0f} | {digest} |")
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt-get install valgrind")
    jobs = [(tree.resolve(), run) for tree in args.count for run in (False, True)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        counted = pool.map(lambda job: count(args.stage, job[0], path, job[1]), jobs)
        totals = dict(zip(jobs, counted, strict=True))
    print(f"| tree | {args.stage}: million instructions an article | digest |")
    print("| --- | --- | --- |")
    for tree in args.count:
        here = tree.resolve()
        (ran, digest), (loaded, _) = totals[(here, True)], totals[(here, False)]
        print(f"| {tree} | {(ran - loaded) / args.articles / 1e6:.3f} | {digest} |")


if __name__ == "__main__":
    main()
