"""The summary stage: the same versions kept in a helper, kept inline, or re-read every batch."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from agents.summary_stage import SummaryOptions, SummaryShards, SummaryStage, SummaryWork
from stream.models import Assignment
from tests.factories import article

OPTIONS = SummaryOptions(words=60, breaking_outlets=2, breaking_minutes=60, resume_quiet_hours=6)
SENTENCES = [
    "Dockworkers at Port Alder walked off the job on Monday in a dispute over automation and pay.",
    "The Harbour Workers Union said about 4,200 members joined the strike after talks collapsed.",
    "The port authority said 31 ships were waiting at anchor by Monday afternoon.",
    "The transport minister urged both sides to return to mediation on Tuesday morning.",
]


def _batches() -> list[list[bytes]]:
    def placed(ident: str, story: str, body: list[str], source: str) -> bytes:
        item = article(ident, "\n\n".join(body), source=source, title="Port strike")
        return Assignment(story_id=story, article=item).model_dump_json().encode()

    return [
        [placed("a1", "s1", SENTENCES[:3], "One"), placed("b1", "s2", SENTENCES[1:], "Two")],
        [placed("a2", "s1", SENTENCES, "Three")],
        [Assignment(kind="merge", story_id="s2", into="s1").model_dump_json().encode()],
    ]


def _versions(outcomes: list) -> list[tuple[str, str | None, int]]:
    return [
        (story_id, story.update and story.update.split('"updated_at"')[0], len(story.alerts))
        for outcome in outcomes
        for story_id, story in sorted(outcome.stories.items())
    ]


def test_kept_states_and_states_read_back_give_the_same_versions():
    kept = SummaryWork(OPTIONS)
    table: dict[str, bytes] = {}
    kept_out, reread_out = [], []
    for commands in _batches():
        named = {Assignment.model_validate_json(c).story_id for c in commands}
        first = kept.run(commands, {s: None for s in named if s not in table})
        kept_out.append(first)
        fresh = SummaryWork(OPTIONS)  # as after a restart: only the table is left
        reread_out.append(fresh.run(commands, {s: table.get(s) for s in named}))
        table.update({s: o.state for s, o in first.stories.items()})
    assert _versions(kept_out) == _versions(reread_out)
    assert kept_out[2].hand_overs and kept_out[2].hand_overs[0][0] == "s1"


def test_a_story_neither_given_nor_kept_is_reported_not_guessed():
    work = SummaryWork(OPTIONS)
    outcome = work.run(_batches()[1], {})
    assert outcome.missing == ["s1"] and not outcome.stories


def test_helper_process_gives_what_inline_work_gives():
    def run(stage: SummaryStage) -> list:
        outcomes, table = [], {}
        for commands in _batches():
            named = {Assignment.model_validate_json(c).story_id for c in commands}
            stored = {s: table.get(s) for s in named if not stage.holds(s, table.get(s))}
            outcome = asyncio.run(stage.run(commands, stored))
            assert not outcome.missing and not stored.keys() & table.keys()  # kept, not re-sent
            table.update({s: o.state for s, o in outcome.stories.items()})
            outcomes.append(outcome)
        return outcomes

    helper = SummaryStage(OPTIONS, in_helper=True)
    try:
        pooled = run(helper)
    finally:
        helper.close()
    assert _versions(pooled) == _versions(run(SummaryStage(OPTIONS, in_helper=False)))


async def _run_shards(shards: SummaryShards, *, kill: bool = False) -> list:
    """Every batch through ``shards`` as a worker runs them, with a table of packed states.

    ``kill``: kill the first helper after each batch (the next one finds it gone).
    """
    outcomes, table = [], {}
    for commands in _batches():
        ids = [Assignment.model_validate_json(c).story_id for c in commands]
        outcome = await shards.run(commands, ids, table.get)
        table.update({s: o.state for s, o in outcome.stories.items()})
        outcomes.append(outcome)
        helper = shards.stages[0]._helper
        if kill and helper is not None and helper.pid is not None:
            os.kill(helper.pid, signal.SIGKILL)
    return outcomes


def test_helpers_split_by_story_give_what_one_gives():
    """Each story has one owner among the helpers; the batch's versions are the same."""
    split = SummaryShards(OPTIONS, in_helper=True, helpers=3)  # s1 and s2 apart
    assert {split.stage_of("s1") is split.stage_of(s) for s in ("s1", "s2")} == {True, False}
    try:
        pooled = asyncio.run(_run_shards(split))
    finally:
        split.close()
    alone = asyncio.run(_run_shards(SummaryShards(OPTIONS, in_helper=False, helpers=2)))
    assert _versions(pooled) == _versions(alone)
    assert [h[0] for h in pooled[2].hand_overs] == [h[0] for h in alone[2].hand_overs] == ["s1"]


def test_a_summary_helper_killed_between_batches_is_replaced_and_no_version_is_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    killed = SummaryShards(OPTIONS, in_helper=True, helpers=1)
    try:
        outcomes = asyncio.run(_run_shards(killed, kill=True))
    finally:
        killed.close()
    assert not any(outcome.missing for outcome in outcomes)
    assert caplog.text.count("summary helper process died") == len(_batches()) - 1
    alone = asyncio.run(_run_shards(SummaryShards(OPTIONS, in_helper=False)))
    assert _versions(outcomes) == _versions(alone)
