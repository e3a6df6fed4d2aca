"""The clustering stage: the same placements in a helper, inline, or rebuilt from the cluster log."""

from __future__ import annotations

import asyncio
import json

from agents.cluster_stage import ClusterOptions, ClusterStage, ClusterWork
from bench.streams import make_stream
from stream.features import tokenise
from stream.models import WIRE_EXCLUDE, Assignment, PreparedArticle
from stream.prepare import parse_article
from stream.tracker import StoryTracker

OPTIONS = ClusterOptions(partition_by="language")


def _prepared(count: int = 60) -> list[bytes]:
    """Prepared-article messages, as the prepare stage sends them."""
    values = []
    for item in make_stream(seed=5, topics=6)[:count]:
        article = parse_article(json.dumps(item.article).encode())
        article.tokens = tokenise(article)
        values.append(article.model_dump_json(exclude=set(WIRE_EXCLUDE)).encode())
    return values


def _batches(values: list[bytes], size: int = 15) -> list[list[bytes]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _stories(outcomes: list) -> list[tuple[str, str, list[str]]]:
    """Each article's story and the keys of the commands it caused."""
    return [
        (
            placed.article_id,
            Assignment.model_validate_json(placed.commands[0][1]).story_id,
            [key.decode() for key, _ in placed.commands],
        )
        for outcome in outcomes
        for placed in outcome.placed
    ]


def test_the_stage_places_articles_as_the_tracker_does():
    values = _prepared()
    work = ClusterWork(OPTIONS)
    outcomes = [work.run(batch, []) for batch in _batches(values)]
    tracker = StoryTracker()
    expected = []
    for value in values:
        expected.append(tracker.step(PreparedArticle.model_validate_json(value)).story_id)
    assert [story for _, story, _ in _stories(outcomes)] == expected


def test_a_tracker_rebuilt_from_the_log_places_the_rest_the_same():
    values = _prepared()
    batches = _batches(values)
    kept = ClusterWork(OPTIONS)
    log: dict[str, str] = {}
    kept_out, rebuilt_out = [], []
    for n, batch in enumerate(batches):
        outcome = kept.run(batch, None if n else [])
        kept_out.append(outcome)
        if n >= 2:  # as after a restart from here on: only the log is left
            fresh = ClusterWork(OPTIONS)
            assert fresh.run(batch, None).missing == ["en"]  # reported, not guessed
            rebuilt_out.append(fresh.run(batch, list(log.values())))
        for placed in outcome.placed:
            if placed.log_entry is not None:
                log[placed.article_id] = placed.log_entry
            for forgotten in placed.forgotten:
                log.pop(forgotten, None)
    assert _stories(kept_out[2:]) == _stories(rebuilt_out)


def test_helper_and_inline_give_the_same_placements():
    batches = _batches(_prepared())

    async def run(in_helper: bool) -> list:
        stage = ClusterStage(OPTIONS, in_helper=in_helper)
        try:
            outcomes = []
            for batch in batches:
                outcome = await stage.run(batch)
                if outcome.missing:
                    outcome = await stage.run(batch, [])
                outcomes.append(outcome)
            return outcomes
        finally:
            stage.close()

    assert _stories(asyncio.run(run(True))) == _stories(asyncio.run(run(False)))


def _in_language(values: list[bytes], language: str) -> list[bytes]:
    return [json.dumps({**json.loads(value), "language": language}).encode() for value in values]


def test_after_a_refused_batch_later_ones_wait_for_its_rebuild():
    """A batch started behind one the helper refused is placed after it, never before."""
    batches = _batches(_prepared())
    work = ClusterWork(OPTIONS)
    assert work.run(batches[0], []).done  # holds the "en" tracker from here on
    german = _in_language(batches[1], "de")
    refused = work.run(german, None)
    assert refused.missing == ["de"] and not refused.done
    behind = work.run(batches[2], None)  # nothing missing, yet it must follow the refused one
    assert behind.deferred and not behind.placed
    assert work.run(german, []).done  # the rebuild (an empty log) ends the refusals
    assert work.run(batches[2], None).done


def test_settle_places_a_refused_batch_and_the_one_behind_it_in_order():
    batches = _batches(_prepared())

    async def pipelined(in_helper: bool) -> list:
        stage = ClusterStage(OPTIONS, in_helper=in_helper)
        try:
            outcomes = []
            head = stage.start(batches[0])  # a fresh helper: refused, the log must rebuild it
            behind = stage.start(batches[1])
            outcomes.append(await stage.settle(head, list, lambda: behind))
            outcomes.append(await stage.settle(behind, list, lambda: None))
            for batch in batches[2:]:
                outcomes.append(await stage.settle(stage.start(batch), list, lambda: None))
            return outcomes
        finally:
            stage.close()

    async def one_at_a_time() -> list:
        stage = ClusterStage(OPTIONS, in_helper=False)
        return [await stage.run(batch, []) for batch in batches]

    expected = _stories(asyncio.run(one_at_a_time()))
    assert _stories(asyncio.run(pipelined(True))) == expected
    assert _stories(asyncio.run(pipelined(False))) == expected
