"""The candidate pool of a story: one entry per fact, attributed to every outlet that carried it.

Five outlets carrying the same quote give five near-identical sentences; summarising them as five
candidates is how single-document summarisers repeat themselves. Here each incoming sentence either
joins the fact it restates (adding its article and outlet) or becomes a new fact. The pool is
bounded: past ``max_facts`` the least-supported, latest-positioned facts are dropped, so a story's
state and the cost of summarising it stay flat however many articles it gathers.
"""

from __future__ import annotations

import heapq
import sys
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from functools import cached_property
from itertools import chain

import numpy as np
from pydantic import BaseModel, Field, model_validator

from stream.models import PreparedArticle, construct_trusted, every_field
from stream.quality import is_summary_worthy, strip_dateline
from stream.sumy_scoring import TfRow, lexrank_tf
from stream.text import columns_in, distinct_ids, term_ids, terms

SAME_FACT = 0.6
"""Term Jaccard at or above which two sentences state the same fact (measured on wire rewrites)."""
CONTAINED = 0.9
"""...or the share of the shorter sentence's terms found in the longer one."""


class Fact(BaseModel):
    """A sentence-level fact with its attribution."""

    text: str
    terms: list[str] = Field(
        default_factory=list,
        exclude=True,
        description="Its content terms (fact_terms); not stored: they follow from the text.",
    )
    article_ids: list[str]
    sources: list[str]
    time: datetime
    position: int = Field(description="Smallest sentence index at which an article carried it.")
    seq: int = Field(description="Arrival order in the pool; breaks ties deterministically.")

    @model_validator(mode="after")
    def _terms_from_text(self) -> Fact:
        """Derive the terms a stored fact leaves out (a third of a story state's bytes).

        The same computation that made them (:meth:`FactPool.add_article`): the text kept is
        the sentence without its dateline, and the fact pool reads its terms from that text.
        """
        if not self.terms:
            self.__dict__["terms"] = fact_terms(terms(self.text))
        _share_fields_set(self)
        return self

    # cached_property, not PrivateAttr: after the first call it is a plain instance-dict read,
    # where pydantic's private attributes go through a slow __getattr__ (measured: 11 % of a
    # worker's time). Neither is serialised; both derive from the immutable text.
    @cached_property
    def lexrank_tf(self) -> TfRow:
        """The fact's LexRank tf row, built once: the fact is rated on every version."""
        return lexrank_tf(self.text)

    @cached_property
    def word_count(self) -> int:
        """The fact's length in words, as the summary's word budget counts them (once a fact)."""
        return len(self.text.split())

    @property
    def concepts(self) -> list[str]:
        """The units of information the summary tries to cover: the fact's content-term stems.

        Unigrams, not Gillick & Favre's bigrams: a story has five to fifty articles, too few for
        bigrams to recur across articles (measured: the seed story's summary covered 4 of its 8
        nuggets with bigrams, 6 with unigrams; ``bench/summary_eval.py``). Distinct already:
        the terms are a sorted set.
        """
        return self.terms

    @property
    def support(self) -> int:
        """How many articles carried this fact (copies included).

        Articles, not outlets: the same on real multi-outlet stories (measured), and it still
        works when a feed leaves every article the same outlet name (the seed story with one
        shared source name: 3 of 8 nuggets counting outlets, 6 counting articles).
        """
        return len(self.article_ids)


def fact_terms(sentence_terms: Iterable[str]) -> list[str]:
    """A fact's terms as it keeps them: distinct, sorted, and interned.

    Interned, a stem is one string object in every fact of every story that holds it, not a
    copy a sentence (split from its encoded stems): a full story's pool held 72 kB of copies,
    memory that each of its versions reads. Interning here, a fact's terms once, rather than
    where every sentence's stems are decoded: there it cost 3 % of the summary work.
    """
    return sorted(set(map(sys.intern, sentence_terms)))


_EVERY_FIELD: set[str] = every_field(Fact)
"""The fields set every fact shares (see :func:`_share_fields_set`)."""


def _share_fields_set(fact: Fact) -> None:
    """Give a fact the one fields set all facts share, in place of a set of its own.

    pydantic keeps a set of the fields given per model instance (for ``exclude_unset``, which
    no fact is dumped with): 700 bytes a fact, a sixth of a full story's memory in the summary
    helper, and memory a story's every version reads cold. Every field of a fact is always
    set, so one set serves all (pydantic only ever adds names to it, names it holds already).
    """
    object.__setattr__(fact, "__pydantic_fields_set__", _EVERY_FIELD)


