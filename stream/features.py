"""Everything the core computes from an article's text, computed once.

Dedup, clustering and summarisation all look at the same words; tokenising per stage would triple
the hot-path cost (issue 8), so :func:`analyse` is the single place an article is tokenised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain

from stream.models import ArticleTokens, PreparedArticle
from stream.text import (
    content_hash,
    encode_stems,
    entities,
    remember_stems,
    sentence_words,
    terms,
)

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
    word_count: int = field(default=0, repr=False)
    content_hash: str = ""

    @property
    def lead_terms(self) -> tuple[str, ...]:
        """Terms of the lead sentences."""
        return tuple(t for s in self.sentence_terms[:LEAD_SENTENCES] for t in s)

    @property
    def rest_terms(self) -> tuple[str, ...]:
        """Terms of the body after the lead."""
        return tuple(t for s in self.sentence_terms[LEAD_SENTENCES:] for t in s)


def tokenise(article: PreparedArticle) -> ArticleTokens:
    """The tokens :func:`analyse` needs, in the form a message carries them."""
    names, word_count, hashed = _whole_article(article)
    return ArticleTokens(
        title=encode_stems(article.title),
        sentences=[encode_stems(s) for s in article.sentences],
        entities=names,
        words=word_count,
        content_hash=hashed,
    )


def _whole_article(article: PreparedArticle) -> tuple[list[str], int, str]:
    """Names, word count and content hash: what is computed over the article as a whole."""
    body_words = tuple(chain.from_iterable(map(sentence_words, article.sentences)))
    names = entities([article.title, *article.sentences])
    return names, len(body_words), content_hash(body_words)


def remember_tokens(article: PreparedArticle) -> ArticleTokens | None:
    """Put the stems an article carries where every stage looks sentences up by text.

    Returns the tokens when they fit the article (None when absent or stale: then the text is
    tokenised where needed). Both stages that read an article call this, so a story summarised
    on another worker than the one that clustered it does not tokenise either.
    """
    tokens = article.tokens
    if tokens is None or len(tokens.sentences) != len(article.sentences):
        return None
    remember_stems(article.title, tokens.title)
    for sentence, encoded in zip(article.sentences, tokens.sentences, strict=True):
        remember_stems(sentence, encoded)
    return tokens


def analyse(article: PreparedArticle) -> ArticleFeatures:
    """Tokenise an article once for every later stage (or take the tokens it carries)."""
    tokens = remember_tokens(article)
    if tokens is not None:
        names, word_count, hashed = tokens.entities, tokens.words, tokens.content_hash
    else:
        names, word_count, hashed = _whole_article(article)
    return ArticleFeatures(
        article_id=article.id,
        source=article.source,
        time=article.event_time,
        title_terms=tuple(terms(article.title)),
        sentence_terms=tuple(tuple(terms(s)) for s in article.sentences),
        entities=tuple(names),
        word_count=word_count,
        content_hash=hashed,
    )
