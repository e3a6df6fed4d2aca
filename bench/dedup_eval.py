"""Dedup quality per variant type, and per-article cost as the index grows.

    python bench/dedup_eval.py                       # quality on 300 originals, cost at 10k and 100k
    python bench/dedup_eval.py --sizes 10000,100000,1000000
    python bench/dedup_eval.py --phases 10000,100000,1000000   # where an article's time goes
    python bench/dedup_eval.py --stream 36000        # the e2e stream, wire copies and all
    python bench/dedup_eval.py --copies 300          # one wire story, copied 300 times

Quality: originals come from bench/synth.py; variants are derived programmatically. Copy variants
must be flagged as copies *of their original*; the negatives (another outlet's article on the same
event, possibly quoting the same people verbatim, or sharing a quarter of the wire copy) must stay
unique. Precision counts every article flagged as a copy. ``--sweep`` prints the grid used to pick
the default thresholds.

Cost: the index is pre-filled with N articles on unrelated events, then 1,000 new articles are
classified and added; articles/s and microseconds per article, with the peak memory of the index.
``--phases`` grows one index through the sizes and splits each article's time: deriving its
shingles and MinHash, classifying it (band lookup, candidate screening, alignment), storing it.
``--stream`` runs the e2e benchmark's stream (long-tailed stories, each republishing its wire copy
verbatim or with the outlet's own paragraphs) through one index, evicting as the worker does, and
counts verdicts and the sentence alignments they took. ``--copies`` indexes one wire article and
then that many lightly edited copies of it (5 % of words: none an exact copy), the way a big agency
story spreads.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import random
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synth import article_paragraphs, edit_words, make_event, title  # noqa: E402
from stream import dedup  # noqa: E402
from stream.dedup import DedupConfig, DedupIndex  # noqa: E402
from stream.features import ArticleFeatures, analyse  # noqa: E402
from stream.models import Article, DedupKind  # noqa: E402
from stream.prepare import Rejected, prepare  # noqa: E402
from stream.text import split_sentences  # noqa: E402

NOW = datetime(2026, 11, 20, tzinfo=UTC)
CHROME = "Skip to main content\n\n{}\n\nSign up for our daily newsletter\n\nShare this article"
COPIES = [
    "verbatim_chrome",
    "new_headline",
    "punctuation",
    "reorder",
    "edit10",
    "edit20",
    "edit30",
    "paragraph_dropped",
    "paragraph_added",
]
NEGATIVES = ["same_story", "same_story_quarter_shared"]
BORDERLINE = ["half_shared"]  # like seeds 000/001: documented as unique


def features(ident: str, heading: str, body: list[str] | str, minutes: int = 0) -> ArticleFeatures:
    text = body if isinstance(body, str) else "\n\n".join(body)
    article = Article(
        id=ident,
        source=ident,
        title=heading,
        body=text,
        published_at=NOW - timedelta(hours=12) + timedelta(minutes=minutes),
    )
    return analyse(prepare(article, now=NOW))


def variants(rng: random.Random, paragraphs: list[str], event) -> dict[str, list[str] | str]:
    sentences = [s for p in paragraphs for s in split_sentences(p)]
    rng.shuffle(sentences)
    other = article_paragraphs(rng, event, paragraphs=len(paragraphs))
    quarter = max(1, len(paragraphs) // 4)
    half = max(1, len(paragraphs) // 2)
    drop = rng.randrange(len(paragraphs))
    return {
        "verbatim_chrome": CHROME.format("\n\n".join(paragraphs)),
        "new_headline": paragraphs,
        "punctuation": [
            p.replace(",", "").replace('"', "“", 1).replace(" said", " said,") for p in paragraphs
        ],
        "reorder": [" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)],
        "edit10": edit_words(rng, paragraphs, 0.10),
        "edit20": edit_words(rng, paragraphs, 0.20),
        "edit30": edit_words(rng, paragraphs, 0.30),
        "paragraph_dropped": paragraphs[:drop] + paragraphs[drop + 1 :],
        "paragraph_added": paragraphs
        + article_paragraphs(rng, event, paragraphs=max(2, len(paragraphs) // 2)),
        "same_story": other,
        "same_story_quarter_shared": paragraphs[:quarter] + other[quarter:],
        "half_shared": paragraphs[:half] + other[half:],
    }


def quality(originals: int, config: DedupConfig, seed: int = 7) -> dict[str, tuple[int, int]]:
    rng = random.Random(seed)
    outcome: dict[str, list[bool]] = defaultdict(list)
    flagged_right = flagged = 0
    for i in range(originals):
        event = make_event(rng)
        paragraphs = article_paragraphs(rng, event)
        index = DedupIndex(config)
        index.observe(features(f"o{i}", title(rng, event), paragraphs))
        for kind, body in variants(rng, paragraphs, event).items():
            verdict = index.classify(features(f"{kind}{i}", title(rng, event), body, minutes=5))
            is_copy = verdict.kind is not DedupKind.UNIQUE
            if kind in NEGATIVES or kind in BORDERLINE:
                outcome[kind].append(not is_copy)
            else:
                outcome[kind].append(is_copy and verdict.of == f"o{i}")
            if is_copy and kind not in BORDERLINE:
                flagged += 1
                flagged_right += kind in COPIES and verdict.of == f"o{i}"
    result = {k: (sum(v), len(v)) for k, v in outcome.items()}
    result["_precision"] = (flagged_right, flagged)
    return result


def summary(result: dict[str, tuple[int, int]]) -> tuple[float, float]:
    ok = sum(result[k][0] for k in COPIES)
    total = sum(result[k][1] for k in COPIES)
    right, flagged = result["_precision"]
    return right / max(1, flagged), ok / total


def speed(
    sizes: list[int], probes: int = 1000, seed: int = 11
) -> list[tuple[int, float, float, float]]:
    rng = random.Random(seed)
    probe_features = [
        features(f"p{i}", "Probe", article_paragraphs(rng, make_event(rng))) for i in range(probes)
    ]
    rows = []
    for size in sizes:
        index = DedupIndex()
        for made in range(size):  # unrelated background articles, added without timing
            index.add(background(rng, f"b{made}"))
        started = time.perf_counter()
        for f in probe_features:
            index.observe(f)
        elapsed = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append((size, probes / elapsed, elapsed / probes * 1e6, peak_mb))
    return rows


def background(rng: random.Random, name: str) -> ArticleFeatures:
    """An article on an event of its own (retried until the generator yields a valid one)."""
    while True:
        try:
            return features(
                name, "Background", article_paragraphs(rng, make_event(rng), paragraphs=4)
            )
        except Rejected:
            continue


def phases(sizes: list[int], probes: int = 2000, seed: int = 11) -> None:
    """Microseconds per article in each dedup phase, as one index grows through ``sizes``."""
    rng = random.Random(seed)
    index = DedupIndex()
    print(
        "| articles indexed | derive µs | classify µs | store µs | total µs |\n| --- | --- | --- | --- | --- |"
    )
    for size in sizes:
        while len(index) < size:
            index.add(background(rng, f"b{len(index)}"))
        batch = [
            features(f"p{size}-{i}", "Probe", article_paragraphs(rng, make_event(rng)))
            for i in range(probes)
        ]
        spent = [0.0, 0.0, 0.0]
        for f in batch:
            started = time.perf_counter()
            incoming = index._incoming(f)
            derived = time.perf_counter()
            index._classify(incoming)
            classified = time.perf_counter()
            index._add(incoming)
            stored = time.perf_counter()
            spent[0] += derived - started
            spent[1] += classified - derived
            spent[2] += stored - classified
        micros = [1e6 * x / probes for x in spent]
        print(
            f"| {size:,} | {micros[0]:.0f} | {micros[1]:.0f} | {micros[2]:.0f} | {sum(micros):.0f} |",
            flush=True,
        )


@contextlib.contextmanager
def counting_alignments() -> Iterator[list[int]]:
    """Count the sentence alignments dedup makes inside the block (in the list's one item)."""
    aligned = [0]
    align = dedup.Alignment.__init__

    def counted(self: dedup.Alignment, *args: Any) -> None:
        aligned[0] += 1
        align(self, *args)

    dedup.Alignment.__init__ = counted  # type: ignore[method-assign]
    try:
        yield aligned
    finally:
        dedup.Alignment.__init__ = align  # type: ignore[method-assign]


def stream(count: int) -> None:
    """Verdicts, alignments and µs per article on the e2e stream (see the module docstring)."""
    from bench.e2e import live_stream, preload_stream

    articles = [
        prepare(Article.model_validate(item), now=NOW + timedelta(days=400))
        for item in [*preload_stream(1000), *live_stream(count)]
    ]
    by_id = {a.id: a for a in articles}
    batch = [analyse(a) for a in articles]
    index = DedupIndex()
    kinds: dict[str, int] = defaultdict(int)
    with_additions = 0  # copies flagged duplicate though they add sentences to their original
    with counting_alignments() as aligned:
        started = time.perf_counter()
        for n, f in enumerate(batch):
            verdict = index.observe(f)
            kinds[verdict.kind.value] += 1
            if verdict.kind is DedupKind.DUPLICATE and verdict.of:
                added = len(by_id[f.article_id].sentences) > len(by_id[verdict.of].sentences)
                with_additions += added
            if n % 500 == 0:
                index.evict(f.time)
        elapsed = time.perf_counter() - started
    print(
        "| articles | unique | duplicate_of | syndicated_from | duplicates with added sentences "
        "| alignments an article | µs/article |\n| --- | --- | --- | --- | --- | --- | --- |"
    )
    print(
        f"| {len(batch):,} | {kinds['unique']:,} | {kinds['duplicate_of']:,} | "
        f"{kinds['syndicated_from']:,} | {with_additions} | {aligned[0] / len(batch):.2f} | "
        f"{1e6 * elapsed / len(batch):.0f} |"
    )


def copies(count: int, seed: int = 3) -> None:
    """Alignments and ms per copy as one wire article is copied ``count`` times."""
    rng = random.Random(seed)
    wire = article_paragraphs(rng, make_event(rng))
    index = DedupIndex()
    index.observe(features("wire", "Wire", wire))
    batch = [
        features(f"c{i}", "Copy", edit_words(rng, wire, 0.05), minutes=i % 600)
        for i in range(count)
    ]
    with counting_alignments() as aligned:
        started = time.perf_counter()
        flagged = sum(index.observe(f).of == "wire" for f in batch)
        elapsed = time.perf_counter() - started
    print(
        "| copies | flagged as copies of the wire | alignments a copy | ms a copy |\n"
        "| --- | --- | --- | --- |"
    )
    print(f"| {count} | {flagged} | {aligned[0] / count:.1f} | {1e3 * elapsed / count:.2f} |")


def sweep(originals: int) -> None:
    print(
        "| dup | dup match | syndicated | precision | recall | edit30 | negatives unique | half_shared unique |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for dup, match, syn in itertools.product(
        [0.65, 0.7, 0.75, 0.8], [0.25, 0.3, 0.35], [0.7, 0.75, 0.8]
    ):
        result = quality(originals, DedupConfig(dup=dup, dup_sentence_match=match, syndicated=syn))
        p, r = summary(result)
        ss = result["same_story"][0] + result["same_story_quarter_shared"][0]
        print(
            f"| {dup} | {match} | {syn} | {p:.4f} | {r:.4f} | {result['edit30'][0]}/{originals} | "
            f"{ss}/{2 * originals} | {result['half_shared'][0]}/{originals} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--originals", type=int, default=300)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--phases", default="", help="sizes for the per-phase split")
    parser.add_argument("--stream", type=int, default=0, help="articles of the e2e stream")
    parser.add_argument("--copies", type=int, default=0, help="copies of one wire article")
    args = parser.parse_args()
    if args.copies:
        copies(args.copies)
        return
    if args.stream:
        stream(args.stream)
        return
    if args.phases:
        phases([int(s) for s in args.phases.split(",")])
        return
    if args.sweep:
        sweep(args.originals)
        return
    result = quality(args.originals, DedupConfig())
    print("| variant | expected | correct | rate |\n| --- | --- | --- | --- |")
    for kind in [*COPIES, *NEGATIVES, *BORDERLINE]:
        ok, total = result[kind]
        expected = "unique" if kind in NEGATIVES or kind in BORDERLINE else "copy of the original"
        print(f"| {kind} | {expected} | {ok}/{total} | {ok / total:.3f} |")
    precision, recall = summary(result)
    print(f"| **copies: recall** | | | **{recall:.4f}** |")
    print(f"| **precision** | | | **{precision:.4f}** |")
    print(
        "\n| articles indexed | articles/s | µs/article | peak RSS MB |\n| --- | --- | --- | --- |"
    )
    for size, rate, micros, peak in speed([int(s) for s in args.sizes.split(",")]):
        print(f"| {size:,} | {rate:,.0f} | {micros:,.0f} | {peak:,.0f} |")


if __name__ == "__main__":
    main()
