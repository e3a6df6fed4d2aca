"""The one module that touches sumy: sentence scores from its summarizers, offline.

sumy is untyped and its default tokenizer loads NLTK's punkt data at run time (a download we
cannot make). Here it gets our own tokenizer and stemmer instead, and we read its per-sentence
*ratings* rather than its top-N selection: its ``sentences_count`` argument may be a callable that
receives every sentence with its rating, which is exactly the hook a multi-document layer needs.

LexRank is sumy's, with its two quadratic pure-Python loops (document frequencies, and the
sentence-by-sentence cosine matrix) replaced by numpy: same formulas, same threshold and power
method, identical ratings (tested against sumy's own class), about 20x faster on the 40-fact
pools we score on every story version.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.lsa import LsaSummarizer
from sumy.summarizers.luhn import LuhnSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer

from stream.text import (
    STOP_WORDS,
    distinct_ids,
    lexrank_stems,
    split_sentences,
    stem,
    term_ids,
    words,
)

TF_ROWS_KEPT = 50_000
"""Sentences whose LexRank tf row is kept (the facts of a few thousand live stories)."""


@dataclass(frozen=True, slots=True)
class TfRow:
    """One sentence's LexRank tf row as arrays: its terms' ids and their tf values.

    The ids are :func:`stream.text.term_ids`. As arrays, the rows of a pool go into one matrix
    with no dictionary built per rating (the vocabulary and the idf by dict were a third of
    rating a pool, line-profiled).
    """

    ids: np.ndarray
    values: np.ndarray


def tf_row(metrics: dict[str, float]) -> TfRow:
    """A :class:`TfRow` from a tf row as sumy's ``_compute_tf`` gives it (term -> tf)."""
    return TfRow(
        term_ids(metrics, len(metrics)),
        np.fromiter(metrics.values(), dtype=float, count=len(metrics)),
    )


class VectorLexRank(LexRankSummarizer):  # type: ignore[misc]
    """sumy's LexRank with its similarity matrix, idf and power method computed by numpy."""

    def _to_words_set(self, sentence: Sentence) -> list[str]:
        return _lexrank_words(sentence._text, self)

    @staticmethod
    def _compute_idf(sentences: Sequence[object]) -> dict[str, float]:
        """Nothing: :meth:`similarity_matrix` counts the idf itself, from the tf rows."""
        return {}

    def _create_matrix(
        self,
        sentences: Sequence[object],
        threshold: float,
        tf_metrics: Sequence[dict[str, float]],
        idf_metrics: dict[str, float],
    ) -> np.ndarray:
        return self.similarity_matrix([tf_row(m) for m in tf_metrics], threshold)

    @staticmethod
    def similarity_matrix(rows: Sequence[TfRow], threshold: float) -> np.ndarray:
        """The LexRank matrix of ``rows`` as sumy makes it: tf-idf cosines above ``threshold``.

        Rows are normalised to sum 1. sumy's idf of a term is ``log(n / (1 + sentences that
        have it))``; a row holds each of its terms once, so that count is how often the term's
        id occurs among the rows.
        """
        count = len(rows)
        ids = np.concatenate([row.ids for row in rows])
        values = np.concatenate([row.values for row in rows])
        vocabulary = distinct_ids(ids)
        columns = np.searchsorted(vocabulary, ids)
        idf = np.log(count / (1 + np.bincount(columns, minlength=len(vocabulary))))
        weights = np.zeros((count, len(vocabulary)))
        lengths = [len(row.ids) for row in rows]
        # Every (sentence, term) cell at once: tf times idf, the product sumy takes per cell.
        weights[np.repeat(np.arange(count), lengths), columns] = values * idf[columns]
        dot = weights @ weights.T
        norms = np.sqrt(np.einsum("ij,ij->i", weights, weights))
        scale = np.outer(norms, norms)
        cosine = np.divide(dot, scale, out=np.zeros_like(dot), where=scale > 0)
        matrix = (cosine > threshold).astype(float)
        degrees = matrix.sum(axis=1)
        degrees[degrees == 0] = 1
        normalised: np.ndarray = matrix / degrees[:, None]
        return normalised

    @staticmethod
    def power_method(matrix: np.ndarray, epsilon: float) -> np.ndarray:
        """The power method as sumy runs it, step for step, each norm taken as ``sqrt(x . x)``.

        That is what ``numpy.linalg.norm`` computes for a vector, so the ratings are the same,
        without its checks and dispatch twice an iteration (a pool of 27 facts: 15-18 -> 14 us).
        """
        transposed = matrix.T
        vector = np.full(len(matrix), 1.0 / len(matrix))
        change = 1.0
        while change > epsilon:
            following = transposed @ vector
            following /= math.sqrt(following @ following)
            step = following - vector
            change = math.sqrt(step @ step)
            vector = following
        return vector

    def ratings(self, texts: Sequence[str], rows: Sequence[TfRow] | None = None) -> list[float]:
        """LexRank ratings (sumy's) of ``texts``: its ``__call__`` minus the document model.

        The same steps as ``LexRankSummarizer.__call__`` (sumy's tf, our idf and matrix, its
        power method step for step), without building sumy ``Sentence`` objects and sorting
        them into a top-N that we would throw away: that wrapping cost as much as the rating
        (profiled).
        A sentence's tf row depends on its text alone, and a story's facts are rated again on
        every version, so each row is computed once (:func:`lexrank_tf`) and kept.
        """
        if not texts:
            return []
        matrix = self.similarity_matrix(
            list(rows) if rows is not None else [self._tf_row(t) for t in texts], self.threshold
        )
        return [float(x) for x in self.power_method(matrix, self.epsilon)]

    def _tf_row(self, text: str) -> TfRow:
        rows: dict[str, TfRow] = self.__dict__.setdefault("_tf_rows", {})
        row = rows.get(text)
        if row is None:
            if len(rows) >= TF_ROWS_KEPT:
                rows.clear()  # a crude bound; live stories re-fill it within one version each
            row = rows[text] = lexrank_tf(text)
        return row


