"""The summary stage's work on a batch of commands, in helper processes or in the worker.

Applying articles to a story and rendering its next version is a third of a worker's CPU and
needs no I/O. With ``STORYSTREAM_SUMMARY_PROCESS`` (the default) it runs in helper processes
that keep the busiest stories' states parsed between batches, while the worker's loop goes on
consuming and clustering. The ``stories`` table stays the truth: the worker writes the packed
state each batch returns (its changelog makes it durable), and hands a helper the stored state
of any story whose state that helper did not produce last (a restart, a rebalance, a story the
helper let go of). Without helpers the same :class:`SummaryWork` runs inline.

A story's state must be changed by one owner: each helper owns the stories whose id hashes to
it (:class:`SummaryShards`, ``STORYSTREAM_SUMMARY_PROCESSES``), and a batch's commands are split
between the helpers by story, which work on their parts at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from agents.helpers import Helper, HelperGone, run_kept_work
from stream.alerts import AlertRules
from stream.models import Alert, Assignment, StoryUpdate, utc_now
from stream.story import StoryState
from stream.summarize import SummaryConfig

if TYPE_CHECKING:
    from agents.settings import Settings

log = logging.getLogger("storystream")


@dataclass(frozen=True, slots=True)
class SummaryOptions:
    """What summarising depends on besides the commands (the worker's settings)."""

    words: int
    breaking_outlets: int
    breaking_minutes: float
    resume_quiet_hours: float
    live_states: int = 5_000

    @classmethod
    def from_settings(cls, settings: Settings, live_states: int) -> SummaryOptions:
        """The options a worker with these settings summarises with."""
        return cls(
            words=settings.summary_words,
            breaking_outlets=settings.breaking_outlets,
            breaking_minutes=settings.breaking_minutes,
            resume_quiet_hours=settings.resume_quiet_hours,
            live_states=live_states,
        )


@dataclass(slots=True)
class StoryOutcome:
    """What a batch did to one story."""

    state: bytes
    """The state, packed (:meth:`StoryState.pack`), for the ``stories`` table."""
    update: str | None = None
    """A version to send: a new one, or the last one again for a redelivered command."""
    alerts: list[tuple[str, str]] = field(default_factory=list)
    """(rule, Alert JSON) of each alert this version fires."""
    last_activity: datetime | None = None
    render_seconds: float | None = None


@dataclass(slots=True)
class BatchOutcome:
    """What a batch of commands produced, for the worker to write and send."""

    stories: dict[str, StoryOutcome] = field(default_factory=dict)
    hand_overs: list[tuple[str, str]] = field(default_factory=list)
    """``absorb`` commands for the stories that took over merged ones: (story id, JSON)."""
    latest_event: datetime | None = None
    arrivals: dict[str, list[datetime]] = field(default_factory=dict)
    """When each new article reached us, by story (for the produce-to-update delay metric)."""
    missing: list[str] = field(default_factory=list)
    """Stories whose state was neither given nor kept: nothing was done; give their state."""


class SummaryWork:
    """Applies commands to story states and renders versions; keeps recent states parsed."""

    def __init__(self, options: SummaryOptions) -> None:
        self.options = options
        self.config = SummaryConfig(words=options.words)
        self.rules = AlertRules(
            breaking_outlets=options.breaking_outlets,
            breaking_minutes=options.breaking_minutes,
            resume_quiet_hours=options.resume_quiet_hours,
        )
        self._states: OrderedDict[str, StoryState] = OrderedDict()

    def run(self, commands: list[bytes], stored: dict[str, bytes | None]) -> BatchOutcome:
        """Apply a batch. ``stored``: the table's value (None: absent) of stories not kept here.

        A story named by a command must be in ``stored`` or kept from the last batch that
        returned it; otherwise nothing is done and the story is reported ``missing``.
        """
        parsed = [Assignment.model_validate_json(c) for c in commands]
        named = {c.story_id for c in parsed}
        missing = sorted(s for s in named if s not in stored and s not in self._states)
        if missing:
            return BatchOutcome(missing=missing)
        for story_id, packed in stored.items():
            self._states.pop(story_id, None)
            if story_id in named:
                self._states[story_id] = (
                    StoryState.unpack(packed) if packed else StoryState(story_id=story_id)
                )
        outcome = BatchOutcome()
        touched: dict[str, StoryState] = {}
        replayed: set[str] = set()
        for command in parsed:
            state = touched.get(command.story_id)
            if state is None:
                state = touched[command.story_id] = self._states.pop(command.story_id)
            if command.kind == "merge" and command.into:
                if state.article_ids and state.absorbed_into is None:
                    hand_over = Assignment(
                        kind="absorb",
                        story_id=command.into,
                        state=state.model_dump(mode="json", exclude={"last_update", "alerts"}),
                    )
                    outcome.hand_overs.append((command.into, hand_over.model_dump_json()))
                state.absorbed_into = command.into
                continue
            if not state.apply(command):
                replayed.add(command.story_id)
            if command.article is not None:
                when = command.article.event_time
                latest = outcome.latest_event
                outcome.latest_event = when if latest is None else max(latest, when)
                outcome.arrivals.setdefault(command.story_id, []).append(
                    command.article.received_at
                )
        for story_id, state in touched.items():
            outcome.stories[story_id] = self._finish(state, story_id in replayed)
            self._states[story_id] = state
        while len(self._states) > self.options.live_states:
            self._states.popitem(last=False)
        return outcome

    def _finish(self, state: StoryState, replayed: bool) -> StoryOutcome:
        """Render the story's next version (or re-send the last one) and its alerts."""
        update_text: str | None = None
        fired: list[Alert] = []
        seconds: float | None = None
        if state.absorbed_into is None and state.article_ids:
            started = time.perf_counter()
            update = state.render(utc_now(), self.config)
            seconds = time.perf_counter() - started
            if update is not None:
                update_text = state.last_update = update.model_dump_json()
                fired = state.alerts_for(update, self.rules, utc_now())
            elif replayed and state.last_update:
                # A redelivered input after a crash: re-send the version it produced (same
                # version, same content) and its alerts, in case they were lost.
                update_text = state.last_update
                last = StoryUpdate.model_validate_json(state.last_update)
                fired = state.alerts_for(last, self.rules, utc_now())
        return StoryOutcome(
            state=state.pack(),
            update=update_text,
            alerts=[(a.rule, a.model_dump_json()) for a in fired],
            last_activity=state.last_event or state.first_seen,
            render_seconds=seconds,
        )


class SummaryStage:
    """Runs :class:`SummaryWork` in one helper process, or inline; tracks what the helper holds."""

    def __init__(self, options: SummaryOptions, in_helper: bool) -> None:
        self.options = options
        self.in_helper = in_helper
        self._inline = SummaryWork(options)
        self._helper: Helper | None = None
        self._given: dict[str, bytes] = {}
        """Story id -> the state last returned: what the work holds parsed, if anything."""

    def holds(self, story_id: str, stored: bytes | None) -> bool:
        """Whether the work's kept state of a story is the one the table holds now."""
        given = self._given.get(story_id)
        return given is not None and (given is stored or given == stored)

    def forget(self, story_id: str) -> None:
        """A story left the table (evicted): its kept state must not come back."""
        self._given.pop(story_id, None)

    async def run(self, commands: list[bytes], stored: dict[str, bytes | None]) -> BatchOutcome:
        """Apply a batch; ``stored`` holds the table's value of every story not :meth:`holds`."""
        if not self.in_helper:
            outcome = self._inline.run(commands, stored)
        else:
            try:
                outcome = await self._in_helper(commands, stored)
            except HelperGone:
                log.warning("summary helper process died; starting a new one")
                self.close()
                self._given.clear()
                outcome = BatchOutcome(missing=["*"])
        for story_id, story in outcome.stories.items():
            self._given[story_id] = story.state
        return outcome

    async def _in_helper(
        self, commands: list[bytes], stored: dict[str, bytes | None]
    ) -> BatchOutcome:
        if self._helper is None:
            self._helper = Helper("summary")
        outcome: BatchOutcome = await self._helper.submit(
            run_kept_work, SummaryWork, self.options, commands, stored
        )
        return outcome

    def close(self) -> None:
        """Stop the helper (it also stops by itself when the worker exits)."""
        if self._helper is not None:
            self._helper.close()
            self._helper = None


class SummaryShards:
    """Several :class:`SummaryStage` helpers, each owning the stories whose id hashes to it.

    The summary helper was the stage that queued at 300 articles/s: one process, 0.65 of a
    core, while a batch waited for the one before it. Split by story, a batch's parts are
    worked on at once; each story still has one owner, and its commands keep their order.
    """

    def __init__(self, options: SummaryOptions, in_helper: bool, helpers: int = 1) -> None:
        count = max(1, helpers) if in_helper else 1
        # Each keeps its share of the parsed states: together as many as one helper kept.
        shard_options = replace(options, live_states=max(1, options.live_states // count))
        self.stages = [SummaryStage(shard_options, in_helper) for _ in range(count)]

    def stage_of(self, story_id: str) -> SummaryStage:
        """The helper that owns a story (a stable hash: the same in every process)."""
        return self.stages[zlib.crc32(story_id.encode()) % len(self.stages)]

    def forget(self, story_id: str) -> None:
        """A story left the table (evicted): its kept state must not come back."""
        self.stage_of(story_id).forget(story_id)

    async def run(
        self,
        commands: list[bytes],
        story_ids: list[str],
        lookup: Callable[[str], bytes | None],
    ) -> BatchOutcome:
        """Apply a batch (``story_ids[i]`` names the story of ``commands[i]``).

        ``lookup`` reads a story's stored state from the table: each helper is handed the
        state of every story it does not hold as the table holds it.
        """
        parts: dict[int, tuple[SummaryStage, list[bytes], set[str]]] = {}
        for command, story_id in zip(commands, story_ids, strict=True):
            stage = self.stage_of(story_id)
            part = parts.setdefault(id(stage), (stage, [], set()))
            part[1].append(command)
            part[2].add(story_id)
        outcomes = await asyncio.gather(
            *(_run_part(stage, part, named, lookup) for stage, part, named in parts.values())
        )
        return merge_outcomes(outcomes)

    def close(self) -> None:
        """Stop the helpers."""
        for stage in self.stages:
            stage.close()


async def _run_part(
    stage: SummaryStage,
    commands: list[bytes],
    named: set[str],
    lookup: Callable[[str], bytes | None],
) -> BatchOutcome:
    """One helper's part of a batch, with the stored state of every story it does not hold."""
    current = {story_id: lookup(story_id) for story_id in named}
    stored = {s: t for s, t in current.items() if not stage.holds(s, t)}
    outcome = await stage.run(commands, stored)
    if outcome.missing:  # the work let a state go, or its process was replaced
        named = named | {s for s in outcome.missing if s != "*"}
        outcome = await stage.run(commands, {s: lookup(s) for s in named})
    return outcome


def merge_outcomes(outcomes: list[BatchOutcome]) -> BatchOutcome:
    """One outcome from the parts of a batch (their stories are disjoint)."""
    if len(outcomes) == 1:
        return outcomes[0]
    merged = BatchOutcome()
    for outcome in outcomes:
        merged.stories.update(outcome.stories)
        merged.hand_overs += outcome.hand_overs
        merged.arrivals.update(outcome.arrivals)
        merged.missing += outcome.missing
        when, latest = outcome.latest_event, merged.latest_event
        if when is not None:
            merged.latest_event = when if latest is None else max(latest, when)
    return merged
