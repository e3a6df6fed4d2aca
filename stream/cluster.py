"""Online event clustering: each article joins the best live story or starts a new one.

The method follows the strongest published stream clusterers (Miranda et al. 2018; SCStory 2023):

- TF-IDF with document frequencies learned from the stream itself (no corpus to download), with
  separate weights for title, lead and body terms: the lead says what happened;
- named-entity overlap, idf-weighted, so "Turkey" shared by every Middle-East story counts for
  less than "Stoltenberg";
- time: a story's similarity halves for every ``half_life`` the article lies outside its span,
  which splits two earthquakes in one country a week apart even when their words agree;
- candidate retrieval through an inverted index from terms and entities to live stories, so the
  cost per article depends on how many stories share its rarest terms, not on how many exist;
- merges: when an article pulls two live stories above the merge threshold, the younger one is
  absorbed and a merge event says so.

All weights and thresholds are defaults measured by ``bench/cluster_eval.py``.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import repeat
from operator import add, itemgetter, mul

import numpy as np

from stream.features import LEAD_SENTENCES, ArticleFeatures

IDF_PRIOR_DOCS = 50

_TF_TABLE = [0.0, *(1.0 + math.log(count) for count in range(1, 1024))]
"""``1.0 + log(count)`` for the counts most terms have (99 % are under 64): a list index
in place of a call an article term and a profile term (the same floats: the same expression)."""


DORMANT_SLACK = timedelta(days=2)
"""How long past the quiet period a story stays indexed: an article dated up to this far behind
the newest one still finds the stories it continues (prepare accepts articles dated up to two
days ahead, which move the clock on)."""


@dataclass(frozen=True)
class ClusterConfig:
    """Weights and thresholds of the clusterer (defaults from ``bench/cluster_eval.py``)."""

    title_weight: int = 3
    lead_weight: int = 2
    body_weight: int = 1
    entity_weight: float = 0.5
    threshold: float = 0.3
    merge_threshold: float = 0.5
    half_life: timedelta = timedelta(days=5)
    quiet_period: timedelta = timedelta(days=4)
    retention: timedelta = timedelta(days=14)
    centroid_terms: int = 120
    query_terms: int = 12
    max_candidates: int = 20
    max_postings: int = 64
    max_vocabulary: int = 100_000


@dataclass(slots=True)
class Story:
    """A live story's profile: what it says, who is in it, when it happened."""

    story_id: str
    first_time: datetime
    last_time: datetime
    term_sums: Counter[str] = field(default_factory=Counter)
    entity_counts: Counter[str] = field(default_factory=Counter)
    article_ids: list[str] = field(default_factory=list)
    indexed: set[str] = field(default_factory=set)
    revision: int = 0
    profile: Profile | None = None
    top_terms: tuple[int, list[tuple[str, int]]] | None = None

    @property
    def size(self) -> int:
        """Number of articles (duplicates included)."""
        return len(self.article_ids)


