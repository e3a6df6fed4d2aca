"""Small builders for test articles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stream.models import Article, PreparedArticle
from stream.prepare import prepare

BASE = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


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
