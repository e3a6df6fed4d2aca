"""What freezing the helpers' survivors keeps from the collector: cyclic garbage, per article.

    python bench/frozen_garbage.py                         # 30,000 articles of the e2e stream
    python bench/frozen_garbage.py --articles 60000 --live-states 500

The cluster and summary helpers call :func:`agents.runtime.keep_survivors` after each batch:
the batch's young garbage is collected, and what survives is frozen, so that no collection of
an older generation pauses the helper to rescan its kept state. The price: an object that was
frozen and later becomes part of unreachable *cyclic* garbage is never freed (reference counting
frees everything else). This measures that price on the work the helpers run, with their batch
sizes, over a stream long enough (20 s of event time an article) that trackers evict stories and
the summary work lets states go (``--live-states``). At the end it unfreezes, collects with
``DEBUG_SAVEALL`` and reports what the freezing had kept, by type and in bytes, per 1,000
articles: the memory a helper would leak an hour at a given rate.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.cluster_stage import ClusterOptions, ClusterWork  # noqa: E402
from agents.prepare_stage import Accepted, PrepareOptions, prepare_batch  # noqa: E402
from agents.runtime import keep_survivors, tune_garbage_collector  # noqa: E402
from agents.summary_stage import SummaryOptions, SummaryWork  # noqa: E402
from bench.e2e import live_stream  # noqa: E402

CLUSTER_BATCH = 200
"""Articles a cluster helper batch holds when the worker is busy (its maximum)."""
SUMMARY_BATCH = 300
"""Commands a summary helper batch holds at about 300 articles/s."""


def frozen_garbage() -> tuple[int, int, Counter[str]]:
    """Unfreeze and collect everything; the unreachable objects' count, bytes and types."""
    gc.unfreeze()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    kinds = Counter(type(obj).__name__ for obj in found)
    size = sum(sys.getsizeof(obj) for obj in found)
    return len(found), size, kinds


def after_batch(freeze: bool) -> None:
    """What a helper does after each batch (or, without ``freeze``, what it did before)."""
    if freeze:
        keep_survivors()


def cluster_phase(payloads: list[bytes], freeze: bool) -> list[bytes]:
    """Place every article in cluster-helper batches; the assignment commands, in order."""
    prepare = PrepareOptions(max_bytes=1_000_000, default_source="unknown", partition_by="section")
    values = [o.value for o in prepare_batch(payloads, prepare) if isinstance(o, Accepted)]
    work = ClusterWork(ClusterOptions(partition_by="section"))
    commands: list[bytes] = []
    for start in range(0, len(values), CLUSTER_BATCH):
        outcome = work.run(values[start : start + CLUSTER_BATCH], log_entries=[])
        commands += [value for placed in outcome.placed for _, value in placed.commands]
        after_batch(freeze)
    return commands


def summary_phase(commands: list[bytes], live_states: int, freeze: bool) -> int:
    """Apply the commands in summary-helper batches, as the worker feeds the helper."""
    work = SummaryWork(
        SummaryOptions(
            words=120,
            breaking_outlets=3,
            breaking_minutes=30,
            resume_quiet_hours=6,
            live_states=live_states,
        )
    )
    table: dict[str, bytes] = {}
    for start in range(0, len(commands), SUMMARY_BATCH):
        batch = commands[start : start + SUMMARY_BATCH]
        named = {json.loads(c)["story_id"] for c in batch}
        # As the worker does: new stories are given as absent; a story the work let go of
        # comes back as missing, and the batch is run again with its stored state.
        stored: dict[str, bytes | None] = {s: None for s in named if s not in table}
        outcome = work.run(batch, stored)
        if outcome.missing:
            stored.update({s: table[s] for s in outcome.missing})
            outcome = work.run(batch, stored)
        for story_id, story in outcome.stories.items():
            table[story_id] = story.state
        after_batch(freeze)
    return len(table)


def report(stage: str, articles: int, seconds: float, found: tuple[int, int, Counter[str]]) -> None:
    count, size, kinds = found
    per_k = 1000 / articles
    top = ", ".join(f"{name} {n:,}" for name, n in kinds.most_common(4)) or "none"
    print(
        f"| {stage} | {articles:,} | {seconds:.0f} | {count:,} | {count * per_k:,.1f} "
        f"| {size / 1024:,.0f} | {size * per_k / 1024:,.2f} "
        f"| {size * per_k * 300 * 3.6 / 1024 / 1024:,.2f} | {top} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=30_000)
    parser.add_argument("--live-states", type=int, default=5_000, help="summary states kept parsed")
    parser.add_argument(
        "--no-freeze", action="store_true", help="the collector as before keep_survivors"
    )
    args = parser.parse_args()
    freeze = not args.no_freeze

    payloads = [json.dumps(item).encode() for item in live_stream(args.articles)]
    tune_garbage_collector()
    print(f"keep_survivors after each batch: {'yes' if freeze else 'no'}\n")
    print(
        "| stage | articles | s | cyclic garbage frozen (objects) | objects / 1k articles "
        "| KiB | KiB / 1k articles | MiB an hour at 300/s | most common types |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")

    started = time.perf_counter()
    commands = cluster_phase(payloads, freeze)
    report("cluster", args.articles, time.perf_counter() - started, frozen_garbage())
    keep_survivors()

    started = time.perf_counter()
    stories = summary_phase(commands, args.live_states, freeze)
    report("summary", args.articles, time.perf_counter() - started, frozen_garbage())
    print(f"\n{len(commands):,} commands, {stories:,} stories, live states {args.live_states:,}")


if __name__ == "__main__":
    main()
