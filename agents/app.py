"""The faust app: topics, tables and three thin agents wiring the pure core to Kafka.

    articles.raw --prepare--> articles.prepared (key: language) --cluster--> stories.assignments
    (key: story id) --summarise--> stories.updates (key: story id); bad input --> articles.dlq

- ``prepare`` validates, cleans and tokenises batches in helper processes
  (:mod:`agents.prepare_stage`); anything bad becomes a DeadLetter with the reason.
- ``cluster`` runs one :class:`~stream.tracker.StoryTracker` per language. Its durable state is a
  changelog-backed table of the articles it placed (in arrival order); a restarted or moved worker
  replays that table into a fresh tracker before it takes the next article.
- ``summarise`` keeps one :class:`~stream.story.StoryState` per story in a changelog-backed table,
  coalesces bursts with ``stream.take(within=debounce)``, and emits a version only on change.
  The alert rules run there too, on each new version, with their memory in the story's state
  (``stories.alerts``): no second consumer of ``stories.updates`` and no second table write.
- Every worker also folds all of ``stories.updates`` into a :class:`~stream.views.StoryView` that
  its web pages serve (:mod:`agents.viewer`, :mod:`agents.web`).

Agents use ``concurrency=1``: with more, faust can commit an offset past an event still being
processed (an open faust bug), which would lose it in a crash.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any, cast

import faust

from agents.metrics import Metrics
from agents.prepare_stage import PrepareOptions, PrepareStage, Refused
from agents.settings import Settings
from agents.viewer import UpdatesFeed
from agents.web import LiveHub, register_web
from stream.alerts import AlertRules
from stream.models import Alert, Assignment, DeadLetter, PreparedArticle, StoryUpdate, utc_now
from stream.offline import partition_key
from stream.story import StoryState
from stream.summarize import SummaryConfig
from stream.tracker import StoryTracker
from stream.views import StoryView

log = logging.getLogger("storystream")

EVICTION_SWEEP_EVERY = 2_000
"""Commands between sweeps of the story table for stories past their retention."""

LIVE_STATES = 5_000
"""Parsed story states kept between batches (the busiest stories: most recently used)."""


def _json(model: Any) -> bytes:
    return str(model.model_dump_json()).encode()


def build_app(settings: Settings) -> faust.App:
    """Declare the app, its topics, tables and agents for the given settings."""
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap_servers}",
        datadir=str(settings.state_dir / settings.app_id),
        store="memory://",
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        web_port=settings.web_port,
        web_host=settings.web_host,
        producer_max_request_size=8_388_608,
        # Batch sends: a worker produces about six messages an article (outputs and changelogs),
        # and one produce request per message cost more CPU than the agents' own work.
        producer_linger_ms=5,
        producer_max_batch_size=1_048_576,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
    )
    names = settings.topics
    raw = app.topic(
        names["raw"], key_type=bytes, value_type=bytes, value_serializer="raw", key_serializer="raw"
    )
    dlq = app.topic(names["dlq"], value_serializer="raw", key_serializer="raw")
    prepared = app.topic(names["prepared"], value_serializer="raw", key_serializer="raw")
    assignments = app.topic(names["assignments"], value_serializer="raw", key_serializer="raw")
    updates = app.topic(names["updates"], value_serializer="raw", key_serializer="raw")
    alerts = app.topic(names["alerts"], value_serializer="raw", key_serializer="raw")

    # Keys and values are str (JSON text of our pydantic models); faust's json codec stores them.
    placed_log = app.Table(
        "cluster-log",
        default=None,
        key_type=str,
        value_type=str,
        partitions=settings.partitions,
    )

    def story_table(name: str) -> Any:
        """A table keyed by story id, partitioned like the topic its agent reads."""
        return app.Table(
            name,
            default=None,
            key_type=str,
            value_type=str,
            partitions=settings.partitions,
            use_partitioner=True,
        )

    stories = story_table("stories")
    trackers: dict[str, StoryTracker] = {}
    summary_config = SummaryConfig(words=settings.summary_words)
    rules = AlertRules(
        breaking_outlets=settings.breaking_outlets,
        breaking_minutes=settings.breaking_minutes,
        resume_quiet_hours=settings.resume_quiet_hours,
    )
    metrics = Metrics()
    view = StoryView(retention=timedelta(days=settings.story_retention_days))
    hub = LiveHub(view)

    def deliver(batch: list[StoryUpdate]) -> None:
        """Fold updates read by the feed thread into the view (on the loop's thread)."""
        for update in batch:
            change = view.apply(update)
            if change is not None:
                hub.publish(update.story_id, change)
        if view_sweeps.tick(len(batch)):
            view.evict()

    view_sweeps = _Every(EVICTION_SWEEP_EVERY)
    feed = UpdatesFeed(
        settings,
        deliver,
        lag_topics=[names["raw"], names["prepared"], names["assignments"], names["updates"]],
    )

    @app.task  # type: ignore[untyped-decorator]
    async def start_feed() -> None:
        feed.start(asyncio.get_running_loop())

    def agents_running() -> bool:
        return bool(app.agents) and all(
            agent.started and not agent.crashed for agent in app.agents.values()
        )

    register_web(
        app,
        view,
        hub,
        metrics,
        feed_status=lambda: feed.status,
        agents_running=agents_running,
        ready_max_lag=settings.ready_max_lag,
    )

    stage = PrepareStage(
        PrepareOptions(
            max_bytes=settings.max_message_bytes,
            default_source=settings.default_source,
            partition_by=settings.partition_by,
        ),
        settings.prepare_processes,
    )

    @app.agent(raw, concurrency=1)
    async def prepare(stream: faust.StreamT[bytes]) -> None:
        # take_events is on faust's Stream, not on the StreamT protocol agents are typed with.
        batches = cast(faust.Stream[bytes], stream).take_events(
            settings.prepare_max_batch, within=settings.prepare_batch_seconds
        )
        async for events in batches:
            payloads = [e.value if isinstance(e.value, bytes) else b"" for e in events]
            metrics.articles.labels(agent="prepare", direction="in").inc(len(events))
            # Not counted as busy: with helper processes the loop runs other agents meanwhile.
            outcomes = await stage.run(payloads)
            with metrics.busy("prepare"):
                for event, payload, outcome in zip(events, payloads, outcomes, strict=True):
                    message = event.message
                    if isinstance(outcome, Refused):
                        letter = DeadLetter.for_payload(
                            payload,
                            outcome.reason,
                            outcome.error_type,
                            topic=message.topic,
                            partition=message.partition,
                            offset=message.offset,
                        )
                        await dlq.send(key=message.key, value=_json(letter))
                        metrics.dead_letters.labels(reason=outcome.error_type).inc()
                        continue
                    await prepared.send(key=outcome.key, value=outcome.value)
                    metrics.articles.labels(agent="prepare", direction="out").inc()

    def tracker_for(key: str) -> StoryTracker:
        tracker = trackers.get(key)
        if tracker is None:
            # Rebuild from the changelog-backed log: replay placed articles in arrival order.
            tracker = trackers[key] = StoryTracker()
            entries = []
            for _, value in placed_log.items():
                article = PreparedArticle.model_validate_json(value)
                if partition_key(article, settings.partition_by) == key:
                    entries.append(article)
            for article in sorted(entries, key=lambda a: (a.model_extra or {}).get("seq", 0)):
                tracker.step(article)
            log.info("rebuilt tracker %s from %d logged articles", key, len(entries))
        return tracker

    @app.agent(prepared, concurrency=1)
    async def cluster(stream: faust.StreamT[bytes]) -> None:
        async for value in stream:
            with metrics.busy("cluster"):
                article = PreparedArticle.model_validate_json(value)
                metrics.articles.labels(agent="cluster", direction="in").inc()
                tracker = tracker_for(partition_key(article, settings.partition_by))
                placed = tracker.step(article)
                outcome = "replay" if placed.replay else placed.dedup.kind.value
                metrics.dedup.labels(outcome=outcome).inc()
                if not placed.replay:
                    logged = article.model_copy(update={"seq": len(tracker)})
                    # Without its tokens: a replay after a restart is rare, the log is written
                    # for every article.
                    placed_log[article.id] = logged.model_dump_json(exclude={"tokens"})
                for forgotten in tracker.drain_forgotten():
                    placed_log.pop(forgotten, None)
                command = Assignment(
                    story_id=placed.story_id,
                    article=article,
                    dedup=placed.dedup,
                    merged_from=list(placed.merged_from),
                )
                await assignments.send(key=placed.story_id.encode(), value=_json(command))
                metrics.articles.labels(agent="cluster", direction="out").inc()
                metrics.clustered_stories.set(
                    sum(len(t.clusterer.stories) for t in trackers.values())
                )
                for gone in placed.merged_from:
                    merge = Assignment(kind="merge", story_id=gone, into=placed.story_id)
                    await assignments.send(key=gone.encode(), value=_json(merge))

    story_sweeps = _Every(EVICTION_SWEEP_EVERY)
    live_states = _StateCache(stories, LIVE_STATES)
    clock: dict[str, datetime] = {}
    retention = timedelta(days=settings.story_retention_days)

    def _evict_quiet_stories() -> None:
        """Delete stories quiet for longer than the retention (by the stream's event time)."""
        now = clock.get("now")
        if now is None:
            return
        for story_id, raw in list(stories.items()):
            state = live_states.peek(story_id, raw)
            last = state.last_event or state.first_seen
            if last is not None and now - last > retention:
                stories.pop(story_id, None)

    @app.agent(assignments, concurrency=1)
    async def summarise(stream: faust.StreamT[bytes]) -> None:
        async for batch in stream.take(
            settings.debounce_max_batch, within=settings.debounce_seconds
        ):
            with metrics.busy("summarise"):
                touched: dict[str, StoryState] = {}
                replayed: set[str] = set()
                arrivals: dict[str, list[datetime]] = {}
                metrics.articles.labels(agent="summarise", direction="in").inc(len(batch))
                for value in batch:
                    command = Assignment.model_validate_json(value)
                    state = touched.get(command.story_id)
                    if state is None:
                        state = touched[command.story_id] = live_states.take(command.story_id)
                    if command.kind == "merge" and command.into:
                        if state.article_ids and state.absorbed_into is None:
                            hand_over = Assignment(
                                kind="absorb",
                                story_id=command.into,
                                state=state.model_dump(
                                    mode="json", exclude={"last_update", "alerts"}
                                ),
                            )
                            await assignments.send(
                                key=command.into.encode(), value=_json(hand_over)
                            )
                        state.absorbed_into = command.into
                        continue
                    if not state.apply(command):
                        replayed.add(command.story_id)
                    if command.article is not None:
                        when = command.article.event_time
                        clock["now"] = max(clock.get("now", when), when)
                        arrivals.setdefault(command.story_id, []).append(
                            command.article.received_at
                        )
                outgoing: list[tuple[str, str]] = []
                fired: list[Alert] = []
                for story_id, state in touched.items():
                    if state.absorbed_into is None and state.article_ids:
                        started = time.perf_counter()
                        update = state.render(utc_now(), summary_config)
                        metrics.summary_seconds.observe(time.perf_counter() - started)
                        if update is not None:
                            state.last_update = update.model_dump_json()
                            outgoing.append((story_id, state.last_update))
                            fired += state.alerts_for(update, rules, utc_now())
                        elif story_id in replayed and state.last_update:
                            # A redelivered input after a crash: re-send the version it produced
                            # (same version, same content) and its alerts, in case they were lost.
                            outgoing.append((story_id, state.last_update))
                            last = StoryUpdate.model_validate_json(state.last_update)
                            fired += state.alerts_for(last, rules, utc_now())
                    live_states.put(story_id, state)
                # Sweep by work done, not batches: a backlog batch holds hundreds of commands.
                if story_sweeps.tick(len(batch)):
                    _evict_quiet_stories()
                if outgoing:
                    # The state naming these versions must be durable before any consumer sees
                    # them: otherwise a crash could re-render a version with different content.
                    await app.producer.flush()
                    for story_id, payload in outgoing:
                        await updates.send(key=story_id.encode(), value=payload.encode())
                    for item in fired:
                        await alerts.send(key=item.story_id.encode(), value=_json(item))
                        metrics.alerts.labels(rule=item.rule).inc()
                    metrics.story_versions.inc(len(outgoing))
                    metrics.articles.labels(agent="summarise", direction="out").inc(len(outgoing))
                    sent_at = utc_now()
                    for story_id, _ in outgoing:
                        for received in arrivals.get(story_id, ()):
                            metrics.update_delay.observe((sent_at - received).total_seconds())

    return app


class _StateCache:
    """The ``stories`` table with its busiest entries kept parsed between batches.

    Parsing a story's state from its JSON on every batch and dumping it back cost more than
    summarising it. The table (and its changelog) stays the truth: ``put`` writes the JSON and
    keeps the object beside the exact text written; ``take`` reuses the object only while the
    table still holds that text, so a rebalance or recovery that changed the entry is re-read.
    ``take`` removes the entry, so a batch that fails half-way never leaves a mutated object.
    """

    def __init__(self, table: Any, size: int) -> None:
        self.table = table
        self.size = size
        self._parsed: OrderedDict[str, tuple[str, StoryState]] = OrderedDict()

    def take(self, story_id: str) -> StoryState:
        stored = self.table.get(story_id)
        cached = self._parsed.pop(story_id, None)
        if stored and cached is not None and cached[0] == stored:
            return cached[1]
        if stored:
            return StoryState.model_validate_json(stored)
        return StoryState(story_id=story_id)

    def peek(self, story_id: str, stored: str) -> StoryState:
        """The state stored as ``stored``, parsed only if it is not the one kept (read-only)."""
        cached = self._parsed.get(story_id)
        if cached is not None and cached[0] == stored:
            return cached[1]
        return StoryState.model_validate_json(stored)

    def put(self, story_id: str, state: StoryState) -> None:
        text = state.model_dump_json()
        self.table[story_id] = text
        self._parsed[story_id] = (text, state)
        if len(self._parsed) > self.size:
            self._parsed.popitem(last=False)


class _Every:
    """Says yes once every ``count`` ticks (for periodic sweeps driven by work done)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._done = 0

    def tick(self, amount: int = 1) -> bool:
        self._done += amount
        if self._done >= self.count:
            self._done = 0
            return True
        return False