SCORERS: dict[str, Callable[..., Any]] = {
    "lexrank": VectorLexRank,
    "sumy-lexrank": LexRankSummarizer,  # sumy's own loops: the naive baselines use it
    "textrank": TextRankSummarizer,
    "lsa": LsaSummarizer,
    "luhn": LuhnSummarizer,
}


class OfflineTokenizer:
    """The tokenizer interface sumy expects, with no NLTK data behind it."""

    language = "english"

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        """Split a paragraph into sentences with our rule-based splitter."""
        return tuple(split_sentences(paragraph))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        """Split a sentence into lower-cased words."""
        return tuple(words(sentence))


_TOKENIZER = OfflineTokenizer()


@lru_cache(maxsize=16)
def _summarizer(name: str) -> Any:
    """One configured summarizer per scorer (setting sumy's stop words normalises them all)."""
    try:
        factory = SCORERS[name]
    except KeyError:
        raise ValueError(f"unknown sumy scorer {name!r}; choose from {sorted(SCORERS)}") from None
    summarizer = factory(stem)
    summarizer.stop_words = STOP_WORDS
    return summarizer


def _lexrank_words(text: str, summarizer: LexRankSummarizer) -> list[str]:
    """What sumy's LexRank ``_to_words_set`` gives for this text, without a sumy ``Sentence``.

    sumy lower-cases each word, drops its stop words and stems the rest with the stemmer it was
    given (ours). :func:`~stream.text.words` already gives lower-cased words, so with our stop
    words this is :func:`~stream.text.lexrank_stems` (tested against sumy's own class).
    """
    stop_words = summarizer.stop_words
    if _are_our_stop_words(stop_words):
        return list(lexrank_stems(text))
    return [stem(w) for w in words(text) if w not in stop_words]


_OURS: list[tuple[frozenset[str], bool]] = []
"""The last stop-word set compared with ours, and the answer (see ``_are_our_stop_words``)."""


def _are_our_stop_words(stop_words: frozenset[str]) -> bool:
    """Whether a summarizer's stop words are :data:`STOP_WORDS`, compared once per set.

    sumy keeps its own normalised copy, so the sets are equal but not the same object, and
    comparing three hundred words for every fact rated was a twentieth of the summary helper's
    time (py-spy). The set a summarizer holds is replaced, never changed, when its stop words
    are set: the same object gives the same answer.
    """
    if _OURS and _OURS[0][0] is stop_words:
        return _OURS[0][1]
    same = stop_words == STOP_WORDS
    _OURS[:] = [(stop_words, same)]
    return same


def lexrank_tf(text: str) -> TfRow:
    """The LexRank tf row of one sentence (sumy's ``_compute_tf``), for callers that keep it.

    A story's facts are rated on every version; a fact keeps its row (``Fact.lexrank_tf``),
    where a shared cache of rows by text was emptied every few seconds by the new sentences
    of a busy stream, and refilling it was a seventh of the summary work (py-spy).
    """
    summarizer = _summarizer("lexrank")
    metrics: dict[str, float] = summarizer._compute_tf([_lexrank_words(text, summarizer)])[0]
    return tf_row(metrics)


def sumy_scores(
    texts: Sequence[str],
    scorer: str = "lexrank",
    tf_rows: Sequence[TfRow] | None = None,
) -> list[float]:
    """Rate each text (one sentence each) with a sumy summarizer; returns one score per text.

    ``tf_rows``: the texts' :func:`lexrank_tf` rows, when the caller keeps them (lexrank only).

    Example:
        >>> len(sumy_scores(["Troops moved north.", "Troops moved south today."]))
        2
    """
    if not texts:
        return []
    summarizer = _summarizer(scorer)
    # A pool where no two sentences are similar leaves sumy's power method dividing by zero.
    # That is expected, not a fault (numpy's warning only cluttered a worker's log): NaN
    # ratings would poison every score they are added to, so they count as no rating.
    with np.errstate(divide="ignore", invalid="ignore"):
        if isinstance(summarizer, VectorLexRank):
            rated = summarizer.ratings(texts, tf_rows)
        else:
            rated = _ratings_through_document(summarizer, texts)
    return [0.0 if math.isnan(x) else x for x in rated]


def _ratings_through_document(summarizer: Any, texts: Sequence[str]) -> list[float]:
    """Ratings from any sumy summarizer, read through its top-N hook."""
    sentences = [Sentence(text, _TOKENIZER) for text in texts]
    document = ObjectDocumentModel([Paragraph(sentences)])
    ratings: dict[int, float] = {}

    def capture(infos: list[Any]) -> list[Any]:
        for info in infos:
            ratings[info.order] = float(info.rating)
        return infos

    summarizer(document, capture)
    return [ratings.get(i, 0.0) for i in range(len(texts))]


def sumy_summary(sentences: Sequence[str], count: int, scorer: str = "lexrank") -> list[str]:
    """Plain sumy over a list of sentences: the single-document baseline we measure against."""
    document = ObjectDocumentModel([Paragraph([Sentence(s, _TOKENIZER) for s in sentences])])
    return [str(s) for s in _summarizer(scorer)(document, count)]
