"""Exact, near-duplicate and syndicated-copy detection, one pass per article, flat cost.

Three stages, cheapest first:

1. Exact: a hash of the article's words (case, spacing and punctuation ignored).
2. Candidates: MinHash over content-term bigrams with LSH banding (:mod:`stream.lsh`), so an
   article is compared only with the few stored articles that share a band, never with the
   whole index. 64 bands of 2 rows catch a pair with bigram Jaccard 0.33 (a copy with 30 % of
   its words edited) with probability 0.9994, a same-story rewrite (Jaccard ~0.05) 15 % of the
   time. Shingles carried by hundreds of articles are left out (:class:`ShingleFrequency`), so
   chance collisions do not grow with the index.
3. Verification: sentence alignment. Each sentence of one article is matched to its best sentence
   in the other by term containment; ``coverage`` is the share of an article's terms that sit in
   matched sentences. Alignment, unlike a global shingle overlap, tells a copy with edits spread
   everywhere (every sentence matches, loosely) from two rewrites that share some wire paragraphs
   verbatim (half the sentences match exactly, half not at all).

A near-duplicate is stored but left out of the band index while the article it copies is there:
it would only be a second door to the same text. Without that, each copy of a wire story was
aligned with every earlier copy (93 alignments a copy over 300 copies), and the copies' phrases,
counted as if they were independent texts, became too common to index.

Decisions (thresholds measured by ``bench/dedup_eval.py``):

- ``duplicate_of`` when both articles are covered by each other under a loose sentence
  alignment (min coverage >= ``dup``): the same copy, edited;
- ``syndicated_from`` when one is mostly contained in the other under a strict alignment
  (max coverage >= ``syndicated``): a copy with substantial additions, or a cut-down copy;
- otherwise ``unique``. Two outlets rewriting the same wire story around shared quotes stay unique.
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from itertools import chain

import numpy as np
from datasketch import MinHash

from stream.features import ArticleFeatures
from stream.lsh import BandIndex
from stream.models import DedupKind, DedupVerdict
from stream.text import columns_in, distinct_ids

NUM_PERM = 128
BANDS, ROWS = 64, 2
COMMON_SHINGLE = 200
"""A shingle carried by more articles than this is left out of the MinHash: well above the number
of outlets that republish one wire story, far below what common phrases reach in a day."""


@dataclass(frozen=True)
class DedupConfig:
    """Dedup thresholds and the retention window (defaults from ``bench/dedup_eval.py --sweep``).

    Duplicates are judged on a loose sentence alignment (an edited sentence still aligns with its
    original), syndication on a strict one (reused wire paragraphs align near-verbatim).
    """

    dup: float = 0.75
    dup_sentence_match: float = 0.3
    syndicated: float = 0.75
    syndicated_sentence_match: float = 0.5
    min_estimated_jaccard: float = 0.05
    window: timedelta = timedelta(days=3)
    min_words: int = 12


@dataclass(frozen=True, slots=True)
class _Stored:
    article_id: str
    time: datetime
    terms: np.ndarray  # uint32 ids of each sentence's distinct terms, sorted, concatenated
    offsets: np.ndarray  # sentence start offsets into ``terms`` (len = sentences + 1)

    @property
    def sizes(self) -> np.ndarray:
        """Distinct terms a sentence."""
        return np.diff(self.offsets.astype(np.int64))


def _pack(features: ArticleFeatures) -> tuple[np.ndarray, np.ndarray]:
    """An article's sentences as the 32-bit ids of their distinct terms, for :class:`Alignment`.

    The ids are Python's own string hashes, cut to 32 bits: a string keeps its hash once
    computed, and the terms are the tokeniser's cached strings, so this is a lookup a term. The
    ids are only compared with ids of the same process (the index is rebuilt, never stored);
    two terms share one with probability 2**-32 a pair, as with the blake2b ids they replace
    (their lookups through an LRU cache, and digests for the terms it had let go, were 7 % of
    the cluster helper, py-spy). Each sentence keeps a term once, as a set would: made distinct
    here, once an article, rather than in every alignment it takes part in.
    """
    sentences = features.sentence_terms
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
    hashed = np.fromiter(map(hash, chain.from_iterable(sentences)), dtype=np.int64)
    rows = np.repeat(np.arange(len(sentences), dtype=np.uint64), lengths)
    keys = distinct_ids((rows << np.uint64(32)) | hashed.astype(np.uint32).astype(np.uint64))
    offsets = np.searchsorted(keys >> np.uint64(32), np.arange(len(sentences) + 1))
    return keys.astype(np.uint32), offsets.astype(np.uint32)


class _Probe:
    """The article being classified, as a term-incidence matrix over its own vocabulary.

    Made once an article, for all of its candidates: each alignment then only places the
    candidate's terms in this vocabulary and multiplies.
    """

    __slots__ = ("incidence", "sizes", "vocabulary")

    def __init__(self, stored: _Stored) -> None:
        self.vocabulary = distinct_ids(stored.terms)
        self.sizes = stored.sizes
        self.incidence = np.zeros((len(self.sizes), len(self.vocabulary)), dtype=np.float32)
        columns = np.searchsorted(self.vocabulary, stored.terms)
        self.incidence[np.repeat(np.arange(len(self.sizes)), self.sizes), columns] = 1.0


def shingles(features: ArticleFeatures) -> set[bytes]:
    """Bigrams of content-term stems within each sentence.

    Word bigrams with function words ("of the", "said on") are shared by every article and fill
    the LSH buckets with chance collisions; content-term bigrams are shared by copies and rarely
    by anything else, which keeps the candidate count per article flat as the index grows.
    """
    return {
        f"{a} {b}".encode()
        for sentence in features.sentence_terms
        for a, b in zip(sentence, sentence[1:], strict=False)
    }


_BLAKE2B_20 = partial(hashlib.blake2b, digest_size=20)
_DIGEST = hashlib.blake2b.digest
"""A 20-byte blake2b hasher of one shingle, and the method that reads its digest: C callables,
mapped over an article's shingles by :func:`shingle_digests`."""


