"""Offline replay with the streaming core: what ``storystream cluster`` and ``summarize`` run.

Both read our Article JSON, one per line, in arrival order, and go through exactly the code the
agents use (:mod:`stream.prepare`, :class:`stream.tracker.StoryTracker`,
:class:`stream.story.StoryState`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from stream.facts import FactPool
from stream.models import MergeEvent, PreparedArticle
from stream.prepare import Rejected, parse_article
from stream.story import StoryState
from stream.summarize import SummaryConfig, choose_headline, novel_facts, select
from stream.tracker import StoryTracker


def read_articles(lines: Iterable[str | bytes]) -> Iterator[PreparedArticle | Rejected]:
    """Parse JSON lines into prepared articles, yielding a :class:`Rejected` for each bad line."""
    for line in lines:
        raw = line.encode() if isinstance(line, str) else line
        if not raw.strip():
            continue
        try:
            yield parse_article(raw.strip())
        except Rejected as rejected:
            yield rejected


PARTITION_KEYS = ("language", "section", "global")


def partition_key(article: PreparedArticle, by: str = "language") -> str:
    """The clustering partition key: stories never span two keys.

    ``language`` (default): copies and stories never cross languages, and each language scales
    to its own worker. ``section``: finer, but a story filed under two sections splits.
    ``global``: one key, one worker, no split at all.
    """
    if by == "global":
        return "all"
    if by == "section":
        return (article.section or "none").lower()
    return article.language or "en"


def cluster_records(
    articles: Iterable[PreparedArticle], partition_by: str = "language"
) -> Iterator[dict[str, Any]]:
    """Replay articles through one tracker per partition key; a record per article, plus merges."""
    trackers: dict[str, StoryTracker] = {}
    for article in articles:
        tracker = trackers.setdefault(partition_key(article, partition_by), StoryTracker())
        placed = tracker.step(article)
        if placed.replay:
            continue  # the same article id again (a producer retry): already reported
        yield placed.as_record()
        if placed.merged_from:
            at = article.event_time
            yield MergeEvent(
                story_id=placed.story_id, merged_from=list(placed.merged_from), at=at
            ).model_dump(mode="json")


def _extend(tracker: StoryTracker, state: StoryState, articles: Iterable[PreparedArticle]) -> None:
    """Add articles to one story's state, marking copies with the dedup core."""
    for article in articles:
        placed = tracker.step(article)
        if not placed.replay:
            state.add(article, placed.dedup.of, placed.dedup.kind)


def _story_of(articles: Iterable[PreparedArticle]) -> StoryState:
    """Build one story's state from its articles."""
    state = StoryState(story_id="offline")
    _extend(StoryTracker(), state, articles)
    return state


def summarize_records(
    articles: list[PreparedArticle],
    *,
    words: int = 100,
    seen: list[PreparedArticle] | None = None,
    config: SummaryConfig | None = None,
) -> dict[str, Any]:
    """Summarise one story's articles; with ``seen``, summarise only what is new to its reader."""
    config = config or SummaryConfig(words=words)
    if seen:
        tracker = StoryTracker()
        old = StoryState(story_id="offline")
        _extend(tracker, old, seen)
        everything = old.model_copy(deep=True)  # the reader's story, then what came since
        _extend(tracker, everything, articles)
        old_texts = {f.text for f in old.pool.facts}
        fresh = [f for f in everything.pool.facts if f.text not in old_texts]
        pool = FactPool(facts=novel_facts(fresh, old.pool.facts))
        # What the reader has read is covered already: the update is worth what it adds.
        known = {c for f in old.pool.facts for c in f.concepts}
        picked = select(pool.facts, config, known=known)
        titles = [a.title for a in articles]
    else:
        state = _story_of(articles)
        picked = select(state.pool.facts, config)
        titles = state.titles
    return {
        "headline": choose_headline(titles, picked),
        "sentences": [
            {"text": f.text, "article_ids": f.article_ids, "sources": f.sources} for f in picked
        ],
        "words": sum(f.word_count for f in picked),
    }


__all__ = [
    "PARTITION_KEYS",
    "cluster_records",
    "partition_key",
    "read_articles",
    "summarize_records",
]
