"""Summary quality, update speed and stability.

    python bench/summary_eval.py                 # quality, speed at 10/100/500 articles, stability
    python bench/summary_eval.py --sweep         # the grid the default weights were chosen from
    python bench/summary_eval.py --naive-max 100 # skip the (minutes-long) naive run at 500

Quality: the stories of data/sample_feed.jsonl against reference summaries and fact nuggets we
wrote (bench/summary_refs.json), and the seed story (../shared/seeds, when present) against its
nuggets; ROUGE-1/2 F1 (rouge-score, stemmed) and nugget coverage; plain sumy LexRank and TextRank
over every sentence of the story, under the same 100-word budget, as baselines.
Speed: one story grows to 500 articles; each update is add + render of a StoryState (what the
summary agent does); the naive update runs sumy LexRank over every sentence of the story.
Stability: after each real article of a story, an article that repeats known facts arrives;
we count summary sentences that change (target: none).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rouge_score import rouge_scorer  # noqa: E402

from bench.synth import article_paragraphs, make_event, title  # noqa: E402
from stream.models import Article, PreparedArticle  # noqa: E402
from stream.offline import read_articles, summarize_records  # noqa: E402
from stream.prepare import Rejected, prepare  # noqa: E402
from stream.story import StoryState  # noqa: E402
from stream.summarize import SummaryConfig  # noqa: E402
from stream.sumy_scoring import sumy_scores  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REFS = json.loads((ROOT / "bench" / "summary_refs.json").read_text())
SEEDS = ROOT.parent / "shared" / "seeds"
ROUGE = rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=True)


def sample_articles() -> dict[str, PreparedArticle]:
    lines = (ROOT / "data" / "sample_feed.jsonl").read_bytes().splitlines()
    return {a.id: a for a in read_articles(lines) if not isinstance(a, Rejected)}


def seed_articles() -> list[PreparedArticle]:
    if not SEEDS.is_dir():
        return []
    from agents.feeds import feed_messages

    return [
        a
        for a in read_articles([v for _, v in feed_messages(str(SEEDS))])
        if not isinstance(a, Rejected)
    ]


def baseline(articles: list[PreparedArticle], scorer: str, words: int = 100) -> list[str]:
    """Plain sumy over every sentence of the story, best first, under the word budget."""
    sentences = list(dict.fromkeys(s for a in articles for s in a.sentences))
    ranked = sorted(
        zip(sumy_scores(sentences, scorer), range(len(sentences)), strict=True), reverse=True
    )
    picked: list[int] = []
    used = 0
    for _, i in ranked:
        n = len(sentences[i].split())
        if used + n <= words or not picked:
            picked.append(i)
            used += n
    return [sentences[i] for i in sorted(picked)]


def nuggets(texts: list[str], patterns: dict[str, list[str]]) -> int:
    lowered = [t.lower() for t in texts]
    return sum(any(re.search(p, t) for p in alts for t in lowered) for alts in patterns.values())


def rouge(texts: list[str], reference: str) -> tuple[float, float]:
    result = ROUGE.score(reference, " ".join(texts))
    return result["rouge1"].fmeasure, result["rouge2"].fmeasure


def quality(config: SummaryConfig) -> dict[str, dict[str, float]]:
    articles = sample_articles()
    systems: dict[str, dict[str, list[float]]] = {}

    def record(system: str, key: str, value: float) -> None:
        systems.setdefault(system, {}).setdefault(key, []).append(value)

    for story in REFS["stories"].values():
        members = [articles[i] for i in story["articles"]]
        outputs = {
            "storystream": [
                s["text"] for s in summarize_records(members, config=config)["sentences"]
            ],
            "sumy LexRank": baseline(members, "sumy-lexrank"),
            "sumy TextRank": baseline(members, "textrank"),
        }
        for system, texts in outputs.items():
            r1, r2 = rouge(texts, story["reference"])
            record(system, "R1", r1)
            record(system, "R2", r2)
            record(system, "nuggets", nuggets(texts, story["nuggets"]) / len(story["nuggets"]))
            record(system, "repeats", len(texts) - len(set(texts)))
    seeds = seed_articles()
    if seeds:
        patterns = json.loads((SEEDS / "expectations.json").read_text())["nuggets"]
        outputs = {
            "storystream": [
                s["text"] for s in summarize_records(seeds, config=config)["sentences"]
            ],
            "sumy LexRank": baseline(seeds, "sumy-lexrank"),
            "sumy TextRank": baseline(seeds, "textrank"),
        }
        for system, texts in outputs.items():
            record(system, "seed nuggets", nuggets(texts, patterns))
            r1, r2 = rouge(texts, REFS["seed"]["reference"])
            record(system, "seed R1", r1)
            record(system, "seed R2", r2)
    # Update summaries: a reader has read ``seen``; the baseline is sumy over the new articles.
    update = REFS["update"]
    cases = [
        (
            [articles[i] for i in update["seen"]],
            [articles[i] for i in update["new"]],
            update["reference"],
            update["nuggets"],
        )
    ]
    if seeds:  # the seed story split by file order: the first articles read, the rest new
        split = REFS["seed"]["update_seen"]
        cases.append((seeds[:split], seeds[split:], REFS["seed"]["update_reference"], None))
    for seen, new, reference, patterns_ in cases:
        prefix = "update" if patterns_ is not None else "seed update"
        outputs = {
            "storystream": [
                s["text"] for s in summarize_records(new, seen=seen, config=config)["sentences"]
            ],
            "sumy LexRank": baseline(new, "sumy-lexrank"),
            "sumy TextRank": baseline(new, "textrank"),
        }
        for system, texts in outputs.items():
            r1, r2 = rouge(texts, reference)
            record(system, f"{prefix} R1", r1)
            record(system, f"{prefix} R2", r2)
            if patterns_ is not None:
                record(system, f"{prefix} nuggets", nuggets(texts, patterns_) / len(patterns_))
    return {s: {k: statistics.mean(v) for k, v in m.items()} for s, m in systems.items()}


def grown_story(size: int, seed: int = 3) -> list[PreparedArticle]:
    rng = random.Random(seed)
    event = make_event(rng)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    out: list[PreparedArticle] = []
    while len(out) < size:
        article = Article(
            id=f"g{len(out)}",
            source=f"Outlet {rng.randrange(30)}",
            title=title(rng, event),
            body="\n\n".join(article_paragraphs(rng, event)),
            published_at=start + timedelta(minutes=len(out)),
        )
        try:
            out.append(prepare(article, now=start + timedelta(days=30)))
        except Rejected:
            continue
    return out


def speed(
    sizes: list[int], naive_max: int, config: SummaryConfig
) -> list[tuple[int, float, float, float | None]]:
    story = grown_story(max(sizes))
    state = StoryState(story_id="s")
    times: dict[int, list[float]] = {}
    for n, article in enumerate(story, start=1):
        started = time.perf_counter()
        state.add(article)
        state.render(article.event_time, config)
        elapsed = time.perf_counter() - started
        for size in sizes:
            if size - 10 < n <= size:
                times.setdefault(size, []).append(elapsed)
    rows = []
    for size in sizes:
        samples = sorted(times[size])
        p95 = samples[max(0, int(round(0.95 * len(samples))) - 1)]
        naive = None
        if size <= naive_max:
            started = time.perf_counter()
            baseline(story[:size], "sumy-lexrank")
            naive = time.perf_counter() - started
        rows.append(
            (size, statistics.median(samples) * 1000, p95 * 1000, naive * 1000 if naive else None)
        )
    return rows


def stability(config: SummaryConfig) -> tuple[int, int]:
    """(summary sentences changed by articles that bring nothing new, such articles sent)."""
    articles = sample_articles()
    changed = sent = 0
    for story in REFS["stories"].values():
        state = StoryState(story_id="s")
        for index, article_id in enumerate(story["articles"]):
            article = articles[article_id]
            state.add(article)
            state.render(article.event_time, config)
            before = list(state.selected)
            echo = article.model_copy(
                update={
                    "id": f"echo-{index}",
                    "source": f"Echo outlet {index}",
                    "sentences": list(reversed(article.sentences)),
                }
            )
            state.add(echo)
            state.render(article.event_time, config)
            changed += len(set(before) ^ set(state.selected))
            sent += 1
    return changed, sent


def sweep() -> None:
    """The grid around the defaults; the defaults sit inside a block of equal results, not on a peak."""
    print(
        "| support | lead | concept | length | reference words | R1 | R2 | nuggets | seed R1 | seed R2 | seed nuggets |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    base = SummaryConfig()
    for support, lead, concept, length, reference in itertools.product(
        [0.3, 1.0, 1.3], [0.25, 0.35, 1.0], [2.0, 4.0, 5.0], [0.5, 0.75, 0.85], [15, 18, 21]
    ):
        config = replace(
            base,
            support_weight=support,
            lead_weight=lead,
            concept_weight=concept,
            length_penalty=length,
            reference_words=reference,
        )
        q = quality(config)["storystream"]
        print(
            f"| {support} | {lead} | {concept} | {length} | {reference} | {q['R1']:.3f} | {q['R2']:.3f} | "
            f"{q['nuggets']:.3f} | {q.get('seed R1', 0):.3f} | {q.get('seed R2', 0):.3f} | "
            f"{q.get('seed nuggets', 0):.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--naive-max", type=int, default=500)
    args = parser.parse_args()
    if args.sweep:
        sweep()
        return
    config = SummaryConfig()
    results = quality(config)
    print(
        "| system | ROUGE-1 F | ROUGE-2 F | nuggets (sample) | seed ROUGE-1 | seed ROUGE-2 | seed nuggets (of 8) "
        "| repeated sentences |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    nan = float("nan")
    for system, m in results.items():
        print(
            f"| {system} | {m['R1']:.3f} | {m['R2']:.3f} | {m['nuggets']:.2f} | {m.get('seed R1', nan):.3f} | "
            f"{m.get('seed R2', nan):.3f} | {m.get('seed nuggets', nan):.0f} | {m['repeats']:.0f} |"
        )
    print(
        "\n| update summary (--seen) | sample ROUGE-1 | sample ROUGE-2 | sample nuggets | seed ROUGE-1 | seed ROUGE-2 |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for system, m in results.items():
        print(
            f"| {system} | {m['update R1']:.3f} | {m['update R2']:.3f} | {m['update nuggets']:.2f} | "
            f"{m.get('seed update R1', nan):.3f} | {m.get('seed update R2', nan):.3f} |"
        )
    print(
        "\n| articles in story | update p50 ms | update p95 ms | naive LexRank ms | speed-up (naive / p95) |"
    )
    print("| --- | --- | --- | --- | --- |")
    for size, p50, p95, naive in speed([10, 100, 500], args.naive_max, config):
        ratio = f"{naive / p95:.0f}x" if naive else "not run"
        naive_text = f"{naive:,.0f}" if naive else "not run"
        print(f"| {size} | {p50:.1f} | {p95:.1f} | {naive_text} | {ratio} |")
    changed, sent = stability(config)
    print(
        f"\nstability: {changed} summary sentences changed over {sent} articles that added nothing new"
    )


if __name__ == "__main__":
    main()
