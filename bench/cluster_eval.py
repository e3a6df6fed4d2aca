"""Clustering quality (pairwise and B-cubed P/R/F1) against a TF-IDF-centroid baseline, and
throughput with many stories in state.

    python bench/cluster_eval.py                         # quality + throughput at 1k/10k stories
    python bench/cluster_eval.py --sizes 1000,10000,100000
    python bench/cluster_eval.py --sweep                 # the grid the defaults were chosen from

Thresholds are tuned on one stream (seed 1) and reported on another (seed 2), so the reported
figures are not fitted to the stream they are measured on. The baseline gets the same treatment.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.streams import Labelled, make_stream  # noqa: E402
from bench.synth import article_paragraphs, make_event, title  # noqa: E402
from stream.cluster import ClusterConfig, _cosine  # noqa: E402
from stream.features import ArticleFeatures, analyse  # noqa: E402
from stream.models import Article, PreparedArticle  # noqa: E402
from stream.prepare import Rejected, prepare  # noqa: E402
from stream.tracker import StoryTracker  # noqa: E402


def prepared(items: Iterable[Labelled]) -> list[tuple[PreparedArticle, str]]:
    out = []
    for item in items:
        article = Article.model_validate(item.article)
        try:
            out.append((prepare(article, now=article.published_at), item.event_id))
        except Rejected:
            continue  # a generated text the cleaner rejects (e.g. all paragraphs too short)
    return out


def scores(predicted: list[str], gold: list[str]) -> dict[str, float]:
    """Pairwise ("standard") and B-cubed precision, recall and F1."""

    def pairs(counter: Counter[object]) -> int:
        return sum(n * (n - 1) // 2 for n in counter.values())

    both = Counter(zip(predicted, gold, strict=True))
    pred_sizes, gold_sizes = Counter(predicted), Counter(gold)
    tp = pairs(both)
    p = tp / max(1, pairs(pred_sizes))
    r = tp / max(1, pairs(gold_sizes))
    bp = sum(both[(s, g)] / pred_sizes[s] for s, g in zip(predicted, gold, strict=True)) / len(gold)
    br = sum(both[(s, g)] / gold_sizes[g] for s, g in zip(predicted, gold, strict=True)) / len(gold)

    def f1(a: float, b: float) -> float:
        return 2 * a * b / (a + b) if a + b else 0.0

    return {"P": p, "R": r, "F1": f1(p, r), "B3P": bp, "B3R": br, "B3F1": f1(bp, br)}


def run_ours(stream: list[tuple[PreparedArticle, str]], config: ClusterConfig) -> list[str]:
    tracker = StoryTracker(cluster_config=config)
    ids = [tracker.step(article).story_id for article, _ in stream]
    # Stories merged later count as one: score the final assignment, as a consumer would see it.
    return [tracker.resolve(i) for i in ids]


class CentroidBaseline:
    """Plain TF-IDF centroid clustering: one bag of words, cosine to every story, one threshold."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.df: Counter[str] = Counter()
        self.docs = 0
        self.stories: list[Counter[str]] = []

    def _vector(self, counts: Counter[str]) -> dict[str, float]:
        return {t: c * math.log((self.docs + 1) / (self.df[t] + 1)) + c for t, c in counts.items()}

    def place(self, features: ArticleFeatures) -> int:
        counts = Counter(t for s in features.sentence_terms for t in s) + Counter(
            features.title_terms
        )
        self.docs += 1
        self.df.update(counts.keys())
        vec = self._vector(counts)
        best, best_score = -1, self.threshold
        for index, story in enumerate(self.stories):  # brute force: every story
            score = _cosine(vec, self._vector(story))
            if score >= best_score:
                best, best_score = index, score
        if best < 0:
            self.stories.append(Counter())
            best = len(self.stories) - 1
        self.stories[best].update(counts)
        return best


def run_baseline(stream: list[tuple[PreparedArticle, str]], threshold: float) -> list[str]:
    baseline = CentroidBaseline(threshold)
    return [str(baseline.place(analyse(article))) for article, _ in stream]


def tune_baseline(stream: list[tuple[PreparedArticle, str]]) -> float:
    gold = [g for _, g in stream]
    return max(
        (scores(run_baseline(stream, t), gold)["B3F1"], t) for t in (0.1, 0.15, 0.2, 0.3, 0.4)
    )[1]


