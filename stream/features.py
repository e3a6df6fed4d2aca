"""Everything the core computes from an article's text, computed once.

Dedup, clustering and summarisation all look at the same words; tokenising per stage would triple
the hot-path cost (issue 8), so :func:`analyse` is the single place an article is tokenised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain

from stream.models import PreparedArticle
from stream.text import content_hash, entities, sentence_words, terms

LEAD_SENTENCES = 3
"""How many opening sentences count as the lead (the inverted pyramid puts the event there)."""


@dataclass(frozen=True, slots=True)
class ArticleFeatures:
    """An article reduced to what the core compares."""

    article_id: str
    source: str
    time: datetime
    title_terms: tuple[str, ...]
    sentence_terms: tuple[tuple[str, ...], ...]
    entities: tuple[str, ...]
    body_words: tuple[str, ...] = field(repr=False)
    content_hash: str = ""

    @property
    def lead_terms(self) -> tuple[str, ...]:
        """Terms of the lead sentences."""
        return tuple(t for s in self.sentence_terms[:LEAD_SENTENCES] for t in s)

    @property
    def rest_terms(self) -> tuple[str, ...]:
        """Terms of the body after the lead."""
        return tuple(t for s in self.sentence_terms[LEAD_SENTENCES:] for t in s)


def analyse(article: PreparedArticle) -> ArticleFeatures:
    """Tokenise an article once for every later stage."""
    body_words = tuple(chain.from_iterable(map(sentence_words, article.sentences)))
    return ArticleFeatures(
        article_id=article.id,
        source=article.source,
        time=article.event_time,
        title_terms=tuple(terms(article.title)),
        sentence_terms=tuple(tuple(terms(s)) for s in article.sentences),
        entities=tuple(entities([article.title, *article.sentences])),
        body_words=body_words,
        content_hash=content_hash(body_words),
    )
