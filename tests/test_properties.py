"""Property tests: the core never raises on arbitrary text and keeps its invariants."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.clean import clean_paragraphs
from stream.prepare import Rejected, parse_article
from stream.story import StoryState
from stream.text import _id_table, _IdTable, columns_in, distinct_ids
from stream.tracker import StoryTracker

words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400)
prose = st.lists(
    st.sampled_from(
        "The Minister said harbour strike council vote quake union Monday ships port agreed".split()
    ),
    min_size=0,
    max_size=40,
).map(lambda ws: " ".join(ws) + ".")


@given(words)
def test_cleaner_never_raises(text):
    for paragraph in clean_paragraphs(text):
        assert paragraph.strip() == paragraph and paragraph


@given(st.binary(max_size=300))
def test_parser_rejects_or_accepts_any_bytes(payload):
    try:
        parse_article(payload)
    except Rejected as rejected:
        assert rejected.reason and rejected.error_type


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["A", "B", "C"]), st.lists(prose, min_size=1, max_size=6)),
        min_size=1,
        max_size=8,
    )
)
def test_tracker_and_story_invariants(items):
    tracker = StoryTracker()
    states: dict[str, StoryState] = {}
    for index, (source, sentences) in enumerate(items):
        payload = json.dumps(
            {"id": f"a{index}", "source": source, "body": "\n\n".join(sentences)}
        ).encode()
        try:
            article = parse_article(payload)
        except Rejected:
            continue
        placed = tracker.step(article)
        state = states.setdefault(placed.story_id, StoryState(story_id=placed.story_id))
        state.add(article, placed.dedup.of, placed.dedup.kind)
        update = state.render(article.event_time)
        if update is None:
            continue
        assert set(update.sources) == {s for s in update.sources}
        for sentence in update.sentences:
            assert set(sentence.article_ids) <= set(update.article_ids)
            assert set(sentence.sources) <= set(update.sources)


spacey = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(" \t\n\r\u00a0\u1680\u2003\u200b\u2028\u3000\x0b\x85'’ΣΟσς_.İß")),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ),
    max_size=120,
)


@given(spacey)
def test_text_fast_paths_give_what_the_plain_rules_give(text):
    """normalize_text and words take C shortcuts; these are the rules they must keep."""
    import html
    import unicodedata

    from stream.clean import _CONTROL, _SPACES, normalize_text
    from stream.text import _WORD, words

    plain = unicodedata.normalize("NFKC", html.unescape(text))
    plain = _CONTROL.sub("", plain.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_SPACES.sub(" ", line).strip() for line in plain.split("\n")]
    assert normalize_text(text) == "\n".join(lines)
    assert words(text) == [w.lower().replace("’", "'") for w in _WORD.findall(text)]


@given(st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=60))
def test_distinct_ids_are_numpys_unique(values):
    ids = np.array(values, dtype=np.int64)
    assert np.array_equal(distinct_ids(ids), np.unique(ids))


@given(
    st.lists(st.integers(min_value=0, max_value=2**32 - 1), min_size=1, max_size=200),
    st.lists(st.integers(min_value=0, max_value=2**32 - 1), max_size=40),
    st.lists(st.integers(min_value=1, max_value=2**16), max_size=20),
    st.sampled_from([np.uint32, np.int64]),
    st.integers(min_value=1, max_value=3000),
)
def test_columns_in_is_a_sorted_search_and_check(values, strangers, twins, dtype, size):
    """The hash table path (1,024 ids or more) and the sorted search agree; ``twins`` share an
    id's low bits (the table's slot), the case a hash table can get wrong."""
    base = list(values)
    shift = _IdTable.BITS
    base += [(values[i % len(values)] ^ (t << shift)) & 0xFFFFFFFF for i, t in enumerate(twins)]
    vocabulary = distinct_ids(np.array(base, dtype=dtype))
    pool = np.array(base + strangers, dtype=dtype)
    ids = np.resize(pool, size)
    columns, found = columns_in(vocabulary, ids)
    expected = np.minimum(np.searchsorted(vocabulary, ids), len(vocabulary) - 1)
    assert np.array_equal(found, vocabulary[expected] == ids)
    assert np.array_equal(columns[found], expected[found])
    assert columns.min() >= 0 and columns.max() < len(vocabulary)
    assert not _id_table().columns.any()  # emptied: a later call's stale columns could overrun


def _aligned_as_sets(
    new: list[set[int]], old: list[set[int]], floor: float, match: float
) -> tuple[float, float]:
    """The alignment's definition, on sets: rank pairs by containment both ways, take them
    greedily, each sentence once; the share of each side's terms in the sentences taken."""
    pairs = []
    for i, a in enumerate(new):
        for j, b in enumerate(old):
            shared = len(a & b)
            if shared:
                low = min(shared / len(a), shared / len(b))
                if low >= floor:
                    pairs.append((low, i, j))
    pairs.sort(reverse=True)
    used_new: set[int] = set()
    used_old: set[int] = set()
    for low, i, j in pairs:
        if low >= match and i not in used_new and j not in used_old:
            used_new.add(i)
            used_old.add(j)
    return (
        sum(len(new[i]) for i in used_new) / (sum(map(len, new)) or 1),
        sum(len(old[j]) for j in used_old) / (sum(map(len, old)) or 1),
    )


sentence_terms = st.lists(
    st.lists(st.sampled_from([f"t{n}" for n in range(14)]), max_size=9), max_size=8
)


@settings(max_examples=300, deadline=None)
@given(sentence_terms, sentence_terms)
def test_the_vectorised_alignment_is_the_set_alignment(new_terms, old_terms):
    from types import SimpleNamespace

    from stream.dedup import Alignment, _pack, _Probe, _Stored

    def stored(sentences: list[list[str]]) -> _Stored:
        terms, offsets = _pack(SimpleNamespace(sentence_terms=sentences))
        return _Stored("a", datetime(2026, 12, 1, tzinfo=UTC), terms, offsets)

    new, old = stored(new_terms), stored(old_terms)
    aligned = Alignment(_Probe(new), old, floor=0.3)
    new_sets = [{hash(t) % 2**32 for t in s} for s in new_terms]
    old_sets = [{hash(t) % 2**32 for t in s} for s in old_terms]
    for match in (0.3, 0.5, 0.8):
        assert aligned.coverage(match) == _aligned_as_sets(new_sets, old_sets, 0.3, match)