def sweep(stream: list[tuple[PreparedArticle, str]]) -> None:
    gold = [g for _, g in stream]
    print(
        "| threshold | entity weight | half-life (days) | P | R | F1 | B3 F1 |\n| --- | --- | --- | --- | --- | --- | --- |"
    )
    base = ClusterConfig()
    from datetime import timedelta

    for th, ew, hl in itertools.product([0.15, 0.2, 0.25, 0.3], [0.2, 0.35, 0.5], [1.0, 2.5, 5.0]):
        config = replace(base, threshold=th, entity_weight=ew, half_life=timedelta(days=hl))
        s = scores(run_ours(stream, config), gold)
        print(
            f"| {th} | {ew} | {hl} | {s['P']:.3f} | {s['R']:.3f} | {s['F1']:.3f} | {s['B3F1']:.3f} |"
        )


def ablation(topics: int) -> None:
    """Each piece of the method removed in turn, on the three test streams."""
    from datetime import timedelta

    base = ClusterConfig()
    variants = {
        "full method": base,
        "no name overlap (entity weight 0)": replace(base, entity_weight=0.0),
        "no time decay (half-life 10 years)": replace(base, half_life=timedelta(days=3650)),
        "no field weights (title = lead = body)": replace(base, title_weight=1, lead_weight=1),
        "no merges": replace(base, merge_threshold=2.0),
    }
    streams = [prepared(make_stream(seed=seed, topics=topics)) for seed in (2, 3, 4)]
    print("| variant | P | R | F1 | B3 F1 |\n| --- | --- | --- | --- | --- |")
    for name, config in variants.items():
        rows = [scores(run_ours(stream, config), [g for _, g in stream]) for stream in streams]
        mean = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
        print(
            f"| {name} | {mean['P']:.3f} | {mean['R']:.3f} | {mean['F1']:.3f} | {mean['B3F1']:.3f} |"
        )


def throughput(
    sizes: list[int], probes: int = 2000, seed: int = 5
) -> list[tuple[int, float, float]]:
    """Articles/s of the offline replay step (dedup + clustering) with N stories in state."""
    rng = random.Random(seed)
    from bench.streams import START

    def article(i: int, hours: float) -> PreparedArticle:
        event = make_event(rng)
        return prepare(
            Article(
                id=f"x{i}",
                source="S",
                title=title(rng, event),
                body="\n\n".join(article_paragraphs(rng, event)),
                published_at=START,
            ),
            now=START.replace(year=2027),
        )

    def some(count: int, offset: int) -> list[PreparedArticle]:
        made: list[PreparedArticle] = []
        while len(made) < count:
            try:
                made.append(article(offset + len(made), 0))
            except Rejected:
                continue
        return made

    pool = some(probes, 10_000_000)
    filler = some(max(sizes), 0)  # each its own event: one new story per article
    rows = []
    for size in sizes:
        tracker = StoryTracker()
        for article in filler[:size]:
            tracker.step(article)
        stories = len(tracker.clusterer.stories)
        started = time.perf_counter()
        for a in pool:
            tracker.step(a)
        elapsed = time.perf_counter() - started
        rows.append((stories, probes / elapsed, elapsed / probes * 1000))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--topics", type=int, default=60)
    parser.add_argument("--ablation", action="store_true")
    args = parser.parse_args()
    if args.ablation:
        ablation(args.topics)
        return
    tune = prepared(make_stream(seed=1, topics=args.topics))
    if args.sweep:
        sweep(tune)
        return
    threshold = tune_baseline(tune)
    runs: dict[str, list[dict[str, float]]] = defaultdict(list)
    for seed in (2, 3, 4):
        test = prepared(make_stream(seed=seed, topics=args.topics))
        gold = [g for _, g in test]
        events = Counter(gold)
        print(
            f"test stream {seed}: {len(test)} articles, {len(events)} events, largest "
            f"{max(events.values())}, {sum(1 for n in events.values() if n == 1)} singletons"
        )
        runs["storystream"].append(scores(run_ours(test, ClusterConfig()), gold))
        runs[f"TF-IDF centroid baseline (threshold {threshold})"].append(
            scores(run_baseline(test, threshold), gold)
        )
    rows = {name: {k: sum(r[k] for r in rs) / len(rs) for k in rs[0]} for name, rs in runs.items()}
    print("\nmean of the three test streams:")
    print(
        "\n| system | P | R | F1 | B3 P | B3 R | B3 F1 |\n| --- | --- | --- | --- | --- | --- | --- |"
    )
    for name, s in rows.items():
        print(
            f"| {name} | {s['P']:.3f} | {s['R']:.3f} | {s['F1']:.3f} | {s['B3P']:.3f} | {s['B3R']:.3f} | {s['B3F1']:.3f} |"
        )
    print("\n| stories in state | articles/s | ms/article |\n| --- | --- | --- |")
    for stories, rate, ms in throughput([int(s) for s in args.sizes.split(",")]):
        print(f"| {stories:,} | {rate:,.0f} | {ms:.2f} |")


if __name__ == "__main__":
    main()
