"""Dedup quality per variant type, and per-article cost as the index grows.

    python bench/dedup_eval.py [--originals 300] [--sizes 10000,100000]

Quality: originals are synthetic (bench/synth.py); variants are derived programmatically. Copy
variants must be flagged as copies of their original; "same_story" rewrites (same names and
numbers, different wording) must stay unique. Precision counts every flagged article.
Speed: the index is pre-filled with N synthetic articles, then 1,000 probes are classified+added.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synth import article_text, edit_words, make_event  # noqa: E402
from stream.dedup import DedupConfig, DedupIndex  # noqa: E402
from stream.features import analyse  # noqa: E402
from stream.models import Article, DedupKind  # noqa: E402
from stream.prepare import prepare  # noqa: E402

NOW = datetime(2026, 11, 20, tzinfo=UTC)
CHROME = "Skip to main content\n\n{}\n\nSign up for our daily newsletter\n\nShare this article"
COPY_VARIANTS = ["verbatim_chrome", "headline", "punctuation", "reorder", "edit10", "edit20", "edit30",
                 "paragraph_dropped", "paragraph_added"]


def _features(ident: str, title: str, paragraphs: list[str] | str, minutes: int = 0):
    body = paragraphs if isinstance(paragraphs, str) else "\n\n".join(paragraphs)
    article = Article(id=ident, source="x", title=title, body=body,
                      published_at=NOW - timedelta(hours=12) + timedelta(minutes=minutes))
    return analyse(prepare(article, now=NOW))


def variants(rng: random.Random, paragraphs: list[str], event) -> dict[str, list[str] | str]:
    sentences = [s for p in paragraphs for s in p.split(". ")]
    shuffled = sentences[:]
    rng.shuffle(shuffled)
    return {
        "verbatim_chrome": CHROME.format("\n\n".join(paragraphs)),
        "headline": paragraphs,
        "punctuation": [p.replace(",", "").replace(" said", " said,") for p in paragraphs],
        "reorder": [". ".join(shuffled[i:i + 3]) for i in range(0, len(shuffled), 3)],
        "edit10": edit_words(rng, paragraphs, 0.10),
        "edit20": edit_words(rng, paragraphs, 0.20),
        "edit30": edit_words(rng, paragraphs, 0.30),
        "paragraph_dropped": paragraphs[:2] + paragraphs[3:],
        "paragraph_added": paragraphs + article_text(rng, make_event(rng), 2),
        "same_story": article_text(rng, event),
    }


def quality(originals: int, config: DedupConfig, seed: int = 7) -> dict[str, tuple[int, int]]:
    rng = random.Random(seed)
    outcome: dict[str, list[bool]] = defaultdict(list)
    flagged_right = flagged = 0
    for i in range(originals):
        index = DedupIndex(config)  # one event per index: variants only meet their original
        event = make_event(rng)
        paragraphs = article_text(rng, event)
        index.observe(_features(f"o{i}", "Original headline here", paragraphs))
        for kind, text in variants(rng, paragraphs, event).items():
            verdict = index.classify(_features(f"{kind}{i}", f"{kind} title", text, minutes=5))
            is_copy = verdict.kind is not DedupKind.UNIQUE
            if kind == "same_story":
                outcome[kind].append(not is_copy)
            else:
                outcome[kind].append(is_copy and verdict.of == f"o{i}")
            if is_copy:
                flagged += 1
                flagged_right += kind != "same_story" and verdict.of == f"o{i}"
    result = {k: (sum(v), len(v)) for k, v in outcome.items()}
    result["_precision"] = (flagged_right, flagged)
    return result


def speed(sizes: list[int], probes: int = 1000, seed: int = 11) -> list[tuple[int, float, float]]:
    rng = random.Random(seed)
    rows = []
    pool = [_features(f"p{i}", "Probe", article_text(rng, make_event(rng), 4)) for i in range(probes)]
    background = [_features(f"b{i}", "Background", article_text(rng, make_event(rng), 4)) for i in range(2000)]
    for size in sizes:
        index = DedupIndex()
        for i in range(size):
            f = background[i % len(background)]
            index.add(f.__class__(**{**{s: getattr(f, s) for s in f.__slots__}, "article_id": f"b{i}",
                                    "content_hash": f"{f.content_hash}{i}"}))
        started = time.perf_counter()
        for f in pool:
            index.observe(f)
        elapsed = time.perf_counter() - started
        rows.append((size, probes / elapsed, elapsed / probes * 1000))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--originals", type=int, default=300)
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    result = quality(args.originals, DedupConfig())
    print("| variant | expected | correct | rate |\n| --- | --- | --- | --- |")
    copies = [0, 0]
    for kind in [*COPY_VARIANTS, "same_story"]:
        ok, total = result[kind]
        expected = "unique" if kind == "same_story" else "copy of original"
        print(f"| {kind} | {expected} | {ok}/{total} | {ok / total:.3f} |")
        if kind != "same_story":
            copies[0] += ok
            copies[1] += total
    right, flagged = result["_precision"]
    print(f"| **all copies (recall)** | | {copies[0]}/{copies[1]} | {copies[0] / copies[1]:.4f} |")
    print(f"| **precision** | | {right}/{flagged} | {right / max(1, flagged):.4f} |")
    print("\n| articles indexed | articles/s | ms/article |\n| --- | --- | --- |")
    for size, rate, ms in speed([int(s) for s in args.sizes.split(",")]):
        print(f"| {size:,} | {rate:,.0f} | {ms:.2f} |")


if __name__ == "__main__":
    main()
