"""Small builders for test articles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from stream.models import Article, PreparedArticle
from stream.prepare import prepare

BASE = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_feed.jsonl"
"""The sample feed the project ships (``make demo`` replays it)."""
ARTICLES_IN_SAMPLE = 14


def article(
    ident: str, body: str, *, source: str = "Outlet", title: str = "", hours: float = 0
) -> PreparedArticle:
    return prepare(
        Article(
            id=ident,
            source=source,
            title=title,
            body=body,
            published_at=BASE + timedelta(hours=hours),
        ),
        now=BASE + timedelta(days=30),
    )