def shingle_digests(grams: list[bytes]) -> np.ndarray:
    """One 20-byte blake2b digest per shingle, as five uint32 words (shape ``(n, 5)``).

    Words 0-1 address the count-min sketch, word 4 is the shingle's hash for the MinHash: one
    digest serves both (datasketch's default hashes every shingle again with SHA-1, and the
    sketch used to digest them twice, to estimate and to add: 4 % of a loaded worker).

    Hashing the bigrams from their terms' ids in numpy instead is three times faster and as
    good on the labelled benchmark; it was tried twice (in an earlier session and in session
    14) and taken back both times: the sample feed's rewritten marathon copy (bigram Jaccard
    0.13) reaches an LSH candidate with probability 0.66 under any hash, and those hashes
    missed it, where these catch it. A change of hash changes which such copies are caught.
    """
    if not grams:
        return np.zeros((0, 5), dtype=np.uint32)
    # Two maps of C callables, no Python frame a shingle: a generator around the same two
    # calls took a tenth more (55 against 50 us for 150 shingles; the clustering replay 5.315
    # against 5.275 million instructions an article, the same digest).
    joined = b"".join(map(_DIGEST, map(_BLAKE2B_20, grams)))
    return np.frombuffer(joined, dtype=np.uint32).reshape(len(grams), 5)


class ShingleFrequency:
    """Approximate document frequency of shingles (a count-min sketch: fixed memory).

    Shingles carried by very many articles ("prime minister") are not evidence of copying; left
    in the MinHash they make unrelated articles collide in LSH bands, and the candidates per
    article grow with the index. Counts halve every ``half_every`` articles so they follow the
    stream rather than all of history. Shingles come as their :func:`shingle_digests`.

    Blocked: a shingle's ``depth`` counters lie in one block of 16 (one 64-byte cache line),
    chosen by digest word 0, at positions given by the nibbles of word 1. A sketch of
    independent rows read ``depth`` lines a shingle (600 an article, to estimate and again to
    add) scattered over 16 MB, and the clustering helper, which shares its cores, waited on
    memory for them.
    """

    BLOCK = 16

    def __init__(self, blocks: int = 1 << 17, depth: int = 4, half_every: int = 50_000) -> None:
        if not 1 <= depth <= 8:
            raise ValueError("a block holds the counters of 1 to 8 positions (nibbles of a word)")
        self.counts = np.zeros((blocks, self.BLOCK), dtype=np.int32)
        self._cells_of_blocks = self.counts.reshape(-1)
        self._nibbles = np.arange(depth, dtype=np.uint32) * np.uint32(4)
        self.blocks = blocks
        self.half_every = half_every
        self.seen = 0

    def _cells(self, digests: np.ndarray) -> np.ndarray:
        """Flat indexes into :attr:`counts` of each shingle's counters, ``(n, depth)``."""
        starts = (digests[:, 0] % self.blocks).astype(np.intp) * self.BLOCK
        positions = (digests[:, 1:2] >> self._nibbles) & np.uint32(self.BLOCK - 1)
        cells: np.ndarray = starts[:, None] + positions
        return cells

    def estimate(self, digests: np.ndarray) -> np.ndarray:
        """Estimated number of articles that carried each shingle."""
        if not len(digests):
            return np.zeros(0, dtype=np.int32)
        return np.asarray(self._cells_of_blocks[self._cells(digests)].min(axis=1))

    def add(self, digests: np.ndarray) -> None:
        """Count one article's shingles."""
        if len(digests):
            # One fancy-indexed increment, not np.add.at (10x slower): an article's shingles
            # are distinct, so a counter repeats only on a collision (two shingles, or two
            # positions of one), where counting once is well inside the sketch's error.
            self._cells_of_blocks[self._cells(digests)] += 1
        self.seen += 1
        if self.seen % self.half_every == 0:
            self.counts >>= 1


