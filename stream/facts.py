"""The candidate pool of a story: one entry per fact, attributed to every outlet that carried it.

Five outlets carrying the same quote give five near-identical sentences; summarising them as five
candidates is how single-document summarisers repeat themselves. Here each incoming sentence either
joins the fact it restates (adding its article and outlet) or becomes a new fact. The pool is
bounded: past ``max_facts`` the least-supported, latest-positioned facts are dropped, so a story's
state and the cost of summarising it stay flat however many articles it gathers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, Field

from stream.models import PreparedArticle
from stream.quality import is_summary_worthy, strip_dateline
from stream.text import terms

SAME_FACT = 0.6
"""Term Jaccard at or above which two sentences state the same fact (measured on wire rewrites)."""


class Fact(BaseModel):
    """A sentence-level fact with its attribution."""

    text: str
    terms: list[str]
    article_ids: list[str]
    sources: list[str]
    time: datetime
    position: int = Field(description="Smallest sentence index at which an article carried it.")
    seq: int = Field(description="Arrival order in the pool; breaks ties deterministically.")

    @property
    def support(self) -> int:
        """How many distinct outlets carried this fact."""
        return len(self.sources)


def same_fact(a: set[str], b: set[str]) -> bool:
    """Say whether two sentences' term sets state the same fact."""
    if not a or not b:
        return False
    shared = len(a & b)
    return shared / len(a | b) >= SAME_FACT or shared / min(len(a), len(b)) >= 0.9


class FactPool(BaseModel):
    """The bounded candidate pool of one story."""

    facts: list[Fact] = Field(default_factory=list)
    next_seq: int = 0
    max_facts: int = 150

    def find(self, sentence_terms: set[str]) -> Fact | None:
        """Return the fact a sentence restates, if any (best term overlap wins)."""
        best: tuple[float, int] | None = None
        for index, fact in enumerate(self.facts):
            other = set(fact.terms)
            if same_fact(sentence_terms, other):
                overlap = len(sentence_terms & other) / len(sentence_terms | other)
                if best is None or overlap > best[0]:
                    best = (overlap, index)
        return None if best is None else self.facts[best[1]]

    def add_article(self, article: PreparedArticle, *, copy_of: str | None = None) -> list[Fact]:
        """Fold an article's sentences into the pool; returns the facts that are new.

        A copy (``copy_of`` set) only adds attribution to facts already in the pool: its text is
        someone else's, so it must not add candidates of its own.
        """
        new: list[Fact] = []
        for position, raw in enumerate(article.sentences):
            text = strip_dateline(raw)
            sentence_terms = set(terms(text))
            if not sentence_terms:
                continue
            fact = self.find(sentence_terms)
            if fact is not None:
                if article.id not in fact.article_ids:
                    fact.article_ids.append(article.id)
                if article.source not in fact.sources:
                    fact.sources.append(article.source)
                fact.position = min(fact.position, position)
                continue
            if copy_of is not None or not is_summary_worthy(text):
                continue
            fact = Fact(
                text=text,
                terms=sorted(sentence_terms),
                article_ids=[article.id],
                sources=[article.source],
                time=article.event_time,
                position=position,
                seq=self.next_seq,
            )
            self.next_seq += 1
            self.facts.append(fact)
            new.append(fact)
        self._bound(keep={f.seq for f in new})
        return new

    def _bound(self, keep: Iterable[int] = (), protected: Iterable[str] = ()) -> None:
        if len(self.facts) <= self.max_facts:
            return
        pinned = set(keep) | {f.seq for f in self.facts if f.text in set(protected)}
        ranked = sorted(self.facts, key=lambda f: (f.seq in pinned, f.support, -f.position, -f.seq))
        drop = {f.seq for f in ranked[: len(self.facts) - self.max_facts]}
        self.facts = [f for f in self.facts if f.seq not in drop]

    def absorb(self, other: FactPool) -> None:
        """Merge another story's pool into this one (when two stories merge)."""
        for fact in sorted(other.facts, key=lambda f: f.seq):
            match = self.find(set(fact.terms))
            if match is None:
                self.facts.append(fact.model_copy(update={"seq": self.next_seq}))
                self.next_seq += 1
                continue
            match.article_ids.extend(a for a in fact.article_ids if a not in match.article_ids)
            match.sources.extend(s for s in fact.sources if s not in match.sources)
        self._bound()
