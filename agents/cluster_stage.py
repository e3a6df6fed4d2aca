"""The clustering stage's work on a batch of prepared articles, in a helper process or inline.

Dedup and clustering are the largest per-article cost left on a worker's event loop, and they
need no I/O. The loop is the one part of a worker that cannot use a second core: at 300
articles/s it was the bottleneck, while the machine had a fifth of its CPU to spare. With
``STORYSTREAM_CLUSTER_PROCESS`` (the default) one helper process holds the trackers (one per
partition key) and places each batch; the loop writes the cluster log and sends the
assignments the batch returns, both built in the helper.

The cluster log stays the truth. A tracker the helper does not hold (a fresh worker, a replaced
helper) is rebuilt from the log: the helper reports the keys it lacks, and the loop hands it the
log's entries, which it replays in arrival order, exactly as the worker did before. The helper
is a single process on purpose: a key's tracker must see its articles in order.

Batches are started before the one ahead of them is finished (:meth:`ClusterStage.start`): the
helper places the next batch while the loop writes and sends what the last one returned. A
helper places batches in the order they were started; after it refused one (a tracker to
rebuild) it refuses every later one until the rebuild, and :meth:`ClusterStage.settle` places
those again, in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from agents.helpers import Helper, HelperGone, run_kept_work
from stream.models import Assignment, PreparedArticle
from stream.offline import partition_key
from stream.tracker import StoryTracker

log = logging.getLogger("storystream")


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    """What placing an article depends on besides the article (the worker's settings)."""

    partition_by: Literal["language", "section", "global"]


@dataclass(slots=True)
class PlacedArticle:
    """What placing one article produced, for the loop to write and send."""

    article_id: str
    outcome: str
    """Dedup's verdict (``unique``, ``duplicate_of``, ``syndicated_from``) or ``replay``."""
    log_entry: str | None
    """The article's cluster-log entry (JSON), or None for a replay (already logged)."""
    commands: list[tuple[bytes, bytes]]
    """(key, value) of each command for ``stories.assignments``, in order."""
    forgotten: list[str]
    """Articles its tracker let go (same key, same log partition): their entries are deleted."""


@dataclass(slots=True)
class ClusterOutcome:
    """What a batch did."""

    placed: list[PlacedArticle] = field(default_factory=list)
    stories: int = 0
    """Stories held by all trackers (the clusterer gauge)."""
    missing: list[str] = field(default_factory=list)
    """Partition keys with no tracker here: nothing was done; give the log to rebuild them."""
    deferred: bool = False
    """Nothing was done: an earlier batch waits for its rebuild, and this one must follow it."""

    @property
    def done(self) -> bool:
        """Whether the batch was placed (else it must be placed again, see ``settle``)."""
        return not (self.missing or self.deferred)


def _json(model: Assignment) -> bytes:
    return model.model_dump_json().encode()


class ClusterWork:
    """Places batches of prepared articles; keeps one tracker per partition key."""

    def __init__(self, options: ClusterOptions) -> None:
        self.options = options
        self.trackers: dict[str, StoryTracker] = {}
        self._refusing = False
        """A batch was refused: refuse the later ones until the rebuild (their order)."""

    def run(self, values: list[bytes], log_entries: list[str] | None) -> ClusterOutcome:
        """Place a batch. ``log_entries``: the cluster log, to rebuild missing trackers from.

        An article's key must have a tracker here, or ``log_entries`` must be given to rebuild
        it; otherwise nothing is done and the key is reported ``missing``.
        """
        articles = [PreparedArticle.model_validate_json(value) for value in values]
        keys = [partition_key(article, self.options.partition_by) for article in articles]
        missing = sorted({key for key in keys if key not in self.trackers})
        if log_entries is None and (missing or self._refusing):
            self._refusing = True
            return ClusterOutcome(missing=missing, deferred=not missing)
        if log_entries is not None:
            self._refusing = False
            if missing:
                self._rebuild(missing, log_entries)
        outcome = ClusterOutcome()
        for article, key in zip(articles, keys, strict=True):
            outcome.placed.append(self._place(self.trackers[key], article))
        outcome.stories = sum(len(t.clusterer.stories) for t in self.trackers.values())
        return outcome

    def _place(self, tracker: StoryTracker, article: PreparedArticle) -> PlacedArticle:
        placed = tracker.step(article)
        entry = None
        if not placed.replay:
            logged = article.model_copy(update={"seq": len(tracker)})
            # Without its tokens: a replay after a restart is rare, the log is written for
            # every article.
            entry = logged.model_dump_json(exclude={"tokens"})
        command = Assignment(
            story_id=placed.story_id,
            article=article,
            dedup=placed.dedup,
            merged_from=list(placed.merged_from),
        )
        commands = [(placed.story_id.encode(), _json(command))]
        for gone in placed.merged_from:
            merge = Assignment(kind="merge", story_id=gone, into=placed.story_id)
            commands.append((gone.encode(), _json(merge)))
        outcome = "replay" if placed.replay else placed.dedup.kind.value
        return PlacedArticle(article.id, outcome, entry, commands, tracker.drain_forgotten())

    def _rebuild(self, keys: list[str], entries: list[str]) -> None:
        """Fresh trackers for ``keys``, replaying their logged articles in arrival order."""
        wanted = set(keys)
        replay: dict[str, list[PreparedArticle]] = {key: [] for key in wanted}
        for entry in entries:
            article = PreparedArticle.model_validate_json(entry)
            key = partition_key(article, self.options.partition_by)
            if key in wanted:
                replay[key].append(article)
        for key, logged in replay.items():
            tracker = self.trackers[key] = StoryTracker()
            for article in sorted(logged, key=lambda a: (a.model_extra or {}).get("seq", 0)):
                tracker.step(article)
            tracker.drain_forgotten()  # already gone from the log when it was replayed
            log.info("rebuilt tracker %s from %d logged articles", key, len(logged))


@dataclass(slots=True)
class Placing:
    """A batch handed to the helper; its outcome arrives later."""

    values: list[bytes]
    outcome: asyncio.Future[ClusterOutcome]


class ClusterStage:
    """Runs :class:`ClusterWork` in one helper process, or inline."""

    def __init__(self, options: ClusterOptions, in_helper: bool) -> None:
        self.options = options
        self.in_helper = in_helper
        self._inline = ClusterWork(options)
        self._helper: Helper | None = None

    def start(self, values: list[bytes], log_entries: list[str] | None = None) -> Placing:
        """Hand a batch to the helper now; ``log_entries`` as in :meth:`ClusterWork.run`.

        Handed over before this returns, so batches are placed in the order they are started.
        """
        loop = asyncio.get_running_loop()
        if not self.in_helper:
            done: asyncio.Future[ClusterOutcome] = loop.create_future()
            done.set_result(self._inline.run(values, log_entries))
            return Placing(values, done)
        if self._helper is None:
            self._helper = Helper("cluster")
        helper = self._helper
        submitted = helper.submit(run_kept_work, ClusterWork, self.options, values, log_entries)
        return Placing(values, asyncio.ensure_future(self._outcome(submitted, helper)))

    async def _outcome(
        self, submitted: asyncio.Future[ClusterOutcome], helper: Helper
    ) -> ClusterOutcome:
        try:
            return await submitted
        except HelperGone:
            if self._helper is helper:
                log.warning("cluster helper process died; starting a new one")
                self.close()
            return ClusterOutcome(missing=["*"])  # the new helper holds no tracker

    async def run(
        self, values: list[bytes], log_entries: list[str] | None = None
    ) -> ClusterOutcome:
        """Place a batch; ``log_entries`` as in :meth:`ClusterWork.run`."""
        return await self.start(values, log_entries).outcome

    async def settle(
        self,
        placing: Placing,
        cluster_log: Callable[[], list[str]],
        following: Callable[[], Placing | None],
        *,
        behind_rebuild: bool = False,
    ) -> ClusterOutcome:
        """A started batch's outcome, placed again (with the log if need be) when refused.

        ``following`` returns the batch started last (this one, when none came after it): one
        started after this one was refused too while the helper waited for this one's rebuild,
        so it is placed again here, right after this one, before any later batch can start
        (the caller starts the next only once this is done).
        """
        outcome = await placing.outcome
        if outcome.done:
            return outcome
        # What the batch ahead rebuilt, or a new helper, may be all it lacked: try without.
        if behind_rebuild or outcome.deferred or outcome.missing == ["*"]:
            outcome = await self.run(placing.values)
        if not outcome.done:
            outcome = await self.run(placing.values, cluster_log())
        after = following()
        if after is not None and after is not placing:
            again = await self.settle(after, cluster_log, lambda: None, behind_rebuild=True)
            after.outcome = asyncio.get_running_loop().create_future()
            after.outcome.set_result(again)
        return outcome

    def close(self) -> None:
        """Stop the helper (it also stops by itself when the worker exits)."""
        if self._helper is not None:
            self._helper.close()
            self._helper = None
