"""Property tests: the core never raises on arbitrary text and keeps its invariants."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.clean import clean_paragraphs
from stream.prepare import Rejected, parse_article
from stream.story import StoryState
from stream.text import distinct_ids
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