_TEMPLATE = MinHash(num_perm=NUM_PERM)
_MULTIPLIERS, _OFFSETS = _TEMPLATE.permutations
"""datasketch's permutations (its ``affine32`` scheme), drawn once: :func:`_minhash` applies
them itself."""
_EMPTY_SIGNATURE: np.ndarray = _TEMPLATE.hashvalues
_FMIX32 = tuple(np.uint32(c) for c in (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16))


def _signature(hashes: np.ndarray) -> np.ndarray:
    """The MinHash values of already hashed shingles (uint32): datasketch's, without its object.

    The same arithmetic as ``MinHash.update_batch`` under the ``affine32`` scheme with an
    identity hash function (MurmurHash3's finalizer, then ``a * h + b`` modulo 2**32, the
    minimum per permutation); building a ``MinHash`` per article (its constructor validates
    arguments and fills arrays) and its batch update cost twice as much as the arithmetic.
    ``tests/test_lsh.py`` checks the values against datasketch's.
    """
    if not len(hashes):
        return _EMPTY_SIGNATURE.copy()
    s1, m1, s2, m2, s3 = _FMIX32
    mixed = hashes ^ (hashes >> s1)
    mixed = mixed * m1
    mixed ^= mixed >> s2
    mixed *= m2
    mixed ^= mixed >> s3
    values: np.ndarray = (mixed[:, None] * _MULTIPLIERS + _OFFSETS).min(axis=0)
    return values


def _minhash(digests: np.ndarray, frequency: ShingleFrequency | None = None) -> np.ndarray:
    """An article's MinHash values over its shingles' digests, common shingles left out."""
    if frequency is not None and len(digests):
        rare = digests[frequency.estimate(digests) <= COMMON_SHINGLE]
        # Keep a floor of shingles so an article of common phrases is still indexed.
        digests = rare if len(rare) >= 8 else digests
    return _signature(np.ascontiguousarray(digests[:, 4]))


@dataclass(frozen=True, slots=True)
class _Incoming:
    """What dedup derives from one article, computed once for classifying and storing it."""

    features: ArticleFeatures
    digests: np.ndarray  # of the article's shingles: see shingle_digests
    signature: np.ndarray  # its MinHash values (uint32)
    stored: _Stored


