"""Multi-document extractive summaries: score facts, pick a non-redundant set, order it.

sumy rates sentences; this layer adds what multi-document news needs and sumy lacks:

- scoring over *facts* (see :mod:`stream.facts`), so a quote carried by five outlets is one
  candidate whose support (number of articles) raises its score instead of five repeats;
- a bounded scoring pool: the ``pool`` best facts by support and position are rated by sumy, so
  cost does not grow with the story (sumy's LexRank is quadratic in pure Python);
- MMR selection under a word budget with a hard redundancy cap;
- stability: facts already in the summary get a bonus, so a new article must bring something
  clearly better to displace one, and an article that adds no new fact changes nothing;
- chronological order, by when a fact was first reported and where in its article.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence, Sized
from dataclasses import dataclass
from itertools import chain

import numpy as np

from stream.facts import Fact, concept_weight, concept_weights_of, same_fact
from stream.sumy_scoring import sumy_scores
from stream.text import terms


@dataclass(frozen=True)
class SummaryConfig:
    """Summary knobs (defaults measured by ``bench/summary_eval.py --sweep``).

    A candidate's value is a weighted sum of: its sumy rating, how many articles carried it, how
    early it came in its article, and the weight of concepts it adds that the summary lacks;
    divided by its length relative to ``reference_words`` to the power ``length_penalty``.
    """

    words: int = 100
    scorer: str = "lexrank"
    pool: int = 40
    sumy_weight: float = 1.0
    support_weight: float = 1.3
    lead_weight: float = 0.35
    concept_weight: float = 5.0
    length_penalty: float = 0.75
    reference_words: int = 18
    redundancy: float = 0.45
    mmr_lambda: float = 0.75
    stability_bonus: float = 0.3


def _term_counts(term_lists: Sequence[Sequence[str]]) -> tuple[np.ndarray, list[str]]:
    """How often each term occurs in each list, and the terms by column (first-seen order)."""
    # dict.fromkeys keeps first-seen order; looking every term up through map stays in C (a
    # setdefault per term in a comprehension was 3 % of the summary work, cProfile).
    vocab = {t: i for i, t in enumerate(dict.fromkeys(chain.from_iterable(term_lists)))}
    columns = np.fromiter(map(vocab.__getitem__, chain.from_iterable(term_lists)), dtype=np.intp)
    rows = np.repeat(np.arange(len(term_lists)), [len(ts) for ts in term_lists])
    width = len(vocab)
    size = len(term_lists) * width
    cells = np.bincount(rows * width + columns, minlength=size)
    counts = cells.reshape(len(term_lists), width).astype(float)
    return counts, list(vocab)


def _tfidf(term_lists: Sequence[Sequence[str]]) -> np.ndarray:
    """Row-normalised TF-IDF matrix of a few term lists (vocabulary local to the call)."""
    return _weigh(_term_counts(term_lists)[0])


def _weigh(counts: np.ndarray) -> np.ndarray:
    """TF-IDF rows, normalised, of a term-count matrix (document frequencies from its rows)."""
    df = (counts > 0).sum(axis=0)
    matrix = counts * (np.log((1 + len(counts)) / (1 + df)) + 1.0)
    # ``np.linalg.norm(matrix, axis=1)``'s own arithmetic (it sums the squares with add.reduce),
    # without its dispatch; a row of zeros keeps norm 1 and stays zeros, as the masked divide
    # left it. Both run on every version, for the selection and the headline.
    norms = np.sqrt(np.add.reduce(matrix * matrix, axis=1, keepdims=True))
    norms[norms == 0] = 1.0
    normalised: np.ndarray = matrix / norms
    return normalised


def _normalise(values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    top = array.max() if array.size else 0.0
    return array / top if top > 0 else array


def priors(facts: Sequence[Fact], config: SummaryConfig) -> list[float]:
    """Cheap score before sumy: articles that carried each fact, and how early it came.

    One comprehension for all facts: a function and a property call per fact, on every
    version, were 3 % of the summary work (cProfile).
    """
    support, lead, log2 = config.support_weight, config.lead_weight, math.log2
    return [support * log2(1 + len(f.article_ids)) + lead / (1 + f.position) for f in facts]


def score_facts(facts: Sequence[Fact], config: SummaryConfig) -> list[float]:
    """Static value of each fact: sumy's rating, article support and lead position (normalised)."""
    rows = [f.lexrank_tf for f in facts] if config.scorer == "lexrank" else None
    rated = (
        _normalise(sumy_scores([f.text for f in facts], config.scorer, rows))
        if config.sumy_weight
        else 0
    )
    support = _normalise([math.log2(1 + f.support) for f in facts])
    lead = np.array([1.0 / (1 + f.position) for f in facts])
    total = config.sumy_weight * rated + config.support_weight * support + config.lead_weight * lead
    return [float(x) for x in total]


def concept_weights(facts: Sequence[Fact], *, update: bool = False) -> dict[str, int]:
    """Weight of each concept (see :func:`stream.facts.concept_weight`) over ``facts``."""
    carriers: dict[str, set[str]] = {}
    for fact in facts:
        for concept in fact.concepts:
            carriers.setdefault(concept, set()).update(fact.article_ids)
    return {c: concept_weight(len(s), update=update) for c, s in carriers.items()}


