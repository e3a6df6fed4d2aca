"""Sentences and terms: the one place text becomes units the rest of the core compares.

Sentence splitting is rule-based and offline. We measured pysbd at ~10 ms per article (pure-Python
regex cascades), which alone would cap a worker near 100 articles/s; news prose is regular enough
for a splitter that knows abbreviations, initials and closing quotes, at ~0.1 ms per article.
Terms are Snowball stems of lower-cased words minus sumy's English stop words (both need no data
download), cached because news vocabulary repeats heavily.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import islice

import numpy as np
from nltk.stem.snowball import SnowballStemmer
from sumy.utils import get_stop_words

_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sen rep gov gen lt col maj capt sgt cpl adm cmdr st ste mt ft jr sr
    inc corp ltd co plc llc bros vs etc al approx dept est fig vol pp rev hon pres
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun
    u.s u.k u.n e.u a.m p.m e.g i.e d.c n.y l.a ph.d""".split()
)
# A candidate boundary: terminal punctuation, optional closing quotes/brackets, then space.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*\s+")
_NEXT_STARTS_SENTENCE = re.compile(r"[\"'“‘(\[]?[A-Z0-9À-Ý]")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_CAPITALISED = re.compile(r"^[A-ZÀ-Ý][\w'’.-]*$")