class Alignment:
    """The sentence pairs of two articles, ranked once, aligned at any containment threshold.

    Pairs are taken greedily by overlap, each sentence used once: an edited copy aligns sentence
    by sentence, while loose same-topic sentences cannot all claim the same original sentence.
    Dedup aligns every candidate twice (loosely for duplicates, strictly for syndication); the
    overlap counts and their ranking are the same for both, so they are made once.
    """

    __slots__ = ("_new_sizes", "_old_sizes", "_pairs")

    def __init__(self, new: _Probe, old: _Stored, floor: float) -> None:
        """Rank the pairs whose containment both ways is at least ``floor``.

        The shared terms of every pair at once, as a product of two 0/1 matrices (float32:
        exact up to 2**24 terms); the loop over the new article's postings it replaces was
        6 % of the clustering helper (py-spy), and built every candidate's sentence sets.
        """
        old_sizes = old.sizes
        self._new_sizes: list[int] = new.sizes.tolist()
        self._old_sizes: list[int] = old_sizes.tolist()
        self._pairs: list[tuple[float, int, int]] = []
        vocabulary = new.vocabulary
        if not len(vocabulary) or not len(old.terms):
            return
        columns, known = columns_in(vocabulary, old.terms)
        rows = np.repeat(np.arange(len(old_sizes)), old_sizes)
        incidence = np.zeros((len(old_sizes), len(vocabulary)), dtype=np.float32)
        incidence[rows[known], columns[known]] = 1.0
        shared = new.incidence @ incidence.T
        i, j = np.nonzero(shared)
        counts = shared[i, j].astype(np.float64)
        # Containment both ways guards against a short sentence "matching" a long one.
        low = np.minimum(counts / new.sizes[i], counts / old_sizes[j])
        kept = low >= floor
        i, j, low = i[kept], j[kept], low[kept]
        ranked = np.lexsort((j, i, low))[::-1]  # by overlap, then i, then j: all descending
        self._pairs = list(
            zip(low[ranked].tolist(), i[ranked].tolist(), j[ranked].tolist(), strict=True)
        )

    def coverage(self, sentence_match: float) -> tuple[float, float]:
        """Share of each article's terms in sentences aligned one-to-one at ``sentence_match``.

        Returns ``(coverage of new by old, coverage of old by new)``.
        """
        used_new: set[int] = set()
        used_old: set[int] = set()
        for low, i, j in self._pairs:
            if low < sentence_match:
                break  # ranked: the rest are below the threshold too
            if i not in used_new and j not in used_old:
                used_new.add(i)
                used_old.add(j)
        new, old = self._new_sizes, self._old_sizes
        total_new = sum(new) or 1
        total_old = sum(old) or 1
        return (
            sum(new[i] for i in used_new) / total_new,
            sum(old[j] for j in used_old) / total_old,
        )