def select(
    facts: Sequence[Fact],
    config: SummaryConfig,
    previous: Sequence[str] = (),
    carriers: Mapping[str, Sized] | None = None,
    known: frozenset[str] | set[str] | None = None,
) -> list[Fact]:
    """Choose the summary facts: MMR under the word budget, previous picks favoured, in order.

    ``carriers`` maps each concept of ``facts`` to the articles carrying it, when the caller keeps
    that up to date (:attr:`FactPool.concept_articles`); otherwise weights are computed here.
    With ``known``, the concepts a reader already has, this is an update summary: those
    concepts count as covered, and the rest are weighted for an update (see ``concept_weight``).
    """
    if not facts:
        return []
    kept = set(previous)
    # Ranked by (kept, prior, -seq), compared as tuples in C; seq is unique in a pool, so the
    # index that carries each fact along is never compared.
    ranked = sorted(
        zip(
            [f.text in kept for f in facts],
            priors(facts, config),
            [-f.seq for f in facts],
            range(len(facts)),
            strict=True,
        ),
        reverse=True,
    )
    pool = [facts[entry[3]] for entry in ranked[: max(config.pool, len(kept))]]
    static = score_facts(pool, config)
    word_counts = np.array([f.word_count for f in pool])
    lengths = np.maximum(1.0, word_counts / config.reference_words) ** config.length_penalty
    bonus = [1 + config.stability_bonus if f.text in kept else 1.0 for f in pool]
    # One term-by-fact matrix serves both the similarity and the concepts: a fact's concepts
    # are its (distinct) terms.
    counts, column_terms = _term_counts([f.terms for f in pool])
    vectors = _weigh(counts)
    similarity = vectors @ vectors.T
    update = known is not None
    if carriers is None:
        all_weights = concept_weights(facts, update=update)
        weights = np.array([all_weights[c] for c in column_terms], dtype=np.int64)
    else:  # only the scored facts' concepts are ever looked up
        carried = np.fromiter(map(len, map(carriers.__getitem__, column_terms)), dtype=np.int64)
        weights = concept_weights_of(carried, update=update)
    holds = counts > 0
    holding = holds.astype(np.int64)
    # Greedy MMR, vectorised: each fact's uncovered concept weight is kept up to date as
    # concepts get covered, and its redundancy as the largest similarity to a chosen fact.
    # Same arithmetic, order and tie-breaking (lowest index) as a loop over the candidates.
    covered = np.array(
        [c in known for c in column_terms] if known else [False] * len(column_terms), dtype=bool
    )
    fresh = holding @ np.where(covered, 0, weights)
    top_concept = int(fresh.max(initial=0)) or 1
    static_v, bonus_v = np.array(static), np.array(bonus)
    redundancy = np.zeros(len(pool))
    available = np.ones(len(pool), dtype=bool)
    chosen: list[int] = []
    used = 0
    while available.any():
        value = bonus_v * (static_v + config.concept_weight * (fresh / top_concept)) / lengths
        gains = config.mmr_lambda * value - (1 - config.mmr_lambda) * redundancy
        best = int(np.argmax(np.where(available, gains, -np.inf)))
        chosen.append(best)
        used += int(word_counts[best])
        if used >= config.words:
            break
        # What the cap or the budget now rules out can never be picked: drop it at once rather
        # than meet it in a later round (same picks; the loop runs once per pick, not per fact).
        available &= (similarity[:, best] < config.redundancy) & (
            word_counts <= config.words - used
        )
        available[best] = False
        redundancy = np.maximum(redundancy, similarity[:, best])
        newly = holds[best] & ~covered
        fresh -= holding[:, newly] @ weights[newly]
        covered |= holds[best]
    picked = [pool[i] for i in chosen]
    return sorted(picked, key=lambda f: (f.time, f.position, f.seq))


def choose_headline(
    titles: Sequence[str],
    facts: Sequence[Fact],
    terms_of: Callable[[str], Sequence[str]] = terms,
) -> str:
    """Pick the most central title: closest to the other titles and to the story's facts.

    ``terms_of``: :func:`~stream.text.terms`, or a caller's store of its titles' terms.
    """
    candidates = [t for t in dict.fromkeys(t.strip() for t in titles) if len(t.split()) >= 3]
    if not candidates:
        return facts[0].text if facts else ""
    if len(candidates) == 1:
        return candidates[0]
    title_terms = [terms_of(t) for t in candidates]
    story_terms = [t for f in facts[:50] for t in f.terms]
    vectors = _tfidf([*title_terms, story_terms])
    similarity = vectors @ vectors.T
    n = len(candidates)
    centrality = (similarity[:n, :n].sum(axis=1) - 1.0) / max(1, n - 1) + similarity[:n, n]
    # Tie-break towards the earliest title (list order) for stability.
    return candidates[int(np.argmax(centrality.round(6)))]


def novel_facts(new: Sequence[Fact], seen: Sequence[Fact]) -> list[Fact]:
    """Facts of the new articles that a reader of the seen articles does not know yet."""
    seen_terms = [set(f.terms) for f in seen]
    return [f for f in new if not any(same_fact(set(f.terms), s) for s in seen_terms)]