@dataclass(frozen=True, slots=True)
class Profile:
    """A story's weighted vectors at one revision, with what scoring them needs besides."""

    revision: int
    terms: dict[str, float]
    entities: dict[str, float]
    terms_norm: float
    entities_norm: float
    term_slots: np.ndarray
    """Two rows: the terms' :class:`TermSlots` (of ``slots_epoch``) and their weights, in
    ``terms`` order; an article is scored against all its candidates at once (one array, so
    one concatenation; slots are exact as floats)."""
    slots_epoch: int


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an article went, and which stories were absorbed on the way."""

    story_id: str
    created: bool
    merged_from: tuple[str, ...] = ()
    score: float = 0.0


def story_id_for(article_id: str) -> str:
    """Story ids derive from their first article, so a replay recreates the same ids."""
    return "s-" + hashlib.blake2b(article_id.encode(), digest_size=8).hexdigest()


def _add_counts(target: Counter[str], counts: Mapping[str, int]) -> None:
    """``target.update(counts)``, in C: ``Counter.update`` adds a mapping in a Python loop.

    A story adds every article's term counts (150 terms or so) to its own: that loop was 5 %
    of the clustering helper (py-spy, e2e). Same sums, same insertion order of new terms.
    """
    terms = counts.keys()
    sums = map(add, map(target.get, terms, repeat(0)), counts.values())
    dict.update(target, zip(terms, sums, strict=True))


def _norm(vector: dict[str, float]) -> float:
    weights = vector.values()
    return math.sqrt(sum(map(mul, weights, weights)))  # the genexpr's sum, twice as fast


def _cosine(
    a: dict[str, float],
    b: dict[str, float],
    norm_a: float | None = None,
    norm_b: float | None = None,
) -> float:
    """Cosine of two sparse vectors; pass norms that are already known to skip recomputing them."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    # Only shared terms add to the dot; filtering them in C first, in the smaller vector's order,
    # gives the very same sum as adding w * 0.0 for the rest (2.6x faster, measured).
    dot = sum([small[t] * large[t] for t in filter(large.__contains__, small)])
    if not dot:
        return 0.0
    norm = (norm_a if norm_a is not None else _norm(a)) * (
        norm_b if norm_b is not None else _norm(b)
    )
    return dot / norm if norm else 0.0


class TermSlots:
    """Small integer slots for terms, and a scratch row as wide: sparse dot products in numpy.

    An article is scored against all its candidates (eight on average, up to 20) at once: its
    weights go into the scratch row at its terms' slots, each candidate's weights are
    multiplied with what the row holds at theirs (zero where the article lacks the term), and
    the row is cleared again. A Python dot product a candidate was most of scoring an article
    (207-259 us an article late in the e2e stream); a sorted search of the candidates' term
    hashes in the article's, tried first, took 174-187 us; this gather 85-112 us.

    Slots only grow, up to ``capacity``; then they all start over (:attr:`epoch` says so), and
    the profiles that hold slots of an earlier epoch are rebuilt when next used.

    The row starts small: 2^15 slots (256 kB) stay in a core's cache between articles, where
    2^18 (2 MB a tracker, one tracker a section) did not: the clustering work on the e2e stream
    took 1.13-1.15 ms an article against 1.33-1.35 (alternate runs). Starting over re-slots
    each live profile once (about 10 us), so an epoch must last: one that ended within
    ``MIN_EPOCH_CALLS`` reservations (three or four an article) doubles the row. A tracker of
    all sections holds the top terms of thousands of live stories: at a fixed 2^15 it started
    over every 450 articles and took 2.26 ms an article (1.92 at 2^18); growing, it settles at
    2^16 after two epochs, 1.63 ms.
    """

    MIN_EPOCH_CALLS = 10_000

    def __init__(self, capacity: int = 1 << 15) -> None:
        self.capacity = capacity
        self.epoch = 0
        self._slots: dict[str, int] = {}
        self._calls = 0
        self.scratch = np.zeros(capacity)

    def reserve(self, count: int) -> None:
        """Make room for ``count`` new terms, starting over (a new epoch) if there is none.

        A request larger than the row (an article of tens of thousands of distinct words)
        widens it to the next power of two: rare, and never refused.
        """
        self._calls += 1
        if count > self.capacity:
            self._widen(1 << (count - 1).bit_length())
        if len(self._slots) + count > self.capacity:
            if self._calls < self.MIN_EPOCH_CALLS:
                self._widen(2 * self.capacity)
            self._slots = {}
            self._calls = 0
            self.epoch += 1

    def _widen(self, capacity: int) -> None:
        self.capacity = capacity
        self.scratch = np.zeros(capacity)

    def of(self, terms: Collection[str]) -> np.ndarray:
        """The slots of ``terms`` (new terms get the next ones; :meth:`reserve` first)."""
        slots = self._slots
        # Looked up in C; new terms (in a third of the calls, late in the e2e stream) are
        # found by a set difference, also in C: 4 % of the clustering helper was a loop.
        found: list[int | None] = list(map(slots.get, terms))
        if None in found:
            for term in set(terms).difference(slots):  # which new term gets which slot
                slots[term] = len(slots)  # changes no score: slots only address the row
            found = list(map(slots.get, terms))
        return np.fromiter(found, dtype=np.intp, count=len(found))

    def cosines(
        self, slots: np.ndarray, weights: np.ndarray, norm: float, profiles: list[Profile]
    ) -> list[float]:
        """:func:`_cosine` of one vector (its terms' slots and weights) with each profile's terms.

        The products are those of :func:`_cosine`; each sum runs in the profile's term order,
        so a score may differ from :func:`_cosine`'s in its last bits.
        """
        if not len(slots) or not profiles:
            return [0.0] * len(profiles)
        scratch = self.scratch
        scratch[slots] = weights
        theirs = np.concatenate([p.term_slots for p in profiles], axis=1)
        products = scratch[theirs[0].astype(np.intp)] * theirs[1]
        scratch[slots] = 0.0
        rows = np.repeat(np.arange(len(profiles)), [len(p.terms) for p in profiles])
        dots = np.bincount(rows, weights=products, minlength=len(profiles))
        norms = norm * np.array([p.terms_norm for p in profiles])
        safe = (dots != 0) & (norms != 0)
        cosines: list[float] = np.where(safe, dots / np.where(safe, norms, 1.0), 0.0).tolist()
        return cosines