def concept_weight(articles: int, *, update: bool = False) -> int:
    """A concept's worth to a summary: the articles beyond the first that carried it.

    What one article alone says is its detail; what several report is the story (Gillick &
    Favre's document-frequency weights). Measured against plain counts, this took the seed
    story from 4 to 6 of its 8 nuggets with no loss on the sample stories.

    In an ``update`` summary (for a reader of the earlier articles) the first article counts
    too: a detail new to the reader is what the update is for. Measured on the seed story split
    3 seen / 2 new: ROUGE-1 0.29 -> 0.52 against our update reference.
    """
    return max(0, articles - (0 if update else 1))


def concept_weights_of(articles: np.ndarray, *, update: bool = False) -> np.ndarray:
    """:func:`concept_weight` of many concepts at once (the same rule, over an array of counts)."""
    weights: np.ndarray = np.maximum(0, articles - (0 if update else 1))
    return weights


def same_fact(a: set[str] | frozenset[str], b: set[str] | frozenset[str]) -> bool:
    """Say whether two sentences' term sets state the same fact."""
    if not a or not b:
        return False
    shared = len(a & b)
    return shared / len(a | b) >= SAME_FACT or shared / min(len(a), len(b)) >= CONTAINED


def _jaccard_if_same(
    ids: np.ndarray, lengths: np.ndarray, other_ids: np.ndarray, other_lengths: np.ndarray
) -> np.ndarray:
    """Pairwise term Jaccard where :func:`same_fact` holds, else -1 (one matrix product).

    Each side comes as its term sets' :func:`term_ids`, concatenated (``ids``), and the size of
    each set (``lengths``): flat arrays that the pool keeps from article to article (building
    them from a list of per-fact arrays was a fifth of this function's time).
    """
    if not len(lengths) or not len(other_lengths):
        return np.full((len(lengths), len(other_lengths)), -1.0)
    # Only terms the sentences have can be shared: the vocabulary is theirs (a few hundred
    # terms), so the one-hot rows stay small and the product cheap (a pool has thousands).
    # Every term of every other is looked up in it at once (columns_in), not one by one.
    # float32 0/1 cells: the counts they sum to are exact below 2**24, in half the memory
    # and time of float64 (the product was a third of this function's time).
    vocabulary = distinct_ids(ids)
    matrix = np.zeros((len(lengths), len(vocabulary)), dtype=np.float32)
    matrix[np.repeat(np.arange(len(lengths)), lengths), np.searchsorted(vocabulary, ids)] = 1.0
    other_rows = np.repeat(np.arange(len(other_lengths)), other_lengths)
    found, hit = columns_in(vocabulary, other_ids)
    other_matrix = np.zeros((len(other_lengths), len(vocabulary)), dtype=np.float32)
    other_matrix[other_rows[hit], found[hit]] = 1.0
    shared = (matrix @ other_matrix.T).astype(np.float64)
    sizes = lengths.astype(float)[:, None]
    other_sizes = other_lengths.astype(float)[None, :]
    jaccard = shared / (sizes + other_sizes - shared)
    same = (jaccard >= SAME_FACT) | (shared / np.minimum(sizes, other_sizes) >= CONTAINED)
    result: np.ndarray = np.where(same, jaccard, -1.0)
    return result


