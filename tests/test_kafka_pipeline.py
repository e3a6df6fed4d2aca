"""The whole service on a real broker: worker process, topics, DLQ, story updates."""

from __future__ import annotations

import json

import pytest

from agents.feeds import feed_messages
from tests.factories import SAMPLE
from tests.harness import collect_updates, dead_letters, running_worker, send

pytestmark = pytest.mark.kafka


@pytest.mark.seeds
def test_seed_articles_form_one_clean_story(run_env, seeds_dir, expectations):
    with running_worker(run_env) as settings:
        send(settings, feed_messages(str(seeds_dir)))
        latest, every = collect_updates(
            settings, lambda stories: any(len(u.article_ids) == 5 for u in stories.values())
        )
    assert len(latest) == 1, f"expected one story, got {[u.headline for u in latest.values()]}"
    story = next(iter(latest.values()))
    assert len(story.sources) == 5
    assert len(story.article_ids) == 5
    assert story.duplicates == {} and story.syndicated == {}
    lines = [story.headline, *(s.text for s in story.sentences)]
    for update in every:
        lines += [update.headline, *(s.text for s in update.sentences)]
    for line in lines:
        for junk in expectations["boilerplate"]:
            assert junk not in line.lower(), f"boilerplate {junk!r} in {line!r}"
    versions = [u.version for u in every]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)


def test_sample_feed_stories_and_dead_letters(run_env):
    with running_worker(run_env) as settings:
        send(settings, feed_messages(str(SAMPLE)))
        latest, every = collect_updates(
            settings, lambda stories: sum(len(u.article_ids) for u in stories.values()) >= 14
        )
        letters = dead_letters(settings, expected=5)
    by_headline = {u.headline: u for u in latest.values()}
    assert len(latest) == 4, list(by_headline)
    strike = next(u for u in latest.values() if "wire-strike-1" in u.article_ids)
    # A burst over four raw partitions may reorder messages: whichever wire copy arrives first is
    # the original, and the other two point at it.
    copies = {"wire-strike-1", "metro-strike-1", "valley-strike-1"}
    assert len(strike.duplicates) == 2 and len(set(strike.duplicates.values())) == 1
    assert set(strike.duplicates) | set(strike.duplicates.values()) == copies
    assert "wire-strike-2" in strike.article_ids
    assert strike.article_ids.count("wire-strike-1") == 1  # the retried message counts once
    assert {"Northwire", "Coastal Herald", "Capital Times", "Metro Daily", "Valley Courier"} == set(
        strike.sources
    )
    marathon = next(u for u in latest.values() if "coast-marathon-1" in u.article_ids)
    assert "urn:newsml:capitaltimes:marathon-1" in marathon.article_ids  # the ninjs item
    assert sorted(d.error_type for d in letters) == [
        "empty",
        "json",
        "json",
        "validation",
        "validation",
    ]
    assert all(d.reason and d.topic and d.offset is not None for d in letters)
    originals = {d.original() for d in letters}
    assert b"this line is not JSON at all" in originals
    for update in every:
        for sentence in update.sentences:
            assert set(sentence.article_ids) <= set(update.article_ids)
    json.dumps([u.model_dump(mode="json") for u in latest.values()])


def test_offline_cluster_replay_matches_the_agents(run_env):
    """`storystream cluster` on the order the cluster agent saw gives the same assignments."""
    from agents.feeds import make_consumer
    from stream.bundles import keys_of, values_of
    from stream.models import Assignment, PreparedArticle
    from stream.offline import cluster_records

    with running_worker(run_env) as settings:
        send(settings, feed_messages(str(SAMPLE)))
        collect_updates(
            settings, lambda stories: sum(len(u.article_ids) for u in stories.values()) >= 14
        )
        seen = make_consumer(settings.bootstrap_servers, settings.topics["prepared"])
        order = [PreparedArticle.model_validate_json(v) for m in seen for v in values_of(m.value)]
        seen.close()
        placed = make_consumer(settings.bootstrap_servers, settings.topics["assignments"])
        agent = {}
        for message in placed:
            # The commands of a batch for one partition travel as one message (a bundle).
            keys = keys_of(message.key, message.headers)
            commands = [Assignment.model_validate_json(v) for v in values_of(message.value)]
            assert [c.story_id.encode() for c in commands] == keys
            for command in commands:
                if command.kind == "article" and command.article is not None:
                    agent.setdefault(command.article.id, (command.story_id, command.dedup.label()))
        placed.close()
    offline = {
        r["article_id"]: (r["story_id"], r["dedup"])
        for r in cluster_records(order)
        if "article_id" in r
    }
    assert len(offline) == 14
    assert offline == agent