def _slotted(slots: TermSlots, vector: dict[str, float]) -> np.ndarray:
    """A profile's :attr:`Profile.term_slots`: the terms' slots over their weights."""
    return np.vstack(
        (slots.of(vector), np.fromiter(vector.values(), dtype=float, count=len(vector)))
    )


def _heaviest(counts: Counter[str], k: int) -> list[tuple[str, int]]:
    """``counts.most_common(k)``, ties in insertion order too, sorted in numpy.

    A growing story re-ranks a few hundred terms after nearly every article (to bound its
    profile and to index its top terms); ``most_common`` calls a Python key function per
    term (5 % of a loaded worker, py-spy). A stable descending sort is the same order.
    """
    if len(counts) <= 64:
        return counts.most_common(k)
    terms, weights = list(counts), list(counts.values())
    order = np.argsort(-np.array(weights, dtype=np.int64), kind="stable")[:k].tolist()
    # The counts themselves, not numpy's copies: an int() of an array element a term was
    # half of this function (a story's terms are re-ranked on nearly every article).
    return [(terms[i], weights[i]) for i in order]


class OnlineClusterer:
    """Single-pass story clustering with incremental IDF and an inverted index over live stories."""

    def __init__(self, config: ClusterConfig | None = None) -> None:
        self.config = config or ClusterConfig()
        self.stories: dict[str, Story] = {}
        self._docs = 0
        self._df: Counter[str] = Counter()
        self._postings: dict[str, set[str]] = {}
        self._slots = TermSlots()

    # -- weighting -----------------------------------------------------------------------
    def idf(self, key: str) -> float:
        """Inverse document frequency learned from the stream, with a prior of unseen documents.

        The prior (``IDF_PRIOR_DOCS`` documents that contain no term) keeps a cold start from
        treating every term of the first few articles as worthless; it fades as the stream grows.
        """
        return math.log((self._docs + IDF_PRIOR_DOCS) / (self._df.get(key, 0) + 1)) + 1.0

    def _term_counts(self, features: ArticleFeatures) -> Counter[str]:
        cfg = self.config
        # A plain dict and .get: Counter's += goes through __missing__ in Python for every new
        # term (profiled at 4 % of the core). Same insertion order, same counts.
        counts: dict[str, int] = {}
        get = counts.get
        for term in set(features.title_terms):
            counts[term] = get(term, 0) + cfg.title_weight
        sentences = features.sentence_terms
        for weight, part in (
            (cfg.lead_weight, sentences[:LEAD_SENTENCES]),
            (cfg.body_weight, sentences[LEAD_SENTENCES:]),
        ):
            for sentence in part:
                for term in sentence:
                    counts[term] = get(term, 0) + weight
        return Counter(counts)

    def _weighted(self, counts: Iterable[tuple[str, int]]) -> dict[str, float]:
        """TF-IDF weights of (term, count) pairs (a Counter's ``items()``, or ranked terms)."""
        # idf() inlined: this runs for every term of every article and changed story.
        log, df, docs = math.log, self._df.get, self._docs + IDF_PRIOR_DOCS
        tf, small = _TF_TABLE, len(_TF_TABLE)
        return {
            t: (tf[c] if c < small else 1.0 + log(c)) * (log(docs / (df(t, 0) + 1)) + 1.0)
            for t, c in counts
            if c > 0
        }

    def _profile(self, story: Story) -> Profile:
        """The story's weighted term and name vectors, cached until the story changes.

        The IDF inside is the one at the story's last change. Refreshing on IDF drift instead
        made the cost grow with the number of stories (every dormant candidate rebuilt after each
        refresh: 26 rebuilds an article at 100k stories) and did not change quality (measured).
        """
        profile = story.profile
        slots = self._slots
        if profile is None or profile.revision != story.revision:
            vec = self._weighted(self._top_terms(story))
            ents = self._weighted(story.entity_counts.items())
            slots.reserve(len(vec))
            profile = story.profile = Profile(
                story.revision,
                vec,
                ents,
                _norm(vec),
                _norm(ents),
                _slotted(slots, vec),
                slots.epoch,
            )
        elif profile.slots_epoch != slots.epoch:
            slots.reserve(len(profile.terms))
            profile = story.profile = replace(
                profile, term_slots=_slotted(slots, profile.terms), slots_epoch=slots.epoch
            )
        return profile

    def _top_terms(self, story: Story) -> list[tuple[str, int]]:
        """The story's heaviest terms at its current revision (indexed, and its profile)."""
        if story.top_terms is None or story.top_terms[0] != story.revision:
            story.top_terms = (
                story.revision,
                _heaviest(story.term_sums, self.config.centroid_terms),
            )
        return story.top_terms[1]

    # -- scoring -------------------------------------------------------------------------
    def _time_factor(self, story: Story, when: datetime) -> float:
        if story.first_time <= when <= story.last_time:
            return 1.0
        gap = min(abs(when - story.first_time), abs(when - story.last_time))
        return float(0.5 ** (gap / self.config.half_life))

    def similarity(
        self,
        vec: dict[str, float],
        ents: dict[str, float],
        story: Story,
        when: datetime,
        norms: tuple[float, float] | None = None,
    ) -> float:
        """Score an article (as weighted vectors) against a story."""
        return self.similarities(vec, ents, [story], when, norms)[0]

    def similarities(
        self,
        vec: dict[str, float],
        ents: dict[str, float],
        stories: list[Story],
        when: datetime,
        norms: tuple[float, float] | None = None,
    ) -> list[float]:
        """Score an article (as weighted vectors) against each of ``stories``."""
        slots = self._slots
        # Room for every term this call may slot (a profile has at most centroid_terms), so
        # all of them, the article's and the candidates', are slotted in one epoch.
        slots.reserve(len(vec) + self.config.centroid_terms * len(stories))
        profiles = [self._profile(story) for story in stories]
        mine = slots.of(vec)
        norms = norms or (_norm(vec), _norm(ents))
        texts = slots.cosines(
            mine, np.fromiter(vec.values(), dtype=float, count=len(vec)), norms[0], profiles
        )
        w = self.config.entity_weight
        scores = []
        for story, profile, text in zip(stories, profiles, texts, strict=True):
            ent = (
                _cosine(ents, profile.entities, norms[1], profile.entities_norm)
                if ents and profile.entities
                else 0.0
            )
            scores.append(((1.0 - w) * text + w * ent) * self._time_factor(story, when))
        return scores

    def _candidates(
        self, vec: dict[str, float], ents: dict[str, float], when: datetime
    ) -> list[str]:
        cfg = self.config
        keys = sorted(vec, key=vec.__getitem__, reverse=True)[: cfg.query_terms]
        keys += ["@" + e for e in sorted(ents, key=ents.__getitem__, reverse=True)[:6]]
        hits: Counter[str] = Counter()
        for key in keys:
            postings = self._postings.get(key, ())
            if len(postings) > cfg.max_postings:
                continue  # shared by hundreds of live stories: says nothing about the event
            for story_id in postings:
                hits[story_id] += 1
        # The live ones first, then the best few ranked (as ``most_common``: by hits, ties in
        # first-hit order): sorting every story hit, most of them dormant in a long-running
        # stream, grew with the stories held (a tenth of clustering after 60k articles).
        live = [
            (sid, n)
            for sid, n in hits.items()
            if when - self.stories[sid].last_time <= cfg.quiet_period
        ]
        return [sid for sid, _ in heapq.nlargest(cfg.max_candidates, live, key=itemgetter(1))]

    # -- the streaming step --------------------------------------------------------------
    def place(self, features: ArticleFeatures) -> Placement:
        """Assign an article to a story (creating or merging stories as needed)."""
        counts = self._term_counts(features)
        entity_counts = Counter(features.entities)
        self._learn(counts, entity_counts)
        vec, ents = self._weighted(counts.items()), self._weighted(entity_counts.items())
        norms = (_norm(vec), _norm(ents))
        candidates = [self.stories[sid] for sid in self._candidates(vec, ents, features.time)]
        scores = self.similarities(vec, ents, candidates, features.time, norms)
        scored = sorted(zip(scores, [c.story_id for c in candidates], strict=True), reverse=True)
        if not scored or scored[0][0] < self.config.threshold:
            story = self._new_story(features)
            self._absorb(story, features, counts, entity_counts)
            return Placement(story.story_id, created=True, score=scored[0][0] if scored else 0.0)
        best_score, best_id = scored[0]
        story = self.stories[best_id]
        self._absorb(story, features, counts, entity_counts)
        merged = self._merge_close(
            story, [sid for s, sid in scored[1:] if s >= self.config.threshold]
        )
        return Placement(merged[0], created=False, merged_from=merged[1], score=best_score)

    def attach(self, story_id: str, features: ArticleFeatures) -> None:
        """Record a copy (duplicate or syndicated) in its original's story without re-scoring."""
        story = self.stories.get(story_id)
        if story is None:
            return
        story.article_ids.append(features.article_id)
        story.last_time = max(story.last_time, features.time)

    def _learn(self, counts: Counter[str], entity_counts: Counter[str]) -> None:
        self._docs += 1
        self._df.update(counts.keys())
        self._df.update(entity_counts.keys())
        if len(self._df) > self.config.max_vocabulary:
            # Bound memory: halve every count (ratios, hence IDF, barely move) and forget the
            # terms that fall to zero: names of long-gone stories, typos, one-off words.
            self._df = Counter({t: c // 2 for t, c in self._df.items() if c > 1})
            self._docs //= 2

    def _new_story(self, features: ArticleFeatures) -> Story:
        story = Story(story_id_for(features.article_id), features.time, features.time)
        self.stories[story.story_id] = story
        return story

    def _absorb(
        self, story: Story, features: ArticleFeatures, counts: Counter[str], ents: Counter[str]
    ) -> None:
        story.article_ids.append(features.article_id)
        story.first_time = min(story.first_time, features.time)
        story.last_time = max(story.last_time, features.time)
        _add_counts(story.term_sums, counts)
        _add_counts(story.entity_counts, ents)
        story.revision += 1
        self._reindex(story)

    def _reindex(self, story: Story) -> None:
        cfg = self.config
        if len(story.term_sums) > 4 * cfg.centroid_terms:
            # Bound the profile: keep the heaviest terms (raw weight) so memory per story is flat.
            story.term_sums = Counter(dict(_heaviest(story.term_sums, 2 * cfg.centroid_terms)))
        top_terms = [t for t, _ in self._top_terms(story)]
        top_ents = ["@" + e for e, _ in story.entity_counts.most_common(30)]
        keys = set(top_terms) | set(top_ents)
        for key in story.indexed - keys:
            self._unpost(key, story.story_id)
        postings, story_id = self._postings, story.story_id
        for key in keys - story.indexed:
            # Not ``setdefault(key, set())``: that made (and dropped) a set for every key that
            # has one already, most of the 43 keys a story indexes anew an article.
            members = postings.get(key)
            if members is None:
                postings[key] = {story_id}
            else:
                members.add(story_id)
        story.indexed = keys

    def _merge_close(self, story: Story, others: list[str]) -> tuple[str, tuple[str, ...]]:
        """Merge live stories that now look like one event into the oldest of them."""
        absorbed: list[str] = []
        survivor = story
        for other_id in others:
            other = self.stories.get(other_id)
            if other is None or other is survivor:
                continue
            mine, theirs = self._profile(survivor), self._profile(other)
            sv, se, ov, oe = mine.terms, mine.entities, theirs.terms, theirs.entities
            w = self.config.entity_weight
            score = (1 - w) * _cosine(sv, ov) + w * (_cosine(se, oe) if se and oe else 0.0)
            if score < self.config.merge_threshold:
                continue
            keep, gone = sorted((survivor, other), key=lambda s: (s.first_time, s.story_id))
            keep.article_ids.extend(gone.article_ids)
            _add_counts(keep.term_sums, gone.term_sums)
            _add_counts(keep.entity_counts, gone.entity_counts)
            keep.first_time = min(keep.first_time, gone.first_time)
            keep.last_time = max(keep.last_time, gone.last_time)
            keep.revision += 1
            self._drop(gone)
            self._reindex(keep)
            absorbed.append(gone.story_id)
            survivor = keep
        return survivor.story_id, tuple(absorbed)

    def _unpost(self, key: str, story_id: str) -> None:
        postings = self._postings.get(key)
        if postings is not None:
            postings.discard(story_id)
            if not postings:
                del self._postings[key]  # else every term ever seen keeps an empty set

    def _drop(self, story: Story) -> None:
        for key in story.indexed:
            self._unpost(key, story.story_id)
        self.stories.pop(story.story_id, None)

    def evict(self, now: datetime) -> list[Story]:
        """Forget stories quiet for longer than the retention period; returns them.

        Stories quiet for longer than the quiet period (and ``DORMANT_SLACK``) stay held but
        leave the inverted index, in the same pass: a candidate must be within the quiet
        period of the article's own time, so the index needs live stories only. Dormant ones
        were most of every posting list in a long stream (stories are held for the retention,
        14 days, and live for 4); every query walked them and then dropped them, and they
        counted towards ``max_postings``, which is meant for terms shared by many *live*
        stories. A rested story that takes an article again (a merge) is indexed again by
        :meth:`_reindex`.
        """
        horizon = now - self.config.retention
        resting = now - self.config.quiet_period - DORMANT_SLACK
        old = []
        for story in self.stories.values():
            if story.last_time < horizon:
                old.append(story)
            elif story.indexed and story.last_time < resting:
                for key in story.indexed:
                    self._unpost(key, story.story_id)
                story.indexed = set()
        for story in old:
            self._drop(story)
        return old
