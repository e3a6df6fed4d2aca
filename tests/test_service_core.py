"""The pure parts behind the service surface: story view, alert rules, OpenAPI document."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from agents.metrics import Metrics
from agents.openapi import openapi_document, render_openapi
from stream.alerts import AlertRules, AlertState, evaluate
from stream.models import StoryUpdate, SummarySentence
from stream.views import StoriesQuery, StoryView

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def update(
    story: str,
    version: int,
    sources: list[str],
    *,
    minutes: float = 0,
    first: float = 0,
    sentences: list[str] | None = None,
    headline: str = "Quake hits valley",
    merged_from: list[str] | None = None,
) -> StoryUpdate:
    texts = sentences or [f"{story} sentence {version}."]
    return StoryUpdate(
        story_id=story,
        version=version,
        updated_at=T0 + timedelta(minutes=minutes, seconds=version),
        first_seen=T0 + timedelta(minutes=first),
        last_event=T0 + timedelta(minutes=minutes),
        headline=headline,
        sentences=[SummarySentence(text=t, article_ids=["a"], sources=sources[:1]) for t in texts],
        article_ids=[f"{story}-{i}" for i in range(len(sources))],
        sources=sources,
        merged_from=merged_from or [],
    )


# -- story view ---------------------------------------------------------------------------------


def test_view_keeps_latest_version_and_history_of_changes():
    view = StoryView()
    assert view.apply(update("s1", 1, ["A"], sentences=["One.", "Two."])) is not None
    change = view.apply(update("s1", 2, ["A", "B"], sentences=["One.", "Three."], minutes=5))
    assert change is not None
    assert change.added_sentences == ["Three."] and change.removed_sentences == ["Two."]
    assert change.new_sources == ["B"] and change.new_articles == 1
    assert not change.headline_changed
    assert view.apply(update("s1", 2, ["A", "B"])) is None  # a redelivered version changes nothing
    assert view.apply(update("s1", 1, ["A"])) is None
    history = view.history("s1")
    assert history is not None and [v.version for v in history.versions] == [1, 2]
    card = view.card("s1")
    assert card is not None and card.version == 2 and card.versions == 2 and card.article_count == 2


def test_view_filters_orders_and_pages():
    view = StoryView()
    view.apply(update("quake", 1, ["A", "B", "C"], minutes=10, headline="Quake hits valley"))
    view.apply(update("rates", 1, ["A"], minutes=20, headline="Central bank raises rates"))
    view.apply(update("strike", 1, ["B", "C"], minutes=30, headline="Port workers strike"))
    ids = lambda page: [c.story_id for c in page.items]  # noqa: E731
    assert ids(view.page(StoriesQuery())) == ["strike", "rates", "quake"]
    assert ids(view.page(StoriesQuery(order="size"))) == ["quake", "strike", "rates"]
    assert ids(view.page(StoriesQuery(min_sources=2))) == ["strike", "quake"]
    assert ids(view.page(StoriesQuery(source="A"))) == ["rates", "quake"]
    assert ids(view.page(StoriesQuery(q="BANK raises"))) == ["rates"]
    assert ids(view.page(StoriesQuery(q="bank strike"))) == []
    assert ids(view.page(StoriesQuery(since=T0 + timedelta(minutes=15)))) == ["strike", "rates"]
    assert ids(view.page(StoriesQuery(until=T0 - timedelta(minutes=1)))) == []
    page = view.page(StoriesQuery(limit=1, offset=1))
    assert ids(page) == ["rates"] and page.total == 3
    # Searched words follow the latest version (they are made when a search needs them).
    view.apply(update("rates", 2, ["A"], minutes=25, headline="Central bank holds rates"))
    assert ids(view.page(StoriesQuery(q="bank holds"))) == ["rates"]
    assert ids(view.page(StoriesQuery(q="bank raises"))) == []


def test_view_redirects_merged_stories_and_evicts_quiet_ones():
    view = StoryView(retention=timedelta(days=1))
    view.apply(update("a", 1, ["A"]))
    view.apply(update("b", 1, ["B"]))
    view.apply(update("a", 2, ["A", "B"], merged_from=["b"], minutes=1))
    assert view.resolve("b") == "a" and view.latest("b") is None and len(view) == 1
    view.apply(update("c", 1, ["C"], minutes=3 * 24 * 60))
    assert view.evict() == ["a"]
    assert view.resolve("a") is None and view.resolve("b") is None and len(view) == 1


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "many"},
        {"offset": "-1"},
        {"min_sources": "0"},
        {"order": "random"},
        {"since": "yesterday"},
        {"since": "2026-11-16T10:00:00"},  # no time zone
        {"since": "2026-11-17T00:00:00Z", "until": "2026-11-16T00:00:00Z"},
        {"colour": "red"},
    ],
)
def test_bad_query_parameters_are_refused(params):
    with pytest.raises(ValidationError):
        StoriesQuery.model_validate(params)


# -- alert rules -------------------------------------------------------------------------------


RULES = AlertRules(breaking_outlets=3, breaking_minutes=30, resume_quiet_hours=6)


def test_breaking_fires_once_when_enough_outlets_arrive_quickly():
    state = AlertState(story_id="s")
    assert evaluate(state, update("s", 1, ["A", "B"], minutes=5), RULES, T0) == []
    fired = evaluate(state, update("s", 2, ["A", "B", "C"], minutes=20), RULES, T0)
    assert [a.rule for a in fired] == ["breaking"] and fired[0].alert_id == "s:breaking"
    assert "3 outlets within 20 min" in fired[0].reason
    assert evaluate(state, update("s", 3, ["A", "B", "C", "D"], minutes=25), RULES, T0) == []


def test_breaking_does_not_fire_when_outlets_arrive_slowly():
    state = AlertState(story_id="s")
    assert evaluate(state, update("s", 1, ["A", "B", "C"], minutes=45), RULES, T0) == []


def test_resumed_fires_once_after_a_quiet_spell():
    state = AlertState(story_id="s")
    evaluate(state, update("s", 1, ["A"], minutes=0), RULES, T0)
    assert evaluate(state, update("s", 2, ["A"], minutes=5 * 60), RULES, T0) == []
    fired = evaluate(state, update("s", 3, ["A"], minutes=12 * 60), RULES, T0)
    assert [a.rule for a in fired] == ["resumed"] and "7.0 h" in fired[0].reason
    assert evaluate(state, update("s", 4, ["A"], minutes=30 * 60), RULES, T0) == []


def test_a_redelivered_version_re_yields_its_alerts_and_fires_nothing_new():
    state = AlertState(story_id="s")
    first = evaluate(state, update("s", 1, ["A", "B", "C"], minutes=1), RULES, T0)
    again = evaluate(state, update("s", 1, ["A", "B", "C"], minutes=1), RULES, T0)
    assert first == again and len(first) == 1
    assert evaluate(state, update("s", 1, ["A", "B", "C"], minutes=1), RULES, T0)[0].version == 1


# -- OpenAPI ------------------------------------------------------------------------------------


def test_openapi_document_is_up_to_date_and_complete():
    assert (SCHEMAS / "openapi.json").read_text() == render_openapi(), "run `make schemas`"
    document = openapi_document()
    assert {
        "/stories",
        "/stories/{story_id}",
        "/stories/{story_id}/history",
        "/healthz",
        "/readyz",
        "/metrics",
        "/events",
    } <= set(document["paths"])
    names = {p["name"] for p in document["paths"]["/stories"]["get"]["parameters"]}
    assert names == {"limit", "offset", "since", "until", "source", "min_sources", "q", "order"}
    refs = json.dumps(document).count("#/components/schemas/")
    assert refs and all(
        ref.split("/")[-1] in document["components"]["schemas"] for ref in _refs(document)
    )


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_breaking_uses_when_each_outlet_joined_not_when_the_version_was_made():
    burst = update("s", 1, ["A", "B", "C", "D"], minutes=240)  # one version after a backlog
    burst.source_times.update(
        {
            "A": T0,
            "B": T0 + timedelta(minutes=10),
            "C": T0 + timedelta(minutes=25),
            "D": T0 + timedelta(minutes=240),
        }
    )
    fired = evaluate(AlertState(story_id="s"), burst, RULES, T0)
    assert [a.rule for a in fired] == ["breaking"] and "within 25 min" in fired[0].reason


def test_the_faust_worker_keeps_our_json_logs_and_level():
    import logging
    import sys

    import faust

    from agents.logs import JsonFormatter, faust_worker_class

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        app = faust.App("storystream-logging-test", broker="kafka://localhost:1")
        worker = faust_worker_class()(app, loglevel="warning", quiet=True)
        worker._setup_logging()  # what execute_from_commandline runs first
        # faust would lower the root logger to DEBUG for its spinner and use coloured text.
        assert root.level == logging.WARNING
        assert not logging.getLogger("faust.topics").isEnabledFor(logging.DEBUG)
        expected = logging.Formatter if sys.stderr.isatty() else JsonFormatter
        assert [type(h.formatter) for h in root.handlers] == [expected]
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_kraft_cluster_ids_never_look_like_options():
    from agents.broker import _new_cluster_id

    ids = [_new_cluster_id() for _ in range(2000)]  # one raw draw in 64 starts with "-"
    assert not any(i.startswith("-") for i in ids) and len(set(ids)) == len(ids)


def test_a_batch_records_its_size_and_its_oldest_messages_wait():
    metrics = Metrics()
    now = time.time()
    metrics.took_batch("cluster", 30, [now - 0.3, now - 2.0, now - 1.0])
    metrics.took_batch("cluster", 5, [now + 60.0])  # a producer's clock ahead of ours
    metrics.took_batch("cluster", 0, [])
    metrics.took_batch("cluster", 1, [-0.001])  # no timestamp: a size, no wait
    samples = {
        (s.name, s.labels.get("le")): s.value
        for family in metrics.registry.collect()
        for s in family.samples
        if s.labels.get("agent") == "cluster"
    }
    assert samples[("storystream_batch_messages_count", None)] == 4
    assert samples[("storystream_batch_messages_sum", None)] == 36
    assert samples[("storystream_batch_wait_seconds_count", None)] == 2
    assert samples[("storystream_batch_wait_seconds_bucket", "0.05")] == 1  # the clock ahead
    assert samples[("storystream_batch_wait_seconds_bucket", "1.5")] == 1
    assert 2.0 <= samples[("storystream_batch_wait_seconds_sum", None)] < 2.5