class DedupIndex:
    """A bounded index of recent articles that classifies each new one against them.

    Example:
        >>> from stream.features import analyse
        >>> index = DedupIndex()
        >>> # index.classify(features) -> DedupVerdict; index.add(features) stores it
    """

    def __init__(self, config: DedupConfig | None = None) -> None:
        self.config = config or DedupConfig()
        self._lsh = BandIndex(BANDS, ROWS)
        self._exact: dict[str, str] = {}
        self._stored: dict[str, _Stored] = {}
        self._hash_of: dict[str, str] = {}
        self._order: list[tuple[datetime, str]] = []
        """A heap of (publication time, id) of the stored articles: the oldest first."""
        self._origin: dict[str, str] = {}
        self._frequency = ShingleFrequency()
        self._stand_ins: dict[str, list[tuple[str, np.ndarray]]] = {}
        """Searchable article -> the duplicates of it left out of the band index, with their
        MinHash values: the latest-published takes its place when it is evicted."""

    def __len__(self) -> int:
        return len(self._stored)

    def _incoming(self, features: ArticleFeatures) -> _Incoming:
        # In the set's order: the MinHash takes a minimum and the sketch counts cells, so no use
        # of the digests depends on their order, and sorting 150 shingles an article was waste.
        digests = shingle_digests(list(shingles(features)))
        signature = _minhash(digests, self._frequency)
        terms, offsets = _pack(features)
        stored = _Stored(features.article_id, features.time, terms, offsets)
        return _Incoming(features, digests, signature, stored)

    def observe(self, features: ArticleFeatures) -> DedupVerdict:
        """Classify an article against the index, then store it: the streaming step.

        A copy of a copy is reported as a copy of the first original still in the index.
        """
        incoming = self._incoming(features)
        verdict = self._classify(incoming)
        matched = verdict.of
        if matched is not None:
            root = self._origin.get(matched, matched)
            verdict = verdict.model_copy(update={"of": root})
            self._origin[features.article_id] = root
        if verdict.kind is DedupKind.DUPLICATE and matched is not None and matched in self._lsh:
            # Whatever would meet this copy meets the article it copies: it stands in for
            # that one, searchable only once that one is evicted.
            if features.article_id not in self._stored:
                hashvalues = incoming.signature
                self._stand_ins.setdefault(matched, []).append((features.article_id, hashvalues))
            self._add(incoming, searchable=False)
        else:
            self._add(incoming)
        return verdict

    def classify(self, features: ArticleFeatures) -> DedupVerdict:
        """Decide whether an article is unique, a duplicate or a syndicated copy of a stored one."""
        return self._classify(self._incoming(features))

    def add(self, features: ArticleFeatures) -> None:
        """Store an article so later ones are compared with it (copies are stored too)."""
        self._add(self._incoming(features))

    def _classify(self, incoming: _Incoming) -> DedupVerdict:
        features = incoming.features
        original = self._exact.get(features.content_hash)
        if original is not None and original != features.article_id:
            return DedupVerdict(kind=DedupKind.DUPLICATE, of=original)
        if features.word_count < self.config.min_words:
            return DedupVerdict()
        mine = incoming.signature
        # Band collisions screened by estimated Jaccard inside the index, in one gather.
        candidates = self._lsh.query(mine, self.config.min_estimated_jaccard)
        if not candidates:
            return DedupVerdict()
        new = _Probe(incoming.stored)
        floor = min(self.config.dup_sentence_match, self.config.syndicated_sentence_match)
        duplicate: tuple[float, str] | None = None
        syndicated: tuple[float, str] | None = None
        for candidate in sorted(candidates):
            stored = self._stored.get(candidate)
            if stored is None or candidate == features.article_id:
                continue
            aligned = Alignment(new, stored, floor)
            loose = min(aligned.coverage(self.config.dup_sentence_match))
            if loose >= self.config.dup and (duplicate is None or loose > duplicate[0]):
                duplicate = (loose, candidate)
            strict = max(aligned.coverage(self.config.syndicated_sentence_match))
            if strict >= self.config.syndicated and (syndicated is None or strict > syndicated[0]):
                syndicated = (strict, candidate)
        if duplicate is not None:
            return DedupVerdict(kind=DedupKind.DUPLICATE, of=duplicate[1])
        if syndicated is not None:
            return DedupVerdict(kind=DedupKind.SYNDICATED, of=syndicated[1])
        return DedupVerdict()

    def _add(self, incoming: _Incoming, searchable: bool = True) -> None:
        """Store an article; ``searchable``: also index its bands, so later ones meet it.

        A duplicate is stored but not searchable (see :meth:`observe`): every copy of a wire
        story would otherwise be a candidate, and aligned, for every later copy, a cost that
        grows with the square of the copies (a third of the alignments on the e2e stream).
        """
        features = incoming.features
        if features.article_id in self._stored:
            return
        self._exact.setdefault(features.content_hash, features.article_id)
        self._hash_of[features.article_id] = features.content_hash
        self._stored[features.article_id] = incoming.stored
        if searchable:
            if features.word_count >= self.config.min_words:
                self._lsh.insert(features.article_id, incoming.signature)
            # A copy is not a second text carrying its phrases: counted, the phrases of a wire
            # story became "common" after a couple of hundred copies and left the MinHash of
            # later copies, which then no longer met the original (656 of 1,000 copies missed,
            # ``bench/dedup_eval.py --copies 1000``).
            self._frequency.add(incoming.digests)
        heapq.heappush(self._order, (features.time, features.article_id))

    def evict(self, now: datetime) -> int:
        """Forget articles published before ``now - window``; returns how many were dropped.

        By publication time, not arrival: an article dated days ahead (a wrong time zone; up
        to two days are accepted) used to sit at the head of an arrival queue and keep every
        article behind it past the window (a preloaded batch dated after a day of history
        kept all 61,000 articles of it, ``bench/e2e.py --history``).
        """
        horizon = now - self.config.window
        dropped = 0
        while self._order and self._order[0][0] < horizon:
            _, article_id = heapq.heappop(self._order)
            if self._stored.pop(article_id, None) is None:
                continue
            self._origin.pop(article_id, None)
            content = self._hash_of.pop(article_id, None)
            if content is not None and self._exact.get(content) == article_id:
                del self._exact[content]
            if article_id in self._lsh:
                self._lsh.remove(article_id)
                self._promote_stand_in(article_id)
            dropped += 1
        return dropped

    def _promote_stand_in(self, evicted: str) -> None:
        """Make the latest-published stored duplicate of an evicted article searchable instead.

        Copies of a wire story keep coming after the first is evicted; they must still meet
        one of its copies (the rest stay stand-ins for the promoted one).
        """
        waiting = [(a, h) for a, h in self._stand_ins.pop(evicted, ()) if a in self._stored]
        if not waiting:
            return
        latest = max(range(len(waiting)), key=lambda i: (self._stored[waiting[i][0]].time, i))
        promoted, hashvalues = waiting.pop(latest)
        self._lsh.insert(promoted, hashvalues)
        self._exact.setdefault(self._hash_of[promoted], promoted)
        if waiting:
            self._stand_ins[promoted] = waiting