def _flat_terms(term_sets: Sequence[Collection[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Term sets as :func:`_jaccard_if_same` takes them: all their ids, and each set's size.

    Each one distinct terms (a set, or a fact's sorted terms): only their ids count, not order.
    """
    lengths = np.fromiter(map(len, term_sets), dtype=np.intp, count=len(term_sets))
    return term_ids(chain.from_iterable(term_sets)), lengths


def _best_of(scored: np.ndarray) -> list[int]:
    """Per row of :func:`_jaccard_if_same` scores, the column of the best match, or -1."""
    if not scored.size:
        return [-1] * len(scored)
    best = scored.argmax(axis=1)
    found = scored[np.arange(len(scored)), best] >= 0
    matches: list[int] = np.where(found, best, -1).tolist()
    return matches


class FactPool(BaseModel):
    """The bounded candidate pool of one story."""

    facts: list[Fact] = Field(default_factory=list)
    next_seq: int = 0
    max_facts: int = 150

    @cached_property
    def fact_json(self) -> dict[int, str]:
        """Fact seq -> the fact's JSON, kept while the fact is unchanged; not serialised.

        A story's state is written on every version, and its pool is most of it (30 of 40 kB
        for the stories a busy stream reaches, ``bench/replay.py --stage summary``), yet few of
        its facts change from one version to the next. A fact's entry goes when the fact
        changes (:meth:`add_article` credits it; a merge drops them all). The price: about
        30 kB more a busy parsed state (the helpers' peak RSS at the e2e steady state 2,309 MB
        against 2,250 MB).
        """
        return {}

    def json_text(self) -> str:
        """The pool's JSON (``model_dump_json``'s, byte for byte), from its facts' kept JSON."""
        kept = self.fact_json
        for fact in [f for f in self.facts if f.seq not in kept]:
            kept[fact.seq] = fact.model_dump_json()
        facts = ",".join(map(kept.__getitem__, [f.seq for f in self.facts]))
        rest = self.model_dump_json(exclude={"facts"})  # "facts" is the first field
        return f'{{"facts":[{facts}],{rest[1:]}'

    @cached_property
    def concept_articles(self) -> dict[str, dict[str, int]]:
        """Concept -> article id -> how many facts of that article carry the concept.

        Counts, not sets, so a dropped fact can be taken out exactly; kept up to date by
        :meth:`add_article` and :meth:`_bound`, rebuilt after a merge; not serialised.
        (Plain dicts: a ``Counter`` per new concept cost 4 % of a loaded worker.)
        """
        carriers: dict[str, dict[str, int]] = {}
        for fact in self.facts:
            self._count(carriers, fact, fact.article_ids, 1)
        return carriers

    def concept_weights(self) -> dict[str, int]:
        """Weight of each concept: how many articles beyond the first carried it."""
        return {c: concept_weight(len(s)) for c, s in self.concept_articles.items()}

    @staticmethod
    def _count(
        carriers: dict[str, dict[str, int]], fact: Fact, article_ids: Iterable[str], sign: int
    ) -> None:
        for concept in fact.concepts:
            counts = carriers.get(concept)
            if counts is None:
                counts = carriers[concept] = {}
            for article_id in article_ids:
                left = counts.get(article_id, 0) + sign
                if left > 0:
                    counts[article_id] = left
                else:
                    counts.pop(article_id, None)
            if not counts:
                del carriers[concept]

    def _credit(self, fact: Fact, article_ids: Iterable[str], sign: int = 1) -> None:
        if "concept_articles" in self.__dict__:
            self._count(self.concept_articles, fact, article_ids, sign)

    def _credit_article(self, facts: list[Fact], article_id: str) -> None:
        """Count one article into every fact it carried at once (as ``_credit`` one by one).

        A story's facts share most of their concepts: summed first (in C), each concept's count
        is touched once an article instead of once a fact (4 % of a loaded worker before).
        """
        if "concept_articles" not in self.__dict__ or not facts:
            return
        carriers = self.concept_articles
        for concept, times in Counter(chain.from_iterable(f.concepts for f in facts)).items():
            counts = carriers.get(concept)
            if counts is None:
                carriers[concept] = {article_id: times}
            else:
                counts[article_id] = counts.get(article_id, 0) + times

    @cached_property
    def term_index(self) -> tuple[np.ndarray, np.ndarray]:
        """Every fact's :func:`term_ids`, concatenated in pool order, and each fact's term count.

        Every new sentence is matched against the whole pool: kept flat between articles (and
        brought up to date by :meth:`add_article` and :meth:`_bound`), the pool's side of that
        product is built once a story, not once an article from 150 small arrays. Not
        serialised; rebuilt after a merge.
        """
        return _flat_terms([f.terms for f in self.facts])

    def _forget_derived(self) -> None:
        self.__dict__.pop("concept_articles", None)
        self.__dict__.pop("term_index", None)
        self.__dict__.pop("fact_json", None)

    def find(self, sentence_terms: Collection[str]) -> Fact | None:
        """Return the fact a sentence restates, if any (best term overlap wins)."""
        scored = _jaccard_if_same(
            *_flat_terms([frozenset(sentence_terms)]),
            *_flat_terms([f.terms for f in self.facts]),
        )
        match = _best_of(scored)[0]
        return self.facts[match] if match >= 0 else None

    def add_article(self, article: PreparedArticle, *, copy_of: str | None = None) -> list[Fact]:
        """Fold an article's sentences into the pool; returns the facts that are new.

        A copy (``copy_of`` set) only adds attribution to facts already in the pool: its text is
        someone else's, so it must not add candidates of its own.
        """
        candidates = []
        for position, raw in enumerate(article.sentences):
            text = strip_dateline(raw)
            sentence_terms = frozenset(terms(text))
            if sentence_terms:
                candidates.append((position, text, sentence_terms))
        # Every sentence against every fact already here, at once (sparse overlap counts):
        # the pool holds up to 150 facts and an article 20-40 sentences.
        # ...and against the article's own earlier sentences (a fact it restates itself), in
        # the same product: one call's fixed cost instead of two (a fifth of the pair's time).
        ids, lengths = _flat_terms([c[2] for c in candidates])
        held_ids, held_lengths = self.term_index
        held = len(self.facts)
        scored = _jaccard_if_same(
            ids, lengths, np.concatenate((held_ids, ids)), np.concatenate((held_lengths, lengths))
        )
        matches = _best_of(scored[:, :held])
        inner = scored[:, held:]
        new: list[Fact] = []
        credited: list[Fact] = []
        new_at: dict[int, Fact] = {}  # sentence index -> the new fact it became
        seq = self.next_seq  # counted here, set once: a model's attribute write is slow
        kept_json = self.fact_json
        for index, ((position, text, sentence_terms), match) in enumerate(
            zip(candidates, matches, strict=True)
        ):
            fact = self.facts[match] if match >= 0 else None
            if fact is None and new_at:
                # The best of the article's new facts so far; argmax takes the first of equals,
                # the earliest sentence (one numpy call, not a Python key a new fact).
                earlier_ones = list(new_at)
                scores = inner[index, earlier_ones]
                best = int(scores.argmax())
                if scores[best] >= 0:
                    fact = new_at[earlier_ones[best]]
            if fact is not None:
                kept_json.pop(fact.seq, None)
                if article.id not in fact.article_ids:
                    fact.article_ids.append(article.id)
                    credited.append(fact)
                if article.source not in fact.sources:
                    fact.sources.append(article.source)
                if position < fact.position:
                    fact.position = position
                continue
            if copy_of is not None or not is_summary_worthy(text):
                continue
            fact = construct_trusted(
                Fact,
                text=text,
                terms=fact_terms(sentence_terms),
                article_ids=[article.id],
                sources=[article.source],
                time=article.event_time,
                position=position,
                seq=seq,
            )
            seq += 1
            self.facts.append(fact)
            credited.append(fact)
            new.append(fact)
            new_at[index] = fact
        self.next_seq = seq
        if new_at:
            became = np.zeros(len(candidates), dtype=bool)
            became[list(new_at)] = True
            self.__dict__["term_index"] = (
                np.concatenate((held_ids, ids[np.repeat(became, lengths)])),
                np.concatenate((held_lengths, lengths[became])),
            )
        self._credit_article(credited, article.id)
        self._bound(keep={f.seq for f in new})
        return new

    def _bound(self, keep: Iterable[int] = ()) -> None:
        excess = len(self.facts) - self.max_facts
        if excess <= 0:
            return
        pinned = set(keep)
        # The ``excess`` smallest of (pinned, support, -position, -seq), keys made in one
        # comprehension (seq is unique, so no two tie): the order a sort with a key function
        # per fact gave, without a Python call per fact on every article of a full pool.
        ranked = heapq.nsmallest(
            excess,
            [(f.seq in pinned, len(f.article_ids), -f.position, -f.seq) for f in self.facts],
        )
        drop = {-key[3] for key in ranked}
        kept = [f.seq not in drop for f in self.facts]
        kept_json = self.fact_json
        for fact, keeps in zip(self.facts, kept, strict=True):
            if not keeps:
                self._credit(fact, fact.article_ids, sign=-1)
                kept_json.pop(fact.seq, None)
        self.facts = [f for f, keeps in zip(self.facts, kept, strict=True) if keeps]
        if "term_index" in self.__dict__:
            held_ids, held_lengths = self.term_index
            mask = np.array(kept, dtype=bool)
            self.__dict__["term_index"] = (
                held_ids[np.repeat(mask, held_lengths)],
                held_lengths[mask],
            )

    def absorb(self, other: FactPool) -> None:
        """Merge another story's pool into this one (when two stories merge)."""
        for fact in sorted(other.facts, key=lambda f: f.seq):
            match = self.find(fact.terms)
            if match is None:
                copied = fact.model_copy(update={"seq": self.next_seq})
                _share_fields_set(copied)
                self.facts.append(copied)
                self.next_seq += 1
                continue
            match.article_ids.extend(a for a in fact.article_ids if a not in match.article_ids)
            match.sources.extend(s for s in fact.sources if s not in match.sources)
        self._forget_derived()
        self._bound()
