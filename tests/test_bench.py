"""The benchmark's own shortcuts must read what the service writes."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.e2e import article_ids_of
from stream.models import StoryUpdate, SummarySentence


def test_article_ids_of_reads_the_story_list_not_a_sentence_list() -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    tricky = '"article_ids":["not-an-id"]'  # in every string field a quote is escaped
    update = StoryUpdate(
        story_id="s-1",
        version=3,
        updated_at=now,
        first_seen=now,
        headline=tricky,
        sentences=[SummarySentence(text=tricky, article_ids=["a2"], sources=[tricky])],
        article_ids=["a1", "a2", "a3"],
        sources=[tricky],
        duplicates={"a3": "a1"},
        merged_from=["s-0"],
    )
    assert article_ids_of(update.model_dump_json().encode()) == ["a1", "a2", "a3"]
    # Indented JSON (not pydantic's compact form) is read the slow way, with the same answer.
    assert article_ids_of(update.model_dump_json(indent=1).encode()) == ["a1", "a2", "a3"]