STOP_WORDS: frozenset[str] = frozenset(get_stop_words("english")) | frozenset(
    {"said", "says", "say", "told", "would", "could", "also", "one", "two", "new", "year", "years"}
)
_NOT_NAMES = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december today yesterday""".split()
)
_STEMMER = SnowballStemmer("english")


def _ends_with_abbreviation(text: str) -> bool:
    last = text.rstrip(".!?…\"'”’)]").rsplit(None, 1)[-1] if text.strip() else ""
    token = last.lower().strip("(\"'“‘")
    if token in _ABBREVIATIONS:
        return True
    # Initials ("J." in "John F. Kennedy") and dotted acronyms ("U.S.").
    return (
        len(token) == 1 and token.isalpha() or bool(re.fullmatch(r"(?:[a-z]\.){1,4}[a-z]?", token))
    )


def split_sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences.

    Example:
        >>> split_sentences('Mr. Smith went to Washington. "It is late," he said. Then he left.')
        ['Mr. Smith went to Washington.', '"It is late," he said.', 'Then he left.']
    """
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(paragraph):
        end = match.end()
        candidate = paragraph[start : match.end()].strip()
        rest = paragraph[end:]
        if not _NEXT_STARTS_SENTENCE.match(rest):
            continue
        if match.group().startswith(".") and _ends_with_abbreviation(
            paragraph[start : match.start() + 1]
        ):
            continue
        if candidate:
            sentences.append(candidate)
        start = end
    tail = paragraph[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def words(text: str) -> list[str]:
    """Return the words of a text, lower-cased, punctuation dropped."""
    lowered = text.lower()
    if len(lowered) == len(text) and "Σ" not in text:
        # Lower-cased whole, then split: one C call instead of two a word (12 % of preparing an
        # article, py-spy), and the same words. Each character here lowered to one character,
        # and no character changes whether it is a word character or an apostrophe by that
        # (checked over all of Unicode); only a capital sigma lowers by its context.
        return _WORD.findall(lowered.replace("’", "'"))
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


@lru_cache(maxsize=50_000)
def sentence_words(sentence: str) -> tuple[str, ...]:
    """:func:`words` of one sentence, cached: dedup, clustering and the fact pool all read it.

    A word never spans a space, so the words of sentences joined by spaces are their words in
    a row: an article's words are its sentences' words, with no second pass over the body.
    """
    return tuple(words(sentence))


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """Stem one lower-cased word (cached: news vocabulary repeats)."""
    return str(_STEMMER.stem(word))


def term_ids(terms: Iterable[str], count: int = -1) -> np.ndarray:
    """Terms as int64 ids for vectorised set arithmetic (``count``: how many, when known).

    Python's string hash: ids are only compared within one process and call, never stored, and
    64-bit collisions among a few thousand terms do not happen.
    """
    return np.fromiter(map(hash, terms), dtype=np.int64, count=count)


def distinct_ids(ids: np.ndarray) -> np.ndarray:
    """The distinct values of an id array, sorted: ``np.unique(ids)``, by sorting.

    numpy 2.3+ finds unique values through a hash table and then sorts them; for the few
    hundred :func:`term_ids` of an article or a scored pool that is 4x slower than sorting
    once and keeping each run's first value (300 ids: 31 vs 7 us; 800: 80 vs 13 us).
    """
    ordered = np.sort(ids)
    first = np.empty(len(ordered), dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    distinct: np.ndarray = ordered[first]
    return distinct


class _IdTable:
    """A scratch hash table: ids to their columns in a small vocabulary (:func:`columns_in`).

    Addressed by an id's low bits: term ids are string hashes, whose low bits are as good as
    random. An empty slot holds column 0, which the check of every candidate then rejects;
    emptied again after each call. One a thread (:func:`_id_table`).
    """

    BITS = 15
    MAX_LOST = 8
    """Vocabulary ids that may lose their slot to another before the sorted search is cheaper."""

    def __init__(self) -> None:
        self.columns = np.zeros(1 << self.BITS, dtype=np.intp)

    def find(self, vocabulary: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mask = (1 << self.BITS) - 1
        own = np.arange(len(vocabulary))
        slots = (vocabulary & mask).astype(np.intp, copy=False)
        table = self.columns
        table[slots] = own  # two ids in one slot: the later keeps it, the other is lost
        lost = np.flatnonzero(table[slots] != own)
        columns = table[(ids & mask).astype(np.intp, copy=False)]
        table[slots] = 0
        if len(lost) > self.MAX_LOST:
            return _sorted_columns(vocabulary, ids)
        found = vocabulary[columns] == ids
        for column in lost.tolist():  # usually none or one or two
            same = ids == vocabulary[column]
            columns[same] = column
            found |= same
        return columns, found


_ID_TABLES = threading.local()


def _id_table() -> _IdTable:
    table: _IdTable | None = getattr(_ID_TABLES, "table", None)
    if table is None:
        table = _ID_TABLES.table = _IdTable()
    return table


def columns_in(vocabulary: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each id sits in ``vocabulary`` (:func:`distinct_ids`' output): (column, found).

    ``vocabulary[column] == id`` where ``found``; elsewhere ``column`` is some valid column.
    Many ids are looked up in a hash table: a sorted search of unsorted keys is a binary search
    a key, with a mispredicted branch a step, 77 us for the 2,000 term ids of a story's fact
    pool in a 220-term article vocabulary (the same-fact product's largest cost) against 18 us.
    Below about a thousand ids the sorted search is the faster (250: 6 against 11 us).
    """
    if len(ids) < 1024 or not 0 < len(vocabulary) <= (1 << _IdTable.BITS) // 64:
        return _sorted_columns(vocabulary, ids)
    return _id_table().find(vocabulary, ids)


def _sorted_columns(vocabulary: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not len(vocabulary):
        return np.zeros(len(ids), dtype=np.intp), np.zeros(len(ids), dtype=bool)
    columns = np.minimum(np.searchsorted(vocabulary, ids), len(vocabulary) - 1)
    found: np.ndarray = vocabulary[columns] == ids
    return columns, found


def terms(text: str) -> list[str]:
    """Content terms of a text: stems of words that are not stop words or single characters."""
    return list(_stems(text)[1])


def lexrank_stems(text: str) -> tuple[str, ...]:
    """Stems of every word that is not a stop word: what sumy's LexRank compares sentences on.

    sumy keeps single characters ("5", the "s" of "U.S."), so these are :func:`terms` plus
    those; both come from one cached pass over the sentence.
    """
    return _stems(text)[0]


STEMS_KEPT = 50_000
"""Sentences whose stems :func:`_stems` keeps (the oldest tenth goes when full)."""

_STEMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _stems(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    # Kept per sentence: one worker tokenises a sentence for dedup and clustering, then again
    # for its story's fact pool, its concepts and its LexRank rating; keeping it makes that once.
    # A plain dict rather than lru_cache, so tokens carried in a message can be put in it; they
    # are decoded by the same function as the ones made here, so both are the same by design.
    known = _STEMS.get(text)
    if known is None:
        known = _decode_stems(encode_stems(text))
        _keep_stems(text, known)
    return known


def _keep_stems(text: str, found: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
    if len(_STEMS) >= STEMS_KEPT:
        for old in list(islice(_STEMS, STEMS_KEPT // 10)):
            del _STEMS[old]
    _STEMS[text] = found


SHORT_MARK = "~"
"""Prefixes a stem of a one-character word in :func:`encode_stems` (no word contains it)."""


def encode_stems(text: str) -> str:
    """A text's LexRank stems as one string, its content terms recoverable from it.

    The one place that decides which words count: stop words are dropped, and one-character
    words ("5", the "s" of "U.S.") are kept for LexRank, as sumy does, but are not content
    terms. This is also how tokens travel in a message (``PreparedArticle.tokens``): one string
    a sentence, a few bytes over the stems themselves, parsed back with one ``split``.
    """
    return " ".join(filter(None, map(_marked_stem, sentence_words(text))))


@lru_cache(maxsize=100_000)
def _marked_stem(word: str) -> str:
    """A word as :func:`encode_stems` writes it: its stem, marked if one character, or "".

    One cached call a word, mapped and joined in C: deciding per word in a comprehension
    was a fifth of preparing an article (py-spy).
    """
    if word in STOP_WORDS:
        return ""
    return stem(word) if len(word) > 1 else SHORT_MARK + stem(word)


def _decode_stems(encoded: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(LexRank stems, content terms) from :func:`encode_stems` output."""
    marked = encoded.split()
    if SHORT_MARK not in encoded:
        every = tuple(marked)
        return every, every
    every = tuple(s.removeprefix(SHORT_MARK) for s in marked)
    return every, tuple(s for s in marked if not s.startswith(SHORT_MARK))


def remember_stems(text: str, encoded: str) -> None:
    """Take a text's stems from :func:`encode_stems` output instead of tokenising it again."""
    if text not in _STEMS:
        _keep_stems(text, _decode_stems(encoded))


def entities(sentences: Iterable[str]) -> list[str]:
    """Find names cheaply: runs of capitalised words not at the start of a sentence.

    A proper NER model would need a download; in news text capitalisation inside a sentence is a
    strong signal, and a name that opens a sentence is usually repeated later in the article.
    Returns lower-cased name strings (multi-word names joined by a space, plus their last word).
    """
    found: list[str] = []
    for sentence in sentences:
        tokens = sentence.split()
        run: list[str] = []
        for index, raw in enumerate(tokens + [""]):
            if not run and (raw[:1].islower() or raw[:1].isdigit()):
                # Most words: a lower-case letter or a digit is kept by the strip below and
                # fails the capital test, and with no run open there is nothing to close (the
                # same result, without the strip, regex and lookups: entities were a quarter
                # of preparing an article, cProfile).
                continue
            token = raw.strip("\"'“”‘’(),;:!?[]")
            is_name = (
                index > 0
                and bool(_CAPITALISED.match(token))
                and token.lower() not in STOP_WORDS
                and token.lower() not in _NOT_NAMES
                and not tokens[index - 1].endswith((".", "!", "?", ":", '"', "“"))
            )
            if is_name:
                run.append(token.rstrip(".").replace("’s", "").replace("'s", ""))
            if (not is_name or raw.endswith((",", ";", ":", ".", ")"))) and run:
                name = " ".join(run).lower()
                found.append(name)
                if len(run) > 1:
                    found.append(run[-1].lower())
                run = []
    return found


def content_hash(text: str | Sequence[str]) -> str:
    """Hash of a text's words only: equal for copies that differ in case, spacing or punctuation.

    Accepts the text or its already-split :func:`words`, so callers never tokenise twice.
    """
    tokens = words(text) if isinstance(text, str) else text
    return hashlib.blake2b(" ".join(tokens).encode(), digest_size=16).hexdigest()


def jaccard(a: Sequence[str] | set[str], b: Sequence[str] | set[str]) -> float:
    """Jaccard similarity of two token collections (0 when both are empty)."""
    sa, sb = set(a), set(b)
    union = len(sa | sb)
    return len(sa & sb) / union if union else 0.0
